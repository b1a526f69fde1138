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
#   mn_set_hoa MN HOA                 its address on mn0 at the next attach (0.0.0.0: none)
#   topo_up [aaa] / topo_down         the standard world (+ the AAA world of aaad/FLOWS.md) /
#                                     remove every namespace we made
#
# Everything lives in namespaces named ${TB_NS}* (default "tb-"); the root namespace is
# never touched.  State (who joined what) is kept under $TB_STATE.
#
# Process starts are the cost here: under User-Mode Linux (where CI runs the scenarios) each one
# takes tens of milliseconds.  So every function does its work in as few processes as it can:
# one `ip -n NS -batch -` for the link/address/route operations of a namespace, one shell for
# the /proc/sys writes of a namespace, no $(...) subshells for names, no mkdir when the state
# directory exists.  testbed/tools/topo-dump.sh prints the resulting world, to check that a
# change here leaves it as it was.

TB_NS=${TB_NS:-tb-}
TB_STATE=${TB_STATE:-/run/tb/topo}
TB_BB_PREFIXLEN=24

_tb_ns() { printf '%s%s' "$TB_NS" "$1"; }
# Runs a command inside a node's namespace: tb_exec NODE CMD...
tb_exec() {
    local n=$TB_NS$1
    shift
    ip netns exec "$n" "$@"
}
_tb_ip() {
    local n=$TB_NS$1
    shift
    ip -n "$n" "$@"
}
_tb_mkdir() { [ -d "$1" ] || mkdir -p "$1"; }

node_add() { # NAME [router]
    local name=$1 kind=${2:-host} n=$TB_NS$1 p=/proc/sys/net sh
    # The namespace's settings, written by one shell inside it (`sh -e`: the IPv4 ones must
    # take).  No '#' and no single quote in this script: it is one word of an ip batch line.
    # First lo up, through sysfs (ip netns exec mounts the namespace's own): writing its flags
    # with IFF_UP (0x1) set is the dev_change_flags() that `ip link set lo up` asks for.  Up
    # before the sysctls, as it always was: bringing lo up marks all its IPv4 settings as set
    # (127.0.0.1 is added), so the conf/default writes below leave lo's values alone.
    # shellcheck disable=SC2016 # expanded by that shell
    sh='read f </sys/class/net/lo/flags; echo $((f | 1)) >/sys/class/net/lo/flags'
    # Tunnels and asymmetric mobile paths: no reverse-path filtering anywhere.
    sh+="; echo 0 >$p/ipv4/conf/all/rp_filter; echo 0 >$p/ipv4/conf/default/rp_filter"
    # IPv4 only: no IPv6 autoconfiguration noise on the links and in the captures.
    sh+="; { echo 1 >$p/ipv6/conf/all/disable_ipv6; echo 1 >$p/ipv6/conf/default/disable_ipv6;"
    sh+=" } 2>/dev/null || true"
    if [ "$kind" = router ]; then
        sh+="; echo 1 >$p/ipv4/ip_forward; echo 0 >$p/ipv4/conf/all/send_redirects"
        sh+="; echo 0 >$p/ipv4/conf/default/send_redirects"
    fi
    # One ip process: it creates the namespace, then forks the shell into it (batch mode).
    ip -batch - <<EOF
netns add $n
netns exec $n sh -ec '$sh'
EOF
    _tb_mkdir "$TB_STATE/nodes"
    echo "$kind" >"$TB_STATE/nodes/$name"
}

_tb_sink() { # the namespace holding the far ends of the bridges' spare ports
    local n=${TB_NS}sink p=/proc/sys/net/ipv6/conf sh
    [ -e "/run/netns/$n" ] && return 0
    # Silent: no IPv6 autoconfiguration traffic into the bridges.
    sh="{ echo 1 >$p/all/disable_ipv6; echo 1 >$p/default/disable_ipv6; } 2>/dev/null || true"
    ip -batch - <<EOF
netns add $n
netns exec $n sh -c '$sh'
EOF
}

bridge_add() { # NODE BR [CIDR]
    local node=$1 br=$2 cidr=${3:-} mac=
    # A bridge without ports has no carrier; a spare port keeps it (and its routes) up.
    # (A veth pair, not a dummy: some kernels lack the dummy driver.)  The pair's other end
    # lives in a namespace of its own ("sink"): left in the node, it would answer ARP for the
    # node's addresses (weak host model) and hand the node a second copy of every broadcast.
    # The pair is made from the sink's side, so that its end there is up from the start.
    _tb_sink
    _tb_ip sink link add "k-$node-$br" up type veth peer name "${br}-k" netns "$TB_NS$node"
    # A bridge takes the lowest MAC address of its ports unless one is set: an MN plugging in
    # would change the agent's MAC under the feet of the MNs already there (their ARP entries
    # go stale and their requests are lost for seconds).  Pin the address it would take now,
    # its spare port's: a bridge created with an address keeps it (addr_assign_type "set",
    # as after `ip link set BR address`), whatever ports join later.
    read -r _ _ mac _ < <(_tb_ip "$node" -br link show dev "${br}-k")
    [ -n "$mac" ] || { echo "bridge_add: no MAC address for ${br}-k in $node" >&2; return 1; }
    _tb_ip "$node" -batch - <<EOF
link add $br address $mac type bridge stp_state 0 forward_delay 0 mcast_snooping 0
link set ${br}-k master $br up
link set $br up
${cidr:+addr add $cidr dev $br}
EOF
}

# link_add, plus EXTRA: ip commands (newline-separated) for NODE after its end is up.
_tb_link_add() { # NODE IF PEER BR CIDR EXTRA
    local node=$1 ifn=$2 peer=$3 br=$4 cidr=$5 extra=$6 port="p-$1"
    # The pair is made from PEER's side and its end there enslaved at once: NODE's end has
    # a carrier as soon as it is up.
    _tb_ip "$peer" -batch - <<EOF
link add $port type veth peer name $ifn netns $TB_NS$node
link set $port master $br up
EOF
    _tb_ip "$node" -batch - <<EOF
${cidr:+addr add $cidr dev $ifn}
link set $ifn up
$extra
EOF
}

link_add() { # NODE IF PEER BR [CIDR]
    _tb_link_add "$1" "$2" "$3" "$4" "${5:-}" ""
}

bb_join() { # NODE ADDR [PREFIX...]
    local node=$1 addr=$2
    shift 2
    link_add "$node" bb0 bb bb0 "$addr/$TB_BB_PREFIXLEN"
    _tb_mkdir "$TB_STATE/bb"
    echo "$addr $*" >"$TB_STATE/bb/$node"
}

bb_addr() { # NODE -> its backbone address
    local a _
    read -r a _ <"$TB_STATE/bb/$1" && echo "$a"
}

bb_routes() { # one ip process per backbone node
    local f other addr prefixes p cmds
    for f in "$TB_STATE"/bb/*; do
        cmds=
        for other in "$TB_STATE"/bb/*; do
            [ "$other" = "$f" ] && continue
            read -r addr prefixes <"$other"
            for p in $prefixes; do
                cmds+="route replace $p via $addr dev bb0"$'\n'
            done
        done
        [ -z "$cmds" ] || _tb_ip "${f##*/}" -batch - <<<"$cmds"
    done
}

# --- mobile nodes ---------------------------------------------------------

mn_add() { # NAME HOA
    node_add "$1" host
    _tb_mkdir "$TB_STATE/mn"
    echo "$2" >"$TB_STATE/mn/$1.hoa"
}

mn_hoa() { local h; read -r h <"$TB_STATE/mn/$1.hoa"; echo "$h"; }
# mn_set_hoa MN HOA: the address the MN gets on mn0 at its next attach; 0.0.0.0 = none (an MN
# that asks its home AAA for a home address, RFC 4004 §1.1 / FLOWS.md).
mn_set_hoa() { echo "$2" >"$TB_STATE/mn/$1.hoa"; }
# Where the MN is plugged in now (empty if detached).
mn_where() { local f=; [ ! -f "$TB_STATE/mn/$1.at" ] || read -r f <"$TB_STATE/mn/$1.at"; echo "$f"; }

mn_attach() { # MN FA
    local mn=$1 fa=$2 hoa
    read -r hoa <"$TB_STATE/mn/$mn.hoa"
    [ ! -f "$TB_STATE/mn/$mn.at" ] || mn_detach "$mn"
    # Two ip processes only (process start-up is slow under UML, and this is the hand-off).
    # The FA-side end is named after the MN so an FA can tell its visitors' ports apart.
    local addr=
    [ "$hoa" = 0.0.0.0 ] || addr="addr add $hoa/32 dev mn0"
    _tb_ip "$mn" -batch - <<EOF
link add mn0 type veth peer name v-$mn netns $TB_NS$fa
$addr
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

# The AAA world (aaad/FLOWS.md "Nodes, identities and addresses"), opt-in with `topo_up aaa`:
# home AAA (AAAH), a transit Diameter relay, the visited ISPs' AAA servers, a company with a
# static VPN gateway (a plain Linux router) in front of its LAN with CN1, and two partner ISPs
# whose PCNs front a LAN with CN2 (pcn) and one with CN3 (pcnb).  Diameter identities are
# NODE.REALM as in FLOWS.md.
declare -A TB_AAA_BB=([aaah]=192.0.2.2 [relay]=192.0.2.40 [aaafa]=192.0.2.21 [aaafb]=192.0.2.31)
declare -A TB_DIAM_ID=([ha]=ha.home.example [aaah]=aaah.home.example
    [relay]=relay.transit.example [aaafa]=aaaf.visit-a.example [aaafb]=aaaf.visit-b.example
    [fa1]=fa1.visit-a.example [fa2]=fa2.visit-a.example [fa3]=fa3.visit-b.example)
TB_CGW_BB=192.0.2.60
TB_CGW_LAN=172.16.50.1
TB_CN1_NET=172.16.50.0/24
TB_CN1=172.16.50.10
TB_PCN_BB=192.0.2.70
TB_PCN_LAN=172.16.60.1
TB_CN2_NET=172.16.60.0/24
TB_CN2=172.16.60.10
TB_PCNB_BB=192.0.2.71
TB_PCNB_LAN=172.16.61.1
TB_CN3_NET=172.16.61.0/24
TB_CN3=172.16.61.10

diam_id() { echo "${TB_DIAM_ID[$1]}"; }
diam_realm() { local id; id=$(diam_id "$1"); echo "${id#*.}"; }

# A router with a LAN bridge lan0 (GW/24) behind it and one host on that LAN.
lan_add() { # ROUTER BB_ADDR LAN_NET GW_ADDR HOST HOST_ADDR
    local r=$1 bb=$2 net=$3 gw=$4 host=$5 haddr=$6
    node_add "$r" router
    bb_join "$r" "$bb" "$net"
    bridge_add "$r" lan0 "$gw/24"
    node_add "$host" host
    _tb_link_add "$host" eth0 "$r" lan0 "$haddr/24" "route add default via $gw dev eth0"
}

topo_aaa_up() {
    local n
    for n in aaah relay aaafa aaafb; do
        node_add "$n" host
        bb_join "$n" "${TB_AAA_BB[$n]}"
    done
    # The company: its static VPN gateway is a plain router here (its SAs: next issue).
    lan_add cgw "$TB_CGW_BB" "$TB_CN1_NET" "$TB_CGW_LAN" cn1 "$TB_CN1"
    # The partner ISP: the PCN (mipd --role pcn) routes its correspondents' LAN.
    lan_add pcn "$TB_PCN_BB" "$TB_CN2_NET" "$TB_PCN_LAN" cn2 "$TB_CN2"
    # Partner ISP B: a second PCN and CN3 (the service-update scenario's new destination).
    lan_add pcnb "$TB_PCNB_BB" "$TB_CN3_NET" "$TB_PCNB_LAN" cn3 "$TB_CN3"
}

topo_up() { # [aaa]
    local world=${1:-}
    case "$world" in '' | aaa) ;; *) echo "topo_up: unknown world '$world'" >&2; return 1 ;; esac
    topo_down
    mkdir -p "$TB_STATE/nodes" "$TB_STATE/bb" "$TB_STATE/mn"
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
    [ "$world" != aaa ] || topo_aaa_up
    bb_routes
    local mn
    for mn in mn1 mn2; do mn_add "$mn" "${TB_MN_HOA[$mn]}"; done
}

# Removes every namespace with our prefix (killing what still runs inside).
topo_down() {
    local f nss=() cmds pids
    # The names ip netns add gave them (what `ip netns list` reads).
    for f in /run/netns/"$TB_NS"*; do
        [ -e "$f" ] && nss+=("${f##*/}")
    done
    if [ "${#nss[@]}" -gt 0 ]; then
        printf -v cmds 'netns pids %s\n' "${nss[@]}"
        pids=$(ip -force -batch - <<<"$cmds" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            sleep 0.2
            pids=$(ip -force -batch - <<<"$cmds" 2>/dev/null || true)
            # shellcheck disable=SC2086
            [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
        fi
        printf -v cmds 'netns del %s\n' "${nss[@]}"
        ip -force -batch - <<<"$cmds" >/dev/null 2>&1 || true
    fi
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
