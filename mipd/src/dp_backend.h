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
 * (dp_obj_same): kind + ifname + a + b + plen + dplen + table + priority; refs and
 * ifindex are payload.  Tunnels are identified by kind + name only (a link's
 * kernel identity is its name).
 */
struct dp_entry {
    struct dp_obj obj;
    void *detail;                 /* xfrm kinds: struct dp_xfrm_state / dp_xfrm_policy (owned) */
    unsigned pending;             /* dp_xfrm_many bookkeeping (0 outside a batch) */
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
/* Same, with a copy of the xfrm description (key pointers cleared) for xfrm
 * kinds; detail is a struct dp_xfrm_state or dp_xfrm_policy as o->kind says. */
struct dp_entry *dp_set_insert_detail(struct dp_set *s, const struct dp_obj *o, const void *detail);
/* Unlinks and frees e. */
void dp_set_remove(struct dp_set *s, struct dp_entry *e);

/* One kernel operation of a batch (backend op xfrm_batch). */
struct dp_xfrm_kop {
    bool add;
    enum dp_obj_kind kind;          /* DP_OBJ_XFRM_STATE | DP_OBJ_XFRM_POLICY */
    const struct dp_xfrm_state *sa; /* with keys for an add */
    const struct dp_xfrm_policy *pol;
    int result; /* out: 0 / -errno */
};

/* One set-element operation of a mark batch (backend op mark_batch):
 * o is the DP_OBJ_MARK (a/plen -> b/dplen, class in table). */
struct dp_mark_kop {
    bool add;
    const struct dp_obj *o;
    int result; /* out: 0 / -errno */
};

/* The dp_obj (identity) of an SA / policy / mark / mark class. */
void dp_mark_obj(struct dp_obj *o, const struct dp_mark *m);
void dp_mark_class_obj(struct dp_obj *o, uint8_t dscp);
void dp_xfrm_state_obj(struct dp_obj *o, const struct dp_xfrm_state *sa);
void dp_xfrm_policy_obj(struct dp_obj *o, const struct dp_xfrm_policy *pol);
/* Copies without key pointers and padding garbage (comparable with memcmp). */
void dp_xfrm_state_norm(struct dp_xfrm_state *out, const struct dp_xfrm_state *in);
void dp_xfrm_policy_norm(struct dp_xfrm_policy *out, const struct dp_xfrm_policy *in);
/* Log lines (never keys): "xfrm_state_add esp spi 0x1000 192.0.2.1>192.0.2.11 enc cbc(aes)
 * auth hmac(sha256)", "xfrm_policy_add out 10.0.0.0/24>10.10.0.100/32 tmpl esp
 * 192.0.2.1>192.0.2.11 spi 0x1000 reqid 0 prio 100"; dels are shorter. */
void dp_xfrm_kop_describe(const struct dp_xfrm_kop *k, char *buf, size_t len);

/* XFRM over netlink (dp_xfrm.c), used by the netlink backend.  The socket is
 * opened on first use (*xs NULL).  Implements the xfrm_batch backend op. */
struct dp_xfrm_sock;
int dp_xfrm_sock_batch(struct dp_xfrm_sock **xs, struct dp_xfrm_kop *ops, size_t n);
void dp_xfrm_sock_free(struct dp_xfrm_sock *xs);

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
