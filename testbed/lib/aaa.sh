#!/usr/bin/env bash
# The AAA world's Diameter plumbing (aaad/FLOWS.md).  Source it after lib/topo.sh (and, for the
# daemon helpers, from testbed/run, which defines bg_start/bg_stop/wait_until/say).
#
#   aaa_pki DIR                      CA + one certificate per Diameter identity (lib/pki.sh)
#   fd_conf NODE FILE                the freeDiameter configuration of NODE: identity, realm,
#                                    TLS credentials, TLS-only listener on its backbone address,
#                                    ConnectPeer for each FLOWS.md peer, extensions
#   relay_start / relay_stop         the stock freeDiameterd relay (tb-relay), its log stamped
#   aaad_start NAME NODE ROLE CONF   aaad, waits for its control socket; aaad_stop NAME
#   aaad_ctl NAME CMD...             mipctl --json CMD against aaad's control socket
#   aaad_home_conf / aaad_foreign_conf / mipd_aaa_ha_conf / mipd_aaa_fa_conf / mipd_pcn_conf
#                                    configuration writers (timers: see "Timers" below)
#   vpn_provision DB SET...          the VPN database of the scenarios (vpnadm)
#   mnemu_start_aaa MN NAI SPI KEY HOA  an MN emulator in AAA mode (MN-AAA key; HOA 0.0.0.0: pool)
#   aaa_world_up SET...              keys, PKI, VPN database (vpn_provision SETs), configs; starts
#                                    AAAH, relay, AAAF-A/B, HA, FA1-3, PCN; waits for every link
#   diam_links_tls NODE              NODE's Diameter connections: TLS on 5868 to exactly its peers
#   tb_events / tb_node_events       every daemon's EVENT lines + the relay's + the MNs', by time
#   msgs_are T0 T1 NODE=MSGS...      each node's messages in its own order are the seeds'
#   vpn_cache_is NODE [LINE...]      the node's VPN information cache is exactly these profiles
#   capture_start / pcap_diameter_tls  backbone capture; Diameter only inside TLS
#   cgw_sla DB NAI NUM HOA           the company gateway's static SAs/policies/firewall (SLA)
#   vpn_traffic / probe_delivered    probes both ways, backbone capture, TOS as delivered
#   esp_only / sa_bytes / sa_rose    ESP only between the right pairs; SA byte counters
#   first_probe_start / first_probe_ms  Reg Req -> first probe through the VPN
#   vpn_kernel_of / kstate_has / ping_answers  per-MN kernel objects, kernel lines, reachability
#
# Peering (FLOWS.md): FA1, FA2 <-> AAAF-A <-> relay <-> AAAH <-> HA; FA3 <-> AAAF-B <-> AAAH.
# Every link is declared on both ends: freeDiameter accepts an incoming connection only from
# a peer it has a ConnectPeer entry for (or one an ACL extension admits), and the election of
# RFC 6733 §5.6.4 settles the double connection.  Only TLS: Port = 0 closes the clear-text
# listener, and ConnectPeer without No_TLS connects to the peer's SecPort with TLS at once
# (RFC 6733 §2.1 "TLS/TCP"), so no Diameter message ever crosses the backbone in clear.

# shellcheck source=pki.sh
source "$(dirname "${BASH_SOURCE[0]}")/pki.sh"

TB_DIAM_PORT=5868
TB_VENDOR_ID=${TB_VENDOR_ID:-32473}
FREEDIAMETERD=${FREEDIAMETERD:-$(command -v freeDiameterd || echo /usr/bin/freeDiameterd)}
if [ -z "${FD_EXT_DIR:-}" ]; then
    for _d in /usr/lib/x86_64-linux-gnu/freeDiameter /usr/lib/freeDiameter /usr/local/lib/freeDiameter; do
        if [ -f "$_d/rt_default.fdx" ]; then FD_EXT_DIR=$_d; break; fi
    done
    unset _d
fi

declare -A TB_DIAM_PEERS=([fa1]="aaafa" [fa2]="aaafa" [fa3]="aaafb"
    [aaafa]="fa1 fa2 relay" [aaafb]="fa3 aaah" [relay]="aaafa aaah"
    [aaah]="relay aaafb ha" [ha]="aaah")
# rt_default rules (freeDiameter's rt_default.conf syntax "CRITERIA : TARGET += SCORE ;").
# freeDiameter's own routing only scores a peer that is the Destination-Host (FINALDEST) or
# is in the Destination-Realm (REALM); every other peer stays at FD_SCORE_INI (-2) and is never
# used (libfdcore/routing_dispatch.c), so a request for home.example leaves an FA or AAAF-A
# only with a rule: the FAs send everything to their AAAF, AAAF-A sends the home realm to the
# transit relay.  The relay, AAAF-B and the AAAH are peers of the home realm (REALM) and the
# HAR names its HA (FINALDEST): no rule there.
declare -A TB_DIAM_ROUTES=(
    [fa1]='* : "aaaf.visit-a.example" += DEFAULT ;'
    [fa2]='* : "aaaf.visit-a.example" += DEFAULT ;'
    [fa3]='* : "aaaf.visit-b.example" += DEFAULT ;'
    [aaafa]='dr="home.example" : "relay.transit.example" += 100 ;')

diam_addr() { bb_addr "$1"; }

aaa_pki() { # DIR
    local dir=$1 n
    pki_init "$dir" || return 1
    for n in "${!TB_DIAM_ID[@]}"; do pki_cert "$dir" "${TB_DIAM_ID[$n]}" || return 1; done
}

# fd_conf NODE FILE: TB_PKI must name the aaa_pki directory; TB_VENDOR_ID the vendor (relay).
fd_conf() {
    local node=$1 file=$2 id realm addr p pid
    id=$(diam_id "$node")
    realm=$(diam_realm "$node")
    addr=$(diam_addr "$node")
    if [ -z "$id" ] || [ -z "$addr" ]; then
        echo "fd_conf: $node has no Diameter identity or backbone address" >&2
        return 1
    fi
    {
        echo "# freeDiameter configuration of $node, written by testbed/lib/aaa.sh"
        echo "Identity = \"$id\";"
        echo "Realm = \"$realm\";"
        echo "Port = 0;                       # no clear-text listener"
        echo "SecPort = $TB_DIAM_PORT;"
        echo "No_SCTP;"
        echo "No_IPv6;"
        echo "ListenOn = \"$addr\";"
        echo "TcTimer = 5;                    # reconnect quickly after a peer restarts"
        echo "TLS_Cred = \"$TB_PKI/$id.pem\", \"$TB_PKI/$id.key\";"
        echo "TLS_CA = \"$TB_PKI/ca.pem\";"
        echo "TLS_DH_File = \"$TB_PKI/dh.pem\";"
        case "$node" in
        relay)
            # The stock relay knows our AVPs (readable dumps; DESIGN §4) and logs every message
            # it receives and sends, one line each (dbg_msg_dumps: compact send/receive,
            # errors and peer events), for the scenarios' message-sequence checks.
            echo "LoadExtension = \"$TB_FDX\" : \"vendor_id=$TB_VENDOR_ID\";"
            echo "LoadExtension = \"$FD_EXT_DIR/dbg_msg_dumps.fdx\" : \"0x2222\";"  # compact: no AVPs
            ;;
        esac
        if [ -n "${TB_DIAM_ROUTES[$node]:-}" ]; then
            printf '%s\n' "${TB_DIAM_ROUTES[$node]}" >"${file%.conf}.rt_default.conf"
            echo "LoadExtension = \"$FD_EXT_DIR/rt_default.fdx\" : \"${file%.conf}.rt_default.conf\";"
        fi
        for p in ${TB_DIAM_PEERS[$node]}; do
            pid=$(diam_id "$p")
            echo "ConnectPeer = \"$pid\" { ConnectTo = \"$(diam_addr "$p")\"; port = $TB_DIAM_PORT;" \
                "realm = \"$(diam_realm "$p")\"; };"
        done
    } >"$file"
}

# --- the stock relay --------------------------------------------------------------------
# freeDiameter stamps its log lines to the second; tbstamp (testbed/tools) prefixes each line
# with the epoch time it was read, so the relay's messages merge with the EVENT lines.
relay_start() {
    local conf=$TB_WORK/fd-relay.conf
    fd_conf relay "$conf"
    # shellcheck disable=SC2016 # expanded by the inner bash
    bg_start relay relay bash -c 'exec > >("$2") 2>&1; exec "$0" -c "$1"' \
        "$FREEDIAMETERD" "$conf" "$TBSTAMP"
    if ! wait_until 10 grep -q "freeDiameterd daemon initialized" "$TB_WORK/relay.log"; then
        echo "testbed: the relay did not come up; log:" >&2
        tail -n 20 "$TB_WORK/relay.log" >&2
        return 1
    fi
    say -a relay "stock freeDiameterd relay up (pid ${TB_PIDS[relay]})"
}
relay_stop() { bg_stop relay TERM; }

# --- aaad -------------------------------------------------------------------------------
aaad_sock() { echo "$TB_RUN/aaad-$1.sock"; }
aaad_start() { # NAME NODE ROLE CONF
    local name=$1 node=$2 role=$3 conf=$4
    bg_start "aaad-$name" "$node" "$AAAD" --role "$role" -c "$conf"
    if ! wait_until 10 "$MIPCTL" -s "$(aaad_sock "$name")" status; then
        echo "testbed: aaad $name did not come up; log:" >&2
        tail -n 20 "$TB_WORK/aaad-$name.log" >&2
        return 1
    fi
    say -a "$name" "aaad --role $role up (pid ${TB_PIDS[aaad-$name]})"
}
aaad_stop() { bg_stop "aaad-$1" TERM; }
aaad_ctl() { # NAME CMD...
    local name=$1; shift
    "$MIPCTL" -s "$(aaad_sock "$name")" --json "$@"
}

# --- configurations -------------------------------------------------------------------------
aaad_home_conf() { # FILE DB
    cat >"$1" <<EOF
# aaad, home role — written by testbed/lib/aaa.sh
role = "home";
vendor_id = $TB_VENDOR_ID;
control_socket = "$(aaad_sock aaah)";
log_level = "debug";
diameter_conf = "$TB_WORK/fd-aaah.conf";
home: {
  database = "$2";
  max_lifetime = 600;
  har_timeout_ms = ${TB_HAR_TIMEOUT_MS:-4000};  # > the HA's BU budget (2.8 s)
  home_agents = ( { address = "$TB_HA_HOME"; host = "$(diam_id ha)"; } );
};
EOF
    fd_conf aaah "$TB_WORK/fd-aaah.conf"
}

aaad_foreign_conf() { # NODE FILE
    cat >"$2" <<EOF
# aaad, foreign role ($1) — written by testbed/lib/aaa.sh
role = "foreign";
vendor_id = $TB_VENDOR_ID;
control_socket = "$(aaad_sock "$1")";
log_level = "debug";
diameter_conf = "$TB_WORK/fd-$1.conf";
foreign: {
  amr_timeout_ms = ${TB_AMR_TIMEOUT_MS:-5000};
};
EOF
    fd_conf "$1" "$TB_WORK/fd-$1.conf"
}

# Timers, so that every failure reaches the MN as a reply (FLOWS.md "never silence"): each
# waiter gives up before the one that waits for it.  The MN emulator sends at 0, 1 and 3 s and
# gives up at 7 s (it accepts a reply to any of the three); the FA waits 5.5 s for its AMA
# (then 78); the AAAH waits 4 s for the HAA (then AMA 4006 -> 81); the HA's BUs take 2.8 s
# (then HAA 4005 with reply 130).  With FLOWS.md's 1 s first BU timeout the HA would decide
# at 7 s, after the MN had given up.
#
# mipd_aaa_ha_conf FILE [PCN_SPI PCN_KEY PCNB_SPI PCNB_KEY]: the HA in AAA mode; with PCN
# pairwise keys it also knows the partner ISPs' PCNs (DESIGN §6: BUs authenticated with the
# HA-PCN key of each).
mipd_aaa_ha_conf() {
    local file=$1 spi=${2:-} key=${3:-} spib=${4:-} keyb=${5:-} peers=''
    [ -z "$spi" ] || peers="  pcn_peers = ( { address = \"$TB_PCN_BB\"; spi = $spi; key = \"$key\"; }${spib:+, { address = \"$TB_PCNB_BB\"; spi = $spib; key = \"$keyb\"; \}} );"
    cat >"$file" <<EOF
# mipd, home agent in AAA mode — written by testbed/lib/aaa.sh
vendor_id = $TB_VENDOR_ID;
control_socket = "$(mipd_sock ha)";
log_level = "debug";
ha: {
  address = "$TB_HA_HOME";
  home_link = "home0";
  max_lifetime = 600;
  replay_window = 7;
  reverse_tunnel = true;
  bu_timeout_ms = ${TB_BU_TIMEOUT_MS:-400};   # BU tries after 0.4, 0.8, 1.6 s: 2.8 s (see above)
  bu_retries = 3;
  aaa = { diameter_conf = "$TB_WORK/fd-ha.conf"; };
$peers
};
EOF
    fd_conf ha "$TB_WORK/fd-ha.conf"
}

# FA <-> FA pairwise keys (hand-off BUs, DESIGN §6): one per pair, SPI 0x300 + pair index.
# The FAs' hand-off BUs wait TB_FA_BU_TIMEOUT_MS (FLOWS' 1 s) for the BA: the old FA answers
# once its buffer is flushed, ~0.7 s for ~2,000 packets in UML (the HA's 400 ms is for the PCN
# budget above).  TB_SMOOTH_HANDOFF=false turns smooth hand-off off (the move scenarios'
# comparison runs);
# TB_HOBUF_HOLD_MS (and TB_HOBUF_PKTS, TB_HOBUF_BYTES) set the FAs' hand-off buffer
# (fa.handoff_buffer; unset: mipd's defaults).
_tb_fa_peers() { # FA -> the fa_peers list of its configuration
    local fa=$1 other k i=0 out=''
    for other in fa1 fa2 fa3; do
        [ "$other" = "$fa" ] && continue
        k=$(cat "$TB_WORK/key-$(printf '%s\n' "$fa" "$other" | sort | paste -sd- -)")
        i=$(printf '%s\n' "$fa" "$other" | sort | paste -sd- - | sed 's/fa1-fa2/1/; s/fa1-fa3/2/; s/fa2-fa3/3/')
        out+="${out:+, }{ address = \"${TB_FA_BB[$other]}\"; spi = $((0x300 + i)); key = \"$k\"; }"
    done
    echo "( $out )"
}
mipd_aaa_fa_conf() { # FA FILE
    local fa=$1
    cat >"$2" <<EOF
# mipd, foreign agent in AAA mode ($fa) — written by testbed/lib/aaa.sh
vendor_id = $TB_VENDOR_ID;
control_socket = "$(mipd_sock "$fa")";
log_level = "debug";
fa: {
  address = "${TB_FA_BB[$fa]}";
  access_links = ( { interface = "acc0"; } );
  adv_interval_ms = 1000;
  adv_lifetime = 9;
  max_lifetime = 600;
  reg_timeout_ms = ${TB_FA_REG_TIMEOUT_MS:-8000};
  reverse_tunnel = true;
  challenge = true;
  aaa = { diameter_conf = "$TB_WORK/fd-$fa.conf"; timeout_ms = ${TB_FA_AAA_TIMEOUT_MS:-5500}; };
  smooth_handoff = ${TB_SMOOTH_HANDOFF:-true};
$([ -z "${TB_HOBUF_HOLD_MS:-}" ] || echo "  handoff_buffer = { packets = ${TB_HOBUF_PKTS:-1000}; bytes = ${TB_HOBUF_BYTES:-8388608}; hold_ms = $TB_HOBUF_HOLD_MS; total_bytes = 16777216; };")
  bu_timeout_ms = ${TB_FA_BU_TIMEOUT_MS:-${TB_BU_TIMEOUT_MS:-1000}};
  fa_peers = $(_tb_fa_peers "$fa");
};
EOF
    fd_conf "$fa" "$TB_WORK/fd-$fa.conf"
}

# mipd_pcn_conf FILE SPI KEY [NODE]: the PCN of a partner ISP: pcn (default) serves CN2's LAN,
# pcnb (partner ISP B) CN3's.  It knows the HA by its HA address (FLOWS.md); TB_PCN_HA_PEER
# overrides that address (experiments).  TB_PCN_REFRESH_S: seconds of lifetime left at which
# it sends Binding Requests (scenario 8).
mipd_pcn_conf() {
    local node=${4:-pcn} addr=$TB_PCN_BB net=$TB_CN2_NET
    [ "$node" = pcn ] || { addr=$TB_PCNB_BB; net=$TB_CN3_NET; }
    cat >"$1" <<EOF
# mipd, proxy correspondent node ($node) — written by testbed/lib/aaa.sh
vendor_id = $TB_VENDOR_ID;
control_socket = "$(mipd_sock "$node")";
log_level = "debug";
pcn: {
  address = "$addr";
  serves = ( "$net" );
  replay_window = 7;
  refresh_threshold_s = ${TB_PCN_REFRESH_S:-10};
  br_timeout_ms = ${TB_BR_TIMEOUT_MS:-1000};
  ha_peers = ( { address = "${TB_PCN_HA_PEER:-$TB_HA_HOME}"; spi = $2; key = "$3"; } );
};
EOF
}

# --- the VPN database (aaad/README.md, vpnadm) ------------------------------------------
# vpn_provision DB SET...: users alice (static home address, MN-AAA SPI 256, key
# $KEY_ALICE_AAA) and bob (home address from the pool "visitors", SPI 257, $KEY_BOB_AAA,
# no VPN profile: he is not on the company's list); the CN-GW table (company LAN behind the
# static gateway, partner LAN behind the PCN); then alice's profiles for each SET:
#   static  profile 1: CN1's LAN 172.16.50.0/24 through the company's static GW (scenario 1)
#   pcn     profile 2: CN2 172.16.60.10/32 behind the PCN (scenario 4); CN3's LAN is behind
#           partner ISP B's PCN (pcnb): the service-update scenario moves the profile there
vpn_provision() {
    local db=$1 set
    shift
    local -a v=("$VPNADM" -d "$db")
    {
        "${v[@]}" pool add visitors "$TB_POOL_NET" &&
            "${v[@]}" user add alice@home.example --spi 256 --key "$KEY_ALICE_AAA" \
                --ha "$TB_HA_HOME" --hoa "${TB_MN_HOA[mn1]}" &&
            "${v[@]}" user add bob@home.example --spi 257 --key "$KEY_BOB_AAA" \
                --ha "$TB_HA_HOME" --pool visitors &&
            "${v[@]}" cngw add "$TB_CN1_NET" "$TB_CGW_BB" static &&
            "${v[@]}" cngw add "$TB_CN2_NET" "$TB_PCN_BB" dynamic &&
            "${v[@]}" cngw add "$TB_CN3_NET" "$TB_PCNB_BB" dynamic
    } >/dev/null || return 1
    for set in "$@"; do
        case "$set" in
        static)
            "${v[@]}" profile add alice@home.example --num 1 --dst "$TB_CN1_NET" \
                --dscp-up EF --dscp-down AF41 --sec esp --spi-up 0x1001 --spi-down 0x2001 \
                --gen-keys >/dev/null || return 1 ;;
        pcn)
            "${v[@]}" profile add alice@home.example --num 2 --dst "$TB_CN2/32" \
                --dscp-up AF41 --dscp-down AF41 --sec esp --enc aes-gcm-128 \
                --spi-up 0x1002 --spi-down 0x2002 --no-keys >/dev/null || return 1 ;;
        *) echo "vpn_provision: unknown set $set" >&2; return 1 ;;
        esac
    done
}
TB_POOL_NET=10.10.0.128/28

# --- checks -------------------------------------------------------------------------------
# diam_links_tls NODE: NODE has an established connection to TCP port 5868 (the TLS-only
# listener; nothing listens in clear) with exactly its FLOWS.md peers, and none to 3868.
diam_links_tls() {
    local node=$1 est want got p clear
    est=$(tb_exec "$node" ss -Htn state established 2>/dev/null | awk '{print $3" "$4}')
    clear=$(awk '$1 ~ /:3868$/ || $2 ~ /:3868$/' <<<"$est")
    got=$(awk -v p=":$TB_DIAM_PORT" '
        { l = $1; r = $2
          if (substr(r, length(r) - length(p) + 1) == p) { sub(/:[0-9]+$/, "", r); print r }
          else if (substr(l, length(l) - length(p) + 1) == p) { sub(/:[0-9]+$/, "", r); print r } }' \
        <<<"$est" | sort -u | paste -sd' ' -)
    want=$(for p in ${TB_DIAM_PEERS[$node]}; do diam_addr "$p"; done | sort -u | paste -sd' ' -)
    echo "$node: TLS (port $TB_DIAM_PORT) to ${got:-nobody}${clear:+; clear-text Diameter: $clear}"
    if [ -n "$clear" ] || [ "$got" != "$want" ]; then
        echo "expected TLS links to: $want"
        return 1
    fi
}

# --- events ---------------------------------------------------------------------------------
# The relay's dbg_msg_dumps lines ("<epoch> HH:MM:SS NOTI RCV from 'peer': <summary>") become
# EVENT lines like the daemons' own.
_relay_events() {
    local f=$TB_WORK/relay.log
    [ -f "$f" ] || return 0
    # dbg_msg_dumps compact form: "... RCV from 'PEER': 'NAME'APP/CMD f:RPET src:'ORIGIN' len:N"
    # (the name is "(no model)" for a message not parsed yet).  No AVP is logged: the relay's
    # log never holds key material.
    awk -v id="$(diam_id relay)" '
        / (RCV from|SND to) '\''/ && match($0, /[0-9]+\/[0-9]+ f:[RPET-]+/) {
            dir = ($0 ~ / RCV from /) ? "rx" : "tx"
            peer = $0; sub(/^[^'\'']*'\''/, "", peer); sub(/'\''.*/, "", peer)
            split(substr($0, RSTART, RLENGTH), a, /[\/ ]/)
            app = a[1]; cmd = a[2]; fl = substr(a[3], 3)
            req = (substr(fl, 1, 1) == "R")
            msg = ""
            if (app == 2 && cmd == 260) msg = req ? "AMR" : "AMA"
            else if (app == 2 && cmd == 262) msg = req ? "HAR" : "HAA"
            else if (cmd == 275) msg = req ? "STR" : "STA"
            if (msg == "") next
            err = (substr(fl, 3, 1) == "E") ? " error=1" : ""
            printf "EVENT %.0f %s %s %s peer=%s session=-%s\n", $1 * 1000, id, dir, msg, peer, err
        }' "$f"
}

# tb_events [--node]: every EVENT line of every daemon log + the relay + the MNs' Mobile IP
# events (rrq_sent/rrp as RRQ/RRP of node "mnX"), sorted by time.  With --node the identity
# field is the testbed node whose log the line is from (mipd-pcn.log -> "pcn"), whatever
# identity the daemon printed.
tb_events() {
    local f node
    {
        for f in "$TB_WORK"/mipd-*.log "$TB_WORK"/aaad-*.log; do
            [ -f "$f" ] || continue
            node=${f##*/}
            node=${node#*-}
            node=${node%.log}
            if [ "${1:-}" = --node ]; then
                grep -ao 'EVENT [0-9]\{10,\} .*' "$f" | awk -v n="$node" '{ $3 = n; print }' || true
            else
                grep -ao 'EVENT [0-9]\{10,\} .*' "$f" || true
            fi
        done
        _relay_events
        for f in "$TB_WORK"/events-*.jsonl; do
            [ -f "$f" ] || continue
            jq -r 'select(.event == "rrq_sent" or .event == "rrp")
                | "EVENT \(.t * 1000 | floor) \(.mn) \(if .event == "rrp" then "rx RRP" else "tx RRQ" end)"
                  + " peer=\(.fa // .from // "-") session=\(.nai // "-")"
                  + (if .code != null then " code=\(.code)" else "" end)' "$f" 2>/dev/null || true
        done
    } | sort -s -n -k2,2
}

# tb_node_events: tb_events --node with the peer (peer=...) replaced by the testbed node name
# where one is known: Diameter identities, backbone, access-link and
# home-link addresses, the MNs' home addresses and the correspondents' addresses map to their
# node ("ha", "aaah", "relay", "fa1", "pcn", "mn1", "cn2", ...); anything else (a realm, a pool
# address) stays as it is.
tb_node_events() {
    local map='' n f
    for n in "${!TB_DIAM_ID[@]}"; do map+="${TB_DIAM_ID[$n]}=$n "; done
    for f in "$TB_STATE"/bb/*; do
        [ -f "$f" ] || continue
        map+="$(cut -d' ' -f1 "$f")=${f##*/} ${f##*/}=${f##*/} "
    done
    for n in "${!TB_FA_ACC[@]}"; do map+="${TB_FA_ACC[$n]}=$n "; done
    for n in "${!TB_MN_HOA[@]}"; do map+="${TB_MN_HOA[$n]}=$n $n=$n "; done
    map+="$TB_HA_HOME=ha $TB_CN1=cn1 $TB_CN2=cn2 $TB_CN3=cn3 $TB_CGW_LAN=cgw $TB_PCN_LAN=pcn"
    map+=" $TB_PCNB_LAN=pcnb"
    tb_events --node | awk -v map="$map" '
        BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); node[kv[1]] = kv[2] } }
        $1 == "EVENT" {
            if ($3 in node) $3 = node[$3]
            p = $6; sub(/^peer=/, "", p)
            if (p in node) $6 = "peer=" node[p]
            print
        }'
}

# node_msgs T0 T1 NODE [retx]: the messages NODE logged between epoch seconds T0 and T1, in
# its own order (one process, one clock: reliable, unlike an order across nodes, where a sender
# logs "tx" after the receiver may already have logged "rx"), as "rx AMR from fa1, tx AMR, ...".
# A received message names the node it came from (for an AMA at the FA: its Origin-Host).
# A registration request sent or received again before any reply is a retransmission (the MN
# emulator repeats after 1 s; the FA drops the copy while the AAA works, RFC 5944 §3.6.3): it
# is left out; so is a BU sent again before its BA (bu.c's back-off), the extra BA that answers
# it (bu.c logs it with session "-"), and at the receiver a BU that repeats one it answered
# within 3 s, with its answer.  With "retx" the number left out is printed instead.
node_msgs() {
    local t0 t1
    t0=$(awk -v t="$1" 'BEGIN { printf "%.0f", t * 1000 }')
    t1=$(awk -v t="$2" 'BEGIN { printf "%.0f", t * 1000 }')
    _tb_events_once | awk -v t0="$t0" -v t1="$t1" -v n="$3" -v what="${4:-msgs}" '
        $2 >= t0 && $2 <= t1 && $3 == n {
            p = $6; sub(/^peer=/, "", p)
            sid = $7; sub(/^session=/, "", sid)
            if ($5 == "RRQ") {
                if (($4 ":" p) in pending) { retx++; next }
                pending[$4 ":" p] = 1
            } else if ($5 == "RRP") {
                delete pending
            } else if ($5 == "BU" && $4 == "tx") {
                # bu.c sends a BU again until its BA: the same message, not a new one.
                if ((p ":" sid) in bu_out) { retx++; next }
                bu_out[p ":" sid] = 1
            } else if ($5 == "BA" && $4 == "rx") {
                # The BA of a repeated BU comes twice; the second carries no session (bu.c).
                if (sid == "-" && (p in ba_seen)) { retx++; next }
                ba_seen[p] = 1
                for (k in bu_out) if (index(k, p ":") == 1) delete bu_out[k]
            } else if ($5 == "BU" && $4 == "rx") {
                # A repeat that crossed our BA (same peer, same session, within 3 s): it and
                # the BA we answer it with are left out.
                if (((p ":" sid) in ba_out) && $2 - ba_out[p ":" sid] <= 3000) {
                    retx++; skip_ba[p ":" sid] = 1; next
                }
            } else if ($5 == "BA" && $4 == "tx") {
                if ((p ":" sid) in skip_ba) { delete skip_ba[p ":" sid]; next }
                ba_out[p ":" sid] = $2
            }
            out = out sprintf("%s%s %s%s", sep, $4, $5, ($4 == "rx" ? " from " p : "")); sep = ", "
        }
        END { if (what == "retx") print retx + 0; else printf "%s", out }'
}

# msgs_are T0 T1 NODE=EXPECTED...: every NODE's node_msgs is its EXPECTED ("" = nothing);
# prints every node's messages (and the retransmissions left out).  The seeds' message tables
# (Fig. 11, Fig. 21) are per node ("AMR at AAAH -> HAR", "BA at HA -> Reg Rep"): this checks
# exactly them, and the "from" of each received message checks the hops between the nodes.
# tb_node_events, or the copy msgs_are took for all its nodes (TB_EVENTS_CACHE): merging every
# log is slow in a UML guest, and one snapshot also gives every node the same view.
_tb_events_once() {
    if [ -n "${TB_EVENTS_CACHE:-}" ] && [ -f "$TB_EVENTS_CACHE" ]; then cat "$TB_EVENTS_CACHE"; else tb_node_events; fi
}
msgs_are() {
    local t0=$1 t1=$2 spec node want got retx note bad=0
    shift 2
    local TB_EVENTS_CACHE
    TB_EVENTS_CACHE=$(mktemp)
    tb_node_events >"$TB_EVENTS_CACHE"
    for spec in "$@"; do
        node=${spec%%=*}
        want=${spec#*=}
        got=$(node_msgs "$t0" "$t1" "$node")
        retx=$(node_msgs "$t0" "$t1" "$node" retx)
        note=''
        [ "$retx" = 0 ] || note=" (+$retx retransmitted RRQ)"
        if [ "$got" = "$want" ]; then
            echo "$node: ${got:-nothing}$note"
        else
            echo "$node: ${got:-nothing}$note (expected ${want:-nothing})"
            bad=1
        fi
    done
    rm -f "$TB_EVENTS_CACHE"
    [ $bad = 0 ]
}

# ev_ms NODE DIR MSG T0 [CODE]: epoch ms of NODE's first such event at or after T0 (epoch
# seconds), with code=CODE when given
ev_ms() {
    local t0
    t0=$(awk -v t="$4" 'BEGIN { printf "%.0f", t * 1000 }')
    tb_node_events | awk -v n="$1" -v d="$2" -v m="$3" -v t0="$t0" -v c="${5:-}" '
        !found && $3 == n && $4 == d && $5 == m && $2 >= t0 {
            ok = (c == ""); for (i = 6; i <= NF; i++) if ($i == "code=" c) ok = 1
            if (ok) { print $2; found = 1 } }'
}

ms_between() { # MS1 MS2 -> MS2 - MS1 (null if either is missing)
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "") print "null"; else print b - a }'
}

# --- the whole world ------------------------------------------------------------------------
# aaa_world_up SET...: per-run keys (files 0600), the PKI, the VPN database with
# vpn_provision SET..., every configuration; then the daemons in an order that lets each
# newcomer find its peers already listening (AAAH, relay, AAAF-A, AAAF-B, HA, FAs, PCN), and
# waits until every Diameter link of FLOWS.md is up.
aaa_world_up() {
    local n fa
    TB_PKI=$TB_WORK/pki
    (
        umask 077
        openssl rand -hex 16 >"$TB_WORK/key-alice-aaa"
        openssl rand -hex 16 >"$TB_WORK/key-bob-aaa"
        openssl rand -hex 32 >"$TB_WORK/key-ha-pcn"
        openssl rand -hex 32 >"$TB_WORK/key-ha-pcnb"
        for n in fa1-fa2 fa1-fa3 fa2-fa3; do openssl rand -hex 32 >"$TB_WORK/key-$n"; done
    )
    KEY_ALICE_AAA=$(cat "$TB_WORK/key-alice-aaa")
    KEY_BOB_AAA=$(cat "$TB_WORK/key-bob-aaa")
    KEY_HA_PCN=$(cat "$TB_WORK/key-ha-pcn")
    KEY_HA_PCNB=$(cat "$TB_WORK/key-ha-pcnb")
    TB_HA_PCNB_SPI=4661
    TB_HA_PCN_SPI=4660
    aaa_pki "$TB_PKI"
    TB_VPNDB=$TB_WORK/vpn.sqlite
    vpn_provision "$TB_VPNDB" "$@"
    say "VPN database: $("$VPNADM" -d "$TB_VPNDB" --json user list | jq -r 'map(.nai) | join(", ")'); profiles: $("$VPNADM" -d "$TB_VPNDB" --json profile list | jq -r 'map("\(.nai) #\(.profile // .num) -> \(.dst)") | join(", ")')"

    aaad_home_conf "$TB_WORK/aaad-aaah.conf" "$TB_VPNDB"
    for n in aaafa aaafb; do aaad_foreign_conf "$n" "$TB_WORK/aaad-$n.conf"; done
    mipd_aaa_ha_conf "$TB_WORK/mipd-ha.conf" "$TB_HA_PCN_SPI" "$KEY_HA_PCN" "$TB_HA_PCNB_SPI" "$KEY_HA_PCNB"
    for fa in fa1 fa2 fa3; do mipd_aaa_fa_conf "$fa" "$TB_WORK/mipd-$fa.conf"; done
    mipd_pcn_conf "$TB_WORK/mipd-pcn.conf" "$TB_HA_PCN_SPI" "$KEY_HA_PCN"
    mipd_pcn_conf "$TB_WORK/mipd-pcnb.conf" "$TB_HA_PCNB_SPI" "$KEY_HA_PCNB" pcnb

    # Each agent's kernel before its daemon runs: afterwards it must hold this plus exactly the
    # daemon's shadow, and this alone once the daemon has nothing left to hold.
    for n in ha fa1 fa2 fa3 pcn pcnb; do kstate "$n" >"$TB_WORK/base-$n.txt"; done
    aaad_start aaah aaah home "$TB_WORK/aaad-aaah.conf"
    relay_start
    aaad_start aaafa aaafa foreign "$TB_WORK/aaad-aaafa.conf"
    aaad_start aaafb aaafb foreign "$TB_WORK/aaad-aaafb.conf"
    mipd_start ha ha ha "$TB_WORK/mipd-ha.conf"
    for fa in fa1 fa2 fa3; do mipd_start "$fa" "$fa" fa "$TB_WORK/mipd-$fa.conf"; done
    mipd_start pcn pcn pcn "$TB_WORK/mipd-pcn.conf"
    mipd_start pcnb pcnb pcn "$TB_WORK/mipd-pcnb.conf"
    local t0=$EPOCHREALTIME ok=1
    for n in aaah relay aaafa aaafb ha fa1 fa2 fa3; do
        wait_until 20 diam_links_tls "$n" || ok=0
    done
    say "Diameter links up after $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
    for n in aaah relay aaafa aaafb ha fa1 fa2 fa3; do
        check "${n^^}: Diameter over TLS with exactly its FLOWS.md peers" diam_links_tls "$n"
    done
    [ $ok = 1 ]
}

# --- captures for the TLS check ---------------------------------------------------------------
# capture_start NAME [NODE IFACE] / capture_stop NAME: a capture into $TB_WORK/NAME.pcap
# (default: the whole backbone, the bb0 bridge), independent of --pcap.
capture_start() {
    local name=$1 node=${2:-bb} ifn=${3:-bb0}
    bg_start "cap-$name" "$node" tcpdump -Z root -U -n -s 0 -i "$ifn" -w "$TB_WORK/$name.pcap"
    wait_until 5 test -s "$TB_WORK/$name.pcap" || true
    sleep 0.2
}
capture_stop() { sleep 0.2; bg_stop "cap-$1" INT; }
# pcap_count FILE FILTER: frames tshark matches
pcap_count() { tshark -n -r "$1" -Y "$2" 2>/dev/null | wc -l; }

# pcap_diameter_tls FILE NAI: the capture holds TLS records on 5868 (application data), no
# frame tshark decodes as Diameter, and the NAI appears in no TCP payload (the AMR/HAR carry
# it in User-Name and inside MIP-Reg-Request: in clear they would show).
pcap_diameter_tls() {
    local f=$1 nai=$2 tls diam clear
    tls=$(tshark -n -r "$f" -d "tcp.port==$TB_DIAM_PORT,tls" -Y 'tls.record.content_type == 23' 2>/dev/null | wc -l)
    diam=$(tshark -n -r "$f" -d "tcp.port==$TB_DIAM_PORT,tls" -Y diameter 2>/dev/null | wc -l)
    clear=$(tshark -n -r "$f" -Y "tcp && frame contains \"$nai\"" 2>/dev/null | wc -l)
    echo "TLS application-data records: $tls; frames decoded as Diameter: $diam; TCP frames with \"$nai\" in clear: $clear"
    [ "$tls" -gt 0 ] && [ "$diam" = 0 ] && [ "$clear" = 0 ]
}

# --- mobile nodes in AAA mode -------------------------------------------------------------------
# mnemu_start_aaa MN NAI MN_AAA_SPI MN_AAA_KEY HOA [mnemu options...]: the MN authenticates to
# its home AAA (RFC 3012 MN-AAA extension over the FA's challenge); HOA 0.0.0.0 asks the AAAH
# for a home address (pool).  The MN-HA key comes from the AAAH (RFC 3957 nonce in the reply).
# Its first retransmission waits TB_MN_RETX_MS (4 s): the chain of TLS hops and relays takes
# well over a second in a loaded UML guest, and a retransmission would start a second AMR.
mnemu_start_aaa() {
    local mn=$1 nai=$2 spi=$3 key=$4 hoa=$5
    shift 5
    rm -f "$(mn_sock "$mn")"
    bg_start "mnemu-$mn" "$mn" "$MNEMU" --iface mn0 --nai "$nai" --hoa "$hoa" --ha "$TB_HA_HOME" \
        --mn-aaa "$spi:$key" --ctl "$(mn_sock "$mn")" --retx-ms "${TB_MN_RETX_MS:-4000}" \
        --events "$(mn_events "$mn")" --name "$mn" "$@"
    wait_until 5 test -S "$(mn_sock "$mn")"
}

# --- VPN information caches (`mipctl vpn --json` of mipd and aaad) --------------------------------
# One line per cached profile: "#NUM LEG SRC -> DST via SRC_GW -> DST_GW (GW_TYPE)", and
# "session NAI: no profile" for a cached session without profiles.  The AAAH's two caches
# (the HA's and the FA's sets) are listed together.
_TB_VPN_JQ='def items: if type == "array" then .
      elif type == "object" and (.items | type) == "array" then .items
      elif type == "object" then [to_entries[] | select(.value | type == "array") | .value[]]
      else [] end;
    items[] | if .profile == null then "session \(.nai // .session): no profile"
      else "#\(.profile) \(.leg) \(.src) -> \(.dst) via \(.src_gw) -> \(.dst_gw) (\(.gw_type))" end'
vpn_cache_json() { # NODE
    case "$1" in
    aaah | aaafa | aaafb) aaad_ctl "$1" vpn ;;
    *) mipctl_json "$1" vpn ;;
    esac
}
vpn_cache_lines() { # NODE: sorted lines (fails when the node does not answer)
    local j
    j=$(vpn_cache_json "$1") || return 1
    jq -r "$_TB_VPN_JQ" <<<"$j" | sort
}
# vpn_cache_is NODE [EXPECTED_LINE...]: the node's cache is exactly these lines (none: empty).
vpn_cache_is() {
    local node=$1 got want
    shift
    got=$(vpn_cache_lines "$node") || { echo "$node: no answer to 'vpn'"; return 1; }
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
    echo "$node: $(if [ -n "$got" ]; then paste -sd';' - <<<"$got"; else echo empty; fi)"
    [ "$got" = "$want" ] || {
        echo "expected: $(if [ -n "$want" ]; then paste -sd';' - <<<"$want"; else echo empty; fi)"
        return 1
    }
}
vpn_cache_empty() { local l; l=$(vpn_cache_lines "$1") && [ -z "$l" ]; }
vpn_cache_profiles_of() { # NODE NAI: that user's cached profiles (lines)
    local j
    j=$(vpn_cache_json "$1") || { echo "$1: no answer"; return 0; }
    jq -r --arg n "$2" "${_TB_VPN_JQ/items\[\] |/items[] | select(.nai == \$n and .profile != null) |}" <<<"$j"
}

aaah_sessions() { # number of sessions the AAAH holds
    aaad_ctl aaah sessions | jq -r 'if type == "array" then length
        elif (.items | type) == "array" then (.items | length)
        elif .count != null then .count else "?" end'
}
pool_used() { # POOL: addresses allocated, from the VPN database
    "$VPNADM" -d "$TB_VPNDB" --json pool list | jq -r --arg p "$1" '.[] | select(.name == $p) | .used'
}
pool_used_is() { [ "$(pool_used "$1")" = "$2" ]; }
in_prefix() { # ADDR PREFIX -> yes|no
    local a=$1 net=${2%/*} len=${2#*/} ai ni
    [[ "$a" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo no; return; }
    IFS=. read -r a1 a2 a3 a4 <<<"$a"
    IFS=. read -r n1 n2 n3 n4 <<<"$net"
    ai=$(((a1 << 24) | (a2 << 16) | (a3 << 8) | a4))
    ni=$(((n1 << 24) | (n2 << 16) | (n3 << 8) | n4))
    if [ $(((ai ^ ni) >> (32 - len))) = 0 ]; then echo yes; else echo no; fi
}

# --- the VPN data plane (DESIGN §8; seeds [0045]-[0062]) --------------------------------------
# cgw_sla DB NAI NUM HOA: the company gateway's side of the SLA with the home ISP (seed [0026]):
# static ESP tunnel-mode SAs and policies towards the HA for the user's profile NUM, the keys
# read from the VPN database (vpnadm --show-keys; they go to `ip -batch` on its standard input,
# never onto a command line or into a log); and the company's firewall: nothing enters its LAN
# from outside except through those SAs (an XFRM "block" policy under the SLA's, so a user who
# is not on the company's list has no way in, seeds scenario 1).  The gateway honours the
# SLA's down-link class as well: it marks what it sends into the tunnel with the profile's
# down-link DSCP (tunnel mode copies it to the outer header, as the agents' marking does).
_tb_dscp() { # DSCP class name or number -> number
    case "$1" in
    EF) echo 46 ;;
    AF[1-4][1-3]) echo $((${1:2:1} * 8 + ${1:3:1} * 2)) ;;
    CS[0-7]) echo $((${1:2:1} * 8)) ;;
    [0-9] | [0-9][0-9]) echo "$1" ;;
    *) return 1 ;;
    esac
}
_tb_xfrm_alg() { # ENC|INTEG NAME -> "KERNEL_NAME KEY_BYTES [TRUNC_BITS]"
    case "$1:$2" in
    enc:aes-cbc-128) echo "cbc(aes) 16" ;;
    enc:aes-cbc-256) echo "cbc(aes) 32" ;;
    integ:hmac-sha256) echo "hmac(sha256) 32 128" ;;
    integ:hmac-sha1) echo "hmac(sha1) 20 96" ;;
    *) return 1 ;;
    esac
}
cgw_sla() {
    local db=$1 nai=$2 num=$3 hoa=$4 p enc integ ek ik et spi_up spi_down ku kd
    p=$("$VPNADM" -d "$db" --json --show-keys profile list |
        jq -c --arg n "$nai" --argjson k "$num" '.[] | select(.nai == $n and .profile == $k)')
    [ -n "$p" ] || { echo "cgw_sla: no profile $nai #$num" >&2; return 1; }
    read -r enc ek < <(_tb_xfrm_alg enc "$(jq -r .enc <<<"$p")") ||
        { echo "cgw_sla: cipher $(jq -r .enc <<<"$p") not supported here" >&2; return 1; }
    read -r integ ik et < <(_tb_xfrm_alg integ "$(jq -r .integ <<<"$p")") ||
        { echo "cgw_sla: integrity $(jq -r .integ <<<"$p") not supported here" >&2; return 1; }
    spi_up=$(jq -r .spi_up <<<"$p")
    spi_down=$(jq -r .spi_down <<<"$p")
    ku=$(jq -r .keys.up <<<"$p")
    kd=$(jq -r .keys.down <<<"$p")
    # A profile key is the cipher key followed by the integrity key (vpnadm, vpn_profile.h).
    local eh=$((ek * 2)) ih=$((ik * 2))
    local eu=${ku:0:eh} au=${ku:eh:ih} ed=${kd:0:eh} ad=${kd:eh:ih}
    _tb_ip cgw -batch - <<EOB
xfrm state add src $TB_HA_HOME dst $TB_CGW_BB proto esp spi $spi_up mode tunnel enc $enc 0x$eu auth-trunc $integ 0x$au $et
xfrm state add src $TB_CGW_BB dst $TB_HA_HOME proto esp spi $spi_down mode tunnel enc $enc 0x$ed auth-trunc $integ 0x$ad $et
xfrm policy add src $TB_CN1_NET dst $hoa/32 dir out tmpl src $TB_CGW_BB dst $TB_HA_HOME proto esp spi $spi_down mode tunnel
xfrm policy add src $hoa/32 dst $TB_CN1_NET dir fwd tmpl src $TB_HA_HOME dst $TB_CGW_BB proto esp mode tunnel
xfrm policy add src 0.0.0.0/0 dst $TB_CN1_NET dir fwd priority 1000 action block
EOB
    local rc=$?
    ku='' kd='' eu='' au='' ed='' ad=''
    [ $rc = 0 ] || return $rc
    local down; down=$(_tb_dscp "$(jq -r .dscp_down <<<"$p")") || return 1
    p=''
    tb_exec cgw iptables-legacy -w -t mangle -A FORWARD -s "$TB_CN1_NET" -d "$hoa/32" \
        -j DSCP --set-dscp "$down"
}

# sa_bytes NODE: one line per XFRM SA of the node, "SPI SRC DST BYTES" (never its keys).
sa_bytes() {
    ip -n "$(_tb_ns "$1")" -s xfrm state 2>/dev/null | awk '
        /^src / { src = $2; dst = $4; next }
        /^\tproto / { spi = $4; sub(/\(.*$/, "", spi); next }
        /^\tlifetime current:/ { getline; sub(/\(bytes\),?/, "", $1); printf "%s %s %s %s\n", spi, src, dst, $1 }' |
        while read -r spi src dst bytes; do echo "$(_tb_hex "$spi") $src $dst $bytes"; done
}
# sa_rose NODE BEFORE_FILE: every SA the node holds now carried more bytes than in BEFORE_FILE
# (a sa_bytes snapshot); prints each SA with its byte count.
sa_rose() {
    local node=$1 before=$2 now bad=0 n=0 spi src dst bytes b0
    now=$(sa_bytes "$node")
    [ -n "$now" ] || { echo "$node: no SA"; return 1; }
    while read -r spi src dst bytes; do
        n=$((n + 1))
        b0=$(awk -v s="$spi" -v a="$src" -v d="$dst" '$1 == s && $2 == a && $3 == d { print $4 }' "$before")
        echo "$node $spi $src>$dst +$((bytes - ${b0:-0})) B"
        [ "$bytes" -gt "${b0:-0}" ] || bad=1
    done <<<"$now"
    [ $bad = 0 ]
}

# esp_pairs FILE: the capture's ESP frames as "SRC>DST dscp D: N" lines (outer header).
esp_pairs() {
    tshark -n -r "$1" -Y esp -T fields -e ip.src -e ip.dst -e ip.dsfield.dscp 2>/dev/null |
        awk '{ c[$1 ">" $2 " dscp " $3]++ } END { for (k in c) print k ": " c[k] }' | sort
}
# esp_only FILE PORTS_FILTER WANT...: in the capture, the probe traffic (tshark filter, e.g.
# "udp.port == 5101") never appears as such (in clear or inside IP-in-IP: tshark decodes the
# inner header of both), and the ESP frames run exactly between the WANT pairs, each given as
# "SRC>DST dscp D" (the outer DSCP the profile's class gives that direction), at least MIN times.
esp_only() {
    local f=$1 filter=$2 min=$3; shift 3
    local clear pairs want rc=0 got
    clear=$(pcap_count "$f" "$filter")
    pairs=$(esp_pairs "$f")
    echo "probe frames not inside ESP: $clear; ESP: $(paste -sd, - <<<"$pairs")"
    [ "$clear" = 0 ] || rc=1
    for want in "$@"; do
        got=$(awk -v w="$want: " 'index($0, w) == 1 { print substr($0, length(w) + 1) }' <<<"$pairs")
        [ "${got:-0}" -ge "$min" ] || { echo "missing: $want (>= $min frames), got ${got:-0}"; rc=1; }
    done
    # Nothing else: every ESP pair seen is one of the wanted ones.
    while IFS= read -r got; do
        [ -n "$got" ] || continue
        local ok=0
        for want in "$@"; do [ "${got%%: *}" = "$want" ] && ok=1; done
        [ $ok = 1 ] || { echo "unexpected ESP: $got"; rc=1; }
    done <<<"$pairs"
    return $rc
}
# probe_tos FILE -> the TOS octets of a probe result (mprobe recv), "0xb8:200" items
probe_tos() { jq -r '.tos // {} | to_entries | map("\(.key):\(.value)") | join(" ")' "$1" 2>/dev/null; }

# vpn_traffic NAME MN HOA CN_NODE CN PORT: 200 sequenced probes/s for 1 s each way at once
# between the MN (from its home address) and a correspondent: up MN -> CN:PORT, down
# CN -> HOA:PORT+1, with a backbone capture $TB_WORK/NAME.pcap.  The receivers' results
# (mprobe recv: counts, TOS as delivered) land in $TB_WORK/NAME-up.json and NAME-down.json.
vpn_traffic() {
    local name=$1 mn=$2 hoa=$3 cnn=$4 cn=$5 port=$6
    rm -f "$TB_WORK/$name-up.json" "$TB_WORK/$name-down.json"
    bg_start "$name-rx-up" "$cnn" "$MPROBE" recv --port "$port" --out "$TB_WORK/$name-up.json" \
        --duration 10 --linger 300
    bg_start "$name-rx-down" "$mn" "$MPROBE" recv --port "$((port + 1))" --bind "$hoa" \
        --out "$TB_WORK/$name-down.json" --duration 10 --linger 300
    capture_start "$name"
    tb_exec "$mn" "$MPROBE" send --dst "$cn" --src "$hoa" --port "$port" --rate 200 --duration 1 \
        >"$TB_WORK/$name-send-up.json" &
    local up=$!
    tb_exec "$cnn" "$MPROBE" send --dst "$hoa" --port "$((port + 1))" --rate 200 --duration 1 \
        >"$TB_WORK/$name-send-down.json"
    wait "$up" || true
    wait_until 10 test -s "$TB_WORK/$name-up.json" || true
    wait_until 10 test -s "$TB_WORK/$name-down.json" || true
    capture_stop "$name"
    bg_stop "$name-rx-up"
    bg_stop "$name-rx-down"
}
# probe_delivered NAME DIR TOS: the DIR (up|down) probes of vpn_traffic NAME all arrived,
# each with the TOS octet TOS (the profile's DSCP class << 2, as delivered to the host).
probe_delivered() {
    local r="$TB_WORK/$1-$2.json" s="$TB_WORK/$1-send-$2.json"
    echo "sent $(jq -r '.sent // "?"' "$s" 2>/dev/null), received $(jq -r '.received // "?"' "$r" 2>/dev/null), lost $(jq -r '.lost // "?"' "$r" 2>/dev/null); TOS as delivered: $(probe_tos "$r")"
    [ -s "$r" ] && jq -e --arg t "$3" '.received > 0 and .lost == 0 and (.tos | keys) == [$t]' "$r" >/dev/null
}
# vpn_kernel_of NODE HOA: the node's kernel objects for that home address (`mipctl vpn-kernel`),
# one "KIND ..." line each.
vpn_kernel_of() {
    mipctl_json "$1" vpn-kernel | jq -r --arg h "$2" '(if type == "array" then . else .items // [] end)[]
        | select(.hoa == $h) | "\(.kind) \(.spi // "") \(.src // "") \(.dst // "") \(.dir // "")"'
}

# first_probe_start MN HOA CN_NODE CN PORT: 100 probes/s from the MN towards CN for 10 s, from
# before its registration (the MN's home address may not be usable yet: IP_FREEBIND).
# first_probe_ms T0_MS TOS: ms from T0_MS to the first probe delivered with the TOS octet of
# the profile's up-link class: only the VPN path marks it (the probes leave the MN unmarked),
# so that is the first probe through the VPN.
first_probe_start() {
    local mn=$1 hoa=$2 cnn=$3 cn=$4 port=$5
    rm -f "$TB_WORK/first-probe.json"
    bg_start first-probe-rx "$cnn" "$MPROBE" recv --port "$port" --out "$TB_WORK/first-probe.json" \
        --duration 15 --linger 100
    bg_start first-probe-tx "$mn" "$MPROBE" send --dst "$cn" --src "$hoa" --port "$port" --rate 100 \
        --duration 10
}
first_probe_ms() {
    bg_stop first-probe-tx
    bg_stop first-probe-rx # recv writes its result when signalled
    jq -r --argjson t0 "$1" --arg tos "$2" \
        '.tos_first_ts[$tos] // empty | . * 1000 - $t0 | floor' "$TB_WORK/first-probe.json" 2>/dev/null
}
vpn_kernel_has() { [ -n "$(vpn_kernel_of "$1" "$2")" ]; } # NODE HOA
aaah_sessions_are() { [ "$(aaah_sessions)" = "$1" ]; }

# kstate_has NODE PATTERN...: the node's kernel state (kstate lines) has a line matching each
# extended regular expression; a PATTERN written "!RE" must match no line.
kstate_has() {
    local node=$1 st p rc=0
    shift
    st=$(kstate "$node")
    for p in "$@"; do
        if [ "${p:0:1}" = "!" ]; then
            if grep -qE -- "${p:1}" <<<"$st"; then
                echo "unexpected: $(grep -E -- "${p:1}" <<<"$st" | paste -sd, -)"
                rc=1
            fi
        elif grep -qE -- "$p" <<<"$st"; then
            echo "$(grep -E -- "$p" <<<"$st" | head -n1)"
        else
            echo "missing: $p"
            rc=1
        fi
    done
    return $rc
}

# ping_answers MN SRC DST WANT: of 3 UDP echo probes from SRC (on the MN) to DST:5103 (an
# `mprobe echo` there), exactly WANT are answered.
ping_answers() {
    local r got
    r=$(tb_exec "$1" "$MPROBE" ping --dst "$3" --src "$2" --port 5103 --count 3 --timeout-ms 1000 2>&1)
    got=$(jq -r '.received // empty' <<<"$r" 2>/dev/null)
    expect_eq "answered (of 3)" "$got" "$4"
}

# agent_counter NODE NAME: a mipd counter (`mipctl counters`), 0 when absent.
agent_counter() {
    mipctl_json "$1" counters | jq -r --arg n "$2" '[(.items // .)[]? | select(.name == $n) | .value] | first // 0'
}
# pcap_mip4vpn FILE FILTER FIELD...: the capture's frames matching FILTER decoded with the
# project's Lua dissector (dict/wireshark/mip4vpn.lua), one line per frame with the FIELDs
# (tab-separated).
TB_LUA=${TB_LUA:-$SRC_DIR/dict/wireshark/mip4vpn.lua}
pcap_mip4vpn() {
    local f=$1 filter=$2; shift 2
    local -a e=()
    local x
    for x in "$@"; do e+=(-e "$x"); done
    tshark -n -X "lua_script:$TB_LUA" -r "$f" -Y "$filter" -T fields "${e[@]}" 2>/dev/null
}
# pcap_mip4vpn_clean FILE: no Mobile IP frame (UDP 434) of the capture is Malformed or carries an expert error or
# warning when decoded with the Lua dissector; prints how many mip4vpn frames it decoded.
pcap_mip4vpn_clean() {
    local bad n
    bad=$(pcap_mip4vpn "$1" 'udp.port == 434 && (_ws.malformed || _ws.expert.severity == error || _ws.expert.severity == warning)' frame.number | paste -sd, -)
    n=$(pcap_mip4vpn "$1" mip4vpn frame.number | wc -l)
    echo "mip4vpn frames decoded: $n; malformed or expert error/warning: ${bad:-none}"
    [ -z "$bad" ] && [ "$n" -gt 0 ]
}
