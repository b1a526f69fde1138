/* Home agent registration logic against the recorder dataplane. */
#include "agent_harness.h"

static const char *ha_conf =
    "ha: { address = \"10.10.0.1\"; home_link = \"home0\"; max_lifetime = 300;\n"
    "  replay_window = 7;\n"
    "  mobile_nodes = (\n"
    "   { nai = \"alice@home.example\"; home_address = \"10.10.0.100\"; spi = 256;\n"
    "     key = \"00112233445566778899aabbccddeeff\"; },\n"
    "   { nai = \"bob@home.example\"; home_address = \"10.10.0.101\"; spi = 257;\n"
    "     key = \"ffeeddccbbaa99887766554433221100\"; } ); };\n";

static const uint8_t bob_key[16] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
                                    0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};

static struct harness *ha_new(const char *extra_conf)
{
    char conf[2048];
    snprintf(conf, sizeof(conf), "%s%s", ha_conf, extra_conf ? extra_conf : "");
    struct harness *h = h_new(conf, ROLE_HA);
    assert_int_equal(ha_init(&h->a), 0);
    return h;
}

static struct pkt_addr fa1 = {.port = 434};

static void send_rrq(struct harness *h, const struct h_rrq *r)
{
    uint8_t buf[1024];
    size_t n = h_build_rrq(r, buf, sizeof(buf));
    fa1.addr = h_ip("192.0.2.11");
    ha_rx(&h->a, &fa1, buf, n);
}

static struct h_rrq alice(const char *coa, uint16_t lifetime, unsigned low)
{
    struct h_rrq r = {.nai = "alice@home.example", .hoa = "10.10.0.100", .ha = "10.10.0.1",
                      .coa = coa, .lifetime = lifetime, .ident = h_ident(low), .key = h_key,
                      .keylen = 16, .spi = 256};
    return r;
}

static void last_code(struct harness *h, uint8_t code)
{
    struct mip_reg_reply rp = h_reply(h, h->n_tx - 1);
    assert_int_equal(rp.code, code);
}

static void test_accept_programs_kernel(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 600, 1);
    send_rrq(h, &r);
    assert_int_equal(h->n_tx, 1);
    struct mip_reg_reply rp = h_reply(h, 0);
    assert_int_equal(rp.code, 0);
    assert_int_equal(rp.lifetime, 300); /* capped to max_lifetime */
    assert_int_equal(rp.identification, r.ident);
    assert_true(rp.ext.has_nai);
    assert_true(rp.ext.mn_ha.present);
    assert_true(mip_verify_auth_hmac_md5(h->tx[0].buf, &rp.ext.mn_ha, h_key, 16));
    assert_int_equal(h->tx[0].to.addr.s_addr, h_ip("192.0.2.11").s_addr);
    assert_int_equal(ha_binding_count(&h->a), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_ROUTE), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_PROXY_ARP), 1);
    const char *log = dp_recorder_log(h->a.dp);
    assert_non_null(strstr(log, "garp home0 10.10.0.100"));
    assert_non_null(strstr(log, "send_redirects"));
    h_free(h);
}

static void test_bad_key_131(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    r.key = bob_key;
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_MN_AUTH_FAILED);
    assert_int_equal(ha_binding_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    assert_int_equal(h->a.cnt.rrq_auth_failed, 1);
    h_free(h);
}

static void test_missing_auth_and_unknown_nai(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    r.key = NULL;
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_MN_AUTH_FAILED);
    r = alice("192.0.2.11", 60, 2);
    r.nai = "mallory@home.example";
    send_rrq(h, &r);
    struct mip_reg_reply rp = h_reply(h, 1);
    assert_int_equal(rp.code, MIP_CODE_HA_MN_AUTH_FAILED);
    assert_false(rp.ext.mn_ha.present); /* no key to authenticate with */
    assert_int_equal(ha_binding_count(&h->a), 0);
    h_free(h);
}

static void test_replay_and_stale_133(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 60, 5);
    send_rrq(h, &r);
    last_code(h, 0);
    send_rrq(h, &r); /* the same request again */
    last_code(h, MIP_CODE_HA_ID_MISMATCH);
    struct mip_reg_reply rp = h_reply(h, 1);
    /* RFC 5944 §5.7: high 32 bits resynchronised to the HA's clock, low copied. */
    assert_int_equal(rp.identification >> 32, h_ntp_value);
    assert_int_equal((uint32_t)rp.identification, 5);
    struct h_rrq old = alice("192.0.2.11", 60, 6);
    old.ident = (h_ntp_value - 100) << 32 | 6;
    send_rrq(h, &old);
    last_code(h, MIP_CODE_HA_ID_MISMATCH);
    assert_int_equal(h->a.cnt.rrq_id_mismatch, 2);
    assert_int_equal(ha_binding_count(&h->a), 1);
    h_free(h);
}

static void test_precise_denials(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    r.ha = "10.10.0.2";
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_UNKNOWN_HA);
    assert_int_equal(h_reply(h, 0).home_agent.s_addr, h_ip("10.10.0.1").s_addr);
    r = alice("192.0.2.11", 60, 2);
    r.flags = MIP_RRQ_FLAG_M;
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_ENCAP_UNAVAILABLE);
    r = alice("192.0.2.11", 60, 3);
    r.hoa = "10.10.0.101"; /* bob's address under alice's NAI */
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_ADMIN_PROHIBITED);
    assert_int_equal(ha_binding_count(&h->a), 0);
    assert_int_equal(h->a.cnt.denied_by_code[MIP_CODE_HA_UNKNOWN_HA], 1);
    h_free(h);
}

static void test_revtun_disabled_137(void **st)
{
    (void)st;
    const char *conf =
        "ha: { address = \"10.10.0.1\"; home_link = \"home0\"; reverse_tunnel = false;\n"
        "  mobile_nodes = ( { nai = \"alice@home.example\"; home_address = \"10.10.0.100\";\n"
        "   spi = 256; key = \"00112233445566778899aabbccddeeff\"; } ); };\n";
    struct harness *h = h_new(conf, ROLE_HA);
    assert_int_equal(ha_init(&h->a), 0);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    r.flags = MIP_RRQ_FLAG_T;
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_REVTUN_UNAVAILABLE);
    h_free(h);
}

static void test_malformed_134(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    uint8_t buf[1024];
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    size_t n = h_build_rrq(&r, buf, sizeof(buf));
    /* Unknown non-skippable extension (type 99) appended: RFC 5944 §1.9. */
    buf[n++] = 99;
    buf[n++] = 0;
    fa1.addr = h_ip("192.0.2.11");
    ha_rx(&h->a, &fa1, buf, n);
    last_code(h, MIP_CODE_HA_POORLY_FORMED_REQUEST);
    assert_int_equal(h->a.cnt.rrq_malformed, 1);
    /* Too short to answer: dropped and counted. */
    ha_rx(&h->a, &fa1, buf, 10);
    assert_int_equal(h->n_tx, 1);
    assert_int_equal(h->a.cnt.rrq_malformed, 2);
    h_free(h);
}

static void test_move_and_shared_tunnel(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    send_rrq(h, &r);
    struct h_rrq b = {.nai = "bob@home.example", .hoa = "10.10.0.101", .ha = "10.10.0.1",
                      .coa = "192.0.2.11", .lifetime = 60, .ident = h_ident(1), .key = bob_key,
                      .keylen = 16, .spi = 257};
    send_rrq(h, &b);
    last_code(h, 0);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_TUNNEL), 1); /* shared by both MNs */
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_ROUTE), 2);
    h_advance(h, 1000);
    r = alice("192.0.2.12", 60, 2); /* alice moves to FA2 */
    send_rrq(h, &r);
    last_code(h, 0);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_TUNNEL), 2);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_ROUTE), 2);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_PROXY_ARP), 2);
    /* bob deregisters: the tunnel to FA1 goes with him. */
    h_advance(h, 1000);
    b.lifetime = 0;
    b.ident = h_ident(2);
    send_rrq(h, &b);
    last_code(h, 0);
    assert_int_equal(h_reply(h, h->n_tx - 1).lifetime, 0);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_PROXY_ARP), 1);
    assert_int_equal(ha_binding_count(&h->a), 1);
    h_free(h);
}

static void test_expiry_removes_everything(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 10, 1);
    send_rrq(h, &r);
    last_code(h, 0);
    h_advance(h, 9000);
    assert_int_equal(ha_binding_count(&h->a), 1);
    h_advance(h, 1500);
    assert_int_equal(ha_binding_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    assert_int_equal(h->a.cnt.expirations, 1);
    /* Re-registration refreshes the timer. */
    r = alice("192.0.2.11", 10, 2);
    send_rrq(h, &r);
    h_advance(h, 8000);
    r = alice("192.0.2.11", 10, 3);
    send_rrq(h, &r);
    h_advance(h, 8000);
    assert_int_equal(ha_binding_count(&h->a), 1);
    h_free(h);
}

static void test_fa_ha_auth_132(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    ha_fini(&h->a);
    config_free(&h->cfg);
    char conf[2048];
    snprintf(conf, sizeof(conf), "%s",
             "ha: { address = \"10.10.0.1\"; home_link = \"home0\";\n"
             "  mobile_nodes = ( { nai = \"alice@home.example\"; home_address = \"10.10.0.100\";\n"
             "   spi = 256; key = \"00112233445566778899aabbccddeeff\"; } );\n"
             "  fa_peers = ( { address = \"192.0.2.11\"; spi = 300;\n"
             "   key = \"0102030405060708090a0b0c0d0e0f10\"; } ); };\n");
    char err[256];
    assert_int_equal(config_load_string(&h->cfg, conf, "t", ROLE_HA, err, sizeof(err)), 0);
    assert_int_equal(ha_init(&h->a), 0);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    send_rrq(h, &r); /* no FA-HA authenticator */
    last_code(h, MIP_CODE_HA_FA_AUTH_FAILED);
    /* With the FA-HA authenticator appended it is accepted, and the reply has one. */
    uint8_t buf[1024];
    r = alice("192.0.2.11", 60, 2);
    size_t n = h_build_rrq(&r, buf, sizeof(buf));
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    w.len = n;
    static const uint8_t fk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, 300, fk, 16);
    ha_rx(&h->a, &fa1, buf, w.len);
    struct mip_reg_reply rp = h_reply(h, h->n_tx - 1);
    assert_int_equal(rp.code, 0);
    assert_true(rp.ext.fa_ha.present);
    assert_true(mip_verify_auth_hmac_md5(h->tx[h->n_tx - 1].buf, &rp.ext.fa_ha, fk, 16));
    h_free(h);
}

static void test_kernel_failure_130(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    dp_recorder_fail_next(h->a.dp, -1);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    send_rrq(h, &r);
    last_code(h, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(ha_binding_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    h_free(h);
}

static void test_simultaneous_bindings_code_1(void **st)
{
    (void)st;
    struct harness *h = ha_new(NULL);
    struct h_rrq r = alice("192.0.2.11", 60, 1);
    r.flags = MIP_RRQ_FLAG_S;
    send_rrq(h, &r);
    last_code(h, MIP_CODE_ACCEPTED_NO_SIMUL);
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_programs_kernel),
        cmocka_unit_test(test_bad_key_131),
        cmocka_unit_test(test_missing_auth_and_unknown_nai),
        cmocka_unit_test(test_replay_and_stale_133),
        cmocka_unit_test(test_precise_denials),
        cmocka_unit_test(test_revtun_disabled_137),
        cmocka_unit_test(test_malformed_134),
        cmocka_unit_test(test_move_and_shared_tunnel),
        cmocka_unit_test(test_expiry_removes_everything),
        cmocka_unit_test(test_fa_ha_auth_132),
        cmocka_unit_test(test_kernel_failure_130),
        cmocka_unit_test(test_simultaneous_bindings_code_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
