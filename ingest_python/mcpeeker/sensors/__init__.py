"""Wrappers around the network sensors (Suricata, Zeek) used by replay, tests and bench."""
