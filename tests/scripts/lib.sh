# Shared by the script tests (sourced): pass/fail counters and tool lookup.
fails=0
passes=0
pass() {
    passes=$((passes + 1))
    echo "PASS: $*"
}
fail() {
    fails=$((fails + 1))
    echo "FAIL: $*"
}
die() {
    echo "FAIL: $*"
    exit 1
}
# find_built BUILD_DIR REL_PATH: the built program, or dies naming what is missing.
find_built() {
    local p="$1/$2"
    [ -x "$p" ] || p=$(find "$1" -type f -name "$(basename "$2")" -perm -u+x 2>/dev/null | head -n1)
    [ -n "$p" ] && [ -x "$p" ] || { echo "FAIL: $(basename "$2") not built under $1" >&2; return 1; }
    echo "$p"
}
