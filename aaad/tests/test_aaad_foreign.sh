#!/usr/bin/env bash
# aaad --role foreign (AAAF, a proxy) between an FA and the AAAH, over real freeDiameter peers
# (TCP + TLS on 127.0.0.1), routing by Destination-Realm:
#   diamtool amr|str (FA, visit.test) -> aaad foreign (AAAF) -> aaad home (AAAH) -> diamtool ha
#
#   bash test_aaad_foreign.sh BUILD_DIR      (ctest label "script"; needs openssl, jq)
#
# Checks (aaad/FLOWS.md): AMR/AMA/STR/STA pass through the AAAF unchanged in meaning; the AAAF
# caches the FA's VPN profiles of an accepted AMA (session = Session-Id, FA = the request's
# care-of address, no key material in dumps) and forgets them on a refusal, on STR, on
# deregistration and at lifetime expiry (the AAAH ends its session at expiry too); the AAAH
# names the AAAF in the HAR's MIP-Originating-Foreign-AAA; EVENT lines at the AAAF show each
# forwarded message as rx then tx.
set -u

BUILD_DIR=${1:-${MIP_BUILD_DIR:-}}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${MIP_SOURCE_DIR:-$HERE/../..}
# shellcheck source=../../tests/scripts/lib.sh
source "$SRC/tests/scripts/lib.sh"

[ -n "$BUILD_DIR" ] || die "usage: $0 BUILD_DIR"
AAAD=$(find_built "$BUILD_DIR" aaad/aaad) || exit 1
DT=$(find_built "$BUILD_DIR" aaad/diamtool) || exit 1
VPNADM=$(find_built "$BUILD_DIR" aaad/vpnadm) || exit 1
MIPCTL=$(find_built "$BUILD_DIR" mipd/mipctl) || exit 1
command -v openssl >/dev/null || die "openssl not installed"
command -v jq >/dev/null || die "jq not installed"
[ -f "${AAAD_RT_DEFAULT:-/usr/lib/freeDiameter/rt_default.fdx}" ] ||
    die "rt_default.fdx not found (Debian package freediameter-extensions)"

# Sanitizer builds: freeDiameter's own one-off leak is not ours (lsan.supp).
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan.supp"
# ... and its use-after-free on a peer's DPR (asan.supp).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}suppressions=$HERE/asan.supp"
TMP=$(mktemp -d /var/tmp/aaadforeign.XXXXXX)
# shellcheck source=aaad_lib.sh
source "$HERE/aaad_lib.sh"
AAAH_PID=
AAAF_PID=
HA_PID=
cleanup() {
    stop_pid "$HA_PID"
    stop_pid "$AAAF_PID"
    stop_pid "$AAAH_PID"
    if [ "$fails" -ne 0 ]; then
        for l in aaaf aaah; do
            [ -f "$TMP/$l.log" ] || continue
            echo "---- $l log (last 40 lines) ----"
            tail -n 40 "$TMP/$l.log"
        done
    fi
    if [ -n "${AAAD_TEST_KEEP:-}" ]; then
        echo "kept: $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

aaad_pki aaah.home.test ha.home.test aaaf.visit.test fa.visit.test
aaad_pick && P_AAAH=$AAAD_PORT
aaad_pick && P_HA=$AAAD_PORT
aaad_pick && P_AAAF=$AAAD_PORT
aaad_pick && P_FA=$AAAD_PORT
aaad_fdconf "$TMP/aaah.fd.conf" aaah.home.test home.test "$P_AAAH" "ha.home.test:$P_HA" \
    "aaaf.visit.test:$P_AAAF"
aaad_fdconf "$TMP/ha.fd.conf" ha.home.test home.test "$P_HA" "aaah.home.test:$P_AAAH"
# The FA sends everything to its AAAF (rt_default, syntax as in conf/freediameter/*.conf);
# the AAAF reaches the home realm by freeDiameter's own realm match (the AAAH advertises
# home.test), so that aaad itself loads no extension: rt_default 1.2.1 leaks its parser buffer,
# which a sanitizer build of aaad would report (the samples test checks rt_default rules).
aaad_fdconf "$TMP/aaaf.fd.conf" aaaf.visit.test visit.test "$P_AAAF" "aaah.home.test:$P_AAAH" \
    "fa.visit.test:$P_FA"
aaad_fdconf "$TMP/fa.fd.conf" fa.visit.test visit.test "$P_FA" "aaaf.visit.test:$P_AAAF" \
    -- '* : "aaaf.visit.test" += DEFAULT ;'

KEY=00112233445566778899aabbccddeeff
adm() { "$VPNADM" -d "$TMP/vpn.db" "$@" >>"$TMP/vpnadm.log" 2>&1 || die "vpnadm $*: $(tail -n1 "$TMP/vpnadm.log")"; }
adm user add alice@home.test --spi 1000 --key $KEY --ha 10.10.0.1 --hoa 10.10.0.100
adm profile add alice@home.test --num 1 --dst 172.16.50.0/24 --dscp-up EF --spi-up 0x1001 \
    --spi-down 0x2001 --gen-keys
adm profile add alice@home.test --num 2 --dst 172.20.5.0/24 --spi-up 0x1002 --spi-down 0x2002
adm cngw add 172.16.50.0/24 198.51.100.50 static
adm cngw add 172.20.0.0/16 198.51.100.70 dynamic

cat >"$TMP/aaah.conf" <<EOF
role = "home";
control_socket = "$TMP/aaah.sock";
diameter_conf = "$TMP/aaah.fd.conf";
home: {
  database = "$TMP/vpn.db";
  har_timeout_ms = 2000;
  expire_interval_ms = 200;
  home_agents = ( { address = "10.10.0.1"; host = "ha.home.test"; } );
};
EOF
cat >"$TMP/aaaf.conf" <<EOF
role = "foreign";
control_socket = "$TMP/aaaf.sock";
diameter_conf = "$TMP/aaaf.fd.conf";
foreign: { amr_timeout_ms = 3000; expire_interval_ms = 200; };
EOF
out=$("$AAAD" -c "$TMP/aaaf.conf" --check-config 2>&1) && pass "AAAF configuration checks ($out)" ||
    fail "AAAF --check-config: $out"

"$AAAD" -c "$TMP/aaah.conf" >"$TMP/aaah.log" 2>&1 &
AAAH_PID=$!
"$AAAD" --role foreign -c "$TMP/aaaf.conf" >"$TMP/aaaf.log" 2>&1 &
AAAF_PID=$!
"$DT" -c "$TMP/ha.fd.conf" ha >"$TMP/har.jsonl" 2>"$TMP/ha.log" &
HA_PID=$!
wait_open "$TMP/aaah.sock" 2 || die "AAAH: HA and AAAF not connected: $(tail -n 20 "$TMP/aaah.log")"
wait_open "$TMP/aaaf.sock" 1 || die "AAAF not connected to the AAAH: $(tail -n 20 "$TMP/aaaf.log")"
pass "AAAH, AAAF and HA are up and connected"
F() { ctl_at "$TMP/aaaf.sock" "$@"; }
H() { ctl_at "$TMP/aaah.sock" "$@"; }
amr() {
    local nai=$1
    shift
    "$DT" -c "$TMP/fa.fd.conf" --peer aaaf.visit.test amr --realm home.test --nai "$nai" \
        --spi 1000 --key $KEY --ha 10.10.0.1 --coa 203.0.113.10 --hoa 10.10.0.100 "$@" 2>>"$TMP/fa.log"
}
str() {
    "$DT" -c "$TMP/fa.fd.conf" --peer aaaf.visit.test str --realm home.test --session "$1" 2>>"$TMP/fa.log"
}

# 1. registration through the AAAF --------------------------------------------------------------
A=$(amr alice@home.test)
echo "AMA: $(jq -c '{result_code, session, origin_host, hoa, profile_cache}' <<<"$A")"
SID=$(jq -r .session <<<"$A")
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test" and .reg_reply.code == 0 and
       .profile_cache == 2 and .fa_to_ha_msa.key_len == 16' <<<"$A" >/dev/null &&
    pass "AMR via the AAAF: AMA 2001 from the AAAH with the FA's profiles and FA-HA key" ||
    fail "AMA: $A"
jq -e '.orig_foreign_aaa.host == "aaaf.visit.test" and .orig_foreign_aaa.realm == "visit.test"' \
    <(tail -n1 "$TMP/har.jsonl") >/dev/null &&
    pass "HAR names the AAAF in MIP-Originating-Foreign-AAA (from the AMR's Route-Record)" ||
    fail "HAR: $(tail -n1 "$TMP/har.jsonl")"
S=$(F sessions)
jq -e --arg s "$SID" '.items | length == 1 and (.[0] | .session == $s and .nai == "alice@home.test"
       and .hoa == "10.10.0.100" and .fa == "203.0.113.10" and .profiles == 2
       and .lifetime_left > 590)' <<<"$S" >/dev/null &&
    pass "AAAF cached the session: NAI, HoA, FA (care-of address), 2 profiles, lifetime" ||
    fail "AAAF sessions: $S"
V=$(F vpn)
jq -e '(.items | length) == 2 and ([.items[] | select(.src_gw == "203.0.113.10")] | length) == 2
       and ([.items[] | select(.profile == 1 and .leg == "fa-ha" and .dst_gw == "10.10.0.1")] | length) == 1
       and ([.items[] | select(.profile == 2 and .leg == "fa-pcn" and .dst_gw == "198.51.100.70")] | length) == 1
       and (tostring | test("key") | not)' <<<"$V" >/dev/null &&
    pass "AAAF vpn: the FA's profiles with their legs, no key material" || fail "AAAF vpn: $V"
ev=$(grep "^EVENT .* session=$SID" "$TMP/aaaf.log" | awk '{print $3, $4, $5, $6}' | tr '\n' '|')
want="aaaf.visit.test rx AMR peer=fa.visit.test|aaaf.visit.test tx AMR peer=home.test|aaaf.visit.test rx AMA peer=aaah.home.test|aaaf.visit.test tx AMA peer=fa.visit.test|"
[ "$ev" = "$want" ] && pass "AAAF EVENT lines: rx/tx AMR, rx/tx AMA" || fail "AAAF EVENT lines: '$ev' (want '$want')"
grep -q "^EVENT .* aaah.home.test rx AMR peer=aaaf.visit.test session=$SID" "$TMP/aaah.log" &&
    pass "AAAH sees the AMR from the AAAF" || fail "AAAH EVENT: $(grep '^EVENT' "$TMP/aaah.log" | head -n2)"

# 2. a refused registration is not cached --------------------------------------------------------
R=$(amr mallory@home.test)
jq -e '.result_code == 4001' <<<"$R" >/dev/null && [ "$(F status | jq .sessions)" = 1 ] &&
    pass "refused AMR (4001) relayed, nothing cached" || fail "mallory: $R / $(F status)"

# 3. STR through the AAAF: both forget ----------------------------------------------------------
R=$(str "$SID")
jq -e '.result_code == 2001' <<<"$R" >/dev/null && pass "STR via the AAAF: STA 2001" || fail "STR: $R"
sleep 0.2
[ "$(F status | jq .sessions)" = 0 ] && [ "$(H status | jq .sessions)" = 0 ] &&
    pass "STR: the AAAF forgot the session, the AAAH ended it" ||
    fail "after STR: AAAF $(F status), AAAH $(H status)"

# 4. deregistration: forgotten ----------------------------------------------------------------
A=$(amr alice@home.test)
SID=$(jq -r .session <<<"$A")
[ "$(F status | jq .sessions)" = 1 ] || fail "re-registration not cached: $(F sessions)"
D=$(amr alice@home.test --session "$SID" --lifetime 0)
jq -e '.result_code == 2001 and .lifetime == 0' <<<"$D" >/dev/null &&
    [ "$(F status | jq .sessions)" = 0 ] && [ "$(H status | jq .sessions)" = 0 ] &&
    pass "deregistration (lifetime 0): forgotten at the AAAF, ended at the AAAH" ||
    fail "dereg: $D / $(F sessions)"

# 5. lifetime expiry at both -------------------------------------------------------------------
A=$(amr alice@home.test --lifetime 2)
jq -e '.result_code == 2001 and .lifetime == 2' <<<"$A" >/dev/null &&
    [ "$(F status | jq .sessions)" = 1 ] || fail "short registration: $A"
sleep 3.5
[ "$(F status | jq .sessions)" = 0 ] && [ "$(H status | jq .sessions)" = 0 ] &&
    pass "lifetime expiry: the AAAF forgot, the AAAH ended the session" ||
    fail "expiry: AAAF $(F sessions), AAAH $(H sessions)"

# 6. counters ------------------------------------------------------------------------------------
K=$(F counters)
echo "AAAF counters: $(jq -c '[.items[] | select(.value > 0) | "\(.name)=\(.value)"]' <<<"$K")"
jq -e '[.items[] | {(.name): .value}] | add | .fwd_amr == 5 and .fwd_ama == 5 and .fwd_str == 1
       and .fwd_sta == 1 and .cache_set == 3 and .cache_forget == 2 and .cache_expired == 1' \
    <<<"$K" >/dev/null && pass "AAAF counters" || fail "AAAF counters: $K"
H counters | jq -e '[.items[] | {(.name): .value}] | add | .sessions_expired == 1' >/dev/null &&
    pass "AAAH counted the expiry" || fail "AAAH counters: $(H counters)"

# 7. SIGTERM ---------------------------------------------------------------------------------
for v in AAAF_PID AAAH_PID; do
    p=${!v}
    kill -TERM "$p"
    rc=124
    for _ in $(seq 100); do
        if ! kill -0 "$p" 2>/dev/null; then
            wait "$p"
            rc=$?
            break
        fi
        sleep 0.1
    done
    printf -v "$v" '%s' ""
    [ $rc -eq 0 ] && pass "$v: SIGTERM -> exit 0" || fail "$v: SIGTERM rc=$rc"
done

echo "aaad foreign: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
