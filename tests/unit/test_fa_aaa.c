/* Foreign agent in AAA mode (aaad/FLOWS.md "FA"): the AMR it sends, each AMA
 * outcome mapped to the MN's reply code, visitor + VPN cache + STR. */
#include "aaa_capture.h"

#include <errno.h>

#include "vpn_cache.h"
#include "vpn_cvse.h"

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
    bool no_challenge, bogus_challenge, no_mn_aaa, revtun;
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
    rq.flags = o->revtun ? MIP_RRQ_FLAG_T : 0;
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
    assert_int_equal(t.c->str[0].cause, AAA_TC_LOGOUT);
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
    assert_int_equal(t.c->str[0].cause, AAA_TC_SESSION_TIMEOUT);
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

/* ---- moves (FLOWS "Intra-domain move") ---- */

static const uint8_t mn_ha_key[16] = {0x33, 0x34};
static const char *g_prev = "192.0.2.12"; /* the FA the MN names (and the AMA) */

/* A move request as mnemu sends it: NAI, previous-FA CVSE (+ service
 * update), MN-HA authenticator, challenge, MN-AAA. */
static size_t build_move(struct harness *h, unsigned low, bool svc, uint8_t *buf, size_t cap)
{
    struct mip_agent_adv adv = last_adv(h);
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.lifetime = 60;
    rq.home_addr = h_ip("10.10.0.100");
    rq.home_agent = h_ip("10.10.0.1");
    rq.care_of_addr = h->cfg.fa.address;
    rq.identification = h_ident(low);
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, "alice@home.example", 18);
    mip_put_prev_fa(&w, h->cfg.vendor_id, h_ip(g_prev));
    if (svc)
        mip_put_service_update(&w, h->cfg.vendor_id, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 0x10001, mn_ha_key, 16);
    mip_put_challenge(&w, adv.challenge, adv.challenge_len);
    mip_put_mn_aaa_auth(&w, 1000, mn_aaa_key, 16, adv.challenge, adv.challenge_len);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

/* AMA 2001 without MIP-Reg-Reply: the AAAF authorised the move. */
static void ama_move(struct t *t, unsigned i)
{
    struct vpn_profile p[2];
    profile(&p[0], 1, false);
    profile(&p[1], 2, true);
    p[0].src_gw = p[1].src_gw = t->h->cfg.fa.address; /* the AAAF rewrote the FA */
    struct aaa_ama ama = {.answered = true,
                          .result_code = 2001,
                          .session_id = t->c->amr[i].sid,
                          .origin_host = "aaaf.visit-a.example",
                          .origin_realm = "visit-a.example",
                          .has_lifetime = true,
                          .lifetime = 50,
                          .hoa = h_ip("10.10.0.100"),
                          .ha = h_ip("10.10.0.1"),
                          .has_fa_ha = true,
                          .fa_ha_spi = 0x20001,
                          .fa_ha_key = fa_ha_key,
                          .fa_ha_key_len = 16,
                          .profiles = p,
                          .n_profiles = 2,
                          .has_prev_fa = true,
                          .prev_fa = h_ip(g_prev)};
    fa_aaa_answer(&t->h->a, t->c->amr[i].id, &ama);
    vpn_profile_clear(&p[0]);
    vpn_profile_clear(&p[1]);
}

/* The HA's reply to the relayed request, FA-HA authenticated with key. */
static void ha_move_reply(struct t *t, const struct mip_reg_request *rq, uint8_t code,
                          const uint8_t *key)
{
    uint8_t buf[512];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_reply rp = {.code = code,
                               .lifetime = code <= 1 ? 60 : 0,
                               .home_addr = rq->home_addr,
                               .home_agent = rq->home_agent,
                               .identification = rq->identification};
    mip_put_reg_reply(&w, &rp);
    mip_put_nai(&w, "alice@home.example", 18);
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, 0x10001, mn_ha_key, 16);
    mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, 0x20001, key, 16);
    assert_int_equal(w.err, MIP_OK);
    struct pkt_addr from = {.addr = h_ip("10.10.0.1"), .port = MIP_UDP_PORT};
    fa_rx(&t->h->a, &from, buf, w.len);
}

/* Sends the move request, answers it with a move AMA; returns the request
 * the FA relayed to the HA, decoded (in *out). */
static struct mip_reg_request move_to_ha(struct t *t, unsigned low, uint8_t out[MIP_MAX_MSG])
{
    uint8_t buf[512];
    size_t n = build_move(t->h, low, false, buf, sizeof(buf));
    struct pkt_addr from = mn_from();
    unsigned tx0 = t->h->n_tx;
    fa_rx(&t->h->a, &from, buf, n);
    unsigned i = t->c->n_amr - 1;
    assert_true(t->c->amr[i].has_prev_fa);
    assert_int_equal(t->c->amr[i].prev_fa.s_addr, h_ip(g_prev).s_addr);
    ama_move(t, i);
    assert_int_equal(t->h->n_tx, tx0 + 1);
    const struct h_tx *x = &t->h->tx[t->h->n_tx - 1];
    assert_int_equal(t->h->a.cnt.handoff_bu_tx, 0); /* not before the HA accepts */
    assert_int_equal(x->to.addr.s_addr, h_ip("10.10.0.1").s_addr);
    assert_int_equal(x->to.port, MIP_UDP_PORT);
    memcpy(out, x->buf, x->len);
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(mip_get_reg_request(out, x->len, &rq, &off), MIP_OK);
    /* The MN's request up to its MN-HA authenticator, then ours (HMAC-MD5
     * with the AMA's FA-HA key, FLOWS "FA-HA algorithm"). */
    assert_true(rq.ext.mn_ha.present);
    assert_true(mip_verify_auth_hmac_md5(out, &rq.ext.mn_ha, mn_ha_key, 16));
    assert_false(rq.ext.mn_aaa.present);
    assert_true(rq.ext.fa_ha.present);
    assert_int_equal(rq.ext.fa_ha.spi, 0x20001);
    assert_true(mip_verify_auth_hmac_md5(out, &rq.ext.fa_ha, fa_ha_key, 16));
    assert_memory_equal(out, buf, (size_t)(rq.ext.mn_ha.authenticator.ptr - out) + 16);
    return rq;
}

static void test_move_relayed_to_ha(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    uint8_t out[MIP_MAX_MSG];
    struct mip_reg_request rq = move_to_ha(&t, 1, out);
    assert_int_equal(t.h->a.cnt.moves_relayed, 1);
    assert_int_equal(fa_visitor_count(&t.h->a), 0); /* not before the HA accepts */
    /* Make-before-break: the session's SAs / policies and the MN's route are
     * in before the HA moves its tunnel here (the cache only after). */
    assert_true(dp_count(t.h->a.dp, DP_OBJ_XFRM_STATE) > 0);
    assert_non_null(strstr(dp_recorder_log(t.h->a.dp), "10.10.0.100/32"));
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    assert_true(cap_has_event(t.c, "tx RRQ peer=10.10.0.1", "alice@home.example", NULL));
    ha_move_reply(&t, &rq, 0, fa_ha_key);
    /* Accepted: visitor + the AMA's profiles under the AMR's session, the
     * reply relayed to the MN without our FA-HA extension. */
    struct mip_reg_reply rp = last_reply(t.h);
    assert_int_equal(rp.code, 0);
    assert_false(rp.ext.fa_ha.present);
    assert_int_equal(t.h->tx[t.h->n_tx - 1].to.ifindex, ACC_IFINDEX);
    assert_int_equal(fa_visitor_count(&t.h->a), 1);
    struct vpn_session *s = vpn_cache_find(t.h->a.vpn, t.c->amr[0].sid);
    assert_non_null(s);
    assert_int_equal(s->n_profiles, 2);
    assert_int_equal(t.c->n_str, 0);
    assert_int_equal(t.h->a.cnt.rrq_accepted, 1);
    /* The visitor's lifetime ends: nothing of the move is left (the route
     * taken before the relay was handed over, not leaked). */
    h_advance(t.h, 61000);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(dp_count(t.h->a.dp, -1), 0);
    t_free(&t);
}

static void test_move_refused_or_forged(void **st)
{
    (void)st;
    struct t t = fa_aaa_new();
    uint8_t out[MIP_MAX_MSG];
    /* A reply with a wrong FA-HA authenticator: 132 to the MN, STR. */
    struct mip_reg_request rq = move_to_ha(&t, 1, out);
    assert_true(dp_count(t.h->a.dp, -1) > 0); /* set up before the relay */
    static const uint8_t wrong[16] = {0xde, 0xad};
    ha_move_reply(&t, &rq, 0, wrong);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_HA_AUTH_FAILED);
    assert_int_equal(dp_count(t.h->a.dp, -1), 0); /* and gone with the move */
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    assert_int_equal(t.c->n_str, 1);
    assert_int_equal(t.c->str[0].cause, AAA_TC_BAD_ANSWER);
    assert_string_equal(t.c->str[0].sid, t.c->amr[0].sid);
    assert_string_equal(t.c->str[0].realm, "home.example"); /* routed by the NAI */
    /* The HA refuses (133): relayed unchanged, STR. */
    h_advance(t.h, 1100);
    rq = move_to_ha(&t, 2, out);
    ha_move_reply(&t, &rq, MIP_CODE_HA_ID_MISMATCH, fa_ha_key);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_HA_ID_MISMATCH);
    assert_int_equal(fa_visitor_count(&t.h->a), 0);
    assert_int_equal(t.c->n_str, 2);
    /* No reply: 78 to the MN, STR. */
    h_advance(t.h, 1100);
    rq = move_to_ha(&t, 3, out);
    unsigned tx = t.h->n_tx;
    h_advance(t.h, 3100);
    assert_int_equal(t.h->n_tx, tx + 1);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_REG_TIMEOUT);
    assert_int_equal(t.c->n_str, 3);
    assert_int_equal(t.h->a.cnt.moves_refused, 3);
    assert_int_equal(dp_count(t.h->a.dp, -1), 0);
    /* An AMA 2001 without reply and without FA-HA key: 71, STR. */
    h_advance(t.h, 1100);
    uint8_t buf[512];
    size_t n = build_move(t.h, 4, true, buf, sizeof(buf));
    struct pkt_addr from = mn_from();
    fa_rx(&t.h->a, &from, buf, n);
    assert_int_equal(t.c->amr[t.c->n_amr - 1].service_update, 1);
    struct aaa_ama bare = {
        .answered = true, .result_code = 2001, .session_id = t.c->amr[t.c->n_amr - 1].sid};
    fa_aaa_answer(&t.h->a, t.c->amr[t.c->n_amr - 1].id, &bare);
    assert_int_equal(last_reply(t.h).code, MIP_CODE_FA_POORLY_FORMED_REPLY);
    assert_int_equal(t.c->n_str, 4);
    t_free(&t);
}

/* ---- smooth hand-off (seed [0066]) ---- */

#define FA_PEER_KEY "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"

static struct t fa_conf_new(const char *addr, const char *peer, bool smooth)
{
    static char conf[1024];
    snprintf(conf, sizeof(conf),
             "fa: { address = \"%s\"; access_links = ( { interface = \"acc0\"; } );\n"
             "  adv_interval_ms = 1000; max_lifetime = 600; reg_timeout_ms = 3000;\n"
             "  reverse_tunnel = true; challenge = true; smooth_handoff = %s;\n"
             "  fa_peers = ( { address = \"%s\"; spi = 300; key = \"" FA_PEER_KEY "\"; } );\n"
             "  aaa = { diameter_conf = \"/dev/null\"; timeout_ms = 5000; }; };\n",
             addr, smooth ? "true" : "false", peer);
    struct t t;
    t.h = h_new(conf, ROLE_FA);
    t.c = cap_attach(t.h, addr);
    assert_int_equal(fa_init(&t.h->a), 0);
    fa_set_icmp_tx(&t.h->a, h_icmp_fn, t.h);
    fa_set_link_info(&t.h->a, 0, ACC_IFINDEX, h_ip("10.21.0.1"));
    loop_run_once(t.h->a.loop, 0);
    return t;
}

static int tx_to(const struct harness *h, const char *addr)
{
    for (int i = (int)h->n_tx - 1; i >= 0; i--)
        if (h->tx[i].to.addr.s_addr == h_ip(addr).s_addr)
            return i;
    return -1;
}

static struct mip_experimental exp_at(const struct harness *h, int i)
{
    assert_true(i >= 0);
    struct mip_experimental m;
    size_t off;
    assert_int_equal(mip_get_experimental(h->tx[i].buf, h->tx[i].len, &m, &off), MIP_OK);
    return m;
}

static void test_smooth_handoff(void **st)
{
    (void)st;
    /* The MN is registered at the old FA (192.0.2.11). */
    struct t old = fa_conf_new("192.0.2.11", "192.0.2.12", true);
    struct rq_opts o = {.lifetime = 60, .low = 1, .hoa = "10.10.0.100", .revtun = true};
    mn_send(&old, &o);
    ama_ok(&old, 0, 60, "10.10.0.100");
    assert_int_equal(fa_visitor_count(&old.h->a), 1);
    unsigned old_objs = dp_count(old.h->a.dp, -1);
    assert_true(old_objs > 0);
    /* It moves to the new FA (192.0.2.12), which relays to the HA. */
    struct t nw = fa_conf_new("192.0.2.12", "192.0.2.11", true);
    g_prev = "192.0.2.11";
    uint8_t out[MIP_MAX_MSG];
    h_advance(nw.h, 1000);
    struct mip_reg_request rq = move_to_ha(&nw, 2, out);
    ha_move_reply(&nw, &rq, 0, fa_ha_key);
    assert_int_equal(last_reply(nw.h).code, 0);
    /* The hand-off BU to the old FA: src GW = old FA, dst GW = new FA. */
    int bi = tx_to(nw.h, "192.0.2.11");
    struct mip_experimental bu = exp_at(nw.h, bi);
    assert_int_equal(bu.subtype, MIP_EXP_BINDING_UPDATE);
    assert_int_equal(bu.u.bu.home_addr.s_addr, h_ip("10.10.0.100").s_addr);
    assert_int_equal(bu.u.bu.care_of_addr.s_addr, h_ip("192.0.2.12").s_addr);
    static const uint8_t pk[32] = {0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a,
                                   0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
                                   0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f};
    uint32_t spi;
    assert_true(
        mip_verify_ro_auth(nw.h->tx[bi].buf, nw.h->tx[bi].len, &bu.ext, 32473, pk, 32, &spi));
    assert_int_equal(spi, 300);
    unsigned cnt;
    struct vpn_info info;
    char err[VPN_ERR_MAX];
    const struct mip_vse *v = vpn_cvse_find(&bu.ext, 32473, &cnt);
    assert_non_null(v);
    assert_true(vpn_cvse_get(v, 32473, pk, 32, &info, err, sizeof(err)));
    assert_int_equal(info.n, 2);
    for (unsigned i = 0; i < info.n; i++) {
        assert_int_equal(info.profiles[i].src_gw.s_addr, h_ip("192.0.2.11").s_addr);
        assert_int_equal(info.profiles[i].dst_gw.s_addr, h_ip("192.0.2.12").s_addr);
    }
    assert_string_equal(info.nai, "alice@home.example");
    /* The legs this FA gave the AMA's profiles (fa_vpn_set), not "none". */
    assert_int_equal(info.profiles[0].leg, VPN_LEG_FA_HA);
    assert_int_equal(info.profiles[1].leg, VPN_LEG_FA_PCN);
    vpn_info_clear(&info);
    /* Before the BU went: the receiving end of the old FA's hand-off tunnel,
     * outside the IPsec forward check (its packets come out of IP-in-IP). */
    const char *nlog = dp_recorder_log(nw.h->a.dp);
    assert_non_null(strstr(nlog, "192.0.2.12>192.0.2.11"));
    assert_non_null(strstr(nlog, "sysctl mipc000020b disable_policy 1"));
    /* Negative, at the old FA: a wrong authenticator (131) ... */
    uint8_t forged[MIP_MAX_MSG];
    size_t bl = nw.h->tx[bi].len;
    memcpy(forged, nw.h->tx[bi].buf, bl);
    forged[bl - 1] ^= 0x55;
    struct pkt_addr from_new = {.addr = h_ip("192.0.2.12"), .port = MIP_UDP_PORT};
    fa_rx(&old.h->a, &from_new, forged, bl);
    struct mip_experimental ba = exp_at(old.h, tx_to(old.h, "192.0.2.12"));
    assert_int_equal(ba.subtype, MIP_EXP_BINDING_ACK);
    assert_int_equal(ba.u.ba.status, MIP_BA_AUTH_FAILED);
    assert_int_equal(old.h->a.cnt.bu_auth_failed, 1);
    assert_int_equal(old.h->a.cnt.handoffs, 0);
    assert_int_equal(dp_count(old.h->a.dp, -1), old_objs);
    /* ... then the real one: BA 0, tunnel to the new FA, host route into it. */
    fa_rx(&old.h->a, &from_new, nw.h->tx[bi].buf, bl);
    ba = exp_at(old.h, tx_to(old.h, "192.0.2.12"));
    assert_int_equal(ba.u.ba.status, MIP_BA_ACCEPTED);
    assert_int_equal(old.h->a.cnt.handoffs, 1);
    const char *log = dp_recorder_log(old.h->a.dp);
    assert_non_null(strstr(log, "192.0.2.11>192.0.2.12"));
    assert_int_equal(fa_visitor_count(&old.h->a), 1); /* until its lifetime ends */
    /* Seed [0059]: the old FA's cache now names the new FA as destination
     * gateway (its own legs kept), the SAs to the HA / PCN are gone. */
    const struct vpn_session *vs = vpn_cache_find_hoa(old.h->a.vpn, h_ip("10.10.0.100"));
    assert_non_null(vs);
    assert_int_equal(vs->n_profiles, 2);
    for (unsigned i = 0; i < vs->n_profiles; i++) {
        assert_int_equal(vs->profiles[i].src_gw.s_addr, h_ip("192.0.2.11").s_addr);
        assert_int_equal(vs->profiles[i].dst_gw.s_addr, h_ip("192.0.2.12").s_addr);
        assert_int_equal(vs->profiles[i].gw_type, VPN_GW_STATIC);
    }
    assert_int_equal(vs->profiles[0].leg, VPN_LEG_FA_HA);
    assert_int_equal(vs->profiles[1].leg, VPN_LEG_FA_PCN);
    /* The new FA retransmits (our BA is late): a new BU, new identification,
     * acknowledged again (was 129 "already handed off"), nothing changes. */
    unsigned ho_objs = dp_count(old.h->a.dp, -1);
    h_advance(nw.h, 1100);
    int ri = tx_to(nw.h, "192.0.2.11");
    assert_true(ri > bi);
    fa_rx(&old.h->a, &from_new, nw.h->tx[ri].buf, nw.h->tx[ri].len);
    ba = exp_at(old.h, tx_to(old.h, "192.0.2.12"));
    assert_int_equal(ba.u.ba.status, MIP_BA_ACCEPTED);
    assert_int_equal(old.h->a.cnt.handoffs, 1);
    assert_int_equal(old.h->a.cnt.bu_prohibited, 0);
    assert_int_equal(dp_count(old.h->a.dp, -1), ho_objs);
    /* The BA ends the new FA's transaction. */
    struct pkt_addr from_old = {.addr = h_ip("192.0.2.11"), .port = MIP_UDP_PORT};
    int ai = tx_to(old.h, "192.0.2.12");
    fa_rx(&nw.h->a, &from_old, old.h->tx[ai].buf, old.h->tx[ai].len);
    assert_int_equal(bu_pending_count(&nw.h->a), 0);
    /* A replay of the accepted BU: 133, counted, state unchanged. */
    unsigned objs = dp_count(old.h->a.dp, -1);
    fa_rx(&old.h->a, &from_new, nw.h->tx[bi].buf, bl);
    ba = exp_at(old.h, tx_to(old.h, "192.0.2.12"));
    assert_int_equal(ba.u.ba.status, MIP_BA_ID_MISMATCH);
    assert_int_equal(old.h->a.cnt.bu_replayed, 1);
    assert_int_equal(old.h->a.cnt.handoffs, 1);
    assert_int_equal(dp_count(old.h->a.dp, -1), objs);
    /* The visit's lifetime ends: everything of the old FA for the MN goes. */
    h_advance(old.h, 61000);
    assert_int_equal(fa_visitor_count(&old.h->a), 0);
    assert_int_equal(old.h->a.cnt.handoff_ended, 1);
    assert_int_equal(dp_count(old.h->a.dp, -1), 0);
    assert_int_equal(vpn_cache_count(old.h->a.vpn), 0);
    assert_int_equal(old.c->n_str, 1);
    assert_int_equal(old.c->str[0].cause, AAA_TC_USER_MOVED);
    /* The new FA's visitor ends: the receiving tunnel goes with it. */
    h_advance(nw.h, 61000);
    assert_int_equal(fa_visitor_count(&nw.h->a), 0);
    assert_int_equal(dp_count(nw.h->a.dp, -1), 0);
    g_prev = "192.0.2.12";
    t_free(&old);
    t_free(&nw);
}

static void test_handoff_off(void **st)
{
    (void)st;
    struct t nw = fa_conf_new("192.0.2.12", "192.0.2.11", false);
    g_prev = "192.0.2.11";
    uint8_t out[MIP_MAX_MSG];
    struct mip_reg_request rq = move_to_ha(&nw, 2, out);
    ha_move_reply(&nw, &rq, 0, fa_ha_key);
    assert_int_equal(last_reply(nw.h).code, 0);
    assert_int_equal(tx_to(nw.h, "192.0.2.11"), -1); /* no BU */
    assert_int_equal(nw.h->a.cnt.handoff_bu_tx, 0);
    g_prev = "192.0.2.12";
    t_free(&nw);
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
        cmocka_unit_test(test_move_relayed_to_ha),
        cmocka_unit_test(test_move_refused_or_forged),
        cmocka_unit_test(test_smooth_handoff),
        cmocka_unit_test(test_handoff_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
