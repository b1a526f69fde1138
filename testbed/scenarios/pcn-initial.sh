# Scenario "pcn-initial": seed scenario 4 — initial registration with a proxy correspondent
# node (seeds [0074]-[0078], Fig. 27, Fig. 21), over the AAA chain of aaad/FLOWS.md.
# tb-world: aaa
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh, lib/aaa.sh).
#
#  0. The AAA world (as in "initial"); alice's VPN profile goes to CN2 (172.16.60.10/32) in the
#     partner ISP, whose PCN (192.0.2.70) can take VPN set-up dynamically (CN-GW: dynamic).
#  1. alice (mn1) registers through FA1: AMR up the chain, HAR to the HA, the HA sends a BU
#     with the VPN information towards CN2, the PCN intercepts it and answers BA, and only
#     then the HA answers HAA; AMA back down; Reg Reply code 0.
#  2. The merged message sequence is Fig. 27's; the HAA follows the BA; the BU was addressed
#     to CN2 (the profile names a host, DESIGN §7) and never reached CN2's LAN (intercepted);
#     Diameter only inside TLS on the backbone.
#  3. Caches ([0041], [0076]-[0078]): HA and PCN hold the fa-pcn profile with PCN -> FA1;
#     FA1 and AAAF-A hold FA1 -> PCN; AAAH both; nothing elsewhere.
#  3b. The data plane: 200 probes/s each way between alice and CN2 all arrive; on the backbone
#     they exist only as ESP between FA1 and the PCN (the optimised route: nothing through the
#     HA), every SA's byte counter rises; DSCP AF41 both ways on the outer ESP headers and as
#     delivered; every agent's kernel is its baseline plus exactly its daemon's shadow; the
#     time from the Reg Req to the first probe through the VPN is a metric.
#  4. Denials: unknown NAI -> 67, wrong MN-AAA key -> 67.
#  5. alice deregisters: every cache at every node (the PCN's included) is empty, no AAAH
#     session, nothing left for her in the HA's, FA1's and the PCN's kernels.
#  5b. alice registers for 8 s and falls silent: at the end of the lifetime every cache and
#     kernel (the PCN's included) is empty again.
#  6. The PCN is stopped: the HA's BUs go unanswered; the HA denies after its retries (HAA 4005
#     with reply 130, FLOWS.md) and alice is told 130, not silence; nothing is left behind.
#  7. The AAAH is stopped: a registration gets 80, not silence.

narrate() { if [ "${TB_NARRATE:-0}" = 1 ]; then say -a tour "$*"; fi; }

PCN_LIFETIME=${PCN_LIFETIME:-120}
ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}

narrate "Home ISP (HA, AAAH), visited ISP A (AAAF-A, FA1, FA2), transit relay, partner ISP with the PCN and CN2."
aaa_world_up pcn

# Scenario 4 caches (path.h, seeds [0041], [0076]-[0078]): profile 2, HoA/32 -> CN2/32.
SEL="$ALICE_HOA/32 -> $TB_CN2/32"
PCN_LEG="#2 fa-pcn $SEL via $TB_PCN_BB -> $FA1_COA (dynamic)"
FA_LEG="#2 fa-pcn $SEL via $FA1_COA -> $TB_PCN_BB (dynamic)"

# --- 1. registration --------------------------------------------------------------------------------
narrate "alice plugs into FA1 and registers; her VPN to CN2 must be set up between FA1 and the PCN."
say -a mn1 "attaches to FA1's access link"
t_reg0=$EPOCHREALTIME
capture_start reg-alice
capture_start cn2-lan pcn lan0
mn_attach mn1 fa1
# Probes towards CN2 from the moment she is attached: the first one marked AF41 arrives
# through the VPN (the PCN's LAN is reachable in clear too, but only the VPN marks).
first_probe_start mn1 "$ALICE_HOA" cn2 "$TB_CN2" 5100
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime "$PCN_LIFETIME" --reverse-tunnel
wait_until 20 mn_settled mn1 || true
sleep 0.5
capture_stop reg-alice
capture_stop cn2-lan
t_reg1=$EPOCHREALTIME
st=$(mn_status mn1) || st='{}'
check "alice registered through FA1 and the AAA chain (reply code 0)" \
    expect_eq "state/code/CoA/HoA" "$(jq -r '"\(.state)/\(.last_code)/\(.coa)/\(.hoa)"' <<<"$st")" \
    "registered/0/$FA1_COA/$ALICE_HOA"
metric registration_ms "$(json_field "$st" .last_reg_ms)"
metric aaa_roundtrip_ms "$(ms_between "$(ev_ms fa1 tx AMR "$t_reg0")" "$(ev_ms fa1 rx AMA "$t_reg0")")"
metric rrq_retransmissions "$(node_msgs "$t_reg0" "$EPOCHREALTIME" mn1 retx)"
check "HA binding for $ALICE_HOA has CoA $FA1_COA" \
    expect_eq "care_of_address" "$(json_field "$(binding_of "$ALICE_HOA")" .care_of_address)" "$FA1_COA"
wait_until 5 vpn_kernel_has fa1 "$ALICE_HOA" || true
sleep 0.5
first_ms=$(first_probe_ms "$(ev_ms mn1 tx RRQ "$t_reg0")" 0x88)
metric reg_to_first_vpn_probe_ms "$first_ms"
check "a probe reached CN2 through the VPN (marked AF41) after alice's Reg Req" \
    expect_ge "ms from the Reg Req" "$first_ms" 0

# --- 2. sequence, BU/BA, TLS ---------------------------------------------------------------------------
narrate "Fig. 27: HAR -> BU to the correspondent, intercepted by the PCN -> BA -> only then HAA, AMA, Reg Reply."
# Each node's messages in its own order (Fig. 21: "Reg Req at HA -> BU", "BU at PCN -> BA",
# "BA at HA -> Reg Rep"); the BA comes from CN2's address: the PCN answered for it.
check "every node's messages are the seeds' (scenario 4, Fig. 27: HAR -> BU, BA -> HAA)" \
    msgs_are "$t_reg0" "$t_reg1" \
    "mn1=tx RRQ, rx RRP from fa1" \
    "fa1=rx RRQ from mn1, tx AMR, rx AMA from aaah, tx RRP" \
    "aaafa=rx AMR from fa1, tx AMR, rx AMA from relay, tx AMA" \
    "relay=rx AMR from aaafa, tx AMR, rx AMA from aaah, tx AMA" \
    "aaah=rx AMR from relay, tx HAR, rx HAA from ha, tx AMA" \
    "ha=rx HAR from aaah, tx BU, rx BA from cn2, tx HAA" \
    "pcn=rx BU from ha, tx BA" \
    "fa2=" "fa3=" "aaafb="
t_ba=$(ev_ms ha rx BA "$t_reg0" 0) || t_ba=
t_haa=$(ev_ms ha tx HAA "$t_reg0" 2001) || t_haa=
check "the HA answered HAA (2001) only after the PCN's BA (0)" \
    expect_eq "BA 0 received at / HAA 2001 sent at (ms) in order" \
    "${t_ba:-none} / ${t_haa:-none} $(awk -v a="${t_ba:-x}" -v b="${t_haa:-x}" 'BEGIN { print (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && a + 0 <= b + 0) ? "yes" : "no" }')" \
    "${t_ba:-none} / ${t_haa:-none} yes"
metric bu_ba_ms "$(ms_between "$(ev_ms ha tx BU "$t_reg0")" "$t_ba")"
check "the BU went to CN2's address ($TB_CN2, the profile names a host)" \
    expect_ge "BUs from the HA to $TB_CN2 on the backbone" \
    "$(pcap_count "$TB_WORK/reg-alice.pcap" "udp.dstport == 434 && ip.dst == $TB_CN2")" 1
check "the PCN intercepted it: no Mobile IP message reached CN2's LAN" \
    expect_eq "UDP 434 frames on the PCN's LAN" "$(pcap_count "$TB_WORK/cn2-lan.pcap" "udp.port == 434")" 0
check "backbone capture: Diameter only inside TLS (no clear-text AMR/HAR)" \
    pcap_diameter_tls "$TB_WORK/reg-alice.pcap" alice@home.example

# --- 3. caches ---------------------------------------------------------------------------------------
narrate "The PCN now holds the FA1-PCN VPN (PCN -> FA1); FA1 the mirror image; the HA only caches it."
check "HA cache: the fa-pcn profile (PCN -> FA1), to hand to the PCN" vpn_cache_is ha "$PCN_LEG"
check "PCN cache: the fa-pcn profile with PCN -> FA1" vpn_cache_is pcn "$PCN_LEG"
check "FA1 cache: fa-pcn (FA1 -> PCN)" vpn_cache_is fa1 "$FA_LEG"
check "AAAF-A cache: the FA's set" vpn_cache_is aaafa "$FA_LEG"
check "AAAH caches: the HA's set and the FA's set" vpn_cache_is aaah "$PCN_LEG" "$FA_LEG"
for n in fa2 fa3 aaafb; do
    check "${n^^} cache: empty" vpn_cache_is "$n"
done
check "AAAH: one session (alice)" expect_eq "sessions" "$(aaah_sessions)" 1

# --- 3b. the data plane ------------------------------------------------------------------------
narrate "Traffic both ways between alice and CN2: ESP FA1 <-> PCN directly, AF41 both ways."
for n in fa1 pcn; do sa_bytes "$n" >"$TB_WORK/sa0-$n.txt"; done
say -a mn1 "200 probes/s to CN2 for 1 s; CN2 200 probes/s back"
vpn_traffic vpn-alice mn1 "$ALICE_HOA" cn2 "$TB_CN2" 5101
check "up-link: every probe alice -> CN2 delivered, DSCP AF41 (TOS 0x88) as delivered" \
    probe_delivered vpn-alice up 0x88
check "down-link: every probe CN2 -> alice delivered, DSCP AF41 (TOS 0x88) as delivered" \
    probe_delivered vpn-alice down 0x88
check "backbone: alice's traffic only as ESP between FA1 and the PCN (not via the HA); outer DSCP AF41" \
    esp_only "$TB_WORK/vpn-alice.pcap" "udp.port == 5101 || udp.port == 5102" 190 \
    "$FA1_COA>$TB_PCN_BB dscp 34" "$TB_PCN_BB>$FA1_COA dscp 34"
for n in fa1 pcn; do
    check "${n^^}: every SA's byte counter rose" sa_rose "$n" "$TB_WORK/sa0-$n.txt"
done
check "PCN: the SAs PCN <-> FA1 (the seeds' PCN -> FA tunnel and its decrypt side)" \
    kstate_has pcn "^sa esp spi 0x[0-9a-f]* src $TB_PCN_BB dst $FA1_COA\$" \
    "^sa esp spi 0x[0-9a-f]* src $FA1_COA dst $TB_PCN_BB\$"
check "HA: no SA (the VPN bypasses the home network)" kstate_has ha "!^sa "
for n in ha fa1 pcn fa2; do
    check "${n^^} kernel = its baseline + exactly the daemon's shadow (XFRM, routes, ipset, xtables)" \
        kernel_vs_shadow "$n" "$TB_WORK/base-$n.txt" "$(mipctl_json "$n" kernel)"
done

# --- 4. denials -----------------------------------------------------------------------------------------
narrate "An unknown user and a wrong MN-AAA key: 67 each, and no BU to the PCN."
mn_set_hoa mn2 0.0.0.0
mn_attach mn2 fa1
mnemu_start_aaa mn2 carol@home.example 258 "$(openssl rand -hex 16)" 0.0.0.0 --lifetime "$PCN_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "unknown NAI carol@home.example: denied with 67" expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/67"
bg_stop mnemu-mn2
mnemu_start_aaa mn2 bob@home.example 257 "$(openssl rand -hex 16)" 0.0.0.0 --lifetime "$PCN_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "wrong MN-AAA key: denied with 67" expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/67"
bg_stop mnemu-mn2
check "the denials left no state (AAAH sessions, PCN cache)" \
    expect_eq "sessions/PCN profiles" "$(aaah_sessions)/$(vpn_cache_lines pcn | wc -l)" "1/1"

# --- 5. deregistration --------------------------------------------------------------------------------------
narrate "alice deregisters: the HA, FA1, the AAA servers and the PCN forget her VPN."
mn_ctl mn1 deregister >/dev/null || true
wait_until 10 mn_state_is mn1 deregistered || true
check "alice's deregistration accepted" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "deregistered/0"
for n in ha pcn fa1 fa2 fa3 aaafa aaafb aaah; do
    wait_until 5 vpn_cache_empty "$n" || true
    check "${n^^} cache empty after the deregistration" vpn_cache_is "$n"
done
check "AAAH: no session left" expect_eq "sessions" "$(aaah_sessions)" 0
agents_clean() { # the HA's and FA1's kernels at their baselines; the PCN holds only its interception
    local n rc=0
    for n in ha fa1; do kernel_clean "$n" "$TB_WORK/base-$n.txt" || rc=1; done
    kernel_vs_shadow pcn "$TB_WORK/base-pcn.txt" "$(mipctl_json pcn kernel)" || rc=1
    expect_eq "PCN shadow" "$(mipctl_json pcn kernel | kshadow | paste -sd, -)" "udp_redirect $TB_CN2_NET 434" || rc=1
    return $rc
}
wait_until 5 agents_clean || true
check "kernels: nothing for alice at the HA, FA1 (baselines) and the PCN (only its BU interception)" agents_clean
bg_stop mnemu-mn1

# --- 5b. lifetime expiry ------------------------------------------------------------------------------------
narrate "alice registers for 8 s and her laptop dies: when the lifetime ends, every node, the PCN included, forgets her."
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime 8 --reverse-tunnel
wait_until 15 mn_settled mn1 || true
check "alice registered again, lifetime 8 s" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "registered/0"
wait_until 5 vpn_kernel_has fa1 "$ALICE_HOA" || true
check "FA1 and the PCN programmed her VPN again" expect_eq "FA1/PCN have objects" \
    "$(vpn_kernel_has fa1 "$ALICE_HOA" && echo y)/$(vpn_kernel_has pcn "$ALICE_HOA" && echo y)" "y/y"
bg_stop mnemu-mn1 KILL
t_dead=$EPOCHREALTIME
say -a mn1 "silent from now on (no deregistration, no renewal)"
wait_until 25 agents_clean || true
metric expiry_cleanup_s "$(awk -v a="$t_dead" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
check "kernels after the lifetime: HA, FA1 at their baselines, the PCN holds only its interception" agents_clean
for n in ha pcn fa1 aaafa aaah; do
    wait_until 10 vpn_cache_empty "$n" || true
    check "${n^^} cache empty after the lifetime" vpn_cache_is "$n"
done
wait_until 10 aaah_sessions_are 0 || true
check "AAAH: no session after the lifetime" expect_eq "sessions" "$(aaah_sessions)" 0

# --- 6. the PCN is silent --------------------------------------------------------------------------------------
narrate "The PCN is stopped: the HA's BUs go unanswered; after its retries it denies (HAA 4005, reply 130)."
mipd_stop pcn
say -a pcn "mipd stopped (SIGTERM, exit status ${TB_EXIT[mipd-pcn]})"
t_p0=$EPOCHREALTIME
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime "$PCN_LIFETIME"
wait_until 15 mn_settled_after mn1 "$t_p0" || true
check "PCN silent: alice denied with 130 (insufficient resources), not left without an answer" \
    expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "denied/130"
# (node_msgs leaves the BU's repeats out and counts them.)
check "PCN silent: the HA sent its BU 3 times, then answered the HAR" \
    expect_eq "HA messages (BU repeats)" \
    "$(node_msgs "$t_p0" "$EPOCHREALTIME" ha) ($(node_msgs "$t_p0" "$EPOCHREALTIME" ha retx))" \
    "rx HAR from aaah, tx BU, tx HAA (2)"
metric pcn_silent_denial_ms "$(ms_between "$(ev_ms mn1 tx RRQ "$t_p0")" "$(ev_ms mn1 rx RRP "$t_p0")")"
check "PCN silent: no binding and no VPN information left for alice" \
    expect_eq "HA binding / HA, FA1, AAAF-A profiles / AAAH sessions" \
    "$(json_field "$(binding_of "$ALICE_HOA")" .care_of_address)/$(vpn_cache_lines ha | wc -l),$(vpn_cache_lines fa1 | wc -l),$(vpn_cache_lines aaafa | wc -l)/$(aaah_sessions)" \
    "/0,0,0/0"
bg_stop mnemu-mn1

# --- 7. the AAAH goes away ------------------------------------------------------------------------------------
narrate "The home AAA server is stopped: the MN is told 80 (home network unreachable), never silence."
aaad_stop aaah
say -a aaah "aaad stopped (SIGTERM, exit status ${TB_EXIT[aaad-aaah]})"
mnemu_start_aaa mn2 bob@home.example 257 "$KEY_BOB_AAA" 0.0.0.0 --lifetime "$PCN_LIFETIME"
wait_until 15 mn_settled mn2 || true
check "AAAH down: denied with 80 (home network unreachable)" \
    expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/80"
bg_stop mnemu-mn2
