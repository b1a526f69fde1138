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
# Both sides are printed as sorted lines "tunnel NAME remote R", "route DST dev D table T
# [via G]", "rule PRIO from SRC iif I table T", "proxy ADDR dev D" so that they compare.

_TB_TABLE_JQ='def tbl: if . == null or . == "main" then 254 elif . == "local" then 255
  elif . == "default" then 253 else (tonumber? // .) end;'

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
              + " iif \(.iif // "-") table \(.table | tbl)"'
        ip -n "$ns" -j neigh show proxy | jq -r '.[] | "proxy \(.dst) dev \(.dev)"'
    } | sort
}

kshadow() { # the JSON answer of `mipctl kernel --json` on stdin
    jq -r '.items[]? |
        if .kind == "tunnel" then "tunnel \(.name) remote \(.remote)"
        elif .kind == "route" then
            "route \(.dst | sub("/32$"; "") | if . == "0.0.0.0/0" then "default" else . end)"
            + " dev \(.dev) table \(.table // 254 | if . == 0 then 254 else . end)"
            + (if .gw and .gw != "0.0.0.0" then " via \(.gw)" else "" end)
        elif .kind == "rule" then
            "rule \(.priority) from \(.src | sub("/32$"; "") | if . == "0.0.0.0/0" then "all" else . end)"
            + " iif \(.iif // "-") table \(.table | if . == 0 then 254 else . end)"
        elif .kind == "proxy_arp" then "proxy \(.addr) dev \(.dev)"
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
