/* Configuration: valid files load; every bad value names FILE:LINE and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static const char *good_ha =
    "vendor_id = 32473;\ncontrol_socket = \"/run/x.sock\";\nlog_level = \"debug\";\n"
    "ha: {\n address = \"10.10.0.1\";\n home_link = \"home0\";\n max_lifetime = 300;\n"
    " mobile_nodes = (\n  { nai = \"a@h\"; home_address = \"10.10.0.100\"; spi = 256;\n"
    "    key = \"00112233445566778899aabbccddeeff\"; }\n );\n};\n";

static void test_good_ha(void **st)
{
    (void)st;
    struct mipd_config c;
    char err[256] = "";
    assert_int_equal(config_load_string(&c, good_ha, "ha.conf", ROLE_HA, err, sizeof(err)), 0);
    assert_int_equal(c.ha.n_mns, 1);
    assert_int_equal(c.ha.mns[0].sa.spi, 256);
    assert_int_equal(c.ha.mns[0].sa.keylen, 16);
    assert_int_equal(c.ha.mns[0].sa.key[15], 0xff);
    assert_int_equal(c.ha.max_lifetime, 300);
    assert_int_equal(c.ha.replay_window, 7); /* default */
    assert_true(c.ha.reverse_tunnel);
    assert_int_equal(c.log_level, LOG_LVL_DEBUG);
    assert_string_equal(c.ctl_path, "/run/x.sock");
    config_free(&c);
}

/* Replaces the first occurrence of from in good_ha by to and expects err. */
static void expect_error(const char *base, enum mipd_role role, const char *from, const char *to,
                         const char *expected)
{
    char text[2048];
    const char *p = strstr(base, from);
    assert_non_null(p);
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
    struct mipd_config c;
    char err[256] = "";
    assert_int_equal(config_load_string(&c, text, "t.conf", role, err, sizeof(err)), -1);
    if (!strstr(err, expected))
        fail_msg("got \"%s\", expected it to contain \"%s\"", err, expected);
}

static void test_bad_values_name_the_line(void **st)
{
    (void)st;
    expect_error(good_ha, ROLE_HA, "\"10.10.0.1\"", "\"10.10.0.300\"",
                 "t.conf:5: 'address': \"10.10.0.300\" is not an IPv4 address");
    expect_error(good_ha, ROLE_HA, "max_lifetime = 300", "max_lifetime = 70000",
                 "t.conf:7: 'max_lifetime' = 70000 is out of range");
    expect_error(good_ha, ROLE_HA, "spi = 256", "spi = 12",
                 "t.conf:9: 'spi' = 12 is out of range [256,");
    expect_error(good_ha, ROLE_HA, "\"00112233445566778899aabbccddeeff\"", "\"0011\"",
                 "t.conf:10: 'key' must be 32 to 128 hex digits");
    expect_error(good_ha, ROLE_HA, "\"00112233445566778899aabbccddeeff\"",
                 "\"0011223344556677889zaabbccddeeff\"", "t.conf:10: 'key' has a non-hex");
    expect_error(good_ha, ROLE_HA, "log_level = \"debug\"", "log_level = \"loud\"",
                 "t.conf:3: 'log_level' must be one of");
    expect_error(good_ha, ROLE_HA, "vendor_id = 32473;", "vendorid = 1;",
                 "t.conf:1: unknown setting 'vendorid'");
    expect_error(good_ha, ROLE_HA, " home_link = \"home0\";\n", "", "missing 'home_link'");
    expect_error(good_ha, ROLE_HA, "ha: {", "ha: { reverse_tunnel = 1;",
                 "'reverse_tunnel' must be true or false");
    /* Syntax errors carry the parser's line. */
    expect_error(good_ha, ROLE_HA, "max_lifetime = 300;", "max_lifetime = ;", "t.conf:7:");
    /* The FA role needs its own group. */
    expect_error(good_ha, ROLE_FA, "vendor_id", "vendor_id", "missing group 'fa");
}

static void test_duplicates_rejected(void **st)
{
    (void)st;
    expect_error(good_ha, ROLE_HA, " );\n};",
                 ",{ nai = \"a@h\"; home_address = \"10.10.0.101\"; spi = 257;\n"
                 "    key = \"00112233445566778899aabbccddeeff\"; } );\n};",
                 "t.conf:11: duplicate nai \"a@h\"");
}

static void test_good_fa(void **st)
{
    (void)st;
    const char *fa = "fa: { address = \"192.0.2.11\"; access_links = ( { interface = \"acc0\"; },"
                     " { interface = \"acc1\"; } ); reg_timeout_ms = 500; challenge = false;"
                     " ha_peers = ( { address = \"10.10.0.1\"; spi = 300;"
                     " key = \"00112233445566778899aabbccddeeff\"; } ); };";
    struct mipd_config c;
    char err[256] = "";
    assert_int_equal(config_load_string(&c, fa, "fa.conf", ROLE_FA, err, sizeof(err)), 0);
    assert_int_equal(c.fa.n_links, 2);
    assert_string_equal(c.fa.links[1], "acc1");
    assert_int_equal(c.fa.reg_timeout_ms, 500);
    assert_false(c.fa.challenge);
    assert_int_equal(c.fa.n_ha_peers, 1);
    assert_int_equal(c.fa.adv_interval_ms, 1000);
    config_free(&c);
    expect_error(fa, ROLE_FA, "access_links = ( { interface = \"acc0\"; }, { interface = \"acc1\"; } )",
                 "access_links = ( )", "'access_links' must be a non-empty list");
}

static void test_missing_file(void **st)
{
    (void)st;
    struct mipd_config c;
    char err[256] = "";
    assert_int_equal(config_load(&c, "/nonexistent/mipd.conf", ROLE_HA, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/mipd.conf: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_ha),
        cmocka_unit_test(test_bad_values_name_the_line),
        cmocka_unit_test(test_duplicates_rejected),
        cmocka_unit_test(test_good_fa),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
