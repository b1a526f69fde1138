#!/usr/bin/env bash
# tshark names RFC 4004 AVPs and, with dict/wireshark/mip4vpn-diameter.xml, our vendor AVPs in
# an AMR, AMA, HAR and HAA built with freeDiameter and our dictionary (issue 3, DESIGN §6).
#
#   bash test_dict_tshark.sh BUILD_DIR      (ctest; MIP_SOURCE_DIR/MIP_BUILD_DIR set)
#
# 1. mip4vpn_msggen builds the four messages with the freeDiameter API, parses each back
#    against the dictionary (our ABNF rules) and writes a pcap (raw IPv4, TCP 3868).
#    Negative: without the required MIP-MN-AAA-Auth the AMR must fail the rule check.
# 2. dict/wireshark/mkdatadir.sh makes a Wireshark data directory whose Diameter dictionary
#    includes our XML; tshark reads it through WIRESHARK_DATA_DIR. Wireshark ignores that
#    variable when run by root, so as root tshark runs as "nobody" (setpriv).
# 3. Per frame: command, AVP names and values (RFC 4004 and ours), request/answer pairing;
#    good IP/TCP checksums; no Malformed, no expert warning/error, no unknown AVP.
# 4. Negative: with the stock dictionary (or our XML under another vendor code) the same
#    capture shows unknown vendor AVPs and the clean-decode check fails.
# 5. Another vendor ID (4242) end to end.
set -u

BUILD_DIR=${1:-${MIP_BUILD_DIR:-}}
SRC_DIR=${MIP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MKDATA="$SRC_DIR/dict/wireshark/mkdatadir.sh"
TSHARK_TIMEOUT=60

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v tshark >/dev/null || die "tshark not installed"
[ -f "$MKDATA" ] || die "no $MKDATA"
[ -n "$BUILD_DIR" ] || die "usage: $0 BUILD_DIR"
GEN=$(find_built "$BUILD_DIR" dict/mip4vpn_msggen) || exit 1

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP" # tshark may run as nobody (below)
export TZ=UTC

# tshark with a given data directory (empty = the system one).
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || die "running as root needs setpriv (util-linux) to run tshark as nobody"
    RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
ts() {
    local datadir=$1
    shift
    local envs=(HOME="$TMP" XDG_CONFIG_HOME="$TMP/cfg")
    [ -n "$datadir" ] && envs+=(WIRESHARK_DATA_DIR="$datadir")
    timeout "$TSHARK_TIMEOUT" "${RUN_AS[@]}" env "${envs[@]}" tshark -n \
        -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE "$@"
}

# ---- 1. generate --------------------------------------------------------------------------
PCAP="$TMP/diam.pcap"
if ! "$GEN" "$PCAP" >"$TMP/frames.txt" 2>"$TMP/gen.err"; then
    cat "$TMP/gen.err"
    die "mip4vpn_msggen failed"
fi
chmod 644 "$PCAP"
cat "$TMP/frames.txt"
[ "$(grep -c '^frame [0-9]*: ' "$TMP/frames.txt")" -eq 4 ] || die "expected 4 frames"
pass "AMR, AMA, HAR, HAA built and parsed back against the dictionary (ABNF rules hold)"

if "$GEN" --omit-required "$TMP/bad.pcap" >/dev/null 2>"$TMP/bad.err"; then
    fail "an AMR without MIP-MN-AAA-Auth passed the dictionary rule check"
elif grep -q "AMR: dictionary check failed: DIAMETER_MISSING_AVP" "$TMP/bad.err"; then
    pass "negative: an AMR without MIP-MN-AAA-Auth fails the rule check (DIAMETER_MISSING_AVP)"
else
    fail "negative: unexpected failure of the AMR without MIP-MN-AAA-Auth"
    cat "$TMP/bad.err"
fi

# ---- 2. data directory with our dictionary -------------------------------------------------
DD="$TMP/wsdata"
bash "$MKDATA" "$DD" || die "mkdatadir.sh failed"
chmod -R a+rX "$DD"

# ---- 3. decode and check --------------------------------------------------------------------
decode() { # decode DATADIR PCAP OUT
    if ! ts "$1" -r "$2" -V >"$3" 2>"$3.err"; then
        cat "$3.err"
        return 1
    fi
    # Split per frame: $3.1 .. $3.N
    awk -v out="$3" '/^Frame [0-9]+:/ { n++ } n { print > (out "." n) }' "$3"
}

# clean_decode FILE: no Malformed, no expert warning/error, no unknown AVP/vendor, checksums ok.
clean_decode() {
    local f=$1 ok=0
    if grep -n -E "Malformed|Expert Info \((Warning|Error)|Unknown AVP|Unknown Vendor|AVP: Unknown\(|Checksum Status: Bad|checksum status: Bad" "$f" >"$f.bad"; then
        ok=1
    fi
    return $ok
}

if ! decode "$DD" "$PCAP" "$TMP/v"; then
    die "tshark failed"
fi
if grep -q -i "diameter.*dictionary\|xml.*error\|ERROR" "$TMP/v.err"; then
    fail "tshark complained while loading the dictionary"
    sed 's/^/    | /' "$TMP/v.err" | head -20
fi
if clean_decode "$TMP/v"; then
    pass "no Malformed, no expert warning/error, no unknown AVP, checksums good"
else
    fail "decode not clean:"
    sed 's/^/    | /' "$TMP/v.bad" | head -20
fi
n_good=$(grep -c "\[Checksum Status: Good\]" "$TMP/v")
n_hgood=$(grep -c "\[Header checksum status: Good\]" "$TMP/v")
[ "$n_good" -eq 4 ] && [ "$n_hgood" -eq 4 ] &&
    pass "4 good TCP and 4 good IPv4 checksums" ||
    fail "checksums: $n_good TCP / $n_hgood IP good, want 4/4"

# expect FRAME LABEL REGEX...: every REGEX (grep -E) must match a line of frame FRAME.
expect() {
    local fr=$1 label=$2 re missing=()
    shift 2
    for re in "$@"; do
        grep -q -E -- "$re" "$TMP/v.$fr" || missing+=("$re")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        pass "frame $fr ($label)"
    else
        fail "frame $fr ($label): not found:"
        printf '    | %s\n' "${missing[@]}"
    fi
}
V='f=V-- vnd=MIP4VPN'

expect 1 "AMR: RFC 4004 AVPs + service update + previous FA" \
    "Command Code: AA-Mobile-Node \(260\)" \
    "Request: Set" \
    "ApplicationId: Mobile IPv4 Application \(2\)" \
    "AVP: MIP-Reg-Request\(320\) l=74 f=-M- val=010207080a0a00640a0a0001c000020b" \
    "AVP: MIP-MN-AAA-Auth\(322\) l=56 f=-M-" \
    "AVP: MIP-MN-AAA-SPI\(341\) l=12 f=-M- val=256" \
    "AVP: MIP-Auth-Input-Data-Length\(338\) l=12 f=-M- val=50" \
    "AVP: MIP-Authenticator-Length\(339\) l=12 f=-M- val=16" \
    "AVP: MIP-Authenticator-Offset\(340\) l=12 f=-M- val=50" \
    "AVP: MIP-Mobile-Node-Address\(333\) l=14 f=-M- val=10.10.0.100" \
    "AVP: MIP-Home-Agent-Address\(334\) l=14 f=-M- val=10.10.0.1" \
    "AVP: MIP-Feature-Vector\(337\) l=12 f=-M-" \
    "AVP: MIP-FA-Challenge\(344\) l=24 f=-M- val=c0c1c2c3c4c5c6c7c8c9cacbcccdcecf" \
    "AVP: MIP-HA-to-FA-SPI\(323\) l=12 f=-M- val=768" \
    "AVP: MIP4VPN-Previous-FA-Address\(1023\) l=18 $V val=192.0.2.12" \
    "AVP: MIP4VPN-Service-Update-Request\(1024\) l=16 $V val=RELOAD-PROFILES \(1\)"

expect 2 "AMA: FA's profile, profile-cache marker, MSA" \
    "Command Code: AA-Mobile-Node \(260\)" \
    "Request: Not set" \
    "\[Request In: 1\]" \
    "AVP: Result-Code\(268\) l=12 f=-M- val=DIAMETER_SUCCESS \(2001\)" \
    "AVP: MIP-Reg-Reply\(321\) l=46 f=-M- val=030007080a0a00640a0a0001" \
    "AVP: MIP-FA-to-HA-MSA\(328\)" \
    "AVP: MIP-FA-to-HA-SPI\(318\) l=12 f=-M- val=769" \
    "AVP: MIP-Algorithm-Type\(345\) l=12 f=-M- val=HMAC-SHA-1 \(2\)" \
    "AVP: MIP-Session-Key\(343\) l=24 f=-M- val=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" \
    "AVP: MIP-MSA-Lifetime\(367\) l=12 f=-M- val=3600" \
    "AVP: MIP4VPN-Profile-Cache\(1022\) l=16 $V val=1" \
    "AVP: MIP4VPN-VPN-Profile\(1001\) l=476 $V" \
    "AVP: MIP4VPN-Profile-Number\(1002\) l=16 $V val=1" \
    "AVP: MIP4VPN-Source-Prefix\(1003\) l=18 $V val=10.10.0.100" \
    "AVP: MIP4VPN-Source-Prefix-Length\(1004\) l=16 $V val=32" \
    "AVP: MIP4VPN-Destination-Prefix\(1005\) l=18 $V val=172.16.50.0" \
    "AVP: MIP4VPN-Destination-Prefix-Length\(1006\) l=16 $V val=24" \
    "AVP: MIP4VPN-DSCP-Up\(1007\) l=16 $V val=46" \
    "AVP: MIP4VPN-DSCP-Down\(1008\) l=16 $V val=46" \
    "AVP: MIP4VPN-Security-Type\(1009\) l=16 $V val=ESP \(1\)" \
    "AVP: MIP4VPN-Tunnel-Source-Gateway\(1010\) l=18 $V val=192.0.2.11" \
    "AVP: MIP4VPN-Tunnel-Destination-Gateway\(1011\) l=18 $V val=10.10.0.1" \
    "AVP: MIP4VPN-Destination-Gateway-Type\(1012\) l=16 $V val=STATIC \(1\)" \
    "AVP: MIP4VPN-VPN-Share\(1025\) l=16 $V val=PER-USER \(1\)" \
    "AVP: MIP4VPN-SPI-Up\(1013\) l=16 $V val=8193" \
    "AVP: MIP4VPN-SPI-Down\(1014\) l=16 $V val=4097" \
    "AVP: MIP4VPN-Encryption-Key-Up\(1015\) l=44 $V val=(11){32}" \
    "AVP: MIP4VPN-Encryption-Key-Down\(1016\) l=44 $V val=(22){32}" \
    "AVP: MIP4VPN-Auth-Key-Up\(1017\) l=44 $V val=(33){32}" \
    "AVP: MIP4VPN-Auth-Key-Down\(1018\) l=44 $V val=(44){32}" \
    "AVP: MIP4VPN-Encryption-Algorithm\(1019\) l=16 $V val=ENCR_AES_CBC \(12\)" \
    "AVP: MIP4VPN-Integrity-Algorithm\(1020\) l=16 $V val=AUTH_HMAC_SHA2_256_128 \(12\)" \
    "AVP: MIP4VPN-Profile-Lifetime\(1021\) l=16 $V val=3600"

expect 3 "HAR: HA's profiles, MSAs, originating AAAF" \
    "Command Code: Home-Agent-MIP \(262\)" \
    "Request: Set" \
    "AVP: Authorization-Lifetime\(291\) l=12 f=-M- val=1800" \
    "AVP: MIP-Reg-Request\(320\) l=74 f=-M-" \
    "AVP: Destination-Host\(293\) l=23 f=-M- val=ha.home.example" \
    "AVP: MIP-MN-to-HA-MSA\(331\) l=68 f=-M-" \
    "AVP: MIP-MN-HA-SPI\(491\) l=12 f=-M- val=257" \
    "AVP: MIP-Replay-Mode\(346\) l=12 f=-M- val=Timestamps \(2\)" \
    "AVP: MIP-Nonce\(335\) l=24 f=-M- val=707172737475767778797a7b7c7d7e7f" \
    "AVP: MIP-HA-to-FA-MSA\(329\)" \
    "AVP: MIP-HA-to-FA-SPI\(323\) l=12 f=-M- val=768" \
    "AVP: MIP-Originating-Foreign-AAA\(347\) l=60 f=-M-" \
    "AVP: Origin-Host\(264\) l=28 f=-M- val=aaaf.visited.example" \
    "AVP: MIP4VPN-Profile-Cache\(1022\) l=16 $V val=2" \
    "AVP: MIP4VPN-Source-Prefix\(1003\) l=18 $V val=172.16.50.0" \
    "AVP: MIP4VPN-Tunnel-Source-Gateway\(1010\) l=18 $V val=10.10.0.1" \
    "AVP: MIP4VPN-Tunnel-Destination-Gateway\(1011\) l=18 $V val=192.0.2.11" \
    "AVP: MIP4VPN-Profile-Number\(1002\) l=16 $V val=2" \
    "AVP: MIP4VPN-Security-Type\(1009\) l=16 $V val=ENCAP-ONLY \(3\)" \
    "AVP: MIP4VPN-VPN-Share\(1025\) l=16 $V val=SHARED \(0\)" \
    "AVP: MIP4VPN-VPN-Share\(1025\) l=16 $V val=PER-USER \(1\)" \
    "AVP: MIP4VPN-Tunnel-Destination-Gateway\(1011\) l=18 $V val=203.0.113.1" \
    "AVP: MIP4VPN-Previous-FA-Address\(1023\) l=18 $V val=192.0.2.12"
n=$(grep -c "AVP: MIP4VPN-VPN-Profile(1001)" "$TMP/v.3")
[ "$n" -eq 2 ] && pass "frame 3: two VPN-Profile AVPs" || fail "frame 3: $n VPN-Profile AVPs, want 2"
# The ENCAP-ONLY profile carries no SPI/keys: 1 SPI-Up (from profile 1) in the frame.
n=$(grep -c "AVP: MIP4VPN-SPI-Up(1013)" "$TMP/v.3")
[ "$n" -eq 1 ] && pass "frame 3: the encap-only profile carries no SPI/keys" ||
    fail "frame 3: $n SPI-Up AVPs, want 1"

expect 4 "HAA: previous FA" \
    "Command Code: Home-Agent-MIP \(262\)" \
    "Request: Not set" \
    "\[Request In: 3\]" \
    "AVP: Result-Code\(268\) l=12 f=-M- val=DIAMETER_SUCCESS \(2001\)" \
    "AVP: MIP-FA-to-HA-SPI\(318\) l=12 f=-M- val=769" \
    "AVP: MIP4VPN-Previous-FA-Address\(1023\) l=18 $V val=192.0.2.12"

# ---- 4. negative: without our dictionary the check must fail ---------------------------------
if decode "" "$PCAP" "$TMP/stock"; then
    if ! clean_decode "$TMP/stock" && grep -q "Unknown AVP 1001 (vendor=" "$TMP/stock"; then
        pass "negative: stock dictionary leaves our AVPs unknown and the clean-decode check fails"
    else
        fail "negative: stock tshark decoded our vendor AVPs cleanly (is the check blind?)"
    fi
else
    fail "negative: tshark failed on the stock dictionary"
fi
DD2="$TMP/wsdata-other"
bash "$MKDATA" "$DD2" 1234 && chmod -R a+rX "$DD2"
if decode "$DD2" "$PCAP" "$TMP/other" && ! clean_decode "$TMP/other"; then
    pass "negative: our XML under another vendor code does not name vendor-32473 AVPs"
else
    fail "negative: vendor code in the XML seems not to matter"
fi

# ---- 5. another vendor ID end to end -----------------------------------------------------------
if "$GEN" --vendor 4242 "$TMP/v4242.pcap" >/dev/null 2>"$TMP/v4242.err"; then
    chmod 644 "$TMP/v4242.pcap"
    DD3="$TMP/wsdata-4242"
    bash "$MKDATA" "$DD3" 4242 && chmod -R a+rX "$DD3"
    if decode "$DD3" "$TMP/v4242.pcap" "$TMP/w" && clean_decode "$TMP/w" &&
        grep -q "AVP Vendor Id: .*(4242)" "$TMP/w" &&
        grep -q "AVP: MIP4VPN-Previous-FA-Address(1023) l=18 $V val=192.0.2.12" "$TMP/w"; then
        pass "vendor ID 4242: generated and decoded cleanly with the XML rewritten by mkdatadir.sh"
    else
        fail "vendor ID 4242 decode"
        [ -f "$TMP/w.bad" ] && sed 's/^/    | /' "$TMP/w.bad" | head
    fi
else
    fail "mip4vpn_msggen --vendor 4242 failed"
    cat "$TMP/v4242.err"
fi

echo "dict tshark: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
