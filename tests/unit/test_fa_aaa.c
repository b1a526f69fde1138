/* Foreign agent in AAA mode (aaad/FLOWS.md "FA"): the AMR it sends, each AMA
 * outcome mapped to the MN's reply code, visitor + VPN cache + STR. */
#include "aaa_capture.h"

#include <errno.h>

#include "vpn_cache.h"

static const char *fa_conf =
    "fa: { address = \"192.0.2.11\"; access_links = ( { interface = \"acc0\"; } );\n"
    "  adv_interval_ms = 1000; max_lifetime = 600; reg_timeout_ms = 3000;\n"
    "  reverse_tunnel = true; challenge = true;\n"
    "  aaa = { diameter_conf = \"/dev/null\"; timeout_ms = 5000; }; };\n";

#define ACC_IFINDEX 7

/* The MN-AAA key of alice (RFC 3012 §8 CHAP-style authenticator). */
static const uint8_t mn_aaa_key[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                       0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

struct t {
    struct harness *h;
    struct aaa_capture *c;
};

static struct t fa_aaa_new(void)
{
    struct t t;
    t.h = h_new(fa_conf, ROLE_FA);
    t.c = cap_attach(t.h, "fa1.visit-a.example");
    assert_int_equal(fa_init(&t.h->a), 0);
    assert_non_null(t.h->a.vpn);
    fa_set_icmp_tx(&t.h->a, h_icmp_fn, t.h);
    fa_set_link_info(&t.h->a, 0, ACC_IFINDEX, h_ip("10.21.0.1"));
    loop_run_once(t.h->a.loop, 0);
    return t;
}

static void t_free(struct t *t)
{
    h_free(t->h);
    cap_free(t->c);
}

static struct mip_agent_adv last_adv(struct harness *h)
{
    assert_true(h->n_icmp > 0);
    struct mip_agent_adv adv;
    assert_int_equal(
        mip_get_agent_adv(h->icmp[h->n_icmp - 1].buf, h->icmp[h->n_icmp - 1].len, &adv), MIP_OK);
    return adv;
}

struct rq_opts {
    const char *nai;
    const char *hoa;
    uint16_t lifetime;
    unsigned low;
    bool no_challenge, bogus_challenge, no_mn_aaa;
};

/* A request as mnemu sends it in AAA mode: NAI, challenge, MN-AAA. */
static size_t build(struct harness *h, const struct rq_opts *o, uint8_t *buf, size_t cap)
{
    struct mip_agent_adv adv = last_adv(h);
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.lifetime = o->lifetime;
    rq.home_addr = h_ip(o->hoa ? o->hoa : "0.0.0.0");
    rq.home_agent = h_ip("10.10.0.1");
    rq.care_of_addr = h_ip("192.0.2.11");
    rq.identification = h_ident(o->low);
    mip_put_reg_request(&w, &rq);
    const char *nai = o->nai ? o->nai : "alice@home.example";
    if (*nai)
        mip_put_nai(&w, nai, strlen(nai));
    static const uint8_t bogus[16] = {9, 9, 9};
    const uint8_t *chal = o->bogus_challenge ? bogus : adv.challenge;
    if (!o->no_challenge)
        mip_put_challenge(&w, chal, adv.challenge_len);
    if (!o->no_mn_aaa)
        mip_put_mn_aaa_auth(&w, 1000, mn_aaa_key, 16, chal, adv.challenge_len);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static struct pkt_addr mn_from(void)
{
    struct pkt_addr p = {.addr = h_ip("0.0.0.0"), .port = 40000, .ifindex = ACC_IFINDEX};
    return p;
}

static void mn_send(struct t *t, const struct rq_opts *o)
{
    uint8_t buf[512];
    size_t n = build(t->h, o, buf, sizeof(buf));
    struct pkt_addr from = mn_from();
    fa_rx(&t->h->a, &from, buf, n);
}

/* The HA's reply (what the AMA carries in MIP-Reg-Reply). */
static size_t ha_reply(const struct cap_amr *amr, uint8_t code, uint16_t lifetime, const char *hoa,
                       uint8_t *buf, size_t cap)
{
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(mip_get_reg_request(amr->req, amr->req_len, &rq, &off), MIP_OK);
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_reply rp = {.code = code,
                               .lifetime = lifetime,
                               .home_addr = h_ip(hoa),
                               .home_agent = h_ip("10.10.0.1"),
                               .identification = rq.identification};
    mip_put_reg_reply(&w, &rp);
    mip_put_nai(&w, amr->nai, strlen(amr->nai));
    static const uint8_t nonce[16] = {1, 2, 3};
    static const uint8_t k[20] = {7};
    mip_put_mn_ha_keygen_reply(&w, 3600, 1000, 0x10001, 2, 2, nonce, 16);
    mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, 0x10001, MIP_AUTH_HMAC_SHA1, k, 20);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static void profile(struct vpn_profile *p, uint32_t num, bool dynamic)
{
    vpn_profile_init(p);
    p->number = num;
    assert_true(vpn_prefix_parse("10.10.0.100/32", &p->src));
    assert_true(vpn_prefix_parse(dynamic ? "172.16.60.0/24" : "172.16.50.0/24", &p->dst));
    p->spi_up = 0x1000 + num;
    p->spi_down = 0x2000 + num;
    p->gw_type = dynamic ? VPN_GW_DYNAMIC : VPN_GW_STATIC;
    p->src_gw = h_ip("192.0.2.11");
    p->dst_gw = h_ip(dynamic ? "192.0.2.70" : "192.0.2.1");
    assert_true(vpn_profile_generate_keys(p));
}

static const uint8_t fa_ha_key[16] = {0xfa, 0xfa};

/* AMA 2001 with the HA's reply, the FA-HA MSA and the FA's two profiles. */
static void ama_ok(struct t *t, unsigned i, uint16_t lifetime, const char *hoa)
{
    uint8_t reply[512];
    size_t n = ha_reply(&t->c->amr[i], 0, lifetime, hoa, reply, sizeof(reply));
    struct vpn_profile p[2];
    profile(&p[0], 1, false);
    profile(&p[1], 2, true);
    struct aaa_ama ama = {.answered = true,
                          .result_code = 2001,
                          .session_id = t->c->amr[i].sid,
                          .origin_host = "aaah.home.example",
                          .reg_reply = reply,
                          .reg_reply_len = n,
                          .has_lifetime = true,
                          .lifetime = lifetime,
                          .hoa = h_ip(hoa),
                          .ha = h_ip("10.10.0.1"),
                          .has_fa_ha = true,
                          .fa_ha_spi = 0x20001,
                          .fa_ha_key = fa_ha_key,
                          .fa_ha_key_len = 16,
                          .profiles = p,
                          .n_profiles = 2};
    fa_aaa_answer(&t->h->a, t->c->amr[i].id, &ama);
    vpn_profile_clear(&p[0]);
    vpn_profile_clear(&p[1]);
}

static struct mip_reg_reply last_reply(struct harness *h)
{
    return h_reply(h, h->n_tx - 1);
}

static void test_amr_contents(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1};
    uint8_t sent[512];
    size_t n = build(t.h, &o, sent, sizeof(sent));
    struct pkt_addr from = mn_from();
    fa_rx(&t.h->a, &from, sent, n);
    assert_int_equal(t.h->n_tx, 0); /* nothing to the HA over UDP */
    assert_int_equal(t.c->n_amr, 1);
    struct cap_amr *m = &t.c->amr[0];
    assert_false(m->had_sid);
    assert_string_equal(m->nai, "alice@home.example");
    assert_string_equal(m->realm, "home.example");
    assert_int_equal(m->req_len, n);
    assert_memory_equal(m->req, sent, n); /* the request as received */
    assert_int_equal(m->mn_aaa_spi, 1000);
    /* FLOWS: input = request up to and including the MN-AAA SPI. */
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(mip_get_reg_request(sent, n, &rq, &off), MIP_OK);
    assert_int_equal(m->auth_input_len, rq.ext.mn_aaa.offset + 8);
    assert_int_equal(m->authenticator_off, rq.ext.mn_aaa.offset + 8);
    assert_int_equal(m->authenticator_len, 16);
    assert_int_equal(m->chal_len, 16);
    assert_memory_equal(m->chal, last_adv(t.h).challenge, 16);
    assert_true(
        mip_verify_mn_aaa_auth(m->req, &rq.ext.mn_aaa, mn_aaa_key, 16, m->chal, m->chal_len));
    assert_int_equal(m->fv, AAA_FV_MN_HA_KEY_REQUEST | AAA_FV_FA_HA_KEY_REQUEST |
                                AAA_FV_MN_HOME_ADDRESS_REQUESTED);
    assert_int_equal(m->hoa.s_addr, 0);
    assert_int_equal(m->ha.s_addr, h_ip("10.10.0.1").s_addr);
    assert_int_equal(m->timeout_ms, 5000);
    assert_int_equal(t.h->a.cnt.amr_tx, 1);
    assert_true(
        cap_has_event(t.c, "fa1.visit-a.example rx RRQ", "session=alice@home.example", NULL));
    assert_true(cap_has_event(t.c, "tx AMR peer=home.example", m->sid, NULL));
    /* A retransmission while the AAA works on it: no second AMR. */
    o.low = 2;
    mn_send(&t, &o);
    assert_int_equal(t.c->n_amr, 1);
    assert_int_equal(t.h->a.cnt.rrq_in_progress, 1);
    assert_int_equal(t.h->n_tx, 0);
    struct aaa_ama no = {.answered = true, .result_code = 4001, .session_id = m->sid};
    fa_aaa_answer(&t.h->a, m->id, &no);
    assert_int_equal(h_reply(t.h, 0).code, MIP_CODE_FA_MN_AUTH_FAILED);
    /* A static home address is sent, and the feature vector says so. */
    o.hoa = "10.10.0.100";
    o.low = 3;
    mn_send(&t, &o);
    assert_int_equal(t.c->n_amr, 2);
    assert_int_equal(t.c->amr[1].hoa.s_addr, h_ip("10.10.0.100").s_addr);
    assert_int_equal(t.c->amr[1].fv, AAA_FV_MN_HA_KEY_REQUEST | AAA_FV_FA_HA_KEY_REQUEST);
    t_free(&t);
}

static void test_accept_visitor_cache_dereg_str(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1};
    mn_send(&t, &o);
    ama_ok(&t, 0, 60, "10.10.0.150"); /* an address from the pool */
    assert_int_equal(t.h->n_tx, 1);
    struct mip_reg_reply rp = last_reply(t.h);
    assert_int_equal(rp.code, 0);
    assert_true(rp.ext.keygen.present); /* relayed unchanged */
    assert_int_equal(t.h->tx[0].to.ifindex, ACC_IFINDEX);
    assert_int_equal(fa_visitor_count(&t.h->a), 1);
    assert_non_null(strstr(dp_recorder_log(t.h->a.dp), "route_add 10.10.0.150/32 dev acc0"));
    /* The FA's VPN information, cached under the Session-Id. */
    struct vpn_session *s = vpn_cache_find(t.h->a.vpn, t.c->amr[0].sid);
    assert_non_null(s);
    assert_int_equal(s->n_profiles, 2);
    assert_int_equal(s->hoa.s_addr, h_ip("10.10.0.150").s_addr);
    assert_int_equal(s->profiles[0].leg, VPN_LEG_FA_HA);
    assert_int_equal(s->profiles[1].leg, VPN_LEG_FA_PCN);
    assert_true(cap_has_event(t.c, "rx AMA peer=aaah.home.example", "code=2001", NULL));
    assert_true(cap_has_event(t.c, "tx RRP", "code=0", NULL));
    /* A re-registration stays in the session. */
    h_advance(t.h, 2000);
    o.low = 2;
    o.hoa = "10.10.0.150";
    mn_send(&t, &o);
    assert_int_equal(t.c->n_amr, 2);
    assert_true(t.c->amr[1].had_sid);
    assert_string_equal(t.c->amr[1].sid, t.c->amr[0].sid);
    ama_ok(&t, 1, 60, "10.10.0.150");
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 1);
    assert_int_equal(t.c->n_str, 0);
    /* Deregistration: visitor, cache and session end (STR). */
    h_advance(t.h, 2000);
    o.low = 3;
    o.lifetime = 0;
    mn_send(&t, &o);
    ama_ok(&t, 2, 0, "10.10.0.150");
    assert_int_equal(last_reply(t.h).code, 0);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    assert_int_equal(t.c->n_str, 1);
    assert_string_equal(t.c->str[0].sid, t.c->amr[0].sid);
    assert_string_equal(t.c->str[0].realm, "home.example");
    assert_int_equal(dp_count(t.h->a.dp, -1), 0);
    assert_true(cap_has_event(t.c, "tx STR peer=home.example", t.c->amr[0].sid, NULL));
    t_free(&t);
}

static void test_expiry_sends_str(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1, .hoa = "10.10.0.100"};
    mn_send(&t, &o);
    ama_ok(&t, 0, 60, "10.10.0.100");
    assert_int_equal(fa_visitor_count(&t.h->a), 1);
    h_advance(t.h, 61000);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(t.c->n_str, 1);
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    t_free(&t);
}

/* Each AMA without a reply gives the code of FLOWS "Failures". */
static void test_ama_codes(void **st)
{
    (void)st;
    static const struct {
        uint32_t rc;
        uint8_t code;
    } map[] = {{4001, 67}, {4006, 81}, {3002, 80}, {3003, 80}, {5004, 70},
               {5005, 70}, {5003, 65}, {5012, 66}, {4005, 64}};
    struct t t = fa_aaa_new();
    for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct rq_opts o = {.lifetime = 60, .low = 10 + i};
        mn_send(&t, &o);
        assert_int_equal(t.c->n_amr, i + 1);
        struct aaa_ama ama = {
            .answered = true, .result_code = map[i].rc, .session_id = t.c->amr[i].sid};
        unsigned before = t.h->n_tx;
        fa_aaa_answer(&t.h->a, t.c->amr[i].id, &ama);
        assert_int_equal(t.h->n_tx, before + 1);
        struct mip_reg_reply rp = last_reply(t.h);
        if (rp.code != map[i].code)
            fail_msg("Diameter %u gave %u, want %u", map[i].rc, rp.code, map[i].code);
        assert_int_equal(rp.identification, h_ident(10 + i));
        assert_int_equal(fa_visitor_count(&t.h->a), 0);
    }
    assert_int_equal(t.h->a.cnt.denied_by_code[67], 1);
    assert_int_equal(t.c->n_str, 0);
    /* No answer at all (Diameter timeout in the glue): 78. */
    struct rq_opts o = {.lifetime = 60, .low = 50};
    mn_send(&t, &o);
    struct aaa_ama none = {.answered = false, .why = "no answer before the timeout"};
    fa_aaa_answer(&t.h->a, t.c->amr[t.c->n_amr - 1].id, &none);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_REG_TIMEOUT);
    assert_int_equal(t.h->a.cnt.aaa_timeouts, 1);
    t_free(&t);
}

/* The FA's own guard: no AMA within timeout_ms is 78; a late success is
 * closed with an STR so the AAAH does not keep the session. */
static void test_timeout_then_late_answer(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1};
    mn_send(&t, &o);
    h_advance(t.h, 4900);
    assert_int_equal(t.h->n_tx, 0);
    h_advance(t.h, 200);
    assert_int_equal(t.h->n_tx, 1);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_REG_TIMEOUT);
    uint8_t reply[512];
    size_t n = ha_reply(&t.c->amr[0], 0, 60, "10.10.0.150", reply, sizeof(reply));
    struct aaa_ama ama = {.answered = true,
                          .result_code = 2001,
                          .session_id = t.c->amr[0].sid,
                          .origin_realm = "home.example",
                          .reg_reply = reply,
                          .reg_reply_len = n};
    fa_aaa_answer(&t.h->a, t.c->amr[0].id, &ama);
    assert_int_equal(t.h->n_tx, 1);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(t.c->n_str, 1);
    assert_string_equal(t.c->str[0].realm, "home.example");
    t_free(&t);
}

/* 4005 with the HA's reply: relayed to the MN unchanged. */
static void test_ha_denial_relayed(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1, .hoa = "10.10.0.100"};
    mn_send(&t, &o);
    uint8_t reply[512];
    size_t n = ha_reply(&t.c->amr[0], MIP_CODE_HA_INSUFFICIENT_RESOURCES, 0, "10.10.0.100", reply,
                        sizeof(reply));
    struct aaa_ama ama = {.answered = true,
                          .result_code = 4005,
                          .session_id = t.c->amr[0].sid,
                          .reg_reply = reply,
                          .reg_reply_len = n};
    fa_aaa_answer(&t.h->a, t.c->amr[0].id, &ama);
    assert_int_equal(t.h->n_tx, 1);
    assert_int_equal(t.h->tx[0].len, n);
    assert_memory_equal(t.h->tx[0].buf, reply, n);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(t.h->a.cnt.denied_by_code[130], 1);
    t_free(&t);
}

/* A reply that does not belong to the request: 71 to the MN, STR. */
static void test_mismatched_reply(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1, .hoa = "10.10.0.100"};
    mn_send(&t, &o);
    uint8_t reply[512];
    size_t n = ha_reply(&t.c->amr[0], 0, 60, "10.10.0.101", reply, sizeof(reply));
    struct aaa_ama ama = {.answered = true,
                          .result_code = 2001,
                          .session_id = t.c->amr[0].sid,
                          .reg_reply = reply,
                          .reg_reply_len = n};
    fa_aaa_answer(&t.h->a, t.c->amr[0].id, &ama);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_POORLY_FORMED_REPLY);
    assert_int_equal(t.c->n_str, 1);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    t_free(&t);
}

/* What the FA refuses itself: no AMR goes out. */
static void test_fa_checks(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    struct rq_opts o = {.lifetime = 60, .low = 1, .nai = ""};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_POORLY_FORMED_REQUEST);
    o = (struct rq_opts){.lifetime = 60, .low = 2, .no_challenge = true};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_MISSING_CHALLENGE);
    o = (struct rq_opts){.lifetime = 60, .low = 3, .bogus_challenge = true};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_UNKNOWN_CHALLENGE);
    o = (struct rq_opts){.lifetime = 60, .low = 4, .no_mn_aaa = true};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_POORLY_FORMED_REQUEST);
    o = (struct rq_opts){.lifetime = 60, .low = 5, .nai = "alice"};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_POORLY_FORMED_REQUEST);
    o = (struct rq_opts){.lifetime = 601, .low = 6};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_LIFETIME_TOO_LONG);
    /* stale: three advertisements later */
    uint8_t old[512];
    o = (struct rq_opts){.lifetime = 60, .low = 7};
    size_t n = build(t.h, &o, old, sizeof(old));
    h_advance(t.h, 1100);
    h_advance(t.h, 1100);
    h_advance(t.h, 1100);
    struct pkt_addr from = mn_from();
    fa_rx(&t.h->a, &from, old, n);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_STALE_CHALLENGE);
    assert_int_equal(t.c->n_amr, 0);
    /* The AAA cannot be reached at all: 80. */
    t.c->fail_next = -ENOTCONN;
    o = (struct rq_opts){.lifetime = 60, .low = 8};
    mn_send(&t, &o);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_HOME_NET_UNREACHABLE);
    t_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amr_contents),
        cmocka_unit_test(test_accept_visitor_cache_dereg_str),
        cmocka_unit_test(test_expiry_sends_str),
        cmocka_unit_test(test_ama_codes),
        cmocka_unit_test(test_timeout_then_late_answer),
        cmocka_unit_test(test_ha_denial_relayed),
        cmocka_unit_test(test_mismatched_reply),
        cmocka_unit_test(test_fa_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
