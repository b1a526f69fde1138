/*
 * In-memory dataplane backend for unit tests.  Every backend call appends one
 * line to a log:
 *
 *   tunnel_add mipc000020b 192.0.2.1>192.0.2.11      tunnel_del mipc000020b
 *   route_add 10.10.0.100/32 dev mipc000020b table 0  (" via GW" before table)
 *   rule_add from 10.10.0.100/32 iif home0 table 100 prio 1000
 *   proxy_arp_add 10.10.0.100 dev home0               (and the *_del forms)
 *   garp home0 10.10.0.100
 *   udp_redirect_add 172.16.60.0/24 udp 434          (and udp_redirect_del)
 *   sysctl home0 send_redirects 0
 *   xfrm_state_add esp spi 0x1000 192.0.2.1>192.0.2.11 enc cbc(aes) auth hmac(sha256)
 *   xfrm_policy_add out 10.0.0.0/24>10.10.0.100/32 tmpl esp 192.0.2.1>192.0.2.11 spi 0x1000
 *     reqid 0 prio 100                                (one line; keys are never logged)
 *   xfrm_state_del esp spi 0x1000 192.0.2.1>192.0.2.11
 *   xfrm_policy_del out 10.0.0.0/24>10.10.0.100/32
 *   xfrm_batch 3                                      (before the lines of a batch of > 1)
 *   mark_class_add mipd_dscp_46 dscp 46               (and mark_class_del)
 *   mark_add 10.10.0.100/32>172.16.50.0/24 dscp 46    (and mark_del)
 *   mark_batch 3                                      (before the lines of a batch of > 1)
 *
 * A call failed by fault injection is logged with " -> -ERRNO" appended.
 * ifindex look-ups are neither logged nor subject to fault injection: any
 * name exists and gets a stable fake index (1000, 1001, ... in order of first
 * use).
 *
 * The recorder keeps its own view of the kernel with kernel semantics: adding
 * an object that exists fails with -EEXIST, removing one that does not with
 * -ENOENT (-ENODEV for links), a mark of a class whose set does not exist
 * fails with -ENOENT, a class that still has marks cannot go (-EBUSY, as
 * ipset refuses to destroy a set in use), so shadow bugs show up in tests;
 * dp_recorder_check() compares that view with the shadow.
 */
#include "dp_backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct rec_name {
    char name[DP_IFNAMSIZ];
};

struct recorder {
    char *log;
    size_t len, cap;
    int fail_next;          /* errno to fail the next call with, 0 = none */
    struct dp_set kernel;   /* view of the kernel, tunnels included */
    struct rec_name *names; /* fake ifindex i+1000 = names[i] */
    size_t nnames, capnames;
};

static void rec_vlog(struct recorder *r, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    size_t need = r->len + (size_t)n + 2;
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < need)
            cap *= 2;
        char *p = realloc(r->log, cap);
        if (!p)
            return;
        r->log = p;
        r->cap = cap;
    }
    vsnprintf(r->log + r->len, (size_t)n + 1, fmt, ap);
    r->len += (size_t)n;
    r->log[r->len] = '\0';
}

static void rec_log(struct recorder *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rec_vlog(r, fmt, ap);
    va_end(ap);
}

/* Logs the call described by line and consumes a pending injected fault:
 * returns 0 to proceed or the injected -errno. */
static int rec_call(struct recorder *r, const char *line)
{
    int err = r->fail_next;
    r->fail_next = 0;
    if (err) {
        rec_log(r, "%s -> %d\n", line, -err);
        return -err;
    }
    rec_log(r, "%s\n", line);
    return 0;
}

static int rec_ifindex(void *be, const char *ifname)
{
    struct recorder *r = be;
    for (size_t i = 0; i < r->nnames; i++)
        if (!strncmp(r->names[i].name, ifname, DP_IFNAMSIZ))
            return (int)(1000 + i);
    if (r->nnames == r->capnames) {
        size_t cap = r->capnames ? r->capnames * 2 : 16;
        struct rec_name *p = realloc(r->names, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        r->names = p;
        r->capnames = cap;
    }
    snprintf(r->names[r->nnames].name, DP_IFNAMSIZ, "%s", ifname);
    return (int)(1000 + r->nnames++);
}

static void tunnel_obj(struct dp_obj *o, const char *name, struct in_addr l, struct in_addr rem)
{
    memset(o, 0, sizeof(*o));
    o->kind = DP_OBJ_TUNNEL;
    snprintf(o->ifname, sizeof(o->ifname), "%s", name);
    o->a = l;
    o->b = rem;
}

static int rec_tunnel_add(void *be, const char *name, struct in_addr local, struct in_addr remote)
{
    struct recorder *r = be;
    struct dp_obj o;
    char line[128];
    tunnel_obj(&o, name, local, remote);
    dp_obj_describe(&o, "tunnel_add", line, sizeof(line));
    int err = rec_call(r, line);
    if (err)
        return err;
    if (dp_set_find(&r->kernel, &o))
        return -EEXIST;
    int idx = rec_ifindex(r, name);
    if (idx < 0)
        return idx;
    o.ifindex = idx;
    return dp_set_insert(&r->kernel, &o) ? idx : -ENOMEM;
}

static int rec_tunnel_del(void *be, const char *name)
{
    struct recorder *r = be;
    struct dp_obj o;
    char line[64];
    tunnel_obj(&o, name, (struct in_addr){0}, (struct in_addr){0});
    snprintf(line, sizeof(line), "tunnel_del %s", name);
    int err = rec_call(r, line);
    if (err)
        return err;
    struct dp_entry *e = dp_set_find(&r->kernel, &o);
    if (!e)
        return -ENODEV;
    dp_set_remove(&r->kernel, e);
    return 0;
}

static int rec_add(void *be, const struct dp_obj *o, const char *verb)
{
    struct recorder *r = be;
    char line[160];
    dp_obj_describe(o, verb, line, sizeof(line));
    int err = rec_call(r, line);
    if (err)
        return err;
    if (dp_set_find(&r->kernel, o))
        return -EEXIST;
    struct dp_obj copy = *o;
    copy.refs = 0;
    return dp_set_insert(&r->kernel, &copy) ? 0 : -ENOMEM;
}

static int rec_del(void *be, const struct dp_obj *o, const char *verb)
{
    struct recorder *r = be;
    char line[160];
    dp_obj_describe(o, verb, line, sizeof(line));
    int err = rec_call(r, line);
    if (err)
        return err;
    struct dp_entry *e = dp_set_find(&r->kernel, o);
    if (!e)
        return -ENOENT;
    dp_set_remove(&r->kernel, e);
    return 0;
}

static int rec_route_add(void *be, const struct dp_obj *o)
{
    return rec_add(be, o, "route_add");
}

static int rec_route_del(void *be, const struct dp_obj *o)
{
    return rec_del(be, o, "route_del");
}

static int rec_rule_add(void *be, const struct dp_obj *o)
{
    return rec_add(be, o, "rule_add");
}

static int rec_rule_del(void *be, const struct dp_obj *o)
{
    return rec_del(be, o, "rule_del");
}

static int rec_proxy_arp_add(void *be, const struct dp_obj *o)
{
    return rec_add(be, o, "proxy_arp_add");
}

static int rec_proxy_arp_del(void *be, const struct dp_obj *o)
{
    return rec_del(be, o, "proxy_arp_del");
}

static int rec_udp_redirect_add(void *be, const struct dp_obj *o)
{
    return rec_add(be, o, "udp_redirect_add");
}

static int rec_udp_redirect_del(void *be, const struct dp_obj *o)
{
    return rec_del(be, o, "udp_redirect_del");
}

static int rec_garp(void *be, const char *ifname, struct in_addr addr)
{
    char a[INET_ADDRSTRLEN], line[64];
    inet_ntop(AF_INET, &addr, a, sizeof(a));
    snprintf(line, sizeof(line), "garp %s %s", ifname, a);
    return rec_call(be, line);
}

static int rec_sysctl(void *be, const char *ifname, const char *key, const char *value)
{
    char line[256];
    snprintf(line, sizeof(line), "sysctl %s %s %s", ifname, key, value);
    return rec_call(be, line);
}

static int rec_xfrm_batch(void *be, struct dp_xfrm_kop *ops, size_t n)
{
    struct recorder *r = be;
    if (n > 1)
        rec_log(r, "xfrm_batch %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        struct dp_xfrm_kop *k = &ops[i];
        char line[256];
        dp_xfrm_kop_describe(k, line, sizeof(line));
        k->result = rec_call(r, line);
        if (k->result)
            continue;
        struct dp_obj o;
        const void *detail;
        if (k->kind == DP_OBJ_XFRM_STATE) {
            dp_xfrm_state_obj(&o, k->sa);
            detail = k->sa;
        } else {
            dp_xfrm_policy_obj(&o, k->pol);
            detail = k->pol;
        }
        struct dp_entry *e = dp_set_find(&r->kernel, &o);
        if (k->add)
            k->result = e ? -EEXIST : dp_set_insert_detail(&r->kernel, &o, detail) ? 0 : -ENOMEM;
        else if (!e)
            k->result = k->kind == DP_OBJ_XFRM_STATE ? -ESRCH : -ENOENT;
        else
            dp_set_remove(&r->kernel, e);
    }
    return 0;
}

static int rec_mark_class_add(void *be, uint8_t dscp)
{
    struct dp_obj o;
    dp_mark_class_obj(&o, dscp);
    return rec_add(be, &o, "mark_class_add");
}

static int rec_mark_class_del(void *be, uint8_t dscp)
{
    struct recorder *r = be;
    for (struct dp_entry *e = r->kernel.head; e; e = e->next)
        if (e->obj.kind == DP_OBJ_MARK && e->obj.table == dscp) {
            char line[96];
            struct dp_obj o;
            dp_mark_class_obj(&o, dscp);
            dp_obj_describe(&o, "mark_class_del", line, sizeof(line));
            int err = rec_call(r, line);
            return err ? err : -EBUSY;
        }
    struct dp_obj o;
    dp_mark_class_obj(&o, dscp);
    return rec_del(be, &o, "mark_class_del");
}

static int rec_mark_batch(void *be, struct dp_mark_kop *ops, size_t n)
{
    struct recorder *r = be;
    if (n > 1)
        rec_log(r, "mark_batch %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        struct dp_mark_kop *k = &ops[i];
        struct dp_obj cls;
        dp_mark_class_obj(&cls, (uint8_t)k->o->table);
        if (k->add && !dp_set_find(&r->kernel, &cls)) {
            char line[160];
            dp_obj_describe(k->o, "mark_add", line, sizeof(line));
            k->result = rec_call(r, line);
            if (!k->result)
                k->result = -ENOENT; /* no such set */
            continue;
        }
        k->result = k->add ? rec_add(be, k->o, "mark_add") : rec_del(be, k->o, "mark_del");
    }
    return 0;
}

static void rec_destroy(void *be)
{
    struct recorder *r = be;
    dp_set_fini(&r->kernel);
    free(r->names);
    free(r->log);
    free(r);
}

static const struct dp_backend_ops recorder_ops = {
    .tunnel_add = rec_tunnel_add,
    .tunnel_del = rec_tunnel_del,
    .route_add = rec_route_add,
    .route_del = rec_route_del,
    .rule_add = rec_rule_add,
    .rule_del = rec_rule_del,
    .proxy_arp_add = rec_proxy_arp_add,
    .proxy_arp_del = rec_proxy_arp_del,
    .garp_send = rec_garp,
    .sysctl_set = rec_sysctl,
    .ifindex = rec_ifindex,
    .destroy = rec_destroy,
    .xfrm_batch = rec_xfrm_batch,
    .udp_redirect_add = rec_udp_redirect_add,
    .udp_redirect_del = rec_udp_redirect_del,
    .mark_class_add = rec_mark_class_add,
    .mark_class_del = rec_mark_class_del,
    .mark_batch = rec_mark_batch,
};

struct dataplane *dp_new_recorder(void)
{
    struct recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    dp_set_init(&r->kernel);
    return dp_new_with_backend(&recorder_ops, r);
}

const char *dp_recorder_log(struct dataplane *dp)
{
    struct recorder *r = dp_backend_of(dp, &recorder_ops);
    return r && r->log ? r->log : "";
}

void dp_recorder_clear_log(struct dataplane *dp)
{
    struct recorder *r = dp_backend_of(dp, &recorder_ops);
    if (r && r->log) {
        r->len = 0;
        r->log[0] = '\0';
    }
}

void dp_recorder_fail_next(struct dataplane *dp, int err)
{
    struct recorder *r = dp_backend_of(dp, &recorder_ops);
    if (r)
        r->fail_next = err < 0 ? -err : err;
}

unsigned dp_recorder_kernel_count(struct dataplane *dp)
{
    struct recorder *r = dp_backend_of(dp, &recorder_ops);
    return r ? (unsigned)r->kernel.count : 0;
}

int dp_recorder_check(struct dataplane *dp)
{
    struct recorder *r = dp_backend_of(dp, &recorder_ops);
    if (!r)
        return -EINVAL;
    unsigned n = dp_count(dp, -1);
    if (n != r->kernel.count) {
        fprintf(stderr, "dp_recorder_check: shadow has %u objects, kernel %zu\n", n,
                r->kernel.count);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct dp_obj *o = dp_obj_at(dp, i);
        const struct dp_entry *e = dp_set_find(&r->kernel, o);
        /* Tunnels match by name: compare their endpoints too. */
        if (!e || e->obj.a.s_addr != o->a.s_addr || e->obj.b.s_addr != o->b.s_addr) {
            char d[160];
            dp_obj_describe(o, "shadow", d, sizeof(d));
            fprintf(stderr, "dp_recorder_check: %s not in kernel\n", d);
            return -1;
        }
        /* SAs and policies: the whole description (keys excepted). */
        const void *sd = o->kind == DP_OBJ_XFRM_STATE    ? (const void *)dp_obj_xfrm_state(o)
                         : o->kind == DP_OBJ_XFRM_POLICY ? (const void *)dp_obj_xfrm_policy(o)
                                                         : NULL;
        size_t sz = o->kind == DP_OBJ_XFRM_STATE ? sizeof(struct dp_xfrm_state)
                                                 : sizeof(struct dp_xfrm_policy);
        if (sd && (!e->detail || memcmp(sd, e->detail, sz) != 0)) {
            char d[160];
            dp_obj_describe(o, "shadow", d, sizeof(d));
            fprintf(stderr, "dp_recorder_check: %s differs in kernel\n", d);
            return -1;
        }
    }
    return 0;
}
