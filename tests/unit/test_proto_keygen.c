/* RFC 3957 MN-HA key generation: the reply extension, the key derivation and
 * HMAC-SHA1 authenticators for derived MN-HA security associations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mip_proto.h"

static const uint8_t aaa_key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t nonce[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Known answer computed with
 *   printf '\x00...\x0falice@home.example' |
 *     openssl dgst -sha1 -mac HMAC -macopt hexkey:00112233445566778899aabbccddeeff */
static void test_key_derivation_kat(void **st)
{
    (void)st;
    static const uint8_t want[20] = {0xf7, 0xfc, 0xcd, 0xf7, 0x13, 0x7b, 0xb3, 0x3f, 0xd1, 0xde,
                                     0x00, 0xe0, 0x6c, 0x2d, 0x52, 0xe3, 0x9d, 0xd7, 0xf8, 0xf7};
    uint8_t out[MIP_MN_HA_KEY_LEN];
    const char *nai = "alice@home.example";
    assert_true(mip_mn_ha_key_derive(aaa_key, sizeof(aaa_key), nonce, sizeof(nonce), nai,
                                     strlen(nai), out));
    assert_memory_equal(out, want, sizeof(want));
    assert_false(mip_mn_ha_key_derive(aaa_key, sizeof(aaa_key), nonce, 0, nai, strlen(nai), out));
}

static size_t reply_with_keygen(uint8_t *buf, size_t cap, const uint8_t key[20])
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_reply rp = {.code = 0, .lifetime = 60, .identification = 42};
    mip_put_reg_reply(&w, &rp);
    mip_put_nai(&w, "alice@home.example", 18);
    mip_put_mn_ha_keygen_reply(&w, 3600, 1000, 0x10001, MIP_KEYGEN_ALG_HMAC_SHA1,
                               MIP_KEYGEN_REPLAY_TIMESTAMPS, nonce, sizeof(nonce));
    mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, 0x10001, MIP_AUTH_HMAC_SHA1, key, 20);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static void test_keygen_reply_roundtrip(void **st)
{
    (void)st;
    uint8_t key[20];
    assert_true(mip_mn_ha_key_derive(aaa_key, 16, nonce, 16, "alice@home.example", 18, key));
    uint8_t buf[256];
    size_t n = reply_with_keygen(buf, sizeof(buf), key);
    /* 20 fixed + NAI 20 + keygen 4+16+16 + auth 6+20 */
    assert_int_equal(n, 20 + 20 + 36 + 26);
    assert_int_equal(buf[40], MIP_EXT_MN_HA_KEYGEN_REPLY);
    assert_int_equal(buf[41], MIP_KEYGEN_SUBTYPE_AAA);
    assert_int_equal(buf[42] << 8 | buf[43], 32);
    struct mip_reg_reply rp;
    size_t off;
    assert_int_equal(mip_get_reg_reply(buf, n, &rp, &off), MIP_OK);
    assert_true(rp.ext.keygen.present);
    assert_int_equal(rp.ext.keygen.lifetime, 3600);
    assert_int_equal(rp.ext.keygen.aaa_spi, 1000);
    assert_int_equal(rp.ext.keygen.ha_spi, 0x10001);
    assert_int_equal(rp.ext.keygen.alg, 2);
    assert_int_equal(rp.ext.keygen.replay, 2);
    assert_int_equal(rp.ext.keygen.nonce.len, 16);
    assert_memory_equal(rp.ext.keygen.nonce.ptr, nonce, 16);
    /* The MN derives the key from the nonce and checks the reply with it. */
    uint8_t k2[20];
    assert_true(mip_mn_ha_key_derive(aaa_key, 16, rp.ext.keygen.nonce.ptr, rp.ext.keygen.nonce.len,
                                     rp.ext.nai.ptr, rp.ext.nai.len, k2));
    assert_int_equal(rp.ext.mn_ha.authenticator.len, 20);
    assert_true(mip_verify_auth(buf, &rp.ext.mn_ha, MIP_AUTH_HMAC_SHA1, k2, 20));
    assert_false(mip_verify_auth(buf, &rp.ext.mn_ha, MIP_AUTH_HMAC_MD5, k2, 20));
    /* The authenticator covers the key extension. */
    buf[60] ^= 1;
    assert_int_equal(mip_get_reg_reply(buf, n, &rp, &off), MIP_OK);
    assert_false(mip_verify_auth(buf, &rp.ext.mn_ha, MIP_AUTH_HMAC_SHA1, k2, 20));
}

static void test_keygen_malformed(void **st)
{
    (void)st;
    uint8_t key[20] = {0};
    uint8_t buf[256];
    struct mip_reg_reply rp;
    size_t off;
    size_t n = reply_with_keygen(buf, sizeof(buf), key);
    /* another subtype: not ours, critical */
    buf[41] = 2;
    assert_int_equal(mip_get_reg_reply(buf, n, &rp, &off), MIP_ERR_UNKNOWN_CRITICAL_EXT);
    assert_int_equal(off, 40);
    buf[41] = 1;
    /* Length without a nonce octet */
    uint8_t s[128];
    memcpy(s, buf, 40);
    uint8_t ext[] = {43, 1, 0, 16, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 2, 0, 2};
    memcpy(s + 40, ext, sizeof(ext));
    assert_int_equal(mip_get_reg_reply(s, 40 + sizeof(ext), &rp, &off), MIP_ERR_BAD_LENGTH);
    /* Length beyond the buffer */
    s[43] = 40;
    assert_int_equal(mip_get_reg_reply(s, 40 + sizeof(ext), &rp, &off), MIP_ERR_TRUNCATED);
    /* twice */
    struct mip_writer w;
    mip_writer_init(&w, s, sizeof(s));
    struct mip_reg_reply r0 = {.code = 0};
    mip_put_reg_reply(&w, &r0);
    mip_put_mn_ha_keygen_reply(&w, 1, 1, 1, 2, 2, nonce, 4);
    mip_put_mn_ha_keygen_reply(&w, 1, 1, 1, 2, 2, nonce, 4);
    assert_int_equal(w.err, MIP_OK);
    assert_int_equal(mip_get_reg_reply(s, w.len, &rp, &off), MIP_ERR_DUPLICATE_EXT);
    /* encoder refuses an empty nonce */
    mip_writer_init(&w, s, sizeof(s));
    mip_put_mn_ha_keygen_reply(&w, 1, 1, 1, 2, 2, nonce, 0);
    assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
}

static void test_keygen_request_ext(void **st)
{
    (void)st;
    uint8_t buf[64];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_request rq = {.lifetime = 60};
    mip_put_reg_request(&w, &rq);
    uint8_t ext[] = {42, 1, 0, 4, 0, 0, 1, 0};
    mip_put_bytes(&w, ext, sizeof(ext));
    struct mip_reg_request d;
    size_t off;
    assert_int_equal(mip_get_reg_request(buf, w.len, &d, &off), MIP_OK);
    assert_true(d.ext.has_keygen_request);
    buf[25] = 7;
    assert_int_equal(mip_get_reg_request(buf, w.len, &d, &off), MIP_ERR_UNKNOWN_CRITICAL_EXT);
}

static void test_ba_status_names(void **st)
{
    (void)st;
    assert_string_equal(mip_ba_status_str(MIP_BA_ACCEPTED), "binding update accepted");
    assert_string_equal(mip_ba_status_str(MIP_BA_AUTH_FAILED),
                        "sending node failed authentication");
    assert_string_equal(mip_ba_status_str(MIP_BA_ID_MISMATCH), "identification mismatch");
    assert_string_equal(mip_ba_status_str(MIP_BA_UNKNOWN_PEER), "unknown peer");
    assert_string_equal(mip_ba_status_str(77), "unknown status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_derivation_kat), cmocka_unit_test(test_keygen_reply_roundtrip),
        cmocka_unit_test(test_keygen_malformed),   cmocka_unit_test(test_keygen_request_ext),
        cmocka_unit_test(test_ba_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
