/* libFuzzer target: every mipproto decoder on untrusted input, then the
 * verifiers on what decodes, plus re-encoding invariants.  Each input is fed
 * as is and again with its first octet forced to each message type so every
 * decoder sees deep inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mip_proto.h"

static const uint8_t KEY[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void check_auth(const uint8_t *buf, size_t len, const struct mip_auth_ext *a)
{
    if (!a->present)
        return;
    CHECK(a->covered_len <= len && a->offset < a->covered_len);
    CHECK(a->authenticator.ptr >= buf && a->authenticator.ptr + a->authenticator.len <= buf + len);
    (void)mip_verify_auth_hmac_md5(buf, a, KEY, sizeof(KEY));
    (void)mip_verify_auth(buf, a, MIP_AUTH_HMAC_SHA1, KEY, sizeof(KEY));
}

static void check_exts(const uint8_t *buf, size_t len, const struct mip_exts *x)
{
    CHECK(x->n_cvse <= MIP_MAX_VSE && x->n_nvse <= MIP_MAX_VSE);
    check_auth(buf, len, &x->mn_ha);
    check_auth(buf, len, &x->mn_fa);
    check_auth(buf, len, &x->fa_ha);
    if (x->mn_aaa.present) {
        CHECK(x->mn_aaa.covered_len <= len);
        static const uint8_t dflt[4] = {1, 2, 3, 4};
        if (x->has_challenge)
            (void)mip_verify_mn_aaa_auth(buf, &x->mn_aaa, KEY, sizeof(KEY), x->challenge.ptr,
                                         x->challenge.len);
        else
            (void)mip_verify_mn_aaa_auth(buf, &x->mn_aaa, KEY, sizeof(KEY), dflt, sizeof(dflt));
    }
    if (x->has_nai)
        CHECK(x->nai.ptr >= buf && x->nai.ptr + x->nai.len <= buf + len);
    if (x->keygen.present) {
        /* RFC 3957 key reply: the nonce lies inside, and derivation works on it. */
        CHECK(x->keygen.nonce.len >= 1 && x->keygen.nonce.ptr >= buf &&
              x->keygen.nonce.ptr + x->keygen.nonce.len <= buf + len);
        uint8_t k[MIP_MN_HA_KEY_LEN];
        if (x->has_nai)
            (void)mip_mn_ha_key_derive(KEY, sizeof(KEY), x->keygen.nonce.ptr, x->keygen.nonce.len,
                                       x->nai.ptr, x->nai.len, k);
    }
    for (unsigned i = 0; i < x->n_cvse; i++)
        CHECK(x->cvse[i].data.ptr >= buf && x->cvse[i].data.ptr + x->cvse[i].data.len <= buf + len);
    uint32_t spi;
    (void)mip_verify_ro_auth(buf, len, x, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), &spi);
}

static void run(const uint8_t *buf, size_t len)
{
    uint8_t out[MIP_MAX_MSG];
    struct mip_writer w;
    size_t off;

    struct mip_reg_request rq;
    if (mip_get_reg_request(buf, len, &rq, &off) == MIP_OK) {
        check_exts(buf, len, &rq.ext);
        /* Our vendor extensions (previous FA, service update): second pass. */
        if (mip_get_vendor_exts(buf, len, MIP_DEFAULT_VENDOR_ID, &rq.ext, &off) == MIP_OK &&
            rq.ext.has_service_update)
            CHECK(rq.ext.service_update == MIP_SERVICE_UPDATE_RELOAD_PROFILES);
        mip_writer_init(&w, out, sizeof(out));
        mip_put_reg_request(&w, &rq);
        /* Same fixed part, except the reserved r/x flags, which the decoder
         * ignores on reception (RFC 5944 §3.3). */
        CHECK(w.err == MIP_OK && w.len == 24 && out[0] == buf[0] &&
              out[1] == (buf[1] & (uint8_t) ~(MIP_RRQ_FLAG_R | MIP_RRQ_FLAG_X)) &&
              memcmp(out + 2, buf + 2, 22) == 0);
    } else {
        CHECK(off <= len);
    }

    struct mip_reg_reply rp;
    if (mip_get_reg_reply(buf, len, &rp, &off) == MIP_OK) {
        check_exts(buf, len, &rp.ext);
        mip_writer_init(&w, out, sizeof(out));
        mip_put_reg_reply(&w, &rp);
        CHECK(w.err == MIP_OK && w.len == 20 && memcmp(out, buf, 20) == 0);
    } else {
        CHECK(off <= len);
    }

    struct mip_experimental m;
    if (mip_get_experimental(buf, len, &m, &off) == MIP_OK) {
        check_exts(buf, len, &m.ext);
        mip_writer_init(&w, out, sizeof(out));
        mip_put_experimental(&w, &m);
        CHECK(w.err == MIP_OK && w.len == 2u + buf[1]);
        struct mip_experimental again;
        CHECK(mip_get_experimental(out, w.len, &again, NULL) == MIP_OK);
        CHECK(again.subtype == m.subtype);
    } else {
        CHECK(off <= len);
    }

    struct mip_agent_adv a;
    if (mip_get_agent_adv(buf, len, &a) == MIP_OK) {
        size_t n = mip_put_agent_adv(out, sizeof(out), &a);
        CHECK(n > 0);
        struct mip_agent_adv again;
        CHECK(mip_get_agent_adv(out, n, &again) == MIP_OK);
        CHECK(memcmp(&again, &a, sizeof(a)) == 0);
    }

    (void)mip_get_agent_solicit(buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t types[] = {1, 3, 255, 9, 10};
    run(data, size);
    if (size == 0 || size > 4 * MIP_MAX_MSG)
        return 0;
    /* exact-size heap copy so ASan flags any overread */
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    for (size_t i = 0; i < sizeof(types); i++) {
        if (data[0] == types[i])
            continue;
        memcpy(copy, data, size);
        copy[0] = types[i];
        run(copy, size);
    }
    free(copy);
    return 0;
}
