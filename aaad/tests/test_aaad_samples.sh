#!/usr/bin/env bash
# The shipped sample configurations work: conf/aaad-home.conf, conf/aaad-foreign.conf and
# conf/freediameter/{aaah,aaaf-a}.conf with their rt_default rule files.
#
#   bash test_aaad_samples.sh BUILD_DIR      (ctest label "script"; needs openssl, jq,
#                                             freeDiameterd, rt_default.fdx)
#
# The files are copied with only their site-specific values replaced: /etc/freeDiameter and
# /usr/lib/freeDiameter paths, the testbed's ListenOn address (-> 127.0.0.1), the listening
# port (SecPort -> a free one), the database and control socket paths.  Then:
#   1. a stock freeDiameterd starts with each freeDiameter sample (rt_default loads its rules);
#   2. aaad --check-config accepts both aaad samples;
#   3. aaad starts with each sample (home with a vpnadm database), answers "status" on its
#      control socket with the sample's identity and role, and stops on SIGTERM with status 0.
set -u

BUILD_DIR=${1:-${MIP_BUILD_DIR:-}}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${MIP_SOURCE_DIR:-$HERE/../..}
# shellcheck source=../../tests/scripts/lib.sh
source "$SRC/tests/scripts/lib.sh"

[ -n "$BUILD_DIR" ] || die "usage: $0 BUILD_DIR"
AAAD=$(find_built "$BUILD_DIR" aaad/aaad) || exit 1
VPNADM=$(find_built "$BUILD_DIR" aaad/vpnadm) || exit 1
MIPCTL=$(find_built "$BUILD_DIR" mipd/mipctl) || exit 1
FDD=$(command -v freeDiameterd) || die "freeDiameterd not installed (Debian package freediameterd)"
FD_EXT_DIR=${MIP_FD_EXT_DIR:-/usr/lib/freeDiameter}
[ -f "$FD_EXT_DIR/rt_default.fdx" ] || die "$FD_EXT_DIR/rt_default.fdx missing (freediameter-extensions)"
command -v jq >/dev/null || die "jq not installed"

export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan.supp"
TMP=$(mktemp -d /var/tmp/aaadsamples.XXXXXX)
# shellcheck source=aaad_lib.sh
source "$HERE/aaad_lib.sh"
PID=
cleanup() {
    stop_pid "$PID"
    if [ -n "${AAAD_TEST_KEEP:-}" ]; then echo "kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

aaad_pki aaah.home.example aaaf.visit-a.example

# site FILE PORT: the sample with local paths, address and ports.
site() {
    sed -e "s#/etc/freeDiameter/pki/#$TMP/#g" -e "s#/etc/freeDiameter/#$TMP/#g" \
        -e "s#/usr/lib/freeDiameter/#$FD_EXT_DIR/#g" \
        -e 's#^ListenOn = "192\.0\.2\.[0-9]*";#ListenOn = "127.0.0.1";#' \
        -e "s#^SecPort = 5868;#SecPort = $2;#" \
        -e "s#\"/run/#\"$TMP/#" -e "s#/var/lib/aaad/#$TMP/#" "$1"
}
for f in aaah aaaf-a; do
    aaad_pick
    site "$SRC/conf/freediameter/$f.conf" "$AAAD_PORT" >"$TMP/$f.conf"
    cp "$SRC/conf/freediameter/rt_$f.conf" "$TMP/rt_$f.conf"
    grep -q "^SecPort = $AAAD_PORT;" "$TMP/$f.conf" || fail "$f.conf: no 'SecPort = 5868;' line to adapt"
done
site "$SRC/conf/aaad-home.conf" 0 >"$TMP/aaad-home.conf"
site "$SRC/conf/aaad-foreign.conf" 0 >"$TMP/aaad-foreign.conf"

# 1. stock freeDiameterd ----------------------------------------------------------------------
for f in aaah aaaf-a; do
    "$FDD" -c "$TMP/$f.conf" >"$TMP/fdd-$f.log" 2>&1 </dev/null &
    PID=$!
    state=timeout
    for _ in $(seq 200); do
        grep -q "freeDiameterd daemon initialized" "$TMP/fdd-$f.log" && state=ready && break
        kill -0 "$PID" 2>/dev/null || { state=exited && break; }
        sleep 0.1
    done
    stop_pid "$PID"
    PID=
    if [ $state = ready ] && grep -q "rt_default.fdx'\[$TMP/rt_$f.conf\], loaded" "$TMP/fdd-$f.log" &&
        ! grep -qiE "parse error|syntax error|Unrecognized text|ERROR: .*rt_default" "$TMP/fdd-$f.log"; then
        pass "freeDiameterd starts with conf/freediameter/$f.conf and rt_$f.conf"
    else
        fail "freeDiameterd with $f.conf: $state"
        sed 's/^/    | /' "$TMP/fdd-$f.log" | grep -iE "error|rt_default|conf" | head -n 20
    fi
done

# 2. --check-config --------------------------------------------------------------------------------
out=$("$AAAD" --role home -c "$TMP/aaad-home.conf" --check-config 2>&1)
[ $? = 2 ] && grep -q "database $TMP/vpn.db: No such file or directory (create it with vpnadm)" <<<"$out" &&
    pass "home without its database: refused ($out)" || fail "no database: $out"
"$VPNADM" -d "$TMP/vpn.db" user add alice@home.example --spi 1000 \
    --key 00112233445566778899aabbccddeeff --ha 10.10.0.1 --hoa 10.10.0.100 >/dev/null ||
    die "vpnadm failed"
for r in home foreign; do
    out=$("$AAAD" --role $r -c "$TMP/aaad-$r.conf" --check-config 2>&1) &&
        pass "conf/aaad-$r.conf: $out" || fail "conf/aaad-$r.conf: $out"
done

# 3. aaad with each sample ----------------------------------------------------------------------
for r in home foreign; do
    sock=$(sed -n 's/^control_socket = "\(.*\)";.*/\1/p' "$TMP/aaad-$r.conf")
    # rt_default 1.2.1 leaks its parser buffer (not ours): no leak report for this run.
    LSAN_OPTIONS=detect_leaks=0 "$AAAD" -c "$TMP/aaad-$r.conf" >"$TMP/aaad-$r.log" 2>&1 &
    PID=$!
    st=
    for _ in $(seq 200); do
        st=$("$MIPCTL" -s "$sock" --json status 2>/dev/null) && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    want_id=$([ $r = home ] && echo aaah.home.example || echo aaaf.visit-a.example)
    jq -e --arg r $r --arg id "$want_id" '.role == $r and .identity == $id' <<<"$st" >/dev/null &&
        pass "aaad --role $r runs with the samples: $(jq -c '{role, identity, realm}' <<<"$st")" ||
        fail "aaad $r: $st $(tail -n 5 "$TMP/aaad-$r.log")"
    kill -TERM "$PID"
    rc=124
    for _ in $(seq 100); do
        if ! kill -0 "$PID" 2>/dev/null; then
            wait "$PID"
            rc=$?
            break
        fi
        sleep 0.1
    done
    PID=
    [ $rc = 0 ] && pass "aaad $r: SIGTERM -> exit 0" || fail "aaad $r: SIGTERM rc=$rc"
done

echo "aaad samples: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
