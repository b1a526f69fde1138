/* Unit tests of the Mobile IPv4 codec: registration and experimental messages,
 * extensions, malformed input, authenticators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mip_proto.h"

static const uint8_t KEY[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t FAKEY[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t AAAKEY[6] = {'s', 'e', 'c', 'r', 'e', 't'};
static const uint8_t CHAL[8] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
static const char NAI[] = "mn1@example.org";

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static struct mip_reg_request base_rrq(void)
{
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T | MIP_RRQ_FLAG_S;
    rq.lifetime = 300;
    rq.home_addr = ip("10.1.0.5");
    rq.home_agent = ip("10.1.0.1");
    rq.care_of_addr = ip("192.0.2.1");
    rq.identification = 0x0102030405060708ull;
    return rq;
}

/* Fixed part of a request followed by raw extension octets. */
static size_t rrq_with(uint8_t *buf, size_t cap, const uint8_t *ext, size_t extlen)
{
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq();
    mip_writer_init(&w, buf, cap);
    mip_put_reg_request(&w, &rq);
    mip_put_bytes(&w, ext, extlen);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static enum mip_err decode_rrq_ext(const uint8_t *ext, size_t extlen, size_t *off)
{
    uint8_t buf[512];
    struct mip_reg_request rq;
    size_t n = rrq_with(buf, sizeof(buf), ext, extlen);
    *off = (size_t)-1;
    return mip_get_reg_request(buf, n, &rq, off);
}

/* ---- round trips ------------------------------------------------------- */

/* Full request as an MN behind an FA would send it and the FA forward it:
 * NAI, encap delivery, NVSE, CVSE, MN-HA, challenge, MN-AAA, FA-HA. */
static size_t full_rrq(uint8_t *buf, size_t cap, size_t *bounds, size_t *nb)
{
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq();
    size_t k = 0;
    mip_writer_init(&w, buf, cap);
    mip_put_reg_request(&w, &rq);
    bounds[k++] = w.len;
    mip_put_nai(&w, NAI, strlen(NAI));
    bounds[k++] = w.len;
    mip_put_encap_delivery(&w);
    bounds[k++] = w.len;
    mip_put_nvse(&w, MIP_DEFAULT_VENDOR_ID, 7, "\x01\x02", 2);
    bounds[k++] = w.len;
    mip_put_cvse(&w, MIP_DEFAULT_VENDOR_ID, 9, "abc", 3);
    bounds[k++] = w.len;
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 256, KEY, sizeof(KEY));
    bounds[k++] = w.len;
    mip_put_challenge(&w, CHAL, sizeof(CHAL));
    bounds[k++] = w.len;
    mip_put_mn_aaa_auth(&w, 3, AAAKEY, sizeof(AAAKEY), CHAL, sizeof(CHAL));
    bounds[k++] = w.len;
    mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, 300, FAKEY, sizeof(FAKEY));
    bounds[k++] = w.len;
    assert_int_equal(w.err, MIP_OK);
    *nb = k;
    return w.len;
}

static void test_rrq_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t bounds[16], nb, off = 99;
    size_t n = full_rrq(buf, sizeof(buf), bounds, &nb);
    struct mip_reg_request rq;
    assert_int_equal(mip_get_reg_request(buf, n, &rq, &off), MIP_OK);
    struct mip_reg_request want = base_rrq();
    assert_int_equal(rq.flags, want.flags);
    assert_int_equal(rq.lifetime, 300);
    assert_int_equal(rq.home_addr.s_addr, want.home_addr.s_addr);
    assert_int_equal(rq.home_agent.s_addr, want.home_agent.s_addr);
    assert_int_equal(rq.care_of_addr.s_addr, want.care_of_addr.s_addr);
    assert_true(rq.identification == want.identification);
    assert_true(rq.ext.has_nai);
    assert_int_equal(rq.ext.nai.len, strlen(NAI));
    assert_memory_equal(rq.ext.nai.ptr, NAI, strlen(NAI));
    assert_true(rq.ext.encap_delivery);
    assert_int_equal(rq.ext.n_nvse, 1);
    assert_int_equal(rq.ext.nvse[0].vendor_id, MIP_DEFAULT_VENDOR_ID);
    assert_int_equal(rq.ext.nvse[0].vendor_type, 7);
    assert_int_equal(rq.ext.nvse[0].data.len, 2);
    assert_memory_equal(rq.ext.nvse[0].data.ptr, "\x01\x02", 2);
    assert_int_equal(rq.ext.n_cvse, 1);
    assert_int_equal(rq.ext.cvse[0].vendor_type, 9);
    assert_int_equal(rq.ext.cvse[0].data.len, 3);
    assert_memory_equal(rq.ext.cvse[0].data.ptr, "abc", 3);
    assert_true(rq.ext.has_challenge);
    assert_memory_equal(rq.ext.challenge.ptr, CHAL, sizeof(CHAL));
    assert_int_equal(rq.ext.n_skipped, 0);

    assert_true(rq.ext.mn_ha.present);
    assert_int_equal(rq.ext.mn_ha.spi, 256);
    assert_int_equal(rq.ext.mn_ha.offset, bounds[4]);
    assert_int_equal(rq.ext.mn_ha.covered_len, bounds[4] + 6);
    assert_int_equal(rq.ext.mn_ha.authenticator.len, 16);
    assert_true(rq.ext.mn_aaa.present);
    assert_int_equal(rq.ext.mn_aaa.subtype, MIP_GEN_AUTH_SUBTYPE_MN_AAA);
    assert_int_equal(rq.ext.mn_aaa.spi, 3);
    assert_int_equal(rq.ext.mn_aaa.covered_len, bounds[6] + 8);
    assert_true(rq.ext.fa_ha.present);
    assert_int_equal(rq.ext.fa_ha.spi, 300);
    assert_false(rq.ext.mn_fa.present);

    assert_true(mip_verify_auth_hmac_md5(buf, &rq.ext.mn_ha, KEY, sizeof(KEY)));
    assert_true(mip_verify_auth_hmac_md5(buf, &rq.ext.fa_ha, FAKEY, sizeof(FAKEY)));
    assert_true(mip_verify_mn_aaa_auth(buf, &rq.ext.mn_aaa, AAAKEY, sizeof(AAAKEY),
                                       rq.ext.challenge.ptr, rq.ext.challenge.len));
}

static void test_rrp_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct mip_writer w;
    struct mip_reg_reply rp = {0}, got;
    rp.code = MIP_CODE_HA_ID_MISMATCH;
    rp.lifetime = 0;
    rp.home_addr = ip("10.1.0.5");
    rp.home_agent = ip("10.1.0.1");
    rp.identification = 0xdeadbeef00c0ffeeull;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_reply(&w, &rp);
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 1000, KEY, sizeof(KEY));
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_FA_AUTH, 1001, FAKEY, sizeof(FAKEY));
    assert_int_equal(w.err, MIP_OK);
    assert_int_equal(w.len, 20 + 22 + 22);
    assert_int_equal(buf[0], 3);
    assert_int_equal(mip_get_reg_reply(buf, w.len, &got, NULL), MIP_OK);
    assert_int_equal(got.code, MIP_CODE_HA_ID_MISMATCH);
    assert_int_equal(got.lifetime, 0);
    assert_int_equal(got.home_addr.s_addr, rp.home_addr.s_addr);
    assert_int_equal(got.home_agent.s_addr, rp.home_agent.s_addr);
    assert_true(got.identification == rp.identification);
    assert_true(got.ext.mn_ha.present && got.ext.mn_fa.present);
    assert_int_equal(got.ext.mn_fa.covered_len, 42 + 6);
    assert_true(mip_verify_auth_hmac_md5(buf, &got.ext.mn_ha, KEY, sizeof(KEY)));
    assert_true(mip_verify_auth_hmac_md5(buf, &got.ext.mn_fa, FAKEY, sizeof(FAKEY)));
    assert_false(mip_verify_auth_hmac_md5(buf, &got.ext.mn_fa, KEY, sizeof(KEY)));
    /* A request decoder refuses a reply and vice versa. */
    struct mip_reg_request rq;
    size_t off = 99;
    assert_int_equal(mip_get_reg_request(buf, w.len, &rq, &off), MIP_ERR_BAD_TYPE);
    assert_int_equal(off, 0);
}

static void test_fixed_layout(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq();
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    static const uint8_t want[24] = {1,   0x82, 0x01, 0x2c, 10, 1, 0, 5, 10, 1, 0, 1,
                                     192, 0,    2,    1,    1,  2, 3, 4, 5,  6, 7, 8};
    assert_int_equal(w.len, 24);
    assert_memory_equal(buf, want, 24);
}

static struct mip_experimental exp_msg(uint8_t subtype)
{
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = subtype;
    switch (subtype) {
    case MIP_EXP_BINDING_UPDATE:
        m.u.bu.flags = MIP_BU_FLAG_A | MIP_BU_FLAG_I;
        m.u.bu.lifetime = 600;
        m.u.bu.home_addr = ip("10.1.0.5");
        m.u.bu.care_of_addr = ip("192.0.2.7");
        m.u.bu.identification = 0x1122334455667788ull;
        break;
    case MIP_EXP_BINDING_ACK:
        m.u.ba.status = 133;
        m.u.ba.lifetime = 60;
        m.u.ba.home_addr = ip("10.1.0.5");
        m.u.ba.identification = 0x8877665544332211ull;
        break;
    case MIP_EXP_BINDING_REQUEST:
        m.u.br.home_addr = ip("10.1.0.6");
        m.u.br.identification = 42;
        break;
    default:
        m.u.bw.home_addr = ip("10.1.0.7");
        m.u.bw.target_node = ip("198.51.100.9");
        break;
    }
    return m;
}

static void test_experimental_roundtrip(void **state)
{
    (void)state;
    static const struct {
        uint8_t subtype, len;
    } cases[] = {{MIP_EXP_BINDING_UPDATE, 21},
                 {MIP_EXP_BINDING_ACK, 17},
                 {MIP_EXP_BINDING_REQUEST, 14},
                 {MIP_EXP_BINDING_WARNING, 10}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[256];
        struct mip_writer w;
        struct mip_experimental m = exp_msg(cases[i].subtype), got;
        mip_writer_init(&w, buf, sizeof(buf));
        mip_put_experimental(&w, &m);
        assert_int_equal(w.len, 2 + cases[i].len);
        assert_int_equal(buf[0], 255);
        assert_int_equal(buf[1], cases[i].len);
        assert_int_equal(buf[2], cases[i].subtype);
        mip_put_cvse(&w, MIP_DEFAULT_VENDOR_ID, 2, "vpninfo", 7);
        mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, 0x1234, KEY, sizeof(KEY));
        assert_int_equal(w.err, MIP_OK);
        assert_int_equal(mip_get_experimental(buf, w.len, &got, NULL), MIP_OK);
        assert_int_equal(got.subtype, cases[i].subtype);
        assert_memory_equal(&got.u, &m.u, sizeof(m.u));
        assert_int_equal(got.ext.n_cvse, 2);
        uint32_t spi = 0;
        assert_true(mip_verify_ro_auth(buf, w.len, &got.ext, MIP_DEFAULT_VENDOR_ID, KEY,
                                       sizeof(KEY), &spi));
        assert_int_equal(spi, 0x1234);
    }
}

/* ---- truncation at every length ---------------------------------------- */

static bool is_bound(size_t l, const size_t *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++)
        if (b[i] == l)
            return true;
    return false;
}

static void test_rrq_truncations(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t bounds[16], nb;
    size_t n = full_rrq(buf, sizeof(buf), bounds, &nb);
    for (size_t l = 0; l < n; l++) {
        uint8_t copy[512];
        struct mip_reg_request rq;
        size_t off = 999;
        memcpy(copy, buf, l); /* exact-size copy so ASan catches overreads */
        uint8_t *heap = l ? test_malloc(l) : NULL;
        if (l)
            memcpy(heap, copy, l);
        enum mip_err e = mip_get_reg_request(heap ? heap : copy, l, &rq, &off);
        if (is_bound(l, bounds, nb)) {
            assert_int_equal(e, MIP_OK);
        } else {
            assert_int_equal(e, MIP_ERR_TRUNCATED);
            if (l >= 24) {
                /* points at the start of the extension that is cut */
                size_t start = 0;
                for (size_t i = 0; i < nb && bounds[i] < l; i++)
                    start = bounds[i];
                assert_int_equal(off, start);
            }
        }
        if (heap)
            test_free(heap);
    }
}

static void test_exp_and_rrp_truncations(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct mip_writer w;
    struct mip_experimental m = exp_msg(MIP_EXP_BINDING_UPDATE), gm;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    size_t b1 = w.len;
    mip_put_cvse(&w, MIP_DEFAULT_VENDOR_ID, 2, "x", 1);
    size_t b2 = w.len;
    mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, 0x1234, KEY, sizeof(KEY));
    for (size_t l = 0; l < w.len; l++) {
        uint8_t *h = test_malloc(l + 1);
        memcpy(h, buf, l);
        enum mip_err e = mip_get_experimental(h, l, &gm, NULL);
        if (l == b1 || l == b2)
            assert_int_equal(e, MIP_OK);
        else
            assert_int_equal(e, MIP_ERR_TRUNCATED);
        test_free(h);
    }

    struct mip_reg_reply rp = {0}, gp;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_reply(&w, &rp);
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 1000, KEY, sizeof(KEY));
    for (size_t l = 0; l < w.len; l++) {
        uint8_t *h = test_malloc(l + 1);
        memcpy(h, buf, l);
        enum mip_err e = mip_get_reg_reply(h, l, &gp, NULL);
        assert_int_equal(e, l == 20 ? MIP_OK : MIP_ERR_TRUNCATED);
        test_free(h);
    }
}

/* ---- malformed extensions ---------------------------------------------- */

static void test_bad_ext_lengths(void **state)
{
    (void)state;
    size_t off;
    static const struct {
        uint8_t ext[16];
        size_t len;
        enum mip_err want;
    } cases[] = {
        /* auth with Length < 4 (no room for the SPI) */
        {{32, 3, 0, 0, 1}, 5, MIP_ERR_BAD_LENGTH},
        {{33, 0}, 2, MIP_ERR_BAD_LENGTH},
        {{34, 2, 0, 0}, 4, MIP_ERR_BAD_LENGTH},
        /* encapsulating delivery must have Length 0 */
        {{130, 1, 0}, 3, MIP_ERR_BAD_LENGTH},
        /* challenge shorter than 4 */
        {{132, 3, 1, 2, 3}, 5, MIP_ERR_BAD_LENGTH},
        /* empty NAI */
        {{131, 0}, 2, MIP_ERR_BAD_LENGTH},
        /* NVSE shorter than Reserved + Vendor-ID + type */
        {{134, 7, 0, 0, 0, 0, 0x7e, 0xd9, 0}, 9, MIP_ERR_BAD_LENGTH},
        /* CVSE shorter than Vendor-ID + type */
        {{38, 0, 0, 5, 0, 0, 0x7e, 0xd9, 0}, 9, MIP_ERR_BAD_LENGTH},
        /* generalized auth shorter than the SPI */
        {{36, 1, 0, 3, 0, 0, 0}, 7, MIP_ERR_BAD_LENGTH},
        /* lengths overrunning the message */
        {{131, 5, 'a', 'b'}, 4, MIP_ERR_TRUNCATED},
        {{38, 0, 0x01, 0x00, 0, 0, 0x7e, 0xd9, 0, 1}, 10, MIP_ERR_TRUNCATED},
        {{36, 1, 0xff, 0xff, 0, 0, 1, 0}, 8, MIP_ERR_TRUNCATED},
        {{200, 10, 0}, 3, MIP_ERR_TRUNCATED},
        /* a lone type octet */
        {{131}, 1, MIP_ERR_TRUNCATED},
        {{38, 0, 0}, 3, MIP_ERR_TRUNCATED},
        /* an extension overrunning into the next one and past the end */
        {{131, 5, 'a', 'b', 130, 0}, 6, MIP_ERR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum mip_err e = decode_rrq_ext(cases[i].ext, cases[i].len, &off);
        if (e != cases[i].want)
            fail_msg("case %zu: got %s want %s", i, mip_err_str(e), mip_err_str(cases[i].want));
        assert_int_equal(off, 24);
    }
}

static void test_overlapping_ext_hides_auth(void **state)
{
    (void)state;
    /* An NAI whose Length swallows the following MN-HA authenticator exactly:
     * the message is well formed but carries no MN-HA authenticator. */
    uint8_t ext[2 + 22];
    ext[0] = 131;
    ext[1] = 22;
    ext[2] = 32;
    ext[3] = 20;
    memset(ext + 4, 0x55, 20);
    uint8_t buf[128];
    struct mip_reg_request rq;
    size_t n = rrq_with(buf, sizeof(buf), ext, sizeof(ext));
    assert_int_equal(mip_get_reg_request(buf, n, &rq, NULL), MIP_OK);
    assert_false(rq.ext.mn_ha.present);
    assert_false(mip_verify_auth_hmac_md5(buf, &rq.ext.mn_ha, KEY, sizeof(KEY)));
}

static void test_unknown_ext_types(void **state)
{
    (void)state;
    for (unsigned t = 0; t < 256; t++) {
        bool known = t == 32 || t == 33 || t == 34 || t == 36 || t == 38 || t == 42 || t == 43 ||
                     t == 130 || t == 131 || t == 132 || t == 134;
        if (known)
            continue;
        /* a harmless NAI first so the unknown one is not at the start */
        uint8_t ext[] = {131, 1, 'x', (uint8_t)t, 2, 0xaa, 0xbb};
        uint8_t buf[64];
        struct mip_reg_request rq;
        size_t off = 0;
        size_t n = rrq_with(buf, sizeof(buf), ext, sizeof(ext));
        enum mip_err e = mip_get_reg_request(buf, n, &rq, &off);
        if (t < 128) {
            assert_int_equal(e, MIP_ERR_UNKNOWN_CRITICAL_EXT);
            assert_int_equal(off, 27);
        } else {
            assert_int_equal(e, MIP_OK);
            assert_int_equal(rq.ext.n_skipped, 1);
            assert_true(rq.ext.has_nai);
        }
    }
    /* generalized authentication with an undefined subtype */
    uint8_t ga[] = {36, 2, 0, 4, 0, 0, 1, 0};
    size_t off;
    assert_int_equal(decode_rrq_ext(ga, sizeof(ga), &off), MIP_ERR_UNKNOWN_CRITICAL_EXT);
    assert_int_equal(off, 24);
    /* an unknown critical type in an experimental message too */
    uint8_t buf[64];
    struct mip_writer w;
    struct mip_experimental m = exp_msg(MIP_EXP_BINDING_WARNING), gm;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    mip_put_bytes(&w, "\x60\x00", 2);
    assert_int_equal(mip_get_experimental(buf, w.len, &gm, &off), MIP_ERR_UNKNOWN_CRITICAL_EXT);
    assert_int_equal(off, 12);
}

static void test_duplicate_and_order(void **state)
{
    (void)state;
    uint8_t a1[22] = {32, 20, 0, 0, 1, 0};
    uint8_t dup_mnha[44], dup_mnfa[44], dup_aaa[48], ext[128];
    size_t off;
    memcpy(dup_mnha, a1, 22);
    memcpy(dup_mnha + 22, a1, 22);
    assert_int_equal(decode_rrq_ext(dup_mnha, 44, &off), MIP_ERR_DUPLICATE_EXT);
    assert_int_equal(off, 24 + 22);

    memcpy(dup_mnfa, a1, 22);
    dup_mnfa[0] = 33;
    memcpy(dup_mnfa + 22, dup_mnfa, 22);
    assert_int_equal(decode_rrq_ext(dup_mnfa, 44, &off), MIP_ERR_DUPLICATE_EXT);

    uint8_t aaa[24] = {36, 1, 0, 20, 0, 0, 0, 3};
    memcpy(dup_aaa, aaa, 24);
    memcpy(dup_aaa + 24, aaa, 24);
    assert_int_equal(decode_rrq_ext(dup_aaa, 48, &off), MIP_ERR_DUPLICATE_EXT);
    assert_int_equal(off, 48);

    /* duplicate NAI, challenge, encapsulating delivery */
    uint8_t dn[] = {131, 1, 'a', 131, 1, 'b'};
    assert_int_equal(decode_rrq_ext(dn, sizeof(dn), &off), MIP_ERR_DUPLICATE_EXT);
    uint8_t dc[] = {132, 4, 1, 2, 3, 4, 132, 4, 1, 2, 3, 4};
    assert_int_equal(decode_rrq_ext(dc, sizeof(dc), &off), MIP_ERR_DUPLICATE_EXT);
    uint8_t de[] = {130, 0, 130, 0};
    assert_int_equal(decode_rrq_ext(de, sizeof(de), &off), MIP_ERR_DUPLICATE_EXT);
    assert_int_equal(off, 26);

    /* MN-HA after MN-FA */
    memcpy(ext, dup_mnfa, 22);
    memcpy(ext + 22, a1, 22);
    assert_int_equal(decode_rrq_ext(ext, 44, &off), MIP_ERR_EXT_ORDER);
    assert_int_equal(off, 46);
    /* MN-HA after MN-AAA */
    memcpy(ext, aaa, 24);
    memcpy(ext + 24, a1, 22);
    assert_int_equal(decode_rrq_ext(ext, 46, &off), MIP_ERR_EXT_ORDER);
    /* a non-authentication extension after MN-FA */
    memcpy(ext, dup_mnfa, 22);
    memcpy(ext + 22, "\x83\x01z", 3);
    assert_int_equal(decode_rrq_ext(ext, 25, &off), MIP_ERR_EXT_ORDER);
    /* anything after FA-HA, even a skippable extension or another FA-HA */
    memcpy(ext, a1, 22);
    ext[0] = 34;
    memcpy(ext + 22, "\xc8\x00", 2);
    assert_int_equal(decode_rrq_ext(ext, 24, &off), MIP_ERR_EXT_ORDER);
    assert_int_equal(off, 46);
    memcpy(ext + 22, ext, 22);
    assert_int_equal(decode_rrq_ext(ext, 44, &off), MIP_ERR_EXT_ORDER);
    /* allowed: MN-HA, challenge, NAI, MN-FA, FA-HA */
    size_t k = 0;
    memcpy(ext + k, a1, 22);
    k += 22;
    memcpy(ext + k, "\x84\x04\x01\x02\x03\x04\x83\x01z", 9);
    k += 9;
    memcpy(ext + k, a1, 22);
    ext[k] = 33;
    k += 22;
    memcpy(ext + k, a1, 22);
    ext[k] = 34;
    k += 22;
    assert_int_equal(decode_rrq_ext(ext, k, &off), MIP_OK);
}

static void test_reserved_bits(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq(), got;
    size_t off;
    /* RFC 5944 §3.3: r and x are ignored on reception, not rejected. */
    uint8_t reserved[] = {MIP_RRQ_FLAG_R, MIP_RRQ_FLAG_X, 0xff};
    for (size_t i = 0; i < sizeof(reserved); i++) {
        rq.flags = reserved[i];
        mip_writer_init(&w, buf, sizeof(buf));
        mip_put_reg_request(&w, &rq);
        assert_int_equal(mip_get_reg_request(buf, w.len, &got, NULL), MIP_OK);
        assert_int_equal(got.flags, reserved[i] & (uint8_t) ~(MIP_RRQ_FLAG_R | MIP_RRQ_FLAG_X));
    }
    rq.flags = 0xff & ~(MIP_RRQ_FLAG_R | MIP_RRQ_FLAG_X);
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    assert_int_equal(mip_get_reg_request(buf, w.len, &got, NULL), MIP_OK);
    assert_int_equal(got.flags, 0xfa);

    /* reserved low nibble of the BU flags */
    struct mip_experimental m = exp_msg(MIP_EXP_BINDING_UPDATE), gm;
    m.u.bu.flags = 0x81;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    assert_int_equal(mip_get_experimental(buf, w.len, &gm, &off), MIP_ERR_RESERVED_BITS);
    assert_int_equal(off, 3);
}

static void test_experimental_malformed(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct mip_writer w;
    struct mip_experimental m = exp_msg(MIP_EXP_BINDING_ACK), gm;
    size_t off;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    size_t n = w.len;
    /* Length one off either way */
    buf[1] = 16;
    assert_int_equal(mip_get_experimental(buf, n, &gm, &off), MIP_ERR_BAD_LENGTH);
    assert_int_equal(off, 1);
    buf[1] = 18;
    assert_int_equal(mip_get_experimental(buf, n, &gm, &off), MIP_ERR_BAD_LENGTH);
    buf[1] = 21; /* the BU length on a BA */
    assert_int_equal(mip_get_experimental(buf, n, &gm, &off), MIP_ERR_BAD_LENGTH);
    buf[1] = 17;
    /* unknown subtypes */
    uint8_t subs[] = {0, 15, 20, 255};
    for (size_t i = 0; i < sizeof(subs); i++) {
        buf[2] = subs[i];
        assert_int_equal(mip_get_experimental(buf, n, &gm, &off), MIP_ERR_BAD_TYPE);
        assert_int_equal(off, 2);
    }
    buf[2] = MIP_EXP_BINDING_ACK;
    assert_int_equal(mip_get_experimental(buf, n, &gm, &off), MIP_OK);
    /* wrong message type for each decoder */
    struct mip_reg_request rq;
    struct mip_reg_reply rp;
    assert_int_equal(mip_get_reg_request(buf, n, &rq, NULL), MIP_ERR_BAD_TYPE);
    assert_int_equal(mip_get_reg_reply(buf, n, &rp, NULL), MIP_ERR_BAD_TYPE);
    buf[0] = 1;
    assert_int_equal(mip_get_experimental(buf, n, &gm, NULL), MIP_ERR_BAD_TYPE);
    /* encoder refuses an unknown subtype */
    m.subtype = 20;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
    assert_int_equal(w.len, 0);
}

static void test_too_many_vse(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq(), got;
    size_t off;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    for (int i = 0; i < MIP_MAX_VSE; i++)
        mip_put_cvse(&w, 1, (uint16_t)i, NULL, 0);
    assert_int_equal(mip_get_reg_request(buf, w.len, &got, NULL), MIP_OK);
    assert_int_equal(got.ext.n_cvse, MIP_MAX_VSE);
    size_t at = w.len;
    mip_put_cvse(&w, 1, 99, NULL, 0);
    assert_int_equal(mip_get_reg_request(buf, w.len, &got, &off), MIP_ERR_BAD_LENGTH);
    assert_int_equal(off, at);

    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    for (int i = 0; i <= MIP_MAX_VSE; i++)
        mip_put_nvse(&w, 1, (uint16_t)i, "z", 1);
    assert_int_equal(mip_get_reg_request(buf, w.len, &got, &off), MIP_ERR_BAD_LENGTH);
}

/* ---- writer ------------------------------------------------------------ */

static void test_writer_nospace(void **state)
{
    (void)state;
    uint8_t buf[30];
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq();
    mip_writer_init(&w, buf, 23);
    mip_put_reg_request(&w, &rq);
    assert_int_equal(w.err, MIP_ERR_NOSPACE);
    assert_int_equal(w.len, 0);

    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 256, KEY, sizeof(KEY));
    assert_int_equal(w.err, MIP_ERR_NOSPACE);
    assert_int_equal(w.len, 24);
    mip_put_encap_delivery(&w); /* latched: nothing more is written */
    assert_int_equal(w.len, 24);
    assert_int_equal(w.err, MIP_ERR_NOSPACE);

    uint8_t big[300];
    memset(big, 'a', sizeof(big));
    mip_writer_init(&w, big, sizeof(big));
    mip_put_nai(&w, big, 256);
    assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_auth_hmac_md5(&w, 35, 256, KEY, sizeof(KEY));
    assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
}

/* ---- authenticators ---------------------------------------------------- */

static void test_auth_tamper(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t bounds[16], nb;
    size_t n = full_rrq(buf, sizeof(buf), bounds, &nb);
    struct mip_reg_request rq;
    assert_int_equal(mip_get_reg_request(buf, n, &rq, NULL), MIP_OK);
    uint8_t badkey[16];
    memcpy(badkey, KEY, 16);
    badkey[15] ^= 1;
    assert_false(mip_verify_auth_hmac_md5(buf, &rq.ext.mn_ha, badkey, 16));
    assert_false(mip_verify_auth_hmac_md5(buf, &rq.ext.mn_ha, KEY, 15));
    assert_false(mip_verify_mn_aaa_auth(buf, &rq.ext.mn_aaa, AAAKEY, 5, CHAL, sizeof(CHAL)));
    uint8_t chal2[8];
    memcpy(chal2, CHAL, 8);
    chal2[0] ^= 0x80;
    assert_false(mip_verify_mn_aaa_auth(buf, &rq.ext.mn_aaa, AAAKEY, sizeof(AAAKEY), chal2, 8));
    chal2[0] ^= 0x80;
    chal2[7] ^= 0x01;
    assert_false(mip_verify_mn_aaa_auth(buf, &rq.ext.mn_aaa, AAAKEY, sizeof(AAAKEY), chal2, 8));

    /* flipping any bit of the message breaks every authenticator covering it */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            uint8_t c[512];
            memcpy(c, buf, n);
            c[i] ^= (uint8_t)(1u << bit);
            struct mip_reg_request t;
            if (mip_get_reg_request(c, n, &t, NULL) != MIP_OK)
                continue; /* structure broken: rejected anyway */
            bool mnha =
                t.ext.mn_ha.present && mip_verify_auth_hmac_md5(c, &t.ext.mn_ha, KEY, sizeof(KEY));
            bool faha = t.ext.fa_ha.present &&
                        mip_verify_auth_hmac_md5(c, &t.ext.fa_ha, FAKEY, sizeof(FAKEY));
            bool aaa = t.ext.mn_aaa.present && t.ext.has_challenge &&
                       mip_verify_mn_aaa_auth(c, &t.ext.mn_aaa, AAAKEY, sizeof(AAAKEY),
                                              t.ext.challenge.ptr, t.ext.challenge.len);
            if (i < rq.ext.mn_ha.offset + 22)
                assert_false(mnha);
            else
                assert_true(mnha);
            if (i < rq.ext.mn_aaa.offset + 24)
                assert_false(aaa);
            assert_false(faha); /* FA-HA covers everything */
        }
    }
    /* an authenticator of the wrong size never verifies */
    struct mip_auth_ext a = rq.ext.mn_ha;
    a.authenticator.len = 15;
    assert_false(mip_verify_auth_hmac_md5(buf, &a, KEY, sizeof(KEY)));
    a.present = false;
    a.authenticator.len = 16;
    assert_false(mip_verify_auth_hmac_md5(buf, &a, KEY, sizeof(KEY)));
}

/* Independent computations with OpenSSL of what the RFCs specify. */
static void test_auth_known_construction(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t bounds[16], nb;
    size_t n = full_rrq(buf, sizeof(buf), bounds, &nb);
    struct mip_reg_request rq;
    assert_int_equal(mip_get_reg_request(buf, n, &rq, NULL), MIP_OK);

    /* RFC 5944 §3.5.1: HMAC-MD5 over message through the SPI. */
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    size_t cov = rq.ext.mn_ha.offset + 6;
    HMAC(EVP_md5(), KEY, sizeof(KEY), buf, cov, mac, &ml);
    assert_int_equal(ml, 16);
    assert_memory_equal(mac, buf + cov, 16);

    /* RFC 3012 §8: MD5(chal[0] | key | MD5(preceding | 36,1,len,SPI) | chal). */
    uint8_t inner[16], outer[16];
    unsigned il = 0;
    size_t acov = rq.ext.mn_aaa.offset + 8;
    EVP_Digest(buf, acov, inner, &il, EVP_md5(), NULL);
    uint8_t cat[1 + sizeof(AAAKEY) + 16 + sizeof(CHAL)];
    cat[0] = CHAL[0];
    memcpy(cat + 1, AAAKEY, sizeof(AAAKEY));
    memcpy(cat + 1 + sizeof(AAAKEY), inner, 16);
    memcpy(cat + 1 + sizeof(AAAKEY) + 16, CHAL, sizeof(CHAL));
    EVP_Digest(cat, sizeof(cat), outer, &il, EVP_md5(), NULL);
    assert_memory_equal(outer, buf + acov, 16);
}

static void test_mn_aaa_long_challenge(void **state)
{
    (void)state;
    /* A challenge longer than 238 octets: only its last 237 follow the hash. */
    uint8_t chal[250], buf[600], cat[1 + 6 + 16 + 237], inner[16], outer[16];
    unsigned il;
    for (size_t i = 0; i < sizeof(chal); i++)
        chal[i] = (uint8_t)(i * 7 + 1);
    struct mip_writer w;
    struct mip_reg_request rq = base_rrq(), got;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    mip_put_challenge(&w, chal, sizeof(chal));
    mip_put_mn_aaa_auth(&w, 2, AAAKEY, sizeof(AAAKEY), chal, sizeof(chal));
    assert_int_equal(w.err, MIP_OK);
    assert_int_equal(mip_get_reg_request(buf, w.len, &got, NULL), MIP_OK);
    assert_true(
        mip_verify_mn_aaa_auth(buf, &got.ext.mn_aaa, AAAKEY, sizeof(AAAKEY), chal, sizeof(chal)));
    EVP_Digest(buf, got.ext.mn_aaa.covered_len, inner, &il, EVP_md5(), NULL);
    cat[0] = chal[0];
    memcpy(cat + 1, AAAKEY, 6);
    memcpy(cat + 7, inner, 16);
    memcpy(cat + 23, chal + sizeof(chal) - 237, 237);
    EVP_Digest(cat, sizeof(cat), outer, &il, EVP_md5(), NULL);
    assert_memory_equal(outer, got.ext.mn_aaa.authenticator.ptr, 16);
    /* the ignored octets (1..12) do not matter, the others do */
    chal[5] ^= 1;
    assert_true(
        mip_verify_mn_aaa_auth(buf, &got.ext.mn_aaa, AAAKEY, sizeof(AAAKEY), chal, sizeof(chal)));
    chal[100] ^= 1;
    assert_false(
        mip_verify_mn_aaa_auth(buf, &got.ext.mn_aaa, AAAKEY, sizeof(AAAKEY), chal, sizeof(chal)));
}

static void test_ro_auth(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct mip_writer w;
    struct mip_experimental m = exp_msg(MIP_EXP_BINDING_UPDATE), got;
    uint32_t spi = 0;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    mip_put_cvse(&w, MIP_DEFAULT_VENDOR_ID, 2, "vpn", 3);
    size_t at = w.len;
    mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, 777, KEY, sizeof(KEY));
    size_t n = w.len;
    assert_int_equal(n - at, 10 + 4 + 32);
    assert_int_equal(mip_get_experimental(buf, n, &got, NULL), MIP_OK);
    assert_true(
        mip_verify_ro_auth(buf, n, &got.ext, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), &spi));
    assert_int_equal(spi, 777);

    /* independent HMAC-SHA-256 over everything through the SPI */
    uint8_t mac[32];
    unsigned ml;
    HMAC(EVP_sha256(), KEY, sizeof(KEY), buf, at + 14, mac, &ml);
    assert_memory_equal(mac, buf + at + 14, 32);

    /* wrong key, wrong vendor */
    assert_false(mip_verify_ro_auth(buf, n, &got.ext, MIP_DEFAULT_VENDOR_ID, KEY, 15, NULL));
    assert_false(mip_verify_ro_auth(buf, n, &got.ext, 9, KEY, sizeof(KEY), NULL));
    /* every bit flip is detected or rejected by the decoder */
    for (size_t i = 0; i < n; i++) {
        uint8_t c[256];
        memcpy(c, buf, n);
        c[i] ^= 0x10;
        struct mip_experimental t;
        if (mip_get_experimental(c, n, &t, NULL) != MIP_OK)
            continue;
        assert_false(
            mip_verify_ro_auth(c, n, &t.ext, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), NULL));
    }
    /* not the last extension */
    mip_put_bytes(&w, "\xc8\x00", 2);
    assert_int_equal(mip_get_experimental(buf, w.len, &got, NULL), MIP_OK);
    assert_false(
        mip_verify_ro_auth(buf, w.len, &got.ext, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), NULL));
    /* absent */
    struct mip_exts none;
    memset(&none, 0, sizeof(none));
    assert_false(mip_verify_ro_auth(buf, n, &none, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), NULL));
    /* two RO authenticators */
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_experimental(&w, &m);
    mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, 777, KEY, sizeof(KEY));
    mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, 777, KEY, sizeof(KEY));
    assert_int_equal(mip_get_experimental(buf, w.len, &got, NULL), MIP_OK);
    assert_false(
        mip_verify_ro_auth(buf, w.len, &got.ext, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rrq_roundtrip),
        cmocka_unit_test(test_rrp_roundtrip),
        cmocka_unit_test(test_fixed_layout),
        cmocka_unit_test(test_experimental_roundtrip),
        cmocka_unit_test(test_rrq_truncations),
        cmocka_unit_test(test_exp_and_rrp_truncations),
        cmocka_unit_test(test_bad_ext_lengths),
        cmocka_unit_test(test_overlapping_ext_hides_auth),
        cmocka_unit_test(test_unknown_ext_types),
        cmocka_unit_test(test_duplicate_and_order),
        cmocka_unit_test(test_reserved_bits),
        cmocka_unit_test(test_experimental_malformed),
        cmocka_unit_test(test_too_many_vse),
        cmocka_unit_test(test_writer_nospace),
        cmocka_unit_test(test_auth_tamper),
        cmocka_unit_test(test_auth_known_construction),
        cmocka_unit_test(test_mn_aaa_long_challenge),
        cmocka_unit_test(test_ro_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
