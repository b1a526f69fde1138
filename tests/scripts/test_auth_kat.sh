#!/bin/bash
# Known-answer test of the Mobile IP authenticators: recompute, with the
# openssl command line over the octets the RFCs say are covered, what mipmsg
# (the mipproto encoder) produced, and compare.
#   MN-HA / FA-HA / MN-FA: HMAC-MD5 (RFC 5944 §3.5.1)
#   MN-AAA:  MD5(chal[0] | key | MD5(preceding | 36,1,len,SPI) | chal tail) (RFC 3012 §8)
#   RO auth: HMAC-SHA-256 in our CVSE (DESIGN §6)
# Usage: bash test_auth_kat.sh BUILD_DIR   (or MIP_BUILD_DIR in the environment)
set -euo pipefail

BUILD=${1:-${MIP_BUILD_DIR:-}}
MIPMSG=${MIPMSG:-}
if [ -z "$MIPMSG" ]; then
    [ -n "$BUILD" ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
    for c in "$BUILD/testbed/mipmsg" "$BUILD/testbed/tools/mipmsg" "$BUILD/mipmsg"; do
        [ -x "$c" ] && MIPMSG=$c && break
    done
fi
[ -n "$MIPMSG" ] && [ -x "$MIPMSG" ] || { echo "mipmsg not found under $BUILD" >&2; exit 2; }
for t in openssl xxd; do
    command -v $t >/dev/null || { echo "$t missing" >&2; exit 2; }
done

fails=0
# hex substring: sub HEX OFFSET_OCTETS LEN_OCTETS
sub() { echo "${1:$(($2 * 2)):$(($3 * 2))}"; }
hmac() { # ALG KEYHEX DATAHEX
    echo -n "$3" | xxd -r -p | openssl dgst -"$1" -mac HMAC -macopt hexkey:"$2" | awk '{print $NF}'
}
md5() { echo -n "$1" | xxd -r -p | openssl dgst -md5 | awk '{print $NF}'; }
tohex() { echo -n "$1" | xxd -p | tr -d '\n'; }
check() { # NAME EXPECTED GOT
    echo "$1:"
    echo "  openssl: $2"
    echo "  mipmsg:  $3"
    if [ "$2" = "$3" ] && [ -n "$2" ]; then
        echo "  OK"
    else
        echo "  MISMATCH"
        fails=$((fails + 1))
    fi
}

KEY=00112233445566778899aabbccddeeff
FAKEY=0102030405060708
AAAKEY=$(tohex "secret")
NAI=mn1@example.org
CHAL=a1a2a3a4a5a6a7a8a9aaabacadaeafb0

# --- Registration Request: NAI, MN-HA, challenge, MN-AAA, FA-HA -------------
MSG=$("$MIPMSG" rrq --hoa 10.1.0.5 --ha 10.1.0.1 --coa 192.0.2.1 --id 0102030405060708 \
    --lifetime 300 --flags 02 --nai "$NAI" --spi 256 --key $KEY --challenge $CHAL \
    --mn-aaa-spi 3 --mn-aaa-key "$AAAKEY" --fa-ha-spi 300 --fa-ha-key $FAKEY)
echo "request: $MSG"
NAIEXT=$((2 + ${#NAI}))
MNHA=$((24 + NAIEXT))                # MN-HA extension offset
CLEN=$((${#CHAL} / 2))
AAA=$((MNHA + 22 + 2 + CLEN))         # MN-AAA extension offset
FAHA=$((AAA + 24))                    # FA-HA extension offset
[ "$(sub "$MSG" "$MNHA" 2)" = "2014" ] || { echo "MN-HA not where expected"; exit 1; }
[ "$(sub "$MSG" "$AAA" 4)" = "24010014" ] || { echo "MN-AAA not where expected"; exit 1; }
[ "$(sub "$MSG" "$FAHA" 2)" = "2214" ] || { echo "FA-HA not where expected"; exit 1; }
[ $((${#MSG} / 2)) -eq $((FAHA + 22)) ] || { echo "unexpected request length"; exit 1; }

check "MN-HA HMAC-MD5 over octets 0..$((MNHA + 6))" \
    "$(hmac md5 $KEY "$(sub "$MSG" 0 $((MNHA + 6)))")" "$(sub "$MSG" $((MNHA + 6)) 16)"

INNER=$(md5 "$(sub "$MSG" 0 $((AAA + 8)))")
# challenge shorter than 238 octets: its 237 least-order octets are all of it
OUTER=$(md5 "${CHAL:0:2}${AAAKEY}${INNER}${CHAL}")
check "MN-AAA MD5(chal[0]|key|MD5(octets 0..$((AAA + 8)))|chal)" "$OUTER" \
    "$(sub "$MSG" $((AAA + 8)) 16)"

check "FA-HA HMAC-MD5 over octets 0..$((FAHA + 6))" \
    "$(hmac md5 $FAKEY "$(sub "$MSG" 0 $((FAHA + 6)))")" "$(sub "$MSG" $((FAHA + 6)) 16)"

# --- MN-AAA with a 250-octet challenge: only the last 237 octets follow -------
LCHAL=$(head -c 250 /dev/zero | tr '\0' '\147' | xxd -p | tr -d '\n')
LCHAL="ff${LCHAL:2:496}01"
MSG=$("$MIPMSG" rrq --hoa 10.1.0.5 --ha 10.1.0.1 --coa 192.0.2.1 --id 0102030405060708 \
    --lifetime 300 --flags 00 --challenge "$LCHAL" --mn-aaa-spi 2 --mn-aaa-key "$AAAKEY")
AAA=$((24 + 2 + 250))
INNER=$(md5 "$(sub "$MSG" 0 $((AAA + 8)))")
OUTER=$(md5 "${LCHAL:0:2}${AAAKEY}${INNER}$(sub "$LCHAL" 13 237)")
check "MN-AAA, 250-octet challenge" "$OUTER" "$(sub "$MSG" $((AAA + 8)) 16)"

# --- Registration Reply: MN-HA then MN-FA -----------------------------------
MSG=$("$MIPMSG" rrp --code 133 --hoa 10.1.0.5 --ha 10.1.0.1 --id e1e2e3e4a5a6a7a8 \
    --lifetime 0 --spi 4096 --key $KEY --mn-fa-spi 257 --mn-fa-key $FAKEY)
echo "reply: $MSG"
check "reply MN-HA HMAC-MD5 over octets 0..26" \
    "$(hmac md5 $KEY "$(sub "$MSG" 0 26)")" "$(sub "$MSG" 26 16)"
check "reply MN-FA HMAC-MD5 over octets 0..48" \
    "$(hmac md5 $FAKEY "$(sub "$MSG" 0 48)")" "$(sub "$MSG" 48 16)"

# --- Binding Update with a CVSE and the RO-auth CVSE -------------------------
ROKEY=$(openssl rand -hex 32)
MSG=$("$MIPMSG" bu --hoa 10.1.0.5 --coa 192.0.2.7 --id 1122334455667788 --lifetime 600 \
    --flags c0 --cvse 2:0a0b0c0d --ro-spi 4660 --ro-key "$ROKEY")
echo "binding update: $MSG"
RO=$((2 + 21 + 10 + 4))               # RO-auth CVSE offset
[ "$(sub "$MSG" "$RO" 10)" = "2600002a00007ed90001" ] || { echo "RO CVSE header wrong"; exit 1; }
[ "$(sub "$MSG" $((RO + 10)) 4)" = "00001234" ] || { echo "RO SPI wrong"; exit 1; }
check "RO auth HMAC-SHA-256 over octets 0..$((RO + 14))" \
    "$(hmac sha256 "$ROKEY" "$(sub "$MSG" 0 $((RO + 14)))")" "$(sub "$MSG" $((RO + 14)) 32)"

# --- and the decoder accepts what was produced -------------------------------
"$MIPMSG" decode "$MSG" | grep -q '"type":"bu"' || { echo "decode of BU failed"; fails=$((fails + 1)); }

if [ $fails -ne 0 ]; then
    echo "FAIL: $fails mismatch(es)"
    exit 1
fi
echo "PASS"
