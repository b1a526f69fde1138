/*
 * CN-GW address table (seed [0034], Fig. 8): correspondent address/netmask ->
 * the security gateway in front of it and whether that gateway can take VPN
 * set-up dynamically (PCN) or not (a static gateway with an SLA tunnel,
 * seed [0026]).  Looked up by a CN address with longest-prefix match
 * (a binary trie: at most 33 steps whatever the table size).
 */
#ifndef CNGW_H
#define CNGW_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "vpn_profile.h"

struct cngw_entry {
    struct vpn_prefix prefix;
    struct in_addr gw;
    enum vpn_gw_type type;
};

struct cngw_table;

struct cngw_table *cngw_new(void);
void cngw_free(struct cngw_table *t);
size_t cngw_count(const struct cngw_table *t);

/* Adds or replaces the entry for exactly this prefix.  Rejects a prefix with
 * host bits set, len > 32, gateway 0.0.0.0 or an unknown type (err says why). */
bool cngw_add(struct cngw_table *t, const struct cngw_entry *e, char *err, size_t errlen);
/* Removes the entry for exactly this prefix; false if there is none. */
bool cngw_remove(struct cngw_table *t, struct vpn_prefix prefix);
/* Exact-prefix lookup (NULL if none). */
const struct cngw_entry *cngw_get(const struct cngw_table *t, struct vpn_prefix prefix);
/* Longest-prefix match for one address (NULL if nothing covers it). */
const struct cngw_entry *cngw_lookup(const struct cngw_table *t, struct in_addr addr);
/* Longest entry that covers the whole prefix p (entry length <= p.len): the
 * gateway for a correspondent given as a prefix (seed [0039] S110). */
const struct cngw_entry *cngw_lookup_prefix(const struct cngw_table *t, struct vpn_prefix p);

/* Visits the entries in address order, shorter prefixes first. */
typedef void (*cngw_cb)(const struct cngw_entry *e, void *arg);
void cngw_foreach(const struct cngw_table *t, cngw_cb cb, void *arg);

#endif
