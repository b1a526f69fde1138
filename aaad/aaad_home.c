/*
 * aaad, home role (AAAH): RFC 4004 over diam.h, decisions by aaah.h (aaad/FLOWS.md).
 *
 *   AMR (260) -> aaah_handle_amr -> denied: AMA with the Result-Code (no MIP-Reg-Reply:
 *                                   the FA maps the code, FLOWS.md "Failures")
 *                                -> accepted: HAR (262) to the user's HA with the MSAs and
 *                                   the HA's VPN profiles; the AMR waits in a pending entry
 *   HAA / no HAA                 -> AMA: 2001 with the HA's MIP-Reg-Reply, the FA's profiles
 *                                   and the FA-HA MSA; 4005 + the HA's reply when the HA
 *                                   refused; 4006 when it could not be reached in time
 *   STR (275)                    -> aaah_session_end, STA 2001 / 5002
 *   timer                        -> aaah_expire
 *
 * A pending entry is the argument of its HAR's answer callback, which diam.h calls exactly
 * once (answer, routing error or timeout): that is how the HAA finds its AMR, and why every
 * AMR is answered once and only once.  Entries also sit in a list so that shutdown frees
 * those whose callback never ran.
 */
#include "aaad.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdproto.h>
#include <openssl/crypto.h>

#include "aaad_msg.h"
#include "aaah.h"
#include "diam.h"
#include "log.h"
#include "loop.h"
#include "mip4vpn_dict.h"
#include "mip_proto.h"
#include "vpn_avp.h"
#include "vpn_cache.h"
#include "vpndb.h"

/* Base protocol AVPs and values (RFC 6733 §4.5, §8.11, §7.1). */
#define AVP_USER_NAME 1
#define AVP_AUTH_SESSION_STATE 277
#define AVP_ROUTE_RECORD 282
#define AVP_ORIGIN_HOST 264
#define AVP_ORIGIN_REALM 296
#define AVP_AUTHORIZATION_LIFETIME 291
#define STATE_MAINTAINED 0
#define DIAMETER_SUCCESS 2001
#define DIAMETER_UNABLE_TO_DELIVER 3002
#define DIAMETER_UNKNOWN_SESSION_ID 5002
#define DIAMETER_INVALID_AVP_VALUE 5004

#define ID_MAX (AAAD_DIAMID_MAX + 1)

struct pending {
    struct aaad_home *h;
    struct msg *amr; /* answered once, then NULL */
    char sid[VPN_SESSION_ID_MAX + 1];
    char nai[VPNDB_NAI_MAX + 1];
    char fa_peer[ID_MAX]; /* where the AMR came from (the AMA goes back there) */
    char ha_host[ID_MAX];
    bool new_session; /* the AMR created the session: a failure at the HA ends it */
    struct aaah_decision d;
    struct pending *prev, *next;
};

struct aaad_home {
    struct aaad *ad;
    struct vpndb *db;
    struct aaah *aaah;
    struct loop_timer expire_timer;
    struct pending *pending;
    size_t n_pending;
};

static const char *ip_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- answers ------------------------------------------------------------------------------ */

/* Sends ans (made from p's AMR), logs the EVENT line and counts. */
static void send_ama(struct aaad_home *h, struct msg **ans, const char *peer, const char *sid,
                     uint32_t rc)
{
    struct aaad *ad = h->ad;
    if (diam_answer(ad->diam, ans)) {
        ad->cnt.answer_errors++;
        log_err("AMA for session %s to %s could not be sent", sid, peer);
        return;
    }
    ad->cnt.ama_tx++;
    if (rc == DIAMETER_SUCCESS)
        ad->cnt.ama_accepted++;
    else
        aaad_count_denial(ad, rc);
    aaad_event(diam_identity(ad->diam), "tx", "AMA", peer, sid, rc);
}

/* AMA with Result-Code rc and no MIP-Reg-Reply (a denial by the AAAH itself, or the HA not
 * reachable).  The Error-Message says why, except for 4001: unknown user and bad
 * authenticator must look the same from outside (aaad/README.md). */
static void ama_error(struct aaad_home *h, struct msg *amr, const char *peer, const char *sid,
                      const char *nai, uint32_t rc, const char *why)
{
    struct msg *ans = NULL;
    if (diam_new_answer(amr, &ans)) {
        h->ad->cnt.answer_errors++;
        log_err("AMA for session %s: cannot make the answer", sid);
        diam_msg_free(amr);
        return;
    }
    int e = diam_set_result(ans, rc, rc == AAAH_DIAMETER_AUTHENTICATION_REJECTED ? NULL : why);
    if (e == 0 && nai && *nai)
        e = diam_add_str(ans, AVP_USER_NAME, 0, nai);
    if (e) {
        h->ad->cnt.answer_errors++;
        log_err("AMA for session %s: cannot build the answer (%s)", sid, strerror(e));
        diam_msg_free(ans);
        return;
    }
    send_ama(h, &ans, peer, sid, rc);
}

/* ---- AVP builders --------------------------------------------------------------------------- */

static int add_profiles(struct msg *m, const struct aaah_profile_set *set)
{
    int e = 0;
    for (unsigned i = 0; e == 0 && i < set->n; i++)
        e = vpn_avp_put_profile(m, &set->p[i], 0);
    if (e == 0)
        e = vpn_avp_put_profile_cache(m, set->n, 0);
    return e;
}

/* MIP-Originating-Foreign-AAA (RFC 4004 §7.11): see aaad_amr_foreign_aaa(). */
static int add_orig_foreign_aaa(struct msg *har, struct msg *amr, const char *source)
{
    char host[AAAD_ID_MAX], realm[AAAD_ID_MAX];
    if (!aaad_amr_foreign_aaa(amr, source, host, sizeof(host), realm, sizeof(realm)))
        return 0;
    struct avp *g = NULL;
    int e = diam_add_group(har, MIP4_AVP_ORIGINATING_FOREIGN_AAA, 0, &g);
    if (e == 0)
        e = diam_add_str(g, AVP_ORIGIN_REALM, 0, realm);
    if (e == 0)
        e = diam_add_str(g, AVP_ORIGIN_HOST, 0, host);
    return e;
}

/* HAR (RFC 4004 §5.3, FLOWS.md "HAR"), same Session-Id as the AMR. */
static int build_har(struct aaad_home *h, struct pending *p, const struct aaad_home_agent *ha,
                     struct msg **out)
{
    struct aaad *ad = h->ad;
    const struct aaah_decision *d = &p->d;
    struct msg *har = NULL;
    const uint8_t *rrq = NULL;
    size_t rrq_len = 0;
    int e = diam_get_os(p->amr, MIP4_AVP_REG_REQUEST, 0, &rrq, &rrq_len);
    if (e == 0)
        e = diam_new_request(MIP4_CMD_HAR, p->sid, &har);
    if (e)
        return e;
    uint32_t fv = 0;
    if (diam_get_u32(p->amr, MIP4_AVP_FEATURE_VECTOR, 0, &fv) != 0) {
        struct mip_reg_request rq;
        if (mip_get_reg_request(rrq, rrq_len, &rq, NULL) == MIP_OK && !rq.home_addr.s_addr)
            fv |= MIP4_FV_MN_HOME_ADDRESS_REQUESTED;
    }
    if (d->has_keys)
        fv |= MIP4_FV_MN_HA_KEY_REQUEST | MIP4_FV_FA_HA_KEY_REQUEST;
    e = diam_add_dest(har, ha->realm[0] ? ha->realm : diam_realm(ad->diam), ha->host);
    if (e == 0)
        e = diam_add_str(har, AVP_USER_NAME, 0, p->nai);
    if (e == 0)
        e = diam_add_os(har, MIP4_AVP_REG_REQUEST, 0, rrq, rrq_len);
    if (e == 0)
        e = diam_add_u32(har, AVP_AUTHORIZATION_LIFETIME, 0, d->lifetime);
    if (e == 0)
        e = diam_add_u32(har, AVP_AUTH_SESSION_STATE, 0, STATE_MAINTAINED);
    if (e == 0)
        e = diam_add_u32(har, MIP4_AVP_FEATURE_VECTOR, 0, fv);
    if (e == 0 && d->hoa.s_addr)
        e = diam_add_addr(har, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, d->hoa);
    if (e == 0)
        e = diam_add_addr(har, MIP4_AVP_HOME_AGENT_ADDRESS, 0, d->ha);
    if (e == 0 && d->has_keys) {
        /* RFC 4004 §1.2 / RFC 3957: the HA gets the MN-HA key and the nonce it relays to the
         * MN, and the HA-FA key. */
        const struct aaah_keys *k = &d->keys;
        e = aaad_add_msa(har, MIP4_AVP_MN_TO_HA_MSA, MIP4_AVP_MN_HA_SPI, k->mn_ha_spi,
                         MIP4_ALGORITHM_HMAC_SHA1, MIP4_REPLAY_TIMESTAMPS, k->nonce,
                         sizeof(k->nonce), NULL, 0);
        if (e == 0)
            e = aaad_add_msa(har, MIP4_AVP_HA_TO_MN_MSA, 0, 0, MIP4_ALGORITHM_HMAC_SHA1,
                             MIP4_REPLAY_TIMESTAMPS, NULL, 0, k->mn_ha_key, sizeof(k->mn_ha_key));
        if (e == 0)
            e = aaad_add_msa(har, MIP4_AVP_HA_TO_FA_MSA, MIP4_AVP_HA_TO_FA_SPI, k->fa_ha_spi,
                             MIP4_ALGORITHM_HMAC_SHA1, 0, NULL, 0, k->fa_ha_key,
                             sizeof(k->fa_ha_key));
        if (e == 0 && d->lifetime)
            e = diam_add_u32(har, MIP4_AVP_MSA_LIFETIME, 0, d->lifetime);
    }
    if (e == 0)
        e = add_orig_foreign_aaa(har, p->amr, p->fa_peer);
    if (e == 0 && d->profile_cache)
        e = add_profiles(har, &d->ha_set);
    if (e == 0 && d->moved)
        e = vpn_avp_put_prev_fa(har, d->prev_fa, 0);
    if (e) {
        diam_msg_free(har);
        return e;
    }
    *out = har;
    return 0;
}

/* ---- pending AMRs --------------------------------------------------------------------------- */

static void pending_unlink(struct aaad_home *h, struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        h->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    h->n_pending--;
}

static void pending_free(struct pending *p)
{
    if (p->amr)
        diam_msg_free(p->amr);
    aaah_decision_free(&p->d);
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

/* The HA did not accept: a session this AMR created goes (keys, SPIs, pool address); an
 * earlier session (re-registration, move) stays as the HA still holds that binding. */
static void undo_new_session(struct aaad_home *h, struct pending *p)
{
    if (p->new_session && aaah_session_end(h->aaah, p->sid))
        log_info("session %s (%s) ended: registration not completed at the HA", p->sid, p->nai);
}

/* AMA after a successful HAA (FLOWS.md "AMA"). */
static int build_ama_ok(struct pending *p, struct msg *ans, const uint8_t *reply, size_t reply_len)
{
    const struct aaah_decision *d = &p->d;
    int e = diam_set_result(ans, DIAMETER_SUCCESS, NULL);
    if (e == 0)
        e = diam_add_str(ans, AVP_USER_NAME, 0, p->nai);
    if (e == 0)
        e = diam_add_os(ans, MIP4_AVP_REG_REPLY, 0, reply, reply_len);
    if (e == 0)
        e = diam_add_u32(ans, AVP_AUTHORIZATION_LIFETIME, 0, d->lifetime);
    if (e == 0)
        e = diam_add_u32(ans, AVP_AUTH_SESSION_STATE, 0, STATE_MAINTAINED);
    if (e == 0)
        e = diam_add_addr(ans, MIP4_AVP_HOME_AGENT_ADDRESS, 0, d->ha);
    if (e == 0 && d->hoa.s_addr)
        e = diam_add_addr(ans, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, d->hoa);
    if (e == 0 && d->has_keys && d->lifetime) {
        e = aaad_add_msa(ans, MIP4_AVP_FA_TO_HA_MSA, MIP4_AVP_FA_TO_HA_SPI, d->keys.fa_ha_spi,
                         MIP4_ALGORITHM_HMAC_SHA1, 0, NULL, 0, d->keys.fa_ha_key,
                         sizeof(d->keys.fa_ha_key));
        if (e == 0)
            e = diam_add_u32(ans, MIP4_AVP_MSA_LIFETIME, 0, d->lifetime);
    }
    if (e == 0 && d->profile_cache)
        e = add_profiles(ans, &d->fa_set);
    if (e == 0 && d->moved)
        e = vpn_avp_put_prev_fa(ans, d->prev_fa, 0);
    return e;
}

/* The previous FA the AMA names (FLOWS.md "HAA", "AMA"): the HA's binding is what the new FA's
 * BU must follow, so its MIP4VPN-Previous-FA-Address wins over our cache (which misses the
 * intra-domain moves an AAAF answered); equal to the new FA, it means the binding was already
 * there (such a move) and there is nothing to hand off.  No AVP: our cache's view stands. */
static void prev_fa_from_haa(struct aaad_home *h, struct pending *p, const struct aaad_haa_in *hi)
{
    struct aaah_decision *d = &p->d;
    char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
    if (!hi->has_prev_fa || d->lifetime == 0)
        return;
    bool ha_moved = hi->prev_fa.s_addr != d->fa.s_addr;
    if (ha_moved == d->moved && (!ha_moved || hi->prev_fa.s_addr == d->prev_fa.s_addr))
        return; /* both agree */
    h->ad->cnt.prev_fa_from_ha++;
    log_info("AMR %s (%s): the HA had the MN at %s, the AAAH at %s: the AMA %s", p->sid, p->nai,
             ip_str(hi->prev_fa, b1), ip_str(d->moved ? d->prev_fa : d->fa, b2),
             ha_moved ? "names the HA's previous FA" : "names no previous FA (no hand-off)");
    d->moved = ha_moved;
    d->prev_fa = ha_moved ? hi->prev_fa : (struct in_addr){0};
}

/* Answer callback of the HAR (loop thread, exactly once per HAR). */
static void on_haa(void *arg, struct msg *haa, const char *why)
{
    struct pending *p = arg;
    struct aaad_home *h = p->h;
    struct aaad *ad = h->ad;
    pending_unlink(h, p);
    char msg[AAAH_REASON_MAX + 128];
    uint32_t rc = 0;
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    uint8_t reply_code = 0;
    bool reply_ok = false;

    if (haa) {
        char peer[ID_MAX];
        struct aaad_haa_in hi;
        aaad_msg_source(haa, peer, sizeof(peer));
        aaad_haa_read(haa, &hi);
        rc = hi.rc;
        if (strcmp(peer, "?") != 0) {
            ad->cnt.haa_rx++;
            aaad_event(diam_identity(ad->diam), "rx", "HAA", peer, p->sid, rc);
        } else {
            /* freeDiameter's own error answer (no route, peer gone): nothing crossed the
             * wire, so no EVENT line. */
            ad->cnt.har_undeliverable++;
        }
        reply = hi.reply;
        reply_len = hi.reply_len;
        reply_ok = hi.reply_ok;
        reply_code = hi.reply_code;
        if (reply && !reply_ok)
            snprintf(msg, sizeof(msg), "HA %s: MIP-Reg-Reply malformed (%s at offset %zu)",
                     p->ha_host, mip_err_str(hi.reply_err), hi.reply_err_off);
        if (hi.prev_fa_rc)
            log_warn("HAA %s from %s: MIP4VPN-Previous-FA-Address malformed (%u): ignored", p->sid,
                     p->ha_host, hi.prev_fa_rc);
        else if (rc == DIAMETER_SUCCESS)
            prev_fa_from_haa(h, p, &hi);
    } else {
        ad->cnt.har_timeouts++;
    }

    struct msg *ans = NULL;
    if (diam_new_answer(p->amr, &ans)) {
        p->amr = NULL; /* consumed */
        ad->cnt.answer_errors++;
        log_err("AMA for session %s: cannot make the answer", p->sid);
        undo_new_session(h, p);
        goto out;
    }
    p->amr = NULL;

    uint32_t ama_rc;
    if (!haa || rc == DIAMETER_UNABLE_TO_DELIVER) {
        /* FLOWS.md: HA not answering / not reachable -> 4006 (FA: 81). */
        ama_rc = MIP4_RC_HA_NOT_AVAILABLE;
        snprintf(msg, sizeof(msg), "HA %s not available: %s", p->ha_host,
                 haa   ? "3002 UNABLE_TO_DELIVER"
                 : why ? why
                       : "no answer");
        log_warn("AMR %s (%s): %s", p->sid, p->nai, msg);
        diam_set_result(ans, ama_rc, msg);
        diam_add_str(ans, AVP_USER_NAME, 0, p->nai);
        undo_new_session(h, p);
    } else if (rc == DIAMETER_SUCCESS && reply && reply_ok &&
               reply_code <= MIP_CODE_ACCEPTED_NO_SIMUL) {
        int e = build_ama_ok(p, ans, reply, reply_len);
        if (e) {
            /* The answer may hold part of the AVPs: start again with an error answer. */
            log_err("AMA for session %s: cannot build the answer (%s)", p->sid, strerror(e));
            diam_msg_free(ans);
            ans = NULL;
            ad->cnt.answer_errors++;
            undo_new_session(h, p);
            goto out;
        }
        ama_rc = DIAMETER_SUCCESS;
        char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
        if (p->d.lifetime == 0) {
            ad->cnt.deregistrations++;
            bool ended = aaah_session_end_nai(h->aaah, p->nai);
            log_info("AMR %s (%s): deregistered at HA %s%s", p->sid, p->nai, p->ha_host,
                     ended ? "; session ended" : "");
        } else {
            log_info("AMR %s (%s): accepted, HoA %s FA %s lifetime %u s, %u HA + %u FA "
                     "profiles (%s)",
                     p->sid, p->nai, ip_str(p->d.hoa, b1), ip_str(p->d.fa, b2), p->d.lifetime,
                     p->d.ha_set.n, p->d.fa_set.n, p->d.reason);
        }
    } else {
        /* The HA refused (FLOWS.md: AMA 4005 with the HA's reply, relayed unchanged). */
        ama_rc = MIP4_RC_MIP_REPLY_FAILURE;
        if (reply && reply_ok)
            snprintf(msg, sizeof(msg), "HA %s refused: Result-Code %u, reply code %u (%s)",
                     p->ha_host, rc, reply_code, mip_code_str(reply_code));
        else if (!reply)
            snprintf(msg, sizeof(msg), "HA %s refused: Result-Code %u without MIP-Reg-Reply",
                     p->ha_host, rc);
        log_warn("AMR %s (%s): %s", p->sid, p->nai, msg);
        int e = diam_set_result(ans, ama_rc, msg);
        if (e == 0)
            e = diam_add_str(ans, AVP_USER_NAME, 0, p->nai);
        if (e == 0 && reply && reply_ok)
            e = diam_add_os(ans, MIP4_AVP_REG_REPLY, 0, reply, reply_len);
        if (e)
            log_err("AMA for session %s: incomplete answer (%s)", p->sid, strerror(e));
        undo_new_session(h, p);
    }
    send_ama(h, &ans, p->fa_peer, p->sid, ama_rc);
out:
    if (haa)
        diam_msg_free(haa);
    pending_free(p);
}

/* ---- AMR --------------------------------------------------------------------------------- */

static void on_amr(void *ctx, struct msg *amr)
{
    struct aaad_home *h = ctx;
    struct aaad *ad = h->ad;
    const char *me = diam_identity(ad->diam);
    char peer[ID_MAX], why[AAAH_REASON_MAX + 128] = "";
    ad->cnt.amr_rx++;
    aaad_msg_source(amr, peer, sizeof(peer));
    struct aaad_amr_in in;
    aaad_amr_read(amr, &in);
    const char *sid = in.sid, *nai = in.nai;
    aaad_event(me, "rx", "AMR", peer, sid[0] ? sid : nai, 0);

    uint32_t rc = in.rc;
    if (rc)
        snprintf(why, sizeof(why), "%s", in.why);
    if (!rc && ad->cfg.home.require_tls && aaad_peer_tls(peer) == 0) {
        /* RFC 4004 §8: keys only over protected hops (DESIGN §6). */
        rc = MIP4_RC_END_TO_END_MIP_KEY_ENCRYPTION;
        snprintf(why, sizeof(why), "peer %s is connected without TLS: no keys over it", peer);
    }
    if (rc) {
        log_warn("AMR %s (%s) from %s denied: %u %s", sid, nai, peer, rc, why);
        ama_error(h, amr, peer, sid, nai, rc, why);
        return;
    }

    struct pending *p = calloc(1, sizeof(*p));
    if (!p) {
        ama_error(h, amr, peer, sid, nai, AAAH_DIAMETER_UNABLE_TO_COMPLY, "out of memory");
        return;
    }
    p->h = h;
    snprintf(p->sid, sizeof(p->sid), "%s", sid);
    snprintf(p->nai, sizeof(p->nai), "%s", nai);
    snprintf(p->fa_peer, sizeof(p->fa_peer), "%s", peer);
    p->new_session = nai[0] && !vpn_cache_find_nai(aaah_cache_ha(h->aaah), nai);
    struct aaah_amr a = {
        .session_id = sid[0] ? sid : NULL,
        .nai = nai[0] ? nai : NULL,
        .reg_req = in.rrq,
        .reg_req_len = in.rrq_len,
        .challenge = in.chal,
        .challenge_len = in.chal_len,
        .service_update = in.service_update,
        .has_prev_fa = in.has_prev_fa,
        .prev_fa = in.prev_fa,
    };
    if (aaah_handle_amr(h->aaah, &a, &p->d, aaad_now_ms())) {
        log_warn("AMR %s (%s) from %s denied: %u (MIP code %u) %s", sid, nai, peer,
                 p->d.result_code, p->d.mip_code, p->d.reason);
        ama_error(h, amr, peer, sid, nai, p->d.result_code, p->d.reason);
        pending_free(p);
        return;
    }
    p->amr = amr;
    if (p->d.lifetime == 0)
        p->new_session = false; /* a deregistration creates nothing */
    if (p->d.prev_fa_mismatch) {
        char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
        ad->cnt.prev_fa_mismatch++;
        log_warn("AMR %s (%s): the MN names previous FA %s, the AAAH's cache %s%s (the cache "
                 "wins)",
                 sid, nai, ip_str(p->d.mn_prev_fa, b1),
                 p->new_session ? "has no session for it"
                 : p->d.moved   ? "has it at FA "
                                : "has it at this FA ",
                 p->new_session ? "" : ip_str(p->d.moved ? p->d.prev_fa : p->d.fa, b2));
    }

    char b[INET_ADDRSTRLEN];
    const struct aaad_home_agent *ha = aaad_conf_home_agent(&ad->cfg, p->d.ha);
    if (!ha) {
        snprintf(why, sizeof(why), "no home_agents entry for HA %s in %s", ip_str(p->d.ha, b),
                 "the configuration");
        log_err("AMR %s (%s): %s", sid, nai, why);
        goto fail_4006;
    }
    snprintf(p->ha_host, sizeof(p->ha_host), "%s", ha->host);
    if (ad->cfg.home.require_tls && p->d.has_keys && aaad_peer_tls(ha->host) == 0) {
        snprintf(why, sizeof(why), "HA %s is connected without TLS: no keys over it", ha->host);
        log_err("AMR %s (%s): %s", sid, nai, why);
        undo_new_session(h, p);
        p->amr = NULL;
        ama_error(h, amr, peer, sid, nai, MIP4_RC_END_TO_END_MIP_KEY_ENCRYPTION, why);
        pending_free(p);
        return;
    }
    struct msg *har = NULL;
    int e = build_har(h, p, ha, &har);
    if (e) {
        snprintf(why, sizeof(why), "cannot build the HAR (%s)", strerror(e));
        log_err("AMR %s (%s): %s", sid, nai, why);
        undo_new_session(h, p);
        p->amr = NULL;
        ama_error(h, amr, peer, sid, nai, AAAH_DIAMETER_UNABLE_TO_COMPLY, why);
        pending_free(p);
        return;
    }
    p->next = h->pending;
    if (h->pending)
        h->pending->prev = p;
    h->pending = p;
    h->n_pending++;
    e = diam_send(ad->diam, &har, ad->cfg.home.har_timeout_ms, on_haa, p);
    if (e) {
        pending_unlink(h, p);
        ad->cnt.har_send_errors++;
        snprintf(why, sizeof(why), "HA %s not available: HAR not sent (%s)", ha->host, strerror(e));
        log_warn("AMR %s (%s): %s", sid, nai, why);
        goto fail_4006;
    }
    ad->cnt.har_tx++;
    aaad_event(me, "tx", "HAR", ha->host, sid, 0);
    return;

fail_4006:
    undo_new_session(h, p);
    p->amr = NULL;
    ama_error(h, amr, peer, sid, nai, MIP4_RC_HA_NOT_AVAILABLE, why);
    pending_free(p);
}

/* ---- STR ---------------------------------------------------------------------------------- */

static void on_str(void *ctx, struct msg *str)
{
    struct aaad_home *h = ctx;
    struct aaad *ad = h->ad;
    const char *me = diam_identity(ad->diam);
    char sid[VPN_SESSION_ID_MAX + 1] = "", peer[ID_MAX];
    ad->cnt.str_rx++;
    aaad_msg_source(str, peer, sizeof(peer));
    diam_session_id(str, sid, sizeof(sid));
    aaad_event(me, "rx", "STR", peer, sid, 0);
    /* RFC 6733 §8.4: session state is freed on STR; an unknown session is 5002. */
    bool ended = sid[0] && aaah_session_end(h->aaah, sid);
    uint32_t rc = ended ? DIAMETER_SUCCESS : DIAMETER_UNKNOWN_SESSION_ID;
    if (ended)
        log_info("STR %s from %s: session ended", sid, peer);
    else
        log_warn("STR %s from %s: no such session (5002)", sid, peer);
    struct msg *ans = NULL;
    if (diam_new_answer(str, &ans) ||
        diam_set_result(ans, rc, ended ? NULL : "no such session at this AAAH") ||
        diam_answer(ad->diam, &ans)) {
        ad->cnt.answer_errors++;
        if (ans)
            diam_msg_free(ans);
        log_err("STA for session %s could not be sent", sid);
        return;
    }
    ad->cnt.sta_tx++;
    aaad_event(me, "tx", "STA", peer, sid, rc);
}

/* ---- expiry ------------------------------------------------------------------------------- */

static void on_expire(struct loop *l, void *arg)
{
    struct aaad_home *h = arg;
    size_t n = aaah_expire(h->aaah, aaad_now_ms());
    if (n) {
        h->ad->cnt.sessions_expired += n;
        log_info("%zu session(s) expired (lifetime over): keys wiped, addresses freed", n);
    }
    loop_timer_arm(l, &h->expire_timer, h->ad->cfg.home.expire_interval_ms);
}

/* ---- life cycle --------------------------------------------------------------------------- */

struct aaad_home *aaad_home_new(struct aaad *ad, char *err, size_t errlen)
{
    const struct aaad_conf *c = &ad->cfg;
    struct stat st;
    if (stat(c->home.database, &st) != 0) {
        snprintf(err, errlen, "VPN database %s: %s (create it with vpnadm)", c->home.database,
                 strerror(errno));
        return NULL;
    }
    struct aaad_home *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->ad = ad;
    char e[VPNDB_ERR_MAX];
    h->db = vpndb_open(c->home.database, e, sizeof(e));
    if (!h->db) {
        snprintf(err, errlen, "VPN database %s: %s", c->home.database, e);
        free(h);
        return NULL;
    }
    struct aaah_config ac = {.spi_min = c->home.spi_min,
                             .spi_max = c->home.spi_max,
                             .max_lifetime = c->home.max_lifetime};
    h->aaah = aaah_new(h->db, &ac, err, errlen);
    if (!h->aaah) {
        vpndb_close(h->db);
        free(h);
        return NULL;
    }
    int rc = diam_on_request(ad->diam, MIP4_CMD_AMR, on_amr, h);
    if (rc == 0)
        rc = diam_on_request(ad->diam, 275 /* STR, RFC 6733 §8.4.1 */, on_str, h);
    if (rc) {
        snprintf(err, errlen, "cannot register the AMR/STR handlers (%s)", strerror(rc));
        aaah_free(h->aaah);
        vpndb_close(h->db);
        free(h);
        return NULL;
    }
    loop_timer_init(&h->expire_timer, on_expire, h);
    loop_timer_arm(ad->loop, &h->expire_timer, c->home.expire_interval_ms);
    return h;
}

void aaad_home_free(struct aaad_home *h)
{
    if (!h)
        return;
    loop_timer_cancel(h->ad->loop, &h->expire_timer);
    while (h->pending) {
        struct pending *p = h->pending;
        pending_unlink(h, p);
        pending_free(p);
    }
    aaah_free(h->aaah);
    vpndb_close(h->db);
    free(h);
}

size_t aaad_home_sessions(const struct aaad_home *h)
{
    return aaah_session_count(h->aaah);
}

size_t aaad_home_pending(const struct aaad_home *h)
{
    return h->n_pending;
}

/* ---- dumps -------------------------------------------------------------------------------- */

struct dump_ctx {
    FILE *out;
    time_t now;
    bool first;
};

static void dump_one(const struct aaah_session_info *s, void *arg)
{
    struct dump_ctx *x = arg;
    char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN], b3[INET_ADDRSTRLEN];
    fprintf(x->out, "%s{\"session\":", x->first ? "" : ",");
    vpn_json_str(x->out, s->session_id);
    fputs(",\"nai\":", x->out);
    vpn_json_str(x->out, s->nai);
    long long left = (long long)s->expires - (long long)x->now;
    fprintf(x->out,
            ",\"hoa\":\"%s\",\"ha\":\"%s\",\"fa\":\"%s\",\"lifetime_left\":%lld,"
            "\"profiles\":%u,\"profiles_ha\":%u,\"profiles_fa\":%u,\"plain\":%u,"
            "\"generation\":%u,\"pool\":%s}",
            ip_str(s->hoa, b1), ip_str(s->ha, b2), ip_str(s->fa, b3), left > 0 ? left : 0,
            s->n_ha_profiles + s->n_fa_profiles, s->n_ha_profiles, s->n_fa_profiles, s->n_plain,
            s->generation, s->pool ? "true" : "false");
    x->first = false;
}

void aaad_home_dump_sessions(const struct aaad_home *h, FILE *out)
{
    struct dump_ctx x = {out, time(NULL), true};
    fputc('[', out);
    aaah_foreach_session(h->aaah, dump_one, &x);
    fputc(']', out);
}

void aaad_home_dump_vpn(const struct aaad_home *h, FILE *out)
{
    bool first = true;
    time_t now = time(NULL);
    fputc('[', out);
    aaad_dump_cache_items(aaah_cache_ha(h->aaah), "ha", now, out, &first);
    aaad_dump_cache_items(aaah_cache_fa(h->aaah), "fa", now, out, &first);
    fputc(']', out);
}
