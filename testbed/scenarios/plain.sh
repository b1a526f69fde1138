# Scenario "plain": Mobile IPv4 without VPN (RFC 5944, RFC 3024 reverse tunnelling).
# Sourced by testbed/run (topology up; helpers from run, lib/topo.sh, lib/check.sh).
#
#  1. alice (mn1) attaches to FA1 and registers with the HA through it;
#     HA binding, FA1 visitor and the kernel state of both are checked
#     (kernel = baseline + the daemon's shadow, nothing more, nothing less).
#  2. CN -> HoA probes arrive through HA -> FA1; the MN's probes reach the CN
#     through the reverse tunnel FA1 -> HA (tunnel counters).
#  3. bob (mn2) with a wrong MN-HA key is refused with 131, relayed by FA1.
#  4. alice moves to FA2 during a 1000 pps CN -> MN flow: new binding, traffic
#     follows; interruption and loss are measured; FA1 lets go of her.
#  5. alice deregisters: no binding, no kernel state left for her.
#  6. alice registers again, the daemons get SIGTERM: the kernel is clean.
#
# demo.sh sources this file with TB_NARRATE=1 for a commented tour.

narrate() { if [ "${TB_NARRATE:-0}" = 1 ]; then say -a tour "$*"; fi; }

PLAIN_LIFETIME=${PLAIN_LIFETIME:-20}
ALICE_HOA=${TB_MN_HOA[mn1]}
BOB_HOA=${TB_MN_HOA[mn2]}
FA1_COA=${TB_FA_BB[fa1]}
FA2_COA=${TB_FA_BB[fa2]}
CN=$TB_CN_BB

# --- configuration (keys generated per run, files 0600) -----------------------------
umask 077
KEY_ALICE=$(openssl rand -hex 16)
KEY_BOB=$(openssl rand -hex 16)
KEY_BOB_WRONG=$(openssl rand -hex 16)

cat >"$TB_WORK/mipd-ha.conf" <<EOF
# written by testbed/scenarios/plain.sh
vendor_id = 32473;
control_socket = "$(mipd_sock ha)";
log_level = "debug";
ha: {
  address = "$TB_HA_HOME";
  home_link = "home0";
  max_lifetime = 600;
  replay_window = 7;
  reverse_tunnel = true;
  mobile_nodes = (
    { nai = "alice@home.example"; home_address = "$ALICE_HOA"; spi = 256; key = "$KEY_ALICE"; },
    { nai = "bob@home.example"; home_address = "$BOB_HOA"; spi = 257; key = "$KEY_BOB"; }
  );
};
EOF
for fa in fa1 fa2; do
    cat >"$TB_WORK/mipd-$fa.conf" <<EOF
# written by testbed/scenarios/plain.sh
vendor_id = 32473;
control_socket = "$(mipd_sock "$fa")";
log_level = "debug";
fa: {
  address = "${TB_FA_BB[$fa]}";
  access_links = ( { interface = "acc0"; } );
  adv_interval_ms = 1000;
  adv_lifetime = 9;
  max_lifetime = 600;
  reg_timeout_ms = 3000;
  reverse_tunnel = true;
  challenge = true;
};
EOF
done
umask 022

# Kernel state of each agent before its daemon runs: what "clean" means later.
for n in ha fa1 fa2; do kstate "$n" >"$TB_WORK/base-$n.txt"; done

# --- helpers -------------------------------------------------------------------------
no_visitor() { [ -z "$(visitor_of "$1" "$2")" ]; }
no_binding() { [ -z "$(binding_of "$1")" ]; }
ipip_packets() { # NODE rx|tx -> packets summed over its ipip links (tunl0 included)
    ip -n "$(_tb_ns "$1")" -s -j link show type ipip | jq "[.[].stats64.$2.packets] | add // 0"
}
kernel_check() { # NODE: kernel = baseline + shadow
    kernel_vs_shadow "$1" "$TB_WORK/base-$1.txt" "$(mipctl_json "$1" kernel)"
}
nothing_for() { # NODE HOA: no kernel object and no shadow object mentions the home address
    local k s
    k=$(kstate "$1" | grep -F " $2 " || true)
    s=$(mipctl_json "$1" kernel | kshadow | grep -F " $2 " || true)
    expect_empty "$1 kernel objects for $2" "$(printf '%s %s' "$k" "$s" | sed 's/^ *//; s/ *$//')"
}
# ev_time MN EVENT_JQ_CONDITION AFTER: realtime of the first such event after AFTER
ev_time() {
    jq -r --argjson after "$3" "select(.t > \$after and ($2)) | .t" "$(mn_events "$1")" | head -n1
}
probe_file() { echo "$TB_WORK/probe-$1.json"; }

# --- start the agents -------------------------------------------------------------------
narrate "Home agent in the home ISP (tb-ha), foreign agents FA1 and FA2 in visited ISP A."
mipd_start ha ha ha "$TB_WORK/mipd-ha.conf"
mipd_start fa1 fa1 fa "$TB_WORK/mipd-fa1.conf"
mipd_start fa2 fa2 fa "$TB_WORK/mipd-fa2.conf"

# --- 1. registration through FA1 ---------------------------------------------------------
narrate "alice's laptop (mn1, home address $ALICE_HOA) plugs into FA1's access link."
say -a mn1 "attaches to FA1's access link"
mn_attach mn1 fa1
mnemu_start mn1 alice@home.example 256 "$KEY_ALICE" --lifetime "$PLAIN_LIFETIME" --reverse-tunnel
wait_until 10 mn_registered_at mn1 "$FA1_COA" || true
st=$(mn_status mn1)
check "mn1 registered through FA1 (reply code 0)" \
    expect_eq "state/code/CoA" "$(jq -r '"\(.state)/\(.last_code)/\(.coa)"' <<<"$st")" \
    "registered/0/$FA1_COA"
metric registration_ms "$(json_field "$st" .last_reg_ms)"
check "reverse tunnelling granted (T)" expect_eq "reverse_tunnel" "$(json_field "$st" .reverse_tunnel)" true

b=$(binding_of "$ALICE_HOA")
check "HA binding for $ALICE_HOA has CoA $FA1_COA" \
    expect_eq "care_of_address" "$(json_field "$b" .care_of_address)" "$FA1_COA" \
    "(nai $(json_field "$b" .nai), lifetime_left $(json_field "$b" .lifetime_left), T $(json_field "$b" .reverse_tunnel))"
v=$(visitor_of fa1 "$ALICE_HOA")
check "FA1 visitor list has alice" expect_eq "visitor nai" "$(json_field "$v" .nai)" alice@home.example
narrate "The HA now tunnels alice's traffic to FA1 (ipip), answers ARP for her on the home link."
ks=$(kstate ha)
check "HA kernel: ipip tunnel to $FA1_COA" \
    expect_eq "tunnel" "$(grep -c "^tunnel .* remote $FA1_COA\$" <<<"$ks")" 1
tun=$(awk -v c="$FA1_COA" '$1 == "tunnel" && $4 == c { print $2 }' <<<"$ks")
check "HA kernel: host route $ALICE_HOA via the tunnel" \
    expect_eq "route" "$(grep -c "^route $ALICE_HOA dev ${tun:-none} " <<<"$ks")" 1
check "HA kernel: proxy ARP for $ALICE_HOA on home0" \
    expect_eq "proxy" "$(grep -c "^proxy $ALICE_HOA dev home0\$" <<<"$ks")" 1
check "FA1 kernel: host route $ALICE_HOA on acc0" \
    expect_eq "route" "$(kstate fa1 | grep -c "^route $ALICE_HOA dev acc0 table 254\$")" 1
check "HA kernel matches its shadow" kernel_check ha
check "FA1 kernel matches its shadow" kernel_check fa1

# --- 2. traffic both ways ---------------------------------------------------------------
narrate "A correspondent host sends to alice's home address: HA -> tunnel -> FA1 -> alice."
bg_start probe-down mn1 "$MPROBE" recv --port 5001 --out "$(probe_file down)" --duration 6
sleep 0.3
tb_exec cn "$MPROBE" send --dst "$ALICE_HOA" --port 5001 --rate 200 --duration 1 >"$TB_WORK/send-down.json"
wait "${TB_PIDS[probe-down]}" || true
r=$(cat "$(probe_file down)" 2>/dev/null || echo '{}')
check "CN -> MN probes arrive through HA and FA1" \
    expect_eq "received/lost" "$(jq -r '"\(.received)/\(.lost)"' <<<"$r")" "200/0"

narrate "alice answers with reverse tunnelling: FA1 -> tunnel -> HA -> CN."
fa_tx0=$(ipip_packets fa1 tx)
ha_rx0=$(ipip_packets ha rx)
bg_start probe-up cn "$MPROBE" recv --port 5002 --out "$(probe_file up)" --duration 6
sleep 0.3
tb_exec mn1 "$MPROBE" send --dst "$CN" --src "$ALICE_HOA" --port 5002 --rate 200 --duration 1 >"$TB_WORK/send-up.json"
wait "${TB_PIDS[probe-up]}" || true
r=$(cat "$(probe_file up)" 2>/dev/null || echo '{}')
fa_tx=$(($(ipip_packets fa1 tx) - fa_tx0))
ha_rx=$(($(ipip_packets ha rx) - ha_rx0))
check "MN -> CN probes arrive" expect_eq "received/lost" "$(jq -r '"\(.received)/\(.lost)"' <<<"$r")" "200/0"
check "MN -> CN probes went through the reverse tunnel FA1 -> HA" \
    expect_ge "ipip packets sent by FA1 / received by HA" "$((fa_tx < ha_rx ? fa_tx : ha_rx))" 200

# --- 3. wrong key: refused by the HA, relayed by FA1 ------------------------------------
narrate "bob (mn2) tries with a wrong key: the HA refuses (131) and FA1 relays the refusal."
say -a mn2 "attaches to FA1's access link (wrong MN-HA key)"
mn_attach mn2 fa1
mnemu_start mn2 bob@home.example 257 "$KEY_BOB_WRONG" --lifetime "$PLAIN_LIFETIME"
wait_until 10 mn_state_is mn2 denied || true
check "mn2 with a wrong key is refused with 131" \
    expect_eq "state/code" "$(mn_status mn2 '"\(.state)/\(.last_code)"')" "denied/131"
check "no binding for mn2 at the HA" expect_empty "binding" "$(binding_of "$BOB_HOA")"
check "no visitor entry for mn2 at FA1" expect_empty "visitor" "$(visitor_of fa1 "$BOB_HOA")"
bg_stop mnemu-mn2
mn_detach mn2

# --- 4. move FA1 -> FA2 under a 1000 pps flow --------------------------------------------
narrate "alice walks to FA2 while the CN streams 1000 packets/s to her."
bg_start probe-move mn1 "$MPROBE" recv --port 5003 --out "$(probe_file move)" --duration 30
sleep 0.3
bg_start send-move cn "$MPROBE" send --dst "$ALICE_HOA" --port 5003 --rate 1000 --duration 15
sleep 2
say -a mn1 "moves: detaches from FA1, attaches to FA2"
t_move=$EPOCHREALTIME
mn_detach mn1
mn_attach mn1 fa2
wait_until 10 mn_registered_at mn1 "$FA2_COA" || true
wait "${TB_PIDS[send-move]}" || true
wait "${TB_PIDS[probe-move]}" || true
st=$(mn_status mn1)
check "mn1 re-registered through FA2" \
    expect_eq "state/code/CoA" "$(jq -r '"\(.state)/\(.last_code)/\(.coa)"' <<<"$st")" "registered/0/$FA2_COA"
b=$(binding_of "$ALICE_HOA")
check "HA binding now has CoA $FA2_COA" \
    expect_eq "care_of_address" "$(json_field "$b" .care_of_address)" "$FA2_COA"
check "FA2 visitor list has alice" \
    expect_eq "visitor nai" "$(json_field "$(visitor_of fa2 "$ALICE_HOA")" .nai)" alice@home.example
r=$(cat "$(probe_file move)" 2>/dev/null || echo '{}')
t_down=$(ev_time mn1 '.event == "link_down"' "$t_move")
t_up=$(ev_time mn1 '.event == "link_up"' "$t_move")
t_rrp=$(ev_time mn1 ".event == \"rrp\" and .code == 0 and .from == \"${TB_FA_ACC[fa2]}\"" "$t_move")
check "traffic follows alice to FA2 (probes received after the re-registration)" \
    expect_ge "seconds of probes received after the reply from FA2" \
    "$(awk -v l="$(json_field "$r" .last_ts)" -v t="${t_rrp:-9e99}" 'BEGIN { printf "%.3f", l - t }')" 1
ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "null"; else printf "%.1f", (b - a) * 1000 }'; }
metric move_registration_ms "$(json_field "$st" .last_reg_ms)"
metric move_link_up_to_registered_ms "$(ms "$t_up" "$t_rrp")"
metric move_link_emulation_ms "$(ms "$t_move" "$t_up")"
metric move_interruption_ms "$(json_field "$r" .max_gap_ms)"
metric move_packets_lost "$(json_field "$r" .lost)"
metric move_packets_received "$(json_field "$r" .received)"
: "$t_down"
check "HA kernel matches its shadow after the move" kernel_check ha
check "HA kernel: no tunnel left to $FA1_COA" \
    expect_eq "tunnels to $FA1_COA" "$(kstate ha | grep -c "^tunnel .* remote $FA1_COA\$" || true)" 0
check "FA2 kernel matches its shadow" kernel_check fa2
narrate "FA1 no longer serves alice: it drops her when her port goes away, at the latest when her lifetime ends."
t0=$EPOCHREALTIME
if wait_until $((PLAIN_LIFETIME + 3)) no_visitor fa1 "$ALICE_HOA"; then
    check_that "FA1 released alice after she left" \
        "after $(awk -v a="$t_move" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s" true
else
    check_that "FA1 released alice after she left" "still a visitor $(awk -v a="$t_move" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the move" false
fi
: "$t0"
check "FA1 kernel matches its shadow" kernel_check fa1
check "FA1 kernel holds nothing for alice" nothing_for fa1 "$ALICE_HOA"

# --- 5. deregistration -------------------------------------------------------------------
narrate "alice deregisters (lifetime 0): every agent must forget her, in memory and in the kernel."
mn_ctl mn1 deregister >/dev/null
wait_until 8 mn_state_is mn1 deregistered || true
check "deregistration accepted" expect_eq "state/code" "$(mn_status mn1 '"\(.state)/\(.last_code)"')" "deregistered/0"
check "HA binding gone" expect_empty "binding" "$(binding_of "$ALICE_HOA")"
wait_until 3 no_visitor fa2 "$ALICE_HOA" || true
check "FA2 visitor gone" expect_empty "visitor" "$(visitor_of fa2 "$ALICE_HOA")"
for n in ha fa1 fa2; do
    check "${n^^} kernel matches its shadow after deregistration" kernel_check "$n"
    check "${n^^} kernel holds nothing for alice" nothing_for "$n" "$ALICE_HOA"
done
check "HA kernel back to its baseline" kernel_clean ha "$TB_WORK/base-ha.txt"

# --- 6. shutdown with a live binding -----------------------------------------------------
narrate "alice registers again; then the agents are stopped with SIGTERM: they must clean up."
mn_ctl mn1 register >/dev/null
wait_until 10 mn_registered_at mn1 "$FA2_COA" || true
check "registered again before shutdown" expect_eq "CoA" "$(json_field "$(binding_of "$ALICE_HOA")" .care_of_address)" "$FA2_COA"
bg_stop mnemu-mn1
for n in ha fa1 fa2; do
    mipd_stop "$n"
    say -a "$n" "mipd stopped with SIGTERM (exit status ${TB_EXIT[mipd-$n]})"
done
for n in ha fa1 fa2; do
    check "${n^^} exits 0 on SIGTERM" expect_eq "exit status" "${TB_EXIT[mipd-$n]}" 0
    check "${n^^} kernel clean after SIGTERM" kernel_clean "$n" "$TB_WORK/base-$n.txt"
done
