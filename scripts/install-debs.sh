#!/usr/bin/env bash
# Install the Debian 12 packages MCPeeker's make targets need, only those missing (idempotent).
# Each entry is "command:package": the package is installed when the command is not on PATH.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

NEEDED=(
  "javac:openjdk-17-jdk-headless"   # compiles the local OpenSearch node's launcher
  "dpkg-deb:dpkg"
  "tcpdump:tcpdump"                 # reads and writes the test pcaps
  "mergecap:tshark"                 # mergecap/editcap for the pcap corpus and benches
  "chromium:chromium"               # the HTML report test and the web UI tests (Playwright drives it)
  "gcc:gcc"                         # compiles the ingest hot path (setup.py, Cython)
  "stunnel4:stunnel4"               # TLS/mTLS front of the local node (`opensearch start --tls`)
  "systemd-analyze:systemd"         # verifies and scores the units in configs/systemd (tests/deploy)
  "buildah:buildah"                 # builds containers/*/Dockerfile daemonless (vfs, chroot isolation; tests/deploy)
  "debootstrap:debootstrap"         # makes their Debian 12 base image locally (no registry needed)
  "rsyslogd:rsyslog"                # the syslog receiver of tests/notify (RFC 5424 over UDP, TCP, TLS)
)
missing=()
for entry in "${NEEDED[@]}"; do
  cmd="${entry%%:*}"; pkg="${entry##*:}"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
# rsyslog's TLS driver (gtls) is a package without a command of its own.
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || missing+=("rsyslog-gnutls")
# The headers of the Python the venv is made from, for the same build (Debian's python3 keeps them apart).
if ! "${PYTHON:-python3}" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
  missing+=("python3-dev")
fi
if [ "${#missing[@]}" -eq 0 ]; then
  echo "debs: all present"
  exit 0
fi
echo "debs: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "debs: done"
