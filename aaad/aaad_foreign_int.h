/*
 * aaad, foreign role (AAAF): state shared by aaad_foreign.c (the VPN information cache kept from
 * the AMAs it forwards, expiry, dumps) and aaad_foreign_req.c (the AMRs and STRs it takes off
 * the forwarding path: intra-domain moves answered from the cache, STRs of sessions the AAAH
 * knows under another Session-Id).  Loop thread only.  Contract: aaad/FLOWS.md "AAAF".
 */
#ifndef AAAD_FOREIGN_INT_H
#define AAAD_FOREIGN_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "aaad.h"
#include "aaad_msg.h"
#include "hmap.h"
#include "loop.h"
#include "vpn_cache.h"

/* What the AAAF keeps per Session-Id beyond the VPN information cache.  A live entry has a
 * cache session under the same Session-Id; a retired one is the session of an FA the MN left by
 * an intra-domain move the AAAF answered: its STR ends here (FLOWS.md "STR at the AAAF"). */
struct fsess {
    struct hnode node; /* aaad_foreign.sess, by Session-Id */
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    char fa_host[AAAD_ID_MAX]; /* the FA's Diameter identity (the AMR's neighbour) */
    char realm[AAAD_ID_MAX];   /* the AAAH's realm (the AMA's Origin-Realm) */
    struct in_addr fa, ha, hoa;
    bool fa_local; /* the FA is a peer of our realm (an FA of this domain) */
    bool retired;
    time_t expires;                        /* retired entries: when they go */
    char next_sid[VPN_SESSION_ID_MAX + 1]; /* retired entries: the session that replaced it */
    /* MIP-FA-to-HA-MSA of the AAAH's AMA: handed on to the new FA of a local move. */
    bool has_fa_ha;
    uint32_t fa_ha_spi, fa_ha_alg;
    uint8_t fa_ha_key[AAAD_MSA_KEY_MAX];
    size_t fa_ha_key_len;
    bool has_prev_fa; /* the previous FA of the last move (the AMA's, or the local move's) */
    struct in_addr prev_fa;
    /* "" = the AAAH holds this Session-Id; else the one it holds (a local move made this
     * session, and no AMR of it reached the AAAH since). */
    char aaah_sid[VPN_SESSION_ID_MAX + 1];
    /* The retired session the local move that made this one came from, while that move can
     * still be undone (its registration at the HA is not known to have completed). */
    char moved_from[VPN_SESSION_ID_MAX + 1];
};

/* A forwarded AMR waiting for its AMA. */
struct fpend {
    struct hnode node;
    struct loop_timer timer;
    struct aaad_foreign *f;
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    char fa_host[AAAD_ID_MAX];
    struct in_addr fa;
    bool fa_local;
};

/* An FA's STR the AAAF answers once the AAAH has answered the STR the AAAF sent for the
 * Session-Id the AAAH holds. */
struct strx {
    struct aaad_foreign *f;
    struct msg *str; /* the FA's, answered once, then NULL */
    char sid[VPN_SESSION_ID_MAX + 1];
    char aaah_sid[VPN_SESSION_ID_MAX + 1];
    char fa_host[AAAD_ID_MAX];
    struct strx *prev, *next;
};

struct aaad_foreign {
    struct aaad *ad;
    struct vpn_cache *cache;
    struct hmap pending; /* struct fpend by Session-Id */
    struct hmap sess;    /* struct fsess by Session-Id */
    size_t n_retired;
    struct strx *strx;
    size_t n_strx;
    uint8_t hkey[16]; /* SipHash key: Session-Ids come from outside */
    struct loop_timer expire_timer;
};

/* ---- aaad_foreign.c ---- */
uint64_t foreign_hash(const struct aaad_foreign *f, const char *sid);
struct fsess *fsess_find(struct aaad_foreign *f, const char *sid);
/* The entry of sid, created (live, zeroed) when absent; a retired one becomes live again with
 * its fields reset.  NULL: out of memory. */
struct fsess *fsess_get(struct aaad_foreign *f, const char *sid);
void fsess_drop(struct aaad_foreign *f, struct fsess *s); /* wipes the key */
void fsess_retire(struct aaad_foreign *f, struct fsess *s, time_t expires);
struct fpend *pend_find(struct aaad_foreign *f, const char *sid);
void pend_drop(struct aaad_foreign *f, struct fpend *p);
/* Remembers a forwarded AMR until its AMA (amr_timeout_ms). */
void pend_add(struct aaad_foreign *f, const char *sid, const char *nai, struct in_addr fa,
              const char *fa_host, bool fa_local);
/* Removes the live session sid from the cache and its entry. */
void foreign_forget(struct aaad_foreign *f, const char *sid, const char *why);

/* ---- aaad_foreign_req.c ---- */
/* Registers the AMR/STR taker (aaad_take_requests). */
int foreign_req_start(struct aaad_foreign *f);
/* Frees the STRs still waiting for the AAAH's answer (after diam_stop). */
void foreign_req_free(struct aaad_foreign *f);

#endif
