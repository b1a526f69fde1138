/* VPN information cache: see vpn_cache.h. */
#include "vpn_cache.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "vpn_hash.h"

struct vpn_cache {
    size_t count;
    size_t nbuckets; /* power of two, shared by the three indexes */
    struct vpn_session **by_id, **by_nai, **by_hoa;
    struct vpn_session *head, *tail;
    uint8_t hkey[16]; /* random SipHash key: NAIs come from the network */
};

#define INITIAL_BUCKETS 64

static size_t h_str(const struct vpn_cache *c, const char *s)
{
    return (size_t)vpn_siphash(c->hkey, s, strlen(s)) & (c->nbuckets - 1);
}

static size_t h_addr(const struct vpn_cache *c, struct in_addr a)
{
    return (size_t)vpn_siphash(c->hkey, &a.s_addr, sizeof(a.s_addr)) & (c->nbuckets - 1);
}

struct vpn_cache *vpn_cache_new(void)
{
    struct vpn_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->nbuckets = INITIAL_BUCKETS;
    c->by_id = calloc(c->nbuckets, sizeof(*c->by_id));
    c->by_nai = calloc(c->nbuckets, sizeof(*c->by_nai));
    c->by_hoa = calloc(c->nbuckets, sizeof(*c->by_hoa));
    if (!c->by_id || !c->by_nai || !c->by_hoa || RAND_bytes(c->hkey, sizeof(c->hkey)) != 1) {
        free(c->by_id);
        free(c->by_nai);
        free(c->by_hoa);
        free(c);
        return NULL;
    }
    return c;
}

static void free_profiles(struct vpn_profile *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        vpn_profile_clear(&p[i]);
    free(p);
}

static void session_free(struct vpn_session *s)
{
    free_profiles(s->profiles, s->n_profiles);
    free(s->id);
    free(s->nai);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

void vpn_cache_free(struct vpn_cache *c)
{
    if (!c)
        return;
    for (struct vpn_session *s = c->head, *n; s; s = n) {
        n = s->next;
        session_free(s);
    }
    free(c->by_id);
    free(c->by_nai);
    free(c->by_hoa);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

size_t vpn_cache_count(const struct vpn_cache *c)
{
    return c->count;
}

/* ---- index maintenance ---------------------------------------------------- */

static void link_indexes(struct vpn_cache *c, struct vpn_session *s)
{
    size_t b = h_str(c, s->id);
    s->next_id = c->by_id[b];
    c->by_id[b] = s;
    if (s->nai) {
        b = h_str(c, s->nai);
        s->next_nai = c->by_nai[b];
        c->by_nai[b] = s;
    }
    if (s->hoa.s_addr) {
        b = h_addr(c, s->hoa);
        s->next_hoa = c->by_hoa[b];
        c->by_hoa[b] = s;
    }
}

#define UNLINK(head, s, field)                                                                     \
    do {                                                                                           \
        for (struct vpn_session **pp = (head); *pp; pp = &(*pp)->field)                            \
            if (*pp == (s)) {                                                                      \
                *pp = (s)->field;                                                                  \
                break;                                                                             \
            }                                                                                      \
        (s)->field = NULL;                                                                         \
    } while (0)

static void unlink_nai(struct vpn_cache *c, struct vpn_session *s)
{
    if (s->nai)
        UNLINK(&c->by_nai[h_str(c, s->nai)], s, next_nai);
}

static void unlink_hoa(struct vpn_cache *c, struct vpn_session *s)
{
    if (s->hoa.s_addr)
        UNLINK(&c->by_hoa[h_addr(c, s->hoa)], s, next_hoa);
}

static void unlink_indexes(struct vpn_cache *c, struct vpn_session *s)
{
    UNLINK(&c->by_id[h_str(c, s->id)], s, next_id);
    unlink_nai(c, s);
    unlink_hoa(c, s);
}

/* Doubles the tables when the load factor passes 1.  Rebuilding walks the
 * insertion list backwards so each chain keeps "most recent first". */
static void maybe_grow(struct vpn_cache *c)
{
    if (c->count < c->nbuckets)
        return;
    size_t nb = c->nbuckets * 2;
    struct vpn_session **a = calloc(nb, sizeof(*a)), **b = calloc(nb, sizeof(*b)),
                       **d = calloc(nb, sizeof(*d));
    if (!a || !b || !d) { /* keep the old tables: slower, still correct */
        free(a);
        free(b);
        free(d);
        return;
    }
    free(c->by_id);
    free(c->by_nai);
    free(c->by_hoa);
    c->by_id = a;
    c->by_nai = b;
    c->by_hoa = d;
    c->nbuckets = nb;
    for (struct vpn_session *s = c->tail; s; s = s->prev) {
        s->next_id = s->next_nai = s->next_hoa = NULL;
        link_indexes(c, s);
    }
}

/* ---- public API ----------------------------------------------------------- */

struct vpn_session *vpn_cache_find(const struct vpn_cache *c, const char *id)
{
    if (!id)
        return NULL;
    for (struct vpn_session *s = c->by_id[h_str(c, id)]; s; s = s->next_id)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

struct vpn_session *vpn_cache_find_nai(const struct vpn_cache *c, const char *nai)
{
    if (!nai)
        return NULL;
    for (struct vpn_session *s = c->by_nai[h_str(c, nai)]; s; s = s->next_nai)
        if (strcmp(s->nai, nai) == 0)
            return s;
    return NULL;
}

struct vpn_session *vpn_cache_find_hoa(const struct vpn_cache *c, struct in_addr hoa)
{
    if (!hoa.s_addr)
        return NULL;
    for (struct vpn_session *s = c->by_hoa[h_addr(c, hoa)]; s; s = s->next_hoa)
        if (s->hoa.s_addr == hoa.s_addr)
            return s;
    return NULL;
}

static bool seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return false;
}

struct vpn_session *vpn_cache_set(struct vpn_cache *c, const char *id, const char *nai,
                                  struct in_addr hoa, struct in_addr fa,
                                  const struct vpn_profile *profiles, unsigned n, uint32_t lifetime,
                                  time_t now, char *err, size_t errlen)
{
    if (!id || !*id || strlen(id) > VPN_SESSION_ID_MAX) {
        seterr(err, errlen, "session ID must be 1-253 octets");
        return NULL;
    }
    if (nai && (!*nai || strlen(nai) > 253)) {
        seterr(err, errlen, "NAI must be 1-253 octets (RFC 7542 §2.2)");
        return NULL;
    }
    if (n > VPN_MAX_PROFILES) {
        seterr(err, errlen, "too many profiles for one session (max 64)");
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!vpn_profile_validate(&profiles[i], err, errlen))
            return NULL;
        for (unsigned j = 0; j < i; j++)
            if (profiles[j].number == profiles[i].number && profiles[j].leg == profiles[i].leg) {
                if (err && errlen)
                    snprintf(err, errlen, "profile %u: appears twice for leg %s",
                             (unsigned)profiles[i].number, vpn_leg_str(profiles[i].leg));
                return NULL;
            }
    }

    /* Build everything first so a failure leaves the old state intact. */
    struct vpn_profile *np = NULL;
    if (n) {
        np = calloc(n, sizeof(*np));
        if (!np) {
            seterr(err, errlen, "out of memory");
            return NULL;
        }
        for (unsigned i = 0; i < n; i++)
            if (!vpn_profile_copy(&np[i], &profiles[i])) {
                free_profiles(np, i);
                seterr(err, errlen, "out of memory");
                return NULL;
            }
    }
    char *nnai = NULL;
    if (nai && !(nnai = strdup(nai))) {
        free_profiles(np, n);
        seterr(err, errlen, "out of memory");
        return NULL;
    }

    struct vpn_session *s = vpn_cache_find(c, id);
    if (s) {
        /* delete-then-set (seed [0060]-[0061]) */
        unlink_nai(c, s);
        unlink_hoa(c, s);
        free_profiles(s->profiles, s->n_profiles);
        free(s->nai);
    } else {
        s = calloc(1, sizeof(*s));
        char *nid = s ? strdup(id) : NULL;
        if (!nid) {
            free(s);
            free(nnai);
            free_profiles(np, n);
            seterr(err, errlen, "out of memory");
            return NULL;
        }
        s->id = nid;
        s->prev = c->tail;
        if (c->tail)
            c->tail->next = s;
        else
            c->head = s;
        c->tail = s;
        c->count++;
        size_t b = h_str(c, s->id);
        s->next_id = c->by_id[b];
        c->by_id[b] = s;
    }
    s->nai = nnai;
    s->hoa = hoa;
    s->fa = fa;
    s->profiles = np;
    s->n_profiles = n;
    s->expires = now + (time_t)lifetime;
    s->updated = true; /* seed [0054] */
    if (s->nai) {
        size_t b = h_str(c, s->nai);
        s->next_nai = c->by_nai[b];
        c->by_nai[b] = s;
    }
    if (s->hoa.s_addr) {
        size_t b = h_addr(c, s->hoa);
        s->next_hoa = c->by_hoa[b];
        c->by_hoa[b] = s;
    }
    maybe_grow(c);
    return s;
}

void vpn_cache_remove(struct vpn_cache *c, struct vpn_session *s)
{
    unlink_indexes(c, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        c->tail = s->prev;
    c->count--;
    session_free(s);
}

bool vpn_cache_remove_id(struct vpn_cache *c, const char *id)
{
    struct vpn_session *s = vpn_cache_find(c, id);
    if (!s)
        return false;
    vpn_cache_remove(c, s);
    return true;
}

void vpn_cache_set_hoa(struct vpn_cache *c, struct vpn_session *s, struct in_addr hoa)
{
    unlink_hoa(c, s);
    s->hoa = hoa;
    if (hoa.s_addr) {
        size_t b = h_addr(c, hoa);
        s->next_hoa = c->by_hoa[b];
        c->by_hoa[b] = s;
    }
}

unsigned vpn_cache_move_fa(struct vpn_session *s, struct in_addr old_fa, struct in_addr new_fa)
{
    unsigned n = 0;
    if (old_fa.s_addr != new_fa.s_addr && old_fa.s_addr != 0) {
        for (unsigned i = 0; i < s->n_profiles; i++) {
            struct vpn_profile *p = &s->profiles[i];
            if (p->dst_gw.s_addr == old_fa.s_addr) {
                p->dst_gw = new_fa;
                n++;
            }
            if (p->src_gw.s_addr == old_fa.s_addr) {
                p->src_gw = new_fa;
                n++;
            }
        }
    }
    if (s->fa.s_addr != new_fa.s_addr || n)
        s->updated = true;
    s->fa = new_fa;
    return n;
}

bool vpn_cache_take_updated(struct vpn_session *s)
{
    bool u = s->updated;
    s->updated = false;
    return u;
}

void vpn_cache_refresh(struct vpn_session *s, uint32_t lifetime, time_t now)
{
    s->expires = now + (time_t)lifetime;
}

size_t vpn_cache_expire(struct vpn_cache *c, time_t now, vpn_session_cb before_remove, void *arg)
{
    size_t n = 0;
    for (struct vpn_session *s = c->head, *nx; s; s = nx) {
        nx = s->next;
        if (s->expires <= now) {
            if (before_remove)
                before_remove(s, arg);
            vpn_cache_remove(c, s);
            n++;
        }
    }
    return n;
}

struct vpn_session *vpn_cache_first(const struct vpn_cache *c)
{
    return c->head;
}

struct vpn_session *vpn_cache_next(const struct vpn_session *s)
{
    return s->next;
}

void vpn_cache_dump_json(const struct vpn_cache *c, time_t now, FILE *out)
{
    bool first = true;
    fputc('[', out);
    for (const struct vpn_session *s = c->head; s; s = s->next) {
        char hoa[INET_ADDRSTRLEN], fa[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &s->hoa, hoa, sizeof(hoa));
        inet_ntop(AF_INET, &s->fa, fa, sizeof(fa));
        long long left = s->expires > now ? (long long)(s->expires - now) : 0;
        unsigned n = s->n_profiles ? s->n_profiles : 1;
        for (unsigned i = 0; i < n; i++) {
            if (!first)
                fputc(',', out);
            first = false;
            fputs("{\"session\":", out);
            vpn_json_str(out, s->id);
            fputs(",\"nai\":", out);
            if (s->nai)
                vpn_json_str(out, s->nai);
            else
                fputs("null", out);
            fprintf(out, ",\"hoa\":\"%s\",\"fa\":\"%s\",", hoa, fa);
            if (!s->n_profiles) {
                fprintf(out, "\"profile\":null,\"lifetime_left\":%lld}", left);
                continue;
            }
            const struct vpn_profile *p = &s->profiles[i];
            char sp[20], dp[20], du[8], dd[8], sg[INET_ADDRSTRLEN], dg[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &p->src_gw, sg, sizeof(sg));
            inet_ntop(AF_INET, &p->dst_gw, dg, sizeof(dg));
            fprintf(out,
                    "\"profile\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"dscp_up\":\"%s\","
                    "\"dscp_down\":\"%s\",\"sec\":\"%s\",\"src_gw\":\"%s\",\"dst_gw\":\"%s\","
                    "\"gw_type\":\"%s\",\"leg\":\"%s\",\"spi_up\":%u,\"spi_down\":%u,"
                    "\"lifetime_left\":%lld}",
                    (unsigned)p->number, vpn_prefix_str(&p->src, sp), vpn_prefix_str(&p->dst, dp),
                    vpn_dscp_str(p->dscp_up, du), vpn_dscp_str(p->dscp_down, dd),
                    vpn_sec_str(p->sec), sg, dg, vpn_gw_type_str(p->gw_type), vpn_leg_str(p->leg),
                    (unsigned)p->spi_up, (unsigned)p->spi_down, left);
        }
    }
    fputc(']', out);
}
