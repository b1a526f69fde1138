#!/usr/bin/env bash
# Checks, metrics and the timeline shared by the testbed scenarios (source it).
#
#   tb_results_init DIR          where checks/metrics/timeline records go
#   say [-a ACTOR] TEXT...       a timeline line (printed now, kept for the final timeline)
#   check NAME CMD [ARGS...]     runs CMD; passes iff it exits 0; its output is the detail
#   check_that NAME DETAIL COND  records a check from an already computed condition (0/1 or true/false)
#   metric KEY VALUE             a number (or string) in the result's "metrics"
#   expect_eq WHAT ACTUAL WANT   helpers for check commands: print what they saw, return 0/1
#   expect_ge WHAT ACTUAL MIN / expect_le WHAT ACTUAL MAX / expect_empty WHAT VALUE
#   wait_until SECONDS CMD...    polls CMD every 0.1 s until it succeeds (returns 1 on timeout)
#   kstate NODE / kshadow JSON   normalised kernel objects of a namespace / of a daemon's shadow
#   tb_results_json SCENARIO FILE [EXTRA_JSON]  writes the result document
#   tb_all_passed                true iff at least one check ran and none failed

TB_T0=${TB_T0:-$EPOCHREALTIME}

tb_results_init() {
    TB_RESULTS=$1
    mkdir -p "$TB_RESULTS"
    : >"$TB_RESULTS/checks.jsonl"
    : >"$TB_RESULTS/metrics.jsonl"
    : >"$TB_RESULTS/timeline.tsv"
}

_tb_rel() { # EPOCH -> +S.SSSs relative to TB_T0
    awk -v t="$1" -v t0="$TB_T0" 'BEGIN { printf "+%.3fs", t - t0 }'
}

say() {
    local actor=tb
    if [ "${1:-}" = -a ]; then actor=$2; shift 2; fi
    local now=$EPOCHREALTIME
    printf '  %9s  %-5s %s\n' "$(_tb_rel "$now")" "$actor" "$*"
    printf '%s\t%s\t%s\n' "$now" "$actor" "$*" >>"$TB_RESULTS/timeline.tsv"
}

_tb_record_check() { # NAME PASSED(true|false) DETAIL
    local name=$1 passed=$2 detail=$3
    jq -cn --arg n "$name" --argjson p "$passed" --arg d "$detail" --arg t "$EPOCHREALTIME" \
        '{name: $n, passed: $p, detail: $d, t: ($t | tonumber)}' >>"$TB_RESULTS/checks.jsonl"
    local tag=PASS
    [ "$passed" = true ] || tag=FAIL
    local now=$EPOCHREALTIME
    printf '  %9s  %-5s [%s] %s — %s\n' "$(_tb_rel "$now")" check "$tag" "$name" "$detail"
    printf '%s\t%s\t[%s] %s — %s\n' "$now" check "$tag" "$name" "$detail" \
        >>"$TB_RESULTS/timeline.tsv"
}

check() {
    local name=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    # One line of detail, bounded.
    out=$(printf '%s' "$out" | tr '\n' ';' | sed 's/;*$//; s/;/; /g')
    [ ${#out} -le 600 ] || out="${out:0:597}..."
    if [ $rc -eq 0 ]; then
        _tb_record_check "$name" true "${out:-ok}"
    else
        _tb_record_check "$name" false "${out:-exit status $rc}"
    fi
    return 0
}

check_that() { # NAME DETAIL COND
    local cond=$3
    case "$cond" in 0 | true) cond=true ;; *) cond=false ;; esac
    _tb_record_check "$1" "$cond" "$2"
}

metric() {
    local key=$1 value=$2
    if [ -z "$value" ] || [ "$value" = null ]; then
        jq -cn --arg k "$key" '{($k): null}' >>"$TB_RESULTS/metrics.jsonl"
    elif [[ "$value" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
        jq -cn --arg k "$key" --argjson v "$value" '{($k): $v}' >>"$TB_RESULTS/metrics.jsonl"
    else
        jq -cn --arg k "$key" --arg v "$value" '{($k): $v}' >>"$TB_RESULTS/metrics.jsonl"
    fi
    say -a metric "$key = $value"
}

expect_eq() {
    echo "$1 = ${2:-<none>}${4:+ $4}"
    [ "$2" = "$3" ] || { echo "expected $3"; return 1; }
}
expect_ge() {
    echo "$1 = ${2:-<none>}"
    awk -v a="${2:-x}" -v b="$3" 'BEGIN { exit !(a ~ /^-?[0-9.]+$/ && a + 0 >= b + 0) }' ||
        { echo "expected >= $3"; return 1; }
}
expect_le() {
    echo "$1 = ${2:-<none>}"
    awk -v a="${2:-x}" -v b="$3" 'BEGIN { exit !(a ~ /^-?[0-9.]+$/ && a + 0 <= b + 0) }' ||
        { echo "expected <= $3"; return 1; }
}
expect_empty() {
    if [ -z "$2" ]; then echo "$1: none"; return 0; fi
    echo "$1: $2"
    return 1
}

wait_until() { # SECONDS CMD...
    local deadline; deadline=$(awk -v t="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.3f", t + s }')
    shift
    while :; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        awk -v t="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(t >= d) }' && return 1
        sleep 0.1
    done
}

# --- kernel state -------------------------------------------------------------
# Both sides are printed as sorted lines so that they compare:
#   tunnel NAME remote R                      IP-in-IP device
#   route DST dev D table T [via G]           unicast route (not kernel-made, not table local)
#   rule PRIO from SRC [to DST] iif I table T policy-routing rule
#   proxy ADDR dev D                          proxy ARP entry
#   sa PROTO spi SPI src A dst B              XFRM SA (never its keys)
#   sp DIR SRC DST tmpl A B PROTO spi SPI     XFRM policy and its template
#   dscp_set SET / dscp_class DSCP SET        ipset of a DSCP class / its mangle FORWARD rule
#   mark SET SRC,DST                          ipset element (DSCP marking of one selector)
#   udp_redirect DST PORT                     nat PREROUTING REDIRECT (PCN interception)

_TB_TABLE_JQ='def tbl: if . == null or . == "main" then 254 elif . == "local" then 255
  elif . == "default" then 253 else (tonumber? // .) end;'

# Normalises "0x00001001" and "4097" alike to "0x1001".
_tb_hex() { printf '0x%x' "$(($1))"; }

# `ip xfrm state` / `ip xfrm policy` text -> "sa ..." / "sp ..." lines.  Only the first lines
# of an SA block are read (src/dst, proto/spi): its key lines are never looked at.
_tb_xfrm_lines() { # NS
    ip -n "$1" xfrm state 2>/dev/null | awk '
        /^src / { src = $2; dst = $4; next }
        /^\tproto / { spi = $4; sub(/\(.*$/, "", spi); printf "sa %s spi %s src %s dst %s\n", $2, spi, src, dst }' |
        while read -r k proto _ spi rest; do echo "$k $proto spi $(_tb_hex "$spi") $rest"; done
    ip -n "$1" xfrm policy 2>/dev/null | awk '
        function flush() { if (have) printf "sp %s %s %s tmpl %s %s %s spi %s\n", dir, src, dst, ts, td, proto, spi; have = 0 }
        /^src / { flush(); src = $2; dst = $4; dir = "?"; ts = td = proto = "-"; spi = 0; have = 1; next }
        /^\tdir / { dir = $2; next }
        /^\ttmpl / { ts = $3; td = $5; next }
        /^\t\tproto / { proto = $2; spi = $4; sub(/\(.*$/, "", spi); next }
        END { flush() }' |
        while read -r k dir src dst t ts td proto _ spi; do
            echo "$k $dir $src $dst $t $ts $td $proto spi $(_tb_hex "$spi")"
        done
}

# ipset and iptables-legacy (mangle FORWARD DSCP rules, nat PREROUTING REDIRECT) of a node.
_tb_netfilter_lines() { # NODE
    tb_exec "$1" ipset save 2>/dev/null | awk '
        $1 == "create" && $2 ~ /^mipd_dscp_/ { print "dscp_set " $2 }
        $1 == "add" && $2 ~ /^mipd_dscp_/ {
            split($3, p, ",")
            for (i = 1; i <= 2; i++) if (p[i] !~ /\//) p[i] = p[i] "/32"
            print "mark " $2 " " p[1] "," p[2] }'
    tb_exec "$1" iptables-legacy-save -t mangle 2>/dev/null | awk '
        function strtonum(x,  n, i) { # mawk has none: "0x2e" -> 46
            x = tolower(x); sub(/^0x/, "", x); n = 0
            for (i = 1; i <= length(x); i++) n = n * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
            return n }
        /^-A FORWARD / && /--match-set mipd_dscp_/ && /-j DSCP/ {
            for (i = 1; i <= NF; i++) { if ($i == "--match-set") set = $(i + 1); if ($i == "--set-dscp") d = $(i + 1) }
            printf "dscp_class %d %s\n", strtonum(d), set }'
    tb_exec "$1" iptables-legacy-save -t nat 2>/dev/null | awk '
        /^-A PREROUTING / && /-j REDIRECT/ {
            for (i = 1; i <= NF; i++) { if ($i == "-d") d = $(i + 1); if ($i == "--to-ports") p = $(i + 1) }
            print "udp_redirect " d " " p }'
}

kstate() { # NODE
    local ns; ns=$(_tb_ns "$1")
    {
        ip -n "$ns" -d -j link show type ipip | jq -r '.[] | select(.ifname != "tunl0")
            | "tunnel \(.ifname) remote \(.linkinfo.info_data.remote // "any")"'
        ip -n "$ns" -j route show table all | jq -r "$_TB_TABLE_JQ"' .[]
            | select((.type // "unicast") == "unicast" and (.table | tbl) != 255)
            | select((.protocol // "") != "kernel")
            | "route \(.dst) dev \(.dev // "-") table \(.table | tbl)"
              + (if .gateway then " via \(.gateway)" else "" end)'
        ip -n "$ns" -j rule show | jq -r "$_TB_TABLE_JQ"' .[]
            | select(.priority != 0 and .priority != 32766 and .priority != 32767)
            | "rule \(.priority) from \(.src // "all")\(if .srclen and .srclen != 32 then "/\(.srclen)" else "" end)"
              + (if .dst then " to \(.dst)\(if .dstlen and .dstlen != 32 then "/\(.dstlen)" else "" end)" else "" end)
              + " iif \(.iif // "-") table \(.table | tbl)"'
        ip -n "$ns" -j neigh show proxy | jq -r '.[] | "proxy \(.dst) dev \(.dev)"'
        _tb_xfrm_lines "$ns"
        _tb_netfilter_lines "$1"
    } | sort
}

kshadow() { # the JSON answer of `mipctl kernel --json` on stdin
    jq -r 'def hex: ltrimstr("0x") | ascii_downcase | sub("^0+(?=.)"; "") | "0x" + .;
        def halves: if endswith("/0") then ("0.0.0.0/1", "128.0.0.0/1") else . end;
        .items[]? |
        if .kind == "tunnel" then "tunnel \(.name) remote \(.remote)"
        elif .kind == "route" then
            "route \(.dst | sub("/32$"; "") | if . == "0.0.0.0/0" then "default" else . end)"
            + " dev \(.dev) table \(.table // 254 | if . == 0 then 254 else . end)"
            + (if .gw and .gw != "0.0.0.0" then " via \(.gw)" else "" end)
        elif .kind == "rule" then
            "rule \(.priority) from \(.src | sub("/32$"; "") | if . == "0.0.0.0/0" then "all" else . end)"
            + (if (.dst // "0.0.0.0/0") == "0.0.0.0/0" then "" else " to \(.dst | sub("/32$"; ""))" end)
            + " iif \(.iif // "-") table \(.table | if . == 0 then 254 else . end)"
        elif .kind == "proxy_arp" then "proxy \(.addr) dev \(.dev)"
        elif .kind == "xfrm_state" then "sa \(.proto) spi \(.spi | hex) src \(.src) dst \(.dst)"
        elif .kind == "xfrm_policy" then
            "sp \(.dir) \(.src) \(.dst) tmpl \(.tmpl.src) \(.tmpl.dst) \(.tmpl.proto) spi \(.tmpl.spi | hex)"
        elif .kind == "dscp_class" then ("dscp_set \(.set)", "dscp_class \(.dscp) \(.set)")
        elif .kind == "dscp_mark" then "mark \(.set) \(.src | halves),\(.dst | halves)"
        elif .kind == "udp_redirect" then "udp_redirect \(.dst) \(.port)"
        else "unknown \(.)" end' | sort
}

# kernel_vs_shadow NODE BASELINE_FILE SHADOW_JSON: the namespace's kernel state must be its
# baseline (taken before the daemon ran) plus exactly the daemon's shadow objects.
kernel_vs_shadow() {
    local node=$1 base=$2 shadow_json=$3 d extra missing n
    d=$(mktemp -d)
    kstate "$node" | sed '/^$/d' >"$d/now"
    printf '%s' "$shadow_json" | kshadow | sed '/^$/d' >"$d/shadow"
    sort -u "$base" "$d/shadow" | sed '/^$/d' >"$d/expected"
    extra=$(comm -23 "$d/now" "$d/expected")
    missing=$(comm -13 "$d/now" "$d/shadow")
    n=$(wc -l <"$d/shadow")
    rm -rf "$d"
    if [ -z "$extra" ] && [ -z "$missing" ]; then
        echo "$node: kernel = baseline + $n shadow object(s)"
        return 0
    fi
    [ -z "$extra" ] || echo "$node: in the kernel but not in the shadow: $(echo "$extra" | paste -sd, -)"
    [ -z "$missing" ] || echo "$node: in the shadow but not in the kernel: $(echo "$missing" | paste -sd, -)"
    return 1
}

# kernel_clean NODE BASELINE_FILE: nothing beyond the baseline is left.
kernel_clean() {
    local d extra
    d=$(mktemp -d)
    kstate "$1" >"$d/now"
    sort -u "$2" >"$d/base"
    extra=$(comm -23 "$d/now" "$d/base")
    rm -rf "$d"
    if [ -z "$extra" ]; then echo "$1: kernel back to its baseline"; return 0; fi
    echo "$1: leftovers: $(echo "$extra" | paste -sd, -)"
    return 1
}

# --- results ---------------------------------------------------------------------

tb_all_passed() {
    [ -s "$TB_RESULTS/checks.jsonl" ] &&
        jq -se 'all(.passed)' "$TB_RESULTS/checks.jsonl" >/dev/null
}

tb_results_json() { # SCENARIO FILE [EXTRA_JSON_OBJECT]
    local scenario=$1 file=$2 extra=${3:-'{}'}
    mkdir -p "$(dirname "$file")"
    jq -n --arg s "$scenario" --argjson extra "$extra" \
        --slurpfile checks "$TB_RESULTS/checks.jsonl" \
        --slurpfile metrics "$TB_RESULTS/metrics.jsonl" \
        '{scenario: $s,
          passed: (($checks | length) > 0 and ($checks | all(.passed))),
          checks: [$checks[] | {name, passed, detail}],
          metrics: ($metrics | add // {})} + $extra' >"$file.part"
    mv "$file.part" "$file"
}
