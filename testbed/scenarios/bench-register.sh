# Benchmark "bench-register" (run by `testbed/bench register`; DESIGN §11, issue 3):
# registrations per second through the whole AAA chain, and the same hops' raw Diameter
# capacity measured in the same run.
# tb-world: aaa
#
#  1. N users in the VPN database, each with a home address and one VPN profile to the
#     company LAN behind the static gateway (so every registration runs the profile lookup,
#     the path decision, key generation, and the HA's and FA's kernel programming: ESP SAs,
#     policies, DSCP marks, the tunnel and routes).
#  2. regbench, on FA1's access link, registers the N mobile nodes through FA1 -> AAAF-A ->
#     relay -> AAAH -> HA and back, BENCH_WINDOW requests outstanding; then deregisters them.
#  3. Baseline: the AAA daemons and agents on the same nodes are replaced by the null
#     application (diamnull: AMR -> HAR -> HAA -> AMA with no logic; the AAAF by a stock
#     freeDiameterd with the AAAF's own routing); FA1's identity sends N AMRs with the same
#     window over the same TLS hops.
#  4. Metrics: rate, p50, p99 for both, and ratio = registrations/s / null AMR round trips/s.

BENCH_N=${TB_BENCH_N:-200}
BENCH_WINDOW=${TB_BENCH_WINDOW:-16}
BENCH_LIFETIME=${TB_BENCH_LIFETIME:-600}
REGBENCH=$BUILD/testbed/regbench
DIAMNULL=$BUILD/mipd/diam/diamnull
BENCH_HOA_BASE=10.10.16.1
BENCH_NAI_FMT='bench%u@home.example'

aaa_world_up static

# --- 1. users -------------------------------------------------------------------------------
KEY_BENCH=$(openssl rand -hex 16)
t0=$EPOCHREALTIME
{
    for ((i = 0; i < BENCH_N; i++)); do
        hoa=$(awk -v b="$BENCH_HOA_BASE" -v i="$i" 'BEGIN { split(b, o, "."); n = ((o[1]*256 + o[2])*256 + o[3])*256 + o[4] + i;
            printf "%d.%d.%d.%d", int(n/16777216)%256, int(n/65536)%256, int(n/256)%256, n%256 }')
        nai=$(printf "$BENCH_NAI_FMT" "$i")
        "$VPNADM" -d "$TB_VPNDB" user add "$nai" --spi 300 --key "$KEY_BENCH" --ha "$TB_HA_HOME" --hoa "$hoa" &&
            "$VPNADM" -d "$TB_VPNDB" profile add "$nai" --num 1 --dst "$TB_CN1_NET" --dscp-up EF \
                --dscp-down AF41 --sec esp --spi-up $((0x100000 + 2 * i)) \
                --spi-down $((0x100001 + 2 * i)) --gen-keys || exit 1
    done
} >/dev/null
check "provisioned $BENCH_N users with one VPN profile each" \
    expect_eq "users" "$("$VPNADM" -d "$TB_VPNDB" --json user list | jq 'length')" $((BENCH_N + 2))
say "provisioning took $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"

# The load generator: a namespace on FA1's access link that owns the users' home addresses.
mn_add bench 0.0.0.0
mn_attach bench fa1
tb_exec bench ip route add local 10.10.16.0/20 dev lo

# --- 2. the real chain ----------------------------------------------------------------------------
say -a bench "registering $BENCH_N MNs through FA1, $BENCH_WINDOW outstanding"
out=$(tb_exec bench "$REGBENCH" --iface mn0 --ha "$TB_HA_HOME" --count "$BENCH_N" \
    --nai-fmt "$BENCH_NAI_FMT" --hoa-base "$BENCH_HOA_BASE" --spi 300 --key "$KEY_BENCH" \
    --window "$BENCH_WINDOW" --lifetime "$BENCH_LIFETIME" --timeout-ms 10000 --dereg \
    2>"$TB_WORK/regbench.err") || true
echo "$out" >"$TB_WORK/regbench.json"
reg=$(jq -c 'select(.phase == "register")' <<<"$out")
dereg=$(jq -c 'select(.phase == "deregister")' <<<"$out")
say -a bench "register: $reg"
say -a bench "deregister: $dereg"
check "every registration through the chain accepted" \
    expect_eq "accepted" "$(jq -r '.accepted // 0' <<<"$reg")" "$BENCH_N" "($(jq -c '{denied, timeouts}' <<<"$reg" 2>/dev/null))"
check "every deregistration accepted" \
    expect_eq "accepted" "$(jq -r '.accepted // 0' <<<"$dereg")" "$BENCH_N"
check "no session left at the AAAH" expect_eq "sessions" "$(aaah_sessions)" 0
metric register_rate "$(jq -r '.rate // empty' <<<"$reg")"
metric register_p50_ms "$(jq -r '.p50_ms // empty' <<<"$reg")"
metric register_p99_ms "$(jq -r '.p99_ms // empty' <<<"$reg")"
metric deregister_rate "$(jq -r '.rate // empty' <<<"$dereg")"

# --- 3. the null application over the same hops --------------------------------------------------
say "baseline: null Diameter application on FA1, AAAF-A, AAAH and HA (same identities, TLS, relay)"
mipd_stop fa1
mipd_stop ha
aaad_stop aaah
aaad_stop aaafa
sleep 1
bg_start null-ha ha "$DIAMNULL" -c "$TB_WORK/fd-ha.conf" --serve
bg_start null-aaah aaah "$DIAMNULL" -c "$TB_WORK/fd-aaah.conf" --serve --chain-host "$(diam_id ha)"
bg_start null-aaafa aaafa "$FREEDIAMETERD" -c "$TB_WORK/fd-aaafa.conf"
wait_until 20 diam_links_tls aaah || true
wait_until 20 diam_links_tls aaafa || true
out=$(tb_exec fa1 "$DIAMNULL" -c "$TB_WORK/fd-fa1.conf" --send "$BENCH_N" --realm home.example \
    --window "$BENCH_WINDOW" --wait-peers 30 --start-delay-ms 3000 2>"$TB_WORK/null-send.log") || true
echo "$out" >"$TB_WORK/null.json"
say -a bench "null AMR round trips: $out"
check "every null AMR answered 2001" expect_eq "ok" "$(jq -r '.ok // 0' <<<"$out")" "$BENCH_N"
metric null_rate "$(jq -r '.rate // empty' <<<"$out")"
metric null_p50_ms "$(jq -r '.p50_ms // empty' <<<"$out")"
metric null_p99_ms "$(jq -r '.p99_ms // empty' <<<"$out")"
metric ratio_to_null "$(jq -rn --argjson r "$(jq '.rate // 0' <<<"$reg")" --argjson n "$(jq '.rate // 0' <<<"$out")" \
    'if $n > 0 then ($r / $n * 1000 | round / 1000) else null end')"
bg_stop null-aaafa TERM
bg_stop null-aaah TERM
bg_stop null-ha TERM
