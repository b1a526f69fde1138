# Scenario "initial": seed scenario 1 — initial registration with a static VPN gateway
# (seeds [0025]-[0044], Fig. 4, Fig. 11, Fig. 13), over the AAA chain of aaad/FLOWS.md.
# tb-world: aaa
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh, lib/aaa.sh).
#
#  0. The AAA world: AAAH (VPN database: alice with a profile to the company LAN behind the
#     static gateway 192.0.2.60, bob with a pool address and no profile), the stock
#     freeDiameterd relay, AAAF-A/B, HA, FA1-3, PCN; every Diameter link TLS (checked).
#  1. alice (mn1) registers through FA1: FA1 -> AAAF-A -> relay -> AAAH -> HA and back; reply
#     code 0, HA binding, FA1 visitor; registration time through the chain (metric).
#  2. The messages, merged from every daemon's EVENT lines and the relay's log, are the
#     seeds' sequence (Fig. 11); the backbone capture holds only TLS on the Diameter links.
#  3. Every node's VPN information cache holds exactly what the seeds give it ([0040]-[0044]):
#     HA ha-gw (HA -> company GW) + fa-ha (HA -> FA1); FA1 and AAAF-A fa-ha (FA1 -> HA);
#     AAAH both sets; nothing anywhere else.
#  4. bob (mn2) asks for a home address (0.0.0.0): he gets one from the pool, and no VPN
#     (he is not on the company's list: never tunnelled into it); he deregisters: the pool
#     address is freed, his session ends everywhere.
#  5. Denials, each a precise code, never silence: unknown NAI -> 67; wrong MN-AAA key -> 67.
#  6. alice deregisters: every cache at every node is empty, the AAAH holds no session.
#  7. The AAAH is stopped: a registration gets 80 (home network unreachable: the relay cannot
#     deliver, Diameter 3002), not silence.

narrate() { if [ "${TB_NARRATE:-0}" = 1 ]; then say -a tour "$*"; fi; }

INIT_LIFETIME=${INIT_LIFETIME:-120}
ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}

narrate "Home ISP: HA + AAAH with the VPN database; visited ISP A: AAAF-A, FA1, FA2; a transit relay."
aaa_world_up static

# --- helpers -------------------------------------------------------------------------------
binding_of() { # HOA -> the HA's binding item
    mipctl_json ha bindings | jq -c --arg h "$1" '.items[]? | select(.home_address == $h)'
}
visitor_of() { # FA HOA -> the FA's visitor item
    mipctl_json "$1" visitors | jq -c --arg h "$2" '.items[]? | select(.home_address == $h)'
}
json_field() { jq -r "$2 // empty" <<<"$1"; }
mn_state_is() { [ "$(mn_status "$1" .state)" = "$2" ]; }
mn_code_is() { [ "$(mn_status "$1" '"\(.state)/\(.last_code)"')" = "$2" ]; }
mn_settled() { case "$(mn_status "$1" .state)" in registered | denied | failed | deregistered) return 0 ;; esac; return 1; }

# Scenario 1 caches (path.h, seeds [0040]-[0044]): alice's profile 1, selector HoA/32 -> CN1's LAN.
SEL="$ALICE_HOA/32 -> $TB_CN1_NET"
HA_SET=("#1 ha-gw $SEL via $TB_HA_HOME -> $TB_CGW_BB (static)"
    "#1 fa-ha $SEL via $TB_HA_HOME -> $FA1_COA (static)")
FA_SET=("#1 fa-ha $SEL via $FA1_COA -> $TB_HA_HOME (static)")

# --- 1. alice registers through the whole chain -------------------------------------------------
narrate "alice's laptop plugs into FA1's access link; she registers with her NAI and MN-AAA key only."
say -a mn1 "attaches to FA1's access link"
t_reg0=$EPOCHREALTIME
capture_start reg-alice
mn_attach mn1 fa1
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime "$INIT_LIFETIME" --reverse-tunnel
wait_until 15 mn_settled mn1 || true
sleep 0.5
capture_stop reg-alice
t_reg1=$EPOCHREALTIME
st=$(mn_status mn1) || st='{}'
check "alice registered through FA1 and the AAA chain (reply code 0)" \
    expect_eq "state/code/CoA/HoA" "$(jq -r '"\(.state)/\(.last_code)/\(.coa)/\(.hoa)"' <<<"$st")" \
    "registered/0/$FA1_COA/$ALICE_HOA"
metric registration_ms "$(json_field "$st" .last_reg_ms)"
metric aaa_roundtrip_ms "$(ms_between "$(ev_ms fa1 tx AMR "$t_reg0")" "$(ev_ms fa1 rx AMA "$t_reg0")")"
metric rrq_retransmissions "$(node_msgs "$t_reg0" "$EPOCHREALTIME" mn1 retx)"
b=$(binding_of "$ALICE_HOA")
check "HA binding for $ALICE_HOA has CoA $FA1_COA" \
    expect_eq "care_of_address" "$(json_field "$b" .care_of_address)" "$FA1_COA" "(nai $(json_field "$b" .nai))"
check "FA1 visitor list has alice" \
    expect_eq "visitor nai" "$(json_field "$(visitor_of fa1 "$ALICE_HOA")" .nai)" alice@home.example

# --- 2. the message sequence and TLS -------------------------------------------------------------
narrate "Fig. 11: AMR FA -> AAAF -> relay -> AAAH, HAR to the HA, HAA, AMA back the same way, Reg Reply."
# Each node's messages in its own order, a received one with the node it came from (FA1's AMA
# names its origin, the AAAH).  Nodes with no part in it must log nothing.
check "every node's messages are the seeds' (scenario 1, Fig. 11: AMR -> HAR, HAA -> AMA)" \
    msgs_are "$t_reg0" "$t_reg1" \
    "mn1=tx RRQ, rx RRP from fa1" \
    "fa1=rx RRQ from mn1, tx AMR, rx AMA from aaah, tx RRP" \
    "aaafa=rx AMR from fa1, tx AMR, rx AMA from relay, tx AMA" \
    "relay=rx AMR from aaafa, tx AMR, rx AMA from aaah, tx AMA" \
    "aaah=rx AMR from relay, tx HAR, rx HAA from ha, tx AMA" \
    "ha=rx HAR from aaah, tx HAA" \
    "pcn=" "fa2=" "fa3=" "aaafb="
check "backbone capture: Diameter only inside TLS (no clear-text AMR/HAR)" \
    pcap_diameter_tls "$TB_WORK/reg-alice.pcap" alice@home.example

# --- 3. the VPN information caches ---------------------------------------------------------------
narrate "Each node's VPN information cache: what the seeds say that node keeps (Fig. 7, [0040]-[0044])."
check "HA cache: ha-gw (HA -> company GW $TB_CGW_BB) and fa-ha (HA -> FA1)" vpn_cache_is ha "${HA_SET[@]}"
check "FA1 cache: fa-ha (FA1 -> HA)" vpn_cache_is fa1 "${FA_SET[@]}"
check "AAAF-A cache: the FA's set" vpn_cache_is aaafa "${FA_SET[@]}"
check "AAAH caches: the HA's set and the FA's set" vpn_cache_is aaah "${HA_SET[@]}" "${FA_SET[@]}"
for n in fa2 fa3 aaafb pcn; do
    check "${n^^} cache: empty" vpn_cache_is "$n"
done
check "AAAH: one session (alice)" expect_eq "sessions" "$(aaah_sessions)" 1

# --- 4. bob: a pool address, no VPN ------------------------------------------------------------
narrate "bob (not on the company's list) asks for a home address: the AAAH assigns one from the pool."
say -a mn2 "attaches to FA1's access link, home address 0.0.0.0"
mn_set_hoa mn2 0.0.0.0
mn_attach mn2 fa1
mnemu_start_aaa mn2 bob@home.example 257 "$KEY_BOB_AAA" 0.0.0.0 --lifetime "$INIT_LIFETIME"
wait_until 15 mn_settled mn2 || true
st=$(mn_status mn2) || st='{}'
BOB_HOA=$(json_field "$st" .hoa) || BOB_HOA=
check "bob registered with a home address from the pool $TB_POOL_NET" \
    expect_eq "state/code/in pool" \
    "$(json_field "$st" .state)/$(json_field "$st" .last_code)/$(in_prefix "$BOB_HOA" "$TB_POOL_NET")" \
    "registered/0/yes" "(home address ${BOB_HOA:-none})"
check "HA binding for bob's pool address" \
    expect_eq "binding nai" "$(json_field "$(binding_of "${BOB_HOA:-none}")" .nai)" bob@home.example
check "VPN database: one pool address in use" expect_eq "visitors used" "$(pool_used visitors)" 1
for n in ha fa1 aaafa aaah; do
    check "${n^^}: no VPN profile for bob (never tunnelled into the company)" \
        expect_empty "bob's profiles" "$(vpn_cache_profiles_of "$n" bob@home.example)"
done
narrate "bob deregisters: his pool address goes back to the pool."
mn_ctl mn2 deregister >/dev/null || true
wait_until 10 mn_state_is mn2 deregistered || true
check "bob's deregistration accepted" expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "deregistered/0"
wait_until 5 pool_used_is visitors 0 || true
check "bob's pool address freed" expect_eq "visitors used" "$(pool_used visitors)" 0
check "HA: no binding for bob" expect_empty "binding" "$(binding_of "${BOB_HOA:-none}")"
check "AAAH: only alice's session left" expect_eq "sessions" "$(aaah_sessions)" 1
bg_stop mnemu-mn2

# --- 5. denials -----------------------------------------------------------------------------------
narrate "Someone unknown to the home ISP tries: the AAAH rejects (4001), FA1 answers 67."
mnemu_start_aaa mn2 carol@home.example 258 "$(openssl rand -hex 16)" 0.0.0.0 --lifetime "$INIT_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "unknown NAI carol@home.example: denied with 67" expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/67"
bg_stop mnemu-mn2
narrate "bob with a wrong MN-AAA key: the same answer (no user enumeration), 67."
mnemu_start_aaa mn2 bob@home.example 257 "$(openssl rand -hex 16)" 0.0.0.0 --lifetime "$INIT_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "wrong MN-AAA key: denied with 67" expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/67"
bg_stop mnemu-mn2
check "no state left by the denied requests (AAAH sessions, pool)" \
    expect_eq "sessions/pool used" "$(aaah_sessions)/$(pool_used visitors)" "1/0"

# --- 6. alice deregisters -------------------------------------------------------------------------
narrate "alice deregisters: every node forgets her VPN information (STR/STA, binding end)."
mn_ctl mn1 deregister >/dev/null || true
wait_until 10 mn_state_is mn1 deregistered || true
check "alice's deregistration accepted" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "deregistered/0"
for n in ha fa1 fa2 fa3 aaafa aaafb aaah pcn; do
    wait_until 5 vpn_cache_empty "$n" || true
    check "${n^^} cache empty after the deregistration" vpn_cache_is "$n"
done
check "HA: no binding for alice" expect_empty "binding" "$(binding_of "$ALICE_HOA")"
check "AAAH: no session left" expect_eq "sessions" "$(aaah_sessions)" 0
bg_stop mnemu-mn1

# --- 7. the AAAH goes away ---------------------------------------------------------------------------
narrate "The home AAA server is stopped. The relay cannot deliver (3002): the MN hears 80, not silence."
aaad_stop aaah
say -a aaah "aaad stopped (SIGTERM, exit status ${TB_EXIT[aaad-aaah]})"
mnemu_start_aaa mn2 bob@home.example 257 "$KEY_BOB_AAA" 0.0.0.0 --lifetime "$INIT_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "AAAH down: denied with 80 (home network unreachable)" \
    expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/80"
bg_stop mnemu-mn2
