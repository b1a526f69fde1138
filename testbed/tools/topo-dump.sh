#!/usr/bin/env bash
# Normalised description of the testbed world (testbed/lib/topo.sh), for comparing two ways of
# building it: `topo-dump.sh [PREFIX]` (default $TB_NS or "tb-") prints, for every namespace
# whose name starts with PREFIX, its links, addresses, routes (all tables), rules, the sysctls
# node_add sets (all, default and per device) and the bridge and bridge port settings.
# Nothing that differs from run to run is printed: no ifindex, no nsid, no random MAC, no
# timer.  A veth names its peer as NAMESPACE:IFNAME; a MAC is shown only as its relation to the
# other MACs of the namespace (bridge MAC == MAC of port X, bridge id == own MAC), plus how the
# kernel assigned it (addr_assign_type: 0 permanent, 1 random, 3 set), which is what bridge_add
# pins.  (iproute2 prints a bridge id's bytes without their leading zeros.)  Needs iproute2
# with JSON output and jq.  Read-only.
set -euo pipefail

prefix=${1:-${TB_NS:-tb-}}
nss=()
while read -r n _; do
    case "$n" in "$prefix"*) nss+=("$n") ;; esac
done < <(ip netns list | sort)
[ "${#nss[@]}" -gt 0 ] || {
    echo "topo-dump: no namespace named $prefix*" >&2
    exit 1
}

# ifindex -> name in every namespace, to name a veth's peer.
declare -A ifname
for n in "${nss[@]}"; do
    map=$(ip -n "$n" -j link show | jq -r '.[] | "\(.ifindex) \(.ifname)"')
    while read -r idx name; do ifname[$n:$idx]=$name; done <<<"$map"
done

# One line per link: name, description, peer ifindex, peer nsid (tab-separated).
# shellcheck disable=SC2016 # jq program
links_jq='.[] | [.ifname,
    ("kind=\(.linkinfo.info_kind // "-") slave=\(.linkinfo.info_slave_kind // "-")"
     + " master=\(.master // "-") state=\(.operstate) flags=\(.flags | sort | join(","))"
     + " mtu=\(.mtu) txqlen=\(.txqlen) promisc=\(.promiscuity)"
     + (if .linkinfo.info_kind == "bridge" then
          " stp_state=\(.linkinfo.info_data.stp_state)"
          + " forward_delay=\(.linkinfo.info_data.forward_delay)"
          + " mcast_snooping=\(.linkinfo.info_data.mcast_snooping)"
          + " bridge_id=\(if (.address | split(":") | map(ltrimstr("0")) | join(":")) as $a
                              | .linkinfo.info_data.bridge_id | endswith(".\($a)")
                          then "prio.own-mac" else "other" end)"
          + " settings=\(.linkinfo.info_data | del(.bridge_id, .root_id, .gc_timer,
              .hello_timer, .tcn_timer, .topology_change_timer) | tojson)"
        else "" end)
     + (if .linkinfo.info_slave_kind == "bridge" then
          " port=\(.linkinfo.info_slave_data | del(.bridge_id, .root_id, .hold_timer,
              .message_age_timer, .forward_delay_timer) | tojson)"
        else "" end)),
    (.link_index // "-"), (.link_netnsid // "-")] | @tsv'

# MAC relations: which links share a bridge's MAC (the pinned one, bridge_add).
# shellcheck disable=SC2016 # jq program
macs_jq='(map({(.ifname): .address}) | add) as $mac
    | .[] | select(.linkinfo.info_kind == "bridge") | . as $br
    | "bridge_mac \($br.ifname) == "
      + ([$mac | to_entries[] | select(.key != $br.ifname and .value == $br.address)
          | .key] | sort | join(",") | if . == "" then "none" else . end)'

# shellcheck disable=SC2016 # jq program
addrs_jq='.[] | .ifname as $i | .addr_info[]
    | "addr \($i) \(.family) \(.local)/\(.prefixlen) scope=\(.scope)"
      + " brd=\(.broadcast // "-") peer=\(.address // "-")"'

# Run inside each namespace (ip netns exec mounts its own /sys).
# shellcheck disable=SC2016 # expanded by that shell
sysctl_script='
for d in all default $(ls /sys/class/net); do
    printf "sysctl %s" "$d"
    for k in ipv4/conf/$d/rp_filter ipv4/conf/$d/send_redirects ipv4/conf/$d/forwarding \
        ipv6/conf/$d/disable_ipv6; do
        v=$(cat /proc/sys/net/$k 2>/dev/null || echo -)
        printf " %s=%s" "${k##*/}" "$v"
    done
    echo
done
echo "sysctl ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
for d in $(ls /sys/class/net); do
    echo "addr_assign_type $d $(cat /sys/class/net/$d/addr_assign_type)"
done'

for n in "${nss[@]}"; do
    echo "=== ${n#"$prefix"}"
    # nsid -> namespace name, as seen from this namespace.
    declare -A nsid=()
    ids=$(ip -n "$n" netns list-id)
    while read -r _ id _ _ _ name; do
        [ -z "${id:-}" ] || nsid[$id]=${name%)}
    done <<<"$ids"
    json=$(ip -n "$n" -d -j link show)
    links=$(jq -r "$links_jq" <<<"$json" | sort)
    while IFS=$'\t' read -r name desc li lns; do
        peer=-
        if [ "$li" != - ]; then
            pns=$n
            [ "$lns" = - ] || pns=${nsid[$lns]:-nsid$lns}
            peer="${pns#"$prefix"}:${ifname[$pns:$li]:-?}"
        fi
        echo "link $name $desc peer=$peer"
    done <<<"$links"
    jq -r "$macs_jq" <<<"$json"
    addrs=$(ip -n "$n" -j addr show | jq -r "$addrs_jq")
    sort <<<"$addrs"
    routes=$(ip -n "$n" -4 route show table all && ip -n "$n" -6 route show table all)
    sed 's/^/route /; s/ *$//' <<<"$routes" | sort
    rules=$(ip -n "$n" -4 rule && ip -n "$n" -6 rule)
    sed 's/^/rule /; s/\t/ /g; s/ *$//' <<<"$rules"
    ip netns exec "$n" sh -ec "$sysctl_script"
    unset nsid
done
