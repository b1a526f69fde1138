/*
 * DSCP marking through ipset + xtables (DESIGN §8): used by the netlink
 * dataplane backend.  Not thread-safe; one instance per daemon.
 */
#ifndef MIPD_DP_IPSET_H
#define MIPD_DP_IPSET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_IPSET_NAMSIZ 32

struct dp_ipset;

struct dp_ipset *dp_ipset_new(char *err, size_t errlen);
void dp_ipset_free(struct dp_ipset *s);
/* The reason of the last failure (libipset's or iptables-legacy's words). */
const char *dp_ipset_error(const struct dp_ipset *s);
/* "mipd_dscp_<dscp>" */
void dp_ipset_set_name(uint8_t dscp, char name[DP_IPSET_NAMSIZ]);

/* Creates the class's set (emptied if it was left behind) and its rule. */
int dp_ipset_class_add(struct dp_ipset *s, uint8_t dscp);
/* Removes the rule and destroys the set. */
int dp_ipset_class_del(struct dp_ipset *s, uint8_t dscp);
/* Adds / deletes the element src/splen,dst/dplen of the class's set.  Both
 * are idempotent (-exist: the goal state counts).  A /0 side is held as its
 * two /1 halves (hash:net,net takes prefixes 1..32 only). */
int dp_ipset_elem(struct dp_ipset *s, bool add, uint8_t dscp, struct in_addr src, uint8_t splen,
                  struct in_addr dst, uint8_t dplen);

/* Many element operations at once, as `ipset restore` does them: libipset
 * aggregates consecutive adds (deletes) to one set into few netlink
 * messages.  Sets each result; if the batch reports any error, every
 * operation is done again one by one to give each its own result. */
struct dp_ipset_op {
    bool add;
    uint8_t dscp;
    struct in_addr src, dst;
    uint8_t splen, dplen;
    int result; /* out */
};
void dp_ipset_batch(struct dp_ipset *s, struct dp_ipset_op *ops, size_t n);

#endif
