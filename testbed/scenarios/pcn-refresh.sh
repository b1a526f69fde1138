# Scenario "pcn-refresh": seed scenario 8 — lifetime refresh of a PCN's VPN information with
# Binding Requests (claim 25, supplementary note 17), over the AAA world of "pcn-initial".
# tb-world: aaa
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh, lib/aaa.sh).
#
#  0. The AAA world with the PCN's refresh threshold at 15 s (TB_PCN_REFRESH_S).
#  1. alice registers for 30 s through FA1 (scenario 4: the HA's BU gives the PCN her VPN
#     information for 30 s; FA1 <-> PCN ESP).  Probes run both ways with CN2 throughout.
#  2. 15 s before the end the PCN sends a BR to the HA; the binding still involves the PCN, so
#     the HA answers with a BU and the PCN keeps the VPN (BA); its lifetime is renewed; the
#     MN's own re-registration (at 2/3 of 30 s) follows.  No probe is lost; the backbone
#     capture decoded with the project's Lua dissector shows the BR, BU and BA with the right
#     field values and nothing Malformed.
#  3. The HA's path to the PCN is cut (xtables DROP at the HA) and alice deregisters: the HA
#     forgets her, and its lifetime-0 BU never reaches the PCN.  The PCN's BRs then find no
#     binding that involves it: the HA stays silent (counted), the PCN deletes the VPN
#     information and its kernel state when the lifetime ends; no binding comes back.

narrate() { if [ "${TB_NARRATE:-0}" = 1 ]; then say -a tour "$*"; fi; }

export TB_PCN_REFRESH_S=${TB_PCN_REFRESH_S:-15}
REG_LIFETIME=30
ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}

narrate "The partner ISP's PCN refreshes what it holds ${TB_PCN_REFRESH_S} s before it runs out."
aaa_world_up pcn

pcn_has_alice() { [ -n "$(vpn_cache_lines pcn)" ]; }
pcn_gone() { ! pcn_has_alice && ! vpn_kernel_has pcn "$ALICE_HOA"; }
ev_seen() { [ -n "$(ev_ms "$@")" ]; } # NODE DIR MSG T0: such a message after T0
counter_ge() { [ "$(agent_counter "$1" "$2")" -ge "$3" ]; } # NODE NAME MIN
PCN_LEG="#2 fa-pcn $ALICE_HOA/32 -> $TB_CN2/32 via $TB_PCN_BB -> $FA1_COA (dynamic)"

# --- 1. registration --------------------------------------------------------------------------
narrate "alice registers for $REG_LIFETIME s: the PCN holds her VPN information for as long."
say -a mn1 "attaches to FA1's access link"
t_reg0=$EPOCHREALTIME
mn_attach mn1 fa1
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" --lifetime "$REG_LIFETIME" --reverse-tunnel
wait_until 20 mn_settled mn1 || true
check "alice registered (reply code 0), lifetime $REG_LIFETIME s" \
    expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "registered/0"
wait_until 5 vpn_kernel_has pcn "$ALICE_HOA" || true
check "PCN: alice's VPN information and its SAs" \
    expect_eq "cache / kernel objects" "$(vpn_cache_lines pcn)/$(vpn_kernel_has pcn "$ALICE_HOA" && echo yes)" "$PCN_LEG/yes"
t_bu0=$(ev_ms pcn rx BU "$t_reg0")

# Probes through the refresh and the MN's own renewal: 100/s each way for 22 s.
bg_start rx-up cn2 "$MPROBE" recv --port 5201 --out "$TB_WORK/refresh-up.json" --duration 40 --linger 500
bg_start rx-down mn1 "$MPROBE" recv --port 5202 --bind "$ALICE_HOA" --out "$TB_WORK/refresh-down.json" --duration 40 --linger 500
capture_start refresh
bg_start tx-up mn1 "$MPROBE" send --dst "$TB_CN2" --src "$ALICE_HOA" --port 5201 --rate 100 --duration 22
bg_start tx-down cn2 "$MPROBE" send --dst "$ALICE_HOA" --port 5202 --rate 100 --duration 22

# --- 2. the BR, answered ----------------------------------------------------------------------
narrate "At $TB_PCN_REFRESH_S s left the PCN asks the HA (BR); the binding still involves it: the HA sends a BU."
wait_until $((REG_LIFETIME + 5)) ev_seen pcn tx BR "$t_reg0" || true
t_br=$(ev_ms pcn tx BR "$t_reg0")
say -a pcn "BR sent $(ms_between "$t_bu0" "$t_br") ms after the BU that set the session"
# Within 2.5 s: lifetimes are whole seconds and the PCN looks once a second.
check "the PCN sent its BR when $TB_PCN_REFRESH_S s of the $REG_LIFETIME s were left (BU + 15 s, within 2.5 s)" \
    expect_le "seconds off" "$(awk -v a="${t_bu0:-0}" -v b="${t_br:-0}" -v l="$REG_LIFETIME" -v t="$TB_PCN_REFRESH_S" \
        'BEGIN { d = (b - a) / 1000 - (l - t); if (d < 0) d = -d; if (a == 0 || b == 0) d = 999; printf "%.2f", d }')" 2.5
t_br_s=$(awk -v t="${t_br:-0}" 'BEGIN { printf "%.3f", t / 1000 - 0.001 }')
wait_until 5 ev_seen pcn tx BA "$t_br_s" || true
sleep 1
check "BR -> BU -> BA: the HA answered the PCN's BR with a BU, the PCN acknowledged it (seed scenario 8)" \
    msgs_are "$t_br_s" "$(awk -v t="$t_br_s" 'BEGIN { printf "%.3f", t + 3 }')" \
    "pcn=tx BR, rx BU from ha, tx BA" "ha=rx BR from cn2, tx BU, rx BA from cn2" \
    "fa1=" "aaah=" "aaafa="
# (The MN renews every 20 s and each renewal's BU gives the PCN 30 s again: a BR comes 15 s
# after each, and each is answered while the binding lives.)
# (One snapshot of the counters: a BR may arrive between two reads.)
read -r br_rx ANSWERED br_silent < <(mipctl_json ha counters | jq -r \
    '[(.items // .)[]? | {(.name): .value}] | add | "\(.br_rx // 0) \(.br_answered // 0) \(.br_silent // 0)"')
check "HA counters: every BR answered while the binding involves the PCN (br_rx = br_answered >= 1, br_silent 0)" \
    expect_eq "received/answered/silent" "$br_rx/$ANSWERED/$br_silent" "$br_rx/$br_rx/0"
check "HA counters: at least one BR received" expect_ge "br_rx" "$br_rx" 1
check "PCN: the VPN information still there after the BR's BU" vpn_cache_is pcn "$PCN_LEG"
metric br_to_bu_ms "$(ms_between "$t_br" "$(ev_ms pcn rx BU "$t_br_s")")"

# The MN renews at 2/3 of its lifetime; the probes end; nothing was lost through it all.
wait_until 15 test ! -e "/proc/${TB_PIDS[tx-down]}" || true
sleep 1
capture_stop refresh
bg_stop tx-up
bg_stop tx-down
wait_until 5 test -s "$TB_WORK/refresh-up.json" || true
wait_until 5 test -s "$TB_WORK/refresh-down.json" || true
bg_stop rx-up
bg_stop rx-down
for d in up down; do
    f=$TB_WORK/refresh-$d.json
    metric "probe_${d}_lost" "$(jq -r '.lost // empty' "$f" 2>/dev/null)"
    check "probes $d through the refresh and the renewal: none lost" \
        expect_eq "received/lost" "$(jq -r '"\(.received)/\(.lost)"' "$f" 2>/dev/null)" "2200/0"
done
# The PCN answers as CN2 (DESIGN §7), and its BR leaves from UDP 434 to the HA's 434: the
# reply direction of the REDIRECT's connection-tracking entry, so it carries CN2's address.
check "the capture's BR: from the PCN (as CN2) to the HA, alice's home address (Lua dissector)" \
    expect_eq "BR frames (src dst hoa subtype)" \
    "$(pcap_mip4vpn "$TB_WORK/refresh.pcap" 'mip4vpn.subtype == 17' ip.src ip.dst mip4vpn.br.hoa mip4vpn.subtype | sort -u | tr '\t' ' ')" \
    "$TB_CN2 $TB_HA_HOME $ALICE_HOA 17"
check "the capture's answering BU: HA -> CN2 (intercepted by the PCN), alice, care-of address FA1, lifetime <= $TB_PCN_REFRESH_S s" \
    expect_eq "BU (src dst hoa coa short-lifetime)" \
    "$(pcap_mip4vpn "$TB_WORK/refresh.pcap" "mip4vpn.subtype == 18 && mip4vpn.bu.lifetime <= $((TB_PCN_REFRESH_S + 1))" ip.src ip.dst mip4vpn.bu.hoa mip4vpn.bu.coa | sort -u | tr '\t' ' ')" \
    "$TB_HA_HOME $TB_CN2 $ALICE_HOA $FA1_COA"
check "the capture's BAs from the PCN: status 0 (accepted)" \
    expect_eq "BA statuses" "$(pcap_mip4vpn "$TB_WORK/refresh.pcap" 'mip4vpn.subtype == 19' mip4vpn.ba.status | sort -u | paste -sd, -)" 0
check "every Mobile IP frame of the capture decodes cleanly (no Malformed, no expert error)" \
    pcap_mip4vpn_clean "$TB_WORK/refresh.pcap"

# --- 3. the BR finds no binding ----------------------------------------------------------------
narrate "alice re-registers (the PCN gets $REG_LIFETIME s again), the HA's path to the PCN breaks, alice deregisters: the PCN never hears the lifetime-0 BU."
# A fresh registration first, so that the PCN's copy has more than the threshold left when the
# HA forgets the binding: its BR round then comes after the deregistration.
t_rr=$EPOCHREALTIME
mn_ctl mn1 register >/dev/null || true
wait_until 10 ev_seen pcn tx BA "$t_rr" || true
check "alice re-registered: the PCN took a new BU ($REG_LIFETIME s)" ev_seen pcn tx BA "$t_rr"
tb_exec ha iptables-legacy -w -I OUTPUT -d "$TB_PCN_BB" -p udp --dport 434 -j DROP
tb_exec ha iptables-legacy -w -I OUTPUT -d "$TB_CN2" -p udp --dport 434 -j DROP
say -a ha "xtables: UDP 434 to the PCN dropped"
ANSWERED=$(agent_counter ha br_answered)
t_d0=$EPOCHREALTIME
mn_ctl mn1 deregister >/dev/null || true
wait_until 10 mn_state_is mn1 deregistered || true
check "alice deregistered (reply 0); the HA holds no binding" \
    expect_eq "state/code, binding" "$(mn_status mn1 '"\(.state)/\(.last_code)"'), $(mipctl_json ha bindings | jq -r '[.items[]?] | length')" "deregistered/0, 0"
bg_stop mnemu-mn1
check "PCN: still holds alice's VPN (the lifetime-0 BU was lost)" vpn_cache_is pcn "$PCN_LEG"
# HA-bound traffic still passes: the BRs reach the HA, which has nothing for the PCN.
wait_until $((REG_LIFETIME + 10)) counter_ge ha br_silent 1 || true
check "the HA stays silent to the PCN's BR (no binding involves the PCN any more: br_silent counted)" \
    expect_ge "HA br_silent" "$(agent_counter ha br_silent)" 1
wait_until $((REG_LIFETIME + 10)) pcn_gone || true
metric pcn_expiry_after_dereg_s "$(awk -v a="$t_d0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
check "PCN: no BU before the end of the lifetime -> the VPN information is deleted" vpn_cache_is pcn
check "PCN kernel: only its BU interception left (SAs, policies, marks of alice gone)" \
    kernel_vs_shadow pcn "$TB_WORK/base-pcn.txt" "$(mipctl_json pcn kernel)"
check "PCN shadow: only the interception" \
    expect_eq "shadow" "$(mipctl_json pcn kernel | kshadow | paste -sd, -)" "udp_redirect $TB_CN2_NET 434"
check "PCN counters: BRs sent, the round unanswered" \
    expect_eq "br_tx >= 2 / br_unanswered >= 1" \
    "$([ "$(agent_counter pcn br_tx)" -ge 2 ] && echo y)/$([ "$(agent_counter pcn br_unanswered)" -ge 1 ] && echo y)" "y/y"
check "HA: no BR answered after the deregistration (only the lost lifetime-0 BUs went out)" \
    expect_eq "HA answered BRs" "$(agent_counter ha br_answered)" "$ANSWERED"
tb_exec ha iptables-legacy -w -D OUTPUT -d "$TB_PCN_BB" -p udp --dport 434 -j DROP
tb_exec ha iptables-legacy -w -D OUTPUT -d "$TB_CN2" -p udp --dport 434 -j DROP
for n in ha fa1; do
    check "${n^^} kernel: back to its baseline" kernel_clean "$n" "$TB_WORK/base-$n.txt"
done
