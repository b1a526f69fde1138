/*
 * VPN information cache (seed [0032]-[0033], Fig. 7): per session ID (unique
 * while the user is attached) the user's VPN profiles, plus what an agent
 * needs to find the session again: the MN's NAI, home address and current FA
 * (seed [0057]: "link the mobility binding and the cache instance").
 *
 * One instance per daemon, owned by its event loop (DESIGN §4): no locking.
 * Lookups by session ID, NAI and home address are hash tables (O(1) average,
 * resized as the cache grows).  Profiles are deep copies; the cache wipes their
 * keys when a session is replaced or removed.
 */
#ifndef VPN_CACHE_H
#define VPN_CACHE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "vpn_profile.h"

#define VPN_SESSION_ID_MAX 253 /* octets; RFC 6733 puts no bound, we do */
#define VPN_MAX_PROFILES 64    /* per session */

struct vpn_session {
    char *id;
    char *nai;          /* may be NULL */
    struct in_addr hoa; /* 0.0.0.0 = not known yet (not indexed) */
    struct in_addr fa;  /* current FA / care-of address */
    time_t expires;     /* absolute (caller's clock) */
    bool updated;       /* "cache updated" flag (seed [0054], [0058]) */
    unsigned n_profiles;
    struct vpn_profile *profiles;
    /* private: hash chains and the insertion-ordered list */
    struct vpn_session *next_id, *next_nai, *next_hoa, *prev, *next;
};

struct vpn_cache;

struct vpn_cache *vpn_cache_new(void);
void vpn_cache_free(struct vpn_cache *c); /* wipes every key */
size_t vpn_cache_count(const struct vpn_cache *c);

/* Add or replace the session's VPN information.  Replacing is delete-then-set
 * (seed [0060]-[0061]): the previous profiles are wiped and freed, the new ones
 * copied in, and the "updated" flag set.  Every profile is validated first; on
 * any error nothing changes, err (VPN_ERR_MAX) says why and NULL is returned.
 * lifetime is in seconds from now. */
struct vpn_session *vpn_cache_set(struct vpn_cache *c, const char *session_id, const char *nai,
                                  struct in_addr hoa, struct in_addr fa,
                                  const struct vpn_profile *profiles, unsigned n, uint32_t lifetime,
                                  time_t now, char *err, size_t errlen);

struct vpn_session *vpn_cache_find(const struct vpn_cache *c, const char *session_id);
/* The most recently set session of that NAI / home address (NULL if none). */
struct vpn_session *vpn_cache_find_nai(const struct vpn_cache *c, const char *nai);
struct vpn_session *vpn_cache_find_hoa(const struct vpn_cache *c, struct in_addr hoa);

/* Removes and wipes a session (s must belong to c). */
void vpn_cache_remove(struct vpn_cache *c, struct vpn_session *s);
bool vpn_cache_remove_id(struct vpn_cache *c, const char *session_id);

/* Sets the home address once it is known (e.g. assigned from a pool). */
void vpn_cache_set_hoa(struct vpn_cache *c, struct vpn_session *s, struct in_addr hoa);

/* The MN moved from old_fa to new_fa (seed [0056] at the HA, [0059] at the
 * old FA, [0065] at the AAAF): every tunnel gateway of the session equal to
 * old_fa becomes new_fa, the session's current FA is set, and if anything
 * changed the "updated" flag is set.  Returns the number of gateway fields
 * rewritten. */
unsigned vpn_cache_move_fa(struct vpn_session *s, struct in_addr old_fa, struct in_addr new_fa);

/* Seed [0058]: read and clear the "cache updated" flag. */
bool vpn_cache_take_updated(struct vpn_session *s);

/* Extends the session's lifetime (seconds from now). */
void vpn_cache_refresh(struct vpn_session *s, uint32_t lifetime, time_t now);

/* Removes every session with expires <= now.  before_remove (may be NULL) is
 * called for each first, so the caller can undo kernel state.  Returns how
 * many were removed.  Linear in the cache size: call it from a periodic timer. */
typedef void (*vpn_session_cb)(struct vpn_session *s, void *arg);
size_t vpn_cache_expire(struct vpn_cache *c, time_t now, vpn_session_cb before_remove, void *arg);

/* Iteration in insertion order.  The current session may be removed only
 * after taking vpn_cache_next() of it. */
struct vpn_session *vpn_cache_first(const struct vpn_cache *c);
struct vpn_session *vpn_cache_next(const struct vpn_session *s);

/* JSON array of flat items, one per profile (a session without profiles gives
 * one item with "profile":null): session, nai, hoa, fa, profile, src, dst,
 * dscp_up, dscp_down, sec, src_gw, dst_gw, gw_type, leg, spi_up, spi_down,
 * lifetime_left.  Never contains key material. */
void vpn_cache_dump_json(const struct vpn_cache *c, time_t now, FILE *out);

#endif
