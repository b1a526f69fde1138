#!/bin/bash
# End-to-end test of vpnadm (aaad/vpnadm.c): provisions scenario 1 and 4 of the
# seeds (a user, profiles, CN-GW entries, a default SA, a pool) in a temporary
# database, lists them as tables and JSON (checked with jq), and checks that bad
# input gives the documented exit status (1 error, 2 usage) and a precise message.
# Usage: bash test_vpnadm.sh BUILD_DIR   (or MIP_BUILD_DIR / VPNADM in the environment)
set -uo pipefail

BUILD=${1:-${MIP_BUILD_DIR:-}}
VPNADM=${VPNADM:-}
if [ -z "$VPNADM" ]; then
    [ -n "$BUILD" ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
    VPNADM=$BUILD/aaad/vpnadm
fi
[ -x "$VPNADM" ] || { echo "vpnadm not found: $VPNADM" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq missing" >&2; exit 2; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
DB=$T/vpn.db
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
v() { "$VPNADM" -d "$DB" "$@"; }

# run NAME EXPECTED_RC EXPECTED_STDERR_SUBSTRING -- ARGS...
expect() {
    local name=$1 rc=$2 msg=$3
    shift 4
    local out got
    out=$("$VPNADM" -d "$DB" "$@" 2>&1 >/dev/null)
    got=$?
    if [ "$got" -eq "$rc" ] && [[ "$out" == *"$msg"* ]]; then
        ok "$name"
    else
        bad "$name: rc $got (want $rc), stderr: $out (want: $msg)"
    fi
}

step() { # NAME ARGS... : must succeed
    local name=$1
    shift
    local out
    if out=$("$VPNADM" -d "$DB" "$@" 2>&1); then ok "$name"; else bad "$name: $out"; fi
}

KEY=00112233445566778899aabbccddeeff

# ---- provisioning --------------------------------------------------------------
step "schema creates the database" schema
[ "$(v schema)" = "2" ] && ok "schema version 2" || bad "schema version: $(v schema)"
[ "$(stat -c %a "$DB")" = "600" ] && ok "database file mode 0600" ||
    bad "database file mode $(stat -c %a "$DB")"

step "pool add" pool add home 10.10.0.0/24
step "user add alice (static HoA)" user add alice@example.com --spi 1000 --key $KEY \
    --ha 192.0.2.1 --hoa 10.10.0.100
step "user add bob (pool)" user add bob@example.com --spi 1001 --key $KEY --ha 192.0.2.1 \
    --pool home
step "profile 1 (company, static GW)" profile add alice@example.com --num 1 \
    --dst 172.16.50.0/24 --dscp-up EF --dscp-down AF41 --sec esp --spi-up 0x1001 \
    --spi-down 0x2001 --gen-keys
step "profile 2 (partner, PCN)" profile add alice@example.com --num 2 --dst 172.20.5.0/24 \
    --dscp-up AF31 --dscp-down 10 --enc aes-gcm-128 --spi-up 0x1002 --spi-down 0x2002 \
    --lifetime 3600
step "profile 3 (shared SA)" profile add alice@example.com --num 3 --dst 172.16.60.0/24 \
    --vpnshare 0 --spi-up 0 --spi-down 0
step "profile 1 of bob (encap)" profile add bob@example.com --num 1 --dst 10.99.0.0/16 \
    --sec encap
step "cngw static" cngw add 172.16.50.0/24 198.51.100.50 static
step "cngw dynamic" cngw add 172.20.0.0/16 198.51.100.70 dynamic
step "defsa" defsa add 192.0.2.1 198.51.100.50 --spi 4096 --gen-keys
step "defsa with explicit key" defsa add 198.51.100.50 192.0.2.1 --spi 4097 \
    --enc aes-gcm-128 --key 000102030405060708090a0b0c0d0e0f10111213

# ---- listing: JSON ----------------------------------------------------------------
J=$(v user list --json)
[ "$(jq length <<<"$J")" = 2 ] && ok "user list --json: 2 users" || bad "user list: $J"
[ "$(jq -r '.[0].nai + " " + .[0].hoa + " " + (.[1].pool)' <<<"$J")" = \
    "alice@example.com 10.10.0.100 home" ] && ok "user fields" || bad "user fields: $J"
[ "$(jq -r '.[0].key' <<<"$J")" = "<redacted>" ] && ok "user key redacted" ||
    bad "user key shown: $J"
grep -q "$KEY" <<<"$(v user list; v user list --json)" && bad "key printed without --show-keys" ||
    ok "key never printed without --show-keys"
[ "$(v --show-keys user list --json | jq -r '.[0].key')" = "$KEY" ] &&
    ok "--show-keys prints the key" || bad "--show-keys"

J=$(v profile list alice@example.com --json)
[ "$(jq length <<<"$J")" = 3 ] && ok "profile list NAI: 3 profiles" || bad "profiles: $J"
[ "$(jq -r '.[0] | [.profile, .dst, .dscp_up, .dscp_down, .sec, .enc, .integ, .spi_up,
    .spi_down, .keys] | map(tostring) | join(" ")' <<<"$J")" = \
    "1 172.16.50.0/24 EF AF41 esp aes-cbc-128 hmac-sha256 4097 8193 <redacted>" ] &&
    ok "profile 1 fields" || bad "profile 1: $(jq -c '.[0]' <<<"$J")"
[ "$(jq -r '.[1] | [.enc, .integ, .dscp_up, .dscp_down, .lifetime, .keys] |
    map(tostring) | join(" ")' <<<"$J")" = "aes-gcm-128 none AF31 AF11 3600 none" ] &&
    ok "profile 2 fields" || bad "profile 2: $(jq -c '.[1]' <<<"$J")"
[ "$(jq -r '.[2] | [.vpnshare, .spi_up] | map(tostring) | join(" ")' <<<"$J")" = "0 0" ] &&
    ok "profile 3 shared SA" || bad "profile 3: $(jq -c '.[2]' <<<"$J")"
K=$(v --show-keys profile list alice@example.com --json | jq -r '.[0].keys.up')
[ ${#K} = 96 ] && ok "profile 1 keys (16 + 32 octets) with --show-keys" || bad "keys: $K"
[ "$(v profile list --json | jq length)" = 4 ] && ok "profile list (all users)" ||
    bad "profile list all"
[ "$(v cngw list --json | jq -r 'map(.prefix + ">" + .gw + ":" + .type) | join(",")')" = \
    "172.16.50.0/24>198.51.100.50:static,172.20.0.0/16>198.51.100.70:dynamic" ] &&
    ok "cngw list --json" || bad "cngw: $(v cngw list --json)"
[ "$(v defsa list --json | jq -r 'map(.spi) | join(",")')" = "4096,4097" ] &&
    ok "defsa list --json" || bad "defsa: $(v defsa list --json)"
[ "$(v pool list --json | jq -c '.[0]')" = \
    '{"name":"home","prefix":"10.10.0.0/24","used":0,"size":254}' ] && ok "pool list --json" ||
    bad "pool: $(v pool list --json)"
[ "$(v schema --json | jq .schema_version)" = 2 ] && ok "schema --json" || bad "schema --json"

# ---- listing: tables ------------------------------------------------------------------
TBL=$(v profile list alice@example.com)
[ "$(head -1 <<<"$TBL" | awk '{print $1, $2, $4}')" = "NAI NUM DST" ] && ok "table header" ||
    bad "table header: $TBL"
[ "$(wc -l <<<"$TBL")" = 4 ] && ok "table rows" || bad "table rows: $TBL"
# columns aligned: the DST column starts at the same offset on every line
cols=$(awk '{print index($0, $4)}' <<<"$TBL" | sort -u | wc -l)
[ "$cols" = 1 ] && ok "table columns aligned" || bad "columns not aligned: $TBL"
grep -q "<redacted>" <<<"$TBL" && ok "table keys redacted" || bad "table keys: $TBL"

# ---- changes ----------------------------------------------------------------------------
step "profile set" profile set alice@example.com --num 2 --dscp-down CS3 --lifetime 60
[ "$(v profile list alice@example.com --json | jq -r '.[1].dscp_down + " " + (.[1].lifetime|tostring)')" = "CS3 60" ] &&
    ok "profile set applied" || bad "profile set"
step "user set" user set bob@example.com --hoa 10.10.0.200 --spi 2000
[ "$(v user list --json | jq -r '.[1] | [.hoa, (.pool|tostring), (.spi|tostring)] | join(" ")')" = \
    "10.10.0.200 null 2000" ] && ok "user set applied" || bad "user set: $(v user list --json)"
step "pool del (unused now)" pool del home
step "cngw del" cngw del 172.20.0.0/16
[ "$(v cngw list --json | jq length)" = 1 ] && ok "cngw del applied" || bad "cngw del"
step "defsa del" defsa del 198.51.100.50 192.0.2.1
step "profile del" profile del alice@example.com --num 3
step "user del (cascades)" user del bob@example.com
[ "$(v profile list --json | jq length)" = 2 ] && ok "user del removed bob's profile" ||
    bad "cascade: $(v profile list --json)"

# ---- bad input ---------------------------------------------------------------------------
expect "dscp out of range" 1 "profile 3: dscp_up 70 out of range 0-63" -- \
    profile add alice@example.com --num 3 --dst 10.0.0.0/8 --dscp-up 70 --spi-up 300 --spi-down 301
expect "host bits in --dst" 1 '--dst: "10.0.0.1/8" is not a prefix' -- \
    profile add alice@example.com --num 3 --dst 10.0.0.1/8 --spi-up 300 --spi-down 301
expect "reserved SPI" 1 "profile 3: SPI up 200 is reserved" -- \
    profile add alice@example.com --num 3 --dst 10.0.0.0/8 --spi-up 200 --spi-down 301
expect "equal SPIs" 1 "SPI up and down are both 300" -- \
    profile add alice@example.com --num 3 --dst 10.0.0.0/8 --spi-up 300 --spi-down 300
expect "GCM with integrity" 1 "combined mode" -- \
    profile add alice@example.com --num 3 --dst 10.0.0.0/8 --spi-up 300 --spi-down 301 \
    --enc aes-gcm-128 --integ hmac-sha1
expect "unknown algorithm" 1 "unknown encryption algorithm des" -- \
    profile add alice@example.com --num 3 --dst 10.0.0.0/8 --enc des
expect "duplicate profile" 1 "profile 1 of alice@example.com already exists" -- \
    profile add alice@example.com --num 1 --dst 10.0.0.0/8 --spi-up 300 --spi-down 301
expect "profile of unknown user" 1 "profile 1: no user carol@example.com" -- \
    profile add carol@example.com --num 1 --dst 10.0.0.0/8 --spi-up 300 --spi-down 301
expect "key of wrong length" 1 "profile 3: --key-up must be 48 octets" -- \
    profile add alice@example.com --num 3 --dst 10.0.0.0/8 --spi-up 300 --spi-down 301 \
    --key-up 00 --key-down 00
expect "duplicate user" 1 "user alice@example.com already exists" -- \
    user add alice@example.com --spi 1000 --key $KEY --ha 192.0.2.1 --hoa 10.10.0.100
expect "short MN-AAA key" 1 "MN-AAA key is 4 octets, must be 16-64" -- \
    user add carol@example.com --spi 1000 --key 00112233 --ha 192.0.2.1 --hoa 10.10.0.101
expect "reserved MN-AAA SPI" 1 "MN-AAA SPI 12 is reserved" -- \
    user add carol@example.com --spi 12 --key $KEY --ha 192.0.2.1 --hoa 10.10.0.101
expect "bad HA address" 1 '--ha: "192.0.2" is not an IPv4 address' -- \
    user add carol@example.com --spi 1000 --key $KEY --ha 192.0.2 --hoa 10.10.0.101
expect "unknown pool" 1 'no pool named "nope"' -- \
    user add carol@example.com --spi 1000 --key $KEY --ha 192.0.2.1 --pool nope
expect "SPI not a number" 1 '--spi: "12x" is not a number' -- \
    user add carol@example.com --spi 12x --key $KEY --ha 192.0.2.1 --hoa 10.10.0.101
expect "hoa and pool" 2 "give --hoa or --pool, not both" -- \
    user add carol@example.com --spi 1000 --key $KEY --ha 192.0.2.1 --hoa 10.0.0.1 --pool p
expect "missing user options" 2 "user add needs --spi" -- user add carol@example.com
expect "unknown user" 1 "no user carol@example.com" -- user del carol@example.com
expect "cngw bad type" 1 "type maybe is not static or dynamic" -- \
    cngw add 10.0.0.0/8 198.51.100.1 maybe
expect "cngw duplicate" 1 "CN-GW entry for 172.16.50.0/24 already exists" -- \
    cngw add 172.16.50.0/24 198.51.100.1 static
expect "cngw gateway 0.0.0.0" 1 "CN-GW: 10.0.0.0/8: gateway 0.0.0.0" -- cngw add 10.0.0.0/8 0.0.0.0 static
expect "defsa needs a key" 2 "defsa add needs --spi" -- defsa add 192.0.2.1 198.51.100.9 --spi 5000
expect "unknown command" 2 "unknown command frob" -- frob
expect "unknown option" 2 "unknown option --frob" -- user list --frob
expect "missing value" 2 "--spi needs a value" -- user add x --spi
if "$VPNADM" --help | grep -q "profile add NAI"; then ok "--help"; else bad "--help"; fi
if out=$("$VPNADM" user list 2>&1); then bad "no database accepted"; else
    [ $? = 2 ] && [[ "$out" == *"no database"* ]] && ok "no database: usage error" ||
        bad "no database: $out"
fi
# a database from the future
FUT=$T/future.db
cp "$DB" "$FUT"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$FUT" "PRAGMA user_version = 9"
    out=$("$VPNADM" -d "$FUT" schema 2>&1)
    [ $? = 1 ] && [[ "$out" == *"schema version 9 is newer"* ]] && ok "future schema refused" ||
        bad "future schema: $out"
else
    echo "skip - future schema (no sqlite3 CLI)"
fi
# a new database made under a permissive umask is still 0600
(umask 000 && "$VPNADM" -d "$T/loose.db" schema >/dev/null)
[ "$(stat -c %a "$T/loose.db")" = "600" ] && ok "0600 under umask 000" ||
    bad "mode $(stat -c %a "$T/loose.db") under umask 000"
# a refused command line creates no database: the file appears only once a command is valid
for bad_cmd in "user add nobody@x --spi nope --key 00 --ha 10.0.0.1 --hoa 10.0.0.2" \
    "profile add" "cngw add 10.0.0.0/8" "user frobnicate x" "pool add"; do
    # shellcheck disable=SC2086 # the words of the command line
    "$VPNADM" -d "$T/none.db" $bad_cmd >/dev/null 2>&1
    rc=$?
    [ "$rc" != 0 ] && [ ! -e "$T/none.db" ] && ok "refused, no database made: $bad_cmd" ||
        bad "'$bad_cmd': rc $rc, database file $(test -e "$T/none.db" && echo made || echo absent)"
done

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
