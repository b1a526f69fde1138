/* Foreign agent logic: advertisements, relaying, visitors, timeouts. */
#include "agent_harness.h"

static const char *fa_conf_fmt =
    "fa: { address = \"192.0.2.11\"; access_links = ( { interface = \"acc0\"; } );\n"
    "  adv_interval_ms = 1000; max_lifetime = 600; reg_timeout_ms = 3000;\n"
    "  reverse_tunnel = %s; challenge = true; %s };\n";

#define ACC_IFINDEX 7

static struct harness *fa_new_opts(const char *revtun, const char *extra)
{
    char conf[1024];
    snprintf(conf, sizeof(conf), fa_conf_fmt, revtun, extra);
    struct harness *h = h_new(conf, ROLE_FA);
    assert_int_equal(fa_init(&h->a), 0);
    fa_set_icmp_tx(&h->a, h_icmp_fn, h);
    fa_set_link_info(&h->a, 0, ACC_IFINDEX, h_ip("10.21.0.1"));
    loop_run_once(h->a.loop, 0); /* first advertisement goes out at once */
    return h;
}

static struct harness *fa_new(void)
{
    return fa_new_opts("true", "");
}

static struct mip_agent_adv last_adv(struct harness *h)
{
    assert_true(h->n_icmp > 0);
    struct mip_agent_adv adv;
    assert_int_equal(mip_get_agent_adv(h->icmp[h->n_icmp - 1].buf, h->icmp[h->n_icmp - 1].len,
                                       &adv),
                     MIP_OK);
    return adv;
}

static struct pkt_addr mn_from(void)
{
    struct pkt_addr p = {.addr = h_ip("10.10.0.100"), .port = 40000, .ifindex = ACC_IFINDEX};
    return p;
}

static struct h_rrq alice_rrq(struct harness *h, uint16_t lifetime, unsigned low, uint8_t flags)
{
    struct mip_agent_adv adv = last_adv(h);
    static uint8_t chal[MIP_CHALLENGE_MAX];
    memcpy(chal, adv.challenge, adv.challenge_len);
    struct h_rrq r = {.nai = "alice@home.example", .hoa = "10.10.0.100", .ha = "10.10.0.1",
                      .coa = "192.0.2.11", .lifetime = lifetime, .flags = flags,
                      .ident = h_ident(low), .key = h_key, .keylen = 16, .spi = 256,
                      .challenge = chal, .challen = adv.challenge_len};
    return r;
}

static void mn_send(struct harness *h, const struct h_rrq *r)
{
    uint8_t buf[1024];
    size_t n = h_build_rrq(r, buf, sizeof(buf));
    struct pkt_addr from = mn_from();
    fa_rx(&h->a, &from, buf, n);
}

/* The HA's answer to the last relayed request. */
static void ha_answers(struct harness *h, uint8_t code, uint16_t lifetime)
{
    struct h_tx *t = &h->tx[h->n_tx - 1];
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(mip_get_reg_request(t->buf, t->len, &rq, &off), MIP_OK);
    uint8_t buf[512];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_reply rp = {.code = code, .lifetime = lifetime, .home_addr = rq.home_addr,
                               .home_agent = rq.home_agent, .identification = rq.identification};
    mip_put_reg_reply(&w, &rp);
    mip_put_nai(&w, "alice@home.example", 18);
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 256, h_key, 16);
    struct pkt_addr from = {.addr = h_ip("10.10.0.1"), .port = 434};
    fa_rx(&h->a, &from, buf, w.len);
}

static void test_advertisement(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct mip_agent_adv a1 = last_adv(h);
    assert_true(a1.flags & MIP_ADV_FLAG_F);
    assert_true(a1.flags & MIP_ADV_FLAG_R);
    assert_true(a1.flags & MIP_ADV_FLAG_T);
    assert_int_equal(a1.n_coa, 1);
    assert_int_equal(a1.coa[0].s_addr, h_ip("192.0.2.11").s_addr);
    assert_int_equal(a1.routers[0].s_addr, h_ip("10.21.0.1").s_addr);
    assert_true(a1.has_challenge);
    assert_int_equal(a1.reg_lifetime, 600);
    uint8_t c1[16];
    memcpy(c1, a1.challenge, 16);
    h_advance(h, 1100);
    struct mip_agent_adv a2 = last_adv(h);
    assert_int_equal(a2.seq, a1.seq + 1);
    assert_memory_not_equal(a2.challenge, c1, 16); /* fresh challenge each time */
    /* A solicitation is answered at once. */
    unsigned before = h->n_icmp;
    uint8_t sol[16];
    size_t n = mip_put_agent_solicit(sol, sizeof(sol));
    fa_solicit_rx(&h->a, 0, sol, n);
    assert_int_equal(h->n_icmp, before + 1);
    assert_int_equal(h->a.cnt.solicit_rx, 1);
    h_free(h);
}

static void test_relay_and_visitor(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct h_rrq r = alice_rrq(h, 60, 1, 0);
    mn_send(h, &r);
    assert_int_equal(h->n_tx, 1);
    assert_int_equal(h->tx[0].to.addr.s_addr, h_ip("10.10.0.1").s_addr);
    assert_int_equal(h->tx[0].to.port, 434);
    assert_int_equal(h->tx[0].to.local.s_addr, h_ip("192.0.2.11").s_addr);
    assert_int_equal(h->a.cnt.rrq_relayed, 1);
    ha_answers(h, 0, 60);
    assert_int_equal(h->n_tx, 2);
    /* The reply goes to the MN out of the access link. */
    assert_int_equal(h->tx[1].to.addr.s_addr, h_ip("10.10.0.100").s_addr);
    assert_int_equal(h->tx[1].to.port, 40000);
    assert_int_equal(h->tx[1].to.ifindex, ACC_IFINDEX);
    struct mip_reg_reply rp = h_reply(h, 1);
    assert_int_equal(rp.code, 0);
    assert_true(mip_verify_auth_hmac_md5(h->tx[1].buf, &rp.ext.mn_ha, h_key, 16));
    assert_int_equal(fa_visitor_count(&h->a), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_ROUTE), 1);
    assert_non_null(strstr(dp_recorder_log(h->a.dp), "10.10.0.100/32 dev acc0"));
    /* Deregistration removes the visitor and its route. */
    h_advance(h, 1000);
    r = alice_rrq(h, 0, 2, 0);
    mn_send(h, &r);
    ha_answers(h, 0, 0);
    assert_int_equal(fa_visitor_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    h_free(h);
}

static void test_reverse_tunnel(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct h_rrq r = alice_rrq(h, 60, 1, MIP_RRQ_FLAG_T);
    mn_send(h, &r);
    ha_answers(h, 0, 60);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_RULE), 1);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_ROUTE), 2); /* host route + tunnel default */
    /* Expiry takes it all away. */
    h_advance(h, 61000);
    assert_int_equal(fa_visitor_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    assert_int_equal(h->a.cnt.expirations, 1);
    h_free(h);
}

static void test_fa_denials(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct h_rrq r = alice_rrq(h, 601, 1, 0);
    mn_send(h, &r);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_LIFETIME_TOO_LONG);
    r = alice_rrq(h, 60, 2, 0);
    r.challenge = NULL;
    mn_send(h, &r);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_MISSING_CHALLENGE);
    static const uint8_t bogus[16] = {1};
    r = alice_rrq(h, 60, 3, 0);
    r.challenge = bogus;
    mn_send(h, &r);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_UNKNOWN_CHALLENGE);
    /* A challenge three advertisements old is stale (RFC 3012 §3.2). */
    struct h_rrq old = alice_rrq(h, 60, 4, 0);
    h_advance(h, 1100);
    h_advance(h, 1100);
    h_advance(h, 1100);
    mn_send(h, &old);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_STALE_CHALLENGE);
    r = alice_rrq(h, 60, 5, 0);
    r.coa = "192.0.2.99";
    mn_send(h, &r);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_INVALID_COA);
    r = alice_rrq(h, 60, 6, MIP_RRQ_FLAG_G);
    mn_send(h, &r);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_ENCAP_UNAVAILABLE);
    assert_int_equal(h->a.cnt.rrq_relayed, 0);
    /* Garbage: poorly formed (70). */
    uint8_t buf[1024];
    r = alice_rrq(h, 60, 7, 0);
    size_t n = h_build_rrq(&r, buf, sizeof(buf));
    buf[n++] = 50; /* unknown critical extension */
    buf[n++] = 0;
    struct pkt_addr from = mn_from();
    fa_rx(&h->a, &from, buf, n);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_POORLY_FORMED_REQUEST);
    /* Every FA denial goes to the MN on its access link. */
    for (unsigned i = 0; i < h->n_tx; i++)
        assert_int_equal(h->tx[i].to.ifindex, ACC_IFINDEX);
    h_free(h);
}

static void test_revtun_disabled_74(void **st)
{
    (void)st;
    struct harness *h = fa_new_opts("false", "");
    assert_false(last_adv(h).flags & MIP_ADV_FLAG_T);
    struct h_rrq r = alice_rrq(h, 60, 1, MIP_RRQ_FLAG_T);
    mn_send(h, &r);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_REVTUN_UNAVAILABLE);
    h_free(h);
}

static void test_timeout_78(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct h_rrq r = alice_rrq(h, 60, 1, 0);
    mn_send(h, &r);
    assert_int_equal(h->n_tx, 1);
    h_advance(h, 2900);
    assert_int_equal(h->n_tx, 1);
    h_advance(h, 200);
    assert_int_equal(h->n_tx, 2);
    struct mip_reg_reply rp = h_reply(h, 1);
    assert_int_equal(rp.code, MIP_CODE_FA_REG_TIMEOUT);
    assert_int_equal(rp.identification, r.ident);
    assert_int_equal(h->a.cnt.reg_timeouts, 1);
    /* A late reply is now unmatched and ignored. */
    struct h_tx relayed = h->tx[0];
    h->tx[h->n_tx++] = relayed;
    ha_answers(h, 0, 60);
    assert_int_equal(h->a.cnt.rrp_unmatched, 1);
    assert_int_equal(fa_visitor_count(&h->a), 0);
    h_free(h);
}

static void test_ha_denial_relayed(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct h_rrq r = alice_rrq(h, 60, 1, 0);
    mn_send(h, &r);
    ha_answers(h, MIP_CODE_HA_MN_AUTH_FAILED, 0);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_HA_MN_AUTH_FAILED);
    assert_int_equal(fa_visitor_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    h_free(h);
}

static void test_fa_ha_auth(void **st)
{
    (void)st;
    struct harness *h = fa_new_opts(
        "true", "ha_peers = ( { address = \"10.10.0.1\"; spi = 300; "
                "key = \"0102030405060708090a0b0c0d0e0f10\"; } );");
    struct h_rrq r = alice_rrq(h, 60, 1, 0);
    mn_send(h, &r);
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(mip_get_reg_request(h->tx[0].buf, h->tx[0].len, &rq, &off), MIP_OK);
    static const uint8_t fk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    assert_true(rq.ext.fa_ha.present);
    assert_true(mip_verify_auth_hmac_md5(h->tx[0].buf, &rq.ext.fa_ha, fk, 16));
    /* The HA's reply has no FA-HA authenticator: denied with 68. */
    ha_answers(h, 0, 60);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_HA_AUTH_FAILED);
    assert_int_equal(fa_visitor_count(&h->a), 0);
    h_free(h);
}

static void test_kernel_failure_66(void **st)
{
    (void)st;
    struct harness *h = fa_new();
    struct h_rrq r = alice_rrq(h, 60, 1, 0);
    mn_send(h, &r);
    dp_recorder_fail_next(h->a.dp, -1);
    ha_answers(h, 0, 60);
    assert_int_equal(h_reply(h, h->n_tx - 1).code, MIP_CODE_FA_INSUFFICIENT_RESOURCES);
    assert_int_equal(fa_visitor_count(&h->a), 0);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advertisement),   cmocka_unit_test(test_relay_and_visitor),
        cmocka_unit_test(test_reverse_tunnel),  cmocka_unit_test(test_fa_denials),
        cmocka_unit_test(test_revtun_disabled_74), cmocka_unit_test(test_timeout_78),
        cmocka_unit_test(test_ha_denial_relayed), cmocka_unit_test(test_fa_ha_auth),
        cmocka_unit_test(test_kernel_failure_66),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
