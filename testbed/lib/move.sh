#!/usr/bin/env bash
# The move scenarios (seeds [0063]-[0089]; aaad/FLOWS.md "Moves and service update"), shared by
# testbed/scenarios/intra-move.sh, intra-move-nosmooth.sh (TB_SMOOTH_HANDOFF=false, for
# comparison), inter-move.sh, pcn-intra-move.sh and pcn-inter-move.sh.  Two knobs, set by the
# scenario file before sourcing this one:
#   MOVE_TO   fa2 (default): inside visited ISP A, the AAAF answers (scenarios 2 and 5,
#                 Fig. 25 / 28, FLOWS "Intra-domain move");
#             fa3: to visited ISP B, through AAAF-B and the AAAH (scenarios 3 and 6,
#                 Fig. 26 / 29, FLOWS "Inter-domain move");
#   MOVE_SET  static (default): alice's profile 1, CN1's LAN behind the company's static GW,
#                 via the HA;
#             pcn: alice's profile 2, CN2 172.16.60.10/32 behind the PCN 192.0.2.70 (FA <-> PCN
#                 directly; the HA moves the PCN's tunnel with a BU to CN2's address, which
#                 the PCN intercepts).
# Sourced by a scenario (testbed/run: topology up, helpers of run, topo.sh, check.sh, aaa.sh).
#
#  1. alice registers at FA1, VPN up.
#  2. A 1,000 packets/s sequenced probe runs both ways between the correspondent (CN1 / CN2)
#     and alice through the move.
#  3. alice moves to the new FA: her link to FA1 goes (FA1's layer-2 trigger: the hand-off
#     buffer holds her packets), she plugs into the new FA and registers there naming FA1
#     (previous-FA CVSE).
#  4. Per node, the messages of the figure (intra: the AAAF answers the AMR from its cache, the
#     new FA relays the Reg Req straight to the HA; inter: AMR new FA -> AAAF-B -> AAAH, HAR,
#     HAA, AMA carrying the previous FA; pcn: the HA's BU to the PCN, BA; then the new FA's BU
#     to FA1, BA, Reg Rep to alice).  Every node's VPN information cache and kernel after the
#     move; once the old FA's hand-off lifetime ends, nothing left on FA1 (nor, pcn, of the
#     FA1 path on the PCN).
#  5. Traffic: packets lost and the interruption (ms) per direction as metrics; with smooth
#     hand-off on, 0 lost CN -> MN is a check (off: metrics only).
#  6. Negative: a hand-off BU with a wrong authenticator and a replayed one are refused by FA1
#     and counted (mipctl counters), its state unchanged.
#  7. tshark with dict/wireshark/mip4vpn.lua decodes the BU/BA between the FAs (and, pcn, the
#     HA's BU to the PCN and its BA), right field values, no Malformed / expert error.

MOVE_TO=${MOVE_TO:-fa2}
MOVE_SET=${MOVE_SET:-static}
case "$MOVE_TO" in
fa2) NEW_AAAF=aaafa INTER=false HO_SPI=$((0x301)) ;; # SPI: aaa.sh _tb_fa_peers, pair fa1-fa2
fa3) NEW_AAAF=aaafb INTER=true HO_SPI=$((0x302)) ;;  # pair fa1-fa3
*) echo "move.sh: MOVE_TO must be fa2 or fa3, not $MOVE_TO" >&2; return 1 ;;
esac
case "$MOVE_SET" in static | pcn) ;; *) echo "move.sh: MOVE_SET must be static or pcn" >&2; return 1 ;; esac
NEW=$MOVE_TO
MOVE_LIFETIME=${MOVE_LIFETIME:-90} # alice's first registration: FA1's hand-off state lives as long
MOVE_PROBE_S=${MOVE_PROBE_S:-8}
MOVE_RATE=1000
SMOOTH=${TB_SMOOTH_HANDOFF:-true}
ALICE_HOA=${TB_MN_HOA[mn1]}
FA1_COA=${TB_FA_BB[fa1]}
NEW_COA=${TB_FA_BB[$NEW]}
MIPMSG=${MIPMSG:-$(dirname "$MNEMU")/mipmsg}
LUA=$TB_DIR/../dict/wireshark/mip4vpn.lua

# FA1's hand-off buffer must hold what reaches it from the moment alice's link goes until the
# BU comes.  In the UML testbed that takes ~2.5 s (two `ip` processes to move the veth, ~1 s; the
# new FA's first DSCP classes, an iptables-legacy process each, ~1.2 s), above the default
# bounds (2000 ms, 1000 packets at 1,000 packets/s): FA1 runs with these (fa.handoff_buffer,
# configurable by design; empty MOVE_BUF_HOLD_MS: the defaults).
MOVE_BUF_HOLD_MS=${MOVE_BUF_HOLD_MS-5000}
MOVE_BUF_PKTS=${MOVE_BUF_PKTS:-5000}

# The hand-off BU's first timeout: FLOWS' default (1 s) rather than aaa.sh's 400 ms (chosen for
# the HA -> PCN budget of a first registration): FA1 answers once its flush is written, ~0.7 s
# for ~2,000 packets inside UML, and a retransmission would only blur the figure's sequence.
# (The HA's BUs to the PCN take it too: the PCN answers well within 1 s.)
export TB_BU_TIMEOUT_MS=${TB_BU_TIMEOUT_MS:-1000}
if [ "$SMOOTH" = true ] && [ -n "$MOVE_BUF_HOLD_MS" ]; then
    export TB_HOBUF_HOLD_MS=$MOVE_BUF_HOLD_MS TB_HOBUF_PKTS=$MOVE_BUF_PKTS
fi
aaa_world_up "$MOVE_SET"
say "move to $NEW ($([ "$INTER" = true ] && echo "visited ISP B, through the AAAH" || echo "visited ISP A, the AAAF answers")), VPN set $MOVE_SET; smooth hand-off: $SMOOTH; FA hand-off buffer: ${TB_HOBUF_HOLD_MS:-default} ms, ${TB_HOBUF_PKTS:-default} packets"

# --- helpers -------------------------------------------------------------------------------
binding_of() { mipctl_json ha bindings | jq -c --arg h "$1" '.items[]? | select(.home_address == $h)'; }
visitor_of() { mipctl_json "$1" visitors | jq -c --arg h "$2" '.items[]? | select(.home_address == $h)'; }
json_field() { jq -r "$2 // empty" <<<"$1"; }
mn_settled() { case "$(mn_status "$1" .state)" in registered | denied | failed | deregistered) return 0 ;; esac; return 1; }
counter_of() { # NODE NAME: a mipd counter ({name, value} items, or a key, wherever nested)
    mipctl_json "$1" counters |
        jq -r --arg k "$2" '[.. | objects | ((select(.name? == $k) | .value), .[$k]?) | numbers] | first // 0'
}
visitor_state() { json_field "$(visitor_of "$1" "$2")" '"\(.state)/\(.handed_off_to)"'; }
fa_has_no_visitor() { [ -z "$(visitor_of "$1" "$2")" ]; }
# send_udp NODE DST PORT HEX: one datagram (the HEX bytes) from NODE's namespace.
# shellcheck disable=SC2016 # perl code, expanded by perl
send_udp() {
    tb_exec "$1" perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1], Proto => "udp")
            or die "socket: $!";
        defined $s->send(pack("H*", $ARGV[2])) or die "send: $!";' "$2" "$3" "$4"
}
ntp_id() { printf '%08x%08x' "$(($(date +%s) + 2208988800))" "$((RANDOM << 8))"; } # NTP timestamp
# logged_since NODE DIR MSG T0: NODE's daemon log has that EVENT at or after T0 (epoch seconds);
# cheaper than tb_node_events (one log, no merge) for waiting.
logged_since() {
    local t0
    t0=$(awk -v t="$4" 'BEGIN { printf "%.0f", t * 1000 }')
    grep -ao "EVENT [0-9]\{10,\} [^ ]* $2 $3 " "$TB_WORK/mipd-$1.log" 2>/dev/null |
        awk -v t0="$t0" '$2 >= t0 { f = 1 } END { exit !f }'
}

# The VPN set's correspondent and cache lines ("#NUM LEG SEL via SRC_GW -> DST_GW (TYPE)").
if [ "$MOVE_SET" = static ]; then
    CN_NODE=cn1 CN_ADDR=$TB_CN1
    SEL="$ALICE_HOA/32 -> $TB_CN1_NET"
    fa_leg() { echo "#1 fa-ha $SEL via $1 -> $TB_HA_HOME (static)"; }         # the FA's set
    ha_set() { echo "#1 ha-gw $SEL via $TB_HA_HOME -> $TB_CGW_BB (static)"; # the HA's set
        echo "#1 fa-ha $SEL via $TB_HA_HOME -> $1 (static)"; }
    HO_LEG="#1 fa-ha $SEL via $FA1_COA -> $NEW_COA (static)"
    check "company GW: static SAs and policies for alice's profile 1 (the SLA)" \
        cgw_sla "$TB_VPNDB" alice@home.example 1 "$ALICE_HOA"
else
    CN_NODE=cn2 CN_ADDR=$TB_CN2
    SEL="$ALICE_HOA/32 -> $TB_CN2/32"
    fa_leg() { echo "#2 fa-pcn $SEL via $1 -> $TB_PCN_BB (dynamic)"; }
    ha_set() { echo "#2 fa-pcn $SEL via $TB_PCN_BB -> $1 (dynamic)"; } # the HA's = the PCN's
    HO_LEG="#2 fa-pcn $SEL via $FA1_COA -> $NEW_COA (static)"
fi
mapfile -t HA_SET_NEW < <(ha_set "$NEW_COA")
mapfile -t HA_SET_FA1 < <(ha_set "$FA1_COA")

# --- 1. alice registers at FA1 ---------------------------------------------------------------
say -a mn1 "attaches to FA1's access link"
mn_attach mn1 fa1
# (mnemu_start_aaa: first retransmission after 4 s; an FA that programs a DSCP class for the
# first time spawns iptables-legacy, ~0.5 s per class inside UML, and a retransmission would
# start a second registration and blur the figure's sequence.)
mnemu_start_aaa mn1 alice@home.example 256 "$KEY_ALICE_AAA" "$ALICE_HOA" \
    --lifetime "$MOVE_LIFETIME" --reverse-tunnel
wait_until 15 mn_settled mn1 || true
check "alice registered through FA1 (reply code 0)" \
    expect_eq "state/code/CoA" "$(mn_status mn1 '"\(.state)/\(.last_code)/\(.coa)"')" "registered/0/$FA1_COA"
wait_until 5 vpn_kernel_has fa1 "$ALICE_HOA" || true
if [ "$MOVE_SET" = static ]; then
    check "FA1 and HA hold alice's VPN (FA1 <-> HA SAs)" kstate_has fa1 \
        "^sa esp spi 0x[0-9a-f]* src $FA1_COA dst $TB_HA_HOME\$" "^sa esp spi 0x[0-9a-f]* src $TB_HA_HOME dst $FA1_COA\$"
else
    wait_until 5 vpn_kernel_has pcn "$ALICE_HOA" || true
    check "FA1 and the PCN hold alice's VPN (FA1 <-> PCN SAs)" kstate_has pcn \
        "^sa esp spi 0x[0-9a-f]* src $FA1_COA dst $TB_PCN_BB\$" "^sa esp spi 0x[0-9a-f]* src $TB_PCN_BB dst $FA1_COA\$"
fi

# --- 2. probes both ways, 3. the move ----------------------------------------------------------
rm -f "$TB_WORK"/move-*.json
# The instrument must not be the bottleneck: mprobe recv asks for a 4 MiB receive buffer, which
# the UML guest's net.core.rmem_max (212992, global, not per namespace) cuts to ~500 probes, and
# FA1's flush arrives as one burst (hobuf.h), so alice's own socket dropped part of it.  Only
# inside the guest (never a host's setting).
if [ "${TB_IN_GUEST:-}" = uml ]; then sysctl -qw net.core.rmem_max=4194304 || true; fi
# --linger (silence after which a receiver gives up) well above any interruption.
bg_start move-rx-up "$CN_NODE" "$MPROBE" recv --port 5201 --out "$TB_WORK/move-up.json" \
    --duration $((MOVE_PROBE_S + 15)) --linger 8000
bg_start move-rx-down mn1 "$MPROBE" recv --port 5202 --bind "$ALICE_HOA" --out "$TB_WORK/move-down.json" \
    --duration $((MOVE_PROBE_S + 15)) --linger 8000
capture_start move
[ "$MOVE_SET" = static ] || capture_start move-cn2-lan pcn lan0
sleep 0.3
CN_NAME=${CN_NODE^^}
say "probes: $MOVE_RATE/s each way for $MOVE_PROBE_S s (alice -> $CN_NAME:5201, $CN_NAME -> alice:5202)"
bg_start move-tx-up mn1 "$MPROBE" send --dst "$CN_ADDR" --src "$ALICE_HOA" --port 5201 \
    --rate $MOVE_RATE --duration "$MOVE_PROBE_S"
bg_start move-tx-down "$CN_NODE" "$MPROBE" send --dst "$ALICE_HOA" --port 5202 --rate $MOVE_RATE \
    --duration "$MOVE_PROBE_S"
sleep 2
buf0=$(counter_of fa1 handoff_buffered)
t_move0=$EPOCHREALTIME
# Nothing between the two (a laptop walking from one access point to the next).
mn_detach mn1
mn_attach mn1 "$NEW"
say -a mn1 "left FA1's access link (FA1 sees its port go: layer-2 trigger) and attached to ${NEW^^}'s"
wait_until 15 mn_registered_at mn1 "$NEW_COA" || true
# The new FA's BA (its EVENT line; the scenario has one move); pcn: the PCN's BA to the HA.
if [ "$SMOOTH" = true ]; then wait_until 5 logged_since "$NEW" rx BA "$t_move0" || true; fi
if [ "$MOVE_SET" = pcn ]; then wait_until 5 logged_since ha rx BA "$t_move0" || true; fi
sleep 0.5
t_move1=$EPOCHREALTIME
st=$(mn_status mn1) || st='{}'
check "alice registered at ${NEW^^} naming FA1 (previous-FA CVSE), reply code 0" \
    expect_eq "state/code/CoA/previous FA named" \
    "$(jq -r '"\(.state)/\(.last_code)/\(.coa)/\(.last_prev_fa)"' <<<"$st")" "registered/0/$NEW_COA/$FA1_COA"
if [ "$SMOOTH" = true ]; then
    check "FA1: alice's link went, her packets held by the hand-off buffer (layer-2 trigger)" \
        expect_eq "handoff_buffered increase" "$(($(counter_of fa1 handoff_buffered) - buf0))" 1
fi

# --- state right after the move (before anything expires or re-registers) ---------------------
b=$(binding_of "$ALICE_HOA")
check "HA binding for alice has CoA ${NEW^^}" expect_eq care_of_address "$(json_field "$b" .care_of_address)" "$NEW_COA"
check "${NEW^^} visitor list has alice" expect_eq "visitor nai/state" \
    "$(json_field "$(visitor_of "$NEW" "$ALICE_HOA")" '"\(.nai)/\(.state)"')" "alice@home.example/here"
if [ "$SMOOTH" = true ]; then
    check "FA1: alice handed off to ${NEW^^} (until her lifetime ends)" \
        expect_eq "FA1 visitor state" "$(visitor_state fa1 "$ALICE_HOA")" "handed-off/$NEW_COA"
fi

# --- VPN information caches after the move ------------------------------------------------------
check "${NEW^^} cache: the FA's set (${NEW^^} -> $([ "$MOVE_SET" = static ] && echo HA || echo PCN))" \
    vpn_cache_is "$NEW" "$(fa_leg "$NEW_COA")"
check "${NEW_AAAF^^} cache: the FA's set with ${NEW^^}" vpn_cache_is "$NEW_AAAF" "$(fa_leg "$NEW_COA")"
check "HA cache: its set with ${NEW^^} (seed [0056])" vpn_cache_is ha "${HA_SET_NEW[@]}"
if [ "$MOVE_SET" = pcn ]; then
    check "PCN cache: PCN -> ${NEW^^} (the HA's BU, seeds [0059], [0081])" vpn_cache_is pcn "${HA_SET_NEW[@]}"
fi
if [ "$SMOOTH" = true ]; then
    # Seed [0059]/[0066]: the old FA takes the BU's VPN information (src FA1, dst the new FA).
    check "FA1 cache: its hand-off state only (FA1 -> ${NEW^^}, seed [0066])" vpn_cache_is fa1 "$HO_LEG"
else
    check "FA1 cache: unchanged until her lifetime there ends (no BU)" vpn_cache_is fa1 "$(fa_leg "$FA1_COA")"
fi
if [ "$INTER" = true ]; then
    # FLOWS "Inter-domain move" 2: the AAAH rewrote the FA in both cached sets.
    check "AAAH caches: both sets rewritten to FA3 (seed [0069])" vpn_cache_is aaah \
        "${HA_SET_NEW[@]}" "$(fa_leg "$NEW_COA")"
    # AAAF-A saw nothing of the move: its session at FA1 lasts until FA1's STR.
    check "AAAF-A cache: the session at FA1 (until FA1's STR)" vpn_cache_is aaafa "$(fa_leg "$FA1_COA")"
    check "FA2 cache: empty" vpn_cache_is fa2
else
    # FLOWS "Who knows where the MN is": the AAAH misses a move the AAAF answered.
    check "AAAH caches: unchanged (the AAAF answered the move)" vpn_cache_is aaah \
        "${HA_SET_FA1[@]}" "$(fa_leg "$FA1_COA")"
    for n in fa3 aaafb; do check "${n^^} cache: empty" vpn_cache_is "$n"; done
fi
[ "$MOVE_SET" = pcn ] || check "PCN cache: empty" vpn_cache_is pcn

# --- kernels after the move --------------------------------------------------------------------------
if [ "$MOVE_SET" = static ]; then
    check "HA: SAs with ${NEW^^} and the company GW, none with FA1" kstate_has ha \
        "^sa esp spi 0x[0-9a-f]* src $TB_HA_HOME dst $NEW_COA\$" "^sa esp spi 0x[0-9a-f]* src $NEW_COA dst $TB_HA_HOME\$" \
        "^sa esp spi 0x1001 src $TB_HA_HOME dst $TB_CGW_BB\$" "!^sa .*$FA1_COA"
    check "${NEW^^}: SAs with the HA" kstate_has "$NEW" \
        "^sa esp spi 0x[0-9a-f]* src $NEW_COA dst $TB_HA_HOME\$" "^sa esp spi 0x[0-9a-f]* src $TB_HA_HOME dst $NEW_COA\$"
else
    check "HA: no SA (the VPN bypasses the home network)" kstate_has ha "!^sa "
    check "${NEW^^}: SAs with the PCN" kstate_has "$NEW" \
        "^sa esp spi 0x[0-9a-f]* src $NEW_COA dst $TB_PCN_BB\$" "^sa esp spi 0x[0-9a-f]* src $TB_PCN_BB dst $NEW_COA\$"
    check "PCN: SAs with ${NEW^^}, nothing of the FA1 path (seed [0081]: the PCN moved its tunnel)" \
        kstate_has pcn "^sa esp spi 0x[0-9a-f]* src $TB_PCN_BB dst $NEW_COA\$" \
        "^sa esp spi 0x[0-9a-f]* src $NEW_COA dst $TB_PCN_BB\$" "!^(sa|sp|tunnel|mark) .*$FA1_COA"
fi
if [ "$SMOOTH" = true ]; then
    check "FA1: the hand-off tunnel to ${NEW^^}, alice's route in it, no SA to the $([ "$MOVE_SET" = static ] && echo HA || echo PCN)" \
        kstate_has fa1 "^tunnel [^ ]* remote $NEW_COA\$" "^route $ALICE_HOA dev [^ ]* table 254\$" "!^sa " "!^sp " \
        "!^route $ALICE_HOA dev acc0"
fi
KNODES="ha fa1 $NEW"
[ "$MOVE_SET" = static ] || KNODES+=" pcn"
for n in $KNODES; do
    check "${n^^} kernel = its baseline + exactly the daemon's shadow" \
        kernel_vs_shadow "$n" "$TB_WORK/base-$n.txt" "$(mipctl_json "$n" kernel)"
done

# --- 4. messages (Figs. 25, 26, 28, 29) -------------------------------------------------------------
metric move_registration_ms "$(ms_between "$(ev_ms mn1 tx RRQ "$t_move0")" "$(ev_ms mn1 rx RRP "$t_move0")")"
if [ "$SMOOTH" = true ]; then HO_TAIL=", tx BU, tx RRP, rx BA from fa1" FA1_MSGS="rx BU from $NEW, tx BA"; else
    HO_TAIL=", tx RRP" FA1_MSGS=""
fi
# The HA's BU to the PCN goes to CN2's address; the PCN's BA comes back from it (conntrack of
# the interception), FLOWS "BU/BA HA -> PCN".
if [ "$MOVE_SET" = pcn ]; then PCN_MSGS="rx BU from ha, tx BA"; else PCN_MSGS=""; fi
if [ "$INTER" = true ]; then
    # Fig. 26 / 29: AMR FA3 -> AAAF-B -> AAAH (no relay on that path), HAR, HAA, AMA with the
    # HA's reply; pcn: the HAA only after the PCN's BA (Fig. 29, as Fig. 27).
    if [ "$MOVE_SET" = pcn ]; then HA_MSGS="rx HAR from aaah, tx BU, rx BA from cn2, tx HAA"; else
        HA_MSGS="rx HAR from aaah, tx HAA"
    fi
    FIG=$([ "$MOVE_SET" = pcn ] && echo "scenario 6, Fig. 29" || echo "scenario 3, Fig. 26")
    check "every node's messages are the seeds' ($FIG: through AAAF-B and the AAAH)" \
        msgs_are "$t_move0" "$t_move1" \
        "mn1=tx RRQ, rx RRP from fa3" \
        "fa3=rx RRQ from mn1, tx AMR, rx AMA from aaah$HO_TAIL" \
        "aaafb=rx AMR from fa3, tx AMR, rx AMA from aaah, tx AMA" \
        "aaah=rx AMR from aaafb, tx HAR, rx HAA from ha, tx AMA" \
        "ha=$HA_MSGS" \
        "fa1=$FA1_MSGS" \
        "pcn=$PCN_MSGS" \
        "relay=" "aaafa=" "fa2="
else
    # Fig. 25 / 28: the AAAF answers, no AMR to the AAAH; the new FA relays the Reg Req to the
    # HA; pcn: the HA's BU to the PCN goes with the move, its reply does not wait for the BA
    # (FLOWS "What mipd does", decided there).
    if [ "$MOVE_SET" = pcn ]; then HA_MSGS="rx RRQ from fa2, tx BU, tx RRP, rx BA from cn2"; else
        HA_MSGS="rx RRQ from fa2, tx RRP"
    fi
    FIG=$([ "$MOVE_SET" = pcn ] && echo "scenario 5, Fig. 28" || echo "scenario 2, Fig. 25")
    check "every node's messages are the seeds' ($FIG: the AAAF answers, no AMR to the AAAH)" \
        msgs_are "$t_move0" "$t_move1" \
        "mn1=tx RRQ, rx RRP from fa2" \
        "fa2=rx RRQ from mn1, tx AMR, rx AMA from aaafa, tx RRQ, rx RRP from ha$HO_TAIL" \
        "aaafa=rx AMR from fa2, tx AMA" \
        "ha=$HA_MSGS" \
        "fa1=$FA1_MSGS" \
        "pcn=$PCN_MSGS" \
        "relay=" "aaah=" "fa3=" "aaafb="
fi
if [ "$MOVE_SET" = pcn ]; then
    metric ha_pcn_bu_ba_ms "$(ms_between "$(ev_ms ha tx BU "$t_move0")" "$(ev_ms ha rx BA "$t_move0")")"
fi

# --- 5. traffic --------------------------------------------------------------------------------------
wait_until $((MOVE_PROBE_S + 15)) test -s "$TB_WORK/move-down.json" || true
wait_until 5 test -s "$TB_WORK/move-up.json" || true
bg_stop move-tx-up
bg_stop move-tx-down
bg_stop move-rx-up
bg_stop move-rx-down
capture_stop move
[ "$MOVE_SET" = static ] || capture_stop move-cn2-lan
for d in up down; do
    r=$TB_WORK/move-$d.json
    metric "${d}_sent" "$(( MOVE_RATE * MOVE_PROBE_S ))"
    metric "${d}_received" "$(jq -r '.received // empty' "$r" 2>/dev/null)"
    metric "${d}_lost" "$(jq -r '.lost // empty' "$r" 2>/dev/null)"
    metric "${d}_interruption_ms" "$(jq -r '.max_gap_ms // empty' "$r" 2>/dev/null)"
done
metric fa1_handoff_buffered "$(counter_of fa1 handoff_buffered)"
metric fa1_handoff_flushed "$(counter_of fa1 handoff_flushed)"
if [ "$SMOOTH" = true ]; then
    check "smooth hand-off: 0 packets lost $CN_NAME -> alice through the move" \
        expect_eq "lost (of $(jq -r '.received + .lost' "$TB_WORK/move-down.json" 2>/dev/null))" \
        "$(jq -r '.lost // empty' "$TB_WORK/move-down.json" 2>/dev/null)" 0
fi
check "probe receivers reported (both directions)" \
    expect_eq "reports" "$(test -s "$TB_WORK/move-up.json" && echo up)/$(test -s "$TB_WORK/move-down.json" && echo down)" "up/down"

# --- 7. tshark decodes the BU/BA between the FAs (pcn: and the HA's to the PCN) -------------------
# No UDP checksum validation: captured on veth, the senders' checksums are left to an offload
# that never happens (tshark would flag every frame; tests/scripts checks them).
TS=(tshark -n -X "lua_script:$LUA" -o ip.check_checksum:TRUE -r "$TB_WORK/move.pcap")
tshark_fields() { # FILTER FIELD...
    local f=$1; shift
    local a=(); for x in "$@"; do a+=(-e "$x"); done
    "${TS[@]}" -Y "$f" -T fields -E occurrence=a -E aggregator=, "${a[@]}" 2>/dev/null | head -n1
}
tshark_clean() { # FILTER: no Malformed / expert warning or error in those frames (and some exist)
    local bad n
    bad=$("${TS[@]}" -Y "($1) && (_ws.malformed || _ws.expert.severity >= warning)" \
        -T fields -e frame.number 2>/dev/null | paste -sd' ' -)
    n=$("${TS[@]}" -Y "$1" 2>/dev/null | wc -l)
    expect_eq "bad frames (of $n)" "${bad:-none}$([ "$n" -gt 0 ] || echo ', no frame')" none
}
if [ "$SMOOTH" = true ]; then
    bu_flt="ip.src == $NEW_COA && ip.dst == $FA1_COA && udp.dstport == 434"
    ba_flt="ip.src == $FA1_COA && ip.dst == $NEW_COA && udp.srcport == 434"
    got_bu=$(tshark_fields "$bu_flt" mip4vpn.subtype mip4vpn.bu.hoa mip4vpn.bu.coa mip4vpn.cvse.vendor \
        mip4vpn.cvse.type mip4vpn.auth.spi)
    check "tshark (mip4vpn.lua): the hand-off BU ${NEW^^} -> FA1 (subtype 18, HoA, CoA ${NEW^^}, VPN-INFO + RO-auth CVSE, SPI $(printf '0x%x' $HO_SPI))" \
        expect_eq "subtype hoa coa vendors types spi" "$(tr '\t' ' ' <<<"$got_bu")" \
        "18 $ALICE_HOA $NEW_COA $TB_VENDOR_ID,$TB_VENDOR_ID 2,1 $HO_SPI"
    got_ba=$(tshark_fields "$ba_flt && mip4vpn.ba.status == 0" mip4vpn.subtype mip4vpn.ba.status mip4vpn.ba.hoa mip4vpn.auth.spi)
    check "tshark (mip4vpn.lua): the BA FA1 -> ${NEW^^} (subtype 19, status 0, HoA, RO-auth SPI $(printf '0x%x' $HO_SPI))" \
        expect_eq "subtype status hoa spi" "$(tr '\t' ' ' <<<"$got_ba")" "19 0 $ALICE_HOA $HO_SPI"
    check "tshark: no Malformed / expert warning or error in the hand-off BU/BA frames" \
        tshark_clean "$bu_flt || $ba_flt"
fi
if [ "$MOVE_SET" = pcn ]; then
    # DESIGN §7: the BU goes to the correspondent's address (the profile names a host); the
    # PCN answers from it (conntrack of its REDIRECT).
    pbu_flt="ip.src == $TB_HA_HOME && ip.dst == $TB_CN2 && udp.dstport == 434 && mip4vpn.subtype == 18"
    pba_flt="ip.src == $TB_CN2 && ip.dst == $TB_HA_HOME && udp.srcport == 434 && mip4vpn.subtype == 19"
    got_bu=$(tshark_fields "$pbu_flt && mip4vpn.bu.coa == $NEW_COA" mip4vpn.subtype mip4vpn.bu.hoa \
        mip4vpn.bu.coa mip4vpn.cvse.vendor mip4vpn.cvse.type mip4vpn.auth.spi)
    check "tshark (mip4vpn.lua): the HA's BU to CN2 (subtype 18, HoA, CoA ${NEW^^}, VPN-INFO + RO-auth CVSE, SPI $TB_HA_PCN_SPI)" \
        expect_eq "subtype hoa coa vendors types spi" "$(tr '\t' ' ' <<<"$got_bu")" \
        "18 $ALICE_HOA $NEW_COA $TB_VENDOR_ID,$TB_VENDOR_ID 2,1 $TB_HA_PCN_SPI"
    got_ba=$(tshark_fields "$pba_flt && mip4vpn.ba.status == 0" mip4vpn.subtype mip4vpn.ba.status \
        mip4vpn.ba.hoa mip4vpn.auth.spi)
    check "tshark (mip4vpn.lua): the PCN's BA from CN2's address (subtype 19, status 0, HoA, SPI $TB_HA_PCN_SPI)" \
        expect_eq "subtype status hoa spi" "$(tr '\t' ' ' <<<"$got_ba")" "19 0 $ALICE_HOA $TB_HA_PCN_SPI"
    check "tshark: no Malformed / expert warning or error in the HA <-> PCN BU/BA frames" \
        tshark_clean "$pbu_flt || $pba_flt"
    check "the PCN intercepted the BU: no Mobile IP message reached CN2's LAN" \
        expect_eq "UDP 434 frames on the PCN's LAN" "$(pcap_count "$TB_WORK/move-cn2-lan.pcap" "udp.port == 434")" 0
fi

# --- 6. negative: a wrong authenticator and a replay, to FA1 ------------------------------------
# A BU FA1 would accept: the one the new FA sent (captured), else one made with the pair's key.
bu_hex=''
if [ "$SMOOTH" = true ]; then
    bu_hex=$(tshark -n -r "$TB_WORK/move.pcap" -Y "ip.src == $NEW_COA && ip.dst == $FA1_COA && udp.dstport == 434" \
        -T fields -e udp.payload 2>/dev/null | head -n1 | tr -d ':\n')
fi
if [ -z "$bu_hex" ]; then
    bu_hex=$("$MIPMSG" bu --hoa "$ALICE_HOA" --coa "$NEW_COA" --id "$(ntp_id)" --lifetime 10 --flags 0 \
        --ro-spi "$HO_SPI" --ro-key "$(cat "$TB_WORK/key-fa1-$NEW")" --vendor "$TB_VENDOR_ID")
    send_udp "$NEW" "$FA1_COA" 434 "$bu_hex" # accepted as authentic (then refused: no VPN-INFO)
    sleep 0.3
fi
# The visitor without its countdown (lifetime_left ticks while the BUs go).
visitor_fixed() { visitor_of "$1" "$2" | jq -c 'del(.lifetime_left)'; }
k0=$(kstate fa1); v0=$(visitor_fixed fa1 "$ALICE_HOA"); c0=$(vpn_cache_lines fa1)
auth0=$(counter_of fa1 bu_auth_failed); rep0=$(counter_of fa1 bu_replayed); acc0=$(counter_of fa1 bu_accepted)
# The last octet of the RO authenticator flipped (it ends the message).
last=${bu_hex: -2}
bad_hex=${bu_hex:0:${#bu_hex}-2}$(printf '%02x' $(((0x$last) ^ 0xff)))
send_udp "$NEW" "$FA1_COA" 434 "$bad_hex"
wait_until 3 test "$(counter_of fa1 bu_auth_failed)" -gt "$auth0" || true
check "FA1 refuses a hand-off BU with a wrong authenticator, counted (bu_auth_failed)" \
    expect_eq "bu_auth_failed increase" "$(($(counter_of fa1 bu_auth_failed) - auth0))" 1
send_udp "$NEW" "$FA1_COA" 434 "$bu_hex"
wait_until 3 test "$(counter_of fa1 bu_replayed)" -gt "$rep0" || true
check "FA1 refuses a replayed hand-off BU, counted (bu_replayed)" \
    expect_eq "bu_replayed increase" "$(($(counter_of fa1 bu_replayed) - rep0))" 1
check "FA1 state unchanged by the refused BUs (kernel, visitor, cache, nothing accepted)" \
    expect_eq "kernel/visitor/cache/accepted unchanged" \
    "$([ "$(kstate fa1)" = "$k0" ] && echo y)/$([ "$(visitor_fixed fa1 "$ALICE_HOA")" = "$v0" ] && echo y)/$([ "$(vpn_cache_lines fa1)" = "$c0" ] && echo y)/$(($(counter_of fa1 bu_accepted) - acc0))" "y/y/y/0"

# --- the end of the old FA's state ---------------------------------------------------------------------
say "waiting for FA1's state for alice to end (her lifetime there, $MOVE_LIFETIME s from the first registration)"
wait_until $((MOVE_LIFETIME + 10)) fa_has_no_visitor fa1 "$ALICE_HOA" || true
wait_until 5 kernel_clean fa1 "$TB_WORK/base-fa1.txt" || true
check "FA1 after the hand-off lifetime: no visitor" expect_empty "visitor" "$(visitor_of fa1 "$ALICE_HOA")"
check "FA1 kernel after the hand-off lifetime: back to its baseline" kernel_clean fa1 "$TB_WORK/base-fa1.txt"
check "FA1 shadow after the hand-off lifetime: empty" expect_empty "objects" "$(mipctl_json fa1 kernel | kshadow)"
check "FA1 cache after the hand-off lifetime: empty" vpn_cache_is fa1
check "FA1 hand-off buffer: holds nothing" expect_eq "MNs held" \
    "$(mipctl_json fa1 handoff | jq -r '[.items[] | select(.hoa != "total")] | length')" 0
check "alice still registered at ${NEW^^}" expect_eq "state/CoA" "$(mn_status mn1 '"\(.state)/\(.coa)"')" "registered/$NEW_COA"
if [ "$INTER" = true ]; then
    # FLOWS "Inter-domain move" 6: FA1's STR (USER_MOVED) went through AAAF-A, which forgot the
    # session; the AAAH answered 5002 and kept the session at FA3.
    wait_until 10 vpn_cache_empty aaafa || true
    check "AAAF-A cache after FA1's STR: empty" vpn_cache_is aaafa
    check "AAAH after FA1's STR: still alice's session at FA3" expect_eq "sessions / caches" \
        "$(aaah_sessions) / $(vpn_cache_lines aaah | paste -sd';' -)" \
        "1 / $(printf '%s\n' "${HA_SET_NEW[@]}" "$(fa_leg "$NEW_COA")" | sort | paste -sd';' -)"
fi
if [ "$MOVE_SET" = pcn ]; then
    check "PCN after FA1's end: still PCN -> ${NEW^^} only" vpn_cache_is pcn "${HA_SET_NEW[@]}"
    check "PCN kernel: nothing of the FA1 path" kstate_has pcn "!^(sa|sp|tunnel|mark) .*$FA1_COA" \
        "^sa esp spi 0x[0-9a-f]* src $TB_PCN_BB dst $NEW_COA\$"
    check "PCN kernel = its baseline + exactly the daemon's shadow" \
        kernel_vs_shadow pcn "$TB_WORK/base-pcn.txt" "$(mipctl_json pcn kernel)"
fi
metric fa1_expirations "$(counter_of fa1 expirations)"
metric fa1_handoff_ended "$(counter_of fa1 handoff_ended)"
bg_stop mnemu-mn1
