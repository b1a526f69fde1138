/* aaad: readers of the Diameter messages it receives (see aaad_msg.h). */
#include "aaad_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdproto.h>
#include <openssl/crypto.h>

#include "diam.h"
#include "mip4vpn_dict.h"

/* ---- AMR ------------------------------------------------------------------------------------ */

/* RFC 4004 §7.6-§7.9: MIP-MN-AAA-Auth describes the MN-AAA extension inside MIP-Reg-Request;
 * when the request decodes, the two must agree. */
static void check_mn_aaa_avps(struct msg *amr, struct aaad_amr_in *in)
{
    struct avp *g = NULL;
    if (!in->rq_ok || !in->rq.ext.mn_aaa.present ||
        diam_get_avp(amr, MIP4_AVP_MN_AAA_AUTH, 0, &g) != 0)
        return; /* the decision logic reports what is missing */
    uint32_t spi = 0, in_len = 0, a_len = 0, a_off = 0;
    if (diam_get_u32(g, MIP4_AVP_MN_AAA_SPI, 0, &spi) ||
        diam_get_u32(g, MIP4_AVP_AUTH_INPUT_DATA_LENGTH, 0, &in_len) ||
        diam_get_u32(g, MIP4_AVP_AUTHENTICATOR_LENGTH, 0, &a_len) ||
        diam_get_u32(g, MIP4_AVP_AUTHENTICATOR_OFFSET, 0, &a_off)) {
        in->rc = AAAD_DIAMETER_MISSING_AVP;
        snprintf(in->why, sizeof(in->why), "MIP-MN-AAA-Auth incomplete");
        return;
    }
    const struct mip_auth_ext *x = &in->rq.ext.mn_aaa;
    size_t off = (size_t)(x->authenticator.ptr - in->rrq);
    if (spi != x->spi)
        snprintf(in->why, sizeof(in->why),
                 "MIP-MN-AAA-SPI %u differs from the MN-AAA extension's SPI %u", spi, x->spi);
    else if (in_len != x->covered_len)
        snprintf(in->why, sizeof(in->why),
                 "MIP-Auth-Input-Data-Length %u differs from the %zu octets the MN-AAA "
                 "authenticator covers",
                 in_len, x->covered_len);
    else if (a_len != x->authenticator.len)
        snprintf(in->why, sizeof(in->why),
                 "MIP-Authenticator-Length %u differs from the extension's %zu", a_len,
                 x->authenticator.len);
    else if (a_off != off)
        snprintf(in->why, sizeof(in->why),
                 "MIP-Authenticator-Offset %u differs from the extension's %zu", a_off, off);
    else
        return;
    in->rc = AAAD_DIAMETER_INVALID_AVP_VALUE;
}

void aaad_amr_read(struct msg *amr, struct aaad_amr_in *in)
{
    memset(in, 0, sizeof(*in));
    int sid_e = diam_session_id(amr, in->sid, sizeof(in->sid));
    int nai_e = diam_get_str(amr, AAAD_AVP_USER_NAME, 0, in->nai, sizeof(in->nai));
    if (sid_e)
        in->sid[0] = '\0';
    if (nai_e)
        in->nai[0] = '\0';
    if (sid_e == ENOSPC || nai_e == ENOSPC) {
        in->rc = AAAD_DIAMETER_INVALID_AVP_VALUE;
        snprintf(in->why, sizeof(in->why), "%s longer than %d octets",
                 sid_e == ENOSPC ? "Session-Id" : "User-Name",
                 sid_e == ENOSPC ? VPN_SESSION_ID_MAX : VPNDB_NAI_MAX);
    }
    if (diam_get_os(amr, MIP4_AVP_REG_REQUEST, 0, &in->rrq, &in->rrq_len))
        in->rrq = NULL, in->rrq_len = 0;
    if (in->rrq)
        in->rq_ok = mip_get_reg_request(in->rrq, in->rrq_len, &in->rq, NULL) == MIP_OK;
    if (diam_get_os(amr, MIP4_AVP_FA_CHALLENGE, 0, &in->chal, &in->chal_len))
        in->chal = NULL, in->chal_len = 0;
    if (!in->rc) {
        char e[VPN_AVP_ERR_MAX];
        uint32_t r = (uint32_t)vpn_avp_get_service_update(amr, &in->service_update, e, sizeof(e));
        if (!r)
            r = (uint32_t)vpn_avp_get_prev_fa(amr, &in->has_prev_fa, &in->prev_fa, e, sizeof(e));
        if (r) {
            in->rc = r;
            snprintf(in->why, sizeof(in->why), "%s", e);
        }
    }
    if (!in->rc)
        check_mn_aaa_avps(amr, in);
}

bool aaad_amr_foreign_aaa(struct msg *amr, const char *source, char *host, size_t hostlen,
                          char *realm, size_t realmlen)
{
    char last[AAAD_ID_MAX] = "";
    struct avp *g = NULL;
    host[0] = realm[0] = '\0';
    if (diam_get_avp(amr, MIP4_AVP_ORIGINATING_FOREIGN_AAA, 0, &g) == 0) {
        /* Malformed (a member missing, too long or empty): no AAAF then. */
        if (diam_get_str(g, AAAD_AVP_ORIGIN_HOST, 0, host, hostlen) == 0 && host[0] &&
            diam_get_str(g, AAAD_AVP_ORIGIN_REALM, 0, realm, realmlen) == 0 && realm[0])
            return true;
        host[0] = realm[0] = '\0';
        return false;
    }
    unsigned n = 0;
    struct avp *a = NULL;
    if (fd_msg_browse(amr, MSG_BRW_FIRST_CHILD, &a, NULL))
        return false;
    while (a) {
        struct avp_hdr *h = NULL;
        if (fd_msg_avp_hdr(a, &h) == 0 && h->avp_code == AAAD_AVP_ROUTE_RECORD &&
            !(h->avp_flags & AVP_FLAG_VENDOR) && h->avp_value) {
            snprintf(last, sizeof(last), "%.*s", (int)h->avp_value->os.len,
                     (const char *)h->avp_value->os.data);
            if (++n == 2)
                snprintf(host, hostlen, "%s", last);
        }
        if (fd_msg_browse(a, MSG_BRW_NEXT, &a, NULL))
            break;
    }
    if (source && strcmp(source, "?") && strcasecmp(source, last) && ++n == 2)
        snprintf(host, hostlen, "%s", source);
    if (n < 2 || !host[0]) {
        host[0] = '\0';
        return false; /* straight from the FA: no AAAF */
    }
    if (diam_get_str(amr, AAAD_AVP_ORIGIN_REALM, 0, realm, realmlen) != 0 || !realm[0]) {
        host[0] = realm[0] = '\0';
        return false;
    }
    return true;
}

/* ---- AMA ------------------------------------------------------------------------------------ */

/* RFC 4004 MIP-FA-to-HA-MSA: SPI, algorithm, key. */
static void read_fa_ha_msa(struct msg *m, struct aaad_ama_in *a)
{
    struct avp *g = NULL;
    const uint8_t *k = NULL;
    size_t kl = 0;
    if (diam_get_avp(m, MIP4_AVP_FA_TO_HA_MSA, 0, &g) ||
        diam_get_u32(g, MIP4_AVP_FA_TO_HA_SPI, 0, &a->fa_ha_spi) ||
        diam_get_os(g, MIP4_AVP_SESSION_KEY, 0, &k, &kl) || !kl || kl > sizeof(a->fa_ha_key))
        return;
    if (diam_get_u32(g, MIP4_AVP_ALGORITHM_TYPE, 0, &a->fa_ha_alg))
        a->fa_ha_alg = MIP4_ALGORITHM_HMAC_SHA1;
    memcpy(a->fa_ha_key, k, kl);
    a->fa_ha_key_len = kl;
    a->has_fa_ha = true;
}

int aaad_ama_read(struct msg *m, struct aaad_ama_in *a)
{
    memset(a, 0, sizeof(*a));
    if (diam_session_id(m, a->sid, sizeof(a->sid)))
        a->sid[0] = '\0';
    if (diam_get_str(m, AAAD_AVP_USER_NAME, 0, a->nai, sizeof(a->nai)))
        a->nai[0] = '\0';
    if (diam_get_str(m, AAAD_AVP_ORIGIN_REALM, 0, a->origin_realm, sizeof(a->origin_realm)))
        a->origin_realm[0] = '\0';
    a->rc = diam_result_code(m);
    a->has_lifetime = diam_get_u32(m, AAAD_AVP_AUTHORIZATION_LIFETIME, 0, &a->lifetime) == 0;
    if (diam_get_addr(m, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, &a->hoa) != 0)
        a->hoa.s_addr = 0;
    if (diam_get_addr(m, MIP4_AVP_HOME_AGENT_ADDRESS, 0, &a->ha) != 0)
        a->ha.s_addr = 0;
    if (diam_get_u32(m, MIP4_AVP_MSA_LIFETIME, 0, &a->msa_lifetime) != 0)
        a->msa_lifetime = 0;
    const uint8_t *rep = NULL;
    size_t len = 0;
    if (diam_get_os(m, MIP4_AVP_REG_REPLY, 0, &rep, &len) == 0) {
        a->has_reply = true;
        struct mip_reg_reply rp;
        if (mip_get_reg_reply(rep, len, &rp, NULL) == MIP_OK) {
            a->reply_ok = true;
            a->reply_code = rp.code;
            if (!a->has_lifetime) {
                a->lifetime = rp.lifetime;
                a->has_lifetime = true;
            }
            if (!a->hoa.s_addr)
                a->hoa = rp.home_addr;
            if (!a->ha.s_addr)
                a->ha = rp.home_agent;
        }
    }
    read_fa_ha_msa(m, a);
    char e[VPN_AVP_ERR_MAX];
    if (vpn_avp_get_prev_fa(m, &a->has_prev_fa, &a->prev_fa, e, sizeof(e)))
        a->has_prev_fa = false;
    if (a->rc != AAAD_DIAMETER_SUCCESS || !a->lifetime)
        return 0; /* nothing to cache */
    a->profiles = calloc(VPN_MAX_PROFILES, sizeof(*a->profiles));
    if (!a->profiles) {
        a->prof_rc = VPN_AVP_RC_UNABLE_TO_COMPLY;
        snprintf(a->prof_err, sizeof(a->prof_err), "out of memory");
        return ENOMEM;
    }
    a->prof_rc = vpn_avp_get_profiles(m, a->profiles, VPN_MAX_PROFILES, &a->n, a->prof_err,
                                      sizeof(a->prof_err));
    return 0;
}

void aaad_ama_in_clear(struct aaad_ama_in *a)
{
    if (a->profiles) {
        for (size_t i = 0; i < a->n; i++)
            vpn_profile_clear(&a->profiles[i]);
        free(a->profiles);
    }
    OPENSSL_cleanse(a, sizeof(*a));
}

/* ---- HAA ------------------------------------------------------------------------------------ */

void aaad_haa_read(struct msg *m, struct aaad_haa_in *h)
{
    memset(h, 0, sizeof(*h));
    h->rc = diam_result_code(m);
    if (diam_get_os(m, MIP4_AVP_REG_REPLY, 0, &h->reply, &h->reply_len) == 0) {
        struct mip_reg_reply rp;
        h->reply_err = mip_get_reg_reply(h->reply, h->reply_len, &rp, &h->reply_err_off);
        h->reply_ok = h->reply_err == MIP_OK;
        if (h->reply_ok)
            h->reply_code = rp.code;
    } else {
        h->reply = NULL;
        h->reply_len = 0;
    }
    char e[VPN_AVP_ERR_MAX];
    h->prev_fa_rc = (uint32_t)vpn_avp_get_prev_fa(m, &h->has_prev_fa, &h->prev_fa, e, sizeof(e));
    if (h->prev_fa_rc)
        h->has_prev_fa = false;
}

/* ---- HAR ------------------------------------------------------------------------------------ */

int aaad_har_read(struct msg *m, struct aaad_har_in *h)
{
    memset(h, 0, sizeof(*h));
    if (diam_session_id(m, h->sid, sizeof(h->sid)))
        h->sid[0] = '\0';
    if (diam_get_str(m, AAAD_AVP_USER_NAME, 0, h->nai, sizeof(h->nai)))
        h->nai[0] = '\0';
    if (diam_get_os(m, MIP4_AVP_REG_REQUEST, 0, &h->rrq, &h->rrq_len))
        h->rrq = NULL, h->rrq_len = 0;
    if (h->rrq)
        h->rq_ok = mip_get_reg_request(h->rrq, h->rrq_len, &h->rq, NULL) == MIP_OK;
    h->has_lifetime = diam_get_u32(m, AAAD_AVP_AUTHORIZATION_LIFETIME, 0, &h->lifetime) == 0;
    if (diam_get_addr(m, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, &h->hoa))
        h->hoa.s_addr = 0;
    if (diam_get_addr(m, MIP4_AVP_HOME_AGENT_ADDRESS, 0, &h->ha))
        h->ha.s_addr = 0;
    struct avp *g = NULL;
    if (diam_get_avp(m, MIP4_AVP_MN_TO_HA_MSA, 0, &g) == 0) {
        if (diam_get_u32(g, MIP4_AVP_MN_HA_SPI, 0, &h->mn_ha_spi))
            h->mn_ha_spi = 0;
        if (diam_get_os(g, MIP4_AVP_NONCE, 0, &h->nonce, &h->nonce_len))
            h->nonce = NULL, h->nonce_len = 0;
    }
    if (diam_get_avp(m, MIP4_AVP_HA_TO_MN_MSA, 0, &g) == 0 &&
        diam_get_os(g, MIP4_AVP_SESSION_KEY, 0, &h->mn_ha_key, &h->mn_ha_key_len))
        h->mn_ha_key = NULL, h->mn_ha_key_len = 0;
    if (diam_get_avp(m, MIP4_AVP_HA_TO_FA_MSA, 0, &g) == 0) {
        if (diam_get_u32(g, MIP4_AVP_HA_TO_FA_SPI, 0, &h->ha_fa_spi))
            h->ha_fa_spi = 0;
        if (diam_get_os(g, MIP4_AVP_SESSION_KEY, 0, &h->fa_ha_key, &h->fa_ha_key_len))
            h->fa_ha_key = NULL, h->fa_ha_key_len = 0;
    }
    char e[VPN_AVP_ERR_MAX] = "";
    uint32_t r = (uint32_t)vpn_avp_get_prev_fa(m, &h->has_prev_fa, &h->prev_fa, e, sizeof(e));
    if (!r) {
        h->profiles = calloc(VPN_MAX_PROFILES, sizeof(*h->profiles));
        if (!h->profiles) {
            h->rc = VPN_AVP_RC_UNABLE_TO_COMPLY;
            snprintf(h->why, sizeof(h->why), "out of memory");
            return ENOMEM;
        }
        r = (uint32_t)vpn_avp_get_profiles(m, h->profiles, VPN_MAX_PROFILES, &h->n, e, sizeof(e));
    }
    if (r) {
        h->rc = r;
        snprintf(h->why, sizeof(h->why), "%s", e);
    }
    return 0;
}

void aaad_har_in_clear(struct aaad_har_in *h)
{
    if (h->profiles) {
        for (size_t i = 0; i < h->n; i++)
            vpn_profile_clear(&h->profiles[i]);
        free(h->profiles);
    }
    memset(h, 0, sizeof(*h)); /* the key pointers point into the message */
}

/* ---- STR ------------------------------------------------------------------------------------ */

void aaad_str_read(struct msg *m, struct aaad_str_in *s)
{
    memset(s, 0, sizeof(*s));
    if (diam_session_id(m, s->sid, sizeof(s->sid)))
        s->sid[0] = '\0';
    if (diam_get_str(m, AAAD_AVP_USER_NAME, 0, s->nai, sizeof(s->nai)))
        s->nai[0] = '\0';
    if (diam_get_str(m, AAAD_AVP_ORIGIN_HOST, 0, s->origin_host, sizeof(s->origin_host)))
        s->origin_host[0] = '\0';
    s->has_cause = diam_get_u32(m, AAAD_AVP_TERMINATION_CAUSE, 0, &s->cause) == 0;
}
