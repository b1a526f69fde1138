#!/usr/bin/env bash
# Moves and service update through real freeDiameter peers (TCP + TLS on 127.0.0.1), issue 5:
#
#   diamtool amr|str (FA1, FA2; visit.test) -> aaad foreign (AAAF-A) \
#                                                                     aaad home (AAAH) -> diamtool ha
#   diamtool amr|str (FA3; other.test)      -> aaad foreign (AAAF-B) /
#
#   bash test_aaad_move.sh BUILD_DIR      (ctest label "script"; needs openssl, jq)
#
# Checks (aaad/FLOWS.md "Moves"):
#  intra-domain (scenarios 2, 5): AAAF-A answers a move FA1 -> FA2 from its cache (AMA 2001
#    from the AAAF, no MIP-Reg-Reply, FA rewritten in the profiles, the session's FA-HA key,
#    Previous-FA-Address), also when the MN names no previous FA (DESIGN §7); the AAAH sees
#    nothing; the old FA's STR ends at the AAAF; a re-registration through the new FA reaches
#    the AAAH, which learns the new Session-Id, and the HA's binding decides the AMA's previous
#    FA; what the AAAF must not answer (no MN-HA authenticator, a previous FA the cache
#    disagrees with, a service update) goes to the AAAH; the new FA's STR ends the AAAH's
#    session under the Session-Id it holds; Termination-Cause BAD_ANSWER undoes the move.
#  inter-domain (scenarios 3, 6): the HAR and the AMA carry the previous FA, AAAF-B caches it;
#    the MN's notification is checked against the AAAH's cache (mismatch logged, counted), and
#    the HA's binding wins for the AMA; the old domain's late STR does not end the session.
#  service update (scenario 7): after vpnadm moves a profile behind another PCN, a plain
#    re-registration keeps the cached path; one with the service-update AVP gets the new path
#    in the HAR (every HA profile, Profile-Cache = n), the AMA and the AAAF's cache.
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

export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan.supp"
# ... and its use-after-free on a peer's DPR (asan.supp).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}suppressions=$HERE/asan.supp"
TMP=$(mktemp -d /var/tmp/aaadmove.XXXXXX)
# shellcheck source=aaad_lib.sh
source "$HERE/aaad_lib.sh"
AAAH_PID=
AAAFA_PID=
AAAFB_PID=
HA_PID=
cleanup() {
    stop_pid "$HA_PID"
    stop_pid "$AAAFA_PID"
    stop_pid "$AAAFB_PID"
    stop_pid "$AAAH_PID"
    if [ "$fails" -ne 0 ]; then
        for l in aaafa aaafb aaah; do
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

aaad_pki aaah.home.test ha.home.test aaaf.visit.test fa1.visit.test fa2.visit.test \
    aaaf.other.test fa3.other.test
for n in AAAH HA AAAFA AAAFB FA1 FA2 FA3; do
    aaad_pick
    printf -v "P_$n" '%s' "$AAAD_PORT"
done
aaad_fdconf "$TMP/aaah.fd.conf" aaah.home.test home.test "$P_AAAH" "ha.home.test:$P_HA" \
    "aaaf.visit.test:$P_AAAFA" "aaaf.other.test:$P_AAAFB"
aaad_fdconf "$TMP/ha.fd.conf" ha.home.test home.test "$P_HA" "aaah.home.test:$P_AAAH"
aaad_fdconf "$TMP/aaafa.fd.conf" aaaf.visit.test visit.test "$P_AAAFA" "aaah.home.test:$P_AAAH" \
    "fa1.visit.test:$P_FA1" "fa2.visit.test:$P_FA2"
aaad_fdconf "$TMP/aaafb.fd.conf" aaaf.other.test other.test "$P_AAAFB" "aaah.home.test:$P_AAAH" \
    "fa3.other.test:$P_FA3"
aaad_fdconf "$TMP/fa1.fd.conf" fa1.visit.test visit.test "$P_FA1" "aaaf.visit.test:$P_AAAFA" \
    -- '* : "aaaf.visit.test" += DEFAULT ;'
aaad_fdconf "$TMP/fa2.fd.conf" fa2.visit.test visit.test "$P_FA2" "aaaf.visit.test:$P_AAAFA" \
    -- '* : "aaaf.visit.test" += DEFAULT ;'
aaad_fdconf "$TMP/fa3.fd.conf" fa3.other.test other.test "$P_FA3" "aaaf.other.test:$P_AAAFB" \
    -- '* : "aaaf.other.test" += DEFAULT ;'

KEY=00112233445566778899aabbccddeeff
adm() { "$VPNADM" -d "$TMP/vpn.db" "$@" >>"$TMP/vpnadm.log" 2>&1 || die "vpnadm $*: $(tail -n1 "$TMP/vpnadm.log")"; }
for u in alice:10.10.0.100 bob:10.10.0.101; do
    adm user add "${u%%:*}@home.test" --spi 1000 --key $KEY --ha 10.10.0.1 --hoa "${u#*:}"
    adm profile add "${u%%:*}@home.test" --num 1 --dst 172.16.50.0/24 --dscp-up EF \
        --spi-up 0x1001 --spi-down 0x2001 --gen-keys
    adm profile add "${u%%:*}@home.test" --num 2 --dst 172.20.5.0/24 --spi-up 0x1002 \
        --spi-down 0x2002
done
adm cngw add 172.16.50.0/24 198.51.100.50 static
adm cngw add 172.20.0.0/16 198.51.100.70 dynamic

cat >"$TMP/aaah.conf" <<EOF
role = "home";
control_socket = "$TMP/aaah.sock";
diameter_conf = "$TMP/aaah.fd.conf";
home: {
  database = "$TMP/vpn.db";
  har_timeout_ms = 3000;
  home_agents = ( { address = "10.10.0.1"; host = "ha.home.test"; } );
};
EOF
for x in a b; do
    cat >"$TMP/aaaf$x.conf" <<EOF
role = "foreign";
control_socket = "$TMP/aaaf$x.sock";
diameter_conf = "$TMP/aaaf$x.fd.conf";
foreign: { amr_timeout_ms = 4000; };
EOF
done

"$AAAD" -c "$TMP/aaah.conf" >"$TMP/aaah.log" 2>&1 &
AAAH_PID=$!
"$AAAD" -c "$TMP/aaafa.conf" >"$TMP/aaafa.log" 2>&1 &
AAAFA_PID=$!
"$AAAD" -c "$TMP/aaafb.conf" >"$TMP/aaafb.log" 2>&1 &
AAAFB_PID=$!
: >"$TMP/bindings"
"$DT" -c "$TMP/ha.fd.conf" ha --bindings "$TMP/bindings" >"$TMP/har.jsonl" 2>"$TMP/ha.log" &
HA_PID=$!
wait_open "$TMP/aaah.sock" 3 || die "AAAH: HA and AAAFs not connected: $(tail -n 20 "$TMP/aaah.log")"
wait_open "$TMP/aaafa.sock" 1 || die "AAAF-A not connected: $(tail -n 20 "$TMP/aaafa.log")"
wait_open "$TMP/aaafb.sock" 1 || die "AAAF-B not connected: $(tail -n 20 "$TMP/aaafb.log")"
pass "AAAH, AAAF-A, AAAF-B and HA are up and connected"

A() { ctl_at "$TMP/aaafa.sock" "$@"; }
B() { ctl_at "$TMP/aaafb.sock" "$@"; }
H() { ctl_at "$TMP/aaah.sock" "$@"; }
counter() { jq -r --arg n "$2" '.items[] | select(.name == $n) | .value' <<<"$("$1" counters)"; }
FA1=203.0.113.11
FA2=203.0.113.12
FA3=198.18.0.13
declare -A COA=([1]=$FA1 [2]=$FA2 [3]=$FA3) AAAF=([1]=aaaf.visit.test [2]=aaaf.visit.test [3]=aaaf.other.test)
declare -A DOM=([1]=visit.test [2]=visit.test [3]=other.test)
MNHA=(--mn-ha-spi 0x10001 --mn-ha-key 0f0e0d0c0b0a09080706050403020100)
# amr FA NAI [diamtool amr options]: the MN registers at FA 1, 2 or 3.
amr() {
    local i=$1 nai=$2
    shift 2
    local hoa=10.10.0.100
    [ "$nai" = bob@home.test ] && hoa=10.10.0.101
    "$DT" -c "$TMP/fa$i.fd.conf" --peer "${AAAF[$i]}" amr --realm home.test --nai "$nai" \
        --spi 1000 --key $KEY --ha 10.10.0.1 --coa "${COA[$i]}" --hoa "$hoa" "$@" 2>>"$TMP/fa.log"
}
# str FA SID [--cause N]
str() {
    local i=$1 sid=$2
    shift 2
    "$DT" -c "$TMP/fa$i.fd.conf" --peer "${AAAF[$i]}" str --realm home.test --session "$sid" \
        "$@" 2>>"$TMP/fa.log"
}
# The FA relays the locally authorised registration to the HA itself (UDP, not seen here):
# the binding moves as it would at the HA.
ha_binding() { printf '%s %s\n' "$1" "$2" >"$TMP/bindings.new" && grep -v "^$1 " "$TMP/bindings" >>"$TMP/bindings.new"; mv "$TMP/bindings.new" "$TMP/bindings"; }
har_n() { wc -l <"$TMP/har.jsonl"; }
last_har() { tail -n1 "$TMP/har.jsonl"; }
live() { "$1" sessions | jq -c --arg s "$2" '[.items[] | select(.session == $s and (.retired | not))][0] // empty'; }
retired() { "$1" sessions | jq -c --arg s "$2" '[.items[] | select(.session == $s and .retired)][0] // empty'; }

# ==== intra-domain moves (scenarios 2 and 5) =====================================================

# A1. registration at FA1 through the AAAH.
R=$(amr 1 alice@home.test "${MNHA[@]}")
SID1=$(jq -r .session <<<"$R")
K1=$(jq -r .fa_to_ha_msa.key_fp <<<"$R")
SPI1=$(jq -r .fa_to_ha_msa.spi <<<"$R")
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test" and .reg_reply.code == 0' \
    <<<"$R" >/dev/null && [ "$(har_n)" = 1 ] &&
    pass "A1 registration at FA1 through the AAAH (AMA with the HA's reply)" || fail "A1: $R"
jq -e '.fa == "203.0.113.11" and .fa_ha_key and .ha == "10.10.0.1" and .fa_host == "fa1.visit.test"' \
    <<<"$(live A "$SID1")" >/dev/null &&
    pass "A1 AAAF-A cached the session with the FA, the HA and the FA-HA key" ||
    fail "A1 AAAF-A: $(A sessions)"

# A2. the MN moves to FA2, naming FA1: AAAF-A answers from its cache.
R=$(amr 2 alice@home.test "${MNHA[@]}" --prev-fa $FA1)
echo "A2 AMA: $(jq -c '{result_code, session, origin_host, prev_fa, lifetime, reg_reply}' <<<"$R")"
SID2=$(jq -r .session <<<"$R")
jq -e --arg k "$K1" --argjson spi "$SPI1" '.result_code == 2001 and .origin_host == "aaaf.visit.test"
       and (has("reg_reply") | not) and .prev_fa == "203.0.113.11" and .hoa == "10.10.0.100"
       and .ha == "10.10.0.1" and .lifetime > 0 and .lifetime <= 600 and .msa_lifetime == .lifetime
       and .fa_to_ha_msa.key_fp == $k and .fa_to_ha_msa.spi == $spi and .profile_cache == 2
       and ([.profiles[] | select(.src_gw == "203.0.113.12")] | length) == 2
       and ([.profiles[] | select(.number == 1 and .dst_gw == "10.10.0.1")] | length) == 1
       and ([.profiles[] | select(.number == 2 and .dst_gw == "198.51.100.70")] | length) == 1
       and ([.profiles[] | select(.has_keys)] | length) >= 1' <<<"$R" >/dev/null &&
    [ "$SID2" != "$SID1" ] &&
    pass "A2 intra-domain move answered by AAAF-A: no Reg Reply, FA rewritten, same FA-HA key, previous FA" ||
    fail "A2: $R"
[ "$(har_n)" = 1 ] && [ "$(counter H amr_rx)" = 1 ] &&
    pass "A2 the AAAH and the HA saw nothing of the move" ||
    fail "A2 AAAH amr_rx=$(counter H amr_rx), HARs=$(har_n)"
jq -e --arg s1 "$SID1" '.fa == "203.0.113.12" and .aaah_session == $s1 and .moved_from == $s1
       and .prev_fa == "203.0.113.11" and .fa_host == "fa2.visit.test"' <<<"$(live A "$SID2")" >/dev/null &&
    [ -n "$(retired A "$SID1")" ] && [ "$(A status | jq .sessions)" = 1 ] &&
    pass "A2 AAAF-A cache follows the new Session-Id (AAAH's kept), FA1's session retired" ||
    fail "A2 AAAF-A sessions: $(A sessions)"
A vpn | jq -e '(.items | length) == 2 and ([.items[] | select(.src_gw == "203.0.113.12")] | length) == 2' >/dev/null &&
    pass "A2 AAAF-A vpn cache: the FA's profiles rewritten to FA2" || fail "A2 vpn: $(A vpn)"
ev=$(grep "^EVENT .* session=$SID2" "$TMP/aaafa.log" | awk '{print $4, $5, $6, $8}' | tr '\n' '|')
[ "$ev" = "rx AMR peer=fa2.visit.test |tx AMA peer=fa2.visit.test code=2001|" ] &&
    pass "A2 AAAF-A EVENT lines: rx AMR, tx AMA (answered here)" || fail "A2 EVENT: '$ev'"
ha_binding alice@home.test $FA2

# A3. FA1 ends its session (the BU of the hand-off arrived): the STR ends at AAAF-A.
R=$(str 1 "$SID1" --cause 7)
jq -e '.result_code == 2001 and .origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null &&
    [ "$(H status | jq .sessions)" = 1 ] && [ -z "$(retired A "$SID1")" ] &&
    jq -e 'has("moved_from") | not' <<<"$(live A "$SID2")" >/dev/null &&
    pass "A3 old FA's STR answered by AAAF-A; the AAAH's session goes on; the move stands" ||
    fail "A3: $R / $(A sessions) / AAAH $(H status)"

# A4. re-registration through FA2: not a move for AAAF-A, so the AAAH gets it; it learns the
#     new Session-Id and the FA; the HA's binding (already at FA2) means no hand-off.
R=$(amr 2 alice@home.test "${MNHA[@]}" --session "$SID2")
jq -e --arg k "$K1" '.result_code == 2001 and .origin_host == "aaah.home.test" and .reg_reply.code == 0
       and (has("prev_fa") | not) and .fa_to_ha_msa.key_fp != $k' <<<"$R" >/dev/null &&
    jq -e '.prev_fa == "203.0.113.11" and .binding_was == "203.0.113.12"' <<<"$(last_har)" >/dev/null &&
    pass "A4 re-registration at FA2 via the AAAH: HAR names FA1 (its cache), the HA's binding was FA2: AMA names no previous FA, new FA-HA key" ||
    fail "A4: $R / HAR $(last_har)"
H sessions | jq -e --arg s "$SID2" '.items | length == 1 and .[0].session == $s and .[0].fa == "203.0.113.12"' >/dev/null &&
    jq -e 'has("aaah_session") | not' <<<"$(live A "$SID2")" >/dev/null &&
    [ "$(counter H prev_fa_from_ha)" = 1 ] &&
    pass "A4 the AAAH holds the new Session-Id at FA2; AAAF-A knows the AAAH is in step" ||
    fail "A4 AAAH $(H sessions) / AAAF-A $(live A "$SID2")"

# A5. back to FA1 naming no previous FA (DESIGN §7): the cache knows it.
R=$(amr 1 alice@home.test "${MNHA[@]}")
SID3=$(jq -r .session <<<"$R")
jq -e '.result_code == 2001 and .origin_host == "aaaf.visit.test" and .prev_fa == "203.0.113.12"
       and ([.profiles[] | select(.src_gw == "203.0.113.11")] | length) == 2' <<<"$R" >/dev/null &&
    pass "A5 move FA2 -> FA1 without a previous-FA notification answered from the cache" ||
    fail "A5: $R"
ha_binding alice@home.test $FA1

# A6. to FA2 again, but without an MN-HA authenticator: only the AAAH can authenticate it.
#     The AAAH still has the MN at FA2 (the move of A5 was local): no move for it, but the
#     HA's binding is at FA1, so the AMA names FA1 (the HA wins).
R=$(amr 2 alice@home.test)
SID4=$(jq -r .session <<<"$R")
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test" and .reg_reply.code == 0
       and .prev_fa == "203.0.113.11"' <<<"$R" >/dev/null &&
    jq -e '(has("prev_fa") | not) and .binding_was == "203.0.113.11"' <<<"$(last_har)" >/dev/null &&
    grep -q "move from FA 203.0.113.11 to 203.0.113.12 not answered here (no MN-HA authenticator" "$TMP/aaafa.log" &&
    [ "$(counter H prev_fa_from_ha)" = 2 ] &&
    pass "A6 no MN-HA authenticator: forwarded; the HA's binding gives the AMA's previous FA" ||
    fail "A6: $R / HAR $(last_har)"
[ -n "$(retired A "$SID3")" ] && jq -e '.fa == "203.0.113.12"' <<<"$(live A "$SID4")" >/dev/null &&
    [ "$(A status | jq .sessions)" = 1 ] &&
    pass "A6 AAAF-A cached the AAAH's answer and retired FA1's session" || fail "A6 AAAF-A: $(A sessions)"
R=$(str 1 "$SID3" --cause 7)
jq -e '.result_code == 2001 and .origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null &&
    [ "$(H status | jq .sessions)" = 1 ] &&
    pass "A6 FA1's late STR ends at AAAF-A" || fail "A6 STR: $R"
ha_binding alice@home.test $FA2

# A7. the MN names a previous FA the cache disagrees with: AAAF-A leaves it to the AAAH, whose
#     cache wins for the HAR (mismatch logged and counted); the HA agrees with the AAAH.
R=$(amr 1 alice@home.test "${MNHA[@]}" --prev-fa 203.0.113.99)
SID5=$(jq -r .session <<<"$R")
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test" and .prev_fa == "203.0.113.12"' \
    <<<"$R" >/dev/null && jq -e '.prev_fa == "203.0.113.12"' <<<"$(last_har)" >/dev/null &&
    [ "$(counter A prev_fa_mismatch)" = 1 ] && [ "$(counter H prev_fa_mismatch)" = 1 ] &&
    grep -q "the MN names previous FA 203.0.113.99, the AAAH's cache has it at FA 203.0.113.12" "$TMP/aaah.log" &&
    pass "A7 previous-FA mismatch: forwarded by AAAF-A; the AAAH's cache wins, logged and counted" ||
    fail "A7: $R / HAR $(last_har) / mismatch A=$(counter A prev_fa_mismatch) H=$(counter H prev_fa_mismatch)"
ha_binding alice@home.test $FA1

# A8. local move to FA2, then FA2 ends the session: AAAF-A ends it at the AAAH under the
#     Session-Id the AAAH holds.
R=$(amr 2 alice@home.test "${MNHA[@]}" --prev-fa $FA1)
SID6=$(jq -r .session <<<"$R")
jq -e '.origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null || fail "A8 move: $R"
R=$(str 2 "$SID6")
jq -e '.result_code == 2001' <<<"$R" >/dev/null && [ "$(H status | jq .sessions)" = 0 ] &&
    [ "$(A status | jq .sessions)" = 0 ] && [ "$(counter A str_relayed)" = 1 ] &&
    grep -q "^EVENT .* aaah.home.test rx STR peer=aaaf.visit.test session=$SID5" "$TMP/aaah.log" &&
    pass "A8 the new FA's STR ended the AAAH's session $SID5 (relayed by AAAF-A)" ||
    fail "A8: $R / AAAH $(H sessions) / AAAF-A $(A sessions)"
R=$(str 1 "$SID5")
jq -e '.result_code == 2001 and .origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null &&
    pass "A8 FA1's STR for the session it lost ends at AAAF-A" || fail "A8 FA1 STR: $R"

# A9. a move whose registration fails at the HA: the new FA says so (BAD_ANSWER), AAAF-A
#     goes back to the previous session; the AAAH never knew.
R=$(amr 1 alice@home.test "${MNHA[@]}")
SID7=$(jq -r .session <<<"$R")
jq -e '.origin_host == "aaah.home.test" and .result_code == 2001' <<<"$R" >/dev/null || fail "A9 reg: $R"
R=$(amr 2 alice@home.test "${MNHA[@]}")
SID8=$(jq -r .session <<<"$R")
jq -e '.origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null || fail "A9 move: $R"
R=$(str 2 "$SID8" --cause 3)
jq -e '.result_code == 2001 and .origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null &&
    jq -e '.fa == "203.0.113.11" and .fa_ha_key' <<<"$(live A "$SID7")" >/dev/null &&
    [ -z "$(live A "$SID8")" ] && [ "$(counter A move_undone)" = 1 ] &&
    H sessions | jq -e --arg s "$SID7" '.items | length == 1 and .[0].session == $s' >/dev/null &&
    A vpn | jq -e '([.items[] | select(.src_gw == "203.0.113.11")] | length) == 2' >/dev/null &&
    pass "A9 BAD_ANSWER from the new FA: move undone, session back at FA1, AAAH untouched" ||
    fail "A9: $R / $(A sessions)"
R=$(str 1 "$SID7")
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test"' <<<"$R" >/dev/null &&
    [ "$(H status | jq .sessions)" = 0 ] &&
    pass "A9 FA1's STR goes to the AAAH and ends the session" || fail "A9 STR: $R"

# ==== inter-domain moves (scenarios 3 and 6) =====================================================

# B1. at FA1, then a local move to FA2 the AAAH does not learn of.
R=$(amr 1 alice@home.test "${MNHA[@]}")
SID9=$(jq -r .session <<<"$R")
ha_binding alice@home.test $FA1
R=$(amr 2 alice@home.test "${MNHA[@]}" --prev-fa $FA1)
SID10=$(jq -r .session <<<"$R")
jq -e '.origin_host == "aaaf.visit.test"' <<<"$R" >/dev/null || fail "B1 local move: $R"
ha_binding alice@home.test $FA2
# B2. to FA3 in the other domain, naming FA2: the AAAH's cache (FA1) wins for the HAR, the
#     HA's binding (FA2) for the AMA; AAAF-B caches the previous FA.
N=$(har_n)
R=$(amr 3 alice@home.test "${MNHA[@]}" --prev-fa $FA2)
SID11=$(jq -r .session <<<"$R")
echo "B2 AMA: $(jq -c '{result_code, origin_host, prev_fa}' <<<"$R")"
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test" and .reg_reply.code == 0
       and .prev_fa == "203.0.113.12" and ([.profiles[] | select(.src_gw == "198.18.0.13")] | length) == 2' \
    <<<"$R" >/dev/null && [ "$(har_n)" = $((N + 1)) ] &&
    jq -e '.prev_fa == "203.0.113.11" and .binding_was == "203.0.113.12"
           and .orig_foreign_aaa.host == "aaaf.other.test"
           and ([.profiles[] | select(.dst_gw == "198.18.0.13")] | length) >= 2' <<<"$(last_har)" >/dev/null &&
    pass "B2 inter-domain move: HAR carries the AAAH's previous FA, the AMA the HA's" ||
    fail "B2: $R / HAR $(last_har)"
jq -e '.fa == "198.18.0.13" and .prev_fa == "203.0.113.12" and .fa_host == "fa3.other.test"' \
    <<<"$(live B "$SID11")" >/dev/null &&
    pass "B2 AAAF-B cached the session with the previous FA" || fail "B2 AAAF-B: $(B sessions)"
[ "$(counter H prev_fa_mismatch)" = 2 ] &&
    H sessions | jq -e --arg s "$SID11" '.items | length == 1 and .[0].session == $s and .[0].fa == "198.18.0.13"' >/dev/null &&
    pass "B2 the AAAH logged the MN's mismatching notification; its session is at FA3" ||
    fail "B2 AAAH: $(H sessions) mismatch=$(counter H prev_fa_mismatch)"
ha_binding alice@home.test $FA3
# B3. the old domain's FAs end their sessions late: the session at FA3 goes on.
R=$(str 2 "$SID10" --cause 7)
R1=$(str 1 "$SID9" --cause 7)
jq -e '.result_code == 5002' <<<"$R" >/dev/null && jq -e '.result_code == 2001' <<<"$R1" >/dev/null &&
    [ "$(H status | jq .sessions)" = 1 ] && [ "$(A status | jq .sessions)" = 0 ] &&
    pass "B3 FA2's STR reaches the AAAH under the old Session-Id (5002), FA1's ends at AAAF-A; the session at FA3 stays" ||
    fail "B3: FA2 $R / FA1 $R1 / AAAH $(H sessions) / AAAF-A $(A sessions)"
R=$(str 3 "$SID11")
jq -e '.result_code == 2001' <<<"$R" >/dev/null && [ "$(H status | jq .sessions)" = 0 ] &&
    [ "$(B status | jq .sessions)" = 0 ] && pass "B3 FA3's STR ends the session" || fail "B3 end: $R"

# ==== service update (scenario 7) ================================================================

R=$(amr 1 bob@home.test "${MNHA[@]}")
SIDC=$(jq -r .session <<<"$R")
H1=$(last_har)
jq -e '.result_code == 2001 and ([.profiles[] | select(.number == 2 and .dst_gw == "198.51.100.70")] | length) == 1' \
    <<<"$R" >/dev/null || fail "C1 registration: $R"
# The user moves profile 2's destination behind another PCN (the web page's job, vpnadm here).
adm profile set bob@home.test --num 2 --dst 172.21.5.0/24
adm cngw add 172.21.0.0/16 198.51.100.71 dynamic
R=$(amr 1 bob@home.test "${MNHA[@]}" --session "$SIDC")
jq -e '.result_code == 2001 and ([.profiles[] | select(.number == 2 and .dst_gw == "198.51.100.70")] | length) == 1' \
    <<<"$R" >/dev/null &&
    jq -e '([.profiles[] | select(.number == 2 and .src_gw == "198.51.100.70" and .dst == "172.20.5.0/24")] | length) == 1' \
        <<<"$(last_har)" >/dev/null &&
    pass "C2 after the database change, a plain re-registration keeps the cached path" ||
    fail "C2: $R / HAR $(last_har)"
OLDKEY=$(jq '[.profiles[] | select(.number == 2)][0].key_fp' <<<"$H1")
R=$(amr 1 bob@home.test "${MNHA[@]}" --session "$SIDC" --service-update)
echo "C3 HAR profiles: $(last_har | jq -c '[.profiles[] | {number, dst, src_gw, dst_gw, gw_type, spi_up}]')"
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test"
       and ([.profiles[] | select(.number == 2 and .src_gw == "203.0.113.11" and .dst_gw == "198.51.100.71"
             and .dst == "172.21.5.0/24" and .gw_type == "dynamic")] | length) == 1' <<<"$R" >/dev/null &&
    jq -e --argjson old "$OLDKEY" '.profile_cache == (.profiles | length)
       and ([.profiles[] | select(.src_gw == "198.51.100.70" or .dst_gw == "198.51.100.70")] | length) == 0
       and ([.profiles[] | select(.number == 2 and .src_gw == "198.51.100.71" and .dst_gw == "203.0.113.11"
             and .dst == "172.21.5.0/24" and .key_fp != $old)] | length) == 1
       and ([.profiles[] | select(.number == 1)] | length) == 2' <<<"$(last_har)" >/dev/null &&
    pass "C3 service update: the HAR carries the HA's whole new set (PCN 198.51.100.71, new keys), the AMA the FA's" ||
    fail "C3: $R / HAR $(last_har)"
A vpn | jq -e --arg s "$SIDC" '([.items[] | select(.session == $s and .profile == 2 and .dst_gw == "198.51.100.71"
       and .leg == "fa-pcn")] | length) == 1' >/dev/null &&
    pass "C3 AAAF-A cached the new path" || fail "C3 AAAF-A vpn: $(A vpn)"
# A service update from a new FA is a move the AAAF must not answer: it goes to the AAAH.
R=$(amr 2 bob@home.test "${MNHA[@]}" --service-update --prev-fa $FA1)
jq -e '.result_code == 2001 and .origin_host == "aaah.home.test" and .prev_fa == "203.0.113.11"' \
    <<<"$R" >/dev/null && grep -q "not answered here (a service update" "$TMP/aaafa.log" &&
    pass "C4 a move with a service update goes to the AAAH" || fail "C4: $R"

# ==== counters, no key material, SIGTERM ========================================================
K=$(A counters)
echo "AAAF-A counters: $(jq -c '[.items[] | select(.value > 0) | "\(.name)=\(.value)"]' <<<"$K")"
jq -e '[.items[] | {(.name): .value}] | add | .move_local == 5 and .move_undone == 1
       and .str_relayed == 2 and .str_local == 5' <<<"$K" >/dev/null &&
    pass "AAAF-A counters" || fail "AAAF-A counters: $K"
! grep -qiE "key[^_s]*[0-9a-f]{32}" "$TMP/aaafa.log" "$TMP/aaah.log" &&
    ! A sessions | grep -qi '"fa_ha_key":"' && pass "no key material in logs or dumps" ||
    fail "key material leaked"
for v in AAAFA_PID AAAFB_PID AAAH_PID; do
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

echo "aaad move: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
