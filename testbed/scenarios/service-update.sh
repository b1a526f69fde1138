# Scenario "service-update": seed scenario 7 — the user changes the VPN destination (seeds
# [0090]-[0095], Fig. 30), over the AAA world.
# tb-world: aaa
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh, lib/aaa.sh).
#
#  0. The AAA world; alice's profile 2 leads to CN2 behind the PCN of partner ISP A (pcn);
#     partner ISP B's PCN (pcnb) fronts CN3's LAN (CN-GW table: dynamic).
#  1. alice registers through FA1: FA1 <-> PCN ESP to CN2 (scenario 4); probes both ways.
#  2. Her profile is changed in the VPN database (vpnadm, as the home ISP's web application
#     would): destination CN3.  Nothing happens until she asks.
#  3. alice sends a Reg Req with the service-update NVSE: the AAAH re-reads the database
#     regardless of its cache and decides the new path (FA1 <-> PCN B); HAR; the HA sends a BU
#     with the new VPN information to CN3 (intercepted by PCN B), BA, HAA; AMA; FA1 moves its
#     tunnel from the PCN to PCN B; Reg Reply.  The old PCN gets a lifetime-0 BU and forgets.
#  4. Checks: the messages of every node (Fig. 30), every node's cache, every agent's kernel
#     (FA1's SAs with PCN B only; PCN A back to its interception only; PCN B with FA1), probes
#     both ways with CN3 through ESP FA1 <-> PCN B only, and CN2 is no longer reached through
#     a VPN.
#  5. alice deregisters: every cache and kernel empty.

narrate() { if [ "${TB_NARRATE:-0}" = 1 ]; then say -a tour "$*"; fi; }

ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}
narrate "Home ISP, visited ISP A, and two partner ISPs with a PCN each (CN2 behind PCN A, CN3 behind PCN B)."
aaa_world_up pcn

OLD_PCN="#2 fa-pcn $ALICE_HOA/32 -> $TB_CN2/32 via $TB_PCN_BB -> $FA1_COA (dynamic)"
OLD_FA="#2 fa-pcn $ALICE_HOA/32 -> $TB_CN2/32 via $FA1_COA -> $TB_PCN_BB (dynamic)"
NEW_PCN="#2 fa-pcn $ALICE_HOA/32 -> $TB_CN3/32 via $TB_PCNB_BB -> $FA1_COA (dynamic)"
NEW_FA="#2 fa-pcn $ALICE_HOA/32 -> $TB_CN3/32 via $FA1_COA -> $TB_PCNB_BB (dynamic)"

# --- 1. alice with her VPN to CN2 -----------------------------------------------------------
narrate "alice registers; her VPN to CN2 runs FA1 <-> PCN A."
mn_attach mn1 fa1
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime 120 --reverse-tunnel
wait_until 20 mn_settled mn1 || true
check "alice registered (reply code 0)" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "registered/0"
wait_until 5 vpn_kernel_has pcn "$ALICE_HOA" || true
check "PCN A holds her VPN to CN2, PCN B nothing" \
    expect_eq "PCN A / PCN B caches" "$(vpn_cache_lines pcn) / $(vpn_cache_lines pcnb)" "$OLD_PCN / "
vpn_traffic before mn1 "$ALICE_HOA" cn2 "$TB_CN2" 5301
check "before: probes alice <-> CN2 all delivered, AF41 both ways" \
    expect_eq "up/down" "$(probe_delivered before up 0x88 >/dev/null && echo ok)/$(probe_delivered before down 0x88 >/dev/null && echo ok)" "ok/ok"
check "before: on the backbone only ESP FA1 <-> PCN A" \
    esp_only "$TB_WORK/before.pcap" "udp.port == 5301 || udp.port == 5302" 190 \
    "$FA1_COA>$TB_PCN_BB dscp 34" "$TB_PCN_BB>$FA1_COA dscp 34"

# --- 2. the database changes ------------------------------------------------------------------
narrate "alice changes her VPN destination on the home ISP's web page: the database now says CN3."
"$VPNADM" -d "$TB_VPNDB" profile set alice@home.example --num 2 --dst "$TB_CN3/32" >/dev/null
say -a aaah "VPN database: alice's profile 2 -> $("$VPNADM" -d "$TB_VPNDB" --json profile list | jq -r '.[] | select(.nai == "alice@home.example" and .profile == 2) | .dst')"
check "nothing changes before alice asks: the AAAH's and PCN A's caches are as they were" \
    expect_eq "AAAH FA set / PCN A" "$(vpn_cache_lines aaah | grep -c "$TB_CN2/32") / $(vpn_cache_lines pcn)" "2 / $OLD_PCN"

# --- 3. the service update ---------------------------------------------------------------------
narrate "alice asks for a service update (Reg Req with the NVSE): the AAAH re-reads the database."
t_su0=$EPOCHREALTIME
capture_start su
mn_ctl mn1 service-update >/dev/null || true
wait_until 20 mn_reply_after mn1 "$t_su0" || true
sleep 1
capture_stop su
t_su1=$EPOCHREALTIME
check "the service update is accepted (reply code 0)" \
    expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "registered/0"
metric service_update_ms "$(ms_between "$(ev_ms mn1 tx RRQ "$t_su0")" "$(ev_ms mn1 rx RRP "$t_su0")")"
check "every node's messages are Fig. 30's: AMR up, HAR, BU to CN3 (PCN B) -> BA -> HAA, AMA down; PCN A told to forget" \
    msgs_are "$t_su0" "$t_su1" \
    "mn1=tx RRQ, rx RRP from fa1" \
    "fa1=rx RRQ from mn1, tx AMR, rx AMA from aaah, tx RRP" \
    "aaafa=rx AMR from fa1, tx AMR, rx AMA from relay, tx AMA" \
    "relay=rx AMR from aaafa, tx AMR, rx AMA from aaah, tx AMA" \
    "aaah=rx AMR from relay, tx HAR, rx HAA from ha, tx AMA" \
    "pcnb=rx BU from ha, tx BA" "fa2=" "fa3=" "aaafb="
# The lifetime-0 BU to PCN A goes once the registration commits and nobody waits for its BA:
# it may be sent again before the BA (the PCN removes its kernel state first), as any BU.
msgs_match() { # T0 T1 NODE ERE: the node's messages match the extended regular expression
    local got; got=$(node_msgs "$1" "$2" "$3")
    echo "$3: ${got:-nothing}"
    grep -qE "^($4)\$" <<<"$got"
}
check "the HA: BU to CN3 (PCN B) and its BA before the HAA; then the lifetime-0 BU to CN2 (PCN A), its BA" \
    msgs_match "$t_su0" "$t_su1" ha \
    "rx HAR from aaah, tx BU, rx BA from cn3, tx BU, tx HAA(, tx BU)*(, rx BA from cn2)+"
check "PCN A: the lifetime-0 BU (again if repeated), each acknowledged" \
    msgs_match "$t_su0" "$t_su1" pcn "rx BU from ha, tx BA(, rx BU from ha, tx BA)*"
check "the BU with the new VPN information went to CN3's address with a lifetime, PCN A's to CN2's with lifetime 0 (Lua dissector)" \
    expect_eq "BUs (dst lifetime>0)" \
    "$(pcap_mip4vpn "$TB_WORK/su.pcap" 'mip4vpn.subtype == 18' ip.dst mip4vpn.bu.lifetime | awk '{ print $1, ($2 > 0) ? "live" : "zero" }' | sort -u | paste -sd, -)" \
    "$TB_CN2 zero,$TB_CN3 live"
check "every Mobile IP frame of the capture decodes cleanly (no Malformed, no expert error)" \
    pcap_mip4vpn_clean "$TB_WORK/su.pcap"

# --- 4. the new path ---------------------------------------------------------------------------
narrate "The new path: FA1 <-> PCN B; PCN A has forgotten alice."
check "AAAH caches: the new sets (CN3 via PCN B)" vpn_cache_is aaah "$NEW_PCN" "$NEW_FA"
check "HA cache: CN3 via PCN B" vpn_cache_is ha "$NEW_PCN"
check "FA1 cache: FA1 -> PCN B" vpn_cache_is fa1 "$NEW_FA"
check "AAAF-A cache: FA1 -> PCN B" vpn_cache_is aaafa "$NEW_FA"
check "PCN B cache: PCN B -> FA1" vpn_cache_is pcnb "$NEW_PCN"
wait_until 5 vpn_cache_empty pcn || true
check "PCN A cache: empty (the lifetime-0 BU)" vpn_cache_is pcn
check "FA1: SAs with PCN B only" kstate_has fa1 "^sa esp spi 0x[0-9a-f]* src $FA1_COA dst $TB_PCNB_BB\$" \
    "^sa esp spi 0x[0-9a-f]* src $TB_PCNB_BB dst $FA1_COA\$" "!^sa .*$TB_PCN_BB"
for n in fa1 pcn pcnb ha; do
    check "${n^^} kernel = its baseline + exactly the daemon's shadow" \
        kernel_vs_shadow "$n" "$TB_WORK/base-$n.txt" "$(mipctl_json "$n" kernel)"
done
check "PCN A: nothing left for alice (only its BU interception)" \
    expect_eq "PCN A shadow" "$(mipctl_json pcn kernel | kshadow | paste -sd, -)" "udp_redirect $TB_CN2_NET 434"
vpn_traffic after mn1 "$ALICE_HOA" cn3 "$TB_CN3" 5311
check "after: probes alice <-> CN3 all delivered, AF41 both ways" \
    expect_eq "up/down" "$(probe_delivered after up 0x88 >/dev/null && echo ok)/$(probe_delivered after down 0x88 >/dev/null && echo ok)" "ok/ok"
check "after: on the backbone only ESP FA1 <-> PCN B" \
    esp_only "$TB_WORK/after.pcap" "udp.port == 5311 || udp.port == 5312" 190 \
    "$FA1_COA>$TB_PCNB_BB dscp 34" "$TB_PCNB_BB>$FA1_COA dscp 34"
vpn_traffic cn2 mn1 "$ALICE_HOA" cn2 "$TB_CN2" 5321
check "CN2 is no longer reached through a VPN: no ESP on the backbone, no AF41 marking" \
    expect_eq "ESP frames / TOS as delivered at CN2" \
    "$(esp_pairs "$TB_WORK/cn2.pcap" | wc -l) / $(probe_tos "$TB_WORK/cn2-up.json" | sed 's/:[0-9]*//g')" "0 / 0x00"

# --- 5. deregistration -------------------------------------------------------------------------
narrate "alice deregisters: nothing is left anywhere."
mn_ctl mn1 deregister >/dev/null || true
wait_until 10 mn_state_is mn1 deregistered || true
check "alice's deregistration accepted" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "deregistered/0"
for n in ha fa1 pcn pcnb aaafa aaah; do
    wait_until 5 vpn_cache_empty "$n" || true
    check "${n^^} cache empty" vpn_cache_is "$n"
done
for n in ha fa1; do
    wait_until 5 kernel_clean "$n" "$TB_WORK/base-$n.txt" || true
    check "${n^^} kernel back to its baseline" kernel_clean "$n" "$TB_WORK/base-$n.txt"
done
for n in pcn pcnb; do
    check "${n^^} holds only its BU interception" \
        kernel_vs_shadow "$n" "$TB_WORK/base-$n.txt" "$(mipctl_json "$n" kernel)"
done
bg_stop mnemu-mn1
