/*
 * VPN data plane of an agent (see vpn_dp.h): per cache session, the kernel
 * objects of its plan, installed and removed delete-then-set through the
 * dataplane shadow.
 */
#include "vpn_dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hmap.h"

/* One installed object, compact (no key material: a keyed fingerprint of an
 * SA's algorithms and keys tells whether a new plan holds the same SA). */
struct vdp_item {
    uint8_t kind;  /* enum vpn_plan_kind */
    uint8_t proto; /* SA, policy: DP_XFRM_ESP / DP_XFRM_AH */
    uint8_t dir;   /* policy */
    uint8_t dscp;  /* mark */
    uint8_t splen, dplen;
    uint32_t profile;
    uint32_t spi;              /* SA; policy template */
    uint32_t table;            /* encap: routing table */
    struct in_addr src, dst;   /* SA: endpoints; policy, mark, encap: selector */
    struct in_addr tsrc, tdst; /* policy: template endpoints; encap: tunnel local, remote */
    uint64_t fp;               /* SA: fingerprint of algorithms + keys */
};

struct vdp_session {
    struct hnode node; /* key: hmap_hash_str(sid) */
    char *sid;
    struct in_addr hoa;
    struct vdp_item *items;
    unsigned n;
};

struct vdp_default {
    struct in_addr peer;
    uint32_t spi_out, spi_in;
    uint8_t proto;
    bool installed_out, installed_in;
};

struct encap_table {
    struct in_addr remote;
    uint32_t table;
};

struct vpn_dp {
    struct dataplane *dp;
    enum vpn_node_role role;
    struct in_addr node;
    struct vdp_default *defaults;
    size_t n_defaults;
    struct hmap sessions;
    struct encap_table *tables;
    size_t n_tables;
    uint8_t fp_key[32]; /* per process, random */
};

/* ---- helpers --------------------------------------------------------------- */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *ip(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static uint64_t sa_fingerprint(const struct vpn_dp *v, const struct dp_xfrm_state *sa)
{
    uint8_t buf[3 * (DP_XFRM_ALG_NAMSIZ + 8 + DP_XFRM_KEY_MAX)];
    size_t n = 0;
    const struct dp_xfrm_alg *algs[3] = {&sa->enc, &sa->auth, &sa->aead};
    for (int i = 0; i < 3; i++) {
        const struct dp_xfrm_alg *a = algs[i];
        size_t nl = strnlen(a->name, DP_XFRM_ALG_NAMSIZ);
        size_t kl = a->key && a->key_len <= DP_XFRM_KEY_MAX ? a->key_len : 0;
        buf[n++] = (uint8_t)nl;
        memcpy(buf + n, a->name, nl);
        n += nl;
        memcpy(buf + n, &a->key_len, 4);
        memcpy(buf + n + 4, &a->icv_bits, 4);
        n += 8;
        if (kl)
            memcpy(buf + n, a->key, kl);
        n += kl;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    uint64_t fp = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, v->fp_key, sizeof(v->fp_key), buf, n, mac,
                  sizeof(mac), &maclen) &&
        maclen >= sizeof(fp))
        memcpy(&fp, mac, sizeof(fp));
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(mac, sizeof(mac));
    return fp;
}

/* The routing table of the encapsulation-only paths towards remote. */
static uint32_t encap_table(struct vpn_dp *v, struct in_addr remote)
{
    for (size_t i = 0; i < v->n_tables; i++)
        if (v->tables[i].remote.s_addr == remote.s_addr)
            return v->tables[i].table;
    struct encap_table *t = realloc(v->tables, (v->n_tables + 1) * sizeof(*t));
    if (!t)
        return 0;
    v->tables = t;
    t[v->n_tables].remote = remote;
    t[v->n_tables].table = VPN_DP_ENCAP_TABLE_BASE + (uint32_t)v->n_tables;
    return t[v->n_tables++].table;
}

static int record_of(struct vpn_dp *v, struct vdp_item *r, const struct vpn_plan_item *it)
{
    memset(r, 0, sizeof(*r));
    r->kind = (uint8_t)it->kind;
    r->profile = it->profile;
    switch (it->kind) {
    case VPN_PLAN_SA:
        r->proto = it->sa.proto;
        r->spi = it->sa.spi;
        r->src = it->sa.src;
        r->dst = it->sa.dst;
        r->fp = sa_fingerprint(v, &it->sa);
        break;
    case VPN_PLAN_POLICY:
        r->proto = it->pol.proto;
        r->dir = it->pol.dir;
        r->spi = it->pol.spi;
        r->src = it->pol.src;
        r->splen = it->pol.src_plen;
        r->dst = it->pol.dst;
        r->dplen = it->pol.dst_plen;
        r->tsrc = it->pol.tmpl_src;
        r->tdst = it->pol.tmpl_dst;
        break;
    case VPN_PLAN_MARK:
        r->dscp = it->mark.dscp;
        r->src = it->mark.src.addr;
        r->splen = it->mark.src.len;
        r->dst = it->mark.dst.addr;
        r->dplen = it->mark.dst.len;
        break;
    case VPN_PLAN_ENCAP:
        r->src = it->encap.src.addr;
        r->splen = it->encap.src.len;
        r->dst = it->encap.dst.addr;
        r->dplen = it->encap.dst.len;
        r->tsrc = it->encap.local;
        r->tdst = it->encap.remote;
        r->table = encap_table(v, it->encap.remote);
        if (!r->table)
            return -ENOMEM;
        break;
    }
    return 0;
}

/* The same kernel object with the same parameters (the profile it came from
 * may differ). */
static bool record_same(const struct vdp_item *x, const struct vdp_item *y)
{
    struct vdp_item a = *x, b = *y;
    a.profile = b.profile = 0;
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* The policy / SA identity of a record (for removal). */
static void record_policy(const struct vdp_item *r, struct dp_xfrm_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->src = r->src;
    p->src_plen = r->splen;
    p->dst = r->dst;
    p->dst_plen = r->dplen;
    p->dir = r->dir;
    p->priority = VPN_PLAN_POLICY_PRIORITY;
    p->tmpl_src = r->tsrc;
    p->tmpl_dst = r->tdst;
    p->proto = r->proto;
    p->spi = r->spi;
}

static void record_state(const struct vdp_item *r, struct dp_xfrm_state *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->src = r->src;
    sa->dst = r->dst;
    sa->proto = r->proto;
    sa->spi = r->spi;
}

static void record_mark(const struct vdp_item *r, struct dp_mark *m)
{
    memset(m, 0, sizeof(*m));
    m->src = r->src;
    m->src_plen = r->splen;
    m->dst = r->dst;
    m->dst_plen = r->dplen;
    m->dscp = r->dscp;
}

static void record_describe(const struct vdp_item *r, char *buf, size_t len)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], c[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
    ip(r->src, a);
    ip(r->dst, b);
    ip(r->tsrc, c);
    ip(r->tdst, d);
    const char *proto = r->proto == DP_XFRM_AH ? "ah" : "esp";
    switch (r->kind) {
    case VPN_PLAN_SA:
        snprintf(buf, len, "sa %s %s>%s spi 0x%x", proto, a, b, r->spi);
        break;
    case VPN_PLAN_POLICY:
        snprintf(buf, len, "policy %s %s/%u>%s/%u tmpl %s %s>%s spi 0x%x",
                 r->dir == DP_XFRM_DIR_OUT   ? "out"
                 : r->dir == DP_XFRM_DIR_FWD ? "fwd"
                                             : "in",
                 a, r->splen, b, r->dplen, proto, c, d, r->spi);
        break;
    case VPN_PLAN_MARK:
        snprintf(buf, len, "mark %s/%u>%s/%u dscp %u", a, r->splen, b, r->dplen, r->dscp);
        break;
    case VPN_PLAN_ENCAP:
        snprintf(buf, len, "encap %s/%u>%s/%u ipip %s>%s table %u", a, r->splen, b, r->dplen, c, d,
                 r->table);
        break;
    default:
        snprintf(buf, len, "?");
    }
}

/* ---- IP-in-IP paths of encapsulation-only profiles -------------------------- */

static int encap_get(struct vpn_dp *v, const struct vdp_item *r)
{
    char tun[DP_IFNAMSIZ];
    struct in_addr any = {0};
    int rc = dp_tunnel_get(v->dp, r->tsrc, r->tdst, tun);
    if (rc < 0)
        return rc;
    rc = dp_route_get(v->dp, any, 0, tun, any, r->table);
    if (rc < 0) {
        (void)dp_tunnel_put(v->dp, r->tsrc, r->tdst);
        return rc;
    }
    rc = dp_rule2_get(v->dp, r->src, r->splen, r->dst, r->dplen, NULL, r->table,
                      VPN_DP_ENCAP_RULE_PRIO);
    if (rc < 0) {
        (void)dp_route_put(v->dp, any, 0, tun, any, r->table);
        (void)dp_tunnel_put(v->dp, r->tsrc, r->tdst);
        return rc;
    }
    return 0;
}

static int encap_put(struct vpn_dp *v, const struct vdp_item *r)
{
    char tun[DP_IFNAMSIZ];
    struct in_addr any = {0};
    snprintf(tun, sizeof(tun), "mip%08x", (unsigned)ntohl(r->tdst.s_addr));
    int rc = dp_rule2_put(v->dp, r->src, r->splen, r->dst, r->dplen, NULL, r->table,
                          VPN_DP_ENCAP_RULE_PRIO);
    /* The route before its tunnel (dp_tunnel_put). */
    int r2 = dp_route_put(v->dp, any, 0, tun, any, r->table);
    int r3 = dp_tunnel_put(v->dp, r->tsrc, r->tdst);
    return rc < 0 ? rc : r2 < 0 ? r2 : r3;
}

/* ---- removal and installation ------------------------------------------------ */

/* Removes the records it[i] with sel[i] (all when sel is NULL): policies and
 * SAs in one batch, marks in one, then the IP-in-IP paths.  gone[i] is set
 * for each one removed.  Returns how many the kernel refused. */
static unsigned remove_records(struct vpn_dp *v, const struct vdp_item *it, size_t n,
                               const bool *sel, bool *gone)
{
    if (n == 0)
        return 0;
    struct dp_xfrm_op *xo = calloc(n, sizeof(*xo));
    struct dp_xfrm_state *sas = calloc(n, sizeof(*sas));
    struct dp_xfrm_policy *pols = calloc(n, sizeof(*pols));
    struct dp_mark_op *mo = calloc(n, sizeof(*mo));
    struct dp_mark *marks = calloc(n, sizeof(*marks));
    size_t *xi = calloc(n, sizeof(*xi)), *mi = calloc(n, sizeof(*mi));
    unsigned failed = 0;
    if (!xo || !sas || !pols || !mo || !marks || !xi || !mi) {
        failed = (unsigned)n;
        goto out;
    }
    size_t nx = 0, nm = 0;
    /* Policies first, then the SAs they point at. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if (sel && !sel[i])
                continue;
            if (pass == 0 && it[i].kind == VPN_PLAN_POLICY) {
                record_policy(&it[i], &pols[i]);
                xo[nx] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_PUT, .pol = &pols[i]};
                xi[nx++] = i;
            } else if (pass == 1 && it[i].kind == VPN_PLAN_SA) {
                record_state(&it[i], &sas[i]);
                xo[nx] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_PUT, .sa = &sas[i]};
                xi[nx++] = i;
            } else if (pass == 0 && it[i].kind == VPN_PLAN_MARK) {
                record_mark(&it[i], &marks[i]);
                mo[nm] = (struct dp_mark_op){.op = DP_MARK_PUT, .mark = &marks[i]};
                mi[nm++] = i;
            }
        }
    dp_xfrm_many(v->dp, xo, nx);
    dp_mark_many(v->dp, mo, nm);
    for (size_t k = 0; k < nx; k++) {
        if (xo[k].result < 0)
            failed++;
        else if (gone)
            gone[xi[k]] = true;
    }
    for (size_t k = 0; k < nm; k++) {
        if (mo[k].result < 0)
            failed++;
        else if (gone)
            gone[mi[k]] = true;
    }
    for (size_t i = 0; i < n; i++) {
        if ((sel && !sel[i]) || it[i].kind != VPN_PLAN_ENCAP)
            continue;
        if (encap_put(v, &it[i]) < 0)
            failed++;
        else if (gone)
            gone[i] = true;
    }
out:
    free(xo);
    free(sas);
    free(pols);
    free(mo);
    free(marks);
    free(xi);
    free(mi);
    return failed;
}

/* Installs the plan items plan[i] with sel[i] (records rec[i]): SAs and
 * policies in one batch, marks in one, then the IP-in-IP paths.  All or
 * nothing: on a failure what was installed is removed again (done[i] stays
 * set for an object whose removal failed too).  Returns 0 or the first
 * failure, described in err. */
static int install_items(struct vpn_dp *v, const struct vpn_plan_item *plan,
                         const struct vdp_item *rec, size_t n, const bool *sel, bool *done,
                         char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    struct dp_xfrm_op *xo = calloc(n, sizeof(*xo));
    struct dp_mark_op *mo = calloc(n, sizeof(*mo));
    struct dp_mark *marks = calloc(n, sizeof(*marks));
    size_t *xi = calloc(n, sizeof(*xi)), *mi = calloc(n, sizeof(*mi));
    int rc = 0;
    long bad = -1;
    if (!xo || !mo || !marks || !xi || !mi) {
        rc = -ENOMEM;
        errf(err, errlen, "out of memory");
        goto out;
    }
    size_t nx = 0, nm = 0;
    for (int pass = 0; pass < 2; pass++) /* SAs before the policies that use them */
        for (size_t i = 0; i < n; i++) {
            if (!sel[i])
                continue;
            if (pass == 0 && plan[i].kind == VPN_PLAN_SA) {
                xo[nx] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_GET, .sa = &plan[i].sa};
                xi[nx++] = i;
            } else if (pass == 1 && plan[i].kind == VPN_PLAN_POLICY) {
                xo[nx] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_GET, .pol = &plan[i].pol};
                xi[nx++] = i;
            } else if (pass == 0 && plan[i].kind == VPN_PLAN_MARK) {
                record_mark(&rec[i], &marks[i]);
                mo[nm] = (struct dp_mark_op){.op = DP_MARK_GET, .mark = &marks[i]};
                mi[nm++] = i;
            }
        }
    dp_xfrm_many(v->dp, xo, nx);
    for (size_t k = 0; k < nx; k++) {
        if (xo[k].result == 0)
            done[xi[k]] = true;
        else if (!rc) {
            rc = xo[k].result;
            bad = (long)xi[k];
        }
    }
    if (!rc) {
        dp_mark_many(v->dp, mo, nm);
        for (size_t k = 0; k < nm; k++) {
            if (mo[k].result == 0)
                done[mi[k]] = true;
            else if (!rc) {
                rc = mo[k].result;
                bad = (long)mi[k];
            }
        }
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (!sel[i] || plan[i].kind != VPN_PLAN_ENCAP)
            continue;
        int r = encap_get(v, &rec[i]);
        if (r == 0) {
            done[i] = true;
        } else {
            rc = r;
            bad = (long)i;
        }
    }
    if (rc) {
        char d[160] = "";
        if (bad >= 0)
            record_describe(&rec[bad], d, sizeof(d));
        errf(err, errlen, "profile %u: cannot install %s: %s", bad >= 0 ? rec[bad].profile : 0, d,
             strerror(-rc));
        /* All or nothing. */
        bool *gone = calloc(n, sizeof(*gone));
        if (gone) {
            remove_records(v, rec, n, done, gone);
            for (size_t i = 0; i < n; i++)
                if (gone[i])
                    done[i] = false;
            free(gone);
        }
    }
out:
    free(xo);
    free(mo);
    free(marks);
    free(xi);
    free(mi);
    return rc;
}

/* ---- default SAs (seed [0062]) ---------------------------------------------------- */

/* The SA of one direction of a configured default SA pair, keys included. */
static int default_state(const struct mipd_default_sa *d, struct in_addr node, bool out,
                         struct dp_xfrm_state *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->src = out ? node : d->peer;
    sa->dst = out ? d->peer : node;
    sa->proto = d->sec == VPN_SEC_AH ? DP_XFRM_AH : DP_XFRM_ESP;
    sa->spi = out ? d->spi_out : d->spi_in;
    const struct vpn_keys *k = out ? &d->key_out : &d->key_in;
    struct dp_xfrm_alg enc, aead, auth;
    if (!vpn_plan_enc_alg((enum vpn_enc_alg)d->enc_alg, &enc, &aead) ||
        !vpn_plan_integ_alg((enum vpn_integ_alg)d->integ_alg, &auth))
        return -EINVAL;
    if (sa->proto == DP_XFRM_AH) {
        sa->auth = auth;
        sa->auth.key = k->integ;
    } else if (aead.name[0]) {
        sa->aead = aead;
        sa->aead.key = k->enc;
    } else {
        sa->enc = enc;
        sa->enc.key = k->enc;
        if (auth.name[0]) {
            sa->auth = auth;
            sa->auth.key = k->integ;
        }
    }
    return 0;
}

static void defaults_remove(struct vpn_dp *v)
{
    for (size_t i = 0; i < v->n_defaults; i++) {
        struct vdp_default *d = &v->defaults[i];
        struct dp_xfrm_state sa;
        memset(&sa, 0, sizeof(sa));
        sa.proto = d->proto;
        if (d->installed_out) {
            sa.dst = d->peer;
            sa.spi = d->spi_out;
            if (dp_xfrm_state_put(v->dp, &sa) == 0)
                d->installed_out = false;
        }
        if (d->installed_in) {
            sa.dst = v->node;
            sa.spi = d->spi_in;
            if (dp_xfrm_state_put(v->dp, &sa) == 0)
                d->installed_in = false;
        }
    }
}

static int defaults_install(struct vpn_dp *v, const struct mipd_default_sa *cfg, size_t n,
                            char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    struct dp_xfrm_state *sas = calloc(2 * n, sizeof(*sas));
    struct dp_xfrm_op *ops = calloc(2 * n, sizeof(*ops));
    int rc = 0;
    if (!sas || !ops) {
        errf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++)
        for (int out = 0; out < 2 && !rc; out++) {
            if (default_state(&cfg[i], v->node, out, &sas[2 * i + (size_t)out]) < 0) {
                errf(err, errlen, "default SA with %s: unknown algorithm", inet_ntoa(cfg[i].peer));
                rc = -EINVAL;
            }
            ops[2 * i + (size_t)out] =
                (struct dp_xfrm_op){.op = DP_XFRM_STATE_GET, .sa = &sas[2 * i + (size_t)out]};
        }
    if (!rc)
        dp_xfrm_many(v->dp, ops, 2 * n);
    for (size_t i = 0; i < n && !rc; i++) {
        v->defaults[i].installed_in = ops[2 * i].result == 0;
        v->defaults[i].installed_out = ops[2 * i + 1].result == 0;
    }
    for (size_t k = 0; k < 2 * n && !rc; k++)
        if (ops[k].result < 0) {
            char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
            errf(err, errlen, "default SA %s>%s spi 0x%x: the kernel refused it: %s",
                 ip(sas[k].src, a), ip(sas[k].dst, b), sas[k].spi, strerror(-ops[k].result));
            rc = ops[k].result;
        }
    if (rc)
        defaults_remove(v);
out:
    if (sas)
        OPENSSL_cleanse(sas, 2 * n * sizeof(*sas)); /* key pointers only, but tidy */
    free(sas);
    free(ops);
    return rc;
}

/* vpnshare 0: the policies with SPI 0 take the default SA's SPI. */
static int resolve_defaults(const struct vpn_dp *v, struct vpn_plan_item *plan, size_t n, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        struct dp_xfrm_policy *p = &plan[i].pol;
        if (plan[i].kind != VPN_PLAN_POLICY || p->spi != 0)
            continue;
        bool out = p->dir == DP_XFRM_DIR_OUT;
        struct in_addr peer = out ? p->tmpl_dst : p->tmpl_src;
        const struct vdp_default *d = NULL;
        for (size_t k = 0; k < v->n_defaults && !d; k++)
            if (v->defaults[k].peer.s_addr == peer.s_addr)
                d = &v->defaults[k];
        char a[INET_ADDRSTRLEN];
        if (!d) {
            errf(err, errlen,
                 "profile %u: vpnshare 0 needs the default SA with %s, which default_sas "
                 "does not list",
                 plan[i].profile, ip(peer, a));
            return -ENOKEY;
        }
        if (d->proto != p->proto) {
            errf(err, errlen, "profile %u: the default SA with %s is %s, the profile wants %s",
                 plan[i].profile, ip(peer, a), d->proto == DP_XFRM_AH ? "ah" : "esp",
                 p->proto == DP_XFRM_AH ? "ah" : "esp");
            return -ENOKEY;
        }
        p->spi = out ? d->spi_out : d->spi_in;
    }
    return 0;
}

/* ---- sessions ------------------------------------------------------------------- */

static struct vdp_session *find_session(const struct vpn_dp *v, const char *sid)
{
    for (struct hnode *h = hmap_first(&v->sessions, hmap_hash_str(sid)); h; h = hmap_next_same(h)) {
        struct vdp_session *s = hmap_entry(h, struct vdp_session, node);
        if (!strcmp(s->sid, sid))
            return s;
    }
    return NULL;
}

static void session_free(struct vpn_dp *v, struct vdp_session *s)
{
    hmap_remove(&v->sessions, &s->node);
    free(s->sid);
    free(s->items);
    free(s);
}

struct vpn_dp *vpn_dp_new(struct dataplane *dp, enum vpn_node_role role, struct in_addr node,
                          const struct mipd_default_sa *defaults, size_t n_defaults, char *err,
                          size_t errlen)
{
    struct vpn_dp *v = calloc(1, sizeof(*v));
    if (!v) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    v->dp = dp;
    v->role = role;
    v->node = node;
    hmap_init(&v->sessions);
    if (RAND_bytes(v->fp_key, sizeof(v->fp_key)) != 1) {
        errf(err, errlen, "no randomness for the SA fingerprint key");
        vpn_dp_free(v);
        return NULL;
    }
    v->defaults = calloc(n_defaults ? n_defaults : 1, sizeof(*v->defaults));
    if (!v->defaults) {
        errf(err, errlen, "out of memory");
        vpn_dp_free(v);
        return NULL;
    }
    v->n_defaults = n_defaults;
    for (size_t i = 0; i < n_defaults; i++) {
        v->defaults[i].peer = defaults[i].peer;
        v->defaults[i].spi_out = defaults[i].spi_out;
        v->defaults[i].spi_in = defaults[i].spi_in;
        v->defaults[i].proto = defaults[i].sec == VPN_SEC_AH ? DP_XFRM_AH : DP_XFRM_ESP;
    }
    if (defaults_install(v, defaults, n_defaults, err, errlen) < 0) {
        vpn_dp_free(v);
        return NULL;
    }
    return v;
}

void vpn_dp_free(struct vpn_dp *v)
{
    if (!v)
        return;
    size_t bkt;
    struct hnode *h;
    while ((bkt = 0, h = hmap_iter(&v->sessions, &bkt, NULL))) {
        struct vdp_session *s = hmap_entry(h, struct vdp_session, node);
        remove_records(v, s->items, s->n, NULL, NULL);
        session_free(v, s);
    }
    hmap_free(&v->sessions);
    if (v->defaults)
        defaults_remove(v);
    free(v->defaults);
    free(v->tables);
    OPENSSL_cleanse(v->fp_key, sizeof(v->fp_key));
    free(v);
}

int vpn_dp_set(struct vpn_dp *v, const char *sid, struct in_addr hoa, const struct vpn_profile *p,
               unsigned n, char *err, size_t errlen)
{
    size_t max = (size_t)n * VPN_PLAN_MAX_PER_PROFILE, np = 0;
    struct vpn_plan_item *plan = calloc(max ? max : 1, sizeof(*plan));
    struct vdp_item *rec = calloc(max ? max : 1, sizeof(*rec));
    bool *fresh = calloc(max ? max : 1, sizeof(*fresh));
    bool *done = calloc(max ? max : 1, sizeof(*done));
    struct vdp_session *s = find_session(v, sid);
    unsigned nold = s ? s->n : 0;
    bool *keep = calloc(nold ? nold : 1, sizeof(*keep));
    bool *gone = calloc(nold ? nold : 1, sizeof(*gone));
    bool *drop = calloc(nold ? nold : 1, sizeof(*drop));
    struct vdp_item *items = NULL;
    int rc = 0;
    if (!plan || !rec || !fresh || !done || !keep || !gone || !drop) {
        errf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    if (vpn_plan_session(v->role, v->node, hoa, p, n, plan, max, &np, err, errlen) < 0) {
        rc = -EINVAL;
        goto out;
    }
    if ((rc = resolve_defaults(v, plan, np, err, errlen)) < 0)
        goto out;
    for (size_t i = 0; i < np; i++)
        if (record_of(v, &rec[i], &plan[i]) < 0) {
            errf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto out;
        }
    /* What both plans hold stays as it is. */
    for (size_t i = 0; i < np; i++) {
        fresh[i] = true;
        for (unsigned j = 0; j < nold && fresh[i]; j++)
            if (!keep[j] && record_same(&rec[i], &s->items[j])) {
                keep[j] = true;
                fresh[i] = false;
            }
    }
    /* Delete (seed [0060]-[0061]: the old settings of this cache instance)... */
    for (unsigned j = 0; j < nold; j++)
        drop[j] = !keep[j];
    if (s)
        remove_records(v, s->items, nold, drop, gone);
    /* ...then set. */
    rc = install_items(v, plan, rec, np, fresh, done, err, errlen);
    /* The session now holds: the kept and the undeletable old objects, and
     * the new ones installed (or left over by a failed roll-back). */
    size_t total = 0;
    items = calloc(nold + np ? nold + np : 1, sizeof(*items));
    if (!items) {
        /* Cannot even record them: take them out of the kernel. */
        remove_records(v, rec, np, done, NULL);
        if (s) {
            remove_records(v, s->items, nold, keep, NULL);
            session_free(v, s);
        }
        errf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned j = 0; j < nold; j++)
        if (!gone[j]) {
            items[total] = s->items[j];
            /* A kept object now comes from the new plan's profile. */
            for (size_t i = 0; keep[j] && i < np; i++)
                if (!fresh[i] && record_same(&rec[i], &s->items[j]))
                    items[total].profile = rec[i].profile;
            total++;
        }
    for (size_t i = 0; i < np; i++)
        if (done[i])
            items[total++] = rec[i];
    if (total == 0) {
        if (s)
            session_free(v, s);
        goto out;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s || !(s->sid = strdup(sid))) {
            free(s);
            remove_records(v, items, total, NULL, NULL);
            errf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto out;
        }
        hmap_insert(&v->sessions, &s->node, hmap_hash_str(sid));
    }
    free(s->items);
    s->items = items;
    s->n = (unsigned)total;
    s->hoa = hoa;
    items = NULL;
out:
    if (plan)
        OPENSSL_cleanse(plan, (max ? max : 1) * sizeof(*plan)); /* key pointers */
    free(plan);
    free(rec);
    free(fresh);
    free(done);
    free(keep);
    free(gone);
    free(drop);
    free(items);
    return rc;
}

unsigned vpn_dp_remove(struct vpn_dp *v, const char *sid)
{
    struct vdp_session *s = v && sid ? find_session(v, sid) : NULL;
    if (!s)
        return 0;
    unsigned failed = remove_records(v, s->items, s->n, NULL, NULL);
    session_free(v, s);
    return failed;
}

size_t vpn_dp_session_count(const struct vpn_dp *v)
{
    return v ? v->sessions.n : 0;
}

unsigned vpn_dp_session_objects(const struct vpn_dp *v, const char *sid)
{
    const struct vdp_session *s = v && sid ? find_session(v, sid) : NULL;
    return s ? s->n : 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *vpn_dp_session_describe(const struct vpn_dp *v, const char *sid)
{
    const struct vdp_session *s = v && sid ? find_session(v, sid) : NULL;
    if (!s || !s->n)
        return NULL;
    char(*lines)[160] = calloc(s->n, sizeof(*lines));
    char **ord = calloc(s->n, sizeof(*ord));
    char *out = calloc(s->n, 161);
    if (!lines || !ord || !out) {
        free(lines);
        free(ord);
        free(out);
        return NULL;
    }
    for (unsigned i = 0; i < s->n; i++) {
        record_describe(&s->items[i], lines[i], sizeof(lines[i]));
        ord[i] = lines[i];
    }
    qsort(ord, s->n, sizeof(*ord), line_cmp);
    for (unsigned i = 0; i < s->n; i++) {
        strcat(out, ord[i]);
        strcat(out, "\n");
    }
    free(lines);
    free(ord);
    return out;
}

/* ---- JSON ----------------------------------------------------------------------- */

static void json_record(FILE *f, const struct vdp_item *r)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], c[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
    ip(r->src, a);
    ip(r->dst, b);
    ip(r->tsrc, c);
    ip(r->tdst, d);
    const char *proto = r->proto == DP_XFRM_AH ? "ah" : "esp";
    switch (r->kind) {
    case VPN_PLAN_SA:
        fprintf(f,
                "\"kind\":\"xfrm_state\",\"proto\":\"%s\",\"spi\":\"0x%x\",\"src\":\"%s\","
                "\"dst\":\"%s\"",
                proto, r->spi, a, b);
        break;
    case VPN_PLAN_POLICY:
        fprintf(f,
                "\"kind\":\"xfrm_policy\",\"dir\":\"%s\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\","
                "\"tmpl\":{\"proto\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"spi\":\"0x%x\"}",
                r->dir == DP_XFRM_DIR_OUT   ? "out"
                : r->dir == DP_XFRM_DIR_FWD ? "fwd"
                                            : "in",
                a, r->splen, b, r->dplen, proto, c, d, r->spi);
        break;
    case VPN_PLAN_MARK: {
        char set[DP_MARK_SET_NAMSIZ];
        dp_mark_set_name(r->dscp, set);
        fprintf(f,
                "\"kind\":\"dscp_mark\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\",\"dscp\":%u,"
                "\"set\":\"%s\"",
                a, r->splen, b, r->dplen, r->dscp, set);
        break;
    }
    case VPN_PLAN_ENCAP:
        fprintf(f,
                "\"kind\":\"encap\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\",\"local\":\"%s\","
                "\"remote\":\"%s\",\"tunnel\":\"mip%08x\",\"table\":%u,\"priority\":%u",
                a, r->splen, b, r->dplen, c, d, (unsigned)ntohl(r->tdst.s_addr), r->table,
                VPN_DP_ENCAP_RULE_PRIO);
        break;
    default:
        fputs("\"kind\":null", f);
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void vpn_dp_dump_json(const struct vpn_dp *v, FILE *out)
{
    bool first = true;
    fputc('[', out);
    for (size_t i = 0; v && i < v->n_defaults; i++) {
        const struct vdp_default *d = &v->defaults[i];
        for (int o = 1; o >= 0; o--) {
            if (!(o ? d->installed_out : d->installed_in))
                continue;
            char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
            fprintf(out,
                    "%s{\"session\":null,\"hoa\":null,\"profile\":null,\"default_sa\":true,"
                    "\"kind\":\"xfrm_state\",\"proto\":\"%s\",\"spi\":\"0x%x\",\"src\":\"%s\","
                    "\"dst\":\"%s\"}",
                    first ? "" : ",", d->proto == DP_XFRM_AH ? "ah" : "esp",
                    o ? d->spi_out : d->spi_in, ip(o ? v->node : d->peer, a),
                    ip(o ? d->peer : v->node, b));
            first = false;
        }
    }
    size_t bkt = 0;
    for (struct hnode *h = v ? hmap_iter(&v->sessions, &bkt, NULL) : NULL; h;
         h = hmap_iter(&v->sessions, &bkt, h)) {
        const struct vdp_session *s = hmap_entry(h, struct vdp_session, node);
        char hoa[INET_ADDRSTRLEN];
        ip(s->hoa, hoa);
        for (unsigned i = 0; i < s->n; i++) {
            fprintf(out, "%s{\"session\":", first ? "" : ",");
            json_str(out, s->sid);
            fprintf(out, ",\"hoa\":\"%s\",\"profile\":%u,\"default_sa\":false,", hoa,
                    s->items[i].profile);
            json_record(out, &s->items[i]);
            fputc('}', out);
            first = false;
        }
    }
    fputc(']', out);
}
