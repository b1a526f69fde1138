/*
 * The agent's AAA interface over Diameter (RFC 4004 application 2, base
 * protocol STR; aaad/FLOWS.md "Messages").  Translation only: every protocol
 * decision is in src/fa.c and src/ha.c, which see plain structs.
 *
 *   FA:  struct aaa_amr  -> AMR (260)   ;  AMA -> struct aaa_ama -> fa_aaa_answer
 *        send_str        -> STR (275)   ;  STA logged
 *   HA:  HAR (262) -> struct aaa_har -> ha_har_rx ; struct aaa_haa -> HAA
 *
 * All callbacks of diam.h run on the loop thread; a HAR is kept here (by id)
 * until the HA answers it, possibly much later (after its BAs).
 */
#include "aaa_diam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "diam.h"
#include "log.h"
#include "mip4vpn_dict.h"
#include "vpn_avp.h"
#include "vpn_cache.h"

/* Base protocol AVPs and commands (RFC 6733). */
#define AVP_USER_NAME 1
#define AVP_AUTH_SESSION_STATE 277
#define AVP_AUTHORIZATION_LIFETIME 291
#define AVP_TERMINATION_CAUSE 295
#define AVP_ORIGIN_HOST 264
#define AVP_ORIGIN_REALM 296
#define CMD_STR 275
#define STATE_MAINTAINED 0
#define TERMINATION_LOGOUT 1 /* DIAMETER_LOGOUT */

#define SID_MAX (VPN_SESSION_ID_MAX + 1)

struct har_slot {
    uint64_t id;
    struct msg *req;
    struct har_slot *next;
};

struct aaa_diam {
    struct agent *agent;
    struct diam *d;
    uint32_t vendor;
    uint64_t next_har;
    struct har_slot *hars;
};

struct amr_ctx {
    struct aaa_diam *g;
    uint64_t id;
    char sid[SID_MAX];
};

/* ---- FA: AMR / AMA -------------------------------------------------------- */

static void get_fa_ha_msa(struct msg *ans, struct aaa_ama *ama)
{
    struct avp *grp = NULL;
    if (diam_get_avp(ans, MIP4_AVP_FA_TO_HA_MSA, 0, &grp))
        return;
    uint32_t spi = 0;
    const uint8_t *k = NULL;
    size_t kl = 0;
    if (diam_get_u32(grp, MIP4_AVP_FA_TO_HA_SPI, 0, &spi) == 0 &&
        diam_get_os(grp, MIP4_AVP_SESSION_KEY, 0, &k, &kl) == 0 && kl) {
        ama->has_fa_ha = true;
        ama->fa_ha_spi = spi;
        ama->fa_ha_key = k;
        ama->fa_ha_key_len = kl;
    }
}

static void amr_answer(void *arg, struct msg *ans, const char *why)
{
    struct amr_ctx *c = arg;
    struct agent *a = c->g->agent;
    struct aaa_ama ama;
    memset(&ama, 0, sizeof(ama));
    char sid[SID_MAX], origin[256] = "", realm[256] = "";
    struct vpn_profile prof[VPN_MAX_PROFILES];
    size_t n = 0;
    char perr[VPN_AVP_ERR_MAX];
    if (!ans) {
        ama.answered = false;
        ama.why = why;
        ama.session_id = c->sid;
        fa_aaa_answer(a, c->id, &ama);
        free(c);
        return;
    }
    ama.answered = true;
    ama.result_code = diam_result_code(ans);
    ama.session_id = diam_session_id(ans, sid, sizeof(sid)) == 0 ? sid : c->sid;
    if (diam_get_str(ans, AVP_ORIGIN_HOST, 0, origin, sizeof(origin)) == 0)
        ama.origin_host = origin;
    if (diam_get_str(ans, AVP_ORIGIN_REALM, 0, realm, sizeof(realm)) == 0)
        ama.origin_realm = realm;
    const uint8_t *rp = NULL;
    size_t rl = 0;
    if (diam_get_os(ans, MIP4_AVP_REG_REPLY, 0, &rp, &rl) == 0) {
        ama.reg_reply = rp;
        ama.reg_reply_len = rl;
    }
    if (diam_get_u32(ans, AVP_AUTHORIZATION_LIFETIME, 0, &ama.lifetime) == 0)
        ama.has_lifetime = true;
    diam_get_addr(ans, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, &ama.hoa);
    diam_get_addr(ans, MIP4_AVP_HOME_AGENT_ADDRESS, 0, &ama.ha);
    get_fa_ha_msa(ans, &ama);
    if (ama.result_code == AAA_RC_SUCCESS) {
        char perr2[VPN_AVP_ERR_MAX];
        int prc = vpn_avp_get_prev_fa(ans, &ama.has_prev_fa, &ama.prev_fa, perr2, sizeof(perr2));
        if (prc) {
            ama.decode_rc = (uint32_t)prc;
            ama.decode_err = "bad MIP4VPN-Previous-FA-Address";
            ama.has_prev_fa = false;
        }
        int rc = vpn_avp_get_profiles(ans, prof, VPN_MAX_PROFILES, &n, perr, sizeof(perr));
        if (rc) {
            ama.decode_rc = (uint32_t)rc;
            ama.decode_err = perr;
            n = 0;
        }
        ama.profiles = prof;
        ama.n_profiles = (unsigned)n;
    }
    fa_aaa_answer(a, c->id, &ama);
    for (size_t i = 0; i < n; i++)
        vpn_profile_clear(&prof[i]);
    diam_msg_free(ans);
    free(c);
}

static int send_amr(void *ctx, const struct aaa_amr *amr, char *sid, size_t sidlen)
{
    struct aaa_diam *g = ctx;
    struct msg *req = NULL;
    struct avp *auth = NULL;
    int rc = diam_new_request(MIP4_CMD_AMR, amr->session_id, &req);
    if (rc == 0)
        rc = diam_session_id(req, sid, sidlen);
    if (rc == 0)
        rc = diam_add_dest(req, amr->realm, NULL);
    if (rc == 0)
        rc = diam_add_str(req, AVP_USER_NAME, 0, amr->nai);
    if (rc == 0)
        rc = diam_add_os(req, MIP4_AVP_REG_REQUEST, 0, amr->reg_req, amr->reg_req_len);
    if (rc == 0)
        rc = diam_add_group(req, MIP4_AVP_MN_AAA_AUTH, 0, &auth);
    if (rc == 0)
        rc = diam_add_u32(auth, MIP4_AVP_MN_AAA_SPI, 0, amr->mn_aaa_spi);
    if (rc == 0)
        rc = diam_add_u32(auth, MIP4_AVP_AUTH_INPUT_DATA_LENGTH, 0, amr->auth_input_len);
    if (rc == 0)
        rc = diam_add_u32(auth, MIP4_AVP_AUTHENTICATOR_LENGTH, 0, amr->authenticator_len);
    if (rc == 0)
        rc = diam_add_u32(auth, MIP4_AVP_AUTHENTICATOR_OFFSET, 0, amr->authenticator_off);
    if (rc == 0 && amr->challenge)
        rc = diam_add_os(req, MIP4_AVP_FA_CHALLENGE, 0, amr->challenge, amr->challenge_len);
    if (rc == 0)
        rc = diam_add_u32(req, MIP4_AVP_FEATURE_VECTOR, 0, amr->feature_vector);
    if (rc == 0 && amr->hoa.s_addr)
        rc = diam_add_addr(req, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, amr->hoa);
    if (rc == 0 && amr->ha.s_addr)
        rc = diam_add_addr(req, MIP4_AVP_HOME_AGENT_ADDRESS, 0, amr->ha);
    if (rc == 0 && amr->has_prev_fa)
        rc = vpn_avp_put_prev_fa(req, amr->prev_fa, 0);
    if (rc == 0 && amr->service_update)
        rc = vpn_avp_put_service_update(req, 0);
    /* STATE_MAINTAINED: the session lives until our STR (FLOWS "AMR"). */
    if (rc == 0)
        rc = diam_add_u32(req, AVP_AUTH_SESSION_STATE, 0, STATE_MAINTAINED);
    if (rc) {
        log_err("cannot build the AMR for %s: %s", amr->nai, strerror(rc));
        if (req)
            diam_msg_free(req);
        return -rc;
    }
    struct amr_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        diam_msg_free(req);
        return -ENOMEM;
    }
    c->g = g;
    c->id = amr->id;
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    rc = diam_send(g->d, &req, amr->timeout_ms, amr_answer, c);
    if (rc) {
        log_warn("cannot send the AMR for %s: %s", amr->nai, strerror(rc));
        free(c);
        return -rc;
    }
    return 0;
}

/* ---- FA: STR / STA -------------------------------------------------------- */

static void str_answer(void *arg, struct msg *ans, const char *why)
{
    struct amr_ctx *c = arg;
    struct agent *a = c->g->agent;
    if (ans) {
        char origin[256] = "";
        diam_get_str(ans, AVP_ORIGIN_HOST, 0, origin, sizeof(origin));
        agent_event(a, "rx", "STA", origin, c->sid, (int)diam_result_code(ans));
        diam_msg_free(ans);
    } else {
        log_info("STR of session %s: %s", c->sid, why ? why : "no answer");
    }
    free(c);
}

static int send_str(void *ctx, const char *sid, const char *nai, const char *realm, uint32_t cause)
{
    struct aaa_diam *g = ctx;
    struct msg *req = NULL;
    if (!realm)
        return -EINVAL; /* nowhere to route it */
    int rc = diam_new_request(CMD_STR, sid, &req);
    if (rc == 0)
        rc = diam_add_dest(req, realm, NULL);
    if (rc == 0 && nai)
        rc = diam_add_str(req, AVP_USER_NAME, 0, nai);
    if (rc == 0)
        rc = diam_add_u32(req, AVP_TERMINATION_CAUSE, 0, cause ? cause : TERMINATION_LOGOUT);
    if (rc) {
        if (req)
            diam_msg_free(req);
        return -rc;
    }
    struct amr_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        diam_msg_free(req);
        return -ENOMEM;
    }
    c->g = g;
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    rc = diam_send(g->d, &req, 10000, str_answer, c);
    if (rc) {
        free(c);
        return -rc;
    }
    return 0;
}

/* ---- HA: HAR / HAA -------------------------------------------------------- */

static struct har_slot *take_har(struct aaa_diam *g, uint64_t id)
{
    for (struct har_slot **pp = &g->hars; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct har_slot *s = *pp;
            *pp = s->next;
            return s;
        }
    }
    return NULL;
}

static int answer_har(void *ctx, uint64_t id, const struct aaa_haa *haa)
{
    struct aaa_diam *g = ctx;
    struct har_slot *s = take_har(g, id);
    if (!s)
        return -ENOENT;
    struct msg *ans = NULL;
    int rc = diam_new_answer(s->req, &ans);
    free(s);
    if (rc)
        return -rc;
    rc = diam_set_result(ans, haa->result_code, haa->error_message);
    if (rc == 0 && haa->reg_reply)
        rc = diam_add_os(ans, MIP4_AVP_REG_REPLY, 0, haa->reg_reply, haa->reg_reply_len);
    if (rc == 0 && haa->ha.s_addr)
        rc = diam_add_addr(ans, MIP4_AVP_HOME_AGENT_ADDRESS, 0, haa->ha);
    if (rc == 0 && haa->hoa.s_addr)
        rc = diam_add_addr(ans, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, haa->hoa);
    if (rc == 0 && haa->has_prev_fa)
        rc = vpn_avp_put_prev_fa(ans, haa->prev_fa, 0);
    if (rc == 0 && haa->has_fa_ha_spi)
        rc = diam_add_u32(ans, MIP4_AVP_FA_TO_HA_SPI, 0, haa->fa_ha_spi);
    if (rc) {
        diam_msg_free(ans);
        return -rc;
    }
    rc = diam_answer(g->d, &ans);
    return rc ? -rc : 0;
}

/* One MSA group's members (RFC 4004 §9.5-§9.10). */
static void get_mn_msas(struct msg *req, struct aaa_har *h)
{
    struct avp *to_ha = NULL, *to_mn = NULL;
    if (diam_get_avp(req, MIP4_AVP_MN_TO_HA_MSA, 0, &to_ha) ||
        diam_get_avp(req, MIP4_AVP_HA_TO_MN_MSA, 0, &to_mn))
        return;
    if (diam_get_u32(to_ha, MIP4_AVP_MN_HA_SPI, 0, &h->mn_ha_spi) ||
        diam_get_os(to_ha, MIP4_AVP_NONCE, 0, &h->nonce, &h->nonce_len) ||
        diam_get_os(to_mn, MIP4_AVP_SESSION_KEY, 0, &h->mn_ha_key, &h->mn_ha_key_len))
        return;
    /* Absent algorithm / replay mode: the RFC 4004 defaults we use. */
    h->mn_ha_alg = MIP4_ALGORITHM_HMAC_SHA1;
    h->mn_ha_replay = MIP4_REPLAY_TIMESTAMPS;
    diam_get_u32(to_ha, MIP4_AVP_ALGORITHM_TYPE, 0, &h->mn_ha_alg);
    diam_get_u32(to_ha, MIP4_AVP_REPLAY_MODE, 0, &h->mn_ha_replay);
    h->has_mn_ha = true;
}

static void on_har(void *ctx, struct msg *req)
{
    struct aaa_diam *g = ctx;
    struct har_slot *s = calloc(1, sizeof(*s));
    if (!s) {
        struct msg *ans = NULL;
        if (diam_new_answer(req, &ans) == 0) {
            diam_set_result(ans, AAA_RC_UNABLE_TO_COMPLY, "out of memory");
            diam_answer(g->d, &ans);
        }
        return;
    }
    s->id = ++g->next_har;
    s->req = req;
    s->next = g->hars;
    g->hars = s;

    struct aaa_har h;
    memset(&h, 0, sizeof(h));
    h.id = s->id;
    char sid[SID_MAX], origin[256], nai[MIPD_NAI_MAX];
    if (diam_session_id(req, sid, sizeof(sid)) == 0)
        h.session_id = sid;
    if (diam_get_str(req, AVP_ORIGIN_HOST, 0, origin, sizeof(origin)) == 0)
        h.origin_host = origin;
    int nrc = diam_get_str(req, AVP_USER_NAME, 0, nai, sizeof(nai));
    if (nrc == 0)
        h.nai = nai;
    diam_get_os(req, MIP4_AVP_REG_REQUEST, 0, &h.reg_req, &h.reg_req_len);
    if (diam_get_u32(req, AVP_AUTHORIZATION_LIFETIME, 0, &h.lifetime) == 0)
        h.has_lifetime = true;
    diam_get_u32(req, MIP4_AVP_FEATURE_VECTOR, 0, &h.feature_vector);
    int arc = diam_get_addr(req, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, &h.hoa);
    diam_get_addr(req, MIP4_AVP_HOME_AGENT_ADDRESS, 0, &h.ha);
    get_mn_msas(req, &h);
    struct avp *fa = NULL;
    if (diam_get_avp(req, MIP4_AVP_HA_TO_FA_MSA, 0, &fa) == 0 &&
        diam_get_u32(fa, MIP4_AVP_HA_TO_FA_SPI, 0, &h.fa_ha_spi) == 0 &&
        diam_get_os(fa, MIP4_AVP_SESSION_KEY, 0, &h.fa_ha_key, &h.fa_ha_key_len) == 0)
        h.has_fa_ha = true;
    struct vpn_profile prof[VPN_MAX_PROFILES];
    size_t n = 0;
    char perr[VPN_AVP_ERR_MAX];
    int prc = vpn_avp_get_profiles(req, prof, VPN_MAX_PROFILES, &n, perr, sizeof(perr));
    if (nrc == ENOSPC) {
        h.decode_rc = AAA_RC_INVALID_AVP_VALUE;
        h.decode_err = "User-Name too long";
    } else if (arc == EINVAL) {
        h.decode_rc = AAA_RC_INVALID_AVP_VALUE;
        h.decode_err = "MIP-Mobile-Node-Address is not an IPv4 address";
    } else if (prc) {
        h.decode_rc = (uint32_t)prc;
        h.decode_err = perr;
        n = 0;
    }
    h.profiles = prof;
    h.n_profiles = (unsigned)n;
    ha_har_rx(g->agent, &h);
    for (size_t i = 0; i < n; i++)
        vpn_profile_clear(&prof[i]);
}

/* ---- start / stop --------------------------------------------------------- */

static const struct agent_aaa_ops diam_ops = {
    .send_amr = send_amr,
    .send_str = send_str,
    .answer_har = answer_har,
};

struct aaa_diam *aaa_diam_start(struct agent *a, const char *fd_conf, char *err, size_t errlen)
{
    struct aaa_diam *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->agent = a;
    g->vendor = a->cfg->vendor_id;
    g->d = diam_start(a->loop, fd_conf, a->cfg->vendor_id, err, errlen);
    if (!g->d) {
        free(g);
        return NULL;
    }
    if (a->cfg->role == ROLE_HA) {
        int rc = diam_on_request(g->d, MIP4_CMD_HAR, on_har, g);
        if (rc) {
            snprintf(err, errlen, "cannot serve HAR: %s", strerror(rc));
            diam_stop(g->d);
            free(g);
            return NULL;
        }
    }
    a->aaa = &diam_ops;
    a->aaa_ctx = g;
    return g;
}

void aaa_diam_stop(struct aaa_diam *g)
{
    if (!g)
        return;
    while (g->hars) {
        struct har_slot *s = g->hars;
        g->hars = s->next;
        diam_msg_free(s->req);
        free(s);
    }
    diam_stop(g->d);
    if (g->agent->aaa_ctx == g) {
        g->agent->aaa = NULL;
        g->agent->aaa_ctx = NULL;
    }
    free(g);
}

const char *aaa_diam_identity(const struct aaa_diam *g)
{
    return diam_identity(g->d);
}

void aaa_diam_dump_counters(const struct aaa_diam *g, void *file)
{
    FILE *out = file;
    struct diam_counters c;
    diam_get_counters(g->d, &c);
    fprintf(out,
            ",{\"name\":\"diameter_req_rx\",\"value\":%llu},{\"name\":\"diameter_ans_tx\","
            "\"value\":%llu},{\"name\":\"diameter_req_tx\",\"value\":%llu},{\"name\":"
            "\"diameter_ans_rx\",\"value\":%llu},{\"name\":\"diameter_timeouts\",\"value\":%llu},"
            "{\"name\":\"diameter_send_errors\",\"value\":%llu}",
            (unsigned long long)c.req_rx, (unsigned long long)c.ans_tx,
            (unsigned long long)c.req_tx, (unsigned long long)c.ans_rx,
            (unsigned long long)c.timeouts, (unsigned long long)c.send_errors);
}
