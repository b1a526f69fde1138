/*
 * The dataplane shadow (DESIGN §4, §8): reference-counted record of every
 * kernel object the daemon installed, on top of a backend that performs the
 * single kernel operations.
 *
 * The shadow is a hash table (O(1) average lookup, 100k+ bindings) plus an
 * intrusive list in installation order, used by dp_flush (reverse order) and
 * dp_obj_at / dp_dump_json (forward order).
 */
#include "dp_backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct dataplane {
    const struct dp_backend_ops *ops;
    void *be;
    struct dp_set set;
    unsigned counts[DP_OBJ_KINDS];
    /* dp_obj_at cursor: makes in-order iteration O(1) per step.  Reset on
     * every change of the set. */
    unsigned cur_idx;
    struct dp_entry *cur;
};

/* ---- the hashed set ---------------------------------------------------- */

#define DP_SET_MIN_BUCKETS 64u

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* o reduced to its identity fields (xfrm kinds carry payload in a / priority). */
static void obj_ident(struct dp_obj *k, const struct dp_obj *o)
{
    *k = *o;
    k->refs = 0;
    k->ifindex = 0;
    if (o->kind == DP_OBJ_XFRM_STATE) {
        k->a.s_addr = 0;
        k->priority = 0;
    } else if (o->kind == DP_OBJ_XFRM_POLICY) {
        k->priority = 0;
    }
}

static uint64_t obj_hash(const struct dp_obj *o0)
{
    struct dp_obj k;
    obj_ident(&k, o0);
    const struct dp_obj *o = &k;
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)o->kind;
    for (size_t i = 0; i < DP_IFNAMSIZ && o->ifname[i]; i++) {
        h ^= (unsigned char)o->ifname[i];
        h *= 0x100000001b3ULL;
    }
    if (o->kind == DP_OBJ_TUNNEL)
        return mix64(h);
    h = mix64(h ^ (((uint64_t)o->a.s_addr << 32) | o->b.s_addr));
    h = mix64(h ^ (((uint64_t)o->table << 32) | o->priority));
    return mix64(h ^ o->plen ^ ((uint64_t)o->dplen << 8));
}

bool dp_obj_same(const struct dp_obj *x, const struct dp_obj *y)
{
    if (x->kind != y->kind || strncmp(x->ifname, y->ifname, DP_IFNAMSIZ) != 0)
        return false;
    if (x->kind == DP_OBJ_TUNNEL)
        return true;
    if (x->kind == DP_OBJ_XFRM_STATE)
        return x->b.s_addr == y->b.s_addr && x->table == y->table && x->plen == y->plen;
    if (x->kind == DP_OBJ_XFRM_POLICY)
        return x->a.s_addr == y->a.s_addr && x->b.s_addr == y->b.s_addr && x->plen == y->plen &&
               x->table == y->table;
    return x->a.s_addr == y->a.s_addr && x->b.s_addr == y->b.s_addr && x->plen == y->plen &&
           x->dplen == y->dplen && x->table == y->table && x->priority == y->priority;
}

static void entry_free(struct dp_entry *e)
{
    if (e->detail) {
        size_t n = e->obj.kind == DP_OBJ_XFRM_STATE ? sizeof(struct dp_xfrm_state)
                                                    : sizeof(struct dp_xfrm_policy);
        OPENSSL_cleanse(e->detail, n);
        free(e->detail);
    }
    free(e);
}

void dp_set_init(struct dp_set *s)
{
    memset(s, 0, sizeof(*s));
}

void dp_set_fini(struct dp_set *s)
{
    struct dp_entry *e = s->head;
    while (e) {
        struct dp_entry *n = e->next;
        entry_free(e);
        e = n;
    }
    free(s->buckets);
    dp_set_init(s);
}

struct dp_entry *dp_set_find(const struct dp_set *s, const struct dp_obj *key)
{
    if (!s->nbuckets)
        return NULL;
    struct dp_entry *e = s->buckets[obj_hash(key) & (s->nbuckets - 1)];
    for (; e; e = e->hnext)
        if (dp_obj_same(&e->obj, key))
            return e;
    return NULL;
}

static int set_rehash(struct dp_set *s, size_t nb)
{
    struct dp_entry **b = calloc(nb, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (struct dp_entry *e = s->head; e; e = e->next) {
        size_t i = obj_hash(&e->obj) & (nb - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
    return 0;
}

struct dp_entry *dp_set_insert(struct dp_set *s, const struct dp_obj *o)
{
    if (s->count + 1 > s->nbuckets) {
        size_t nb = s->nbuckets ? s->nbuckets * 2 : DP_SET_MIN_BUCKETS;
        /* A failed grow is only fatal while there is no table at all. */
        if (set_rehash(s, nb) < 0 && !s->nbuckets)
            return NULL;
    }
    struct dp_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->obj = *o;
    size_t i = obj_hash(o) & (s->nbuckets - 1);
    e->hnext = s->buckets[i];
    s->buckets[i] = e;
    e->prev = s->tail;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->count++;
    return e;
}

struct dp_entry *dp_set_insert_detail(struct dp_set *s, const struct dp_obj *o, const void *detail)
{
    void *d = NULL;
    if (o->kind == DP_OBJ_XFRM_STATE && detail) {
        d = malloc(sizeof(struct dp_xfrm_state));
        if (d)
            dp_xfrm_state_norm(d, detail);
    } else if (o->kind == DP_OBJ_XFRM_POLICY && detail) {
        d = malloc(sizeof(struct dp_xfrm_policy));
        if (d)
            dp_xfrm_policy_norm(d, detail);
    } else {
        return dp_set_insert(s, o);
    }
    if (!d)
        return NULL;
    struct dp_entry *e = dp_set_insert(s, o);
    if (!e) {
        free(d);
        return NULL;
    }
    e->detail = d;
    return e;
}

void dp_set_remove(struct dp_set *s, struct dp_entry *e)
{
    struct dp_entry **pp = &s->buckets[obj_hash(&e->obj) & (s->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    s->count--;
    entry_free(e);
    /* Shrink once mostly empty so memory follows the load. */
    if (s->nbuckets > DP_SET_MIN_BUCKETS && s->count < s->nbuckets / 8)
        (void)set_rehash(s, s->nbuckets / 2);
}

/* ---- descriptions -------------------------------------------------------- */

static const char *ip4(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static const char *proto_name(unsigned p)
{
    return p == DP_XFRM_ESP ? "esp" : p == DP_XFRM_AH ? "ah" : "?";
}

static const char *dir_name(unsigned d)
{
    return d == DP_XFRM_DIR_IN    ? "in"
           : d == DP_XFRM_DIR_OUT ? "out"
           : d == DP_XFRM_DIR_FWD ? "fwd"
                                  : "?";
}

void dp_obj_describe(const struct dp_obj *o, const char *verb, char *buf, size_t len)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    ip4(o->a, a);
    ip4(o->b, b);
    switch (o->kind) {
    case DP_OBJ_TUNNEL:
        snprintf(buf, len, "%s %.16s %s>%s", verb, o->ifname, a, b);
        break;
    case DP_OBJ_ROUTE:
        snprintf(buf, len, "%s %s/%u dev %.16s%s%s table %u", verb, a, o->plen, o->ifname,
                 o->b.s_addr ? " via " : "", o->b.s_addr ? b : "", o->table);
        break;
    case DP_OBJ_RULE: {
        char to[40] = "";
        if (o->dplen)
            snprintf(to, sizeof(to), " to %s/%u", b, o->dplen);
        snprintf(buf, len, "%s from %s/%u%s%s%.16s table %u prio %u", verb, a, o->plen, to,
                 o->ifname[0] ? " iif " : "", o->ifname, o->table, o->priority);
        break;
    }
    case DP_OBJ_MARK_CLASS:
        snprintf(buf, len, "%s %.16s dscp %u", verb, o->ifname, o->table);
        break;
    case DP_OBJ_MARK:
        snprintf(buf, len, "%s %s/%u>%s/%u dscp %u", verb, a, o->plen, b, o->dplen, o->table);
        break;
    case DP_OBJ_PROXY_ARP:
        snprintf(buf, len, "%s %s dev %.16s", verb, a, o->ifname);
        break;
    case DP_OBJ_XFRM_STATE:
        snprintf(buf, len, "%s %s spi 0x%x %s>%s", verb, proto_name(o->plen), o->table, a, b);
        break;
    case DP_OBJ_XFRM_POLICY:
        snprintf(buf, len, "%s %s %s/%u>%s/%u prio %u", verb, dir_name(o->table >> 8), a, o->plen,
                 b, o->table & 0xff, o->priority);
        break;
    case DP_OBJ_UDP_REDIRECT:
        snprintf(buf, len, "%s %s/%u udp %u", verb, a, o->plen, o->table);
        break;
    default:
        snprintf(buf, len, "%s ?", verb);
    }
}

/* ---- construction -------------------------------------------------------- */

struct dataplane *dp_new_with_backend(const struct dp_backend_ops *ops, void *be)
{
    struct dataplane *dp = calloc(1, sizeof(*dp));
    if (!dp) {
        ops->destroy(be);
        return NULL;
    }
    dp->ops = ops;
    dp->be = be;
    dp_set_init(&dp->set);
    return dp;
}

void *dp_backend_of(struct dataplane *dp, const struct dp_backend_ops *ops)
{
    return dp && dp->ops == ops ? dp->be : NULL;
}

void dp_free(struct dataplane *dp)
{
    if (!dp)
        return;
    dp_set_fini(&dp->set);
    dp->ops->destroy(dp->be);
    free(dp);
}

/* ---- backend dispatch ---------------------------------------------------- */

static int be_add(struct dataplane *dp, struct dp_obj *o)
{
    int r;
    switch (o->kind) {
    case DP_OBJ_TUNNEL:
        r = dp->ops->tunnel_add(dp->be, o->ifname, o->a, o->b);
        if (r < 0)
            return r;
        o->ifindex = r;
        return 0;
    case DP_OBJ_ROUTE:
    case DP_OBJ_PROXY_ARP:
        r = dp->ops->ifindex(dp->be, o->ifname);
        if (r < 0)
            return r;
        o->ifindex = r;
        return o->kind == DP_OBJ_ROUTE ? dp->ops->route_add(dp->be, o)
                                       : dp->ops->proxy_arp_add(dp->be, o);
    case DP_OBJ_RULE:
        return dp->ops->rule_add(dp->be, o);
    case DP_OBJ_UDP_REDIRECT:
        return dp->ops->udp_redirect_add ? dp->ops->udp_redirect_add(dp->be, o) : -EOPNOTSUPP;
    case DP_OBJ_XFRM_STATE:
    case DP_OBJ_XFRM_POLICY:
        break; /* dp_xfrm_many */
    case DP_OBJ_MARK_CLASS:
    case DP_OBJ_MARK:
        break; /* dp_mark_many */
    }
    return -EINVAL;
}

static int be_del(struct dataplane *dp, const struct dp_obj *o)
{
    switch (o->kind) {
    case DP_OBJ_TUNNEL:
        return dp->ops->tunnel_del(dp->be, o->ifname);
    case DP_OBJ_ROUTE:
        return dp->ops->route_del(dp->be, o);
    case DP_OBJ_RULE:
        return dp->ops->rule_del(dp->be, o);
    case DP_OBJ_PROXY_ARP:
        return dp->ops->proxy_arp_del(dp->be, o);
    case DP_OBJ_UDP_REDIRECT:
        return dp->ops->udp_redirect_del ? dp->ops->udp_redirect_del(dp->be, o) : -EOPNOTSUPP;
    case DP_OBJ_MARK_CLASS:
        return dp->ops->mark_class_del ? dp->ops->mark_class_del(dp->be, (uint8_t)o->table)
                                       : -EOPNOTSUPP;
    case DP_OBJ_MARK: {
        struct dp_mark_kop k = {.add = false, .o = o};
        if (!dp->ops->mark_batch)
            return -EOPNOTSUPP;
        int r = dp->ops->mark_batch(dp->be, &k, 1);
        return r < 0 ? r : k.result;
    }
    case DP_OBJ_XFRM_STATE:
    case DP_OBJ_XFRM_POLICY:
        break; /* xfrm_del_entries */
    }
    return -EINVAL;
}

static void forget(struct dataplane *dp, struct dp_entry *e)
{
    dp->counts[e->obj.kind]--;
    dp->cur = NULL;
    dp_set_remove(&dp->set, e);
}

/* Records *key (installed in the kernel) with its first reference and, for
 * xfrm kinds, a copy of detail.  NULL when out of memory. */
static struct dp_entry *remember(struct dataplane *dp, struct dp_obj *key, const void *detail)
{
    key->refs = 1;
    struct dp_entry *e = dp_set_insert_detail(&dp->set, key, detail);
    if (e) {
        dp->counts[key->kind]++;
        dp->cur = NULL;
    }
    return e;
}

/* "dataplane: [phase]remove OBJ failed: why" when err < 0. */
static void log_remove_failed(const char *phase, const struct dp_obj *o, int err)
{
    if (err >= 0)
        return;
    char d[160];
    dp_obj_describe(o, "remove", d, sizeof(d));
    fprintf(stderr, "dataplane: %s%s failed: %s\n", phase, d, strerror(-err));
}

/* Takes a reference on *key, installing it on the first.  Returns the
 * object's ifindex (>= 0) or -errno. */
static int obj_get(struct dataplane *dp, struct dp_obj *key)
{
    struct dp_entry *e = dp_set_find(&dp->set, key);
    if (e) {
        /* Same tunnel name, other endpoints: cannot share. */
        if (e->obj.kind == DP_OBJ_TUNNEL &&
            (e->obj.a.s_addr != key->a.s_addr || e->obj.b.s_addr != key->b.s_addr))
            return -EEXIST;
        e->obj.refs++;
        return e->obj.ifindex;
    }
    int r = be_add(dp, key);
    if (r < 0)
        return r;
    if (!remember(dp, key, NULL)) {
        (void)be_del(dp, key); /* keep kernel and shadow equal */
        return -ENOMEM;
    }
    return key->ifindex;
}

static int obj_put(struct dataplane *dp, const struct dp_obj *key)
{
    struct dp_entry *e = dp_set_find(&dp->set, key);
    if (!e)
        return -ENOENT;
    if (e->obj.kind == DP_OBJ_TUNNEL &&
        (e->obj.a.s_addr != key->a.s_addr || e->obj.b.s_addr != key->b.s_addr))
        return -ENOENT;
    if (e->obj.refs > 1) {
        e->obj.refs--;
        return 0;
    }
    int r = be_del(dp, &e->obj);
    if (r < 0)
        return r; /* still installed as far as we know: shadow unchanged */
    forget(dp, e);
    return 0;
}

static int set_ifname(struct dp_obj *o, const char *name, bool required)
{
    if (!name || !name[0])
        return required ? -EINVAL : 0;
    size_t n = strlen(name);
    if (n >= DP_IFNAMSIZ)
        return -EINVAL;
    memcpy(o->ifname, name, n + 1);
    return 0;
}

static int check_prefix(struct in_addr a, uint8_t plen)
{
    if (plen > 32)
        return -EINVAL;
    uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;
    return (ntohl(a.s_addr) & ~mask) ? -EINVAL : 0;
}

/* ---- public API ---------------------------------------------------------- */

/* An object of kind with the identity fields most kinds use (the others 0). */
static void obj_init(struct dp_obj *o, enum dp_obj_kind kind, struct in_addr a, uint8_t plen,
                     struct in_addr b, uint8_t dplen, uint32_t table)
{
    *o =
        (struct dp_obj){.kind = kind, .a = a, .plen = plen, .b = b, .dplen = dplen, .table = table};
}

/* A get / put of the object *o that its key function filled (keyed: that
 * function's 0 or -errno). */
static int keyed_get(struct dataplane *dp, struct dp_obj *o, int keyed)
{
    if (keyed == 0)
        keyed = obj_get(dp, o);
    return keyed < 0 ? keyed : 0;
}

static int keyed_put(struct dataplane *dp, const struct dp_obj *o, int keyed)
{
    return keyed < 0 ? keyed : obj_put(dp, o);
}

static void tunnel_key(struct dp_obj *o, struct in_addr local, struct in_addr remote)
{
    obj_init(o, DP_OBJ_TUNNEL, local, 0, remote, 0, 0);
    snprintf(o->ifname, sizeof(o->ifname), "mip%08x", (unsigned)ntohl(remote.s_addr));
}

int dp_tunnel_get(struct dataplane *dp, struct in_addr local, struct in_addr remote,
                  char name_out[DP_IFNAMSIZ])
{
    struct dp_obj o;
    tunnel_key(&o, local, remote);
    int r = obj_get(dp, &o);
    if (r >= 0 && name_out)
        memcpy(name_out, o.ifname, DP_IFNAMSIZ);
    return r;
}

/* Callers put the routes through a tunnel before the tunnel itself: the
 * kernel drops those routes with the link, and a route still referenced in
 * the shadow would not be re-installed by a later get. */
int dp_tunnel_put(struct dataplane *dp, struct in_addr local, struct in_addr remote)
{
    struct dp_obj o;
    tunnel_key(&o, local, remote);
    return obj_put(dp, &o);
}

static int route_key(struct dp_obj *o, struct in_addr dst, uint8_t plen, const char *ifname,
                     struct in_addr gw, uint32_t table)
{
    obj_init(o, DP_OBJ_ROUTE, dst, plen, gw, 0, table);
    int r = check_prefix(dst, plen);
    return r < 0 ? r : set_ifname(o, ifname, true);
}

int dp_route_get(struct dataplane *dp, struct in_addr dst, uint8_t plen, const char *ifname,
                 struct in_addr gw, uint32_t table)
{
    struct dp_obj o;
    return keyed_get(dp, &o, route_key(&o, dst, plen, ifname, gw, table));
}

int dp_route_put(struct dataplane *dp, struct in_addr dst, uint8_t plen, const char *ifname,
                 struct in_addr gw, uint32_t table)
{
    struct dp_obj o;
    return keyed_put(dp, &o, route_key(&o, dst, plen, ifname, gw, table));
}

static int rule_key(struct dp_obj *o, struct in_addr src, uint8_t plen, struct in_addr dst,
                    uint8_t dplen, const char *iif, uint32_t table, uint32_t priority)
{
    obj_init(o, DP_OBJ_RULE, src, plen, dst, dplen, table);
    o->priority = priority;
    int r = check_prefix(src, plen);
    if (r == 0)
        r = check_prefix(dst, dplen);
    return r < 0 ? r : set_ifname(o, iif, false);
}

int dp_rule2_get(struct dataplane *dp, struct in_addr src, uint8_t splen, struct in_addr dst,
                 uint8_t dplen, const char *iif, uint32_t table, uint32_t priority)
{
    struct dp_obj o;
    return keyed_get(dp, &o, rule_key(&o, src, splen, dst, dplen, iif, table, priority));
}

int dp_rule2_put(struct dataplane *dp, struct in_addr src, uint8_t splen, struct in_addr dst,
                 uint8_t dplen, const char *iif, uint32_t table, uint32_t priority)
{
    struct dp_obj o;
    return keyed_put(dp, &o, rule_key(&o, src, splen, dst, dplen, iif, table, priority));
}

int dp_rule_get(struct dataplane *dp, struct in_addr src, uint8_t plen, const char *iif,
                uint32_t table, uint32_t priority)
{
    return dp_rule2_get(dp, src, plen, (struct in_addr){0}, 0, iif, table, priority);
}

int dp_rule_put(struct dataplane *dp, struct in_addr src, uint8_t plen, const char *iif,
                uint32_t table, uint32_t priority)
{
    return dp_rule2_put(dp, src, plen, (struct in_addr){0}, 0, iif, table, priority);
}

static int proxy_key(struct dp_obj *o, const char *ifname, struct in_addr addr)
{
    obj_init(o, DP_OBJ_PROXY_ARP, addr, 0, (struct in_addr){0}, 0, 0);
    return set_ifname(o, ifname, true);
}

int dp_proxy_arp_get(struct dataplane *dp, const char *ifname, struct in_addr addr)
{
    struct dp_obj o;
    return keyed_get(dp, &o, proxy_key(&o, ifname, addr));
}

int dp_proxy_arp_put(struct dataplane *dp, const char *ifname, struct in_addr addr)
{
    struct dp_obj o;
    return keyed_put(dp, &o, proxy_key(&o, ifname, addr));
}

static int redirect_key(struct dp_obj *o, struct in_addr dst, uint8_t plen, uint16_t port)
{
    obj_init(o, DP_OBJ_UDP_REDIRECT, dst, plen, (struct in_addr){0}, 0, port);
    return port ? check_prefix(dst, plen) : -EINVAL;
}

int dp_udp_redirect_get(struct dataplane *dp, struct in_addr dst, uint8_t plen, uint16_t port)
{
    struct dp_obj o;
    return keyed_get(dp, &o, redirect_key(&o, dst, plen, port));
}

int dp_udp_redirect_put(struct dataplane *dp, struct in_addr dst, uint8_t plen, uint16_t port)
{
    struct dp_obj o;
    return keyed_put(dp, &o, redirect_key(&o, dst, plen, port));
}

int dp_garp(struct dataplane *dp, const char *ifname, struct in_addr addr)
{
    if (!ifname || !ifname[0] || strlen(ifname) >= DP_IFNAMSIZ)
        return -EINVAL;
    return dp->ops->garp_send(dp->be, ifname, addr);
}

int dp_sysctl(struct dataplane *dp, const char *ifname, const char *key, const char *value)
{
    if (!ifname || !key || !value || !ifname[0] || !key[0] || strchr(ifname, '/') ||
        strchr(key, '/') || !strcmp(ifname, ".") || !strcmp(ifname, "..") || key[0] == '.')
        return -EINVAL;
    return dp->ops->sysctl_set(dp->be, ifname, key, value);
}

int dp_ifindex(struct dataplane *dp, const char *ifname)
{
    if (!ifname || !ifname[0] || strlen(ifname) >= DP_IFNAMSIZ)
        return -EINVAL;
    return dp->ops->ifindex(dp->be, ifname);
}

static bool is_xfrm(const struct dp_obj *o)
{
    return o->kind == DP_OBJ_XFRM_STATE || o->kind == DP_OBJ_XFRM_POLICY;
}

#define DP_FLUSH_BATCH 256

/* Removes up to DP_FLUSH_BATCH xfrm objects from the tail in one batch. */
static void flush_xfrm_tail(struct dataplane *dp)
{
    struct dp_xfrm_kop k[DP_FLUSH_BATCH];
    struct dp_entry *ents[DP_FLUSH_BATCH];
    size_t n = 0;
    for (struct dp_entry *e = dp->set.tail; e && is_xfrm(&e->obj) && n < DP_FLUSH_BATCH;
         e = e->prev) {
        memset(&k[n], 0, sizeof(k[n]));
        k[n].add = false;
        k[n].kind = e->obj.kind;
        k[n].sa = e->obj.kind == DP_OBJ_XFRM_STATE ? e->detail : NULL;
        k[n].pol = e->obj.kind == DP_OBJ_XFRM_POLICY ? e->detail : NULL;
        ents[n++] = e;
    }
    int r = dp->ops->xfrm_batch(dp->be, k, n);
    for (size_t i = 0; i < n; i++) {
        log_remove_failed("flush: ", &ents[i]->obj, r < 0 ? r : k[i].result);
        forget(dp, ents[i]);
    }
}

/* Removes up to DP_FLUSH_BATCH marks from the tail in one batch (their
 * classes come earlier in the list: removed when the flush reaches them). */
static void flush_mark_tail(struct dataplane *dp)
{
    struct dp_mark_kop k[DP_FLUSH_BATCH];
    struct dp_entry *ents[DP_FLUSH_BATCH];
    size_t n = 0;
    for (struct dp_entry *e = dp->set.tail; e && e->obj.kind == DP_OBJ_MARK && n < DP_FLUSH_BATCH;
         e = e->prev) {
        k[n] = (struct dp_mark_kop){.add = false, .o = &e->obj};
        ents[n++] = e;
    }
    int r = dp->ops->mark_batch ? dp->ops->mark_batch(dp->be, k, n) : -EOPNOTSUPP;
    for (size_t i = 0; i < n; i++) {
        log_remove_failed("flush: ", &ents[i]->obj, r < 0 ? r : k[i].result);
        struct dp_obj ck;
        dp_mark_class_obj(&ck, (uint8_t)ents[i]->obj.table);
        struct dp_entry *c = dp_set_find(&dp->set, &ck);
        if (c && c->obj.refs)
            c->obj.refs--;
        forget(dp, ents[i]);
    }
}

void dp_flush(struct dataplane *dp)
{
    while (dp->set.tail) {
        struct dp_entry *e = dp->set.tail;
        if (is_xfrm(&e->obj)) {
            flush_xfrm_tail(dp);
            continue;
        }
        if (e->obj.kind == DP_OBJ_MARK) {
            flush_mark_tail(dp);
            continue;
        }
        log_remove_failed("flush: ", &e->obj, be_del(dp, &e->obj));
        forget(dp, e);
    }
}

unsigned dp_count(const struct dataplane *dp, int kind)
{
    if (kind < 0)
        return (unsigned)dp->set.count;
    if (kind >= DP_OBJ_KINDS)
        return 0;
    return dp->counts[kind];
}

const struct dp_obj *dp_obj_at(const struct dataplane *cdp, unsigned i)
{
    /* The cursor is a cache, not state: dataplanes are always allocated
     * non-const by dp_new_with_backend, so updating it here is defined. */
    struct dataplane *dp = (struct dataplane *)cdp;
    if (i >= dp->set.count)
        return NULL;
    struct dp_entry *e;
    unsigned at;
    if (dp->cur && dp->cur_idx <= i) {
        e = dp->cur;
        at = dp->cur_idx;
    } else {
        e = dp->set.head;
        at = 0;
    }
    for (; at < i; at++)
        e = e->next;
    dp->cur = e;
    dp->cur_idx = i;
    return &e->obj;
}

static void json_str(FILE *f, const char *s, size_t max)
{
    fputc('"', f);
    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_alg(FILE *f, const char *key, const struct dp_xfrm_alg *a)
{
    fprintf(f, ",\"%s\":", key);
    if (!a->name[0]) {
        fputs("null", f);
        return;
    }
    json_str(f, a->name, DP_XFRM_ALG_NAMSIZ);
}

static void json_obj(FILE *f, const struct dp_entry *e)
{
    const struct dp_obj *o = &e->obj;
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    ip4(o->a, a);
    ip4(o->b, b);
    switch (o->kind) {
    case DP_OBJ_TUNNEL:
        fputs("{\"kind\":\"tunnel\",\"name\":", f);
        json_str(f, o->ifname, DP_IFNAMSIZ);
        fprintf(f, ",\"local\":\"%s\",\"remote\":\"%s\"", a, b);
        break;
    case DP_OBJ_ROUTE:
        fprintf(f, "{\"kind\":\"route\",\"dst\":\"%s/%u\",\"dev\":", a, o->plen);
        json_str(f, o->ifname, DP_IFNAMSIZ);
        if (o->b.s_addr)
            fprintf(f, ",\"gw\":\"%s\"", b);
        else
            fputs(",\"gw\":null", f);
        fprintf(f, ",\"table\":%u", o->table);
        break;
    case DP_OBJ_RULE:
        fprintf(f, "{\"kind\":\"rule\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\",\"iif\":", a, o->plen, b,
                o->dplen);
        if (o->ifname[0])
            json_str(f, o->ifname, DP_IFNAMSIZ);
        else
            fputs("null", f);
        fprintf(f, ",\"table\":%u,\"priority\":%u", o->table, o->priority);
        break;
    case DP_OBJ_PROXY_ARP:
        fprintf(f, "{\"kind\":\"proxy_arp\",\"addr\":\"%s\",\"dev\":", a);
        json_str(f, o->ifname, DP_IFNAMSIZ);
        break;
    case DP_OBJ_UDP_REDIRECT:
        fprintf(f, "{\"kind\":\"udp_redirect\",\"dst\":\"%s/%u\",\"port\":%u", a, o->plen,
                o->table);
        break;
    case DP_OBJ_MARK_CLASS:
        fprintf(f, "{\"kind\":\"dscp_class\",\"dscp\":%u,\"set\":", o->table);
        json_str(f, o->ifname, DP_IFNAMSIZ);
        break;
    case DP_OBJ_MARK: {
        char set[DP_MARK_SET_NAMSIZ];
        dp_mark_set_name((uint8_t)o->table, set);
        fprintf(f,
                "{\"kind\":\"dscp_mark\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\",\"dscp\":%u,"
                "\"set\":\"%s\"",
                a, o->plen, b, o->dplen, o->table, set);
        break;
    }
    case DP_OBJ_XFRM_STATE: {
        const struct dp_xfrm_state *sa = e->detail;
        fprintf(f,
                "{\"kind\":\"xfrm_state\",\"proto\":\"%s\",\"spi\":\"0x%x\",\"src\":\"%s\","
                "\"dst\":\"%s\",\"reqid\":%u",
                proto_name(sa->proto), sa->spi, a, b, sa->reqid);
        json_alg(f, "enc", &sa->enc);
        json_alg(f, "auth", &sa->auth);
        json_alg(f, "aead", &sa->aead);
        break;
    }
    case DP_OBJ_XFRM_POLICY: {
        const struct dp_xfrm_policy *p = e->detail;
        char ts[INET_ADDRSTRLEN], td[INET_ADDRSTRLEN];
        ip4(p->tmpl_src, ts);
        ip4(p->tmpl_dst, td);
        fprintf(f,
                "{\"kind\":\"xfrm_policy\",\"dir\":\"%s\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\","
                "\"priority\":%u,\"tmpl\":{\"proto\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
                "\"spi\":\"0x%x\",\"reqid\":%u}",
                dir_name(p->dir), a, p->src_plen, b, p->dst_plen, p->priority, proto_name(p->proto),
                ts, td, p->spi, p->reqid);
        break;
    }
    }
    fprintf(f, ",\"refs\":%u}", o->refs);
}

void dp_dump_json(const struct dataplane *dp, FILE *f)
{
    fputc('[', f);
    for (const struct dp_entry *e = dp->set.head; e; e = e->next) {
        if (e != dp->set.head)
            fputc(',', f);
        json_obj(f, e);
    }
    fputc(']', f);
}

/* ---- IPsec (XFRM) ---------------------------------------------------------- */

static void alg_norm(struct dp_xfrm_alg *out, const struct dp_xfrm_alg *in)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%.*s", DP_XFRM_ALG_NAMSIZ - 1, in->name);
    out->key_len = in->key_len;
    out->icv_bits = in->icv_bits;
}

void dp_xfrm_state_norm(struct dp_xfrm_state *out, const struct dp_xfrm_state *in)
{
    memset(out, 0, sizeof(*out));
    out->src = in->src;
    out->dst = in->dst;
    out->proto = in->proto;
    out->spi = in->spi;
    out->reqid = in->reqid;
    alg_norm(&out->enc, &in->enc);
    alg_norm(&out->auth, &in->auth);
    alg_norm(&out->aead, &in->aead);
}

void dp_xfrm_policy_norm(struct dp_xfrm_policy *out, const struct dp_xfrm_policy *in)
{
    memset(out, 0, sizeof(*out));
    out->src = in->src;
    out->dst = in->dst;
    out->src_plen = in->src_plen;
    out->dst_plen = in->dst_plen;
    out->dir = in->dir;
    out->priority = in->priority;
    out->tmpl_src = in->tmpl_src;
    out->tmpl_dst = in->tmpl_dst;
    out->proto = in->proto;
    out->spi = in->spi;
    out->reqid = in->reqid;
}

void dp_xfrm_state_obj(struct dp_obj *o, const struct dp_xfrm_state *sa)
{
    obj_init(o, DP_OBJ_XFRM_STATE, sa->src, sa->proto, sa->dst, 0, sa->spi);
}

void dp_xfrm_policy_obj(struct dp_obj *o, const struct dp_xfrm_policy *pol)
{
    obj_init(o, DP_OBJ_XFRM_POLICY, pol->src, pol->src_plen, pol->dst, 0,
             (uint32_t)pol->dst_plen | (uint32_t)pol->dir << 8);
    o->priority = pol->priority;
}

void dp_xfrm_kop_describe(const struct dp_xfrm_kop *k, char *buf, size_t len)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    if (k->kind == DP_OBJ_XFRM_STATE) {
        const struct dp_xfrm_state *sa = k->sa;
        ip4(sa->src, a);
        ip4(sa->dst, b);
        int n = snprintf(buf, len, "xfrm_state_%s %s spi 0x%x %s>%s", k->add ? "add" : "del",
                         proto_name(sa->proto), sa->spi, a, b);
        if (!k->add || n < 0 || (size_t)n >= len)
            return;
        if (sa->reqid)
            n += snprintf(buf + n, len - (size_t)n, " reqid %u", sa->reqid);
        const struct {
            const char *label;
            const struct dp_xfrm_alg *alg;
        } algs[] = {{"enc", &sa->enc}, {"auth", &sa->auth}, {"aead", &sa->aead}};
        for (size_t i = 0; i < 3 && (size_t)n < len; i++)
            if (algs[i].alg->name[0])
                n += snprintf(buf + n, len - (size_t)n, " %s %.*s", algs[i].label,
                              DP_XFRM_ALG_NAMSIZ, algs[i].alg->name);
        return;
    }
    const struct dp_xfrm_policy *p = k->pol;
    ip4(p->src, a);
    ip4(p->dst, b);
    int n = snprintf(buf, len, "xfrm_policy_%s %s %s/%u>%s/%u", k->add ? "add" : "del",
                     dir_name(p->dir), a, p->src_plen, b, p->dst_plen);
    if (!k->add || n < 0 || (size_t)n >= len)
        return;
    ip4(p->tmpl_src, a);
    ip4(p->tmpl_dst, b);
    snprintf(buf + n, len - (size_t)n, " tmpl %s %s>%s spi 0x%x reqid %u prio %u",
             proto_name(p->proto), a, b, p->spi, p->reqid, p->priority);
}

static int alg_check(const struct dp_xfrm_alg *a)
{
    if (memchr(a->name, '\0', sizeof(a->name)) == NULL)
        return -EINVAL;
    if (!a->name[0])
        return a->key_len ? -EINVAL : 0;
    if (a->key_len > DP_XFRM_KEY_MAX || (a->key_len && !a->key))
        return -EINVAL;
    return 0;
}

static int state_check(const struct dp_xfrm_state *sa, bool full)
{
    if (!sa || (sa->proto != DP_XFRM_ESP && sa->proto != DP_XFRM_AH) || !sa->dst.s_addr)
        return -EINVAL;
    if (!full)
        return 0;
    if (!sa->src.s_addr || alg_check(&sa->enc) || alg_check(&sa->auth) || alg_check(&sa->aead))
        return -EINVAL;
    bool enc = sa->enc.name[0], auth = sa->auth.name[0], aead = sa->aead.name[0];
    if (sa->proto == DP_XFRM_AH)
        return auth && !enc && !aead ? 0 : -EINVAL;
    if (aead)
        return !enc && !auth ? 0 : -EINVAL;
    return enc ? 0 : -EINVAL;
}

static int policy_check(const struct dp_xfrm_policy *p, bool full)
{
    if (!p || p->dir > DP_XFRM_DIR_FWD || check_prefix(p->src, p->src_plen) < 0 ||
        check_prefix(p->dst, p->dst_plen) < 0)
        return -EINVAL;
    if (!full)
        return 0;
    if ((p->proto != DP_XFRM_ESP && p->proto != DP_XFRM_AH) || !p->tmpl_src.s_addr ||
        !p->tmpl_dst.s_addr)
        return -EINVAL;
    return 0;
}

/* ---- batches (dp_xfrm_many, dp_mark_many) ------------------------------------
 *
 * Phase 1 does the shadow bookkeeping of each op in order and queues the
 * kernel operations (e->pending: index + 1 of the one queued on e); phase 2
 * sends them (the backend's batch op); phase 3 forgets the objects whose
 * install failed or whose removal was done, and gives each op its result. */
struct batch_op {
    int *res;  /* where the op's result goes (in the caller's op) */
    long kidx; /* the kernel operation it waits on, -1 = none */
};
struct batch_kop {
    struct dp_entry *e; /* the entry the kernel operation is about */
    bool add;           /* install (else remove) */
    int *res;           /* where its result lands (in the caller's kernel op) */
};
struct batch {
    size_t n, nk;          /* ops; kernel operations queued */
    size_t settled;        /* phase 3: kernel operations looked at */
    struct batch_op *op;   /* [n] */
    struct batch_kop *kop; /* [nk] */
};

/* Returns the zeroed array of n kernel operations of kop_size bytes, or NULL
 * (n == 0 or out of memory: batch_op then fails every op with -ENOMEM). */
static void *batch_open(struct batch *b, size_t n, size_t kop_size)
{
    memset(b, 0, sizeof(*b));
    b->n = n;
    void *k = n ? calloc(n, kop_size) : NULL;
    b->op = k ? calloc(n, sizeof(*b->op)) : NULL;
    b->kop = b->op ? calloc(n, sizeof(*b->kop)) : NULL;
    if (b->kop)
        return k;
    free(k);
    free(b->op);
    b->op = NULL;
    return NULL;
}

/* Starts op i (result 0 in *res); false if the batch could not be opened
 * (*res = -ENOMEM). */
static bool batch_op(struct batch *b, size_t i, int *res)
{
    *res = b->op ? 0 : -ENOMEM;
    if (b->op)
        b->op[i] = (struct batch_op){.res = res, .kidx = -1};
    return b->op != NULL;
}

/* Phase 1 of op i on e (NULL: not in the shadow) where no kernel operation is
 * needed: a get of a held object takes a reference (-EBUSY while a queued
 * removal holds it, -EEXIST if it is not the same), a put drops one that is
 * not the last (-ENOENT without e, -EBUSY while queued).  Returns false when
 * op i needs a kernel operation: a get of a new object, a put of the last
 * reference. */
static bool batch_ref(struct batch *b, size_t i, struct dp_entry *e, bool get, bool same)
{
    struct batch_op *op = &b->op[i];
    if (get ? !e : e && e->obj.refs <= 1 && !e->pending)
        return false;
    if (get && e->pending && !b->kop[e->pending - 1].add)
        *op->res = -EBUSY; /* a queued removal holds it */
    else if (get && !same)
        *op->res = -EEXIST;
    else if (!e)
        *op->res = -ENOENT;
    else if (!get && e->obj.refs <= 1)
        *op->res = -EBUSY; /* its removal is queued */
    else {
        if (get)
            e->obj.refs++;
        else
            e->obj.refs--;
        if (e->pending) /* the result is that of the queued operation */
            op->kidx = (long)e->pending - 1;
    }
    return true;
}

/* Queues the kernel operation of op i on e (its result to land in *kres);
 * returns its index, for the caller to fill in its array. */
static size_t batch_queue(struct batch *b, size_t i, struct dp_entry *e, bool add, int *kres)
{
    size_t j = b->nk++;
    b->kop[j] = (struct batch_kop){.e = e, .add = add, .res = kres};
    e->pending = (unsigned)j + 1;
    b->op[i].kidx = (long)j;
    return j;
}

/* Phase 2 done: r < 0 (nothing could be sent) is every operation's result. */
static void batch_sent(struct batch *b, int r)
{
    for (size_t j = 0; r < 0 && j < b->nk; j++)
        *b->kop[j].res = r;
}

/* Phase 3: the next entry to forget (add failed / delete done), NULL at the end. */
static struct dp_entry *batch_gone(struct batch *b)
{
    while (b->settled < b->nk) {
        const struct batch_kop *kop = &b->kop[b->settled++];
        kop->e->pending = 0;
        if (kop->add ? *kop->res < 0 : *kop->res == 0)
            return kop->e;
    }
    return NULL;
}

/* The ops' results; frees the batch and k.  Returns the number of failed ops. */
static unsigned batch_close(struct batch *b, void *k)
{
    if (!b->op)
        return (unsigned)b->n;
    unsigned failed = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct batch_op *op = &b->op[i];
        if (op->kidx >= 0)
            *op->res = *b->kop[op->kidx].res;
        failed += *op->res < 0;
    }
    free(k);
    free(b->op);
    free(b->kop);
    return failed;
}

static bool detail_equal(const struct dp_entry *e, const struct dp_xfrm_op *op)
{
    if (e->obj.kind == DP_OBJ_XFRM_STATE) {
        struct dp_xfrm_state n;
        dp_xfrm_state_norm(&n, op->sa);
        return memcmp(&n, e->detail, sizeof(n)) == 0;
    }
    struct dp_xfrm_policy n;
    dp_xfrm_policy_norm(&n, op->pol);
    return memcmp(&n, e->detail, sizeof(n)) == 0;
}

unsigned dp_xfrm_many(struct dataplane *dp, struct dp_xfrm_op *ops, size_t n)
{
    struct batch b;
    struct dp_xfrm_kop *k = batch_open(&b, n, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        struct dp_xfrm_op *op = &ops[i];
        if (!batch_op(&b, i, &op->result))
            continue;
        bool state = op->op == DP_XFRM_STATE_GET || op->op == DP_XFRM_STATE_PUT;
        bool get = op->op == DP_XFRM_STATE_GET || op->op == DP_XFRM_POLICY_GET;
        if (op->op > DP_XFRM_POLICY_PUT) {
            op->result = -EINVAL;
            continue;
        }
        int r = state ? state_check(op->sa, get) : policy_check(op->pol, get);
        if (r < 0) {
            op->result = r;
            continue;
        }
        struct dp_obj key;
        if (state)
            dp_xfrm_state_obj(&key, op->sa);
        else
            dp_xfrm_policy_obj(&key, op->pol);
        struct dp_entry *e = dp_set_find(&dp->set, &key);
        if (batch_ref(&b, i, e, get, get && e && detail_equal(e, op)))
            continue;
        if (get && !(e = remember(dp, &key, state ? (const void *)op->sa : op->pol))) {
            op->result = -ENOMEM;
            continue;
        }
        size_t q = batch_queue(&b, i, e, get, &k[b.nk].result);
        k[q].add = get;
        k[q].kind = key.kind;
        /* An add sends the caller's description (with keys), a delete the shadow's. */
        k[q].sa = !state ? NULL : get ? op->sa : e->detail;
        k[q].pol = state ? NULL : get ? op->pol : e->detail;
    }
    if (b.nk)
        batch_sent(&b, dp->ops->xfrm_batch(dp->be, k, b.nk));
    for (struct dp_entry *e; (e = batch_gone(&b));)
        forget(dp, e);
    return batch_close(&b, k);
}

static int xfrm_one(struct dataplane *dp, enum dp_xfrm_op_kind kind, const struct dp_xfrm_state *sa,
                    const struct dp_xfrm_policy *pol)
{
    struct dp_xfrm_op op = {.op = kind, .sa = sa, .pol = pol};
    dp_xfrm_many(dp, &op, 1);
    return op.result;
}

int dp_xfrm_state_get(struct dataplane *dp, const struct dp_xfrm_state *sa)
{
    return xfrm_one(dp, DP_XFRM_STATE_GET, sa, NULL);
}

int dp_xfrm_state_put(struct dataplane *dp, const struct dp_xfrm_state *sa)
{
    return xfrm_one(dp, DP_XFRM_STATE_PUT, sa, NULL);
}

int dp_xfrm_policy_get(struct dataplane *dp, const struct dp_xfrm_policy *pol)
{
    return xfrm_one(dp, DP_XFRM_POLICY_GET, NULL, pol);
}

int dp_xfrm_policy_put(struct dataplane *dp, const struct dp_xfrm_policy *pol)
{
    return xfrm_one(dp, DP_XFRM_POLICY_PUT, NULL, pol);
}

/* The description kept beside a shadow object of kind `kind`, else NULL. */
static const void *obj_detail(const struct dp_obj *o, enum dp_obj_kind kind)
{
    if (!o || o->kind != kind)
        return NULL;
    const struct dp_entry *e =
        (const struct dp_entry *)(const void *)((const char *)o - offsetof(struct dp_entry, obj));
    return e->detail;
}

const struct dp_xfrm_state *dp_obj_xfrm_state(const struct dp_obj *o)
{
    return obj_detail(o, DP_OBJ_XFRM_STATE);
}

const struct dp_xfrm_policy *dp_obj_xfrm_policy(const struct dp_obj *o)
{
    return obj_detail(o, DP_OBJ_XFRM_POLICY);
}

/* ---- DSCP marks (DESIGN §8) --------------------------------------------------- */

void dp_mark_set_name(uint8_t dscp, char name[DP_MARK_SET_NAMSIZ])
{
    snprintf(name, DP_MARK_SET_NAMSIZ, "mipd_dscp_%u", dscp);
}

void dp_mark_class_obj(struct dp_obj *o, uint8_t dscp)
{
    obj_init(o, DP_OBJ_MARK_CLASS, (struct in_addr){0}, 0, (struct in_addr){0}, 0, dscp);
    dp_mark_set_name(dscp, o->ifname);
}

void dp_mark_obj(struct dp_obj *o, const struct dp_mark *m)
{
    obj_init(o, DP_OBJ_MARK, m->src, m->src_plen, m->dst, m->dst_plen, m->dscp);
}

static int mark_check(const struct dp_mark *m)
{
    if (!m || m->dscp == 0 || m->dscp > 63 || check_prefix(m->src, m->src_plen) < 0 ||
        check_prefix(m->dst, m->dst_plen) < 0)
        return -EINVAL;
    return 0;
}

/* Takes a reference on the class of dscp, creating its set and rule on the
 * first.  Returns the class entry or NULL with *err. */
static struct dp_entry *class_ref(struct dataplane *dp, uint8_t dscp, int *err)
{
    struct dp_obj key;
    dp_mark_class_obj(&key, dscp);
    struct dp_entry *c = dp_set_find(&dp->set, &key);
    if (c) {
        c->obj.refs++;
        return c;
    }
    if (!dp->ops->mark_class_add || !dp->ops->mark_batch) {
        *err = -EOPNOTSUPP;
        return NULL;
    }
    int r = dp->ops->mark_class_add(dp->be, dscp);
    if (r < 0) {
        *err = r;
        return NULL;
    }
    c = remember(dp, &key, NULL);
    if (!c) {
        (void)dp->ops->mark_class_del(dp->be, dscp);
        *err = -ENOMEM;
    }
    return c;
}

/* Drops a class reference; the last one removes the rule and the set (a class
 * whose removal fails stays in the shadow with no reference). */
static void class_unref(struct dataplane *dp, uint8_t dscp)
{
    struct dp_obj key;
    dp_mark_class_obj(&key, dscp);
    struct dp_entry *c = dp_set_find(&dp->set, &key);
    if (!c || (c->obj.refs && --c->obj.refs > 0))
        return;
    int r = dp->ops->mark_class_del(dp->be, dscp);
    log_remove_failed("", &c->obj, r);
    if (r >= 0)
        forget(dp, c);
}

unsigned dp_mark_many(struct dataplane *dp, struct dp_mark_op *ops, size_t n)
{
    struct batch b;
    struct dp_mark_kop *k = batch_open(&b, n, sizeof(*k));
    /* Phase 1: classes are created now (their set must exist before its
     * elements). */
    for (size_t i = 0; i < n; i++) {
        struct dp_mark_op *op = &ops[i];
        if (!batch_op(&b, i, &op->result))
            continue;
        bool get = op->op == DP_MARK_GET;
        int r = op->op > DP_MARK_PUT ? -EINVAL : mark_check(op->mark);
        if (r < 0) {
            op->result = r;
            continue;
        }
        struct dp_obj key;
        dp_mark_obj(&key, op->mark);
        struct dp_entry *e = dp_set_find(&dp->set, &key);
        if (batch_ref(&b, i, e, get, true))
            continue;
        if (get && !class_ref(dp, op->mark->dscp, &op->result))
            continue;
        if (get && !(e = remember(dp, &key, NULL))) {
            op->result = -ENOMEM;
            class_unref(dp, op->mark->dscp);
            continue;
        }
        size_t q = batch_queue(&b, i, e, get, &k[b.nk].result);
        k[q].add = get;
        k[q].o = &e->obj;
    }
    if (b.nk)
        batch_sent(&b, dp->ops->mark_batch(dp->be, k, b.nk));
    /* Phase 3: classes left without marks go. */
    for (struct dp_entry *e; (e = batch_gone(&b));) {
        uint8_t dscp = (uint8_t)e->obj.table;
        forget(dp, e);
        class_unref(dp, dscp);
    }
    return batch_close(&b, k);
}

int dp_mark_get(struct dataplane *dp, const struct dp_mark *m)
{
    struct dp_mark_op op = {.op = DP_MARK_GET, .mark = m};
    dp_mark_many(dp, &op, 1);
    return op.result;
}

int dp_mark_put(struct dataplane *dp, const struct dp_mark *m)
{
    struct dp_mark_op op = {.op = DP_MARK_PUT, .mark = m};
    dp_mark_many(dp, &op, 1);
    return op.result;
}
