/* Unit tests of our vendor's registration extensions (mip_proto.h): the
 * previous-FA notification CVSE and the service-update NVSE, encoders and the
 * strict second decoding pass mip_get_vendor_exts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "mip_proto.h"

#define VID MIP_DEFAULT_VENDOR_ID
static const char NAI[] = "mn1@example.net";
static const uint8_t CHAL[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t MNHA_KEY[20] = "mn-ha key (derived)";
static const uint8_t AAA_KEY[] = "mn-aaa shared secret";

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static void put_fixed(struct mip_writer *w, uint8_t *buf, size_t cap)
{
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T;
    rq.lifetime = 60;
    rq.home_addr = ip("10.10.0.100");
    rq.home_agent = ip("10.10.0.1");
    rq.care_of_addr = ip("10.1.0.1");
    rq.identification = 0xE8C1A2B300C0FFEEull;
    mip_writer_init(w, buf, cap);
    mip_put_reg_request(w, &rq);
}

/* Decodes buf as a request, then runs the vendor pass. */
static enum mip_err decode(const uint8_t *buf, size_t len, struct mip_reg_request *rq, size_t *off)
{
    size_t o = 9999;
    assert_int_equal(mip_get_reg_request(buf, len, rq, &o), MIP_OK);
    *off = 9999;
    return mip_get_vendor_exts(buf, len, VID, &rq->ext, off);
}

/* ---- encoders --------------------------------------------------------- */

static void test_put_prev_fa_bytes(void **state)
{
    (void)state;
    uint8_t buf[32];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_prev_fa(&w, VID, ip("198.51.100.1"));
    assert_int_equal(w.err, MIP_OK);
    /* RFC 3115 §3.1 CVSE: Type 38, Reserved 0, Length 10 (after the Length
     * field), Vendor-ID 32473 = 0x00007ED9, CVSE type 3, the address. */
    static const uint8_t want[] = {38,   0,    0x00, 0x0a, 0x00, 0x00, 0x7e,
                                   0xd9, 0x00, 0x03, 198,  51,   100,  1};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

static void test_put_service_update_bytes(void **state)
{
    (void)state;
    uint8_t buf[32];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_service_update(&w, 0x01020304, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    assert_int_equal(w.err, MIP_OK);
    /* RFC 3115 §3.2 NVSE: Type 134, Length 10 (after the Length octet),
     * Reserved 0 (2), Vendor-ID, NVSE type 3, request code 1. */
    static const uint8_t want[] = {134, 10, 0, 0, 1, 2, 3, 4, 0, 3, 0, 1};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

static void test_put_refuses_bad_values(void **state)
{
    (void)state;
    static const char *bad[] = {"0.0.0.0",   "127.0.0.1", "224.0.0.1",
                                "240.0.0.1", "239.1.2.3", "255.255.255.255"};
    uint8_t buf[64];
    struct mip_writer w;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mip_writer_init(&w, buf, sizeof(buf));
        mip_put_prev_fa(&w, VID, ip(bad[i]));
        assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
        assert_int_equal(w.len, 0);
    }
    for (unsigned code = 0; code < 4; code++) {
        if (code == MIP_SERVICE_UPDATE_RELOAD_PROFILES)
            continue;
        mip_writer_init(&w, buf, sizeof(buf));
        mip_put_service_update(&w, VID, (uint16_t)code);
        assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
        assert_int_equal(w.len, 0);
    }
    /* no space: latched, nothing written past the end */
    mip_writer_init(&w, buf, 13);
    mip_put_prev_fa(&w, VID, ip("10.1.0.1"));
    assert_int_equal(w.err, MIP_ERR_NOSPACE);
    mip_writer_init(&w, buf, 11);
    mip_put_service_update(&w, VID, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    assert_int_equal(w.err, MIP_ERR_NOSPACE);
    /* an earlier failure sticks */
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_prev_fa(&w, VID, ip("0.0.0.0"));
    mip_put_service_update(&w, VID, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    assert_int_equal(w.err, MIP_ERR_BAD_VALUE);
    assert_int_equal(w.len, 0);
}

/* ---- round trips ------------------------------------------------------- */

/* As mnemu sends a move with a service update in AAA mode once it has its
 * MN-HA key: NAI, previous FA, service update, challenge, MN-HA, MN-AAA. */
static void test_request_as_mnemu_sends_it(void **state)
{
    (void)state;
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    put_fixed(&w, buf, sizeof(buf));
    mip_put_nai(&w, NAI, strlen(NAI));
    size_t cvse_at = w.len;
    mip_put_prev_fa(&w, VID, ip("10.2.0.1"));
    size_t nvse_at = w.len;
    mip_put_service_update(&w, VID, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    mip_put_challenge(&w, CHAL, sizeof(CHAL));
    mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, 0x10001, MIP_AUTH_HMAC_SHA1, MNHA_KEY, sizeof(MNHA_KEY));
    mip_put_mn_aaa_auth(&w, 1000, AAA_KEY, sizeof(AAA_KEY) - 1, CHAL, sizeof(CHAL));
    assert_int_equal(w.err, MIP_OK);

    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(decode(buf, w.len, &rq, &off), MIP_OK);
    assert_true(rq.ext.has_prev_fa);
    assert_int_equal(rq.ext.prev_fa.s_addr, ip("10.2.0.1").s_addr);
    assert_true(rq.ext.has_service_update);
    assert_int_equal(rq.ext.service_update, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    /* both lie under both authenticators */
    assert_true(cvse_at < rq.ext.mn_ha.offset && nvse_at < rq.ext.mn_ha.offset);
    assert_true(
        mip_verify_auth(buf, &rq.ext.mn_ha, MIP_AUTH_HMAC_SHA1, MNHA_KEY, sizeof(MNHA_KEY)));
    assert_true(mip_verify_mn_aaa_auth(buf, &rq.ext.mn_aaa, AAA_KEY, sizeof(AAA_KEY) - 1, CHAL,
                                       sizeof(CHAL)));
    /* the generic view is still there */
    assert_int_equal(rq.ext.n_cvse, 1);
    assert_int_equal(rq.ext.cvse[0].vendor_type, MIP_VSE_TYPE_PREV_FA);
    assert_int_equal(rq.ext.n_nvse, 1);
    assert_int_equal(rq.ext.nvse[0].vendor_type, MIP_NVSE_TYPE_SERVICE_UPDATE);

    /* Changing the claimed previous FA breaks both authenticators. */
    buf[cvse_at + 13] ^= 1;
    assert_int_equal(decode(buf, w.len, &rq, &off), MIP_OK);
    assert_false(
        mip_verify_auth(buf, &rq.ext.mn_ha, MIP_AUTH_HMAC_SHA1, MNHA_KEY, sizeof(MNHA_KEY)));
    assert_false(mip_verify_mn_aaa_auth(buf, &rq.ext.mn_aaa, AAA_KEY, sizeof(AAA_KEY) - 1, CHAL,
                                        sizeof(CHAL)));
}

/* First registration in AAA mode (no MN-HA key yet): NAI, previous FA,
 * challenge, MN-AAA.  Without either extension the fields stay zero. */
static void test_without_mn_ha_and_absent(void **state)
{
    (void)state;
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    put_fixed(&w, buf, sizeof(buf));
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_prev_fa(&w, VID, ip("10.2.0.1"));
    mip_put_challenge(&w, CHAL, sizeof(CHAL));
    mip_put_mn_aaa_auth(&w, 1000, AAA_KEY, sizeof(AAA_KEY) - 1, CHAL, sizeof(CHAL));
    assert_int_equal(w.err, MIP_OK);
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(decode(buf, w.len, &rq, &off), MIP_OK);
    assert_true(rq.ext.has_prev_fa);
    assert_false(rq.ext.has_service_update);
    assert_int_equal(rq.ext.service_update, 0);

    put_fixed(&w, buf, sizeof(buf));
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 256, "k", 1);
    assert_int_equal(decode(buf, w.len, &rq, &off), MIP_OK);
    assert_false(rq.ext.has_prev_fa);
    assert_int_equal(rq.ext.prev_fa.s_addr, 0);
    assert_false(rq.ext.has_service_update);

    /* The message decoders alone never fill them (they do not know the vendor). */
    put_fixed(&w, buf, sizeof(buf));
    mip_put_prev_fa(&w, VID, ip("10.2.0.1"));
    mip_put_service_update(&w, VID, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    assert_int_equal(mip_get_reg_request(buf, w.len, &rq, NULL), MIP_OK);
    assert_false(rq.ext.has_prev_fa);
    assert_false(rq.ext.has_service_update);
}

/* Another vendor ID's extensions of the same types are not ours. */
static void test_other_vendor_ignored(void **state)
{
    (void)state;
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    put_fixed(&w, buf, sizeof(buf));
    mip_put_cvse(&w, VID + 1, MIP_VSE_TYPE_PREV_FA, "\x00\x00", 2); /* theirs: any content */
    mip_put_nvse(&w, VID + 1, MIP_NVSE_TYPE_SERVICE_UPDATE, "\x00\x07", 2);
    mip_put_cvse(&w, VID + 1, 99, NULL, 0);
    mip_put_prev_fa(&w, VID + 1, ip("10.2.0.1"));
    assert_int_equal(w.err, MIP_OK);
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(decode(buf, w.len, &rq, &off), MIP_OK);
    assert_false(rq.ext.has_prev_fa);
    assert_false(rq.ext.has_service_update);
    /* ... and they are ours under that vendor ID */
    assert_int_equal(mip_get_vendor_exts(buf, w.len, VID + 1, &rq.ext, &off), MIP_ERR_BAD_LENGTH);
    assert_int_equal(off, 24);
}

/* RO-auth and VPN-INFO CVSEs, and our other NVSE types, pass untouched. */
static void test_other_types_left_alone(void **state)
{
    (void)state;
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    put_fixed(&w, buf, sizeof(buf));
    mip_put_cvse(&w, VID, MIP_VSE_TYPE_VPN_INFO, "\x01", 1);
    mip_put_nvse(&w, VID, 7, "\x01\x02\x03", 3);
    mip_put_nvse(&w, VID, 1, NULL, 0);
    mip_put_ro_auth(&w, VID, 4097, "0123456789abcdef", 16);
    assert_int_equal(w.err, MIP_OK);
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(decode(buf, w.len, &rq, &off), MIP_OK);
    assert_false(rq.ext.has_prev_fa);
    assert_false(rq.ext.has_service_update);
}

/* ---- malformed --------------------------------------------------------- */

struct bad_case {
    const char *what;
    enum mip_err err;
    int at; /* index of the offending extension among those written */
};

/* Builds a request from up to 4 raw "ext" steps, returns the offsets. */
enum step {
    S_END,
    S_PREV_FA,   /* 10.2.0.1 */
    S_PREV_FA_B, /* 10.3.0.1 */
    S_FA_LEN3,
    S_FA_LEN5,
    S_FA_LEN0,
    S_FA_ZERO,
    S_FA_BCAST,
    S_FA_MCAST,
    S_FA_LOOP,
    S_FA_CLASS_E,
    S_SU,
    S_SU_LEN1,
    S_SU_LEN3,
    S_SU_CODE0,
    S_SU_CODE2,
    S_CVSE_T4,
    S_CVSE_T0,
    S_NAI,
    S_MN_HA,
    S_CHAL,
};

static size_t build(uint8_t *buf, size_t cap, const enum step *s, size_t *offs)
{
    struct mip_writer w;
    put_fixed(&w, buf, cap);
    for (int i = 0; s[i] != S_END; i++) {
        offs[i] = w.len;
        switch (s[i]) {
        case S_PREV_FA:
            mip_put_prev_fa(&w, VID, ip("10.2.0.1"));
            break;
        case S_PREV_FA_B:
            mip_put_prev_fa(&w, VID, ip("10.3.0.1"));
            break;
        case S_FA_LEN3:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\x0a\x02\x00", 3);
            break;
        case S_FA_LEN5:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\x0a\x02\x00\x01\x00", 5);
            break;
        case S_FA_LEN0:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, NULL, 0);
            break;
        case S_FA_ZERO:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\0\0\0\0", 4);
            break;
        case S_FA_BCAST:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\xff\xff\xff\xff", 4);
            break;
        case S_FA_MCAST:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\xe0\x00\x00\x02", 4);
            break;
        case S_FA_LOOP:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\x7f\x00\x00\x01", 4);
            break;
        case S_FA_CLASS_E:
            mip_put_cvse(&w, VID, MIP_VSE_TYPE_PREV_FA, "\xf0\x00\x00\x01", 4);
            break;
        case S_SU:
            mip_put_service_update(&w, VID, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
            break;
        case S_SU_LEN1:
            mip_put_nvse(&w, VID, MIP_NVSE_TYPE_SERVICE_UPDATE, "\x01", 1);
            break;
        case S_SU_LEN3:
            mip_put_nvse(&w, VID, MIP_NVSE_TYPE_SERVICE_UPDATE, "\x00\x01\x00", 3);
            break;
        case S_SU_CODE0:
            mip_put_nvse(&w, VID, MIP_NVSE_TYPE_SERVICE_UPDATE, "\x00\x00", 2);
            break;
        case S_SU_CODE2:
            mip_put_nvse(&w, VID, MIP_NVSE_TYPE_SERVICE_UPDATE, "\x00\x02", 2);
            break;
        case S_CVSE_T4:
            mip_put_cvse(&w, VID, 4, "\x0a\x02\x00\x01", 4);
            break;
        case S_CVSE_T0:
            mip_put_cvse(&w, VID, 0, NULL, 0);
            break;
        case S_NAI:
            mip_put_nai(&w, NAI, strlen(NAI));
            break;
        case S_MN_HA:
            mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 256, "k", 1);
            break;
        case S_CHAL:
            mip_put_challenge(&w, CHAL, sizeof(CHAL));
            break;
        case S_END:
            break;
        }
    }
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static void expect_bad(const enum step *s, enum mip_err err, int at)
{
    uint8_t buf[MIP_MAX_MSG];
    size_t offs[8];
    size_t len = build(buf, sizeof(buf), s, offs);
    struct mip_reg_request rq;
    size_t off;
    enum mip_err e = decode(buf, len, &rq, &off);
    if (e != err || off != offs[at])
        fail_msg("got %s at %zu, expected %s at %zu", mip_err_str(e), off, mip_err_str(err),
                 offs[at]);
    /* nothing half-decoded */
    assert_false(rq.ext.has_prev_fa);
    assert_int_equal(rq.ext.prev_fa.s_addr, 0);
    assert_false(rq.ext.has_service_update);
    assert_int_equal(rq.ext.service_update, 0);
}

static void test_prev_fa_malformed(void **state)
{
    (void)state;
    expect_bad((enum step[]){S_NAI, S_FA_LEN3, S_END}, MIP_ERR_BAD_LENGTH, 1);
    expect_bad((enum step[]){S_FA_LEN5, S_END}, MIP_ERR_BAD_LENGTH, 0);
    expect_bad((enum step[]){S_FA_LEN0, S_END}, MIP_ERR_BAD_LENGTH, 0);
    expect_bad((enum step[]){S_FA_ZERO, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_FA_BCAST, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_FA_MCAST, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_FA_LOOP, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_FA_CLASS_E, S_END}, MIP_ERR_BAD_VALUE, 0);
    /* twice, even with the same or another address: the second is the offender */
    expect_bad((enum step[]){S_PREV_FA, S_NAI, S_PREV_FA, S_END}, MIP_ERR_DUPLICATE_EXT, 2);
    expect_bad((enum step[]){S_PREV_FA, S_PREV_FA_B, S_END}, MIP_ERR_DUPLICATE_EXT, 1);
    /* not covered by the MN-HA authenticator (RFC 5944 §3.6.1.3) */
    expect_bad((enum step[]){S_NAI, S_MN_HA, S_PREV_FA, S_END}, MIP_ERR_EXT_ORDER, 2);
    expect_bad((enum step[]){S_MN_HA, S_CHAL, S_PREV_FA, S_END}, MIP_ERR_EXT_ORDER, 2);
    /* an unknown CVSE type of ours is critical (RFC 3115 §3.1) */
    expect_bad((enum step[]){S_CVSE_T4, S_END}, MIP_ERR_UNKNOWN_CRITICAL_EXT, 0);
    expect_bad((enum step[]){S_PREV_FA, S_CVSE_T0, S_END}, MIP_ERR_UNKNOWN_CRITICAL_EXT, 1);
}

static void test_service_update_malformed(void **state)
{
    (void)state;
    expect_bad((enum step[]){S_SU_LEN1, S_END}, MIP_ERR_BAD_LENGTH, 0);
    expect_bad((enum step[]){S_NAI, S_SU_LEN3, S_END}, MIP_ERR_BAD_LENGTH, 1);
    expect_bad((enum step[]){S_SU_CODE0, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_SU_CODE2, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_SU, S_SU, S_END}, MIP_ERR_DUPLICATE_EXT, 1);
    expect_bad((enum step[]){S_MN_HA, S_SU, S_END}, MIP_ERR_EXT_ORDER, 1);
}

/* The first offender in message order decides, across CVSEs and NVSEs. */
static void test_first_error_wins(void **state)
{
    (void)state;
    expect_bad((enum step[]){S_SU_CODE2, S_FA_LEN3, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_FA_ZERO, S_SU_LEN1, S_END}, MIP_ERR_BAD_VALUE, 0);
    expect_bad((enum step[]){S_SU, S_PREV_FA, S_MN_HA, S_SU, S_PREV_FA, S_END}, MIP_ERR_EXT_ORDER,
               3);
    expect_bad((enum step[]){S_PREV_FA, S_SU, S_SU_CODE0, S_FA_LEN3, S_END}, MIP_ERR_DUPLICATE_EXT,
               2);
}

/* After the MN-AAA authenticator nothing but authenticators may follow: the
 * message decoder already refuses it there. */
static void test_after_mn_aaa_refused_by_decoder(void **state)
{
    (void)state;
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    put_fixed(&w, buf, sizeof(buf));
    mip_put_challenge(&w, CHAL, sizeof(CHAL));
    mip_put_mn_aaa_auth(&w, 1000, AAA_KEY, sizeof(AAA_KEY) - 1, CHAL, sizeof(CHAL));
    size_t at = w.len;
    mip_put_prev_fa(&w, VID, ip("10.2.0.1"));
    assert_int_equal(w.err, MIP_OK);
    struct mip_reg_request rq;
    size_t off = 0;
    assert_int_equal(mip_get_reg_request(buf, w.len, &rq, &off), MIP_ERR_EXT_ORDER);
    assert_int_equal(off, at);
}

/* A struct not decoded from msg is refused, not read out of bounds. */
static void test_foreign_struct_refused(void **state)
{
    (void)state;
    uint8_t buf[MIP_MAX_MSG], other[MIP_MAX_MSG];
    struct mip_writer w;
    put_fixed(&w, buf, sizeof(buf));
    mip_put_prev_fa(&w, VID, ip("10.2.0.1"));
    struct mip_reg_request rq;
    size_t off = 77;
    assert_int_equal(mip_get_reg_request(buf, w.len, &rq, NULL), MIP_OK);
    memcpy(other, buf, w.len);
    assert_int_equal(mip_get_vendor_exts(other, w.len, VID, &rq.ext, &off), MIP_ERR_BAD_VALUE);
    assert_int_equal(off, 0);
    /* shorter length than the decoded message */
    assert_int_equal(mip_get_vendor_exts(buf, w.len - 1, VID, &rq.ext, &off), MIP_ERR_BAD_VALUE);
    assert_int_equal(mip_get_vendor_exts(NULL, 0, VID, &rq.ext, NULL), MIP_ERR_BAD_VALUE);
    assert_false(rq.ext.has_prev_fa);
    /* and the good call still works, off_err may be NULL */
    assert_int_equal(mip_get_vendor_exts(buf, w.len, VID, &rq.ext, NULL), MIP_OK);
    assert_true(rq.ext.has_prev_fa);
}

/* The fuzz corpus seeds for these extensions decode as documented. */
static void test_fuzz_seeds(void **state)
{
    (void)state;
    const char *src = getenv("MIP_SOURCE_DIR");
    if (!src)
        skip();
    static const struct {
        const char *name;
        enum mip_err err;
    } seeds[] = {{"rrq_prev_fa", MIP_OK},
                 {"rrq_service_update", MIP_OK},
                 {"bad_prev_fa_len", MIP_ERR_BAD_LENGTH},
                 {"bad_prev_fa_after_mnha", MIP_ERR_EXT_ORDER}};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/fuzz_mip_decode/%s", src, seeds[i].name);
        FILE *f = fopen(path, "rb");
        if (!f)
            fail_msg("%s: missing", path);
        uint8_t buf[MIP_MAX_MSG];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        struct mip_reg_request rq;
        assert_int_equal(mip_get_reg_request(buf, n, &rq, NULL), MIP_OK);
        enum mip_err e = mip_get_vendor_exts(buf, n, VID, &rq.ext, NULL);
        if (e != seeds[i].err)
            fail_msg("%s: %s, expected %s", seeds[i].name, mip_err_str(e),
                     mip_err_str(seeds[i].err));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_prev_fa_bytes),
        cmocka_unit_test(test_put_service_update_bytes),
        cmocka_unit_test(test_put_refuses_bad_values),
        cmocka_unit_test(test_request_as_mnemu_sends_it),
        cmocka_unit_test(test_without_mn_ha_and_absent),
        cmocka_unit_test(test_other_vendor_ignored),
        cmocka_unit_test(test_other_types_left_alone),
        cmocka_unit_test(test_prev_fa_malformed),
        cmocka_unit_test(test_service_update_malformed),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_after_mn_aaa_refused_by_decoder),
        cmocka_unit_test(test_foreign_struct_refused),
        cmocka_unit_test(test_fuzz_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
