/*
 * aaad, foreign role (AAAF): a Diameter proxy for the visited domain (aaad/FLOWS.md).
 *
 * freeDiameter forwards AMR, AMA and STR itself (routing by Destination-Realm, rt_default).
 * We watch what it forwards (diam_on_forward, on a freeDiameter thread): copy what the VPN
 * information cache needs -- Session-Id, NAI, the FA (the AMR's care-of address), home
 * address, lifetime, and the FA's VPN profiles of an AMA (vpn_avp_get_profiles) -- and post it
 * to the loop, which owns the cache:
 *   AMR forwarded  -> remember the FA of the Session-Id until its AMA (amr_timeout_ms)
 *   AMA forwarded  -> 2001 with a lifetime: cache the session (delete-then-set, seed
 *                     [0060]); failure or lifetime 0: forget it
 *   STR forwarded  -> forget the session
 *   timer          -> forget sessions whose lifetime ran out
 * The cache is what a later intra-domain move is answered from (seed [0063]-[0067]).
 */
#include "aaad.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "diam.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "mip4vpn_dict.h"
#include "mip_proto.h"
#include "vpn_avp.h"
#include "vpn_cache.h"
#include "vpn_hash.h"
#include "vpndb.h"

#define AVP_USER_NAME 1
#define AVP_AUTHORIZATION_LIFETIME 291
#define CMD_STR 275
#define DIAMETER_SUCCESS 2001
#define ID_MAX (AAAD_DIAMID_MAX + 1)

enum fwd_kind { FWD_AMR, FWD_AMA, FWD_STR, FWD_STA, FWD_OTHER };

/* What a freeDiameter thread copies out of a forwarded message for the loop. */
struct fwd_ev {
    struct aaad_foreign *f;
    enum fwd_kind kind;
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    struct in_addr fa, hoa;
    uint32_t rc, lifetime;
    bool has_lifetime;
    int prof_rc; /* vpn_avp_get_profiles' result (AMA) */
    char prof_err[VPN_AVP_ERR_MAX];
    size_t n;
    struct vpn_profile *profiles; /* VPN_MAX_PROFILES slots (AMA only) */
};

/* A forwarded AMR waiting for its AMA. */
struct fpend {
    struct hnode node;
    struct loop_timer timer;
    struct aaad_foreign *f;
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    struct in_addr fa;
};

struct aaad_foreign {
    struct aaad *ad;
    struct vpn_cache *cache;
    struct hmap pending;
    uint8_t hkey[16]; /* SipHash key: Session-Ids come from outside */
    struct loop_timer expire_timer;
};

static uint64_t sid_hash(const struct aaad_foreign *f, const char *sid)
{
    return vpn_siphash(f->hkey, sid, strlen(sid));
}

static struct fpend *pend_find(struct aaad_foreign *f, const char *sid)
{
    for (struct hnode *n = hmap_first(&f->pending, sid_hash(f, sid)); n; n = hmap_next_same(n)) {
        struct fpend *p = hmap_entry(n, struct fpend, node);
        if (!strcmp(p->sid, sid))
            return p;
    }
    return NULL;
}

static void pend_drop(struct aaad_foreign *f, struct fpend *p)
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

/* ---- freeDiameter thread ------------------------------------------------------------------ */

static void ev_free(struct fwd_ev *e)
{
    if (e->profiles) {
        for (size_t i = 0; i < e->n; i++)
            vpn_profile_clear(&e->profiles[i]);
        free(e->profiles);
    }
    free(e);
}

static void copy_amr(struct fwd_ev *e, struct msg *m)
{
    const uint8_t *rrq = NULL;
    size_t len = 0;
    if (diam_get_os(m, MIP4_AVP_REG_REQUEST, 0, &rrq, &len) == 0) {
        struct mip_reg_request rq;
        if (mip_get_reg_request(rrq, len, &rq, NULL) == MIP_OK) {
            e->fa = rq.care_of_addr; /* the FA's own address (RFC 5944 §3.1) */
            e->hoa = rq.home_addr;
        }
    }
}

static void copy_ama(struct fwd_ev *e, struct msg *m)
{
    e->rc = diam_result_code(m);
    e->has_lifetime = diam_get_u32(m, AVP_AUTHORIZATION_LIFETIME, 0, &e->lifetime) == 0;
    if (diam_get_addr(m, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, &e->hoa) != 0)
        e->hoa.s_addr = 0;
    const uint8_t *rep = NULL;
    size_t len = 0;
    if (diam_get_os(m, MIP4_AVP_REG_REPLY, 0, &rep, &len) == 0) {
        struct mip_reg_reply rp;
        if (mip_get_reg_reply(rep, len, &rp, NULL) == MIP_OK) {
            if (!e->has_lifetime) {
                e->lifetime = rp.lifetime;
                e->has_lifetime = true;
            }
            if (!e->hoa.s_addr)
                e->hoa = rp.home_addr;
        }
    }
    if (e->rc != DIAMETER_SUCCESS || !e->lifetime)
        return; /* nothing to cache */
    e->profiles = calloc(VPN_MAX_PROFILES, sizeof(*e->profiles));
    if (!e->profiles) {
        e->prof_rc = ENOMEM;
        snprintf(e->prof_err, sizeof(e->prof_err), "out of memory");
        return;
    }
    e->prof_rc = vpn_avp_get_profiles(m, e->profiles, VPN_MAX_PROFILES, &e->n, e->prof_err,
                                      sizeof(e->prof_err));
}

static void fwd_run(void *arg);

/* Called by freeDiameter for every application-2 message it forwards; reads only. */
static void on_forward(void *ctx, struct msg *m, bool is_req, uint32_t cmd)
{
    struct aaad_foreign *f = ctx;
    const char *name = NULL;
    enum fwd_kind kind = FWD_OTHER;
    switch (cmd) {
    case MIP4_CMD_AMR:
        kind = is_req ? FWD_AMR : FWD_AMA;
        name = is_req ? "AMR" : "AMA";
        break;
    case MIP4_CMD_HAR:
        name = is_req ? "HAR" : "HAA";
        break;
    case CMD_STR:
        kind = is_req ? FWD_STR : FWD_STA;
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
    int pe = aaad_msg_parse(m);
    if (pe)
        log_warn("forwarded message (command %u): AVPs not all readable (%s)", cmd, strerror(pe));
    diam_session_id(m, e->sid, sizeof(e->sid));
    diam_get_str(m, AVP_USER_NAME, 0, e->nai, sizeof(e->nai));
    if (kind == FWD_AMR)
        copy_amr(e, m);
    else if (kind == FWD_AMA)
        copy_ama(e, m);

    if (name) {
        /* FLOWS.md "Event log": a forwarded message is received, then sent. */
        char from[ID_MAX], to[ID_MAX];
        const char *me = diam_identity(f->ad->diam);
        uint32_t code = is_req ? 0 : diam_result_code(m);
        aaad_msg_source(m, from, sizeof(from));
        if (is_req)
            aaad_request_dest(m, to, sizeof(to));
        else
            aaad_answer_dest(m, to, sizeof(to));
        const char *s = e->sid[0] ? e->sid : e->nai;
        aaad_event(me, "rx", name, from, s, code);
        aaad_event(me, "tx", name, to, s, code);
    }
    if (diam_post(f->ad->diam, fwd_run, e) < 0) {
        log_err("forwarded %s %s: cannot queue it for the cache", name ? name : "message", e->sid);
        ev_free(e);
    }
}

/* ---- loop thread ---------------------------------------------------------------------------- */

static void forget(struct aaad_foreign *f, const char *sid, const char *why)
{
    if (sid[0] && vpn_cache_remove_id(f->cache, sid)) {
        f->ad->cnt.cache_forget++;
        log_info("session %s forgotten: %s", sid, why);
    }
}

static void fwd_amr(struct aaad_foreign *f, struct fwd_ev *e)
{
    f->ad->cnt.fwd_amr++;
    if (!e->sid[0])
        return;
    struct fpend *p = pend_find(f, e->sid);
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p) {
            log_err("forwarded AMR %s: out of memory", e->sid);
            return;
        }
        p->f = f;
        snprintf(p->sid, sizeof(p->sid), "%s", e->sid);
        loop_timer_init(&p->timer, pend_timeout, p);
        hmap_insert(&f->pending, &p->node, sid_hash(f, p->sid));
    }
    snprintf(p->nai, sizeof(p->nai), "%s", e->nai);
    p->fa = e->fa;
    loop_timer_arm(f->ad->loop, &p->timer, f->ad->cfg.foreign.amr_timeout_ms);
}

static void fwd_ama(struct aaad_foreign *f, struct fwd_ev *e)
{
    struct aaad *ad = f->ad;
    ad->cnt.fwd_ama++;
    if (!e->sid[0])
        return;
    struct fpend *p = pend_find(f, e->sid);
    struct in_addr fa = {0};
    const char *nai = e->nai[0] ? e->nai : NULL;
    char nai_buf[VPNDB_NAI_MAX + 1] = "";
    if (p) {
        fa = p->fa;
        if (!nai && p->nai[0]) {
            snprintf(nai_buf, sizeof(nai_buf), "%s", p->nai);
            nai = nai_buf;
        }
        pend_drop(f, p);
    } else {
        /* E.g. we restarted between the AMR and its AMA: keep the cache right anyway. */
        struct vpn_session *old = vpn_cache_find(f->cache, e->sid);
        if (old)
            fa = old->fa;
    }
    if (e->rc != DIAMETER_SUCCESS) {
        forget(f, e->sid, "registration refused");
        return;
    }
    if (!e->lifetime) {
        forget(f, e->sid, "deregistered (lifetime 0)");
        return;
    }
    if (e->prof_rc) {
        ad->cnt.fwd_profile_errors++;
        log_warn("AMA %s: VPN profiles not cached (%d: %s)", e->sid, e->prof_rc, e->prof_err);
        forget(f, e->sid, "its VPN information could not be read");
        return;
    }
    /* The leg is not carried (dict/vpn_avp.h); an AMA carries the FA's set only, whose legs
     * the path decision makes fa-ha towards a static gateway and fa-pcn towards a dynamic
     * one (seed [0040]-[0041]). */
    for (size_t i = 0; i < e->n; i++)
        e->profiles[i].leg =
            e->profiles[i].gw_type == VPN_GW_DYNAMIC ? VPN_LEG_FA_PCN : VPN_LEG_FA_HA;
    char err[VPN_ERR_MAX];
    if (!vpn_cache_set(f->cache, e->sid, nai, e->hoa, fa, e->profiles, (unsigned)e->n, e->lifetime,
                       time(NULL), err, sizeof(err))) {
        ad->cnt.fwd_profile_errors++;
        log_warn("AMA %s: VPN information not cached: %s", e->sid, err);
        forget(f, e->sid, "its VPN information was refused");
        return;
    }
    ad->cnt.cache_set++;
    char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
    log_info("session %s (%s) cached: HoA %s FA %s, %zu profile(s), lifetime %u s", e->sid,
             nai ? nai : "-", inet_ntop(AF_INET, &e->hoa, b1, sizeof(b1)),
             inet_ntop(AF_INET, &fa, b2, sizeof(b2)), e->n, e->lifetime);
}

static void fwd_run(void *arg)
{
    struct fwd_ev *e = arg;
    struct aaad_foreign *f = e->f;
    switch (e->kind) {
    case FWD_AMR:
        fwd_amr(f, e);
        break;
    case FWD_AMA:
        fwd_ama(f, e);
        break;
    case FWD_STR: {
        f->ad->cnt.fwd_str++;
        struct fpend *p = e->sid[0] ? pend_find(f, e->sid) : NULL;
        if (p)
            pend_drop(f, p);
        forget(f, e->sid, "STR forwarded (session ended)");
        break;
    }
    case FWD_STA:
        f->ad->cnt.fwd_sta++;
        break;
    default:
        f->ad->cnt.fwd_other++;
        break;
    }
    ev_free(e);
}

static void on_expire(struct loop *l, void *arg)
{
    struct aaad_foreign *f = arg;
    size_t n = vpn_cache_expire(f->cache, time(NULL), NULL, NULL);
    if (n) {
        f->ad->cnt.cache_expired += n;
        log_info("%zu cached session(s) expired (lifetime over)", n);
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
    int rc = diam_on_forward(ad->diam, on_forward, f);
    if (rc) {
        snprintf(err, errlen, "cannot watch forwarded messages (%s)", strerror(rc));
        hmap_free(&f->pending);
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
    size_t b = 0;
    struct hnode *n = NULL;
    while ((n = hmap_iter(&f->pending, &b, NULL)) != NULL) {
        b = 0;
        pend_drop(f, hmap_entry(n, struct fpend, node));
    }
    hmap_free(&f->pending);
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
    return f->pending.n;
}

const struct vpn_cache *aaad_foreign_cache(const struct aaad_foreign *f)
{
    return f->cache;
}

void aaad_foreign_dump_sessions(const struct aaad_foreign *f, FILE *out)
{
    time_t now = time(NULL);
    bool first = true;
    fputc('[', out);
    for (struct vpn_session *s = vpn_cache_first(f->cache); s; s = vpn_cache_next(s)) {
        char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
        fprintf(out, "%s{\"session\":", first ? "" : ",");
        vpn_json_str(out, s->id);
        fputs(",\"nai\":", out);
        vpn_json_str(out, s->nai ? s->nai : "");
        long long left = (long long)s->expires - (long long)now;
        fprintf(out, ",\"hoa\":\"%s\",\"fa\":\"%s\",\"lifetime_left\":%lld,\"profiles\":%u}",
                inet_ntop(AF_INET, &s->hoa, b1, sizeof(b1)),
                inet_ntop(AF_INET, &s->fa, b2, sizeof(b2)), left > 0 ? left : 0, s->n_profiles);
        first = false;
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
