/* Authentication extensions: RFC 5944 §3.5 HMAC-MD5 (and HMAC-SHA1 for SAs
 * derived with RFC 3957), RFC 3012 §8 MN-AAA (CHAP-style MD5), the RFC 3957
 * MN-HA key generation nonce reply and key derivation, and our
 * route-optimisation HMAC-SHA-256 CVSE (DESIGN §6). */
#include "codec_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MN_AAA_CHAL_TAIL 237 /* RFC 3012 §8: "least-order 237 bytes from Challenge" */

static bool hmac(const EVP_MD *md, const void *key, size_t keylen, const uint8_t *data, size_t len,
                 uint8_t *out, unsigned outlen)
{
    unsigned got = 0;
    /* HMAC() with a zero-length key needs a non-NULL pointer. */
    static const uint8_t empty = 0;
    if (keylen > INT32_MAX)
        return false;
    if (!HMAC(md, keylen ? key : &empty, (int)keylen, data, len, out, &got))
        return false;
    return got == outlen;
}

/*
 * RFC 3012 §8 (kept by RFC 4721 §7 for the CHAP SPI):
 *   Authenticator = MD5(high-order byte of Challenge || Key ||
 *                       MD5(Preceding Mobile IP data || Type, Subtype, Length, SPI) ||
 *                       least-order 237 bytes of Challenge)
 * "Preceding data" is the UDP payload before this extension.  With a challenge
 * shorter than 238 octets the least-order 237 octets are the whole challenge,
 * so its first octet is hashed twice, as the RFC notes.
 */
static bool mn_aaa_compute(const uint8_t *covered, size_t covered_len, const void *key,
                           size_t keylen, const uint8_t *chal, size_t challen, uint8_t *out)
{
    uint8_t inner[MIP_MD5_LEN];
    unsigned n = 0;
    bool ok = false;
    if (challen == 0)
        return false;
    size_t tail = challen < MN_AAA_CHAL_TAIL ? challen : MN_AAA_CHAL_TAIL;

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return false;
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, covered, covered_len) != 1 ||
        EVP_DigestFinal_ex(ctx, inner, &n) != 1 || n != MIP_MD5_LEN)
        goto out;
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(ctx, chal, 1) != 1 ||
        EVP_DigestUpdate(ctx, key, keylen) != 1 ||
        EVP_DigestUpdate(ctx, inner, sizeof(inner)) != 1 ||
        EVP_DigestUpdate(ctx, chal + challen - tail, tail) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != MIP_MD5_LEN)
        goto out;
    ok = true;
out:
    EVP_MD_CTX_free(ctx);
    return ok;
}

static const EVP_MD *auth_md(enum mip_auth_alg alg, unsigned *len)
{
    if (alg == MIP_AUTH_HMAC_SHA1) {
        *len = MIP_SHA1_LEN;
        return EVP_sha1();
    }
    *len = MIP_MD5_LEN;
    return EVP_md5();
}

void mip_put_auth(struct mip_writer *w, uint8_t type, uint32_t spi, enum mip_auth_alg alg,
                  const void *key, size_t keylen)
{
    if (type != MIP_EXT_MN_HA_AUTH && type != MIP_EXT_MN_FA_AUTH && type != MIP_EXT_FA_HA_AUTH) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    unsigned mlen;
    const EVP_MD *md = auth_md(alg, &mlen);
    uint8_t *p = mip_writer_reserve(w, 6 + mlen);
    if (!p)
        return;
    p[0] = type;
    p[1] = (uint8_t)(4 + mlen);
    mip_wr32(p + 2, spi);
    /* RFC 5944 §3.5.1: covers everything up to and including the SPI. */
    if (!hmac(md, key, keylen, w->buf, (size_t)(p + 6 - w->buf), p + 6, mlen))
        w->err = MIP_ERR_BAD_VALUE;
}

void mip_put_auth_hmac_md5(struct mip_writer *w, uint8_t type, uint32_t spi, const void *key,
                           size_t keylen)
{
    mip_put_auth(w, type, spi, MIP_AUTH_HMAC_MD5, key, keylen);
}

void mip_put_mn_ha_keygen_reply(struct mip_writer *w, uint32_t lifetime, uint32_t aaa_spi,
                                uint32_t ha_spi, uint16_t alg, uint16_t replay, const void *nonce,
                                size_t nonce_len)
{
    if (nonce_len == 0 || nonce_len > 255 || !nonce) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t *p = mip_writer_reserve(w, 4 + MIP_KEYGEN_REPLY_FIXED + nonce_len);
    if (!p)
        return;
    p[0] = MIP_EXT_MN_HA_KEYGEN_REPLY;
    p[1] = MIP_KEYGEN_SUBTYPE_AAA;
    mip_wr16(p + 2, (uint16_t)(MIP_KEYGEN_REPLY_FIXED + nonce_len));
    mip_wr32(p + 4, lifetime);
    mip_wr32(p + 8, aaa_spi);
    mip_wr32(p + 12, ha_spi);
    mip_wr16(p + 16, alg);
    mip_wr16(p + 18, replay);
    memcpy(p + 20, nonce, nonce_len);
}

/* RFC 3957: key = HMAC-SHA1(AAA-key, Key Generation Nonce || MN identifier),
 * the identifier being the MN's NAI. */
bool mip_mn_ha_key_derive(const void *aaa_key, size_t aaa_keylen, const void *nonce,
                          size_t nonce_len, const void *nai, size_t nai_len,
                          uint8_t out[MIP_MN_HA_KEY_LEN])
{
    if (!nonce || !nai || nonce_len == 0 || nai_len == 0 || nonce_len + nai_len > 1024)
        return false;
    uint8_t buf[1024];
    memcpy(buf, nonce, nonce_len);
    memcpy(buf + nonce_len, nai, nai_len);
    bool ok =
        hmac(EVP_sha1(), aaa_key, aaa_keylen, buf, nonce_len + nai_len, out, MIP_MN_HA_KEY_LEN);
    OPENSSL_cleanse(buf, nonce_len + nai_len);
    return ok;
}

void mip_put_mn_aaa_auth(struct mip_writer *w, uint32_t spi, const void *key, size_t keylen,
                         const void *challenge, size_t challen)
{
    if (challen == 0) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t *p = mip_writer_reserve(w, 8 + MIP_MD5_LEN);
    if (!p)
        return;
    p[0] = MIP_EXT_GEN_AUTH;
    p[1] = MIP_GEN_AUTH_SUBTYPE_MN_AAA;
    mip_wr16(p + 2, 4 + MIP_MD5_LEN);
    mip_wr32(p + 4, spi);
    if (!mn_aaa_compute(w->buf, (size_t)(p + 8 - w->buf), key, keylen, challenge, challen, p + 8))
        w->err = MIP_ERR_BAD_VALUE;
}

void mip_put_ro_auth(struct mip_writer *w, uint32_t vendor_id, uint32_t spi, const void *key,
                     size_t keylen)
{
    /* CVSE (RFC 3115 §3.1) whose data is SPI + HMAC-SHA-256. */
    uint8_t *p = mip_writer_reserve(w, 10 + 4 + MIP_SHA256_LEN);
    if (!p)
        return;
    p[0] = MIP_EXT_CVSE;
    p[1] = 0;
    mip_wr16(p + 2, 6 + 4 + MIP_SHA256_LEN);
    mip_wr32(p + 4, vendor_id);
    mip_wr16(p + 8, MIP_VSE_TYPE_RO_AUTH);
    mip_wr32(p + 10, spi);
    if (!hmac(EVP_sha256(), key, keylen, w->buf, (size_t)(p + 14 - w->buf), p + 14, MIP_SHA256_LEN))
        w->err = MIP_ERR_BAD_VALUE;
}

bool mip_verify_auth(const uint8_t *msg, const struct mip_auth_ext *a, enum mip_auth_alg alg,
                     const void *key, size_t keylen)
{
    uint8_t mac[MIP_SHA1_LEN];
    unsigned mlen;
    const EVP_MD *md = auth_md(alg, &mlen);
    if (!msg || !a || !a->present || a->authenticator.len != mlen)
        return false;
    if (!hmac(md, key, keylen, msg, a->covered_len, mac, mlen))
        return false;
    return CRYPTO_memcmp(mac, a->authenticator.ptr, mlen) == 0;
}

bool mip_verify_auth_hmac_md5(const uint8_t *msg, const struct mip_auth_ext *a, const void *key,
                              size_t keylen)
{
    return mip_verify_auth(msg, a, MIP_AUTH_HMAC_MD5, key, keylen);
}

bool mip_verify_mn_aaa_auth(const uint8_t *msg, const struct mip_auth_ext *a, const void *key,
                            size_t keylen, const void *challenge, size_t challen)
{
    uint8_t mac[MIP_MD5_LEN];
    if (!msg || !a || !a->present || a->authenticator.len != MIP_MD5_LEN || !challenge)
        return false;
    if (!mn_aaa_compute(msg, a->covered_len, key, keylen, challenge, challen, mac))
        return false;
    return CRYPTO_memcmp(mac, a->authenticator.ptr, MIP_MD5_LEN) == 0;
}

bool mip_verify_ro_auth(const uint8_t *msg, size_t msglen, const struct mip_exts *ext,
                        uint32_t vendor_id, const void *key, size_t keylen, uint32_t *spi)
{
    uint8_t mac[MIP_SHA256_LEN];
    if (!msg || !ext)
        return false;
    const struct mip_vse *v = NULL;
    unsigned n = ext->n_cvse < MIP_MAX_VSE ? ext->n_cvse : MIP_MAX_VSE;
    for (unsigned i = 0; i < n; i++) {
        if (ext->cvse[i].vendor_id == vendor_id &&
            ext->cvse[i].vendor_type == MIP_VSE_TYPE_RO_AUTH) {
            if (v)
                return false; /* two RO authenticators: refuse */
            v = &ext->cvse[i];
        }
    }
    if (!v || v->data.len != 4 + MIP_SHA256_LEN || !v->data.ptr)
        return false;
    /* It must lie inside msg, after the CVSE header, and end the message. */
    uintptr_t base = (uintptr_t)msg, at = (uintptr_t)v->data.ptr;
    if (at < base + 10 || at - base > msglen)
        return false;
    size_t data_off = (size_t)(at - base);
    if (data_off + v->data.len != msglen)
        return false;
    if (!hmac(EVP_sha256(), key, keylen, msg, data_off + 4, mac, MIP_SHA256_LEN))
        return false;
    if (spi)
        *spi = mip_rd32(v->data.ptr);
    return CRYPTO_memcmp(mac, v->data.ptr + 4, MIP_SHA256_LEN) == 0;
}
