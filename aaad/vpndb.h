/*
 * VPN database of the AAAH (DESIGN §5, seed [0027]-[0028] Fig. 5, [0034] Fig. 8):
 * users, VPN profiles, CN-GW table, default gateway SAs, home-address pools.
 * SQLite, versioned schema (PRAGMA user_version) migrated at open.
 *
 * Every function that can fail takes err/errlen (VPNDB_ERR_MAX is enough) and
 * writes a precise reason there.  Key material is wiped (OPENSSL_cleanse) from
 * every struct this API hands out once the caller is done (vpndb_user_clear,
 * vpn_profile_clear, vpndb_defsa_clear) and never printed by this library.
 * Single-threaded: one handle per thread.
 */
#ifndef VPNDB_H
#define VPNDB_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cngw.h"
#include "vpn_profile.h"

#define VPNDB_SCHEMA_VERSION 2
#define VPNDB_ERR_MAX 256
#define VPNDB_NAI_MAX 253 /* RFC 7542 §2.2 */
#define VPNDB_KEY_MIN 16  /* MN-AAA key: 128 bits at least (RFC 5944 §3.5.1 default) */
#define VPNDB_KEY_MAX 64
#define VPNDB_POOL_NAME_MAX 63

struct vpndb;

/* Opens (creating with mode 0600 if absent) and migrates to VPNDB_SCHEMA_VERSION.
 * A database newer than this code is refused.  NULL on error. */
struct vpndb *vpndb_open(const char *path, char *err, size_t errlen);
void vpndb_close(struct vpndb *db);
int vpndb_schema_version(struct vpndb *db);

/* ---- users ---------------------------------------------------------------- */

struct vpndb_user {
    char nai[VPNDB_NAI_MAX + 1];
    uint32_t spi; /* MN-AAA SPI (>= 256, RFC 5944 §3.5.1) */
    uint8_t key[VPNDB_KEY_MAX];
    size_t key_len;
    struct in_addr ha;                  /* home agent */
    struct in_addr hoa;                 /* static home address, or 0.0.0.0 ... */
    char pool[VPNDB_POOL_NAME_MAX + 1]; /* ... the pool to take it from ("" if static) */
};

void vpndb_user_clear(struct vpndb_user *u); /* wipes the key */
bool vpndb_user_validate(const struct vpndb_user *u, char *err, size_t errlen);
bool vpndb_user_add(struct vpndb *db, const struct vpndb_user *u, char *err, size_t errlen);
/* Replaces every field of the user u->nai. */
bool vpndb_user_update(struct vpndb *db, const struct vpndb_user *u, char *err, size_t errlen);
/* 1 found, 0 no such user (err says so), -1 error. */
int vpndb_user_get(struct vpndb *db, const char *nai, struct vpndb_user *out, char *err,
                   size_t errlen);
/* Removes the user and (cascade) the user's profiles. */
bool vpndb_user_remove(struct vpndb *db, const char *nai, char *err, size_t errlen);
/* Visits users in NAI order; the struct is wiped after each call. */
typedef void (*vpndb_user_cb)(const struct vpndb_user *u, void *arg);
bool vpndb_user_list(struct vpndb *db, vpndb_user_cb cb, void *arg, char *err, size_t errlen);

/* ---- VPN profiles (struct vpn_profile, database form) ------------------------
 * Stored: number, nai, vpnshare, dst, dscp up/down, sec, enc/integ, spi up/down,
 * lifetime, and keys when has_keys (the SLA keys of a static gateway).  src,
 * gateways, gw_type and leg are decided per session (path.h) and not stored. */

/* vpn_profile_validate() plus the database rules (NAI set, number >= 1, leg none). */
bool vpndb_profile_validate(const struct vpn_profile *p, char *err, size_t errlen);
bool vpndb_profile_add(struct vpndb *db, const struct vpn_profile *p, char *err, size_t errlen);
bool vpndb_profile_update(struct vpndb *db, const struct vpn_profile *p, char *err, size_t errlen);
int vpndb_profile_get(struct vpndb *db, const char *nai, uint32_t number, struct vpn_profile *out,
                      char *err, size_t errlen);
bool vpndb_profile_remove(struct vpndb *db, const char *nai, uint32_t number, char *err,
                          size_t errlen);
/* nai NULL = every user's.  Order: NAI, then number.  The profile is cleared after each call. */
typedef void (*vpndb_profile_cb)(const struct vpn_profile *p, void *arg);
bool vpndb_profile_list(struct vpndb *db, const char *nai, vpndb_profile_cb cb, void *arg,
                        char *err, size_t errlen);

/* ---- CN-GW table ---------------------------------------------------------- */

bool vpndb_cngw_add(struct vpndb *db, const struct cngw_entry *e, char *err, size_t errlen);
bool vpndb_cngw_remove(struct vpndb *db, struct vpn_prefix prefix, char *err, size_t errlen);
typedef void (*vpndb_cngw_cb)(const struct cngw_entry *e, void *arg);
bool vpndb_cngw_list(struct vpndb *db, vpndb_cngw_cb cb, void *arg, char *err, size_t errlen);
/* Adds every stored entry to t (which may already hold entries). */
bool vpndb_cngw_load(struct vpndb *db, struct cngw_table *t, char *err, size_t errlen);

/* ---- default gateway SAs (vpnshare 0, seed [0028], [0062]) ----------------- */

struct vpndb_defsa {
    struct in_addr src, dst; /* gateway pair, one direction */
    uint32_t spi;
    uint8_t sec;       /* enum vpn_sec_type: esp or ah */
    uint8_t enc_alg;   /* enum vpn_enc_alg */
    uint8_t integ_alg; /* enum vpn_integ_alg */
    bool has_keys;
    struct vpn_keys keys;
};

void vpndb_defsa_clear(struct vpndb_defsa *s);
bool vpndb_defsa_validate(const struct vpndb_defsa *s, char *err, size_t errlen);
bool vpndb_defsa_add(struct vpndb *db, const struct vpndb_defsa *s, char *err, size_t errlen);
bool vpndb_defsa_remove(struct vpndb *db, struct in_addr src, struct in_addr dst, char *err,
                        size_t errlen);
typedef void (*vpndb_defsa_cb)(const struct vpndb_defsa *s, void *arg);
bool vpndb_defsa_list(struct vpndb *db, vpndb_defsa_cb cb, void *arg, char *err, size_t errlen);

/* ---- home-address pools (seeds 000/001) ------------------------------------ */

bool vpndb_pool_add(struct vpndb *db, const char *name, struct vpn_prefix prefix, char *err,
                    size_t errlen);
/* Refused while addresses are allocated or users name the pool. */
bool vpndb_pool_remove(struct vpndb *db, const char *name, char *err, size_t errlen);
typedef void (*vpndb_pool_cb)(const char *name, struct vpn_prefix prefix, unsigned used,
                              unsigned size, void *arg);
bool vpndb_pool_list(struct vpndb *db, vpndb_pool_cb cb, void *arg, char *err, size_t errlen);
/* Binds the lowest free host address of the pool to session (idempotent: the
 * same session gets its address again).  Network and broadcast addresses are
 * skipped for prefixes up to /30.  false when the pool is exhausted. */
bool vpndb_pool_alloc(struct vpndb *db, const char *pool, const char *session, struct in_addr *out,
                      char *err, size_t errlen);
/* Frees the session's address; returns how many were freed (0 or 1), -1 on error. */
int vpndb_pool_free(struct vpndb *db, const char *session, char *err, size_t errlen);

/* ---- helpers --------------------------------------------------------------- */

/* Hex (even length, no separators) -> bytes; false if malformed or longer than max. */
bool vpndb_hex_parse(const char *hex, uint8_t *out, size_t max, size_t *len);

#endif
