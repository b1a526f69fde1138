/* Unit tests of the codec's ICMP agent advertisement/solicitation,
 * identification and string helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "mip_proto.h"

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

/* RFC 1071 checksum, written independently of the library. */
static void fix_cksum(uint8_t *b, size_t n)
{
    uint32_t s = 0;
    b[2] = b[3] = 0;
    for (size_t i = 0; i < n; i++)
        s += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = ~s & 0xffff;
    b[2] = (uint8_t)(s >> 8);
    b[3] = (uint8_t)s;
}

static struct mip_agent_adv full_adv(void)
{
    struct mip_agent_adv a;
    memset(&a, 0, sizeof(a));
    a.code = 16;
    a.adv_lifetime = 1800;
    a.n_routers = 2;
    a.routers[0] = ip("192.0.2.1");
    a.pref[0] = 10;
    a.routers[1] = ip("192.0.2.2");
    a.pref[1] = -5;
    a.seq = 65535;
    a.reg_lifetime = 600;
    a.flags = MIP_ADV_FLAG_R | MIP_ADV_FLAG_F | MIP_ADV_FLAG_T;
    a.n_coa = 2;
    a.coa[0] = ip("192.0.2.1");
    a.coa[1] = ip("192.0.2.9");
    a.has_prefix_len = true;
    a.n_prefix_len = 2;
    a.prefix_len[0] = 24;
    a.prefix_len[1] = 25;
    a.has_challenge = true;
    a.challenge_len = 16;
    for (int i = 0; i < 16; i++)
        a.challenge[i] = (uint8_t)(0xc0 + i);
    return a;
}

static void test_adv_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct mip_agent_adv a = full_adv(), got;
    size_t n = mip_put_agent_adv(buf, sizeof(buf), &a);
    assert_int_equal(n, 8 + 16 + 2 + 6 + 8 + 2 + 2 + 2 + 16);
    assert_int_equal(buf[0], 9);
    assert_int_equal(buf[5], 2);
    assert_int_equal(buf[24], 16);
    assert_int_equal(buf[25], 6 + 8);
    assert_int_equal(mip_get_agent_adv(buf, n, &got), MIP_OK);
    assert_memory_equal(&got, &a, sizeof(a));
    /* checksum written is what an independent computation gives */
    uint8_t c[256];
    memcpy(c, buf, n);
    fix_cksum(c, n);
    assert_memory_equal(c, buf, n);

    /* minimal: no routers, one CoA, nothing optional, code 0 */
    struct mip_agent_adv m;
    memset(&m, 0, sizeof(m));
    m.n_coa = 1;
    m.coa[0] = ip("203.0.113.1");
    m.flags = MIP_ADV_FLAG_H;
    n = mip_put_agent_adv(buf, sizeof(buf), &m);
    assert_int_equal(n, 8 + 2 + 10);
    assert_int_equal(mip_get_agent_adv(buf, n, &got), MIP_OK);
    assert_memory_equal(&got, &m, sizeof(m));
    /* encoder limits */
    assert_int_equal(mip_put_agent_adv(buf, n - 1, &m), 0);
    m.n_coa = MIP_ADV_MAX_COA + 1;
    assert_int_equal(mip_put_agent_adv(buf, sizeof(buf), &m), 0);
}

static void test_adv_malformed(void **state)
{
    (void)state;
    uint8_t buf[256], c[256];
    struct mip_agent_adv a = full_adv(), got;
    size_t n = mip_put_agent_adv(buf, sizeof(buf), &a);

    /* every bit flip: checksum or structure catches it */
    for (size_t i = 0; i < n; i++) {
        memcpy(c, buf, n);
        c[i] ^= 0x01;
        assert_int_not_equal(mip_get_agent_adv(c, n, &got), MIP_OK);
    }
    memcpy(c, buf, n);
    c[40] ^= 0xff; /* inside the CoA list: only the checksum notices */
    assert_int_equal(mip_get_agent_adv(c, n, &got), MIP_ERR_BAD_CHECKSUM);

    /* truncation at every length: exact-size heap copies for ASan */
    for (size_t l = 0; l < n; l++) {
        uint8_t *h = test_malloc(l + 1);
        memcpy(h, buf, l);
        enum mip_err e = mip_get_agent_adv(h, l, &got);
        if (l < 8 || (l > 24 && l < 40) || (l > 40 && l < 44) || (l > 44 && l < 62))
            assert_int_equal(e, MIP_ERR_TRUNCATED);
        else if (l >= 8 && l <= 24)
            assert_true(e == MIP_ERR_TRUNCATED || e == MIP_ERR_BAD_TYPE);
        else
            assert_int_equal(e, MIP_ERR_BAD_CHECKSUM);
        test_free(h);
    }
    assert_int_equal(mip_get_agent_adv(buf, 0, &got), MIP_ERR_TRUNCATED);

    struct {
        size_t at;
        uint8_t val;
        enum mip_err want;
    } pokes[] = {
        {0, 10, MIP_ERR_BAD_TYPE},   /* not an advertisement */
        {1, 1, MIP_ERR_BAD_VALUE},   /* code */
        {5, 3, MIP_ERR_BAD_LENGTH},  /* address entry size */
        {4, 5, MIP_ERR_BAD_LENGTH},  /* more routers than we hold */
        {25, 7, MIP_ERR_BAD_LENGTH}, /* mobility ext length not 6+4N */
        {25, 2, MIP_ERR_BAD_LENGTH}, /* shorter than 6 */
        {41, 5, MIP_ERR_BAD_LENGTH}, /* prefix-lengths too many */
        {45, 2, MIP_ERR_BAD_LENGTH}, /* challenge shorter than 4 */
        {24, 19, MIP_ERR_EXT_ORDER}, /* prefix lengths before mobility */
        {44, 16, MIP_ERR_DUPLICATE_EXT}, {44, 19, MIP_ERR_DUPLICATE_EXT},
        {40, 16, MIP_ERR_DUPLICATE_EXT}, {44, 77, MIP_ERR_UNKNOWN_CRITICAL_EXT},
    };
    for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
        memcpy(c, buf, n);
        c[pokes[i].at] = pokes[i].val;
        fix_cksum(c, n);
        enum mip_err e = mip_get_agent_adv(c, n, &got);
        if (e != pokes[i].want)
            fail_msg("poke %zu: got %s want %s", i, mip_err_str(e), mip_err_str(pokes[i].want));
    }
    /* duplicated challenge with a correct length */
    memcpy(c, buf, n);
    memcpy(c + n, buf + 44, 18);
    fix_cksum(c, n + 18);
    assert_int_equal(mip_get_agent_adv(c, n + 18, &got), MIP_ERR_DUPLICATE_EXT);
    /* skippable unknown extension and padding are accepted */
    memcpy(c, buf, n);
    memcpy(c + n, "\x00\x00\xc8\x02\xaa\xbb\x00", 7);
    fix_cksum(c, n + 7);
    assert_int_equal(mip_get_agent_adv(c, n + 7, &got), MIP_OK);
    assert_int_equal(got.challenge_len, 16);
    /* a plain router advertisement (no mobility extension) */
    memcpy(c, buf, 24);
    fix_cksum(c, 24);
    assert_int_equal(mip_get_agent_adv(c, 24, &got), MIP_ERR_BAD_TYPE);
}

static void test_solicit(void **state)
{
    (void)state;
    uint8_t buf[16];
    assert_int_equal(mip_put_agent_solicit(buf, 7), 0);
    assert_int_equal(mip_put_agent_solicit(buf, sizeof(buf)), 8);
    static const uint8_t want[8] = {10, 0, 0xf5, 0xff, 0, 0, 0, 0};
    assert_memory_equal(buf, want, 8);
    assert_int_equal(mip_get_agent_solicit(buf, 8), MIP_OK);
    for (size_t l = 0; l < 8; l++)
        assert_int_equal(mip_get_agent_solicit(buf, l),
                         l == 0 || buf[0] == 10 ? MIP_ERR_TRUNCATED : MIP_ERR_BAD_TYPE);
    buf[7] = 1;
    assert_int_equal(mip_get_agent_solicit(buf, 8), MIP_ERR_BAD_CHECKSUM);
    buf[7] = 0;
    buf[1] = 1;
    fix_cksum(buf, 8);
    assert_int_equal(mip_get_agent_solicit(buf, 8), MIP_ERR_BAD_VALUE);
    buf[0] = 9;
    buf[1] = 0;
    fix_cksum(buf, 8);
    assert_int_equal(mip_get_agent_solicit(buf, 8), MIP_ERR_BAD_TYPE);
}

static void test_ident(void **state)
{
    (void)state;
    uint64_t now = mip_ntp_now();
    uint64_t unix_now = (uint64_t)time(NULL);
    uint64_t hi = now >> 32;
    uint32_t d = (uint32_t)hi - (uint32_t)(unix_now + MIP_NTP_UNIX_OFFSET);
    assert_true(d <= 2 || d >= 0xfffffffeu);
    uint64_t a = mip_ident_now(), b = mip_ident_now();
    assert_true((a >> 32) - hi <= 1);
    assert_true(a != b); /* random low halves (collision odds 2^-32) */

    uint64_t t = 0xe0000000ull << 32; /* some time, 2019 */
    uint64_t id = t | 0x1234;
    assert_int_equal(mip_ident_check(id, 0, t, 7), MIP_IDENT_OK);
    assert_int_equal(mip_ident_check(id, 0, t + (7ull << 32), 7), MIP_IDENT_OK);
    assert_int_equal(mip_ident_check(id, 0, t + (8ull << 32), 7), MIP_IDENT_STALE);
    assert_int_equal(mip_ident_check(id, 0, t - (7ull << 32), 7), MIP_IDENT_OK);
    assert_int_equal(mip_ident_check(id, 0, t - (8ull << 32), 7), MIP_IDENT_STALE);
    assert_int_equal(mip_ident_check(id, 0, t, 0), MIP_IDENT_OK);
    assert_int_equal(mip_ident_check(id + (1ull << 32), 0, t, 0), MIP_IDENT_STALE);
    /* replay: equal or older than the last accepted */
    assert_int_equal(mip_ident_check(id, id, t, 7), MIP_IDENT_REPLAY);
    assert_int_equal(mip_ident_check(id, id + 1, t, 7), MIP_IDENT_REPLAY);
    assert_int_equal(mip_ident_check(id + 1, id, t, 7), MIP_IDENT_OK);
    assert_int_equal(mip_ident_check(id - (1ull << 32), id, t, 7), MIP_IDENT_REPLAY);
    /* stale wins over replay */
    assert_int_equal(mip_ident_check(id - (9ull << 32), id, t, 7), MIP_IDENT_STALE);
    /* NTP era wrap: now just past 2^32 s, ident just before */
    assert_int_equal(mip_ident_check(0xffffffffull << 32, 0, 2ull << 32, 7), MIP_IDENT_OK);
    assert_int_equal(mip_ident_check(0xfffffff0ull << 32, 0, 2ull << 32, 7), MIP_IDENT_STALE);

    /* resync: HA's seconds, the request's low bits */
    assert_true(mip_ident_resync(0x11111111aabbccddull, 0x22222222eeeeeeeeull) ==
                0x22222222aabbccddull);
}

static void test_strings(void **state)
{
    (void)state;
    for (int e = MIP_OK; e <= MIP_ERR_BAD_CHECKSUM; e++)
        assert_string_not_equal(mip_err_str((enum mip_err)e), "unknown error");
    static const uint8_t codes[] = {0,   1,   64,  65,  66,  67,  68,  69,  70,  71,  72,  74,
                                    75,  77,  78,  79,  80,  81,  82,  88,  104, 105, 106, 128,
                                    129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139};
    for (size_t i = 0; i < sizeof(codes); i++)
        assert_string_not_equal(mip_code_str(codes[i]), "unknown code");
    assert_string_equal(mip_code_str(2), "unknown code");
    assert_string_equal(mip_code_str(255), "unknown code");
    assert_non_null(strstr(mip_code_str(133), "identification mismatch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adv_roundtrip), cmocka_unit_test(test_adv_malformed),
        cmocka_unit_test(test_solicit),       cmocka_unit_test(test_ident),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
