/*
 * aaad, foreign role (AAAF): a Diameter proxy for the visited domain (aaad/FLOWS.md "AAAF").
 *
 * freeDiameter forwards the AMAs and STAs itself; we watch them (diam_on_forward, on a
 * freeDiameter thread), copy what the VPN information cache needs (aaad_ama_read) and post it
 * to the loop, which owns the cache:
 *   AMA forwarded  -> 2001 with a lifetime: cache the session (delete-then-set, seed [0060]),
 *                     with the FA of its AMR, the AAAH's FA-HA MSA and the previous FA of an
 *                     inter-domain move (seed [0071]); another cached session of the same NAI
 *                     is retired (the MN left that FA); failure or lifetime 0: forget it
 *   timer          -> forget sessions whose lifetime ran out, drop retired entries
 * The AMRs and STRs themselves are taken off the forwarding path (aaad_foreign_req.c): the
 * cache answers intra-domain moves (seed [0063]-[0067], [0079]-[0083]).
 */
#include "aaad_foreign_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "diam.h"
#include "log.h"
#include "mip4vpn_dict.h"
#include "vpn_avp.h"
#include "vpn_hash.h"

enum fwd_kind { FWD_AMA, FWD_STA, FWD_OTHER };

/* What a freeDiameter thread copies out of a forwarded answer for the loop. */
struct fwd_ev {
    struct aaad_foreign *f;
    enum fwd_kind kind;
    struct aaad_ama_in a; /* FWD_AMA */
};

/* ---- tables ------------------------------------------------------------------------------- */

uint64_t foreign_hash(const struct aaad_foreign *f, const char *sid)
{
    return vpn_siphash(f->hkey, sid, strlen(sid));
}

struct fsess *fsess_find(struct aaad_foreign *f, const char *sid)
{
    for (struct hnode *n = hmap_first(&f->sess, foreign_hash(f, sid)); n; n = hmap_next_same(n)) {
        struct fsess *s = hmap_entry(n, struct fsess, node);
        if (!strcmp(s->sid, sid))
            return s;
    }
    return NULL;
}

static void fsess_reset(struct fsess *s)
{
    struct hnode keep = s->node;
    char sid[sizeof(s->sid)];
    memcpy(sid, s->sid, sizeof(sid));
    OPENSSL_cleanse(s, sizeof(*s));
    s->node = keep;
    memcpy(s->sid, sid, sizeof(sid));
}

struct fsess *fsess_get(struct aaad_foreign *f, const char *sid)
{
    struct fsess *s = fsess_find(f, sid);
    if (s) {
        if (s->retired) {
            f->n_retired--;
            fsess_reset(s);
        }
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    hmap_insert(&f->sess, &s->node, foreign_hash(f, sid));
    return s;
}

void fsess_drop(struct aaad_foreign *f, struct fsess *s)
{
    if (s->retired)
        f->n_retired--;
    hmap_remove(&f->sess, &s->node);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

void fsess_retire(struct aaad_foreign *f, struct fsess *s, time_t expires)
{
    if (!s->retired)
        f->n_retired++;
    s->retired = true;
    s->expires = expires;
    OPENSSL_cleanse(s->fa_ha_key, sizeof(s->fa_ha_key)); /* the key is the successor's now */
    s->fa_ha_key_len = 0;
    s->has_fa_ha = false;
    s->moved_from[0] = '\0';
}

struct fpend *pend_find(struct aaad_foreign *f, const char *sid)
{
    for (struct hnode *n = hmap_first(&f->pending, foreign_hash(f, sid)); n;
         n = hmap_next_same(n)) {
        struct fpend *p = hmap_entry(n, struct fpend, node);
        if (!strcmp(p->sid, sid))
            return p;
    }
    return NULL;
}

void pend_drop(struct aaad_foreign *f, struct fpend *p)
{
    loop_timer_cancel(f->ad->loop, &p->timer);
    hmap_remove(&f->pending, &p->node);
    free(p);
}

static void pend_timeout(struct loop *l, void *arg)
{
    (void)l;
    struct fpend *p = arg;
    log_warn("forwarded AMR %s (%s): no AMA within %u ms; forgotten", p->sid, p->nai,
             p->f->ad->cfg.foreign.amr_timeout_ms);
    p->f->ad->cnt.fwd_amr_unmatched++;
    pend_drop(p->f, p);
}

void pend_add(struct aaad_foreign *f, const char *sid, const char *nai, struct in_addr fa,
              const char *fa_host, bool fa_local)
{
    if (!sid[0])
        return;
    struct fpend *p = pend_find(f, sid);
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p) {
            log_err("forwarded AMR %s: out of memory", sid);
            return;
        }
        p->f = f;
        snprintf(p->sid, sizeof(p->sid), "%s", sid);
        loop_timer_init(&p->timer, pend_timeout, p);
        hmap_insert(&f->pending, &p->node, foreign_hash(f, p->sid));
    }
    snprintf(p->nai, sizeof(p->nai), "%s", nai);
    snprintf(p->fa_host, sizeof(p->fa_host), "%s", fa_host);
    p->fa = fa;
    p->fa_local = fa_local;
    loop_timer_arm(f->ad->loop, &p->timer, f->ad->cfg.foreign.amr_timeout_ms);
}

void foreign_forget(struct aaad_foreign *f, const char *sid, const char *why)
{
    if (!sid[0])
        return;
    struct fsess *s = fsess_find(f, sid);
    if (s && !s->retired)
        fsess_drop(f, s);
    if (vpn_cache_remove_id(f->cache, sid)) {
        f->ad->cnt.cache_forget++;
        log_info("session %s forgotten: %s", sid, why);
    }
}

/* ---- freeDiameter thread ------------------------------------------------------------------ */

static void ev_free(struct fwd_ev *e)
{
    aaad_ama_in_clear(&e->a);
    free(e);
}

static void fwd_run(void *arg);

/* Called by freeDiameter for every application-2 message it forwards (AVPs resolved); reads
 * only.  AMRs and STRs are normally ours already (aaad_take_requests): one that gets here was
 * left to freeDiameter (no memory to take it) and is only logged. */
static void on_forward(void *ctx, struct msg *m, bool is_req, uint32_t cmd)
{
    struct aaad_foreign *f = ctx;
    const char *name = NULL;
    enum fwd_kind kind = FWD_OTHER;
    switch (cmd) {
    case MIP4_CMD_AMR:
        kind = is_req ? FWD_OTHER : FWD_AMA;
        name = is_req ? "AMR" : "AMA";
        break;
    case MIP4_CMD_HAR:
        name = is_req ? "HAR" : "HAA";
        break;
    case AAAD_CMD_STR:
        kind = is_req ? FWD_OTHER : FWD_STA;
        name = is_req ? "STR" : "STA";
        break;
    default:
        break;
    }
    struct fwd_ev *e = calloc(1, sizeof(*e));
    if (!e) {
        log_err("forwarded message (command %u): out of memory, not cached", cmd);
        return;
    }
    e->f = f;
    e->kind = kind;
    if (kind == FWD_AMA) {
        aaad_ama_read(m, &e->a);
    } else if (diam_session_id(m, e->a.sid, sizeof(e->a.sid))) {
        e->a.sid[0] = '\0';
    }
    if (name) {
        /* FLOWS.md "Event log": a forwarded message is received, then sent. */
        char from[AAAD_ID_MAX], to[AAAD_ID_MAX], nai[VPNDB_NAI_MAX + 1] = "";
        const char *me = diam_identity(f->ad->diam);
        uint32_t code = is_req ? 0 : diam_result_code(m);
        aaad_msg_source(m, from, sizeof(from));
        if (is_req)
            aaad_request_dest(m, to, sizeof(to));
        else
            aaad_answer_dest(m, to, sizeof(to));
        if (!e->a.sid[0] && diam_get_str(m, AAAD_AVP_USER_NAME, 0, nai, sizeof(nai)))
            nai[0] = '\0';
        const char *s = e->a.sid[0] ? e->a.sid : nai;
        aaad_event(me, "rx", name, from, s, code);
        aaad_event(me, "tx", name, to, s, code);
    }
    int pr = diam_post(f->ad->diam, fwd_run, e);
    if (pr == -ENOMEM) { /* not queued (any other error: queued, the loop runs it) */
        log_err("forwarded %s %s: cannot queue it for the cache", name ? name : "message",
                e->a.sid);
        ev_free(e);
    }
}

/* ---- loop thread ---------------------------------------------------------------------------- */

/* The MN left the FA of every other cached session of nai (a move the AAAH answered): those
 * sessions retire, so an STR from such an FA ends here (FLOWS.md "STR at the AAAF"). */
static void retire_others(struct aaad_foreign *f, const char *nai, const char *sid)
{
    struct vpn_session *o;
    while ((o = vpn_cache_find_nai(f->cache, nai)) != NULL && strcmp(o->id, sid)) {
        struct fsess *s = fsess_find(f, o->id);
        log_info("session %s (%s) at FA %s retired: the MN registered again as session %s", o->id,
                 nai, inet_ntoa(o->fa), sid);
        if (s) {
            fsess_retire(f, s, o->expires);
            snprintf(s->next_sid, sizeof(s->next_sid), "%s", sid);
        }
        vpn_cache_remove(f->cache, o);
    }
}

static void fwd_ama(struct aaad_foreign *f, struct aaad_ama_in *e)
{
    struct aaad *ad = f->ad;
    ad->cnt.fwd_ama++;
    if (!e->sid[0])
        return;
    struct fpend *p = pend_find(f, e->sid);
    struct fsess *old = fsess_find(f, e->sid);
    struct in_addr fa = {0};
    bool fa_local = false;
    char fa_host[AAAD_ID_MAX] = "";
    const char *nai = e->nai[0] ? e->nai : NULL;
    char nai_buf[VPNDB_NAI_MAX + 1] = "";
    if (p) {
        fa = p->fa;
        fa_local = p->fa_local;
        snprintf(fa_host, sizeof(fa_host), "%s", p->fa_host);
        if (!nai && p->nai[0]) {
            snprintf(nai_buf, sizeof(nai_buf), "%s", p->nai);
            nai = nai_buf;
        }
        pend_drop(f, p);
    } else if (old && !old->retired) {
        /* E.g. we restarted between the AMR and its AMA: keep the cache right anyway. */
        fa = old->fa;
        fa_local = old->fa_local;
        snprintf(fa_host, sizeof(fa_host), "%s", old->fa_host);
    }
    if (e->rc != AAAD_DIAMETER_SUCCESS) {
        foreign_forget(f, e->sid, "registration refused");
        return;
    }
    if (!e->lifetime) {
        foreign_forget(f, e->sid, "deregistered (lifetime 0)");
        return;
    }
    if (e->prof_rc) {
        ad->cnt.fwd_profile_errors++;
        log_warn("AMA %s: VPN profiles not cached (%d: %s)", e->sid, e->prof_rc, e->prof_err);
        foreign_forget(f, e->sid, "its VPN information could not be read");
        return;
    }
    /* The leg is not carried (dict/vpn_avp.h); an AMA carries the FA's set only, whose legs
     * the path decision makes fa-ha towards a static gateway and fa-pcn towards a dynamic
     * one (seed [0040]-[0041]). */
    for (size_t i = 0; i < e->n; i++)
        e->profiles[i].leg =
            e->profiles[i].gw_type == VPN_GW_DYNAMIC ? VPN_LEG_FA_PCN : VPN_LEG_FA_HA;
    /* Before the set: the cache then holds at most one live session per NAI, the one
     * vpn_cache_find_nai() returns. */
    if (nai)
        retire_others(f, nai, e->sid);
    char err[VPN_ERR_MAX];
    if (!vpn_cache_set(f->cache, e->sid, nai, e->hoa, fa, e->profiles, (unsigned)e->n, e->lifetime,
                       time(NULL), err, sizeof(err))) {
        ad->cnt.fwd_profile_errors++;
        log_warn("AMA %s: VPN information not cached: %s", e->sid, err);
        foreign_forget(f, e->sid, "its VPN information was refused");
        return;
    }
    struct fsess *s = fsess_get(f, e->sid);
    if (!s) {
        log_err("AMA %s: out of memory; session not cached", e->sid);
        vpn_cache_remove_id(f->cache, e->sid);
        return;
    }
    snprintf(s->nai, sizeof(s->nai), "%s", nai ? nai : "");
    if (fa_host[0])
        snprintf(s->fa_host, sizeof(s->fa_host), "%s", fa_host);
    snprintf(s->realm, sizeof(s->realm), "%s", e->origin_realm);
    s->fa = fa;
    s->fa_local = fa_local;
    s->ha = e->ha;
    s->hoa = e->hoa;
    OPENSSL_cleanse(s->fa_ha_key, sizeof(s->fa_ha_key));
    s->has_fa_ha = e->has_fa_ha;
    s->fa_ha_spi = e->fa_ha_spi;
    s->fa_ha_alg = e->fa_ha_alg;
    s->fa_ha_key_len = e->fa_ha_key_len;
    memcpy(s->fa_ha_key, e->fa_ha_key, e->fa_ha_key_len);
    s->has_prev_fa = e->has_prev_fa;
    s->prev_fa = e->prev_fa;
    /* The AAAH answered this Session-Id: it holds it now (aaah.h re-keys a session on a new
     * Session-Id), and the HA accepted the registration. */
    s->aaah_sid[0] = '\0';
    s->moved_from[0] = '\0';
    ad->cnt.cache_set++;
    char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN], b3[INET_ADDRSTRLEN];
    log_info("session %s (%s) cached: HoA %s FA %s, %zu profile(s), lifetime %u s%s%s", e->sid,
             nai ? nai : "-", inet_ntop(AF_INET, &e->hoa, b1, sizeof(b1)),
             inet_ntop(AF_INET, &fa, b2, sizeof(b2)), e->n, e->lifetime,
             e->has_prev_fa ? ", moved from FA " : "",
             e->has_prev_fa ? inet_ntop(AF_INET, &e->prev_fa, b3, sizeof(b3)) : "");
}

static void fwd_run(void *arg)
{
    struct fwd_ev *e = arg;
    struct aaad_foreign *f = e->f;
    switch (e->kind) {
    case FWD_AMA:
        fwd_ama(f, &e->a);
        break;
    case FWD_STA:
        f->ad->cnt.fwd_sta++;
        break;
    default:
        f->ad->cnt.fwd_other++;
        break;
    }
    ev_free(e);
}

static void before_expire(struct vpn_session *vs, void *arg)
{
    struct aaad_foreign *f = arg;
    struct fsess *s = fsess_find(f, vs->id);
    if (s && !s->retired)
        fsess_drop(f, s);
}

static void on_expire(struct loop *l, void *arg)
{
    struct aaad_foreign *f = arg;
    time_t now = time(NULL);
    size_t n = vpn_cache_expire(f->cache, now, before_expire, f);
    if (n) {
        f->ad->cnt.cache_expired += n;
        log_info("%zu cached session(s) expired (lifetime over)", n);
    }
    if (f->n_retired) {
        size_t b = 0;
        struct hnode *h = NULL, *next;
        for (h = hmap_iter(&f->sess, &b, NULL); h; h = next) {
            next = hmap_iter(&f->sess, &b, h);
            struct fsess *s = hmap_entry(h, struct fsess, node);
            if (s->retired && s->expires <= now)
                fsess_drop(f, s);
        }
    }
    loop_timer_arm(l, &f->expire_timer, f->ad->cfg.foreign.expire_interval_ms);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

struct aaad_foreign *aaad_foreign_new(struct aaad *ad, char *err, size_t errlen)
{
    struct aaad_foreign *f = calloc(1, sizeof(*f));
    if (!f || !(f->cache = vpn_cache_new()) || RAND_bytes(f->hkey, sizeof(f->hkey)) != 1) {
        snprintf(err, errlen, "out of memory or no randomness");
        if (f)
            vpn_cache_free(f->cache);
        free(f);
        return NULL;
    }
    f->ad = ad;
    hmap_init(&f->pending);
    hmap_init(&f->sess);
    int rc = diam_on_forward(ad->diam, on_forward, f);
    if (rc == 0)
        rc = foreign_req_start(f);
    if (rc) {
        snprintf(err, errlen, "cannot watch forwarded messages (%s)", strerror(rc));
        hmap_free(&f->pending);
        hmap_free(&f->sess);
        vpn_cache_free(f->cache);
        free(f);
        return NULL;
    }
    loop_timer_init(&f->expire_timer, on_expire, f);
    loop_timer_arm(ad->loop, &f->expire_timer, ad->cfg.foreign.expire_interval_ms);
    return f;
}

void aaad_foreign_free(struct aaad_foreign *f)
{
    if (!f)
        return;
    loop_timer_cancel(f->ad->loop, &f->expire_timer);
    foreign_req_free(f);
    size_t b = 0;
    struct hnode *n = NULL;
    while ((n = hmap_iter(&f->pending, &b, NULL)) != NULL) {
        b = 0;
        pend_drop(f, hmap_entry(n, struct fpend, node));
    }
    hmap_free(&f->pending);
    b = 0;
    while ((n = hmap_iter(&f->sess, &b, NULL)) != NULL) {
        b = 0;
        fsess_drop(f, hmap_entry(n, struct fsess, node));
    }
    hmap_free(&f->sess);
    vpn_cache_free(f->cache); /* wipes every key */
    OPENSSL_cleanse(f->hkey, sizeof(f->hkey));
    free(f);
}

size_t aaad_foreign_sessions(const struct aaad_foreign *f)
{
    return vpn_cache_count(f->cache);
}

size_t aaad_foreign_pending(const struct aaad_foreign *f)
{
    return f->pending.n + f->n_strx;
}

const struct vpn_cache *aaad_foreign_cache(const struct aaad_foreign *f)
{
    return f->cache;
}

/* ---- dumps ---------------------------------------------------------------------------------- */

static void dump_one(FILE *out, const struct fsess *s, const struct vpn_session *vs, time_t now,
                     bool *first)
{
    char b[INET_ADDRSTRLEN];
    fprintf(out, "%s{\"session\":", *first ? "" : ",");
    *first = false;
    vpn_json_str(out, s ? s->sid : vs->id);
    fputs(",\"nai\":", out);
    vpn_json_str(out, vs && vs->nai ? vs->nai : s ? s->nai : "");
    struct in_addr hoa = vs ? vs->hoa : s->hoa, fa = vs ? vs->fa : s->fa;
    fprintf(out, ",\"hoa\":\"%s\"", inet_ntop(AF_INET, &hoa, b, sizeof(b)));
    fprintf(out, ",\"fa\":\"%s\"", inet_ntop(AF_INET, &fa, b, sizeof(b)));
    long long left = (long long)(vs ? vs->expires : s->expires) - (long long)now;
    fprintf(out, ",\"lifetime_left\":%lld,\"profiles\":%u,\"retired\":%s", left > 0 ? left : 0,
            vs ? vs->n_profiles : 0, s && s->retired ? "true" : "false");
    if (s && s->fa_host[0]) {
        fputs(",\"fa_host\":", out);
        vpn_json_str(out, s->fa_host);
    }
    if (s && s->ha.s_addr)
        fprintf(out, ",\"ha\":\"%s\"", inet_ntop(AF_INET, &s->ha, b, sizeof(b)));
    if (s && s->has_prev_fa)
        fprintf(out, ",\"prev_fa\":\"%s\"", inet_ntop(AF_INET, &s->prev_fa, b, sizeof(b)));
    if (s && !s->retired) {
        fprintf(out, ",\"fa_ha_key\":%s", s->has_fa_ha ? "true" : "false");
        if (s->aaah_sid[0]) {
            fputs(",\"aaah_session\":", out);
            vpn_json_str(out, s->aaah_sid);
        }
        if (s->moved_from[0]) {
            fputs(",\"moved_from\":", out);
            vpn_json_str(out, s->moved_from);
        }
    }
    fputc('}', out);
}

void aaad_foreign_dump_sessions(const struct aaad_foreign *f, FILE *out)
{
    struct aaad_foreign *mf = (struct aaad_foreign *)f; /* lookups only */
    time_t now = time(NULL);
    bool first = true;
    fputc('[', out);
    for (struct vpn_session *vs = vpn_cache_first(f->cache); vs; vs = vpn_cache_next(vs))
        dump_one(out, fsess_find(mf, vs->id), vs, now, &first);
    size_t b = 0;
    for (struct hnode *h = hmap_iter(&f->sess, &b, NULL); h; h = hmap_iter(&f->sess, &b, h)) {
        const struct fsess *s = hmap_entry(h, struct fsess, node);
        if (s->retired)
            dump_one(out, s, NULL, now, &first);
    }
    fputc(']', out);
}

void aaad_foreign_dump_vpn(const struct aaad_foreign *f, FILE *out)
{
    bool first = true;
    fputc('[', out);
    aaad_dump_cache_items(f->cache, NULL, time(NULL), out, &first);
    fputc(']', out);
}
