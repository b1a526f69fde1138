/* VPN profiles <-> our Diameter vendor AVPs. Conventions: vpn_avp.h. */
#include "vpn_avp.h"

#include "mip4vpn_dict.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

/* Members: 1002-1021 and VPN-Share (1025); the slots of 1022-1024 (top-level AVPs) stay unused. */
#define NMEMBERS (MIP4VPN_AVP_VPN_SHARE - MIP4VPN_AVP_PROFILE_NUMBER + 1)
#define IDX(code) ((code)-MIP4VPN_AVP_PROFILE_NUMBER)

static bool is_member_code(uint32_t code)
{
    return (code >= MIP4VPN_AVP_PROFILE_NUMBER && code <= MIP4VPN_AVP_PROFILE_LIFETIME) ||
           code == MIP4VPN_AVP_VPN_SHARE;
}

static const char *const member_name[NMEMBERS] = {
    [IDX(MIP4VPN_AVP_PROFILE_NUMBER)] = MIP4VPN_N_PROFILE_NUMBER,
    [IDX(MIP4VPN_AVP_SOURCE_PREFIX)] = MIP4VPN_N_SOURCE_PREFIX,
    [IDX(MIP4VPN_AVP_SOURCE_PREFIX_LENGTH)] = MIP4VPN_N_SOURCE_PREFIX_LENGTH,
    [IDX(MIP4VPN_AVP_DESTINATION_PREFIX)] = MIP4VPN_N_DESTINATION_PREFIX,
    [IDX(MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH)] = MIP4VPN_N_DESTINATION_PREFIX_LENGTH,
    [IDX(MIP4VPN_AVP_DSCP_UP)] = MIP4VPN_N_DSCP_UP,
    [IDX(MIP4VPN_AVP_DSCP_DOWN)] = MIP4VPN_N_DSCP_DOWN,
    [IDX(MIP4VPN_AVP_SECURITY_TYPE)] = MIP4VPN_N_SECURITY_TYPE,
    [IDX(MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY)] = MIP4VPN_N_TUNNEL_SOURCE_GATEWAY,
    [IDX(MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY)] = MIP4VPN_N_TUNNEL_DESTINATION_GATEWAY,
    [IDX(MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE)] = MIP4VPN_N_DESTINATION_GATEWAY_TYPE,
    [IDX(MIP4VPN_AVP_SPI_UP)] = MIP4VPN_N_SPI_UP,
    [IDX(MIP4VPN_AVP_SPI_DOWN)] = MIP4VPN_N_SPI_DOWN,
    [IDX(MIP4VPN_AVP_ENCRYPTION_KEY_UP)] = MIP4VPN_N_ENCRYPTION_KEY_UP,
    [IDX(MIP4VPN_AVP_ENCRYPTION_KEY_DOWN)] = MIP4VPN_N_ENCRYPTION_KEY_DOWN,
    [IDX(MIP4VPN_AVP_AUTH_KEY_UP)] = MIP4VPN_N_AUTH_KEY_UP,
    [IDX(MIP4VPN_AVP_AUTH_KEY_DOWN)] = MIP4VPN_N_AUTH_KEY_DOWN,
    [IDX(MIP4VPN_AVP_ENCRYPTION_ALGORITHM)] = MIP4VPN_N_ENCRYPTION_ALGORITHM,
    [IDX(MIP4VPN_AVP_INTEGRITY_ALGORITHM)] = MIP4VPN_N_INTEGRITY_ALGORITHM,
    [IDX(MIP4VPN_AVP_PROFILE_LIFETIME)] = MIP4VPN_N_PROFILE_LIFETIME,
    [IDX(MIP4VPN_AVP_VPN_SHARE)] = MIP4VPN_N_VPN_SHARE,
};

/* ---- helpers ------------------------------------------------------------------------------ */

static uint32_t vendor_or_default(uint32_t vendor_id)
{
    return vendor_id ? vendor_id : mip4vpn_dict_vendor_id();
}

static int find_model(uint32_t vendor, uint32_t code, struct dict_object **obj)
{
    struct dict_avp_request req = {.avp_vendor = vendor, .avp_code = code};
    *obj = NULL;
    if (!fd_g_config || !fd_g_config->cnf_dict)
        return ENOENT;
    return fd_dict_search(fd_g_config->cnf_dict, DICT_AVP, AVP_BY_CODE_AND_VENDOR, &req, obj,
                          ENOENT);
}

/* Creates an AVP of (vendor, code) with the value, appends it to parent. */
static int add_value(void *parent, uint32_t vendor, uint32_t code, union avp_value *v)
{
    struct dict_object *model;
    struct avp *a = NULL;
    int ret = find_model(vendor, code, &model);
    if (ret)
        return ret;
    if ((ret = fd_msg_avp_new(model, 0, &a)) != 0)
        return ret;
    if ((ret = fd_msg_avp_setvalue(a, v)) != 0 ||
        (ret = fd_msg_avp_add(parent, MSG_BRW_LAST_CHILD, a)) != 0) {
        fd_msg_free(a);
        return ret;
    }
    return 0;
}

static int add_u32(void *parent, uint32_t vendor, uint32_t code, uint32_t u)
{
    union avp_value v = {.u32 = u};
    return add_value(parent, vendor, code, &v);
}

static int add_i32(void *parent, uint32_t vendor, uint32_t code, int32_t i)
{
    union avp_value v = {.i32 = i};
    return add_value(parent, vendor, code, &v);
}

/* freeDiameter copies the octets (fd_msg_avp_setvalue); it never writes through data. */
static int add_os(void *parent, uint32_t vendor, uint32_t code, const uint8_t *data, size_t len)
{
    union avp_value v;
    v.os.data = (uint8_t *)(uintptr_t)data;
    v.os.len = len;
    return add_value(parent, vendor, code, &v);
}

/* Diameter Address (RFC 6733 §4.3.1): family 1 (IPv4) + 4 octets. */
static int add_ip4(void *parent, uint32_t vendor, uint32_t code, struct in_addr a)
{
    uint8_t buf[6] = {0, 1};
    memcpy(buf + 2, &a.s_addr, 4);
    return add_os(parent, vendor, code, buf, sizeof(buf));
}

/* ---- wire <-> model mappings --------------------------------------------------------------- */

static int32_t sec_to_wire(uint8_t s)
{
    return s == VPN_SEC_AH      ? MIP4VPN_SEC_AH
           : s == VPN_SEC_ENCAP ? MIP4VPN_SEC_ENCAP_ONLY
                                : MIP4VPN_SEC_ESP;
}

static int32_t enc_to_wire(uint8_t a)
{
    switch (a) {
    case VPN_ENC_AES_CBC_128:
    case VPN_ENC_AES_CBC_256:
        return MIP4VPN_ENCR_AES_CBC;
    case VPN_ENC_AES_GCM_128:
        return MIP4VPN_ENCR_AES_GCM_16;
    default:
        return MIP4VPN_ENCR_NULL;
    }
}

static int32_t integ_to_wire(uint8_t a)
{
    switch (a) {
    case VPN_INTEG_HMAC_SHA1:
        return MIP4VPN_AUTH_HMAC_SHA1_96;
    case VPN_INTEG_HMAC_SHA256:
        return MIP4VPN_AUTH_HMAC_SHA2_256_128;
    default:
        return MIP4VPN_AUTH_NONE;
    }
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int put_members(struct avp *g, const struct vpn_profile *p, uint32_t v)
{
    int r;
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((r = (x)) != 0)                                                                        \
            return r;                                                                              \
    } while (0)
    TRY(add_u32(g, v, MIP4VPN_AVP_PROFILE_NUMBER, p->number));
    TRY(add_ip4(g, v, MIP4VPN_AVP_SOURCE_PREFIX, p->src.addr));
    TRY(add_u32(g, v, MIP4VPN_AVP_SOURCE_PREFIX_LENGTH, p->src.len));
    TRY(add_ip4(g, v, MIP4VPN_AVP_DESTINATION_PREFIX, p->dst.addr));
    TRY(add_u32(g, v, MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH, p->dst.len));
    TRY(add_u32(g, v, MIP4VPN_AVP_DSCP_UP, p->dscp_up));
    TRY(add_u32(g, v, MIP4VPN_AVP_DSCP_DOWN, p->dscp_down));
    TRY(add_i32(g, v, MIP4VPN_AVP_SECURITY_TYPE, sec_to_wire(p->sec)));
    TRY(add_ip4(g, v, MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY, p->src_gw));
    TRY(add_ip4(g, v, MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY, p->dst_gw));
    TRY(add_i32(g, v, MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE,
                p->gw_type == VPN_GW_DYNAMIC ? MIP4VPN_GW_DYNAMIC : MIP4VPN_GW_STATIC));
    TRY(add_i32(g, v, MIP4VPN_AVP_VPN_SHARE,
                p->vpnshare ? MIP4VPN_VPN_SHARE_PER_USER : MIP4VPN_VPN_SHARE_SHARED));
    if (p->spi_up)
        TRY(add_u32(g, v, MIP4VPN_AVP_SPI_UP, p->spi_up));
    if (p->spi_down)
        TRY(add_u32(g, v, MIP4VPN_AVP_SPI_DOWN, p->spi_down));
    if (p->has_keys) {
        /* Secrets: only over TLS-protected peer connections (RFC 4004 §8). */
        size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg);
        if (el) {
            TRY(add_os(g, v, MIP4VPN_AVP_ENCRYPTION_KEY_UP, p->key_up.enc, el));
            TRY(add_os(g, v, MIP4VPN_AVP_ENCRYPTION_KEY_DOWN, p->key_down.enc, el));
        }
        if (il) {
            TRY(add_os(g, v, MIP4VPN_AVP_AUTH_KEY_UP, p->key_up.integ, il));
            TRY(add_os(g, v, MIP4VPN_AVP_AUTH_KEY_DOWN, p->key_down.integ, il));
        }
    }
    if (p->sec != VPN_SEC_ENCAP) {
        TRY(add_i32(g, v, MIP4VPN_AVP_ENCRYPTION_ALGORITHM, enc_to_wire(p->enc_alg)));
        TRY(add_i32(g, v, MIP4VPN_AVP_INTEGRITY_ALGORITHM, integ_to_wire(p->integ_alg)));
    }
    TRY(add_u32(g, v, MIP4VPN_AVP_PROFILE_LIFETIME, p->lifetime));
#undef TRY
    return 0;
}

static void wipe_group_keys(struct avp *g, uint32_t vendor);

int vpn_avp_put_profile(void *parent, const struct vpn_profile *p, uint32_t vendor_id)
{
    char err[VPN_ERR_MAX];
    uint32_t v = vendor_or_default(vendor_id);
    if (!parent || !p || !vpn_profile_validate(p, err, sizeof(err)))
        return EINVAL;
    struct dict_object *model;
    struct avp *g = NULL;
    int ret = find_model(v, MIP4VPN_AVP_VPN_PROFILE, &model);
    if (ret)
        return ret;
    if ((ret = fd_msg_avp_new(model, 0, &g)) != 0)
        return ret;
    if ((ret = put_members(g, p, v)) != 0 ||
        (ret = fd_msg_avp_add(parent, MSG_BRW_LAST_CHILD, g)) != 0) {
        wipe_group_keys(g, v);
        fd_msg_free(g);
        return ret;
    }
    return 0;
}

int vpn_avp_put_profile_cache(void *parent, uint32_t n, uint32_t vendor_id)
{
    if (!parent)
        return EINVAL;
    return add_u32(parent, vendor_or_default(vendor_id), MIP4VPN_AVP_PROFILE_CACHE, n);
}

int vpn_avp_put_prev_fa(void *parent, struct in_addr fa, uint32_t vendor_id)
{
    if (!parent)
        return EINVAL;
    return add_ip4(parent, vendor_or_default(vendor_id), MIP4VPN_AVP_PREVIOUS_FA_ADDRESS, fa);
}

int vpn_avp_put_service_update(void *parent, uint32_t vendor_id)
{
    if (!parent)
        return EINVAL;
    return add_i32(parent, vendor_or_default(vendor_id), MIP4VPN_AVP_SERVICE_UPDATE_REQUEST,
                   MIP4VPN_SERVICE_UPDATE_RELOAD_PROFILES);
}

/* ---- decoding ------------------------------------------------------------------------------ */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Iterates the children of msg-or-avp parent: first with *cur NULL. */
static struct avp *next_child(void *parent, struct avp *cur)
{
    struct avp *n = NULL;
    if (cur == NULL)
        fd_msg_browse(parent, MSG_BRW_FIRST_CHILD, &n, NULL);
    else
        fd_msg_browse(cur, MSG_BRW_NEXT, &n, NULL);
    return n;
}

/* Header of an AVP whose value freeDiameter knows (parsed against the dictionary). */
static struct avp_hdr *hdr_of(struct avp *a)
{
    struct avp_hdr *h = NULL;
    if (fd_msg_avp_hdr(a, &h) != 0)
        return NULL;
    return h;
}

static bool is_ours(const struct avp_hdr *h, uint32_t vendor, uint32_t code)
{
    return (h->avp_flags & AVP_FLAG_VENDOR) && h->avp_vendor == vendor && h->avp_code == code;
}

/* Context for error messages: "VPN-Profile #2 (number 7)". */
struct pctx {
    size_t idx;
    bool has_number;
    uint32_t number;
    char *err;
    size_t errlen;
};

static int pfail(struct pctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int pfail(struct pctx *c, int rc, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int k;
        if (c->has_number)
            k = snprintf(c->err, c->errlen, "VPN-Profile #%zu (number %" PRIu32 "): ", c->idx,
                         c->number);
        else
            k = snprintf(c->err, c->errlen, "VPN-Profile #%zu: ", c->idx);
        if (k >= 0 && (size_t)k < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

/* Address AVP value -> IPv4 address; name for the messages. Result code or 0. */
static int get_ip4(const struct avp_hdr *h, struct in_addr *out, const char **why)
{
    const uint8_t *data = h->avp_value->os.data;
    size_t len = h->avp_value->os.len;
    if (len < 2) {
        *why = "is shorter than its 2-octet address family";
        return VPN_AVP_RC_INVALID_AVP_LENGTH;
    }
    unsigned fam = (unsigned)data[0] << 8 | data[1];
    if (fam != 1) {
        *why = fam == 2 ? "has address family 2 (IPv6); only IPv4 (1) is supported"
                        : "has an unknown address family (only IPv4, 1, is supported)";
        return VPN_AVP_RC_INVALID_AVP_VALUE;
    }
    if (len != 6) {
        *why = "is not 6 octets (family 1 + IPv4 address)";
        return VPN_AVP_RC_INVALID_AVP_LENGTH;
    }
    memcpy(&out->s_addr, data + 2, 4);
    return 0;
}

static int member_ip4(struct pctx *c, struct avp_hdr *const *m, uint32_t code, struct in_addr *out)
{
    const char *why = NULL;
    int rc = get_ip4(m[IDX(code)], out, &why);
    if (rc)
        return pfail(c, rc, "%s %s", member_name[IDX(code)], why);
    return 0;
}

/* A key member: exactly want octets (0 = must be absent); all-or-nothing with has_keys. */
static int member_key(struct pctx *c, struct avp_hdr *const *m, uint32_t code, size_t want,
                      const char *alg, uint8_t *dst)
{
    const struct avp_hdr *h = m[IDX(code)];
    const char *name = member_name[IDX(code)];
    if (!want) {
        if (h)
            return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE, "%s present but %s takes no key", name,
                         alg);
        return 0;
    }
    if (!h)
        return pfail(c, VPN_AVP_RC_MISSING_AVP, "missing %s (%s needs a %zu-octet key)", name, alg,
                     want);
    if (h->avp_value->os.len != want)
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE, "%s is %zu octets; %s needs %zu", name,
                     h->avp_value->os.len, alg, want);
    memcpy(dst, h->avp_value->os.data, want);
    return 0;
}

static int decode_members(struct pctx *c, struct avp_hdr *const *m, struct vpn_profile *p)
{
    static const uint32_t required[] = {
        MIP4VPN_AVP_PROFILE_NUMBER,
        MIP4VPN_AVP_SOURCE_PREFIX,
        MIP4VPN_AVP_SOURCE_PREFIX_LENGTH,
        MIP4VPN_AVP_DESTINATION_PREFIX,
        MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH,
        MIP4VPN_AVP_SECURITY_TYPE,
        MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY,
        MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY,
        MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE,
    };
    int rc;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!m[IDX(required[i])]) {
            if (required[i] != MIP4VPN_AVP_PROFILE_NUMBER) {
                c->has_number = m[IDX(MIP4VPN_AVP_PROFILE_NUMBER)] != NULL;
                if (c->has_number)
                    c->number = m[IDX(MIP4VPN_AVP_PROFILE_NUMBER)]->avp_value->u32;
            }
            return pfail(c, VPN_AVP_RC_MISSING_AVP, "missing %s", member_name[IDX(required[i])]);
        }

    p->number = m[IDX(MIP4VPN_AVP_PROFILE_NUMBER)]->avp_value->u32;
    c->has_number = true;
    c->number = p->number;

    if ((rc = member_ip4(c, m, MIP4VPN_AVP_SOURCE_PREFIX, &p->src.addr)) ||
        (rc = member_ip4(c, m, MIP4VPN_AVP_DESTINATION_PREFIX, &p->dst.addr)) ||
        (rc = member_ip4(c, m, MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY, &p->src_gw)) ||
        (rc = member_ip4(c, m, MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY, &p->dst_gw)))
        return rc;

    uint32_t u = m[IDX(MIP4VPN_AVP_SOURCE_PREFIX_LENGTH)]->avp_value->u32;
    if (u > 32)
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE, "%s %" PRIu32 " out of range 0-32",
                     MIP4VPN_N_SOURCE_PREFIX_LENGTH, u);
    p->src.len = (uint8_t)u;
    u = m[IDX(MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH)]->avp_value->u32;
    if (u > 32)
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE, "%s %" PRIu32 " out of range 0-32",
                     MIP4VPN_N_DESTINATION_PREFIX_LENGTH, u);
    p->dst.len = (uint8_t)u;

    static const uint32_t dscp[2] = {MIP4VPN_AVP_DSCP_UP, MIP4VPN_AVP_DSCP_DOWN};
    for (int i = 0; i < 2; i++) {
        const struct avp_hdr *h = m[IDX(dscp[i])];
        u = h ? h->avp_value->u32 : 0;
        if (u > VPN_DSCP_MAX)
            return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE, "%s %" PRIu32 " out of range 0-63",
                         member_name[IDX(dscp[i])], u);
        if (i == 0)
            p->dscp_up = (uint8_t)u;
        else
            p->dscp_down = (uint8_t)u;
    }

    int32_t e = m[IDX(MIP4VPN_AVP_SECURITY_TYPE)]->avp_value->i32;
    switch (e) {
    case MIP4VPN_SEC_ESP:
        p->sec = VPN_SEC_ESP;
        break;
    case MIP4VPN_SEC_AH:
        p->sec = VPN_SEC_AH;
        break;
    case MIP4VPN_SEC_ENCAP_ONLY:
        p->sec = VPN_SEC_ENCAP;
        break;
    default:
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE,
                     "%s %" PRId32 " out of range (1 ESP, 2 AH, 3 ENCAP-ONLY)",
                     MIP4VPN_N_SECURITY_TYPE, e);
    }
    e = m[IDX(MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE)]->avp_value->i32;
    if (e != MIP4VPN_GW_STATIC && e != MIP4VPN_GW_DYNAMIC)
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE,
                     "%s %" PRId32 " out of range (1 STATIC, 2 DYNAMIC)",
                     MIP4VPN_N_DESTINATION_GATEWAY_TYPE, e);
    p->gw_type = e == MIP4VPN_GW_DYNAMIC ? VPN_GW_DYNAMIC : VPN_GW_STATIC;

    const struct avp_hdr *share = m[IDX(MIP4VPN_AVP_VPN_SHARE)];
    if (share && share->avp_value->i32 != MIP4VPN_VPN_SHARE_SHARED &&
        share->avp_value->i32 != MIP4VPN_VPN_SHARE_PER_USER)
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE,
                     "%s %" PRId32 " out of range (0 SHARED, 1 PER-USER)", MIP4VPN_N_VPN_SHARE,
                     share->avp_value->i32);

    p->spi_up = m[IDX(MIP4VPN_AVP_SPI_UP)] ? m[IDX(MIP4VPN_AVP_SPI_UP)]->avp_value->u32 : 0;
    p->spi_down = m[IDX(MIP4VPN_AVP_SPI_DOWN)] ? m[IDX(MIP4VPN_AVP_SPI_DOWN)]->avp_value->u32 : 0;
    p->lifetime = m[IDX(MIP4VPN_AVP_PROFILE_LIFETIME)]
                      ? m[IDX(MIP4VPN_AVP_PROFILE_LIFETIME)]->avp_value->u32
                      : 0;

    /* Algorithms (absent = null / none). */
    e = m[IDX(MIP4VPN_AVP_INTEGRITY_ALGORITHM)]
            ? m[IDX(MIP4VPN_AVP_INTEGRITY_ALGORITHM)]->avp_value->i32
            : MIP4VPN_AUTH_NONE;
    switch (e) {
    case MIP4VPN_AUTH_NONE:
        p->integ_alg = VPN_INTEG_NONE;
        break;
    case MIP4VPN_AUTH_HMAC_SHA1_96:
        p->integ_alg = VPN_INTEG_HMAC_SHA1;
        break;
    case MIP4VPN_AUTH_HMAC_SHA2_256_128:
        p->integ_alg = VPN_INTEG_HMAC_SHA256;
        break;
    default:
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE,
                     "%s %" PRId32 " not supported (0 NONE, 2 HMAC_SHA1_96, 12 HMAC_SHA2_256_128)",
                     MIP4VPN_N_INTEGRITY_ALGORITHM, e);
    }
    const struct avp_hdr *eku = m[IDX(MIP4VPN_AVP_ENCRYPTION_KEY_UP)];
    e = m[IDX(MIP4VPN_AVP_ENCRYPTION_ALGORITHM)]
            ? m[IDX(MIP4VPN_AVP_ENCRYPTION_ALGORITHM)]->avp_value->i32
            : MIP4VPN_ENCR_NULL;
    switch (e) {
    case MIP4VPN_ENCR_NULL:
        p->enc_alg = VPN_ENC_NULL;
        break;
    case MIP4VPN_ENCR_AES_CBC:
        /* 128 or 256 by the key length; aes-cbc-128 when the profile carries no keys. */
        p->enc_alg =
            eku && eku->avp_value->os.len == 32 ? VPN_ENC_AES_CBC_256 : VPN_ENC_AES_CBC_128;
        break;
    case MIP4VPN_ENCR_AES_GCM_16:
        p->enc_alg = VPN_ENC_AES_GCM_128;
        break;
    default:
        return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE,
                     "%s %" PRId32 " not supported (11 ENCR_NULL, 12 ENCR_AES_CBC, 20 "
                     "ENCR_AES_GCM_16)",
                     MIP4VPN_N_ENCRYPTION_ALGORITHM, e);
    }

    /* Keys: all or none. */
    bool any_key = false;
    for (uint32_t k = MIP4VPN_AVP_ENCRYPTION_KEY_UP; k <= MIP4VPN_AVP_AUTH_KEY_DOWN; k++)
        any_key |= m[IDX(k)] != NULL;
    if (any_key) {
        size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg);
        const char *en = vpn_enc_str(p->enc_alg), *in = vpn_integ_str(p->integ_alg);
        if (p->enc_alg == VPN_ENC_AES_CBC_128 && eku && eku->avp_value->os.len != 16)
            return pfail(c, VPN_AVP_RC_INVALID_AVP_VALUE,
                         "%s is %zu octets; ENCR_AES_CBC takes 16 or 32",
                         MIP4VPN_N_ENCRYPTION_KEY_UP, eku->avp_value->os.len);
        if ((rc = member_key(c, m, MIP4VPN_AVP_ENCRYPTION_KEY_UP, el, en, p->key_up.enc)) ||
            (rc = member_key(c, m, MIP4VPN_AVP_ENCRYPTION_KEY_DOWN, el, en, p->key_down.enc)) ||
            (rc = member_key(c, m, MIP4VPN_AVP_AUTH_KEY_UP, il, in, p->key_up.integ)) ||
            (rc = member_key(c, m, MIP4VPN_AVP_AUTH_KEY_DOWN, il, in, p->key_down.integ)))
            return rc;
        p->has_keys = true;
    }
    /* vpnshare: the VPN-Share AVP; without it (a sender from before the AVP) a profile with
     * neither keys nor SPIs uses the shared default SA, any other a per-user SA. */
    if (share)
        p->vpnshare = share->avp_value->i32 == MIP4VPN_VPN_SHARE_PER_USER ? 1 : 0;
    else
        p->vpnshare = any_key || p->spi_up || p->spi_down ? 1 : 0;
    p->leg = VPN_LEG_NONE;
    return 0;
}

/* Decodes one VPN-Profile grouped AVP into p (initialised here). */
static int decode_profile(struct pctx *c, struct avp *g, uint32_t vendor, struct vpn_profile *p)
{
    struct avp_hdr *m[NMEMBERS] = {0};
    vpn_profile_init(p);
    for (struct avp *a = next_child(g, NULL); a; a = next_child(g, a)) {
        struct avp_hdr *h = hdr_of(a);
        if (!h)
            return pfail(c, VPN_AVP_RC_UNABLE_TO_COMPLY, "cannot read a member AVP");
        bool ours = (h->avp_flags & AVP_FLAG_VENDOR) && h->avp_vendor == vendor &&
                    is_member_code(h->avp_code);
        if (!ours || !h->avp_value) {
            /* Not a member (or unknown to the dictionary): an M-flagged one cannot be
             * ignored (RFC 6733 §4.1); otherwise skip it. */
            if (h->avp_flags & AVP_FLAG_MANDATORY)
                return pfail(c, VPN_AVP_RC_AVP_UNSUPPORTED,
                             "unsupported mandatory member AVP code %" PRIu32 " vendor %" PRIu32,
                             h->avp_code, h->avp_vendor);
            continue;
        }
        size_t i = IDX(h->avp_code);
        if (m[i]) {
            if (m[IDX(MIP4VPN_AVP_PROFILE_NUMBER)]) {
                c->has_number = true;
                c->number = m[IDX(MIP4VPN_AVP_PROFILE_NUMBER)]->avp_value->u32;
            }
            return pfail(c, VPN_AVP_RC_AVP_OCCURS_TOO_MANY_TIMES, "%s occurs more than once",
                         member_name[i]);
        }
        m[i] = h;
    }
    return decode_members(c, m, p);
}

int vpn_avp_get_profiles(struct msg *msg, struct vpn_profile *out, size_t max, size_t *n, char *err,
                         size_t errlen)
{
    uint32_t vendor = mip4vpn_dict_vendor_id();
    size_t count = 0;
    int rc = 0;
    if (n)
        *n = 0;
    if (!msg || !n || (max && !out))
        return fail(err, errlen, VPN_AVP_RC_UNABLE_TO_COMPLY, "vpn_avp_get_profiles: bad call");
    if (err && errlen)
        err[0] = '\0';

    for (struct avp *a = next_child(msg, NULL); a; a = next_child(msg, a)) {
        struct avp_hdr *h = hdr_of(a);
        if (!h || !is_ours(h, vendor, MIP4VPN_AVP_VPN_PROFILE))
            continue;
        struct pctx c = {.idx = count + 1, .err = err, .errlen = errlen};
        if (count == max) {
            rc = pfail(&c, VPN_AVP_RC_AVP_OCCURS_TOO_MANY_TIMES,
                       "more than %zu VPN-Profile AVPs in one message", max);
            break;
        }
        struct vpn_profile tmp;
        rc = decode_profile(&c, a, vendor, &tmp);
        if (!rc) {
            char verr[VPN_ERR_MAX];
            if (!vpn_profile_validate(&tmp, verr, sizeof(verr)))
                rc = pfail(&c, VPN_AVP_RC_INVALID_AVP_VALUE, "%s", verr);
        }
        if (rc) {
            vpn_profile_clear(&tmp); /* wipes any key already copied */
            break;
        }
        out[count++] = tmp;
        OPENSSL_cleanse(&tmp, sizeof(tmp));
    }

    if (!rc) {
        bool present;
        uint32_t pc;
        rc = vpn_avp_get_profile_cache(msg, &present, &pc, err, errlen);
        if (!rc && present && pc != count)
            rc = fail(err, errlen, VPN_AVP_RC_INVALID_AVP_VALUE,
                      "%s %" PRIu32 " but the message carries %zu VPN-Profile AVPs",
                      MIP4VPN_N_PROFILE_CACHE, pc, count);
    }
    if (rc) {
        for (size_t i = 0; i < count; i++)
            vpn_profile_clear(&out[i]);
        return rc;
    }
    *n = count;
    return 0;
}

/* The single top-level AVP (vendor, code) of m, or NULL; 5009 when there are several. */
static int find_single(struct msg *m, uint32_t code, const char *name, struct avp_hdr **out,
                       char *err, size_t errlen)
{
    uint32_t vendor = mip4vpn_dict_vendor_id();
    *out = NULL;
    for (struct avp *a = next_child(m, NULL); a; a = next_child(m, a)) {
        struct avp_hdr *h = hdr_of(a);
        if (!h || !is_ours(h, vendor, code) || !h->avp_value)
            continue;
        if (*out)
            return fail(err, errlen, VPN_AVP_RC_AVP_OCCURS_TOO_MANY_TIMES,
                        "%s occurs more than once", name);
        *out = h;
    }
    return 0;
}

int vpn_avp_get_profile_cache(struct msg *m, bool *present, uint32_t *n, char *err, size_t errlen)
{
    struct avp_hdr *h;
    *present = false;
    int rc = find_single(m, MIP4VPN_AVP_PROFILE_CACHE, MIP4VPN_N_PROFILE_CACHE, &h, err, errlen);
    if (rc || !h)
        return rc;
    *present = true;
    *n = h->avp_value->u32;
    return 0;
}

int vpn_avp_get_prev_fa(struct msg *m, bool *present, struct in_addr *fa, char *err, size_t errlen)
{
    struct avp_hdr *h;
    const char *why = NULL;
    *present = false;
    int rc = find_single(m, MIP4VPN_AVP_PREVIOUS_FA_ADDRESS, MIP4VPN_N_PREVIOUS_FA_ADDRESS, &h, err,
                         errlen);
    if (rc || !h)
        return rc;
    if ((rc = get_ip4(h, fa, &why)) != 0)
        return fail(err, errlen, rc, "%s %s", MIP4VPN_N_PREVIOUS_FA_ADDRESS, why);
    *present = true;
    return 0;
}

int vpn_avp_get_service_update(struct msg *m, bool *present, char *err, size_t errlen)
{
    struct avp_hdr *h;
    *present = false;
    int rc = find_single(m, MIP4VPN_AVP_SERVICE_UPDATE_REQUEST, MIP4VPN_N_SERVICE_UPDATE_REQUEST,
                         &h, err, errlen);
    if (rc || !h)
        return rc;
    if (h->avp_value->i32 != MIP4VPN_SERVICE_UPDATE_RELOAD_PROFILES)
        return fail(err, errlen, VPN_AVP_RC_INVALID_AVP_VALUE,
                    "%s %" PRId32 " out of range (1 RELOAD-PROFILES)",
                    MIP4VPN_N_SERVICE_UPDATE_REQUEST, h->avp_value->i32);
    *present = true;
    return 0;
}

/* ---- key hygiene --------------------------------------------------------------------------- */

static void wipe_group_keys(struct avp *g, uint32_t vendor)
{
    for (struct avp *a = next_child(g, NULL); a; a = next_child(g, a)) {
        struct avp_hdr *h = hdr_of(a);
        if (!h || !(h->avp_flags & AVP_FLAG_VENDOR) || h->avp_vendor != vendor ||
            h->avp_code < MIP4VPN_AVP_ENCRYPTION_KEY_UP || h->avp_code > MIP4VPN_AVP_AUTH_KEY_DOWN)
            continue;
        if (h->avp_value && h->avp_value->os.data && h->avp_value->os.len)
            OPENSSL_cleanse(h->avp_value->os.data, h->avp_value->os.len);
    }
}

void vpn_avp_wipe_keys(struct msg *m)
{
    uint32_t vendor = mip4vpn_dict_vendor_id();
    if (!m)
        return;
    for (struct avp *a = next_child(m, NULL); a; a = next_child(m, a)) {
        struct avp_hdr *h = hdr_of(a);
        if (h && is_ours(h, vendor, MIP4VPN_AVP_VPN_PROFILE))
            wipe_group_keys(a, vendor);
    }
}
