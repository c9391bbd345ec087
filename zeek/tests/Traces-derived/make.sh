#! /bin/sh
#
# Regenerates the pcaps here from tests/pcaps (tcpdump filters, no edits to
# packets). Run from this directory: ./make.sh

set -e
src=../../../tests/pcaps

# attack_rug_pull_py.pcap holds two sessions of one client with the same
# server (10.20.0.17:8000): the first lists the benign tools, the second the
# poisoned ones. Each session's connections use their own client ports.
tcpdump -r "$src/attack_rug_pull_py.pcap" -w rug_pull_py_first.pcap \
    'tcp portrange 58690-58750'
tcpdump -r "$src/attack_rug_pull_py.pcap" -w rug_pull_py_changed.pcap \
    'tcp portrange 58751-58800'
