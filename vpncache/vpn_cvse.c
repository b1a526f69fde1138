/* VPN-INFO CVSE encoding and decoding: see vpn_cvse.h for the layout. */
#include "vpn_cvse.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define CVSE_HDR_LEN 10 /* Type, Reserved, Length (2), Vendor-ID (4), Vendor-CVSE-Type (2) */
#define TLV_HDR 3
#define KEYS_MAX (2 * (VPN_ENC_KEY_MAX + VPN_INTEG_KEY_MAX))
#define DATA_MAX 0xffff

static const char HKDF_INFO[] = "mip4vpn VPN-INFO CVSE v1";

void vpn_info_clear(struct vpn_info *info)
{
    for (unsigned i = 0; i < VPN_CVSE_MAX_PROFILES; i++)
        vpn_profile_clear(&info->profiles[i]);
    OPENSSL_cleanse(info, sizeof(*info));
}

static bool errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "VPN-INFO CVSE: ");
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void cvse_header(uint8_t h[CVSE_HDR_LEN], uint32_t vendor_id, size_t data_len)
{
    h[0] = MIP_EXT_CVSE;
    h[1] = 0;
    wr16(h + 2, (uint16_t)(6 + data_len)); /* RFC 3115 §3.1 */
    wr32(h + 4, vendor_id);
    wr16(h + 8, VPN_VSE_TYPE_VPN_INFO);
}

static bool derive_key(const void *key, size_t keylen, uint8_t out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return false;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return false;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)HKDF_INFO,
                                          sizeof(HKDF_INFO) - 1),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(ctx, out, 32, params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok;
}

/* AES-256-GCM over pt (ptlen may be 0); enc selects direction.  On decrypt
 * the tag is checked and false returned when it does not match. */
static bool gcm(bool enc, const uint8_t key[32], const uint8_t nonce[VPN_CVSE_NONCE_LEN],
                const uint8_t *aad1, size_t aad1len, const uint8_t *aad2, size_t aad2len,
                const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[VPN_CVSE_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return false;
    int n = 0;
    bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, VPN_CVSE_NONCE_LEN, NULL) == 1 &&
              EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc ? 1 : 0) == 1 &&
              EVP_CipherUpdate(ctx, NULL, &n, aad1, (int)aad1len) == 1 &&
              EVP_CipherUpdate(ctx, NULL, &n, aad2, (int)aad2len) == 1;
    if (ok && len)
        ok = EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 && (size_t)n == len;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VPN_CVSE_TAG_LEN, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(ctx, out + len, &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VPN_CVSE_TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static size_t keys_len(const struct vpn_profile *p)
{
    if (!p->has_keys)
        return 0;
    return 2 * (vpn_enc_key_len(p->enc_alg) + vpn_integ_key_len(p->integ_alg));
}

static size_t put_tlv(uint8_t *buf, size_t off, uint8_t type, const void *v, size_t len)
{
    buf[off] = type;
    wr16(buf + off + 1, (uint16_t)len);
    if (len)
        memcpy(buf + off + TLV_HDR, v, len);
    return off + TLV_HDR + len;
}

static void put_profile(uint8_t *q, const struct vpn_profile *p)
{
    wr32(q, p->number);
    q[4] = p->vpnshare;
    q[5] = p->sec;
    q[6] = p->gw_type;
    q[7] = p->leg;
    memcpy(q + 8, &p->src.addr.s_addr, 4);
    q[12] = p->src.len;
    q[13] = p->dst.len;
    q[14] = p->dscp_up;
    q[15] = p->dscp_down;
    memcpy(q + 16, &p->dst.addr.s_addr, 4);
    q[20] = p->enc_alg;
    q[21] = p->integ_alg;
    q[22] = p->has_keys ? 1 : 0;
    q[23] = 0;
    memcpy(q + 24, &p->src_gw.s_addr, 4);
    memcpy(q + 28, &p->dst_gw.s_addr, 4);
    wr32(q + 32, p->spi_up);
    wr32(q + 36, p->spi_down);
    wr32(q + 40, p->lifetime);
}

static size_t put_keys(uint8_t *q, const struct vpn_profile *p)
{
    size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg), o = 0;
    memcpy(q + o, p->key_up.enc, el);
    o += el;
    memcpy(q + o, p->key_up.integ, il);
    o += il;
    memcpy(q + o, p->key_down.enc, el);
    o += el;
    memcpy(q + o, p->key_down.integ, il);
    return o + il;
}

static bool string_ok(const char *s, bool required)
{
    size_t n = strnlen(s, 254);
    return n <= 253 && (n > 0 || !required);
}

bool vpn_cvse_put(struct mip_writer *w, uint32_t vendor_id, const struct vpn_info *info,
                  const void *key, size_t keylen, char *err, size_t errlen)
{
    if (!key || keylen < VPN_CVSE_MIN_AGENT_KEY)
        return errf(err, errlen, "agent key shorter than %d octets", VPN_CVSE_MIN_AGENT_KEY);
    if (!string_ok(info->session_id, true))
        return errf(err, errlen, "session ID must be 1-253 octets");
    if (!string_ok(info->nai, false))
        return errf(err, errlen, "NAI longer than 253 octets");
    if (info->n > VPN_CVSE_MAX_PROFILES)
        return errf(err, errlen, "%u profiles, at most %d fit", info->n, VPN_CVSE_MAX_PROFILES);
    for (unsigned i = 0; i < info->n; i++) {
        char why[VPN_ERR_MAX];
        if (!vpn_profile_validate(&info->profiles[i], why, sizeof(why)))
            return errf(err, errlen, "%s", why);
    }

    /* Everything is bounded: 1 + 2*(3+253) + 2*7 + 8*(3+44) + 3+12+8*136+16 < 64 KiB. */
    uint8_t data[2048], plain[VPN_CVSE_MAX_PROFILES * KEYS_MAX + 1], aeskey[32];
    size_t off = 0, ptlen = 0;
    data[off++] = VPN_CVSE_VERSION;
    off = put_tlv(data, off, VPN_TLV_SESSION_ID, info->session_id, strlen(info->session_id));
    if (info->nai[0])
        off = put_tlv(data, off, VPN_TLV_NAI, info->nai, strlen(info->nai));
    if (info->hoa.s_addr)
        off = put_tlv(data, off, VPN_TLV_HOME_ADDR, &info->hoa.s_addr, 4);
    uint8_t lt[4];
    wr32(lt, info->lifetime);
    off = put_tlv(data, off, VPN_TLV_LIFETIME, lt, 4);
    for (unsigned i = 0; i < info->n; i++) {
        uint8_t rec[VPN_CVSE_PROFILE_LEN];
        put_profile(rec, &info->profiles[i]);
        off = put_tlv(data, off, VPN_TLV_PROFILE, rec, sizeof(rec));
        if (info->profiles[i].has_keys)
            ptlen += put_keys(plain + ptlen, &info->profiles[i]);
    }
    size_t sealed_len = VPN_CVSE_NONCE_LEN + ptlen + VPN_CVSE_TAG_LEN;
    if (off + TLV_HDR + sealed_len > sizeof(data)) {
        OPENSSL_cleanse(plain, sizeof(plain));
        return errf(err, errlen, "VPN information too large (%zu octets)",
                    off + TLV_HDR + sealed_len);
    }
    data[off] = VPN_TLV_SEALED;
    wr16(data + off + 1, (uint16_t)sealed_len);
    off += TLV_HDR;
    size_t total = off + sealed_len;

    uint8_t hdr[CVSE_HDR_LEN];
    cvse_header(hdr, vendor_id, total);
    uint8_t *nonce = data + off, *ct = nonce + VPN_CVSE_NONCE_LEN, *tag = ct + ptlen;
    bool ok = RAND_bytes(nonce, VPN_CVSE_NONCE_LEN) == 1 && derive_key(key, keylen, aeskey) &&
              gcm(true, aeskey, nonce, hdr, sizeof(hdr), data, off, plain, ptlen, ct, tag);
    OPENSSL_cleanse(plain, sizeof(plain));
    OPENSSL_cleanse(aeskey, sizeof(aeskey));
    if (!ok) {
        OPENSSL_cleanse(data, sizeof(data));
        return errf(err, errlen, "encryption failed (OpenSSL)");
    }
    mip_put_cvse(w, vendor_id, VPN_VSE_TYPE_VPN_INFO, data, total);
    OPENSSL_cleanse(data, sizeof(data));
    if (w->err != MIP_OK)
        return errf(err, errlen, "%s", mip_err_str(w->err));
    return true;
}

static const char *tlv_name(uint8_t t)
{
    static const char *const names[] = {"?",        "SESSION-ID", "NAI",   "HOME-ADDR",
                                        "LIFETIME", "PROFILE",    "SEALED"};
    return t < 7 ? names[t] : "?";
}

/* Parses one PROFILE record; the reserved parts must be zero. */
static bool get_profile(const uint8_t *q, struct vpn_profile *p, unsigned idx, char *err,
                        size_t errlen)
{
    vpn_profile_init(p);
    p->number = rd32(q);
    p->vpnshare = q[4];
    p->sec = q[5];
    p->gw_type = q[6];
    p->leg = q[7];
    memcpy(&p->src.addr.s_addr, q + 8, 4);
    p->src.len = q[12];
    p->dst.len = q[13];
    p->dscp_up = q[14];
    p->dscp_down = q[15];
    memcpy(&p->dst.addr.s_addr, q + 16, 4);
    p->enc_alg = q[20];
    p->integ_alg = q[21];
    if (q[22] & ~1u)
        return errf(err, errlen, "PROFILE %u: reserved flag bits 0x%02x set", idx, q[22] & ~1u);
    if (q[23])
        return errf(err, errlen, "PROFILE %u: reserved octet is %u, must be 0", idx, q[23]);
    p->has_keys = q[22] & 1;
    memcpy(&p->src_gw.s_addr, q + 24, 4);
    memcpy(&p->dst_gw.s_addr, q + 28, 4);
    p->spi_up = rd32(q + 32);
    p->spi_down = rd32(q + 36);
    p->lifetime = rd32(q + 40);
    return true;
}

static bool get_string(char *dst, const uint8_t *v, size_t len, const char *what, char *err,
                       size_t errlen)
{
    if (len < 1 || len > 253)
        return errf(err, errlen, "%s length %zu, must be 1-253", what, len);
    if (memchr(v, 0, len))
        return errf(err, errlen, "%s contains a NUL octet", what);
    memcpy(dst, v, len);
    dst[len] = '\0';
    return true;
}

static bool decode(const struct mip_vse *v, uint32_t vendor_id, const void *key, size_t keylen,
                   struct vpn_info *out, char *err, size_t errlen)
{
    if (v->vendor_id != vendor_id)
        return errf(err, errlen, "vendor ID %u, expected %u", (unsigned)v->vendor_id,
                    (unsigned)vendor_id);
    if (v->vendor_type != VPN_VSE_TYPE_VPN_INFO)
        return errf(err, errlen, "Vendor-CVSE-Type %u is not VPN-INFO (%d)", v->vendor_type,
                    VPN_VSE_TYPE_VPN_INFO);
    if (!key || keylen < VPN_CVSE_MIN_AGENT_KEY)
        return errf(err, errlen, "agent key shorter than %d octets", VPN_CVSE_MIN_AGENT_KEY);
    const uint8_t *d = v->data.ptr;
    size_t len = v->data.len;
    if (len > DATA_MAX - 6)
        return errf(err, errlen, "data length %zu exceeds the CVSE Length field", len);
    if (len < 1)
        return errf(err, errlen, "truncated: no Version octet");
    if (d[0] != VPN_CVSE_VERSION)
        return errf(err, errlen, "version %u not supported (expected %d)", d[0], VPN_CVSE_VERSION);

    bool seen[7] = {false};
    const uint8_t *sealed = NULL;
    size_t sealed_len = 0, aad_len = 0, ptlen = 0;
    size_t off = 1;
    while (off < len) {
        if (len - off < TLV_HDR)
            return errf(err, errlen, "truncated TLV header at offset %zu", off);
        uint8_t t = d[off];
        size_t l = rd16(d + off + 1);
        if (len - off - TLV_HDR < l)
            return errf(err, errlen,
                        "%s TLV at offset %zu: length %zu runs past the end (%zu left)",
                        tlv_name(t), off, l, len - off - TLV_HDR);
        const uint8_t *val = d + off + TLV_HDR;
        if (t < VPN_TLV_SESSION_ID || t > VPN_TLV_SEALED)
            return errf(err, errlen, "unknown TLV type %u at offset %zu", t, off);
        if (seen[VPN_TLV_SEALED])
            return errf(err, errlen, "%s TLV after SEALED (SEALED must be last)", tlv_name(t));
        if (t != VPN_TLV_PROFILE && seen[t])
            return errf(err, errlen, "duplicate %s TLV at offset %zu", tlv_name(t), off);
        seen[t] = true;
        switch (t) {
        case VPN_TLV_SESSION_ID:
            if (!get_string(out->session_id, val, l, "SESSION-ID", err, errlen))
                return false;
            break;
        case VPN_TLV_NAI:
            if (!get_string(out->nai, val, l, "NAI", err, errlen))
                return false;
            break;
        case VPN_TLV_HOME_ADDR:
            if (l != 4)
                return errf(err, errlen, "HOME-ADDR length %zu, must be 4", l);
            memcpy(&out->hoa.s_addr, val, 4);
            break;
        case VPN_TLV_LIFETIME:
            if (l != 4)
                return errf(err, errlen, "LIFETIME length %zu, must be 4", l);
            out->lifetime = rd32(val);
            break;
        case VPN_TLV_PROFILE:
            if (l != VPN_CVSE_PROFILE_LEN)
                return errf(err, errlen, "PROFILE %u length %zu, must be %d", out->n, l,
                            VPN_CVSE_PROFILE_LEN);
            if (out->n >= VPN_CVSE_MAX_PROFILES)
                return errf(err, errlen, "more than %d PROFILE TLVs", VPN_CVSE_MAX_PROFILES);
            if (!get_profile(val, &out->profiles[out->n], out->n, err, errlen))
                return false;
            /* key lengths depend on the algorithms: check them before use */
            if (out->profiles[out->n].enc_alg > VPN_ENC_AES_GCM_128 ||
                out->profiles[out->n].integ_alg > VPN_INTEG_HMAC_SHA256)
                return errf(err, errlen, "PROFILE %u: unknown algorithm (enc %u, integ %u)", out->n,
                            out->profiles[out->n].enc_alg, out->profiles[out->n].integ_alg);
            ptlen += keys_len(&out->profiles[out->n]);
            out->n++;
            break;
        case VPN_TLV_SEALED:
            if (l < VPN_CVSE_NONCE_LEN + VPN_CVSE_TAG_LEN)
                return errf(err, errlen, "SEALED length %zu, at least %d (nonce + tag)", l,
                            VPN_CVSE_NONCE_LEN + VPN_CVSE_TAG_LEN);
            sealed = val;
            sealed_len = l;
            aad_len = off + TLV_HDR;
            break;
        }
        off += TLV_HDR + l;
    }
    if (!seen[VPN_TLV_SESSION_ID])
        return errf(err, errlen, "missing SESSION-ID TLV");
    if (!seen[VPN_TLV_LIFETIME])
        return errf(err, errlen, "missing LIFETIME TLV");
    if (!sealed)
        return errf(err, errlen, "missing SEALED TLV (the VPN information is unauthenticated)");
    size_t ctlen = sealed_len - VPN_CVSE_NONCE_LEN - VPN_CVSE_TAG_LEN;
    if (ctlen != ptlen)
        return errf(err, errlen, "SEALED carries %zu key octets, the profiles need %zu", ctlen,
                    ptlen);

    uint8_t hdr[CVSE_HDR_LEN], aeskey[32], plain[VPN_CVSE_MAX_PROFILES * KEYS_MAX + 1],
        tag[VPN_CVSE_TAG_LEN];
    cvse_header(hdr, vendor_id, len);
    memcpy(tag, sealed + VPN_CVSE_NONCE_LEN + ctlen, VPN_CVSE_TAG_LEN);
    if (!derive_key(key, keylen, aeskey)) {
        OPENSSL_cleanse(aeskey, sizeof(aeskey));
        return errf(err, errlen, "key derivation failed (OpenSSL)");
    }
    bool ok = gcm(false, aeskey, sealed, hdr, sizeof(hdr), d, aad_len, sealed + VPN_CVSE_NONCE_LEN,
                  ctlen, plain, tag);
    OPENSSL_cleanse(aeskey, sizeof(aeskey));
    if (!ok) {
        OPENSSL_cleanse(plain, sizeof(plain));
        return errf(err, errlen, "authentication failed: tampered or wrong agent key");
    }
    size_t o = 0;
    for (unsigned i = 0; i < out->n; i++) {
        struct vpn_profile *p = &out->profiles[i];
        if (!p->has_keys)
            continue;
        size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg);
        memcpy(p->key_up.enc, plain + o, el);
        o += el;
        memcpy(p->key_up.integ, plain + o, il);
        o += il;
        memcpy(p->key_down.enc, plain + o, el);
        o += el;
        memcpy(p->key_down.integ, plain + o, il);
        o += il;
    }
    OPENSSL_cleanse(plain, sizeof(plain));
    for (unsigned i = 0; i < out->n; i++) {
        char why[VPN_ERR_MAX];
        if (!vpn_profile_validate(&out->profiles[i], why, sizeof(why)))
            return errf(err, errlen, "%s", why);
        for (unsigned j = 0; j < i; j++)
            if (out->profiles[j].number == out->profiles[i].number &&
                out->profiles[j].leg == out->profiles[i].leg)
                return errf(err, errlen, "profile %u appears twice for leg %s",
                            (unsigned)out->profiles[i].number, vpn_leg_str(out->profiles[i].leg));
    }
    return true;
}

bool vpn_cvse_get(const struct mip_vse *v, uint32_t vendor_id, const void *key, size_t keylen,
                  struct vpn_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (decode(v, vendor_id, key, keylen, out, err, errlen))
        return true;
    vpn_info_clear(out);
    return false;
}

const struct mip_vse *vpn_cvse_find(const struct mip_exts *ext, uint32_t vendor_id, unsigned *count)
{
    const struct mip_vse *first = NULL;
    unsigned n = 0;
    for (unsigned i = 0; i < ext->n_cvse && i < MIP_MAX_VSE; i++)
        if (ext->cvse[i].vendor_id == vendor_id &&
            ext->cvse[i].vendor_type == VPN_VSE_TYPE_VPN_INFO) {
            if (!first)
                first = &ext->cvse[i];
            n++;
        }
    if (count)
        *count = n;
    return first;
}
