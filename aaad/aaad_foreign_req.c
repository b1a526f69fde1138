/*
 * aaad, foreign role: the AMRs and STRs the AAAF takes off freeDiameter's forwarding path
 * (aaad_take_requests) and handles on the loop, which owns the cache (aaad/FLOWS.md "AAAF").
 *
 *   AMR of an intra-domain move (seed [0063]-[0067], [0079]-[0083]; DESIGN §7: the MN need not
 *       name its previous FA, the cache knows it) that passes every check of can_answer():
 *       answered here -- AMA 2001 without MIP-Reg-Reply, the FA's profiles with the FA
 *       rewritten, the session's FA-HA key, MIP4VPN-Previous-FA-Address = the FA the MN left.
 *       The new FA relays the registration to the HA itself, which authenticates it with the
 *       MN-HA key of the session (the AAAF cannot check the MN-AAA authenticator: it answers only
 *       requests that carry an MN-HA authenticator, so the HA stays the authenticator).  The
 *       cache follows the new Session-Id; the old one retires.
 *   any other AMR: handed back to freeDiameter (forwarded), remembered until its AMA.
 *   STR of a retired session (the FA the MN left): STA 2001 here, the session goes on.
 *   STR with Termination-Cause BAD_ANSWER for a session a local move made, while the move can
 *       be undone: undone (the registration did not complete at the HA), STA 2001 here.
 *   other STR of a session the AAAH holds under another Session-Id: the AAAF ends the AAAH's
 *       session with its own STR and relays the answer.
 *   any other STR: forwarded, the session forgotten.
 */
#include "aaad_foreign_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "diam.h"
#include "log.h"
#include "mip4vpn_dict.h"
#include "vpn_avp.h"

struct taken {
    struct aaad_foreign *f;
    struct msg *m;
    uint32_t cmd;
    char source[AAAD_ID_MAX];
};

static const char *ip_s(struct in_addr a, char b[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, b, INET_ADDRSTRLEN);
}

/* ---- answers we make -------------------------------------------------------------------- */

/* Answers req (consumed) with rc and an Error-Message; logs the EVENT line. */
static void answer_code(struct aaad_foreign *f, struct msg *req, const char *cmd, const char *peer,
                        const char *sid, uint32_t rc, const char *why)
{
    struct aaad *ad = f->ad;
    struct msg *ans = NULL;
    if (diam_new_answer(req, &ans) || diam_set_result(ans, rc, why)) {
        ad->cnt.answer_errors++;
        if (ans)
            diam_msg_free(ans);
        log_err("%s for session %s: cannot build the answer", cmd, sid);
        return;
    }
    if (diam_answer(ad->diam, &ans)) {
        ad->cnt.answer_errors++;
        log_err("%s for session %s to %s could not be sent", cmd, sid, peer);
        return;
    }
    if (!strcmp(cmd, "STA")) {
        ad->cnt.sta_tx++;
    } else {
        ad->cnt.ama_tx++;
        if (rc != AAAD_DIAMETER_SUCCESS)
            aaad_count_denial(ad, rc);
    }
    aaad_event(diam_identity(ad->diam), "tx", cmd, peer, sid, rc);
}

/* ---- AMR ------------------------------------------------------------------------------------ */

enum amr_fate { NOT_A_MOVE, MOVE_FORWARD, MOVE_LOCAL };

/* Whether the AMR is an intra-domain move the cache may answer (FLOWS.md "AAAF": every
 * condition, in this order).  sp and vsp: the cached session the MN leaves. */
static enum amr_fate can_answer(struct aaad_foreign *f, const struct taken *t,
                                const struct aaad_amr_in *in, struct fsess **sp,
                                struct vpn_session **vsp, char *why, size_t wl)
{
    char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN], realm[AAAD_ID_MAX];
    const struct mip_reg_request *rq = &in->rq;
    if (in->rc || !in->sid[0] || !in->nai[0] || !in->rq_ok)
        return NOT_A_MOVE; /* the AAAH answers with the precise error */
    struct vpn_session *vs = vpn_cache_find_nai(f->cache, in->nai);
    struct fsess *s = vs ? fsess_find(f, vs->id) : NULL;
    if (!vs || !s || s->retired || !rq->care_of_addr.s_addr ||
        rq->care_of_addr.s_addr == vs->fa.s_addr)
        return NOT_A_MOVE; /* first registration, or re-registration at the same FA */
    *sp = s;
    *vsp = vs;
    struct vpn_session *other = vpn_cache_find(f->cache, in->sid);
    if (rq->lifetime == 0)
        snprintf(why, wl, "a deregistration");
    else if (in->service_update)
        snprintf(why, wl, "a service update (the AAAH re-reads the VPN database)");
    else if (!strcmp(vs->id, in->sid) || other)
        snprintf(why, wl, "Session-Id %s already in use here", in->sid);
    else if (in->has_prev_fa && in->prev_fa.s_addr != vs->fa.s_addr) {
        f->ad->cnt.prev_fa_mismatch++;
        snprintf(why, wl, "the MN names previous FA %s, the cache has FA %s", ip_s(in->prev_fa, b1),
                 ip_s(vs->fa, b2));
    } else if (!rq->ext.has_nai || rq->ext.nai.len != strlen(in->nai) ||
               memcmp(rq->ext.nai.ptr, in->nai, rq->ext.nai.len))
        snprintf(why, wl, "the request's NAI extension differs from User-Name");
    else if (!rq->ext.mn_aaa.present)
        snprintf(why, wl, "no MN-AAA authentication extension");
    else if (!rq->ext.mn_ha.present)
        snprintf(why, wl, "no MN-HA authenticator: only the AAAH can authenticate the MN");
    else if (rq->home_agent.s_addr != s->ha.s_addr)
        snprintf(why, wl, "home agent %s, the session's is %s", ip_s(rq->home_agent, b1),
                 ip_s(s->ha, b2));
    else if (rq->home_addr.s_addr && rq->home_addr.s_addr != vs->hoa.s_addr)
        snprintf(why, wl, "home address %s, the session's is %s", ip_s(rq->home_addr, b1),
                 ip_s(vs->hoa, b2));
    else if (!s->has_fa_ha)
        snprintf(why, wl, "no FA-HA key cached for the session");
    else if (vs->expires <= time(NULL))
        snprintf(why, wl, "the cached lifetime is over");
    else if (!s->fa_local)
        snprintf(why, wl, "the previous FA %s is not an FA of this domain", s->fa_host);
    else if (!aaad_peer_realm(t->source, realm, sizeof(realm)) ||
             strcasecmp(realm, diam_realm(f->ad->diam)))
        snprintf(why, wl, "the AMR comes from %s, not an FA of this domain", t->source);
    else if (aaad_peer_tls(t->source) != 1)
        snprintf(why, wl, "%s is not connected with TLS: no keys over it", t->source);
    else
        return MOVE_LOCAL;
    return MOVE_FORWARD;
}

/* The AMA of a move answered here (FLOWS.md "AMA from the AAAF"). */
static int build_local_ama(struct msg *ans, const struct fsess *n, const struct vpn_session *ns,
                           uint32_t life, struct in_addr old_fa)
{
    int e = diam_set_result(ans, AAAD_DIAMETER_SUCCESS, NULL);
    if (e == 0)
        e = diam_add_str(ans, AAAD_AVP_USER_NAME, 0, n->nai);
    if (e == 0)
        e = diam_add_u32(ans, AAAD_AVP_AUTHORIZATION_LIFETIME, 0, life);
    if (e == 0)
        e = diam_add_u32(ans, AAAD_AVP_AUTH_SESSION_STATE, 0, AAAD_STATE_MAINTAINED);
    if (e == 0)
        e = diam_add_addr(ans, MIP4_AVP_HOME_AGENT_ADDRESS, 0, n->ha);
    if (e == 0 && ns->hoa.s_addr)
        e = diam_add_addr(ans, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, ns->hoa);
    if (e == 0)
        e = aaad_add_msa(ans, MIP4_AVP_FA_TO_HA_MSA, MIP4_AVP_FA_TO_HA_SPI, n->fa_ha_spi,
                         n->fa_ha_alg, 0, NULL, 0, n->fa_ha_key, n->fa_ha_key_len);
    if (e == 0)
        e = diam_add_u32(ans, MIP4_AVP_MSA_LIFETIME, 0, life);
    for (unsigned i = 0; e == 0 && i < ns->n_profiles; i++)
        e = vpn_avp_put_profile(ans, &ns->profiles[i], 0);
    if (e == 0)
        e = vpn_avp_put_profile_cache(ans, ns->n_profiles, 0);
    if (e == 0)
        e = vpn_avp_put_prev_fa(ans, old_fa, 0);
    return e;
}

/* Answers the move from the cache.  false: nothing sent and t->m untouched (forward it). */
static bool answer_move(struct aaad_foreign *f, struct taken *t, const struct aaad_amr_in *in,
                        struct fsess *s, struct vpn_session *vs)
{
    struct aaad *ad = f->ad;
    time_t now = time(NULL);
    uint32_t left = (uint32_t)(vs->expires - now);
    uint32_t life = in->rq.lifetime < left ? in->rq.lifetime : left;
    struct in_addr old_fa = vs->fa, new_fa = in->rq.care_of_addr;
    char err[VPN_ERR_MAX], b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

    /* The new session: the cached one with the FA rewritten (seed [0064]), same expiry. */
    struct vpn_session *ns =
        vpn_cache_set(f->cache, in->sid, vs->nai, vs->hoa, old_fa, vs->profiles, vs->n_profiles,
                      left, now, err, sizeof(err));
    if (!ns) {
        log_warn("AMR %s (%s): cannot copy the cached session (%s); forwarded", in->sid, in->nai,
                 err);
        return false;
    }
    vpn_cache_move_fa(ns, old_fa, new_fa);
    struct fsess *n = fsess_get(f, in->sid);
    if (!n) {
        vpn_cache_remove(f->cache, ns);
        log_err("AMR %s (%s): out of memory; forwarded", in->sid, in->nai);
        return false;
    }
    snprintf(n->nai, sizeof(n->nai), "%s", s->nai[0] ? s->nai : in->nai);
    snprintf(n->fa_host, sizeof(n->fa_host), "%s", t->source);
    snprintf(n->realm, sizeof(n->realm), "%s", s->realm);
    n->fa = new_fa;
    n->ha = s->ha;
    n->hoa = vs->hoa;
    n->fa_local = true;
    n->has_fa_ha = true;
    n->fa_ha_spi = s->fa_ha_spi;
    n->fa_ha_alg = s->fa_ha_alg;
    n->fa_ha_key_len = s->fa_ha_key_len;
    memcpy(n->fa_ha_key, s->fa_ha_key, s->fa_ha_key_len);
    n->has_prev_fa = true;
    n->prev_fa = old_fa;
    const char *aaah_sid = s->aaah_sid[0] ? s->aaah_sid : s->sid;
    snprintf(n->aaah_sid, sizeof(n->aaah_sid), "%s", strcmp(aaah_sid, in->sid) ? aaah_sid : "");
    snprintf(n->moved_from, sizeof(n->moved_from), "%s", s->sid);

    struct msg *ans = NULL;
    int e = diam_new_answer(t->m, &ans);
    t->m = NULL; /* attached to the answer (or lost with it) */
    if (e == 0)
        e = build_local_ama(ans, n, ns, life, old_fa);
    if (e == 0)
        e = diam_answer(ad->diam, &ans);
    else if (ans)
        diam_msg_free(ans);
    if (e) {
        ad->cnt.answer_errors++;
        log_err("AMR %s (%s): the AMA of the move could not be sent (%s)", in->sid, in->nai,
                strerror(e));
        vpn_cache_remove(f->cache, ns);
        fsess_drop(f, n);
        return true;
    }
    ad->cnt.ama_tx++;
    ad->cnt.ama_accepted++;
    ad->cnt.move_local++;
    aaad_event(diam_identity(ad->diam), "tx", "AMA", t->source, in->sid, AAAD_DIAMETER_SUCCESS);
    log_info("AMR %s (%s): intra-domain move from FA %s to %s answered from the cache "
             "(AAAH session %s): %u profile(s), FA-HA SPI %u, lifetime %u s; the FA relays the "
             "registration to HA %s",
             in->sid, in->nai, ip_s(old_fa, b1), ip_s(new_fa, b2),
             n->aaah_sid[0] ? n->aaah_sid : in->sid, ns->n_profiles, n->fa_ha_spi, life,
             inet_ntoa(n->ha));
    /* The FA the MN left: its session retires (its STR ends here). */
    fsess_retire(f, s, vs->expires);
    snprintf(s->next_sid, sizeof(s->next_sid), "%s", in->sid);
    vpn_cache_remove(f->cache, vs);
    return true;
}

static void forward_req(struct aaad_foreign *f, struct taken *t, const char *name, const char *sid)
{
    char to[AAAD_ID_MAX];
    aaad_request_dest(t->m, to, sizeof(to));
    /* The line goes out first, so that it is never later than the next hop's rx line. */
    aaad_event(diam_identity(f->ad->diam), "tx", name, to, sid, 0);
    int e = aaad_forward(&t->m);
    if (e)
        log_err("%s %s: cannot be forwarded (%s)", name, sid, strerror(e));
}

static void amr_taken(struct aaad_foreign *f, struct taken *t)
{
    struct aaad *ad = f->ad;
    struct aaad_amr_in in;
    aaad_amr_read(t->m, &in);
    const char *sid = in.sid[0] ? in.sid : in.nai;
    ad->cnt.fwd_amr++;
    aaad_event(diam_identity(ad->diam), "rx", "AMR", t->source, sid, 0);
    if (ad->cfg.foreign.require_tls && aaad_peer_tls(t->source) == 0) {
        /* RFC 4004 §8: the AMA would bring keys over this hop (FLOWS.md "Failures"). */
        char why[AAAD_WHY_MAX];
        snprintf(why, sizeof(why), "FA %s is connected without TLS: no keys over it", t->source);
        log_warn("AMR %s (%s) from %s denied: 5025 %s", sid, in.nai, t->source, why);
        answer_code(f, t->m, "AMA", t->source, sid, MIP4_RC_END_TO_END_MIP_KEY_ENCRYPTION, why);
        t->m = NULL;
        return;
    }
    struct fsess *s = NULL;
    struct vpn_session *vs = NULL;
    char why[AAAD_WHY_MAX] = "";
    enum amr_fate fate = can_answer(f, t, &in, &s, &vs, why, sizeof(why));
    if (fate == MOVE_LOCAL && answer_move(f, t, &in, s, vs))
        return;
    if (fate == MOVE_FORWARD) {
        char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
        log_info("AMR %s (%s): move from FA %s to %s not answered here (%s): forwarded", sid,
                 in.nai, ip_s(vs->fa, b1), ip_s(in.rq.care_of_addr, b2), why);
    }
    char realm[AAAD_ID_MAX];
    bool local = aaad_peer_realm(t->source, realm, sizeof(realm)) &&
                 !strcasecmp(realm, diam_realm(ad->diam));
    struct in_addr fa = {0};
    if (in.rq_ok)
        fa = in.rq.care_of_addr; /* the FA's own address (RFC 5944 §3.1) */
    pend_add(f, in.sid, in.nai, fa, t->source, local);
    forward_req(f, t, "AMR", sid);
}

/* ---- STR ------------------------------------------------------------------------------------ */

static void strx_unlink(struct aaad_foreign *f, struct strx *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        f->strx = x->next;
    if (x->next)
        x->next->prev = x->prev;
    f->n_strx--;
}

/* The AAAH's STA to the STR we sent for the FA's: relayed to the FA. */
static void on_sta(void *arg, struct msg *ans, const char *why)
{
    struct strx *x = arg;
    struct aaad_foreign *f = x->f;
    strx_unlink(f, x);
    uint32_t rc = AAAD_DIAMETER_UNABLE_TO_DELIVER;
    char msg[AAAD_WHY_MAX];
    snprintf(msg, sizeof(msg), "the home realm did not answer the STR for session %s: %s",
             x->aaah_sid, why ? why : "?");
    if (ans) {
        char peer[AAAD_ID_MAX];
        rc = diam_result_code(ans);
        aaad_msg_source(ans, peer, sizeof(peer));
        if (strcmp(peer, "?"))
            aaad_event(diam_identity(f->ad->diam), "rx", "STA", peer, x->aaah_sid, rc);
        snprintf(msg, sizeof(msg), "the AAAH answered %u for its session %s", rc, x->aaah_sid);
        diam_msg_free(ans);
    }
    log_info("STR %s from %s: ended at the AAAH as session %s (%u)", x->sid, x->fa_host,
             x->aaah_sid, rc);
    answer_code(f, x->str, "STA", x->fa_host, x->sid, rc, rc == AAAD_DIAMETER_SUCCESS ? NULL : msg);
    OPENSSL_cleanse(x, sizeof(*x));
    free(x);
}

/* The session ends at an FA the AAAH does not know it by: end the AAAH's session with our own
 * STR (Session-Id = the one it holds) and answer the FA with its Result-Code. */
static void relay_str(struct aaad_foreign *f, struct taken *t, const struct aaad_str_in *in,
                      struct fsess *s)
{
    struct aaad *ad = f->ad;
    struct strx *x = calloc(1, sizeof(*x));
    if (!x) {
        answer_code(f, t->m, "STA", t->source, in->sid, 5012, "out of memory");
        t->m = NULL;
        return;
    }
    x->f = f;
    x->str = t->m;
    t->m = NULL;
    snprintf(x->sid, sizeof(x->sid), "%s", in->sid);
    snprintf(x->aaah_sid, sizeof(x->aaah_sid), "%s", s->aaah_sid);
    snprintf(x->fa_host, sizeof(x->fa_host), "%s", t->source);
    char realm[AAAD_ID_MAX];
    const char *at = strrchr(s->nai, '@');
    snprintf(realm, sizeof(realm), "%s", s->realm[0] || !at ? s->realm : at + 1);
    struct msg *req = NULL;
    int e = diam_new_request(AAAD_CMD_STR, s->aaah_sid, &req);
    if (e == 0)
        e = diam_add_dest(req, realm, NULL);
    if (e == 0)
        e = diam_add_u32(req, AAAD_AVP_TERMINATION_CAUSE, 0,
                         in->has_cause ? in->cause : AAAD_TERM_LOGOUT);
    if (e == 0 && s->nai[0])
        e = diam_add_str(req, AAAD_AVP_USER_NAME, 0, s->nai);
    char note[AAAD_WHY_MAX];
    snprintf(note, sizeof(note), "STR: ended at the AAAH under its Session-Id %s", s->aaah_sid);
    foreign_forget(f, in->sid, note); /* s is gone */
    if (e) {
        if (req)
            diam_msg_free(req);
        log_err("STR %s: cannot build the STR for the AAAH (%s)", x->sid, strerror(e));
        answer_code(f, x->str, "STA", x->fa_host, x->sid, 5012, "cannot end the session");
        free(x);
        return;
    }
    x->next = f->strx;
    if (f->strx)
        f->strx->prev = x;
    f->strx = x;
    f->n_strx++;
    aaad_event(diam_identity(ad->diam), "tx", "STR", realm, x->aaah_sid, 0);
    e = diam_send(ad->diam, &req, ad->cfg.foreign.amr_timeout_ms, on_sta, x);
    if (e) {
        strx_unlink(f, x);
        log_err("STR %s: the STR for the AAAH could not be sent (%s)", x->sid, strerror(e));
        answer_code(f, x->str, "STA", x->fa_host, x->sid, AAAD_DIAMETER_UNABLE_TO_DELIVER,
                    "cannot reach the home realm");
        free(x);
        return;
    }
    ad->cnt.str_relayed++;
}

/* Termination-Cause BAD_ANSWER from the new FA of a local move: its registration did not
 * complete at the HA, which still has the MN at the previous FA; back to that session. */
static void undo_move(struct aaad_foreign *f, struct fsess *s, struct fsess *prev)
{
    char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN], err[VPN_ERR_MAX];
    struct vpn_session *vs = vpn_cache_find(f->cache, s->sid);
    time_t now = time(NULL);
    struct vpn_session *ps = NULL;
    if (vs && vs->expires > now)
        ps = vpn_cache_set(f->cache, prev->sid, vs->nai, vs->hoa, vs->fa, vs->profiles,
                           vs->n_profiles, (uint32_t)(vs->expires - now), now, err, sizeof(err));
    if (ps) {
        vpn_cache_move_fa(ps, s->fa, prev->fa);
        prev->retired = false;
        f->n_retired--;
        prev->next_sid[0] = '\0';
        prev->has_fa_ha = s->has_fa_ha;
        prev->fa_ha_key_len = s->fa_ha_key_len;
        memcpy(prev->fa_ha_key, s->fa_ha_key, s->fa_ha_key_len);
        log_info("session %s (%s): the move from FA %s to %s did not complete; back to "
                 "session %s at FA %s",
                 s->sid, s->nai, ip_s(prev->fa, b1), ip_s(s->fa, b2), prev->sid,
                 ip_s(prev->fa, b1));
        f->ad->cnt.move_undone++;
    } else {
        log_warn("session %s (%s): the move did not complete and cannot be undone%s%s", s->sid,
                 s->nai, vs ? ": " : " (lifetime over)", vs ? err : "");
    }
    if (vs)
        vpn_cache_remove(f->cache, vs);
    fsess_drop(f, s);
}

static void str_taken(struct aaad_foreign *f, struct taken *t)
{
    struct aaad *ad = f->ad;
    struct aaad_str_in in;
    aaad_str_read(t->m, &in);
    ad->cnt.fwd_str++;
    aaad_event(diam_identity(ad->diam), "rx", "STR", t->source, in.sid, 0);
    struct fsess *s = in.sid[0] ? fsess_find(f, in.sid) : NULL;
    struct fpend *p = in.sid[0] ? pend_find(f, in.sid) : NULL;
    if (p)
        pend_drop(f, p);
    if (s && s->retired) {
        /* The FA the MN left by a move ends its session; the session goes on at the new FA,
         * whose move is now known to stand (no undo). */
        struct fsess *next = s->next_sid[0] ? fsess_find(f, s->next_sid) : NULL;
        if (next && !strcmp(next->moved_from, s->sid))
            next->moved_from[0] = '\0';
        log_info("STR %s (%s) from %s: the MN left this FA; the session goes on as %s "
                 "(answered here)",
                 s->sid, s->nai, t->source, s->next_sid[0] ? s->next_sid : "-");
        fsess_drop(f, s);
        ad->cnt.str_local++;
        answer_code(f, t->m, "STA", t->source, in.sid, AAAD_DIAMETER_SUCCESS, NULL);
        t->m = NULL;
        return;
    }
    struct fsess *prev = s && s->moved_from[0] ? fsess_find(f, s->moved_from) : NULL;
    if (prev && prev->retired && in.has_cause && in.cause == AAAD_TERM_BAD_ANSWER) {
        undo_move(f, s, prev);
        ad->cnt.str_local++;
        answer_code(f, t->m, "STA", t->source, in.sid, AAAD_DIAMETER_SUCCESS, NULL);
        t->m = NULL;
        return;
    }
    if (s && s->aaah_sid[0]) {
        relay_str(f, t, &in, s);
        return;
    }
    foreign_forget(f, in.sid, "STR forwarded (session ended)");
    forward_req(f, t, "STR", in.sid);
}

/* ---- hand-off from freeDiameter ----------------------------------------------------------- */

static void taken_run(void *arg)
{
    struct taken *t = arg;
    if (t->cmd == AAAD_CMD_STR)
        str_taken(t->f, t);
    else
        amr_taken(t->f, t);
    if (t->m) /* not answered nor passed on */
        diam_msg_free(t->m);
    free(t);
}

/* freeDiameter routing thread. */
static bool take(void *ctx, struct msg *m, uint32_t cmd)
{
    struct aaad_foreign *f = ctx;
    struct taken *t = calloc(1, sizeof(*t));
    if (!t)
        return false;
    t->f = f;
    t->m = m;
    t->cmd = cmd;
    aaad_msg_source(m, t->source, sizeof(t->source));
    /* diam_post fails before queueing only for lack of memory; otherwise the loop runs it. */
    if (diam_post(f->ad->diam, taken_run, t) == -ENOMEM) {
        free(t);
        return false;
    }
    return true;
}

int foreign_req_start(struct aaad_foreign *f)
{
    static const uint32_t cmds[] = {MIP4_CMD_AMR, AAAD_CMD_STR};
    return aaad_take_requests(cmds, 2, take, f);
}

void foreign_req_free(struct aaad_foreign *f)
{
    while (f->strx) {
        struct strx *x = f->strx;
        strx_unlink(f, x);
        if (x->str)
            diam_msg_free(x->str);
        OPENSSL_cleanse(x, sizeof(*x));
        free(x);
    }
}
