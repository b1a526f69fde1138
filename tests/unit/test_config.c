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
    expect_error(fa, ROLE_FA,
                 "access_links = ( { interface = \"acc0\"; }, { interface = \"acc1\"; } )",
                 "access_links = ( )", "'access_links' must be a non-empty list");
}

static const char *good_pcn =
    "identity = \"pcn.partner.example\";\n"
    "pcn: {\n address = \"192.0.2.70\";\n serves = ( \"172.16.60.0/24\", \"172.16.61.0/24\" );\n"
    " replay_window = 9;\n"
    " ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
    "   key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } );\n};\n";

static void test_good_pcn(void **st)
{
    (void)st;
    struct mipd_config c;
    char err[256] = "";
    assert_int_equal(config_load_string(&c, good_pcn, "pcn.conf", ROLE_PCN, err, sizeof(err)), 0);
    assert_string_equal(c.identity, "pcn.partner.example");
    assert_string_equal(c.ctl_path, "/run/mipd-pcn.sock");
    assert_int_equal(c.pcn.n_serves, 2);
    assert_int_equal(c.pcn.serves[1].len, 24);
    assert_int_equal(c.pcn.replay_window, 9);
    assert_int_equal(c.pcn.n_ha_peers, 1);
    assert_int_equal(c.pcn.ha_peers[0].sa.spi, 4096);
    assert_int_equal(c.pcn.ha_peers[0].sa.keylen, 32);
    config_free(&c);
    assert_string_equal(mipd_role_str(ROLE_PCN), "pcn");
}

static void test_pcn_errors(void **st)
{
    (void)st;
    expect_error(good_pcn, ROLE_PCN, "\"172.16.61.0/24\"", "\"172.16.61.1/24\"",
                 "t.conf:4: \"172.16.61.1/24\" has host bits set (did you mean 172.16.61.0/24?)");
    expect_error(good_pcn, ROLE_PCN, "\"172.16.61.0/24\"", "\"172.16.61.0/33\"",
                 "t.conf:4: \"172.16.61.0/33\": prefix length must be 0..32");
    expect_error(good_pcn, ROLE_PCN, "\"172.16.61.0/24\"", "\"172.16.60.0/24\"",
                 "t.conf:4: served prefix listed twice");
    /* RFC 4868: 32-octet HMAC-SHA-256 keys */
    expect_error(good_pcn, ROLE_PCN, "101112131415161718191a1b1c1d1e1f\"", "\"",
                 "t.conf:7: 'key' must be 64 to 128 hex digits");
    expect_error(good_pcn, ROLE_PCN, " replay_window = 9;", " replay_windw = 9;",
                 "t.conf:5: unknown setting 'replay_windw' in pcn");
    expect_error(good_pcn, ROLE_PCN, "spi = 4096;", "spi = 4096; port = 1;",
                 "t.conf:6: unknown setting 'port' in ha_peers");
    expect_error(good_pcn, ROLE_PCN, " ha_peers = (", " ha_peerz = (",
                 "t.conf:6: unknown setting 'ha_peerz' in pcn");
    expect_error(good_pcn, ROLE_PCN, "pcn: {", "pcx: {", "t.conf:2: unknown setting 'pcx'");
    expect_error(good_ha, ROLE_PCN, "vendor_id", "vendor_id",
                 "missing group 'pcn: { ... };' for role pcn");
}

static const char *good_dsa =
    "pcn: {\n address = \"192.0.2.70\";\n"
    " ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
    "   key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } );\n"
    " default_sas = (\n"
    "  { peer = \"192.0.2.11\"; spi_out = 512; spi_in = 513; sec = \"esp\";\n"
    "    enc = \"aes-cbc-128\"; integ = \"hmac-sha256\";\n"
    "    key_out = \"00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1f\";\n"
    "    key_in = \"ffeeddccbbaa99887766554433221100202122232425262728292a2b2c2d2e2f"
    "303132333435363738393a3b3c3d3e3f\"; },\n"
    "  { peer = \"192.0.2.12\"; spi_out = 600; spi_in = 601; enc = \"aes-gcm-128\";\n"
    "    key_out = \"0102030405060708090a0b0c0d0e0f1011121314\";\n"
    "    key_in = \"1112131415161718191a1b1c1d1e1f2021222324\"; }\n"
    " );\n};\n";

/* default_sas (vpnshare 0, seed [0062]): keys = encryption key then
 * integrity key, exactly as long as the algorithms need. */
static void test_default_sas(void **st)
{
    (void)st;
    struct mipd_config c;
    char err[256] = "";
    if (config_load_string(&c, good_dsa, "pcn.conf", ROLE_PCN, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.n_default_sas, 2);
    struct mipd_default_sa *d = &c.default_sas[0];
    assert_int_equal(d->spi_out, 512);
    assert_int_equal(d->spi_in, 513);
    assert_int_equal(d->sec, VPN_SEC_ESP);
    assert_int_equal(d->enc_alg, VPN_ENC_AES_CBC_128);
    assert_int_equal(d->integ_alg, VPN_INTEG_HMAC_SHA256);
    assert_int_equal(d->key_out.enc[0], 0x00);
    assert_int_equal(d->key_out.enc[15], 0xff);
    assert_int_equal(d->key_out.integ[0], 0x00);
    assert_int_equal(d->key_out.integ[31], 0x1f);
    assert_int_equal(d->key_in.enc[0], 0xff);
    assert_int_equal(c.default_sas[1].enc_alg, VPN_ENC_AES_GCM_128);
    assert_int_equal(c.default_sas[1].integ_alg, VPN_INTEG_NONE); /* AEAD */
    assert_int_equal(c.default_sas[1].key_in.enc[19], 0x24);
    config_free(&c);

    expect_error(good_dsa, ROLE_PCN, "spi_out = 512", "spi_out = 255",
                 "t.conf:6: 'spi_out' = 255 is out of range [256,");
    expect_error(good_dsa, ROLE_PCN, "sec = \"esp\"", "sec = \"encap-only\"",
                 "t.conf:6: 'sec' must be \"esp\" or \"ah\"");
    expect_error(good_dsa, ROLE_PCN, "enc = \"aes-cbc-128\"", "enc = \"des\"",
                 "t.conf:7: 'enc' must be aes-cbc-128");
    expect_error(good_dsa, ROLE_PCN,
                 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\";\n"
                 "    key_in",
                 "\";\n    key_in",
                 "t.conf:8: 'key_out' must be 96 hex digits (16 octets of aes-cbc-128 key then 32 "
                 "of hmac-sha256 key), not 32");
    expect_error(good_dsa, ROLE_PCN, "\"ffeedd", "\"xfeedd",
                 "t.conf:9: 'key_in' has a non-hex character at position 0");
    expect_error(good_dsa, ROLE_PCN, "peer = \"192.0.2.12\"", "peer = \"192.0.2.11\"",
                 "t.conf:10: default_sas: peer 192.0.2.11 is listed twice");
    expect_error(good_dsa, ROLE_PCN, "enc = \"aes-gcm-128\";",
                 "enc = \"aes-gcm-128\"; integ = \"hmac-sha1\";",
                 "t.conf:10: 'integ' must be \"none\" (or absent) with enc \"aes-gcm-128\"");
    expect_error(good_dsa, ROLE_PCN, "spi_in = 601;", "spi_in = 601; lifetime = 5;",
                 "t.conf:10: unknown setting 'lifetime' in default_sas");
    expect_error(good_dsa, ROLE_PCN, "spi_in = 601;", "",
                 "t.conf:10: missing 'spi_out' or 'spi_in'");
    expect_error(good_dsa, ROLE_PCN, "sec = \"esp\";", "sec = \"ah\";",
                 "t.conf:6: sec \"ah\" needs enc \"null\" and an integrity algorithm");
}

static void test_aaa_sections(void **st)
{
    (void)st;
    const char *ha =
        "ha: {\n address = \"10.10.0.1\";\n home_link = \"home0\";\n"
        " aaa = { diameter_conf = \"/dev/null\"; };\n"
        " pcn_peers = ( { address = \"192.0.2.70\"; spi = 4096;\n"
        "   key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } );\n"
        " bu_timeout_ms = 500;\n bu_retries = 4;\n};\n";
    struct mipd_config c;
    char err[256] = "";
    assert_int_equal(config_load_string(&c, ha, "ha.conf", ROLE_HA, err, sizeof(err)), 0);
    assert_true(c.ha.aaa.enabled);
    assert_string_equal(c.ha.aaa.diameter_conf, "/dev/null");
    assert_int_equal(c.ha.n_mns, 0); /* AAA mode: no mobile_nodes needed */
    assert_int_equal(c.ha.n_pcn_peers, 1);
    assert_int_equal(c.ha.bu_timeout_ms, 500);
    assert_int_equal(c.ha.bu_retries, 4);
    config_free(&c);
    assert_int_equal(config_load_string(&c, good_ha, "ha.conf", ROLE_HA, err, sizeof(err)), 0);
    assert_false(c.ha.aaa.enabled);
    assert_int_equal(c.ha.bu_timeout_ms, 1000); /* FLOWS: 1 s, doubling, 3 tries */
    assert_int_equal(c.ha.bu_retries, 3);
    config_free(&c);
    expect_error(ha, ROLE_HA, "\"/dev/null\"", "\"/nonexistent/fd.conf\"",
                 "t.conf:4: diameter_conf \"/nonexistent/fd.conf\": No such file or directory");
    expect_error(ha, ROLE_HA, "diameter_conf = \"/dev/null\";", "timeout_ms = 5;",
                 "t.conf:4: unknown setting 'timeout_ms' in aaa");
    expect_error(ha, ROLE_HA, "diameter_conf = \"/dev/null\";", "",
                 "t.conf:4: missing 'diameter_conf'");
    expect_error(ha, ROLE_HA, "bu_retries = 4", "bu_retries = 0",
                 "t.conf:8: 'bu_retries' = 0 is out of range [1, 10]");
    expect_error(ha, ROLE_HA, "key = \"000102", "key = \"0001",
                 "t.conf:6: 'key' must be 64 to 128 hex digits");

    const char *fa =
        "fa: {\n address = \"192.0.2.11\";\n access_links = ( { interface = \"acc0\"; } );\n"
        " challenge = true;\n aaa = { diameter_conf = \"/dev/null\"; timeout_ms = 7000; };\n};\n";
    assert_int_equal(config_load_string(&c, fa, "fa.conf", ROLE_FA, err, sizeof(err)), 0);
    assert_true(c.fa.aaa.enabled);
    assert_int_equal(c.fa.aaa.timeout_ms, 7000);
    config_free(&c);
    expect_error(fa, ROLE_FA, "timeout_ms = 7000", "timeout_ms = 50",
                 "t.conf:5: 'timeout_ms' = 50 is out of range [100, 600000]");
    expect_error(fa, ROLE_FA, "challenge = true", "challenge = false",
                 "t.conf:4: 'challenge' must be true in AAA mode");
    expect_error(fa, ROLE_FA, "aaa = {", "aaa = 3; x = {", "t.conf:5: 'aaa' must be a group");
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
        cmocka_unit_test(test_good_pcn),
        cmocka_unit_test(test_pcn_errors),
        cmocka_unit_test(test_aaa_sections),
        cmocka_unit_test(test_default_sas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
