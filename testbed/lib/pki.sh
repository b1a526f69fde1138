#!/usr/bin/env bash
# Testbed PKI for the Diameter links (DESIGN §6: every Diameter link is TLS).  Source it.
#
#   pki_init DIR                a CA (DIR/ca.pem, DIR/ca.key) and DH parameters (DIR/dh.pem)
#   pki_cert DIR IDENTITY       DIR/IDENTITY.pem + DIR/IDENTITY.key signed by the CA:
#                               subject CN = IDENTITY and subjectAltName DNS:IDENTITY
#   pki_cert_ca DIR IDENTITY CA_DIR   the same, signed by the CA in CA_DIR (negative tests)
#
# Private keys are created 0600 (umask 077 while openssl writes them).  Keys are ECDSA P-256:
# generation is instant even inside User-Mode Linux, and GnuTLS (freeDiameter's TLS) accepts
# them.  The DH parameters are the RFC 7919 ffdhe2048 group, so freeDiameter does not generate
# its own at start (seconds of CPU under UML).
#
# What freeDiameter 1.2.1 checks (libfdcore/cnxctx.c fd_tls_verify_credentials_2, p_cnx.c;
# tried by hand in namespaces with two freeDiameterd and a scripted TLS client):
#   - at start, its own certificate: it must verify against TLS_CA and carry the node's own
#     Identity as host name, or the daemon refuses to start ("The certificate owner does not
#     match the hostname");
#   - on both ends of a connection, the peer's chain against TLS_CA (another CA's certificate:
#     "hasn't got a known issuer"; no certificate: "Certificate is required"), its validity
#     dates;
#   - on the connecting side only, the host name (SAN dNSName, else CN) against the Diameter
#     identity of the ConnectPeer entry (gnutls_x509_crt_check_hostname).
#   The accepting side does not compare the client certificate's name with the CER's
#   Origin-Host: any certificate of the CA may claim any peer it has a ConnectPeer entry for
#   (CEA 2001 seen); unknown Origin-Hosts are refused (3010 DIAMETER_UNKNOWN_PEER, no acl_wl).
#   So one CA per trust domain, or a name check in the daemon, is what binds identities.

PKI_DAYS=${PKI_DAYS:-2}

_pki_openssl() { # quiet unless it fails
    local out rc=0
    out=$(openssl "$@" 2>&1) || rc=$?
    [ $rc = 0 ] || { echo "pki: openssl $1 failed: $out" >&2; return $rc; }
}

pki_init() { # DIR
    local dir=$1
    mkdir -p "$dir"
    (
        umask 077
        _pki_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" &&
            _pki_openssl req -x509 -new -key "$dir/ca.key" -days "$PKI_DAYS" -sha256 \
                -subj "/O=mip4vpn testbed/CN=mip4vpn testbed CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.pem" &&
            _pki_openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out "$dir/dh.pem"
    ) || return 1
    chmod 0644 "$dir/ca.pem" "$dir/dh.pem"
}

pki_cert_ca() { # DIR IDENTITY CA_DIR
    local dir=$1 id=$2 ca=$3
    case "$id" in *[!A-Za-z0-9.-]* | '') echo "pki: bad identity '$id'" >&2; return 1 ;; esac
    mkdir -p "$dir"
    (
        umask 077
        _pki_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$id.key" &&
            _pki_openssl req -new -key "$dir/$id.key" -subj "/O=mip4vpn testbed/CN=$id" \
                -out "$dir/$id.csr" &&
            printf '%s\n' "basicConstraints=CA:FALSE" \
                "keyUsage=critical,digitalSignature,keyAgreement" \
                "extendedKeyUsage=serverAuth,clientAuth" \
                "subjectAltName=DNS:$id" >"$dir/$id.ext" &&
            _pki_openssl x509 -req -in "$dir/$id.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
                -CAcreateserial -days "$PKI_DAYS" -sha256 -extfile "$dir/$id.ext" -out "$dir/$id.pem"
    ) || return 1
    rm -f "$dir/$id.csr" "$dir/$id.ext"
    chmod 0644 "$dir/$id.pem"
}

pki_cert() { pki_cert_ca "$1" "$2" "$1"; }
