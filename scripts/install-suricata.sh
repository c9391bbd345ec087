#!/usr/bin/env bash
# Install Suricata 7 from Debian bookworm-backports (idempotent).
#
# Debian 12 ships Suricata 6 in main; our rules need Suricata 7 keywords
# (http.request_body, http.response_body, datasets with string type ...).
# Only bookworm-backports is added -- never testing or unstable.
# The mirror URI and signing key are copied from the system's own
# /etc/apt/sources.list.d/debian.sources so no mirror is hard-coded here.
set -euo pipefail

log() { printf '[install-suricata] %s\n' "$*"; }

if command -v suricata >/dev/null 2>&1; then
    ver="$(suricata -V 2>/dev/null | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p' | head -n1)"
    case "${ver}" in
        7.*) log "suricata ${ver} already installed, nothing to do"; exit 0 ;;
        *)   log "suricata '${ver:-unknown}' found, upgrading to 7.x from bookworm-backports" ;;
    esac
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        log "must run as root (or with sudo available)"; exit 1; fi
else
    SUDO=""
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
    log "this script targets Debian 12 (bookworm); found '${VERSION_CODENAME:-unknown}'"
    exit 1
fi

src_dir=/etc/apt/sources.list.d
bp_file="${src_dir}/bookworm-backports.sources"
if [ -f "${bp_file}" ]; then
    log "${bp_file} exists, keeping it"
else
    uri=""; key=/usr/share/keyrings/debian-archive-keyring.gpg
    if [ -f "${src_dir}/debian.sources" ]; then
        # First stanza whose Suites contain plain "bookworm" gives URI + key.
        read -r uri key_found < <(awk '
            /^[[:space:]]*$/ { if (s ~ /(^| )bookworm( |$)/ && u != "") { print u, k; exit } u=""; s=""; k="" ; next }
            /^URIs:/      { u=$2 }
            /^Suites:/    { $1=""; s=$0 " " }
            /^Signed-By:/ { k=$2 }
            END { if (s ~ /(^| )bookworm( |$)/ && u != "") print u, k }
        ' "${src_dir}/debian.sources") || true
        [ -n "${key_found:-}" ] && key="${key_found}"
    fi
    if [ -z "${uri}" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1=="deb" && $3=="bookworm" { print $2; exit }' /etc/apt/sources.list)"
    fi
    if [ -z "${uri}" ]; then
        log "could not find the bookworm mirror URI in ${src_dir}/debian.sources or /etc/apt/sources.list"
        exit 1
    fi
    log "adding ${bp_file} (URI ${uri}, key ${key})"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "${uri}" "${key}" | ${SUDO} tee "${bp_file}" >/dev/null
fi

apt_retry() {
    # Other installers may hold the dpkg lock; wait for it instead of failing.
    local i
    for i in $(seq 1 60); do
        if ${SUDO} env DEBIAN_FRONTEND=noninteractive "$@"; then return 0; fi
        log "apt busy or failed (attempt ${i}), retrying in 10s"; sleep 10
    done
    return 1
}

log "apt-get update"
apt_retry apt-get -o DPkg::Lock::Timeout=600 update
log "apt-get install -t bookworm-backports suricata"
apt_retry apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
    -t bookworm-backports suricata
# The Debian package enables a system service; tests run suricata directly.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    ${SUDO} systemctl disable --now suricata >/dev/null 2>&1 || true
fi
log "installed: $(suricata -V 2>&1 | head -n1)"
