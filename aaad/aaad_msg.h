/*
 * What aaad reads out of the Diameter messages it receives (RFC 4004, aaad/FLOWS.md): the AMR
 * (AAAH and AAAF), the AMA (AAAF, watching what it forwards), the HAA (AAAH), the STR (both),
 * and the HAR (diamtool's HA side).  In one place, with no state and no logging, so that the
 * fuzz target tests/fuzz/fuzz_diam_avp.c runs exactly the decoders the daemon runs.
 *
 * Every message must have been through fd_msg_parse_dict() (freeDiameter does it for what it
 * dispatches; aaad_msg_parse() for what the AAAF takes off the forwarding path).  Pointers in
 * the structs below point into the message and live as long as it does, except in
 * struct aaad_ama_in, which is self-contained (the AAAF copies it off a freeDiameter thread).
 */
#ifndef AAAD_MSG_H
#define AAAD_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mip_proto.h"
#include "vpn_avp.h"
#include "vpn_cache.h"
#include "vpn_profile.h"
#include "vpndb.h"

struct msg;

/* Base protocol AVPs and values (RFC 6733 §4.5, §8.11, §8.15, §7.1). */
#define AAAD_AVP_USER_NAME 1
#define AAAD_AVP_ORIGIN_HOST 264
#define AAAD_AVP_ORIGIN_REALM 296
#define AAAD_AVP_AUTH_SESSION_STATE 277
#define AAAD_AVP_ROUTE_RECORD 282
#define AAAD_AVP_AUTHORIZATION_LIFETIME 291
#define AAAD_AVP_TERMINATION_CAUSE 295
#define AAAD_CMD_STR 275
#define AAAD_STATE_MAINTAINED 0
#define AAAD_DIAMETER_SUCCESS 2001
#define AAAD_DIAMETER_UNABLE_TO_DELIVER 3002
#define AAAD_DIAMETER_UNKNOWN_SESSION_ID 5002
#define AAAD_DIAMETER_INVALID_AVP_VALUE 5004
#define AAAD_DIAMETER_MISSING_AVP 5005
/* Termination-Cause values (RFC 6733 §8.15) the AAAF tells apart (FLOWS.md "AAAF"). */
#define AAAD_TERM_LOGOUT 1
#define AAAD_TERM_BAD_ANSWER 3
#define AAAD_TERM_USER_MOVED 7

#define AAAD_ID_MAX 256     /* a DiameterIdentity and its NUL */
#define AAAD_WHY_MAX 320    /* reasons written below */
#define AAAD_MSA_KEY_MAX 64 /* MIP-Session-Key octets kept */

/* ---- AMR (RFC 4004 §5.1) ------------------------------------------------------------------ */

struct aaad_amr_in {
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1]; /* "" = absent */
    const uint8_t *rrq;          /* MIP-Reg-Request, NULL if absent */
    size_t rrq_len;
    bool rq_ok; /* rrq decodes; rq is valid */
    struct mip_reg_request rq;
    const uint8_t *chal; /* MIP-FA-Challenge, NULL if absent */
    size_t chal_len;
    bool service_update; /* MIP4VPN-Service-Update-Request (seed [0091]) */
    bool has_prev_fa;    /* MIP4VPN-Previous-FA-Address: the MN's notification */
    struct in_addr prev_fa;
    /* Non-zero: refuse the AMR with this Result-Code, why says precisely why (Session-Id or
     * User-Name too long: 5004; a malformed vendor AVP: 5004/5009/5014; MIP-MN-AAA-Auth
     * incomplete: 5005, or disagreeing with the request's MN-AAA extension, RFC 4004 §7.6-§7.9:
     * 5004).  AVPs that are simply absent are reported by the decision logic (aaah.h). */
    uint32_t rc;
    char why[AAAD_WHY_MAX];
};
void aaad_amr_read(struct msg *amr, struct aaad_amr_in *out);

/* MIP-Originating-Foreign-AAA of an AMR that reached the AAAH (RFC 4004 §7.11): the AMR's own,
 * else the agent right after the FA on the request's path.  The path is the Route-Records
 * (each agent appends the peer it received the request from, RFC 6733 §6.1.8; freeDiameter
 * also appends our own neighbour on reception), then source (the neighbour, "?" if unknown)
 * if not already last: hop 0 is the FA, hop 1 the AAAF; one hop means the FA talks to us
 * directly (false: no AAAF).  The AAAF's realm is the FA's (Origin-Realm): the AAAF serves the
 * FA's domain. */
bool aaad_amr_foreign_aaa(struct msg *amr, const char *source, char *host, size_t hostlen,
                          char *realm, size_t realmlen);

/* ---- AMA (what the AAAF keeps of the answers it forwards) --------------------------------- */

struct aaad_ama_in {
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    char origin_realm[AAAD_ID_MAX];
    uint32_t rc;       /* Result-Code (0 if absent) */
    bool has_lifetime; /* Authorization-Lifetime, else the reply's lifetime */
    uint32_t lifetime;
    struct in_addr hoa, ha; /* MIP-Mobile-Node-Address (else the reply's), -Home-Agent-Address */
    bool has_reply, reply_ok;
    uint8_t reply_code;
    bool has_fa_ha; /* MIP-FA-to-HA-MSA with SPI, algorithm and key (RFC 4004 §9.x) */
    uint32_t fa_ha_spi, fa_ha_alg, msa_lifetime;
    uint8_t fa_ha_key[AAAD_MSA_KEY_MAX];
    size_t fa_ha_key_len;
    bool has_prev_fa; /* MIP4VPN-Previous-FA-Address (inter-domain move, FLOWS.md) */
    struct in_addr prev_fa;
    /* The FA's VPN profiles, decoded only for a 2001 with a lifetime (what gets cached):
     * prof_rc 0 and profiles[0..n) (owned), or a vpn_avp Result-Code with prof_err. */
    int prof_rc;
    char prof_err[VPN_AVP_ERR_MAX];
    size_t n;
    struct vpn_profile *profiles;
};
/* 0, or ENOMEM (then prof_rc says so too).  Clear with aaad_ama_in_clear(). */
int aaad_ama_read(struct msg *ama, struct aaad_ama_in *out);
void aaad_ama_in_clear(struct aaad_ama_in *a); /* wipes the keys, frees the profiles */

/* ---- HAA (RFC 4004 §5.4) ------------------------------------------------------------------ */

struct aaad_haa_in {
    uint32_t rc;
    const uint8_t *reply; /* MIP-Reg-Reply, NULL if absent */
    size_t reply_len;
    bool reply_ok;
    uint8_t reply_code;
    enum mip_err reply_err; /* when !reply_ok */
    size_t reply_err_off;
    /* MIP4VPN-Previous-FA-Address: the care-of address of the binding the HA replaced
     * (FLOWS.md "HAA"); prev_fa_rc != 0 when the AVP is malformed (then ignored). */
    bool has_prev_fa;
    struct in_addr prev_fa;
    uint32_t prev_fa_rc;
};
void aaad_haa_read(struct msg *haa, struct aaad_haa_in *out);

/* ---- HAR (RFC 4004 §5.3; read by diamtool's HA and the fuzz target) --------------------- */

struct aaad_har_in {
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    const uint8_t *rrq;
    size_t rrq_len;
    bool rq_ok;
    struct mip_reg_request rq;
    bool has_lifetime;
    uint32_t lifetime;
    struct in_addr hoa, ha;
    uint32_t mn_ha_spi; /* MIP-MN-to-HA-MSA */
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *mn_ha_key; /* MIP-HA-to-MN-MSA's MIP-Session-Key */
    size_t mn_ha_key_len;
    uint32_t ha_fa_spi; /* MIP-HA-to-FA-MSA */
    const uint8_t *fa_ha_key;
    size_t fa_ha_key_len;
    bool has_prev_fa;
    struct in_addr prev_fa;
    uint32_t rc; /* a malformed vendor AVP: its Result-Code, why says which */
    char why[AAAD_WHY_MAX];
    size_t n;                     /* the HA's profiles (owned), when rc == 0 */
    struct vpn_profile *profiles; /* VPN_MAX_PROFILES slots */
};
/* 0 or ENOMEM.  Clear with aaad_har_in_clear(). */
int aaad_har_read(struct msg *har, struct aaad_har_in *out);
void aaad_har_in_clear(struct aaad_har_in *h);

/* ---- STR (RFC 6733 §8.4.1) ------------------------------------------------------------------ */

struct aaad_str_in {
    char sid[VPN_SESSION_ID_MAX + 1]; /* "" = absent or too long */
    char nai[VPNDB_NAI_MAX + 1];
    char origin_host[AAAD_ID_MAX];
    bool has_cause;
    uint32_t cause; /* Termination-Cause */
};
void aaad_str_read(struct msg *str, struct aaad_str_in *out);

#endif
