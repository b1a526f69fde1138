#!/usr/bin/env bash
# Testbed topology (DESIGN §9): network namespaces joined by veth pairs and
# bridges.  Source this file; it defines a small vocabulary and the standard
# roaming world built from it:
#
#   node_add NAME [router]            namespace ${TB_NS}NAME, lo up, rp_filter 0
#                                     (router: ip_forward 1, send_redirects 0)
#   bridge_add NODE BR [CIDR]         a bridge inside NODE (carrier kept up by a spare port)
#   link_add NODE IF PEER BR [CIDR]   veth: IF inside NODE, the other end a port of PEER's BR
#   bb_join NODE ADDR [PREFIX...]     NODE on the backbone (bb0, ADDR/24); PREFIXes are routed
#                                     to ADDR by every other backbone node (bb_routes)
#   bb_routes                         installs those routes (idempotent, call after joins)
#   mn_add NAME HOA                   a mobile node namespace with home address HOA
#   mn_attach MN FA / mn_detach MN    plug the MN's mn0 into FA's access bridge acc0 / unplug
#   topo_up / topo_down               the standard world / remove every namespace we made
#
# Everything lives in namespaces named ${TB_NS}* (default "tb-"); the root namespace is
# never touched.  State (who joined what) is kept under $TB_STATE.

TB_NS=${TB_NS:-tb-}
TB_STATE=${TB_STATE:-/run/tb/topo}
TB_BB_PREFIXLEN=24

_tb_ns() { printf '%s%s' "$TB_NS" "$1"; }
# Runs a command inside a node's namespace: tb_exec NODE CMD...
tb_exec() {
    local n; n=$(_tb_ns "$1"); shift
    ip netns exec "$n" "$@"
}
_tb_ip() {
    local n; n=$(_tb_ns "$1"); shift
    ip -n "$n" "$@"
}
_tb_sysctl() { # NODE KEY VALUE
    tb_exec "$1" sysctl -qw "$2=$3" >/dev/null
}

node_add() { # NAME [router]
    local name=$1 kind=${2:-host} n
    n=$(_tb_ns "$name")
    ip netns add "$n"
    _tb_ip "$name" link set lo up
    # Tunnels and asymmetric mobile paths: no reverse-path filtering anywhere.
    _tb_sysctl "$name" net.ipv4.conf.all.rp_filter 0
    _tb_sysctl "$name" net.ipv4.conf.default.rp_filter 0
    # IPv4 only: no IPv6 autoconfiguration noise on the links and in the captures.
    _tb_sysctl "$name" net.ipv6.conf.all.disable_ipv6 1 2>/dev/null || true
    _tb_sysctl "$name" net.ipv6.conf.default.disable_ipv6 1 2>/dev/null || true
    if [ "$kind" = router ]; then
        _tb_sysctl "$name" net.ipv4.ip_forward 1
        _tb_sysctl "$name" net.ipv4.conf.all.send_redirects 0
        _tb_sysctl "$name" net.ipv4.conf.default.send_redirects 0
    fi
    mkdir -p "$TB_STATE/nodes"
    echo "$kind" >"$TB_STATE/nodes/$name"
}

bridge_add() { # NODE BR [CIDR]
    local node=$1 br=$2 cidr=${3:-}
    _tb_ip "$node" link add "$br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    # A bridge without ports has no carrier; a spare port keeps it (and its routes) up.
    # (A veth pair, not a dummy: some kernels lack the dummy driver.)
    _tb_ip "$node" link add "${br}-k" type veth peer name "${br}-kp"
    _tb_ip "$node" link set "${br}-k" master "$br" up
    _tb_ip "$node" link set "${br}-kp" up
    _tb_ip "$node" link set "$br" up
    if [ -n "$cidr" ]; then _tb_ip "$node" addr add "$cidr" dev "$br"; fi
}

link_add() { # NODE IF PEER BR [CIDR]
    local node=$1 ifn=$2 peer=$3 br=$4 cidr=${5:-}
    local port="p-$node"
    _tb_ip "$node" link add "$ifn" type veth peer name "$port" netns "$(_tb_ns "$peer")"
    _tb_ip "$peer" link set "$port" master "$br" up
    if [ -n "$cidr" ]; then _tb_ip "$node" addr add "$cidr" dev "$ifn"; fi
    _tb_ip "$node" link set "$ifn" up
}

bb_join() { # NODE ADDR [PREFIX...]
    local node=$1 addr=$2; shift 2
    link_add "$node" bb0 bb bb0 "$addr/$TB_BB_PREFIXLEN"
    mkdir -p "$TB_STATE/bb"
    echo "$addr $*" >"$TB_STATE/bb/$node"
}

bb_addr() { # NODE -> its backbone address
    cut -d' ' -f1 "$TB_STATE/bb/$1"
}

bb_routes() {
    local node other addr prefixes p
    for node in "$TB_STATE"/bb/*; do
        node=${node##*/}
        for other in "$TB_STATE"/bb/*; do
            other=${other##*/}
            [ "$other" = "$node" ] && continue
            read -r addr prefixes <"$TB_STATE/bb/$other"
            for p in $prefixes; do
                _tb_ip "$node" route replace "$p" via "$addr" dev bb0
            done
        done
    done
}

# --- mobile nodes ---------------------------------------------------------

mn_add() { # NAME HOA
    node_add "$1" host
    mkdir -p "$TB_STATE/mn"
    echo "$2" >"$TB_STATE/mn/$1.hoa"
}

mn_hoa() { local h; read -r h <"$TB_STATE/mn/$1.hoa"; echo "$h"; }
# Where the MN is plugged in now (empty if detached).
mn_where() { local f=; [ ! -f "$TB_STATE/mn/$1.at" ] || read -r f <"$TB_STATE/mn/$1.at"; echo "$f"; }

mn_attach() { # MN FA
    local mn=$1 fa=$2 hoa
    read -r hoa <"$TB_STATE/mn/$mn.hoa"
    [ ! -f "$TB_STATE/mn/$mn.at" ] || mn_detach "$mn"
    # Two ip processes only (process start-up is slow under UML, and this is the hand-off).
    # The FA-side end is named after the MN so an FA can tell its visitors' ports apart.
    _tb_ip "$mn" -batch - <<EOF
link add mn0 type veth peer name v-$mn netns $(_tb_ns "$fa")
addr add $hoa/32 dev mn0
link set mn0 up
EOF
    # Enslave first, then up: in one "master X up" request the kernel raises the link before
    # enslaving it, and the MN's first packets (its solicitation) would miss the bridge.
    _tb_ip "$fa" -batch - <<EOF
link set v-$mn master acc0
link set v-$mn up
EOF
    echo "$fa" >"$TB_STATE/mn/$mn.at"
}

mn_detach() { # MN
    local mn=$1
    # Deleting one end removes the pair: the FA sees its bridge port disappear.
    _tb_ip "$mn" link del mn0 2>/dev/null || true
    rm -f "$TB_STATE/mn/$mn.at"
}

# --- the standard world -----------------------------------------------------

# Address plan (documentation/test addresses, inside the namespaces only).
TB_HA_BB=192.0.2.1
TB_HOME_NET=10.10.0.0/24
TB_HA_HOME=10.10.0.1
TB_CN_BB=192.0.2.100
declare -A TB_FA_BB=([fa1]=192.0.2.11 [fa2]=192.0.2.12 [fa3]=192.0.2.13)
declare -A TB_FA_ACC=([fa1]=10.21.0.1 [fa2]=10.22.0.1 [fa3]=10.23.0.1)
declare -A TB_MN_HOA=([mn1]=10.10.0.100 [mn2]=10.10.0.101)

# An FA router: backbone address + access link bridge acc0 (its prefix routed to it).
fa_add() { # NAME BB_ADDR ACC_ADDR
    local name=$1 bb=$2 acc=$3
    node_add "$name" router
    bb_join "$name" "$bb" "${acc%.*}.0/24"
    bridge_add "$name" acc0 "$acc/24"
}

topo_up() {
    topo_down
    mkdir -p "$TB_STATE"
    # Backbone: one bridge in its own namespace.
    node_add bb host
    bridge_add bb bb0
    # Home ISP: the HA routes the home network; home0 is the home link.
    node_add ha router
    bb_join ha "$TB_HA_BB" "$TB_HOME_NET"
    bridge_add ha home0 "$TB_HA_HOME/24"
    # Visited ISP A (FA1, FA2) and visited ISP B (FA3).
    local fa
    for fa in fa1 fa2 fa3; do
        fa_add "$fa" "${TB_FA_BB[$fa]}" "${TB_FA_ACC[$fa]}"
    done
    # Correspondent host on the backbone.
    node_add cn host
    bb_join cn "$TB_CN_BB"
    bb_routes
    local mn
    for mn in mn1 mn2; do mn_add "$mn" "${TB_MN_HOA[$mn]}"; done
}

# Removes every namespace with our prefix (killing what still runs inside).
topo_down() {
    local n pids
    for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        case "$n" in "$TB_NS"*) ;; *) continue ;; esac
        pids=$(ip netns pids "$n" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            sleep 0.2
            pids=$(ip netns pids "$n" 2>/dev/null || true)
            # shellcheck disable=SC2086
            [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$n" 2>/dev/null || true
    done
    rm -rf "$TB_STATE"
}

# Human-readable summary of the topology (for logs).
topo_show() {
    local f node
    for f in "$TB_STATE"/nodes/*; do
        node=${f##*/}
        printf '%-5s %s\n' "$node" \
            "$(_tb_ip "$node" -br addr show | awk '$1!="lo"{printf "%s=%s ", $1, $3}')"
    done
}
