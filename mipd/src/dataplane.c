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

struct dataplane {
    const struct dp_backend_ops *ops;
    void *be;
    struct dp_set set;
    unsigned counts[4];
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

static uint64_t obj_hash(const struct dp_obj *o)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)o->kind;
    for (size_t i = 0; i < DP_IFNAMSIZ && o->ifname[i]; i++) {
        h ^= (unsigned char)o->ifname[i];
        h *= 0x100000001b3ULL;
    }
    if (o->kind == DP_OBJ_TUNNEL)
        return mix64(h);
    h = mix64(h ^ (((uint64_t)o->a.s_addr << 32) | o->b.s_addr));
    h = mix64(h ^ (((uint64_t)o->table << 32) | o->priority));
    return mix64(h ^ o->plen);
}

bool dp_obj_same(const struct dp_obj *x, const struct dp_obj *y)
{
    if (x->kind != y->kind || strncmp(x->ifname, y->ifname, DP_IFNAMSIZ) != 0)
        return false;
    if (x->kind == DP_OBJ_TUNNEL)
        return true;
    return x->a.s_addr == y->a.s_addr && x->b.s_addr == y->b.s_addr && x->plen == y->plen &&
           x->table == y->table && x->priority == y->priority;
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
        free(e);
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
    free(e);
    /* Shrink once mostly empty so memory follows the load. */
    if (s->nbuckets > DP_SET_MIN_BUCKETS && s->count < s->nbuckets / 8)
        (void)set_rehash(s, s->nbuckets / 2);
}

/* ---- descriptions -------------------------------------------------------- */

static const char *ip4(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
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
    case DP_OBJ_RULE:
        snprintf(buf, len, "%s from %s/%u%s%.16s table %u prio %u", verb, a, o->plen,
                 o->ifname[0] ? " iif " : "", o->ifname, o->table, o->priority);
        break;
    case DP_OBJ_PROXY_ARP:
        snprintf(buf, len, "%s %s dev %.16s", verb, a, o->ifname);
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
    }
    return -EINVAL;
}

static void forget(struct dataplane *dp, struct dp_entry *e)
{
    dp->counts[e->obj.kind]--;
    dp->cur = NULL;
    dp_set_remove(&dp->set, e);
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
    key->refs = 1;
    e = dp_set_insert(&dp->set, key);
    if (!e) {
        (void)be_del(dp, key); /* keep kernel and shadow equal */
        return -ENOMEM;
    }
    dp->counts[key->kind]++;
    dp->cur = NULL;
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

static void tunnel_key(struct dp_obj *o, struct in_addr local, struct in_addr remote)
{
    memset(o, 0, sizeof(*o));
    o->kind = DP_OBJ_TUNNEL;
    snprintf(o->ifname, sizeof(o->ifname), "mip%08x", (unsigned)ntohl(remote.s_addr));
    o->a = local;
    o->b = remote;
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
    memset(o, 0, sizeof(*o));
    o->kind = DP_OBJ_ROUTE;
    o->a = dst;
    o->b = gw;
    o->plen = plen;
    o->table = table;
    int r = check_prefix(dst, plen);
    return r < 0 ? r : set_ifname(o, ifname, true);
}

int dp_route_get(struct dataplane *dp, struct in_addr dst, uint8_t plen, const char *ifname,
                 struct in_addr gw, uint32_t table)
{
    struct dp_obj o;
    int r = route_key(&o, dst, plen, ifname, gw, table);
    if (r == 0)
        r = obj_get(dp, &o);
    return r < 0 ? r : 0;
}

int dp_route_put(struct dataplane *dp, struct in_addr dst, uint8_t plen, const char *ifname,
                 struct in_addr gw, uint32_t table)
{
    struct dp_obj o;
    int r = route_key(&o, dst, plen, ifname, gw, table);
    return r < 0 ? r : obj_put(dp, &o);
}

static int rule_key(struct dp_obj *o, struct in_addr src, uint8_t plen, const char *iif,
                    uint32_t table, uint32_t priority)
{
    memset(o, 0, sizeof(*o));
    o->kind = DP_OBJ_RULE;
    o->a = src;
    o->plen = plen;
    o->table = table;
    o->priority = priority;
    int r = check_prefix(src, plen);
    return r < 0 ? r : set_ifname(o, iif, false);
}

int dp_rule_get(struct dataplane *dp, struct in_addr src, uint8_t plen, const char *iif,
                uint32_t table, uint32_t priority)
{
    struct dp_obj o;
    int r = rule_key(&o, src, plen, iif, table, priority);
    if (r == 0)
        r = obj_get(dp, &o);
    return r < 0 ? r : 0;
}

int dp_rule_put(struct dataplane *dp, struct in_addr src, uint8_t plen, const char *iif,
                uint32_t table, uint32_t priority)
{
    struct dp_obj o;
    int r = rule_key(&o, src, plen, iif, table, priority);
    return r < 0 ? r : obj_put(dp, &o);
}

static int proxy_key(struct dp_obj *o, const char *ifname, struct in_addr addr)
{
    memset(o, 0, sizeof(*o));
    o->kind = DP_OBJ_PROXY_ARP;
    o->a = addr;
    return set_ifname(o, ifname, true);
}

int dp_proxy_arp_get(struct dataplane *dp, const char *ifname, struct in_addr addr)
{
    struct dp_obj o;
    int r = proxy_key(&o, ifname, addr);
    if (r == 0)
        r = obj_get(dp, &o);
    return r < 0 ? r : 0;
}

int dp_proxy_arp_put(struct dataplane *dp, const char *ifname, struct in_addr addr)
{
    struct dp_obj o;
    int r = proxy_key(&o, ifname, addr);
    return r < 0 ? r : obj_put(dp, &o);
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

void dp_flush(struct dataplane *dp)
{
    while (dp->set.tail) {
        struct dp_entry *e = dp->set.tail;
        int r = be_del(dp, &e->obj);
        if (r < 0) {
            char d[128];
            dp_obj_describe(&e->obj, "remove", d, sizeof(d));
            fprintf(stderr, "dataplane: flush: %s failed: %s\n", d, strerror(-r));
        }
        forget(dp, e);
    }
}

unsigned dp_count(const struct dataplane *dp, int kind)
{
    if (kind < 0)
        return (unsigned)dp->set.count;
    if (kind > DP_OBJ_PROXY_ARP)
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

static void json_obj(FILE *f, const struct dp_obj *o)
{
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
        fprintf(f, "{\"kind\":\"rule\",\"src\":\"%s/%u\",\"iif\":", a, o->plen);
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
    }
    fprintf(f, ",\"refs\":%u}", o->refs);
}

void dp_dump_json(const struct dataplane *dp, FILE *f)
{
    fputc('[', f);
    for (const struct dp_entry *e = dp->set.head; e; e = e->next) {
        if (e != dp->set.head)
            fputc(',', f);
        json_obj(f, &e->obj);
    }
    fputc(']', f);
}
