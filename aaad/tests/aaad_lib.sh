# Shared by the aaad script tests (sourced after tests/scripts/lib.sh; needs $TMP).
#
#   aaad_pki ID...            CA + DH group + one certificate per Diameter identity in $TMP
#                             (ECDSA P-256; CN = subjectAltName DNS = the identity, which is
#                             what a connecting freeDiameter peer checks)
#   aaad_pick                 a free TCP port p with p+1 free too (Port, SecPort), not given
#                             out before by this shell
#   aaad_fdconf FILE ID REALM PORT PEER... [-- RT_RULE...]
#                             a freeDiameter conf: TCP only, TLS credentials, one ConnectPeer
#                             per PEER ("identity:port" = TLS at once on port+1, the peer's
#                             SecPort; "identity:port:clear" = No_TLS on port); RT_RULEs go to
#                             an rt_default.fdx configuration file loaded by it
#   stop_pid PID              SIGTERM, bounded wait, SIGKILL

aaad_pki() {
    (
        umask 077
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/ca.key" &&
            openssl req -x509 -new -key "$TMP/ca.key" -days 2 -sha256 -subj "/CN=aaad test CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$TMP/ca.pem" &&
            openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out "$TMP/dh.pem" ||
            exit 1
        for id in "$@"; do
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/$id.key" &&
                openssl req -new -key "$TMP/$id.key" -subj "/CN=$id" -out "$TMP/$id.csr" &&
                printf '%s\n' "basicConstraints=CA:FALSE" \
                    "keyUsage=critical,digitalSignature,keyAgreement" \
                    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:$id" \
                    >"$TMP/$id.ext" &&
                openssl x509 -req -in "$TMP/$id.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
                    -CAcreateserial -days 2 -sha256 -extfile "$TMP/$id.ext" -out "$TMP/$id.pem" ||
                exit 1
        done
    ) >"$TMP/openssl.log" 2>&1 || {
        cat "$TMP/openssl.log"
        die "openssl could not make the certificates"
    }
}

_aaad_port_free() { ! grep -qi ":$(printf '%04X' "$1") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
_AAAD_USED=" "
# Sets AAAD_PORT (not echoed: a $(...) subshell would lose the record of used ports).
aaad_pick() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 30000))
        case "$_AAAD_USED" in *" $p "* | *" $((p + 1)) "* | *" $((p - 1)) "*) continue ;; esac
        if _aaad_port_free "$p" && _aaad_port_free $((p + 1)); then
            _AAAD_USED="$_AAAD_USED$p $((p + 1)) "
            AAAD_PORT=$p
            return 0
        fi
    done
    die "no free port"
}

aaad_fdconf() {
    local f=$1 id=$2 realm=$3 port=$4
    shift 4
    local peers=() rules=() in_rules=0 a
    for a in "$@"; do
        if [ "$a" = -- ]; then
            in_rules=1
        elif [ $in_rules = 1 ]; then
            rules+=("$a")
        else
            peers+=("$a")
        fi
    done
    {
        echo "Identity = \"$id\";"
        echo "Realm = \"$realm\";"
        echo "Port = $port;"
        echo "SecPort = $((port + 1));"
        echo "No_SCTP;"
        echo "No_IPv6;"
        echo "TcTimer = 2;"
        echo "TLS_Cred = \"$TMP/$id.pem\", \"$TMP/$id.key\";"
        echo "TLS_CA = \"$TMP/ca.pem\";"
        echo "TLS_DH_File = \"$TMP/dh.pem\";"
        if [ ${#rules[@]} -gt 0 ]; then
            printf '%s\n' "${rules[@]}" >"$f.rt"
            echo "LoadExtension = \"${AAAD_RT_DEFAULT:-/usr/lib/freeDiameter/rt_default.fdx}\" : \"$f.rt\";"
        fi
        local p pid pport
        for p in "${peers[@]}"; do
            pid=${p%%:*}
            pport=${p#*:}
            if [ "${pport%:clear}" != "$pport" ]; then
                # A link without TLS, on both ends (No_TLS: "transparent security").
                echo "ConnectPeer = \"$pid\" { ConnectTo = \"127.0.0.1\"; Port = ${pport%:clear}; No_SCTP; No_TLS; };"
            else
                # TLS at once on the peer's SecPort (no No_TLS / TLS_old_method).
                echo "ConnectPeer = \"$pid\" { ConnectTo = \"127.0.0.1\"; Port = $((pport + 1)); No_SCTP; };"
            fi
        done
    } >"$f"
}

stop_pid() {
    local p=$1
    [ -n "$p" ] || return 0
    kill -CONT "$p" 2>/dev/null
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}

# ctl SOCKET CMD: the daemon's JSON answer (mipctl speaks to any ctl.h socket).
ctl_at() { "$MIPCTL" -s "$1" --json "${@:2}"; }

# wait_open SOCKET N: until the daemon has N peers open (bounded: 60 s; TLS set-up of
# several peers at once is slow on a loaded 2-core CI machine).
wait_open() {
    for _ in $(seq 600); do
        [ "$(ctl_at "$1" status 2>/dev/null | jq -r '.peers_open // 0')" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
