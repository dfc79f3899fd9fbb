#!/bin/sh
# Installs the servers and tools the tests and the demo run against:
# Dovecot (IMAP, POP3, ManageSieve with Pigeonhole), isync (mbsync, for
# comparisons), openssl (test certificates), aiosmtpd (the SMTP receiver),
# chromium (the HTML report checked in a headless browser), Radicale
# and Xandikos (CardDAV/CalDAV), vdirsyncer (the DAV benchmark's
# reference), python3-icalendar (whose test calendars are real-world
# input for the DAV tests), and two independent readers of PST files: readpst
# (pst-utils) and pffexport (pff-tools).
#
# Idempotent: does nothing when everything is installed; otherwise runs
# `apt-get update` once and installs the list. Debian/Ubuntu, as root (or
# through sudo when available). Tests start private Dovecot instances on
# free ports, so a system-wide Dovecot the packages may enable is not used.
set -eu

PACKAGES="dovecot-imapd dovecot-pop3d dovecot-managesieved dovecot-sieve isync openssl time python3-aiosmtpd chromium radicale pst-utils pff-tools python3-vobject python3-icalendar xandikos vdirsyncer"

missing=""
for package in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $package" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-deps: need root to install:$missing" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
$as_root apt-get install -y $PACKAGES
echo "install-deps: done"
