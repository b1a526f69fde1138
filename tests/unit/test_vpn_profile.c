/* Unit tests: vpncache/vpn_profile (seed [0027], [0033]; DESIGN §5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "vpn_profile.h"

static void mk(struct vpn_profile *p)
{
    vpn_profile_init(p);
    p->number = 3;
    assert_true(vpn_prefix_parse("10.10.0.100/32", &p->src));
    assert_true(vpn_prefix_parse("172.16.50.0/24", &p->dst));
    p->spi_up = 1000;
    p->spi_down = 1001;
    p->dscp_up = 46;
}

static void test_dscp(void **st)
{
    (void)st;
    char b[8];
    uint8_t v;
    for (unsigned d = 0; d <= 63; d++) {
        assert_true(vpn_dscp_parse(vpn_dscp_str((uint8_t)d, b), &v));
        assert_int_equal(v, d);
    }
    assert_true(vpn_dscp_parse("EF", &v));
    assert_int_equal(v, 46);
    assert_true(vpn_dscp_parse("af41", &v));
    assert_int_equal(v, 34);
    assert_true(vpn_dscp_parse("AF11", &v));
    assert_int_equal(v, 10);
    assert_true(vpn_dscp_parse("AF43", &v));
    assert_int_equal(v, 38);
    assert_true(vpn_dscp_parse("CS7", &v));
    assert_int_equal(v, 56);
    assert_true(vpn_dscp_parse("cs0", &v));
    assert_int_equal(v, 0);
    assert_string_equal(vpn_dscp_str(26, b), "AF31");
    assert_string_equal(vpn_dscp_str(46, b), "EF");
    assert_string_equal(vpn_dscp_str(1, b), "1");
    assert_string_equal(vpn_dscp_str(42, b), "42");
    assert_false(vpn_dscp_parse("AF51", &v));
    assert_false(vpn_dscp_parse("AF14", &v));
    assert_false(vpn_dscp_parse("CS8", &v));
    assert_false(vpn_dscp_parse("64", &v));
    assert_false(vpn_dscp_parse("", &v));
    assert_false(vpn_dscp_parse("4x", &v));
    assert_false(vpn_dscp_parse("007", &v));
}

static void test_names(void **st)
{
    (void)st;
    enum vpn_sec_type s;
    enum vpn_enc_alg e;
    enum vpn_integ_alg i;
    enum vpn_gw_type g;
    assert_true(vpn_sec_parse("encap-only", &s));
    assert_int_equal(s, VPN_SEC_ENCAP);
    assert_true(vpn_sec_parse("AH", &s));
    assert_int_equal(s, VPN_SEC_AH);
    assert_false(vpn_sec_parse("gre", &s));
    assert_true(vpn_enc_parse("aes-gcm-128", &e));
    assert_int_equal(e, VPN_ENC_AES_GCM_128);
    assert_true(vpn_enc_parse("rfc4106(gcm(aes))", &e));
    assert_false(vpn_enc_parse("des", &e));
    assert_true(vpn_integ_parse("hmac-sha1", &i));
    assert_int_equal(i, VPN_INTEG_HMAC_SHA1);
    assert_true(vpn_gw_type_parse("dynamic", &g));
    assert_int_equal(g, VPN_GW_DYNAMIC);
    assert_false(vpn_gw_type_parse(NULL, &g));
    assert_string_equal(vpn_sec_str(VPN_SEC_ENCAP), "encap-only");
    assert_string_equal(vpn_enc_str(VPN_ENC_AES_CBC_256), "aes-cbc-256");
    assert_string_equal(vpn_integ_str(VPN_INTEG_NONE), "none");
    assert_string_equal(vpn_leg_str(VPN_LEG_FA_PCN), "fa-pcn");
    assert_int_equal(vpn_enc_key_len(VPN_ENC_AES_GCM_128), 20);
    assert_int_equal(vpn_integ_key_len(VPN_INTEG_HMAC_SHA256), 32);
}

static void test_prefix(void **st)
{
    (void)st;
    struct vpn_prefix p;
    char b[20];
    assert_true(vpn_prefix_parse("0.0.0.0/0", &p));
    assert_int_equal(p.len, 0);
    assert_true(vpn_prefix_parse("192.0.2.1", &p));
    assert_int_equal(p.len, 32);
    assert_string_equal(vpn_prefix_str(&p, b), "192.0.2.1/32");
    assert_false(vpn_prefix_parse("10.0.0.1/24", &p)); /* host bits */
    assert_false(vpn_prefix_parse("10.0.0.0/33", &p));
    assert_false(vpn_prefix_parse("10.0.0.0/", &p));
    assert_false(vpn_prefix_parse("10.0.0.0/-1", &p));
    assert_false(vpn_prefix_parse("10.0.0/8", &p));
    assert_false(vpn_prefix_parse("1.0.0.0/8x", &p));
}

static void expect_invalid(const struct vpn_profile *p, const char *needle)
{
    char err[VPN_ERR_MAX];
    assert_false(vpn_profile_validate(p, err, sizeof(err)));
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_validate(void **st)
{
    (void)st;
    struct vpn_profile p;
    char err[VPN_ERR_MAX];
    mk(&p);
    assert_true(vpn_profile_validate(&p, err, sizeof(err)));

    mk(&p);
    p.spi_up = 0;
    expect_invalid(&p, "profile 3: SPI up 0 is reserved (RFC 4303 §2.1");
    mk(&p);
    p.spi_down = 255;
    expect_invalid(&p, "SPI down 255 is reserved");
    mk(&p);
    p.spi_down = p.spi_up;
    expect_invalid(&p, "must differ");
    mk(&p);
    p.dscp_down = 64;
    expect_invalid(&p, "DSCP down 64");
    mk(&p);
    p.dst.addr.s_addr = htonl(0xac103201); /* 172.16.50.1/24 */
    expect_invalid(&p, "host bits");
    mk(&p);
    p.enc_alg = VPN_ENC_AES_GCM_128;
    expect_invalid(&p, "combined mode");
    p.integ_alg = VPN_INTEG_NONE;
    assert_true(vpn_profile_validate(&p, err, sizeof(err)));
    mk(&p);
    p.integ_alg = VPN_INTEG_NONE;
    expect_invalid(&p, "without integrity");
    mk(&p);
    p.enc_alg = VPN_ENC_NULL;
    p.integ_alg = VPN_INTEG_NONE;
    expect_invalid(&p, "null encryption and no integrity");
    mk(&p);
    p.sec = VPN_SEC_AH;
    expect_invalid(&p, "AH cannot encrypt");
    p.enc_alg = VPN_ENC_NULL;
    assert_true(vpn_profile_validate(&p, err, sizeof(err)));
    mk(&p);
    p.sec = VPN_SEC_ENCAP;
    expect_invalid(&p, "encap-only takes no algorithms");
    p.enc_alg = VPN_ENC_NULL;
    p.integ_alg = VPN_INTEG_NONE;
    expect_invalid(&p, "no SPI");
    p.spi_up = p.spi_down = 0;
    assert_true(vpn_profile_validate(&p, err, sizeof(err)));
    mk(&p);
    p.vpnshare = 0;
    p.spi_up = p.spi_down = 0; /* default SA */
    assert_true(vpn_profile_validate(&p, err, sizeof(err)));
    p.spi_up = 7;
    expect_invalid(&p, "SPI up 7 is reserved");
    p.spi_up = 0;
    p.has_keys = true;
    expect_invalid(&p, "vpnshare 0");
    mk(&p);
    p.vpnshare = 2;
    expect_invalid(&p, "vpnshare 2");
    mk(&p);
    p.sec = 9;
    expect_invalid(&p, "unknown security type 9");
    mk(&p);
    p.leg = VPN_LEG_FA_HA;
    expect_invalid(&p, "gateway is 0.0.0.0");
    p.src_gw.s_addr = htonl(0xc0000201);
    p.dst_gw = p.src_gw;
    expect_invalid(&p, "the same");
    mk(&p);
    assert_true(vpn_profile_set_nai(&p, ""));
    expect_invalid(&p, "NAI length");
    vpn_profile_clear(&p);
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void test_keys_and_json(void **st)
{
    (void)st;
    struct vpn_profile p, q;
    mk(&p);
    assert_true(vpn_profile_set_nai(&p, "alice@home.example"));
    assert_true(vpn_profile_generate_keys(&p));
    assert_true(p.has_keys);
    assert_false(all_zero(p.key_up.enc, 16));
    assert_false(all_zero(p.key_down.integ, 32));
    assert_true(all_zero(p.key_up.enc + 16, VPN_ENC_KEY_MAX - 16));
    assert_memory_not_equal(p.key_up.enc, p.key_down.enc, 16);

    char hex[8];
    snprintf(hex, sizeof(hex), "%02x%02x%02x", p.key_up.enc[0], p.key_up.enc[1], p.key_up.enc[2]);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vpn_profile_json(&p, false, f);
    fclose(f);
    assert_non_null(strstr(buf, "\"keys\":\"<redacted>\""));
    assert_non_null(strstr(buf, "\"nai\":\"alice@home.example\""));
    assert_non_null(strstr(buf, "\"dscp_up\":\"EF\""));
    assert_non_null(strstr(buf, "\"dst\":\"172.16.50.0/24\""));
    assert_null(strstr(buf, hex));
    free(buf);
    f = open_memstream(&buf, &len);
    vpn_profile_json(&p, true, f);
    fclose(f);
    assert_non_null(strstr(buf, "\"enc_up\":\""));
    assert_non_null(strstr(buf, hex));
    free(buf);

    assert_true(vpn_profile_copy(&q, &p));
    assert_ptr_not_equal(q.nai, p.nai);
    assert_string_equal(q.nai, p.nai);
    assert_memory_equal(&q.key_down, &p.key_down, sizeof(p.key_down));
    vpn_profile_clear(&q);
    assert_null(q.nai);
    assert_true(all_zero((const uint8_t *)&q.key_up, sizeof(q.key_up)));

    /* vpnshare 0 / encap-only need no keys (seed [0038]) */
    p.vpnshare = 0;
    assert_false(vpn_profile_needs_keys(&p));
    assert_false(vpn_profile_generate_keys(&p));
    vpn_profile_clear(&p);

    /* JSON escaping of hostile NAIs */
    mk(&p);
    assert_true(vpn_profile_set_nai(&p, "a\"b\\c\n"));
    f = open_memstream(&buf, &len);
    vpn_profile_json(&p, false, f);
    fclose(f);
    assert_non_null(strstr(buf, "\"a\\\"b\\\\c\\u000a\""));
    assert_non_null(strstr(buf, "\"keys\":\"none\""));
    free(buf);
    vpn_profile_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dscp),          cmocka_unit_test(test_names),
        cmocka_unit_test(test_prefix),        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_keys_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
