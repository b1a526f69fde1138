#!/usr/bin/env bash
# aaad --role home end to end over real freeDiameter peers (TCP + TLS on 127.0.0.1):
#   aaad (AAAH)  <-TLS->  diamtool ha  (the HA: answers HARs, refuses / ignores / is slow
#                                       for chosen NAIs)
#                <-TLS->  diamtool amr|str (the FA: one AMR or STR per run)
# with a VPN database provisioned by vpnadm and a CA + certificates made here with openssl.
#
#   bash test_aaad_home.sh BUILD_DIR      (ctest label "script"; needs openssl, jq)
#
# Checks (aaad/FLOWS.md): a known user is accepted end to end (AMR -> HAR -> HAA -> AMA) with
# the MSAs and VPN profiles in the right messages and the keys matching; unknown NAI and a
# wrong MN-AAA key -> 4001 without a HAR; malformed AMRs -> 5004 / 5005; an HA that does not
# answer -> 4006 within har_timeout_ms and the session undone; an HA refusal -> 4005 with the
# HA's reply; a late HAA does not make a second AMA; pool addresses are assigned and STR frees
# them; deregistration ends the session after the HAA; EVENT lines in order; control socket
# commands; --check-config; SIGTERM exits 0.
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

# Sanitizer builds: freeDiameter's own one-off leak is not ours (lsan.supp).
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan.supp"
# ... and its use-after-free on a peer's DPR (asan.supp).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}suppressions=$HERE/asan.supp"
TMP=$(mktemp -d /var/tmp/aaadhome.XXXXXX)
# shellcheck source=aaad_lib.sh
source "$HERE/aaad_lib.sh"
AAAD_PID=
HA_PID=
cleanup() {
    stop_pid "$HA_PID"
    stop_pid "$AAAD_PID"
    if [ "$fails" -ne 0 ] && [ -f "$TMP/aaah.log" ]; then
        echo "---- aaad log (last 60 lines) ----"
        tail -n 60 "$TMP/aaah.log"
    fi
    if [ -n "${AAAD_TEST_KEEP:-}" ]; then
        echo "kept: $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

aaad_pki aaah.home.test ha.home.test fa.visit.test fa2.visit.test
aaad_pick && P_AAAH=$AAAD_PORT
aaad_pick && P_HA=$AAAD_PORT
aaad_pick && P_FA=$AAAD_PORT
aaad_pick && P_FA2=$AAAD_PORT
# fa2 talks to the AAAH without TLS (No_TLS on both ends): the AAAH must refuse keys over it.
aaad_fdconf "$TMP/aaah.fd.conf" aaah.home.test home.test "$P_AAAH" "ha.home.test:$P_HA" \
    "fa.visit.test:$P_FA" "fa2.visit.test:$P_FA2:clear"
aaad_fdconf "$TMP/ha.fd.conf" ha.home.test home.test "$P_HA" "aaah.home.test:$P_AAAH"
aaad_fdconf "$TMP/fa.fd.conf" fa.visit.test visit.test "$P_FA" "aaah.home.test:$P_AAAH"
aaad_fdconf "$TMP/fa2.fd.conf" fa2.visit.test visit.test "$P_FA2" "aaah.home.test:$P_AAAH:clear"

HAR_TIMEOUT=1500
cat >"$TMP/aaah.conf" <<EOF
role = "home";
control_socket = "$TMP/aaah.sock";
log_level = "info";
diameter_conf = "$TMP/aaah.fd.conf";
home: {
  database = "$TMP/vpn.db";
  max_lifetime = 600;
  har_timeout_ms = $HAR_TIMEOUT;
  home_agents = ( { address = "10.10.0.1"; host = "ha.home.test"; } );
};
EOF

# ---- VPN database (vpnadm) ---------------------------------------------------------------------
KEY=00112233445566778899aabbccddeeff
adm() { "$VPNADM" -d "$TMP/vpn.db" "$@" >>"$TMP/vpnadm.log" 2>&1 || die "vpnadm $*: $(tail -n1 "$TMP/vpnadm.log")"; }
adm pool add home 10.10.1.0/30
adm user add alice@home.test --spi 1000 --key $KEY --ha 10.10.0.1 --hoa 10.10.0.100
adm profile add alice@home.test --num 1 --dst 172.16.50.0/24 --dscp-up EF --dscp-down AF41 \
    --spi-up 0x1001 --spi-down 0x2001 --gen-keys
adm profile add alice@home.test --num 2 --dst 172.20.5.0/24 --enc aes-gcm-128 --spi-up 0x1002 \
    --spi-down 0x2002
adm cngw add 172.16.50.0/24 198.51.100.50 static
adm cngw add 172.20.0.0/16 198.51.100.70 dynamic
for u in bob carol; do adm user add $u@home.test --spi 1001 --key $KEY --ha 10.10.0.1 --pool home; done
adm user add eve@home.test --spi 1002 --key $KEY --ha 10.10.0.1 --hoa 10.10.0.110
adm user add carl@home.test --spi 1002 --key $KEY --ha 10.10.0.1 --hoa 10.10.0.111
adm user add dan@home.test --spi 1002 --key $KEY --ha 10.10.0.1 --hoa 10.10.0.112
adm user list

# ---- --check-config -----------------------------------------------------------------------------
out=$("$AAAD" -c "$TMP/aaah.conf" --check-config 2>&1)
[ $? -eq 0 ] && pass "--check-config accepts the configuration ($out)" || fail "--check-config: $out"
sed 's/har_timeout_ms = .*/har_timeout_ms = 5;/' "$TMP/aaah.conf" >"$TMP/bad.conf"
out=$("$AAAD" -c "$TMP/bad.conf" --check-config 2>&1)
rc=$?
line=$(grep -n har_timeout_ms "$TMP/bad.conf" | cut -d: -f1)
if [ $rc -eq 2 ] && grep -q "bad.conf:$line: 'har_timeout_ms' = 5 is out of range" <<<"$out"; then
    pass "a bad value is refused with FILE:LINE ($out)"
else
    fail "bad config: rc=$rc, $out"
fi
out=$("$AAAD" --role foreign -c "$TMP/aaah.conf" --check-config 2>&1)
[ $? -eq 2 ] && grep -q "'role' is \"home\" but --role foreign" <<<"$out" &&
    pass "--role must agree with the file ($out)" || fail "role mismatch: $out"

# ---- start aaad and the HA -------------------------------------------------------------------
"$AAAD" --role home -c "$TMP/aaah.conf" >"$TMP/aaah.log" 2>&1 &
AAAD_PID=$!
"$DT" -c "$TMP/ha.fd.conf" ha --refuse eve@home.test:130 --ignore carl@home.test \
    --slow "dan@home.test:$((HAR_TIMEOUT + 1000))" >"$TMP/har.jsonl" 2>"$TMP/ha.log" &
HA_PID=$!
ctl() { ctl_at "$TMP/aaah.sock" "$@"; }
wait_open "$TMP/aaah.sock" 1 || die "aaad did not come up with the HA connected: $(tail -n 20 "$TMP/aaah.log")"
pass "aaad is up and the HA is connected"
ctl peers | jq -e '.items[] | select(.peer == "ha.home.test" and .state == "STATE_OPEN" and .tls == true)' \
    >/dev/null && pass "the AAAH-HA link is TLS" || fail "AAAH-HA link not TLS: $(ctl peers)"

# amr NAI [diamtool options...]: one AMR from the FA; the AMA's JSON on stdout.
amr() {
    local nai=$1
    shift
    "$DT" -c "$TMP/fa.fd.conf" --peer aaah.home.test amr --realm home.test --nai "$nai" \
        --spi 1000 --key $KEY --ha 10.10.0.1 --coa 203.0.113.10 "$@" 2>>"$TMP/fa.log"
}
hars() { wc -l <"$TMP/har.jsonl"; }
fp() { # sha256 of binary on stdin, first 8 octets
    sha256sum | cut -c1-16
}

# 1. alice: accepted end to end ---------------------------------------------------------------
n0=$(hars)
A=$(amr alice@home.test --hoa 10.10.0.100)
echo "AMA alice: $A"
H=$(tail -n1 "$TMP/har.jsonl")
echo "HAR alice: $H"
SID=$(jq -r .session <<<"$A")
jq -e '.result_code == 2001 and .reg_reply.code == 0 and .reg_reply.mn_ha_auth == true
       and .hoa == "10.10.0.100" and .ha == "10.10.0.1" and .lifetime == 600
       and .user == "alice@home.test" and .auth_session_state == 0' <<<"$A" >/dev/null &&
    pass "alice: AMA 2001 with the HA's MIP-Reg-Reply (code 0, MN-HA authenticated)" ||
    fail "alice: AMA $A"
[ "$(hars)" -eq $((n0 + 1)) ] && jq -e --arg s "$SID" '.session == $s and
       .destination_host == "ha.home.test" and .origin_host == "aaah.home.test" and
       .user == "alice@home.test" and .hoa == "10.10.0.100" and .lifetime == 600 and
       .auth_session_state == 0 and .reg_request_ok and (.feature_vector | . % 128 >= 64) and
       .orig_foreign_aaa == null' \
    <<<"$H" >/dev/null &&
    pass "alice: one HAR to ha.home.test with the AMR's Session-Id, request and lifetime (no AAAF on the path)" ||
    fail "alice: HAR $H"
# MSAs: MN-HA key = HMAC-SHA1(MN-AAA key, nonce || NAI) (RFC 3957 §5, aaah.h), in the HAR only;
# the FA-HA key in both, the same.
NONCE=$(jq -r .mn_to_ha_msa.nonce <<<"$H")
want=$( { printf '%s' "$NONCE" | xxd -r -p; printf '%s' alice@home.test; } |
    openssl dgst -sha1 -mac HMAC -macopt "hexkey:$KEY" -binary | fp)
jq -e --arg k "$want" '.mn_to_ha_msa.spi >= 65536 and .mn_to_ha_msa.alg == 2 and
       .mn_to_ha_msa.replay == 2 and (.mn_to_ha_msa.nonce | length) == 32 and
       .ha_to_mn_msa.key_len == 20 and .ha_to_mn_msa.key_fp == $k and
       .ha_to_fa_msa.key_len == 16 and .ha_to_fa_msa.alg == 2' <<<"$H" >/dev/null &&
    pass "alice: HAR carries MN-to-HA (SPI, nonce), HA-to-MN (the RFC 3957 MN-HA key), HA-to-FA MSAs" ||
    fail "alice: HAR MSAs (want MN-HA key fp $want): $H"
jq -e --argjson h "$H" '.fa_to_ha_msa.spi == $h.ha_to_fa_msa.spi and
       .fa_to_ha_msa.key_fp == $h.ha_to_fa_msa.key_fp and .fa_to_ha_msa.alg == 2 and
       (.mn_to_ha_msa == null) and (.ha_to_mn_msa == null)' <<<"$A" >/dev/null &&
    pass "alice: AMA carries the same FA-HA key and SPI, and no MN-HA key" ||
    fail "alice: AMA MSAs: $A"
# Profiles (scenario 1 static GW + scenario 4 PCN): HA gets ha-gw, fa-ha, fa-pcn (3); the FA
# gets fa-ha and fa-pcn (2); the fa-ha leg has the same SPIs and keys at both ends.
jq -e '.profile_cache == 3 and (.profiles | length) == 3 and
       ([.profiles[] | select(.number == 1 and .src_gw == "10.10.0.1" and .dst_gw == "198.51.100.50")] | length) == 1 and
       ([.profiles[] | select(.number == 1 and .src_gw == "10.10.0.1" and .dst_gw == "203.0.113.10" and .src == "10.10.0.100/32")] | length) == 1 and
       ([.profiles[] | select(.number == 2 and .src_gw == "198.51.100.70" and .dst_gw == "203.0.113.10" and .gw_type == "dynamic")] | length) == 1' \
    <<<"$H" >/dev/null && pass "alice: HAR carries the HA's 3 VPN profiles + Profile-Cache 3" ||
    fail "alice: HAR profiles: $H"
jq -e --argjson h "$H" '.profile_cache == 2 and (.profiles | length) == 2 and
       ([.profiles[] | select(.number == 1 and .src_gw == "203.0.113.10" and .dst_gw == "10.10.0.1")] | length) == 1 and
       ([.profiles[] | select(.number == 2 and .src_gw == "203.0.113.10" and .dst_gw == "198.51.100.70")] | length) == 1 and
       ([.profiles[] | select(.number == 1)][0] as $f | [$h.profiles[] | select(.number == 1 and .dst_gw == "203.0.113.10")][0] as $g |
        $f.spi_up == $g.spi_up and $f.spi_down == $g.spi_down and $f.has_keys and $f.key_fp == $g.key_fp)' \
    <<<"$A" >/dev/null &&
    pass "alice: AMA carries the FA's 2 profiles + Profile-Cache 2; FA-HA leg keys match the HA's" ||
    fail "alice: AMA profiles: $A"
S=$(ctl sessions)
jq -e --arg s "$SID" '.items | length == 1 and (.[0] | .session == $s and .nai == "alice@home.test"
       and .hoa == "10.10.0.100" and .ha == "10.10.0.1" and .fa == "203.0.113.10"
       and .lifetime_left > 590 and .profiles_ha == 3 and .profiles_fa == 2)' <<<"$S" >/dev/null &&
    pass "sessions: alice with HoA, HA, FA, lifetime, profile counts" || fail "sessions: $S"
V=$(ctl vpn)
jq -e '([.items[] | select(.set == "ha")] | length) == 3 and ([.items[] | select(.set == "fa")] | length) == 2
       and (tostring | test("key") | not)' <<<"$V" >/dev/null &&
    pass "vpn: both AAAH caches listed with \"set\", no key material" || fail "vpn: $V"
# EVENT lines, in order, for this session.
ev=$(grep "^EVENT .* session=$SID" "$TMP/aaah.log" | awk '{print $4, $5, $6, $8}' | tr '\n' '|')
want="rx AMR peer=fa.visit.test |tx HAR peer=ha.home.test |rx HAA peer=ha.home.test code=2001|tx AMA peer=fa.visit.test code=2001|"
[ "$ev" = "$want" ] && pass "EVENT lines: rx AMR, tx HAR, rx HAA, tx AMA" || fail "EVENT lines: '$ev' (want '$want')"
grep "^EVENT " "$TMP/aaah.log" | head -n1 | grep -Eq '^EVENT [0-9]{13} aaah\.home\.test rx AMR peer=fa\.visit\.test session=[^ ]+$' &&
    pass "EVENT line format (FLOWS.md)" || fail "EVENT format: $(grep -m1 '^EVENT ' "$TMP/aaah.log")"

# 2. unknown NAI and wrong key: 4001, no HAR ---------------------------------------------------
n0=$(hars)
R=$(amr mallory@home.test --hoa 10.10.0.100)
jq -e '.result_code == 4001 and .reg_reply == null and .error_message == null' <<<"$R" >/dev/null &&
    [ "$(hars)" -eq "$n0" ] && pass "unknown NAI: AMA 4001, no MIP-Reg-Reply, no HAR" ||
    fail "unknown NAI: $R"
R=$(amr alice@home.test --hoa 10.10.0.100 --key ffeeddccbbaa99887766554433221100)
jq -e '.result_code == 4001 and .reg_reply == null' <<<"$R" >/dev/null && [ "$(hars)" -eq "$n0" ] &&
    pass "wrong MN-AAA key: AMA 4001 (same answer as unknown NAI), no HAR" || fail "wrong key: $R"
grep -q "does not verify" "$TMP/aaah.log" && grep -q "unknown user mallory" "$TMP/aaah.log" &&
    pass "the log tells unknown user and bad authenticator apart" || fail "denial reasons not logged"

# 3. malformed AMRs ------------------------------------------------------------------------------
R=$(amr alice@home.test --hoa 10.10.0.100 --mangle-offset)
jq -e '.result_code == 5004 and (.error_message | test("MIP-Authenticator-Offset"))' <<<"$R" >/dev/null &&
    pass "MIP-MN-AAA-Auth inconsistent with the request: 5004 ($(jq -r .error_message <<<"$R"))" ||
    fail "mangled offset: $R"
R=$(amr alice@home.test --hoa 10.10.0.100 --no-challenge-avp)
jq -e '.result_code == 5005' <<<"$R" >/dev/null && pass "no MIP-FA-Challenge: 5005" || fail "no challenge: $R"

# 3b. a hop without TLS: no keys over it (RFC 4004 §8) -----------------------------------------
n0=$(hars)
R=$("$DT" -c "$TMP/fa2.fd.conf" --peer aaah.home.test amr --realm home.test --nai alice@home.test \
    --spi 1000 --key $KEY --ha 10.10.0.1 --coa 203.0.113.10 --hoa 10.10.0.100 2>>"$TMP/fa.log")
jq -e '.result_code == 5025 and .fa_to_ha_msa == null and (.profiles | length) == 0' <<<"$R" \
    >/dev/null && [ "$(hars)" -eq "$n0" ] &&
    pass "AMR over a connection without TLS: 5025, no keys, no HAR ($(jq -r .error_message <<<"$R"))" ||
    fail "clear link: $R"
ctl peers | jq -e '.items[] | select(.peer == "fa2.visit.test" and .tls == false)' >/dev/null &&
    pass "peers: the clear link shows tls false" || fail "peers: $(ctl peers)"

# 4. HA does not answer: 4006 within the timeout, session undone ---------------------------------
R=$(amr carl@home.test --spi 1002 --hoa 0.0.0.0 --timeout-ms 8000)
el=$(jq -r '.elapsed_ms | floor' <<<"$R")
if jq -e '.result_code == 4006 and .reg_reply == null' <<<"$R" >/dev/null &&
    [ "$el" -ge $((HAR_TIMEOUT - 100)) ] && [ "$el" -le $((HAR_TIMEOUT + 1500)) ]; then
    pass "HA not answering: AMA 4006 after ${el} ms (har_timeout_ms $HAR_TIMEOUT)"
else
    fail "HA not answering: $R"
fi
ctl sessions | jq -e '[.items[] | select(.nai == "carl@home.test")] | length == 0' >/dev/null &&
    pass "the session the failed registration created is gone" || fail "carl's session kept: $(ctl sessions)"

# 5. HA refuses: 4005 with its reply -----------------------------------------------------------
R=$(amr eve@home.test --spi 1002 --hoa 0.0.0.0)
jq -e '.result_code == 4005 and .reg_reply.code == 130' <<<"$R" >/dev/null &&
    pass "HA refusal: AMA 4005 carrying the HA's reply (code 130)" || fail "HA refusal: $R"

# 6. late HAA: one AMA only ----------------------------------------------------------------------
c0=$(ctl counters | jq '[.items[] | select(.name == "ama_tx")][0].value')
R=$(amr dan@home.test --spi 1002 --hoa 0.0.0.0 --timeout-ms 8000)
jq -e '.result_code == 4006' <<<"$R" >/dev/null && pass "slow HA: 4006 at the timeout" || fail "slow HA: $R"
sleep 1.5 # the HAA arrives now, after the timeout
c1=$(ctl counters | jq '[.items[] | select(.name == "ama_tx")][0].value')
[ "$c1" -eq $((c0 + 1)) ] && kill -0 "$AAAD_PID" && pass "the late HAA made no second AMA" ||
    fail "late HAA: ama_tx $c0 -> $c1"

# 7. pool addresses and STR ----------------------------------------------------------------------
B=$(amr bob@home.test --spi 1001 --hoa 0.0.0.0)
BSID=$(jq -r .session <<<"$B")
jq -e '.result_code == 2001 and .hoa == "10.10.1.1"' <<<"$B" >/dev/null &&
    pass "bob (pool user): home address 10.10.1.1 assigned" || fail "bob: $B"
jq -e '.hoa == "10.10.1.1" and (.feature_vector % 2) == 1' <(tail -n1 "$TMP/har.jsonl") >/dev/null &&
    pass "bob: the HAR names the assigned address and Home-Address-Requested" ||
    fail "bob HAR: $(tail -n1 "$TMP/har.jsonl")"
R=$("$DT" -c "$TMP/fa.fd.conf" --peer aaah.home.test str --realm home.test --session "$BSID" 2>>"$TMP/fa.log")
jq -e '.result_code == 2001' <<<"$R" >/dev/null && pass "STR for bob: STA 2001" || fail "STR: $R"
ctl sessions | jq -e '[.items[] | select(.nai == "bob@home.test")] | length == 0' >/dev/null &&
    pass "STR ended bob's session" || fail "bob still there: $(ctl sessions)"
C=$(amr carol@home.test --spi 1001 --hoa 0.0.0.0)
jq -e '.result_code == 2001 and .hoa == "10.10.1.1"' <<<"$C" >/dev/null &&
    pass "STR freed the pool address: carol gets 10.10.1.1" || fail "carol: $C"
R=$("$DT" -c "$TMP/fa.fd.conf" --peer aaah.home.test str --realm home.test --session "$BSID" 2>>"$TMP/fa.log")
jq -e '.result_code == 5002' <<<"$R" >/dev/null && pass "STR for an unknown session: 5002" || fail "STR unknown: $R"
grep -q "^EVENT .* rx STR peer=fa.visit.test session=$BSID" "$TMP/aaah.log" &&
    grep -q "^EVENT .* tx STA peer=fa.visit.test session=$BSID code=2001" "$TMP/aaah.log" &&
    pass "EVENT lines for STR/STA" || fail "no STR/STA EVENT lines"

# 8. deregistration: session ended after the HAA -------------------------------------------------
D=$(amr alice@home.test --hoa 10.10.0.100 --session "$SID" --lifetime 0)
jq -e '.result_code == 2001 and .lifetime == 0 and .profile_cache == 0 and .fa_to_ha_msa == null' \
    <<<"$D" >/dev/null && pass "deregistration: AMA 2001, lifetime 0, Profile-Cache 0, no keys" ||
    fail "dereg: $D"
ctl sessions | jq -e '[.items[] | select(.nai == "alice@home.test")] | length == 0' >/dev/null &&
    pass "deregistration ended alice's session" || fail "alice still there: $(ctl sessions)"

# 9. counters ------------------------------------------------------------------------------------
K=$(ctl counters)
echo "counters: $(jq -c '[.items[] | select(.value > 0) | "\(.name)=\(.value)"]' <<<"$K")"
jq -e '[.items[] | {(.name): .value}] | add | .amr_rx == .ama_tx and .denied_4001 == 2 and .denied_5025 == 1 and
       .denied_4006 == 2 and .denied_4005 == 1 and .str_rx == 2 and .sta_tx == 2 and
       .har_timeouts == 2 and .deregistrations == 1' <<<"$K" >/dev/null &&
    pass "counters: every AMR answered once; denials by code" || fail "counters: $K"

# 10. SIGTERM --------------------------------------------------------------------------------------
kill -TERM "$AAAD_PID"
rc=124
for _ in $(seq 100); do
    if ! kill -0 "$AAAD_PID" 2>/dev/null; then
        wait "$AAAD_PID"
        rc=$?
        break
    fi
    sleep 0.1
done
AAAD_PID=
[ $rc -eq 0 ] && grep -q "aaad stopped; 1 session(s) ended, keys wiped" "$TMP/aaah.log" &&
    [ ! -e "$TMP/aaah.sock" ] && pass "SIGTERM: exit 0, sessions ended, control socket removed" ||
    fail "SIGTERM: rc=$rc; $(tail -n 3 "$TMP/aaah.log")"

echo "aaad home: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
