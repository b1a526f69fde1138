#!/usr/bin/env bash
# A stock freeDiameterd loads our dict_mip4vpn.fdx next to Debian's dictionaries (issue 3).
#
#   bash test_dict_fdx_load.sh BUILD_DIR      (ctest; MIP_SOURCE_DIR/MIP_BUILD_DIR set)
#
# Each case writes a freeDiameter.conf (TCP only, TLS credentials made with openssl, no peers,
# a free port on 127.0.0.1), starts /usr/bin/freeDiameterd, waits (bounded) for
# "freeDiameterd daemon initialized." or its exit, then stops it with SIGTERM (SIGKILL after a
# bounded wait). Cases:
#   1. Debian's dict_nasreq, dict_eap, dict_rfc5777, dict_mip6i, dict_mip6a, then ours
#      (with "vendor_id=32473"): starts, our extension reports itself, no dictionary error.
#   2. ours first, then the same Debian dictionaries (+ dict_nas_mipv6): starts.
#   3. ours twice in one process (a copy under another file name, so freeDiameter's
#      one-load-per-file guard does not apply): starts; mip4vpn_dict_init ran twice.
#   4. the same .fdx file listed twice: freeDiameter refuses it ("cannot be loaded twice", its
#      EXTENSION_ENTRY rule for every extension) -- asserted so a change is noticed.
#   5. a bad argument ("vendor_id=abc"): start fails with our message.
#   6. another vendor ID ("vendor_id=4242"): starts.
set -u

BUILD_DIR=${1:-${MIP_BUILD_DIR:-}}
FD_EXT_DIR=${MIP_FD_EXT_DIR:-}
START_TIMEOUT=${MIP_FD_START_TIMEOUT:-20}
STOP_TIMEOUT=10

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -n "$BUILD_DIR" ] || die "usage: $0 BUILD_DIR"
FDX="$BUILD_DIR/dict/dict_mip4vpn.fdx"
[ -f "$FDX" ] || FDX=$(find "$BUILD_DIR" -name dict_mip4vpn.fdx -type f 2>/dev/null | head -n1)
[ -n "$FDX" ] && [ -f "$FDX" ] || die "dict_mip4vpn.fdx not built under $BUILD_DIR"
FDX=$(cd "$(dirname "$FDX")" && pwd)/$(basename "$FDX")
FDD=$(command -v freeDiameterd) || die "freeDiameterd not installed (Debian package freediameterd)"
command -v openssl >/dev/null || die "openssl not installed"
if [ -z "$FD_EXT_DIR" ]; then
    for d in /usr/lib/freeDiameter /usr/lib/x86_64-linux-gnu/freeDiameter /usr/local/lib/freeDiameter; do
        if [ -f "$d/dict_nasreq.fdx" ]; then
            FD_EXT_DIR=$d
            break
        fi
    done
fi
[ -n "$FD_EXT_DIR" ] || die "freeDiameter extensions not found (Debian package freediameter-extensions)"
for e in dict_nasreq dict_eap dict_rfc5777 dict_mip6i; do
    [ -f "$FD_EXT_DIR/$e.fdx" ] || die "missing $FD_EXT_DIR/$e.fdx"
done

TMP=$(mktemp -d)
FD_PID=
cleanup() {
    if [ -n "$FD_PID" ] && kill -0 "$FD_PID" 2>/dev/null; then
        kill -KILL "$FD_PID" 2>/dev/null
        wait "$FD_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# ---- TLS credentials (freeDiameter wants them even when no peer uses TLS) ----------------
if ! {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mip4vpn test CA" \
        -keyout "$TMP/ca.key" -out "$TMP/ca.pem" &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=fd.test.local" \
            -keyout "$TMP/node.key" -out "$TMP/node.csr" &&
        openssl x509 -req -in "$TMP/node.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
            -CAcreateserial -days 2 -out "$TMP/node.pem"
} >"$TMP/openssl.log" 2>&1; then
    cat "$TMP/openssl.log"
    die "openssl could not make the test certificates"
fi

# A free TCP port pair (port, port+1 for SecPort) on 127.0.0.1.
port_free() {
    local hex
    hex=$(printf '%04X' "$1")
    ! grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
pick_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + (RANDOM * 7 + i) % 40000))
        if port_free "$p" && port_free $((p + 1)); then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# write_conf FILE ARG-LINES...: each ARG is a LoadExtension value (path [: "arg"]).
write_conf() {
    local conf=$1 port
    shift
    port=$(pick_port) || die "no free port"
    {
        echo "Identity = \"fd.test.local\";"
        echo "Realm = \"test.local\";"
        echo "Port = $port;"
        echo "SecPort = $((port + 1));"
        echo "No_SCTP;"
        echo "No_IPv6;"
        echo "ListenOn = \"127.0.0.1\";"
        echo "TLS_Cred = \"$TMP/node.pem\", \"$TMP/node.key\";"
        echo "TLS_CA = \"$TMP/ca.pem\";"
        local e
        for e in "$@"; do
            echo "LoadExtension = $e;"
        done
    } >"$conf"
}

# run_fd NAME CONF: start, wait for ready or exit, stop. Sets RUN_STATE=ready|exited|timeout,
# log in $TMP/NAME.log. Never leaves the daemon running.
run_fd() {
    local name=$1 conf=$2 log="$TMP/$1.log" i
    RUN_STATE=timeout
    "$FDD" -c "$conf" >"$log" 2>&1 </dev/null &
    FD_PID=$!
    for i in $(seq 1 $((START_TIMEOUT * 10))); do
        if grep -q "freeDiameterd daemon initialized" "$log"; then
            RUN_STATE=ready
            break
        fi
        if ! kill -0 "$FD_PID" 2>/dev/null; then
            RUN_STATE=exited
            break
        fi
        sleep 0.1
    done
    if kill -0 "$FD_PID" 2>/dev/null; then
        kill -TERM "$FD_PID" 2>/dev/null
        for i in $(seq 1 $((STOP_TIMEOUT * 10))); do
            kill -0 "$FD_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$FD_PID" 2>/dev/null; then
            echo "  (freeDiameterd did not stop in ${STOP_TIMEOUT}s on SIGTERM; killing it)"
            kill -KILL "$FD_PID" 2>/dev/null
        fi
    fi
    wait "$FD_PID" 2>/dev/null
    FD_PID=
}

show_log() {
    sed 's/^/    | /' "$TMP/$1.log" | head -n 80
}

# Common assertions for a run that must succeed.
expect_ready() {
    local name=$1 ninit=${2:-1} what=$3
    if [ "$RUN_STATE" != ready ]; then
        fail "$name: freeDiameterd did not start ($RUN_STATE): $what"
        show_log "$name"
        return
    fi
    local log="$TMP/$name.log" got
    got=$(grep -c "dict_mip4vpn: RFC 4004 (application 2) and MIP4VPN vendor [0-9]* AVPs initialised" "$log")
    if [ "$got" -ne "$ninit" ]; then
        fail "$name: expected $ninit dict_mip4vpn initialisation line(s), got $got"
        show_log "$name"
        return
    fi
    if grep -E "ERROR|Conflicting|An error occurred while adding|FATAL! Error" "$log" | grep -v "Initiating freeDiameter shutdown" >"$TMP/$name.err"; then
        fail "$name: errors in the log"
        sed 's/^/    | /' "$TMP/$name.err"
        return
    fi
    if ! grep -q "Loaded extensions: '.*dict_mip4vpn[^']*\.fdx'.*, loaded" "$log"; then
        fail "$name: freeDiameterd does not list dict_mip4vpn as loaded"
        show_log "$name"
        return
    fi
    pass "$name: $what"
}

DEBIAN=("\"$FD_EXT_DIR/dict_nasreq.fdx\"" "\"$FD_EXT_DIR/dict_eap.fdx\""
    "\"$FD_EXT_DIR/dict_rfc5777.fdx\"" "\"$FD_EXT_DIR/dict_mip6i.fdx\"")
[ -f "$FD_EXT_DIR/dict_mip6a.fdx" ] && DEBIAN+=("\"$FD_EXT_DIR/dict_mip6a.fdx\"")
EXTRA=()
[ -f "$FD_EXT_DIR/dict_nas_mipv6.fdx" ] && EXTRA+=("\"$FD_EXT_DIR/dict_nas_mipv6.fdx\"")

echo "freeDiameterd: $FDD ($("$FDD" --version 2>&1 | head -n1)); extensions: $FD_EXT_DIR"
echo "our extension: $FDX"

# 1. after Debian's dictionaries, with the vendor argument
write_conf "$TMP/c1.conf" "${DEBIAN[@]}" "\"$FDX\" : \"vendor_id=32473\""
run_fd c1 "$TMP/c1.conf"
expect_ready c1 1 "loads after dict_nasreq, dict_eap, dict_rfc5777, dict_mip6i${FD_EXT_DIR:+ (+mip6a if present)}"
grep -q "dict_mip4vpn.fdx'\[vendor_id=32473\], loaded" "$TMP/c1.log" &&
    pass "c1: the vendor_id argument reached the extension" ||
    fail "c1: freeDiameterd does not show our argument"

# 2. before them
write_conf "$TMP/c2.conf" "\"$FDX\"" "${DEBIAN[@]}" "${EXTRA[@]}"
run_fd c2 "$TMP/c2.conf"
expect_ready c2 1 "loads before Debian's dictionaries (which then find identical RFC 4004 objects)"

# 3. twice in one process (copy under another name)
cp "$FDX" "$TMP/dict_mip4vpn_copy.fdx"
write_conf "$TMP/c3.conf" "${DEBIAN[@]}" "\"$FDX\"" "\"$TMP/dict_mip4vpn_copy.fdx\""
run_fd c3 "$TMP/c3.conf"
expect_ready c3 2 "registering the dictionary twice in one process is harmless (idempotent)"

# 4. the same file twice: freeDiameter's rule
write_conf "$TMP/c4.conf" "${DEBIAN[@]}" "\"$FDX\"" "\"$FDX\""
run_fd c4 "$TMP/c4.conf"
if [ "$RUN_STATE" != ready ] && grep -q "Extension (dict_mip4vpn) cannot be loaded twice" "$TMP/c4.log"; then
    pass "c4: the same .fdx listed twice is refused by freeDiameter's EXTENSION_ENTRY (documented)"
else
    fail "c4: expected freeDiameter to refuse the same .fdx twice (state $RUN_STATE)"
    show_log c4
fi

# 5. bad argument
write_conf "$TMP/c5.conf" "\"$FDX\" : \"vendor_id=abc\""
run_fd c5 "$TMP/c5.conf"
if [ "$RUN_STATE" != ready ] && grep -q "dict_mip4vpn: bad argument 'vendor_id=abc'" "$TMP/c5.log"; then
    pass "c5: a bad vendor_id argument stops the daemon with a clear message"
else
    fail "c5: a bad vendor_id argument was not rejected (state $RUN_STATE)"
    show_log c5
fi

# 6. another vendor ID
write_conf "$TMP/c6.conf" "${DEBIAN[@]}" "\"$FDX\" : \"vendor_id=4242\""
run_fd c6 "$TMP/c6.conf"
expect_ready c6 1 "loads with vendor_id=4242"
grep -q "MIP4VPN vendor 4242 AVPs initialised" "$TMP/c6.log" &&
    pass "c6: vendor 4242 used" || fail "c6: vendor 4242 not reported"

echo "dict fdx load: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
