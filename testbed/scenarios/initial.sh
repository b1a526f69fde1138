# Scenario "initial": seed scenario 1 — initial registration with a static VPN gateway
# (seeds [0025]-[0044], Fig. 4, Fig. 11, Fig. 13), over the AAA chain of aaad/FLOWS.md.
# tb-world: aaa
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh, lib/aaa.sh).
#
#  0. The AAA world: AAAH (VPN database: alice with a profile to the company LAN behind the
#     static gateway 192.0.2.60, bob with a pool address and no profile), the stock
#     freeDiameterd relay, AAAF-A/B, HA, FA1-3, PCN; every Diameter link TLS (checked).
#     The company gateway (a plain Linux router) holds the SLA: static ESP SAs towards the HA
#     for alice's profile, keys from the VPN database; nothing else enters the company LAN.
#  1. alice (mn1) registers through FA1: FA1 -> AAAF-A -> relay -> AAAH -> HA and back; reply
#     code 0, HA binding, FA1 visitor; registration time through the chain and time from her
#     Reg Req to the first probe delivered through the VPN (metrics).
#  2. The messages, merged from every daemon's EVENT lines and the relay's log, are the
#     seeds' sequence (Fig. 11); the backbone capture holds only TLS on the Diameter links.
#  3. Every node's VPN information cache holds exactly what the seeds give it ([0040]-[0044]):
#     HA ha-gw (HA -> company GW) + fa-ha (HA -> FA1); FA1 and AAAF-A fa-ha (FA1 -> HA);
#     AAAH both sets; nothing anywhere else.
#  3b. The data plane (seeds [0045]-[0062]): 200 probes/s each way between alice and CN1 all
#     arrive; on the backbone they exist only as ESP, FA1 <-> HA and HA <-> company GW, every
#     SA's byte counter rises; DSCP EF up and AF41 down on the outer ESP headers and on the
#     packets as delivered; each agent's kernel (XFRM, routes, ipset, xtables) is its baseline
#     plus exactly the daemon's shadow.
#  4. bob (mn2) asks for a home address (0.0.0.0): he gets one from the pool, and no VPN
#     (he is not on the company's list: never tunnelled into it): he cannot reach CN1 while
#     alice can, and reaches the backbone CN by plain Mobile IP; he deregisters: the pool
#     address is freed, his session ends everywhere.
#  5. Denials, each a precise code, never silence: unknown NAI -> 67; wrong MN-AAA key -> 67.
#  6. alice deregisters: every cache at every node is empty, the AAAH holds no session, and
#     the HA's and FA1's kernels are back to their baselines.
#  6b. alice registers for 8 s and falls silent: at the end of the lifetime every cache and
#     kernel is empty again, without any message from her.
#  7. The AAAH is stopped: a registration gets 80 (home network unreachable: the relay cannot
#     deliver, Diameter 3002), not silence.

narrate() { if [ "${TB_NARRATE:-0}" = 1 ]; then say -a tour "$*"; fi; }

INIT_LIFETIME=${INIT_LIFETIME:-120}
ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}

narrate "Home ISP: HA + AAAH with the VPN database; visited ISP A: AAAF-A, FA1, FA2; a transit relay."
aaa_world_up static

# Scenario 1 caches (path.h, seeds [0040]-[0044]): alice's profile 1, selector HoA/32 -> CN1's LAN.
SEL="$ALICE_HOA/32 -> $TB_CN1_NET"
HA_SET=("#1 ha-gw $SEL via $TB_HA_HOME -> $TB_CGW_BB (static)"
    "#1 fa-ha $SEL via $TB_HA_HOME -> $FA1_COA (static)")
FA_SET=("#1 fa-ha $SEL via $FA1_COA -> $TB_HA_HOME (static)")

# The company's side of the SLA (seed [0026]): its gateway is configured once, by hand.
narrate "The company's gateway: static SAs towards the HA for alice's profile (the SLA); nothing else gets into its LAN."
check "company GW: static SAs and policies for alice's profile 1 (keys from the VPN database), LAN closed to the rest" \
    cgw_sla "$TB_VPNDB" alice@home.example 1 "$ALICE_HOA"

# --- 1. alice registers through the whole chain -------------------------------------------------
narrate "alice's laptop plugs into FA1's access link; she registers with her NAI and MN-AAA key only."
say -a mn1 "attaches to FA1's access link"
t_reg0=$EPOCHREALTIME
capture_start reg-alice
mn_attach mn1 fa1
# Probes towards CN1 from the moment she is attached: the first one marked EF arrives through
# the VPN (the metric "Reg Req to the first probe delivered through the VPN").
first_probe_start mn1 "$ALICE_HOA" cn1 "$TB_CN1" 5100
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
wait_until 5 vpn_kernel_has fa1 "$ALICE_HOA" || true
sleep 0.5
rrq_ms=$(ev_ms mn1 tx RRQ "$t_reg0")
first_ms=$(first_probe_ms "$rrq_ms" 0xb8)
metric reg_to_first_vpn_probe_ms "$first_ms"
check "a probe reached CN1 through the VPN (marked EF) after alice's Reg Req" \
    expect_ge "ms from the Reg Req" "$first_ms" 0
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

# --- 3b. the data plane ------------------------------------------------------------------------
narrate "Traffic both ways between alice and CN1: ESP FA1 <-> HA <-> company GW, EF up, AF41 down."
for n in ha fa1 cgw; do sa_bytes "$n" >"$TB_WORK/sa0-$n.txt"; done
say -a mn1 "200 probes/s to CN1 for 1 s; CN1 200 probes/s back"
vpn_traffic vpn-alice mn1 "$ALICE_HOA" cn1 "$TB_CN1" 5101
check "up-link: every probe alice -> CN1 delivered, DSCP EF (TOS 0xb8) as delivered" \
    probe_delivered vpn-alice up 0xb8
check "down-link: every probe CN1 -> alice delivered, DSCP AF41 (TOS 0x88) as delivered" \
    probe_delivered vpn-alice down 0x88
check "backbone: alice's traffic only as ESP, FA1 <-> HA and HA <-> company GW; outer DSCP EF up, AF41 down" \
    esp_only "$TB_WORK/vpn-alice.pcap" "udp.port == 5101 || udp.port == 5102" 190 \
    "$FA1_COA>$TB_HA_HOME dscp 46" "$TB_HA_HOME>$TB_CGW_BB dscp 46" \
    "$TB_CGW_BB>$TB_HA_HOME dscp 34" "$TB_HA_HOME>$FA1_COA dscp 34"
for n in ha fa1 cgw; do
    check "${n^^}: every SA's byte counter rose" sa_rose "$n" "$TB_WORK/sa0-$n.txt"
done
check "HA: the SAs of the seeds, HA <-> company GW (the profile's SPIs 0x1001/0x2001) and HA <-> FA1" \
    kstate_has ha "^sa esp spi 0x1001 src $TB_HA_HOME dst $TB_CGW_BB\$" \
    "^sa esp spi 0x2001 src $TB_CGW_BB dst $TB_HA_HOME\$" \
    "^sa esp spi 0x[0-9a-f]* src $TB_HA_HOME dst $FA1_COA\$" "^sa esp spi 0x[0-9a-f]* src $FA1_COA dst $TB_HA_HOME\$"
check "FA1: the SAs FA1 <-> HA only" kstate_has fa1 "^sa esp spi 0x[0-9a-f]* src $FA1_COA dst $TB_HA_HOME\$" \
    "^sa esp spi 0x[0-9a-f]* src $TB_HA_HOME dst $FA1_COA\$" "!^sa .*$TB_CGW_BB"
for n in ha fa1 pcn fa2; do
    check "${n^^} kernel = its baseline + exactly the daemon's shadow (XFRM, routes, ipset, xtables)" \
        kernel_vs_shadow "$n" "$TB_WORK/base-$n.txt" "$(mipctl_json "$n" kernel)"
done

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
for n in ha fa1; do
    check "${n^^}: no kernel object for bob's address" expect_empty "objects" "$(vpn_kernel_of "$n" "${BOB_HOA:-none}")"
done
narrate "CN1 and a host on the backbone run an echo service: alice reaches CN1, bob does not; bob reaches the other host."
bg_start echo-cn1 cn1 "$MPROBE" echo --port 5103 --duration 60
bg_start echo-cn cn "$MPROBE" echo --port 5103 --duration 60
sleep 0.3
check "alice reaches CN1's echo service through her VPN" ping_answers mn1 "$ALICE_HOA" "$TB_CN1" 3
check "bob (not on the company's list) cannot reach CN1: nothing answers" ping_answers mn2 "${BOB_HOA:-0.0.0.0}" "$TB_CN1" 0
check "bob reaches a host outside the company (the backbone CN) by plain Mobile IP" \
    ping_answers mn2 "${BOB_HOA:-0.0.0.0}" "$TB_CN_BB" 3
bg_stop echo-cn1
bg_stop echo-cn
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
for n in ha fa1; do
    wait_until 5 kernel_clean "$n" "$TB_WORK/base-$n.txt" || true
    check "${n^^} kernel: nothing for alice (XFRM, routes, ipset, xtables), back to its baseline" \
        kernel_clean "$n" "$TB_WORK/base-$n.txt"
    check "${n^^} shadow: empty" expect_empty "objects" "$(mipctl_json "$n" kernel | kshadow)"
done
bg_stop mnemu-mn1

# --- 6b. lifetime expiry ---------------------------------------------------------------------------
narrate "alice registers for 8 s and her laptop dies: when the lifetime ends, every node forgets her by itself."
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime 8 --reverse-tunnel
wait_until 15 mn_settled mn1 || true
check "alice registered again, lifetime 8 s" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "registered/0"
wait_until 5 vpn_kernel_has fa1 "$ALICE_HOA" || true
check "HA and FA1 programmed her VPN again" expect_eq "HA/FA1 have objects" \
    "$(vpn_kernel_has ha "$ALICE_HOA" && echo y)/$(vpn_kernel_has fa1 "$ALICE_HOA" && echo y)" "y/y"
bg_stop mnemu-mn1 KILL
t_dead=$EPOCHREALTIME
say -a mn1 "silent from now on (no deregistration, no renewal)"
for n in ha fa1; do wait_until 25 kernel_clean "$n" "$TB_WORK/base-$n.txt" || true; done
metric expiry_cleanup_s "$(awk -v a="$t_dead" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
for n in ha fa1; do
    check "${n^^} kernel after the lifetime: back to its baseline" kernel_clean "$n" "$TB_WORK/base-$n.txt"
    check "${n^^} shadow after the lifetime: empty" expect_empty "objects" "$(mipctl_json "$n" kernel | kshadow)"
done
for n in ha fa1 aaafa aaah; do
    wait_until 10 vpn_cache_empty "$n" || true
    check "${n^^} cache empty after the lifetime" vpn_cache_is "$n"
done
check "HA: no binding for alice after the lifetime" expect_empty "binding" "$(binding_of "$ALICE_HOA")"
wait_until 10 aaah_sessions_are 0 || true
check "AAAH: no session after the lifetime" expect_eq "sessions" "$(aaah_sessions)" 0

# --- 7. the AAAH goes away ---------------------------------------------------------------------------
narrate "The home AAA server is stopped. The relay cannot deliver (3002): the MN hears 80, not silence."
aaad_stop aaah
say -a aaah "aaad stopped (SIGTERM, exit status ${TB_EXIT[aaad-aaah]})"
mnemu_start_aaa mn2 bob@home.example 257 "$KEY_BOB_AAA" 0.0.0.0 --lifetime "$INIT_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "AAAH down: denied with 80 (home network unreachable)" \
    expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/80"
bg_stop mnemu-mn2
