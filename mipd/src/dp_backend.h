/*
 * Private interface between the dataplane shadow (dataplane.c) and its
 * backends (dp_netlink.c, dp_recorder.c).  Agents include dataplane.h only;
 * unit tests may include this header for dp_recorder_check().
 */
#ifndef MIPD_DP_BACKEND_H
#define MIPD_DP_BACKEND_H

#include "dataplane.h"

#include <stddef.h>

/* Wraps a backend into a shadow; on allocation failure calls ops->destroy(be)
 * and returns NULL. */
struct dataplane *dp_new_with_backend(const struct dp_backend_ops *ops, void *be);
/* The backend object of dp if its ops are `ops`, else NULL. */
void *dp_backend_of(struct dataplane *dp, const struct dp_backend_ops *ops);

/*
 * A hashed set of dp_obj kept in insertion order (intrusive list).  Identity
 * (dp_obj_same): kind + ifname + a + b + plen + table + priority; refs and
 * ifindex are payload.  Tunnels are identified by kind + name only (a link's
 * kernel identity is its name).
 */
struct dp_entry {
    struct dp_obj obj;
    struct dp_entry *hnext;       /* bucket chain */
    struct dp_entry *prev, *next; /* insertion order */
};

struct dp_set {
    struct dp_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    struct dp_entry *head, *tail;
};

void dp_set_init(struct dp_set *s);
/* Frees every entry. */
void dp_set_fini(struct dp_set *s);
struct dp_entry *dp_set_find(const struct dp_set *s, const struct dp_obj *key);
/* Appends a copy of o (not checked for duplicates); NULL if out of memory. */
struct dp_entry *dp_set_insert(struct dp_set *s, const struct dp_obj *o);
/* Unlinks and frees e. */
void dp_set_remove(struct dp_set *s, struct dp_entry *e);

bool dp_obj_same(const struct dp_obj *x, const struct dp_obj *y);
/* One-line description of o as used in logs and the recorder, e.g.
 * "route_add 10.10.0.100/32 dev mipc0000201 table 0" with verb "route_add". */
void dp_obj_describe(const struct dp_obj *o, const char *verb, char *buf, size_t len);

/* Recorder only: 0 if the recorder's view of the kernel equals the shadow
 * (same objects, tunnel endpoints included), else -1 with a reason on stderr.
 * Returns -EINVAL if dp does not use the recorder backend. */
int dp_recorder_check(struct dataplane *dp);
/* Recorder only: number of objects in its view of the kernel. */
unsigned dp_recorder_kernel_count(struct dataplane *dp);

#endif
