/*
 * AAAH decision logic (issue 3 §3 "AAAH", DESIGN §5-§7, seeds [0029]-[0044],
 * [0068]-[0073], [0090]-[0095]): what the home AAA server does with an AMR,
 * independent of the Diameter transport.  The daemon's freeDiameter callbacks
 * (via its event loop) fill a struct aaah_amr from the AVPs, call
 * aaah_handle_amr() and turn the struct aaah_decision into the HAR (ha set,
 * MN-HA / FA-HA keys, profile-cache marker) and later the AMA (fa set,
 * previous FA, result codes).
 *
 * Per AMR: decode the MIP-Reg-Request, check NAI and challenge, verify the
 * MN-AAA authenticator (RFC 3012 / RFC 4721) with the user's key, assign the
 * home address (static, or from the user's pool when the MN asks 0.0.0.0 —
 * seeds 000/001), run the path decision (vpncache path.h) with per-user SPIs
 * from an allocator that avoids every SPI held by a live session, generate
 * keys (none for vpnshare 0 / the default SA, seed [0038]), and record the
 * session in a VPN information cache (vpn_cache.h) with the current FA.
 *
 * A later AMR for the same NAI is a re-registration; from another FA it is a
 * move (seed [0068]-[0073], DESIGN §7): the previous FA is reported, the FA is
 * rewritten in the cached profiles (vpn_cache_move_fa), the profile keys are
 * kept and a new FA-HA key is issued.  A previous FA the MN names is only
 * checked against this (prev_fa_mismatch): the cache wins.  With service_update set the database is
 * re-read regardless of the cache (seed [0090]-[0095]): new path, new keys.
 *
 * Single-threaded: one instance, owned by the daemon's event loop.
 */
#ifndef AAAH_H
#define AAAH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vpn_cache.h"
#include "vpn_profile.h"
#include "vpndb.h"

/* Diameter Result-Code values the AAAH answers (RFC 6733 §7.1). */
#define AAAH_DIAMETER_SUCCESS 2001
#define AAAH_DIAMETER_AUTHENTICATION_REJECTED 4001
#define AAAH_DIAMETER_AUTHORIZATION_REJECTED 5003
#define AAAH_DIAMETER_INVALID_AVP_VALUE 5004
#define AAAH_DIAMETER_MISSING_AVP 5005
#define AAAH_DIAMETER_UNABLE_TO_COMPLY 5012

#define AAAH_NONCE_LEN 16     /* MIP-Nonce (RFC 4004 §9.8) we generate */
#define AAAH_MN_HA_KEY_LEN 20 /* HMAC-SHA1 output (RFC 3957 §5 derivation) */
#define AAAH_FA_HA_KEY_LEN 16 /* HMAC-MD5 FA-HA authenticator key, RFC 5944 §3.5.1 default */
#define AAAH_REASON_MAX 256

struct aaah_config {
    /* Range of the per-user SPIs this AAAH hands out (FA-HA legs of vpnshare 1
     * profiles, MN-HA and FA-HA SPIs).  0/0 = 0x10000 .. 0x7fffffff. */
    uint32_t spi_min, spi_max;
    /* Upper bound on the registration lifetime granted (s); 0 = 3600. */
    uint32_t max_lifetime;
};

/* What the FA's AMR carries (RFC 4004 §5.1), already taken out of the AVPs. */
struct aaah_amr {
    const char *session_id; /* Session-Id */
    const char *nai;        /* User-Name; must equal the NAI extension */
    const uint8_t *reg_req; /* MIP-Reg-Request (the whole Mobile IP message) */
    size_t reg_req_len;
    struct in_addr fa;        /* the FA; 0.0.0.0 = the request's care-of address (RFC 5944
                                 §3.1: an FA care-of address is the FA's own address) */
    const uint8_t *challenge; /* MIP-FA-Challenge (NULL if absent) */
    size_t challenge_len;
    bool service_update; /* our vendor service-update AVP (seed [0091]) */
    /* The MN's previous-FA notification (MIP4VPN-Previous-FA-Address, from its CVSE): checked
     * against the cache, which wins (FLOWS.md "AAAH"). */
    bool has_prev_fa;
    struct in_addr prev_fa;
};

/* The profiles one node gets, and that node's address. */
struct aaah_profile_set {
    struct in_addr node;
    struct vpn_profile *p;
    unsigned n;
};

/* RFC 4004 key distribution (§1.2, §9.5-§9.10).  mn_ha_key is derived from
 * the MN-AAA key and the nonce as RFC 3957 §5 specifies:
 *     mn_ha_key = HMAC-SHA1(MN-AAA key, nonce || NAI)
 * so the MN can derive it from the nonce the HA relays.  fa_ha_key is random
 * (RFC 4004 MIP-Session-Key of MIP-FA-to-HA-MSA). */
struct aaah_keys {
    uint32_t mn_ha_spi;
    uint8_t nonce[AAAH_NONCE_LEN];
    uint8_t mn_ha_key[AAAH_MN_HA_KEY_LEN];
    uint32_t fa_ha_spi;
    uint8_t fa_ha_key[AAAH_FA_HA_KEY_LEN];
};

struct aaah_decision {
    uint32_t result_code; /* AAAH_DIAMETER_* */
    uint8_t mip_code;     /* Mobile IP reply code for the MN (0 accepted, else RFC 5944/3012) */
    char reason[AAAH_REASON_MAX]; /* precise, for logs; never key material */

    /* Valid when result_code == AAAH_DIAMETER_SUCCESS: */
    struct in_addr hoa, ha, fa;
    uint32_t lifetime; /* granted, seconds; 0 = deregistered */
    bool moved;        /* a move: prev_fa is the FA the MN left */
    struct in_addr prev_fa;
    /* The MN named a previous FA the cache disagrees with (mn_prev_fa): the cache's view is
     * the decision's; the caller logs and counts it. */
    bool prev_fa_mismatch;
    struct in_addr mn_prev_fa;
    bool profile_cache;             /* the profile-cache marker (seed [0037]) */
    uint32_t generation;            /* bumped whenever the session's VPN information changes */
    struct aaah_profile_set ha_set; /* HAR: the HA's profiles (ha-gw, fa-ha, fa-pcn) */
    struct aaah_profile_set fa_set; /* AMA: the FA's (and AAAF's) profiles */
    struct aaah_profile_set *pcn;   /* per PCN: the fa-pcn profiles it gets in a BU */
    unsigned n_pcn;
    unsigned n_plain; /* database profiles left to plain Mobile IP (no CN-GW entry) */
    bool has_keys;
    struct aaah_keys keys;
};

struct aaah;

/* db is borrowed (must outlive the aaah).  cfg may be NULL (defaults).
 * Loads the CN-GW table.  NULL on error (err says why). */
struct aaah *aaah_new(struct vpndb *db, const struct aaah_config *cfg, char *err, size_t errlen);
/* Ends every session (frees pool addresses) and wipes every key. */
void aaah_free(struct aaah *a);
/* Re-reads the CN-GW table from the database. */
bool aaah_reload_cngw(struct aaah *a, char *err, size_t errlen);

/* Decides on one AMR.  out is overwritten (free it with aaah_decision_free).
 * Returns 0 when accepted (result 2001), 1 when denied (out says why).
 * A deregistration (lifetime 0) is accepted with lifetime 0, the session's keys and empty
 * profile sets, and leaves the session in place: end it with aaah_session_end_nai() once the
 * HA has accepted the deregistration (FLOWS.md). */
int aaah_handle_amr(struct aaah *a, const struct aaah_amr *in, struct aaah_decision *out,
                    uint64_t now_ms);
/* Wipes the keys and frees the profile sets. */
void aaah_decision_free(struct aaah_decision *d);

/* Session end (STR, deregistration, lifetime expiry): frees the cache entry,
 * the keys (OPENSSL_cleanse), the SPIs and the pool address.  false if no such
 * session. */
bool aaah_session_end(struct aaah *a, const char *session_id);
/* The same for the NAI's session, whatever its Session-Id (deregistration after the HAA:
 * one session per NAI). */
bool aaah_session_end_nai(struct aaah *a, const char *nai);
/* Ends every session whose lifetime ran out; returns how many. */
size_t aaah_expire(struct aaah *a, uint64_t now_ms);

size_t aaah_session_count(const struct aaah *a);

/* One session as aaah_foreach_session() shows it (pointers valid during the callback). */
struct aaah_session_info {
    const char *session_id, *nai;
    struct in_addr hoa, ha, fa;
    time_t expires; /* absolute, seconds (the now_ms / 1000 clock of aaah_handle_amr) */
    unsigned n_ha_profiles, n_fa_profiles, n_plain;
    uint32_t generation;
    bool pool; /* the home address comes from a pool */
};
typedef void (*aaah_session_cb)(const struct aaah_session_info *s, void *arg);
/* Visits every session, newest first.  The callback must not change the aaah. */
void aaah_foreach_session(const struct aaah *a, aaah_session_cb cb, void *arg);
/* The AAAH's VPN information cache, read-only (for dumps), as two caches
 * keyed by the same session IDs, because one cache session holds at most one
 * profile per (number, leg): the HA's set (ha-gw, fa-ha, and the fa-pcn
 * profiles the PCNs get) and the FA's set.  Both record the current FA. */
const struct vpn_cache *aaah_cache_ha(const struct aaah *a);
const struct vpn_cache *aaah_cache_fa(const struct aaah *a);

#endif
