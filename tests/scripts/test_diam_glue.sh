#!/usr/bin/env bash
# The Diameter glue (mipd/diam/diam.h) between two real freeDiameter peers over TLS:
# diamnull --serve answers AMRs, diamnull --send drives it through the glue's request path.
#   1. 2,000 AMRs, 32 in flight: every one answered 2001; the link is TCP+TLS.
#   2. a realm nobody serves: every request gets freeDiameter's 3002 (UNABLE_TO_DELIVER)
#      through the answer callback -- never silence.
#   3. the server stopped (SIGSTOP): every request reports a timeout via the expiry path
#      within the timeout.
set -u
BUILD_DIR=${1:-${MIP_BUILD_DIR:-}}
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -n "$BUILD_DIR" ] || die "usage: $0 BUILD_DIR"
DN=$(find_built "$BUILD_DIR" mipd/diam/diamnull) || exit 1

TMP=$(mktemp -d /var/tmp/diamglue.XXXXXX)
SRV=
cleanup() {
    if [ -n "$SRV" ]; then
        kill -CONT "$SRV" 2>/dev/null
        kill -KILL "$SRV" 2>/dev/null
        wait "$SRV" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

{
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=glue test CA" \
        -keyout "$TMP/ca.key" -out "$TMP/ca.pem" &&
        for n in srv cli; do
            openssl req -newkey rsa:2048 -nodes -subj "/CN=$n.glue.example" \
                -keyout "$TMP/$n.key" -out "$TMP/$n.csr" &&
                openssl x509 -req -in "$TMP/$n.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
                    -CAcreateserial -days 2 -out "$TMP/$n.pem" || exit 1
        done
} >"$TMP/openssl.log" 2>&1 || die "openssl could not make the certificates"

port_free() { ! grep -qi ":$(printf '%04X' "$1") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
pick() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 30000))
        if port_free "$p" && port_free $((p + 1)); then echo "$p"; return; fi
    done
    die "no free port"
}
SP=$(pick)
CP=$(pick)
conf() { # NAME PORT PEER PEERPORT
    cat >"$TMP/$1.conf" <<EOF
Identity = "$1.glue.example";
Realm = "glue.example";
Port = $2;
SecPort = $(($2 + 1));
No_SCTP;
No_IPv6;
TLS_Cred = "$TMP/$1.pem", "$TMP/$1.key";
TLS_CA = "$TMP/ca.pem";
ConnectPeer = "$3.glue.example" { ConnectTo = "127.0.0.1"; Port = $(($4 + 1)); };
EOF
}
conf srv "$SP" cli "$CP"
conf cli "$CP" srv "$SP"

"$DN" -c "$TMP/srv.conf" --serve >"$TMP/srv.log" 2>&1 &
SRV=$!

# 1. the normal path
out=$("$DN" -c "$TMP/cli.conf" --send 2000 --realm glue.example --window 32 --wait-peers 60 2>"$TMP/cli1.log")
rc=$?
echo "send: $out"
if [ $rc -eq 0 ] && [ "$(jq -r .ok <<<"$out")" = 2000 ]; then
    pass "2000 AMRs answered 2001 through the glue ($(jq -r .rate <<<"$out") req/s)"
else
    fail "normal path: rc=$rc, $out"
fi
if grep -q "Connected to 'srv.glue.example' (TCP,TLS" "$TMP/cli1.log"; then
    pass "the peer connection is TCP with TLS"
else
    fail "no TLS connection in the client log"
fi

# 2. no route: freeDiameter's own error answer reaches the callback
out=$("$DN" -c "$TMP/cli.conf" --send 50 --realm nowhere.example --window 8 --wait-peers 60 2>"$TMP/cli2.log")
rc=$?
echo "send (no route): $out"
if [ $rc -ne 0 ] && [ "$(jq -r '.errors["3002"] // 0' <<<"$out")" = 50 ]; then
    pass "unroutable requests answered 3002 (UNABLE_TO_DELIVER), 50 of 50"
else
    fail "no-route path: rc=$rc, $out"
fi

# 3. the server hangs: the expiry path
"$DN" -c "$TMP/cli.conf" --send 20 --realm glue.example --window 20 --timeout-ms 1000 --wait-peers 60 \
    --start-delay-ms 1500 >"$TMP/cli3.out" 2>"$TMP/cli3.log" &
CLI=$!
for _ in $(seq 100); do
    grep -q "peer open, sending" "$TMP/cli3.log" && break
    sleep 0.2
done
kill -STOP "$SRV"
t0=$(date +%s%N)
for _ in $(seq 150); do # the result line comes before the client's shutdown
    [ -s "$TMP/cli3.out" ] && break
    sleep 0.1
done
el=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$SRV" # so that the client's shutdown does not wait for a hung peer
wait "$CLI"
rc=$?
out=$(cat "$TMP/cli3.out")
echo "send (server stopped): $out (${el} ms)"
if [ $rc -ne 0 ] && [ "$(jq -r .timeouts <<<"$out")" = 20 ]; then
    pass "requests to a hung server time out (20 of 20)"
else
    fail "timeout path: rc=$rc, $out"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
