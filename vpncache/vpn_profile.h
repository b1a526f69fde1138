/*
 * VPN profile: one VPN of one user as the VPN information cache holds it
 * (seed [0033], Fig. 7) plus the VPN database fields of seed [0027], Fig. 5
 * (profile number, NAI, vpnshare) and DESIGN §5 (security type, algorithms).
 *
 * Orientation (decided here, see vpncache/README.md):
 *  - the selector is written in the up-link direction: src = the MN side
 *    (home address / prefix), dst = the correspondent side (CN prefix); the
 *    down-link direction is the same selector reversed.
 *  - src_gw is the tunnel end at the node that holds the profile, dst_gw the
 *    remote end (seed [0040]-[0041]: "the FA's profile has src GW = FA").
 *  - "up" SPI/keys protect traffic MN -> CN, "down" SPI/keys CN -> MN.
 *
 * Key material lives inside the struct (no separate allocation), is wiped with
 * OPENSSL_cleanse by vpn_profile_clear(), and is never printed unless asked.
 */
#ifndef VPN_PROFILE_H
#define VPN_PROFILE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Security type of the tunnel (seed [0033]: AH, ESP or encapsulation only). */
enum vpn_sec_type {
    VPN_SEC_ESP = 0,
    VPN_SEC_AH = 1,
    VPN_SEC_ENCAP = 2, /* IP-in-IP only, no IPsec */
};

/* Destination gateway type (seed [0034] Fig. 8): can it take VPN set-up dynamically? */
enum vpn_gw_type {
    VPN_GW_STATIC = 0,  /* e.g. a company gateway with a fixed SLA tunnel */
    VPN_GW_DYNAMIC = 1, /* a PCN */
};

/* Which tunnel leg of the path decision a cached profile describes (path.h). */
enum vpn_leg {
    VPN_LEG_NONE = 0, /* a database profile, not yet placed on a path */
    VPN_LEG_HA_GW,    /* HA <-> static gateway (SLA tunnel, seed [0026]) */
    VPN_LEG_FA_HA,    /* FA <-> HA (static case, seed [0040]) */
    VPN_LEG_FA_PCN,   /* FA <-> PCN (dynamic case, seed [0041]) */
};

/* ESP encryption algorithms. AES-GCM is RFC 4106 (16-octet ICV): its key
 * material is the AES key plus a 4-octet salt (RFC 4106 §8.1). */
enum vpn_enc_alg {
    VPN_ENC_NULL = 0,
    VPN_ENC_AES_CBC_128 = 1,
    VPN_ENC_AES_CBC_256 = 2,
    VPN_ENC_AES_GCM_128 = 3,
};

/* Integrity algorithms: HMAC-SHA1-96 (RFC 2404), HMAC-SHA256-128 (RFC 4868). */
enum vpn_integ_alg {
    VPN_INTEG_NONE = 0,
    VPN_INTEG_HMAC_SHA1 = 1,
    VPN_INTEG_HMAC_SHA256 = 2,
};

#define VPN_ENC_KEY_MAX 36   /* AES-256 key; AES-GCM-128 needs 16 + 4 salt */
#define VPN_INTEG_KEY_MAX 32 /* HMAC-SHA256 */
#define VPN_DSCP_MAX 63
#define VPN_ERR_MAX 160 /* size of the error buffers the functions below fill */

/* SPIs 1-255 are reserved by IANA and 0 is never sent (RFC 4303 §2.1); a
 * vpnshare=0 profile may carry 0 = "use the pre-configured default SA"
 * (seed [0028], [0062]). */
#define VPN_SPI_MIN 256u

struct vpn_keys {
    uint8_t enc[VPN_ENC_KEY_MAX];
    uint8_t integ[VPN_INTEG_KEY_MAX];
};

struct vpn_prefix {
    struct in_addr addr; /* network order; host bits must be zero */
    uint8_t len;         /* 0..32 */
};

struct vpn_profile {
    uint32_t number;            /* profile number (seed [0027]) */
    char *nai;                  /* owner's NAI (database form); NULL inside a cache session */
    uint8_t vpnshare;           /* 0 = shared gateway SA, 1 = per-user SA (seed [0027]-[0028]) */
    uint8_t sec;                /* enum vpn_sec_type */
    uint8_t gw_type;            /* enum vpn_gw_type of the correspondent's gateway */
    uint8_t leg;                /* enum vpn_leg */
    struct vpn_prefix src, dst; /* selector, up-link orientation */
    uint8_t dscp_up, dscp_down; /* 0 = no marking (seed [0060]) */
    uint8_t enc_alg;            /* enum vpn_enc_alg */
    uint8_t integ_alg;          /* enum vpn_integ_alg */
    bool has_keys;              /* keys below are valid */
    struct in_addr src_gw, dst_gw;
    uint32_t spi_up, spi_down;
    uint32_t lifetime; /* seconds; 0 = bound to the session's lifetime */
    struct vpn_keys key_up, key_down;
};

/* Zero-initialises p (no keys, ESP, aes-cbc-128 + hmac-sha256, vpnshare 1). */
void vpn_profile_init(struct vpn_profile *p);
/* Wipes the keys, frees the NAI, leaves p zeroed (reusable after init). */
void vpn_profile_clear(struct vpn_profile *p);
/* Deep copy (NAI duplicated); dst must be cleared or fresh. false on ENOMEM. */
bool vpn_profile_copy(struct vpn_profile *dst, const struct vpn_profile *src);
/* Sets the NAI (copied); NULL clears it. false on ENOMEM. */
bool vpn_profile_set_nai(struct vpn_profile *p, const char *nai);

/* Key lengths the algorithms need (0 for none). */
size_t vpn_enc_key_len(enum vpn_enc_alg a);
size_t vpn_integ_key_len(enum vpn_integ_alg a);
/* Whether the profile needs key material at all (vpnshare 1 and ESP/AH). */
bool vpn_profile_needs_keys(const struct vpn_profile *p);
/* Fills key_up/key_down with RAND_bytes for the profile's algorithms and sets
 * has_keys (seed [0038]: keys only for per-user SPIs).  false if RAND_bytes
 * fails or the profile needs no keys. */
bool vpn_profile_generate_keys(struct vpn_profile *p);

/* Checks the profile for consistency; on failure writes a precise reason
 * ("profile 3: ...") into err (VPN_ERR_MAX is enough) and returns false. */
bool vpn_profile_validate(const struct vpn_profile *p, char *err, size_t errlen);

/* Names <-> values.  Parsers return false on an unknown name. */
const char *vpn_sec_str(enum vpn_sec_type s); /* "esp" "ah" "encap-only" */
bool vpn_sec_parse(const char *s, enum vpn_sec_type *out);
const char *vpn_gw_type_str(enum vpn_gw_type t); /* "static" "dynamic" */
bool vpn_gw_type_parse(const char *s, enum vpn_gw_type *out);
const char *vpn_enc_str(enum vpn_enc_alg a); /* "aes-cbc-128" ... "null" */
bool vpn_enc_parse(const char *s, enum vpn_enc_alg *out);
const char *vpn_integ_str(enum vpn_integ_alg a); /* "hmac-sha256" ... "none" */
bool vpn_integ_parse(const char *s, enum vpn_integ_alg *out);
const char *vpn_leg_str(enum vpn_leg l); /* "none" "ha-gw" "fa-ha" "fa-pcn" */

/* DSCP: accepts CS0..CS7, AF11..AF43, EF, BE (= CS0) in any case, or a
 * decimal 0..63.  Printing gives the standard name or the decimal value. */
bool vpn_dscp_parse(const char *s, uint8_t *out);
const char *vpn_dscp_str(uint8_t dscp, char buf[8]);

/* "a.b.c.d/len"; parse rejects host bits set and len > 32 (a bare address is /32). */
bool vpn_prefix_parse(const char *s, struct vpn_prefix *out);
const char *vpn_prefix_str(const struct vpn_prefix *p, char buf[20]);

/* JSON object for one profile.  Keys are written only when with_keys is true
 * (hex); otherwise "keys":"<redacted>" (or "none" when there are none). */
void vpn_profile_json(const struct vpn_profile *p, bool with_keys, FILE *out);
/* Writes s as a JSON string literal (quotes and escapes included). */
void vpn_json_str(FILE *out, const char *s);

#endif
