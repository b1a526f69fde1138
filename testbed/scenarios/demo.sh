# Scenario "demo": a narrated tour of the stack (testbed/demo), over the AAA world: a
# registration through the AAA chain that sets up a company VPN, a VPN to a partner's PCN on
# the optimised route, and a move with smooth hand-off under 1,000 packets/s.  Every step is
# checked, so the tour also proves what it shows; the timeline at the end is the story.
# tb-world: aaa
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh, lib/aaa.sh).

tour() { say -a tour "$*"; }
ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}
FA2_COA=${TB_FA_BB[fa2]}
FA3_COA=${TB_FA_BB[fa3]}

tour "The world: a backbone joins the home ISP (HA, home AAA server with the VPN database),"
tour "visited ISP A (AAA server, FA1, FA2; a transit Diameter relay towards the home ISP),"
tour "visited ISP B (AAA server, FA3), a company whose VPN gateway fronts CN1's LAN, and a"
tour "partner ISP whose proxy correspondent node (PCN) fronts CN2.  Diameter runs over TLS only."
# The old FA holds what still reaches it during the hand-off (a UML guest needs ~2.5 s).
export TB_HOBUF_HOLD_MS=${TB_HOBUF_HOLD_MS:-5000} TB_HOBUF_PKTS=${TB_HOBUF_PKTS:-5000}
aaa_world_up static
if [ "${TB_IN_GUEST:-}" = uml ]; then sysctl -qw net.core.rmem_max=4194304 || true; fi
"$VPNADM" -d "$TB_VPNDB" profile add bob@home.example --num 2 --dst "$TB_CN2/32" \
    --dscp-up AF41 --dscp-down AF41 --sec esp --enc aes-gcm-128 --spi-up 0x1102 --spi-down 0x2102 \
    --no-keys >/dev/null
tour "VPN database: alice may reach the company LAN (through the company's gateway, EF up / AF41"
tour "down); bob may reach CN2 at the partner ISP (its PCN can set up VPNs itself: AF41)."
check "company GW: its side of the SLA with the home ISP (static SAs for alice's profile)" \
    cgw_sla "$TB_VPNDB" alice@home.example 1 "$ALICE_HOA"

# --- 1. registration through the AAA chain ------------------------------------------------------
tour "1. alice plugs into FA1 and registers with her NAI and MN-AAA key: FA1 asks its AAA server"
tour "   (AMR), which relays to the home AAA; the home AAA checks her, picks her VPN profiles and"
tour "   the path (company gateway: static, so FA1 -> HA -> gateway), hands the HA its part (HAR),"
tour "   and FA1 its part with the answer (AMA).  Each agent programs its IPsec tunnels and DSCP marks."
t0=$EPOCHREALTIME
mn_attach mn1 fa1
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime 120 --reverse-tunnel
wait_until 20 mn_settled mn1 || true
t1=$EPOCHREALTIME
check "alice registered through FA1 and the AAA chain (reply code 0)" \
    expect_eq "state/code/CoA" "$(mn_status mn1 '"\(.state)/\(.last_code)/\(.coa)"')" "registered/0/$FA1_COA"
check "the messages: AMR up the chain, HAR to the HA, HAA, AMA back, Reg Reply (seed Fig. 11)" \
    msgs_are "$t0" "$t1" "fa1=rx RRQ from mn1, tx AMR, rx AMA from aaah, tx RRP" \
    "aaah=rx AMR from relay, tx HAR, rx HAA from ha, tx AMA" "ha=rx HAR from aaah, tx HAA"
metric alice_registration_ms "$(mn_status mn1 .last_reg_ms)"
vpn_traffic demo-cn1 mn1 "$ALICE_HOA" cn1 "$TB_CN1" 5401
check "alice <-> CN1: every probe delivered, EF up / AF41 down as delivered" \
    expect_eq "up/down" "$(probe_delivered demo-cn1 up 0xb8 >/dev/null && echo ok)/$(probe_delivered demo-cn1 down 0x88 >/dev/null && echo ok)" "ok/ok"
check "on the backbone her traffic is ESP only: FA1 <-> HA <-> company gateway" \
    esp_only "$TB_WORK/demo-cn1.pcap" "udp.port == 5401 || udp.port == 5402" 190 \
    "$FA1_COA>$TB_HA_HOME dscp 46" "$TB_HA_HOME>$TB_CGW_BB dscp 46" \
    "$TB_CGW_BB>$TB_HA_HOME dscp 34" "$TB_HA_HOME>$FA1_COA dscp 34"

# --- 2. a PCN path --------------------------------------------------------------------------------
tour "2. bob registers at FA3 in visited ISP B, asking for an address from the home pool.  His"
tour "   correspondent sits behind a PCN: the HA sends the VPN information to CN2 in a binding"
tour "   update, the PCN intercepts it and sets up its end; FA3 sets up the other: a direct route."
mn_set_hoa mn2 0.0.0.0
mn_attach mn2 fa3
mnemu_start_aaa mn2 bob@home.example 257 "$KEY_BOB_AAA" 0.0.0.0 --lifetime 120 --reverse-tunnel
wait_until 20 mn_settled mn2 || true
BOB_HOA=$(mn_status mn2 .hoa)
check "bob registered through FA3, home address from the pool" \
    expect_eq "state/code/in pool" "$(mn_status mn2 '"\(.state)/\(.last_code)"')/$(in_prefix "$BOB_HOA" "$TB_POOL_NET")" "registered/0/yes"
wait_until 5 vpn_kernel_has pcn "$BOB_HOA" || true
vpn_traffic demo-cn2 mn2 "$BOB_HOA" cn2 "$TB_CN2" 5411
check "bob <-> CN2: every probe delivered, AF41 both ways" \
    expect_eq "up/down" "$(probe_delivered demo-cn2 up 0x88 >/dev/null && echo ok)/$(probe_delivered demo-cn2 down 0x88 >/dev/null && echo ok)" "ok/ok"
check "on the backbone: ESP FA3 <-> PCN only, nothing through the home network" \
    esp_only "$TB_WORK/demo-cn2.pcap" "udp.port == 5411 || udp.port == 5412" 190 \
    "$FA3_COA>$TB_PCN_BB dscp 34" "$TB_PCN_BB>$FA3_COA dscp 34"

# --- 3. a move with smooth hand-off ------------------------------------------------------------------
tour "3. CN1 sends alice 1,000 packets/s; she walks from FA1 to FA2.  FA1 sees her link go and holds"
tour "   her packets; at FA2 she names FA1; FA2's AAA server answers from its cache, FA2 relays the"
tour "   request to the HA, which moves its tunnels to FA2; FA2 tells FA1 (binding update), and FA1"
tour "   forwards what it held, in order, to FA2.  Nothing is lost."
bg_start demo-rx mn1 "$MPROBE" recv --port 5421 --bind "$ALICE_HOA" --out "$TB_WORK/demo-move.json" \
    --duration 25 --linger 8000
sleep 0.5 # the receiver binds before the first probe leaves
bg_start demo-tx cn1 "$MPROBE" send --dst "$ALICE_HOA" --port 5421 --rate 1000 --duration 6
sleep 1.5
t_m0=$EPOCHREALTIME
mn_detach mn1
mn_attach mn1 fa2
say -a mn1 "left FA1's access link and plugged into FA2's"
wait_until 15 mn_registered_at mn1 "$FA2_COA" || true
wait_until 25 test -s "$TB_WORK/demo-move.json" || true
bg_stop demo-tx
bg_stop demo-rx
check "alice registered at FA2, naming FA1" \
    expect_eq "state/code/CoA/previous FA" "$(mn_status mn1 '"\(.state)/\(.last_code)/\(.coa)/\(.last_prev_fa)"')" \
    "registered/0/$FA2_COA/$FA1_COA"
check "the hand-off: FA2 sent FA1 a binding update and FA1 acknowledged it" \
    msgs_are "$t_m0" "$EPOCHREALTIME" "fa1=rx BU from fa2, tx BA"
metric move_lost_cn1_to_alice "$(jq -r '.lost // empty' "$TB_WORK/demo-move.json" 2>/dev/null)"
metric move_interruption_ms "$(jq -r '.max_gap_ms // empty' "$TB_WORK/demo-move.json" 2>/dev/null)"
check "smooth hand-off: not one of CN1's 6,000 packets lost" \
    expect_eq "received/lost" "$(jq -r '"\(.received)/\(.lost)"' "$TB_WORK/demo-move.json" 2>/dev/null)" "6000/0"

# --- 4. the end -------------------------------------------------------------------------------------
tour "4. Both deregister: every node forgets them, the kernels hold nothing for them any more."
mn_ctl mn1 deregister >/dev/null || true
mn_ctl mn2 deregister >/dev/null || true
for n in ha fa2 fa3 pcn aaah; do wait_until 10 vpn_cache_empty "$n" || true; done
check "every VPN cache empty (HA, FA2, FA3, PCN, home AAA)" \
    expect_eq "profiles left" "$(for n in ha fa2 fa3 pcn aaah; do vpn_cache_lines "$n"; done | wc -l)" 0
tour "End of the tour: the timeline below is the story, every check is in the JSON result."
