#!/bin/sh
# Installs the servers and tools the tests and the demo run against:
# Dovecot (IMAP, POP3, ManageSieve with Pigeonhole), isync (mbsync, for
# comparisons), openssl (test certificates), aiosmtpd (the SMTP receiver),
# chromium (the HTML report checked in a headless browser) and
# chromium-driver (the status pages driven over WebDriver), Radicale
# and Xandikos (CardDAV/CalDAV), vdirsyncer (the DAV benchmark's
# reference), python3-icalendar (whose test calendars are real-world
# input for the DAV tests), two independent readers of PST files: readpst
# (pst-utils) and pffexport (pff-tools), and PostgreSQL (the shared state
# backend; the tests run private clusters made with its initdb, never the
# system one).
#
# Cyrus IMAP and Courier IMAP conflict with dovecot-imapd as packages, so
# they are never installed: their .debs are downloaded and unpacked into a
# private prefix (MAILSHIFT_TEST_PREFIX, default /opt/mailshift-test:
# cyrus/ and courier/), and only their shared libraries (plus saslpasswd2)
# come from apt. The tests start them from there with private
# configuration; Courier's compiled-in paths (/etc/courier, /run/courier,
# /usr/lib/courier-authlib) are bind-mounted in a private mount namespace,
# so nothing of the host's /etc is touched.
#
# `install-deps.sh demo` installs only what scripts/demo.sh uses: Dovecot
# (with the POP3 and ManageSieve services its private servers start) and
# aiosmtpd; nothing is unpacked.
#
# Idempotent: does nothing when everything is installed; otherwise runs
# `apt-get update` once and installs what is missing. Debian/Ubuntu, as root
# (or through sudo when available). Tests start private server instances on
# free ports, so a system-wide Dovecot the packages may enable is not used.
set -eu

# The shared libraries of the unpacked Cyrus and Courier binaries, and
# saslpasswd2 (sasl2-bin) to give Cyrus users their passwords.
PRIVATE_LIBS="libical3 libpcre3 libxapian30 libcourier-unicode4 libgamin0 libidn12 libltdl7 sasl2-bin"
# dovecot-core holds Dovecot's virtual plugin, with which the tests play
# Gmail's IMAP view (All Mail, Starred, Important as virtual folders).
DEMO_PACKAGES="dovecot-core dovecot-imapd dovecot-pop3d dovecot-managesieved dovecot-sieve python3-aiosmtpd"
TEST_PACKAGES="isync openssl time iproute2 chromium chromium-driver radicale pst-utils pff-tools python3-vobject python3-icalendar xandikos vdirsyncer postgresql $PRIVATE_LIBS"
case "${1:-all}" in
    demo) PACKAGES="$DEMO_PACKAGES" ;;
    all) PACKAGES="$DEMO_PACKAGES $TEST_PACKAGES" ;;
    *)
        echo "usage: install-deps.sh [demo|all]" >&2
        exit 2
        ;;
esac

PREFIX="${MAILSHIFT_TEST_PREFIX:-/opt/mailshift-test}"
CYRUS_DEBS="cyrus-common cyrus-imapd"
COURIER_DEBS="courier-base courier-imap courier-authlib courier-authlib-userdb"

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    as_root="none"
fi

need_root() {
    if [ "$as_root" = "none" ]; then
        echo "install-deps: need root to $1" >&2
        exit 1
    fi
}

missing=""
for package in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $package" ;;
    esac
done

updated=""
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
    need_root "install:$missing"
    echo "install-deps: installing$missing"
    $as_root apt-get update
    updated=yes
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    $as_root apt-get install -y $PACKAGES
fi

# " package=version" for each named package, at apt's candidate version.
candidates() {
    apt-cache policy "$@" 2>/dev/null | awk '
        /^[^ ].*:$/ { package = substr($0, 1, length($0) - 1) }
        /^  Candidate:/ { printf " %s=%s", package, $2 }'
}

# Unpacks the named packages into $PREFIX/$1 unless the stamp there already
# lists exactly those packages at their candidate versions.
unpack() {
    name="$1"
    shift
    want=$(candidates "$@")
    case "$want" in
        *"=(none)"* | *"= "* | "")
            if [ -z "$updated" ]; then
                need_root "run apt-get update"
                $as_root apt-get update
                updated=yes
                want=$(candidates "$@")
            fi
            ;;
    esac
    stamp="$PREFIX/$name/.mailshift-unpacked"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    need_root "unpack$want into $PREFIX/$name"
    echo "install-deps: unpacking$want into $PREFIX/$name"
    work=$(mktemp -d)
    chmod 0777 "$work"
    # shellcheck disable=SC2086 # one argument per package is intended
    (cd "$work" && $as_root apt-get download $want)
    $as_root rm -rf "$PREFIX/$name.new"
    $as_root mkdir -p "$PREFIX/$name.new"
    for deb in "$work"/*.deb; do
        $as_root dpkg -x "$deb" "$PREFIX/$name.new"
    done
    echo "$want" | $as_root tee "$PREFIX/$name.new/.mailshift-unpacked" >/dev/null
    $as_root rm -rf "$PREFIX/$name"
    $as_root mv "$PREFIX/$name.new" "$PREFIX/$name"
    rm -rf "$work"
}

if [ "${1:-all}" = all ]; then
    # shellcheck disable=SC2086 # word splitting of the package lists is intended
    unpack cyrus $CYRUS_DEBS
    # shellcheck disable=SC2086
    unpack courier $COURIER_DEBS
fi

echo "install-deps: done"
