/* Lifetime refresh with Binding Request (seed scenario 8, claim 25;
 * mipd/src/pcn_refresh.h, ha.c handle_br).
 *
 * PCN: no BR while a session's remaining lifetime is at or above
 * pcn.refresh_threshold_s, a BR (to the HA of the session's BU, RO-auth with
 * its key, fresh identification) at the first tick below it, retransmitted
 * after 1, 2, 4 s; a BU for the home address ends the round and refreshes
 * the session; without one the session and its kernel objects are gone at
 * expiry.  HA: a BR of a configured PCN, authenticated and fresh, is answered
 * with a BU carrying the binding's VPN information for that PCN and its
 * remaining lifetime; a BR for a binding that does not involve the PCN gets
 * nothing; a BR with a wrong authenticator, from an unknown sender, replayed
 * or malformed is refused and counted, and nothing is sent. */
#include "aaa_capture.h"

#include <errno.h>

#include "vpn_cache.h"
#include "vpn_cvse.h"
#include "vpn_dp.h"

#define PCN_A "192.0.2.70"
#define PCN_B "192.0.2.71"
#define HA_ADDR "10.10.0.1"
#define HOA "10.10.0.150"
#define SID "fa1;1;1"

static const char *pcn_conf =
    "pcn: { address = \"192.0.2.70\"; serves = ( \"172.16.60.0/24\" );\n"
    "  refresh_threshold_s = 10; br_timeout_ms = 1000;\n"
    "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } ); };\n";

static const char *pcn_conf_no_refresh =
    "pcn: { address = \"192.0.2.70\"; serves = ( \"172.16.60.0/24\" );\n"
    "  refresh_threshold_s = 0;\n"
    "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } ); };\n";

static const char *ha_conf =
    "ha: { address = \"10.10.0.1\"; home_link = \"home0\";\n"
    "  aaa = { diameter_conf = \"/dev/null\"; };\n"
    "  pcn_peers = ( { address = \"192.0.2.70\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; },\n"
    "  { address = \"192.0.2.71\"; spi = 4098;\n"
    "    key = \"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\"; } ); };\n";

static const uint8_t key[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t key_b[32] = {32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                  48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
static const uint8_t wrong_key[32] = {0xee};

/* ---- helpers ------------------------------------------------------------ */

static struct harness *pcn_new(const char *conf, struct aaa_capture **c)
{
    struct harness *h = h_new(conf, ROLE_PCN);
    *c = cap_attach(h, "pcn.partner.example");
    h->a.aaa = NULL; /* the PCN speaks only Mobile IP */
    assert_int_equal(pcn_init(&h->a), 0);
    return h;
}

/* One second on both agents' clocks (one NTP clock for both). */
static void tick(struct harness *x, struct harness *y)
{
    h_ntp_value++;
    loop_set_fake_time(x->a.loop, loop_now_ms(x->a.loop) + 1000);
    if (y)
        loop_set_fake_time(y->a.loop, loop_now_ms(y->a.loop) + 1000);
    loop_run_once(x->a.loop, 0);
    if (y)
        loop_run_once(y->a.loop, 0);
}

static void profile(struct vpn_profile *p, uint32_t num, const char *dst, const char *src_gw)
{
    vpn_profile_init(p);
    p->number = num;
    p->leg = VPN_LEG_FA_PCN;
    p->gw_type = VPN_GW_DYNAMIC;
    assert_true(vpn_prefix_parse(HOA "/32", &p->src));
    assert_true(vpn_prefix_parse(dst, &p->dst));
    p->spi_up = 0x1000 + num;
    p->spi_down = 0x2000 + num;
    p->src_gw = h_ip(src_gw);
    p->dst_gw = h_ip("192.0.2.11");
    assert_true(vpn_profile_generate_keys(p));
}

/* The HA's BU to the PCN (as bu.c builds it), lifetime 0 = drop. */
static size_t build_bu(uint16_t lifetime, uint64_t ident, uint8_t *buf, size_t cap)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_UPDATE;
    m.u.bu.flags = MIP_BU_FLAG_A | MIP_BU_FLAG_I;
    m.u.bu.lifetime = lifetime;
    m.u.bu.home_addr = h_ip(HOA);
    m.u.bu.care_of_addr = h_ip("192.0.2.11");
    m.u.bu.identification = ident;
    mip_put_experimental(&w, &m);
    struct vpn_info info;
    memset(&info, 0, sizeof(info));
    snprintf(info.session_id, sizeof(info.session_id), SID);
    snprintf(info.nai, sizeof(info.nai), "alice@home.example");
    info.hoa = h_ip(HOA);
    info.lifetime = lifetime;
    info.n = lifetime ? 1 : 0;
    if (info.n)
        profile(&info.profiles[0], 2, "172.16.60.0/24", PCN_A);
    char err[VPN_ERR_MAX];
    if (!vpn_cvse_put(&w, 32473, &info, key, 32, err, sizeof(err)))
        fail_msg("vpn_cvse_put: %s", err);
    vpn_info_clear(&info);
    mip_put_ro_auth(&w, 32473, 4096, key, 32);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

/* Delivers a BU from the HA and expects BA 0. */
static void pcn_take_bu(struct harness *h, uint16_t lifetime)
{
    uint8_t buf[2048];
    size_t n = build_bu(lifetime, h_ident(h->n_tx + 1), buf, sizeof(buf));
    struct pkt_addr pa = {.addr = h_ip(HA_ADDR), .port = 434, .local = h_ip(PCN_A)};
    unsigned before = h->n_tx;
    pcn_rx(&h->a, &pa, buf, n);
    assert_int_equal(h->n_tx, before + 1);
    struct mip_experimental ba;
    assert_int_equal(mip_get_experimental(h->tx[before].buf, h->tx[before].len, &ba, NULL), MIP_OK);
    assert_int_equal(ba.subtype, MIP_EXP_BINDING_ACK);
    assert_int_equal(ba.u.ba.status, MIP_BA_ACCEPTED);
}

/* A Binding Request as a PCN sends it (mip_proto.h, subtype 17 + RO-auth). */
static size_t build_br(const char *hoa, uint64_t ident, const uint8_t *k, uint32_t spi,
                       uint8_t *buf, size_t cap)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_REQUEST;
    m.u.br.home_addr = h_ip(hoa);
    m.u.br.identification = ident;
    mip_put_experimental(&w, &m);
    if (k)
        mip_put_ro_auth(&w, 32473, spi, k, 32);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

/* Checks the i-th datagram the PCN sent is a BR for HOA to the HA,
 * authenticated with the pairwise key, byte for byte what build_br makes of
 * its fields; returns its identification. */
static uint64_t expect_br(struct harness *h, unsigned i)
{
    assert_true(i < h->n_tx);
    const struct h_tx *t = &h->tx[i];
    assert_int_equal(t->to.addr.s_addr, h_ip(HA_ADDR).s_addr);
    assert_int_equal(t->to.port, 434);
    assert_int_equal(t->to.local.s_addr, h_ip(PCN_A).s_addr);
    struct mip_experimental m;
    assert_int_equal(mip_get_experimental(t->buf, t->len, &m, NULL), MIP_OK);
    assert_int_equal(m.subtype, MIP_EXP_BINDING_REQUEST);
    assert_int_equal(t->buf[1], MIP_EXP_LEN_BR);
    assert_int_equal(m.u.br.home_addr.s_addr, h_ip(HOA).s_addr);
    uint32_t spi = 0;
    assert_true(mip_verify_ro_auth(t->buf, t->len, &m.ext, 32473, key, 32, &spi));
    assert_int_equal(spi, 4096);
    uint8_t want[256];
    size_t n = build_br(HOA, m.u.br.identification, key, 4096, want, sizeof(want));
    assert_int_equal(t->len, n);
    assert_memory_equal(t->buf, want, n);
    return m.u.br.identification;
}

static unsigned count_events(struct aaa_capture *c, const char *what)
{
    fflush(c->event_out);
    unsigned n = 0;
    for (const char *p = c->events; p && (p = strstr(p, what)); p++)
        n++;
    return n;
}

static time_t session_left(struct harness *h)
{
    struct vpn_session *s = vpn_cache_find(h->a.vpn, SID);
    assert_non_null(s);
    return s->expires - agent_now_s(&h->a);
}

/* ---- configuration -------------------------------------------------------- */

static void expect_conf_error(const char *text, const char *want)
{
    struct mipd_config c;
    memset(&c, 0, sizeof(c));
    char err[256] = "";
    assert_int_equal(config_load_string(&c, text, "t.conf", ROLE_PCN, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("got \"%s\", expected \"%s\"", err, want);
    config_free(&c);
}

static void test_config(void **st)
{
    (void)st;
    static const char *plain =
        "pcn: { address = \"192.0.2.70\";\n"
        "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
        "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } ); };\n";
    struct mipd_config c;
    memset(&c, 0, sizeof(c));
    char err[256] = "";
    assert_int_equal(config_load_string(&c, plain, "t.conf", ROLE_PCN, err, sizeof(err)), 0);
    assert_int_equal(c.pcn.refresh_threshold_s, 10);
    assert_int_equal(c.pcn.br_timeout_ms, 1000);
    config_free(&c);
    memset(&c, 0, sizeof(c));
    assert_int_equal(
        config_load_string(&c, pcn_conf_no_refresh, "t.conf", ROLE_PCN, err, sizeof(err)), 0);
    assert_int_equal(c.pcn.refresh_threshold_s, 0);
    config_free(&c);
    expect_conf_error(
        "pcn: { address = \"192.0.2.70\";\n  refresh_threshold_s = -1;\n"
        "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
        "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; "
        "} ); };\n",
        "t.conf:2: 'refresh_threshold_s' = -1 is out of range [0, 86400]");
    expect_conf_error(
        "pcn: { address = \"192.0.2.70\";\n\n  refresh_threshold_s = \"10\";\n"
        "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
        "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; "
        "} ); };\n",
        "t.conf:3: 'refresh_threshold_s' must be an integer");
    expect_conf_error(
        "pcn: { address = \"192.0.2.70\"; br_timeout_ms = 10;\n"
        "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
        "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; "
        "} ); };\n",
        "t.conf:1: 'br_timeout_ms' = 10 is out of range [50, 60000]");
}

/* ---- PCN ------------------------------------------------------------------ */

/* Below the threshold a BR, then 1, 2, 4 s later again; no BU: at expiry the
 * session and its kernel objects are gone and the BRs stop. */
static void test_br_then_expiry(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(pcn_conf, &c);
    pcn_take_bu(h, 30);
    assert_true(dp_count(h->a.dp, DP_OBJ_XFRM_STATE) > 0);
    assert_true(dp_count(h->a.dp, DP_OBJ_XFRM_POLICY) > 0);
    assert_true(vpn_dp_session_objects(h->a.vdp, SID) > 0);
    /* Not while 10 s or more are left. */
    while (session_left(h) > 10) {
        tick(h, NULL);
        assert_int_equal(h->n_tx, 1);
    }
    assert_int_equal(session_left(h), 10);
    tick(h, NULL);
    assert_int_equal(session_left(h), 9);
    assert_int_equal(h->n_tx, 2);
    uint64_t id = expect_br(h, 1);
    assert_int_equal(id, h_ntp_now()); /* NTP time of sending */
    assert_int_equal(h->a.cnt.br_tx, 1);
    assert_int_equal(h->a.cnt.br_retx, 0);
    assert_true(
        cap_has_event(c, "pcn.partner.example tx BR peer=10.10.0.1 session=fa1;1;1", NULL, NULL));
    /* Retransmissions: after 1 s, then 2 s, then 4 s, each with a new
     * identification. */
    static const unsigned gaps[] = {1, 2, 4};
    for (unsigned g = 0; g < 3; g++) {
        for (unsigned s = 1; s < gaps[g]; s++) {
            tick(h, NULL);
            assert_int_equal(h->n_tx, 2 + g);
        }
        tick(h, NULL);
        assert_int_equal(h->n_tx, 3 + g);
        uint64_t next = expect_br(h, 2 + g);
        assert_true(next > id);
        id = next;
    }
    assert_int_equal(h->a.cnt.br_tx, 4);
    assert_int_equal(h->a.cnt.br_retx, 3);
    assert_int_equal(session_left(h), 2);
    /* No BU: the session expires with its kernel objects. */
    tick(h, NULL);
    tick(h, NULL);
    assert_null(vpn_cache_find(h->a.vpn, SID));
    assert_int_equal(vpn_dp_session_objects(h->a.vdp, SID), 0);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_XFRM_STATE), 0);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_XFRM_POLICY), 0);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_MARK), 0);
    assert_int_equal(dp_count(h->a.dp, -1), dp_count(h->a.dp, DP_OBJ_UDP_REDIRECT));
    assert_int_equal(h->a.cnt.expirations, 1);
    assert_int_equal(h->a.cnt.vpn_removed, 1);
    assert_int_equal(h->a.cnt.br_unanswered, 1);
    assert_int_equal(h->a.cnt.br_refreshed, 0);
    for (int i = 0; i < 70; i++)
        tick(h, NULL);
    assert_int_equal(h->n_tx, 5); /* the BA and the four BRs */
    assert_int_equal(count_events(c, " tx BR "), 4);
    h_free(h);
    cap_free(c);
}

/* A BU ends the round and refreshes the session, which is watched again; a
 * BU whose lifetime is already below the threshold ends the round without
 * starting another one. */
static void test_bu_ends_round(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(pcn_conf, &c);
    pcn_take_bu(h, 30);
    while (h->n_tx == 1)
        tick(h, NULL);
    expect_br(h, 1);
    time_t old_expiry = vpn_cache_find(h->a.vpn, SID)->expires;
    tick(h, NULL); /* the first retransmission */
    assert_int_equal(h->n_tx, 3);
    pcn_take_bu(h, 300);
    assert_int_equal(h->a.cnt.br_refreshed, 1);
    assert_int_equal(session_left(h), 300);
    for (int i = 0; i < 20; i++)
        tick(h, NULL);
    assert_int_equal(h->n_tx, 4); /* no BR since the BU */
    assert_true(agent_now_s(&h->a) > old_expiry);
    assert_non_null(vpn_cache_find(h->a.vpn, SID));
    /* Watched again: the next round starts below the threshold. */
    while (session_left(h) > 10) {
        tick(h, NULL);
        assert_int_equal(h->n_tx, 4);
    }
    tick(h, NULL);
    assert_int_equal(h->n_tx, 5);
    expect_br(h, 4);
    /* The HA's binding has exactly the threshold left (its answer rounds the
     * remaining lifetime up, so this is the usual case): the BU ends the
     * round and starts no new one, not even one second later. */
    pcn_take_bu(h, 10);
    assert_int_equal(h->a.cnt.br_refreshed, 2);
    for (int i = 0; i < 9; i++)
        tick(h, NULL);
    assert_int_equal(h->n_tx, 6);
    assert_non_null(vpn_cache_find(h->a.vpn, SID));
    tick(h, NULL);
    assert_null(vpn_cache_find(h->a.vpn, SID));
    assert_int_equal(h->a.cnt.br_unanswered, 0);
    assert_int_equal(h->a.cnt.br_tx, 3);
    assert_int_equal(dp_count(h->a.dp, -1), dp_count(h->a.dp, DP_OBJ_UDP_REDIRECT));
    h_free(h);
    cap_free(c);
}

/* A lifetime-0 BU during a round: the session goes, the round with it. */
static void test_lifetime0_ends_round(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(pcn_conf, &c);
    pcn_take_bu(h, 12);
    tick(h, NULL);
    tick(h, NULL);
    tick(h, NULL);
    assert_int_equal(h->n_tx, 2);
    expect_br(h, 1);
    pcn_take_bu(h, 0);
    assert_null(vpn_cache_find(h->a.vpn, SID));
    for (int i = 0; i < 20; i++)
        tick(h, NULL);
    assert_int_equal(h->n_tx, 3);
    assert_int_equal(h->a.cnt.br_unanswered, 0);
    assert_int_equal(h->a.cnt.br_refreshed, 0);
    h_free(h);
    cap_free(c);
}

/* refresh_threshold_s = 0: never a BR; the session just expires. */
static void test_threshold_zero(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(pcn_conf_no_refresh, &c);
    pcn_take_bu(h, 15);
    for (int i = 0; i < 20; i++)
        tick(h, NULL);
    assert_int_equal(h->n_tx, 1);
    assert_null(vpn_cache_find(h->a.vpn, SID));
    assert_int_equal(h->a.cnt.br_tx, 0);
    assert_int_equal(h->a.cnt.expirations, 1);
    h_free(h);
    cap_free(c);
}

/* A BR the socket refused is counted and sent again on the next timeout. */
static void test_br_send_failure(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(pcn_conf, &c);
    pcn_take_bu(h, 15);
    while (session_left(h) > 10)
        tick(h, NULL);
    h->tx_fail = -ENETUNREACH;
    tick(h, NULL);
    assert_int_equal(h->n_tx, 1);
    assert_int_equal(h->a.cnt.tx_errors, 1);
    assert_int_equal(h->a.cnt.br_tx, 0);
    tick(h, NULL);
    assert_int_equal(h->n_tx, 2);
    expect_br(h, 1);
    assert_int_equal(h->a.cnt.br_retx, 1);
    h_free(h);
    cap_free(c);
}

/* ---- HA ------------------------------------------------------------------- */

struct pair {
    struct harness *ha, *pcn;
    struct aaa_capture *hc, *pc;
};

/* The profile's destination and where its BU goes: a prefix (the BU goes to
 * the PCN itself) unless a test names a correspondent host. */
static const char *g_prof_dst = "172.16.60.0/24", *g_bu_to = PCN_A;

/* HAR for alice with one profile for PCN A (g_prof_dst), lifetime 120; the
 * PCN takes the BU, the HA its BA: HAA 2001. */
static void ha_register(struct pair *p, uint64_t ident)
{
    uint8_t req[256];
    struct mip_writer w;
    mip_writer_init(&w, req, sizeof(req));
    struct mip_reg_request rq = {.lifetime = 120,
                                 .home_agent = h_ip(HA_ADDR),
                                 .care_of_addr = h_ip("192.0.2.11"),
                                 .identification = ident};
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, "alice@home.example", 18);
    static const uint8_t nonce[16] = {1}, k[20] = {2};
    struct vpn_profile prof;
    profile(&prof, 3, g_prof_dst, PCN_A);
    struct aaa_har har = {.id = 1,
                          .session_id = SID,
                          .nai = "alice@home.example",
                          .reg_req = req,
                          .reg_req_len = w.len,
                          .hoa = h_ip(HOA),
                          .has_mn_ha = true,
                          .mn_ha_spi = 0x10001,
                          .mn_ha_alg = 2,
                          .mn_ha_replay = 2,
                          .nonce = nonce,
                          .nonce_len = 16,
                          .mn_ha_key = k,
                          .mn_ha_key_len = 20,
                          .profiles = &prof,
                          .n_profiles = 1};
    unsigned haa = p->hc->n_haa, ha_tx = p->ha->n_tx;
    ha_har_rx(&p->ha->a, &har);
    vpn_profile_clear(&prof);
    assert_int_equal(p->ha->n_tx, ha_tx + 1);
    assert_int_equal(p->ha->tx[ha_tx].to.addr.s_addr, h_ip(g_bu_to).s_addr);
    if (!p->pcn)
        return; /* the BU stays in flight */
    struct pkt_addr from = {.addr = h_ip(HA_ADDR), .port = 434, .local = h_ip(g_bu_to)};
    unsigned pcn_tx = p->pcn->n_tx;
    pcn_rx(&p->pcn->a, &from, p->ha->tx[ha_tx].buf, p->ha->tx[ha_tx].len);
    assert_int_equal(p->pcn->n_tx, pcn_tx + 1);
    struct pkt_addr back = {.addr = h_ip(g_bu_to), .port = 434};
    ha_rx(&p->ha->a, &back, p->pcn->tx[pcn_tx].buf, p->pcn->tx[pcn_tx].len);
    assert_int_equal(p->hc->n_haa, haa + 1);
    assert_int_equal(p->hc->haa[haa].rc, 2001);
}

static void pair_new(struct pair *p)
{
    p->pcn = pcn_new(pcn_conf, &p->pc);
    p->ha = h_new(ha_conf, ROLE_HA);
    p->hc = cap_attach(p->ha, "ha.home.example");
    assert_int_equal(ha_init(&p->ha->a), 0);
    ha_register(p, h_ident(1));
    assert_int_equal(ha_binding_count(&p->ha->a), 1);
    assert_non_null(vpn_cache_find(p->pcn->a.vpn, SID));
}

static void pair_free(struct pair *p)
{
    h_free(p->ha);
    h_free(p->pcn);
    cap_free(p->hc);
    cap_free(p->pc);
}

/* Hands a BR to the HA as coming from `from`; returns how many datagrams the
 * HA sent in response. */
static unsigned ha_take_br(struct harness *ha, const char *from, const uint8_t *buf, size_t len)
{
    struct pkt_addr pa = {.addr = h_ip(from), .port = 434, .local = h_ip(HA_ADDR)};
    unsigned before = ha->n_tx;
    ha_rx(&ha->a, &pa, buf, len);
    return ha->n_tx - before;
}

/* The BU the HA sent as datagram i: lifetime, and its VPN information
 * opened with the PCN's key. */
static struct mip_experimental ha_bu(struct harness *ha, unsigned i, const uint8_t *k,
                                     uint32_t spi_want, struct vpn_info *info)
{
    const struct h_tx *t = &ha->tx[i];
    struct mip_experimental m;
    assert_int_equal(mip_get_experimental(t->buf, t->len, &m, NULL), MIP_OK);
    assert_int_equal(m.subtype, MIP_EXP_BINDING_UPDATE);
    uint32_t spi = 0;
    assert_true(mip_verify_ro_auth(t->buf, t->len, &m.ext, 32473, k, 32, &spi));
    assert_int_equal(spi, spi_want);
    const struct mip_vse *v = vpn_cvse_find(&m.ext, 32473, NULL);
    assert_non_null(v);
    char err[VPN_ERR_MAX];
    if (!vpn_cvse_get(v, 32473, k, 32, info, err, sizeof(err)))
        fail_msg("vpn_cvse_get: %s", err);
    return m;
}

/* The whole chain: the PCN's BR reaches the HA, whose BU (the binding's
 * remaining lifetime) reaches the PCN, whose BA reaches the HA. */
static void test_ha_answers_pcn_br(void **st)
{
    (void)st;
    struct pair p;
    pair_new(&p);
    unsigned pcn_tx = p.pcn->n_tx;
    while (p.pcn->n_tx == pcn_tx)
        tick(p.pcn, p.ha);
    assert_int_equal(session_left(p.pcn), 9);
    expect_br(p.pcn, pcn_tx);
    const struct h_tx *br = &p.pcn->tx[pcn_tx];
    assert_int_equal(ha_take_br(p.ha, PCN_A, br->buf, br->len), 1);
    assert_int_equal(p.ha->a.cnt.br_rx, 1);
    assert_int_equal(p.ha->a.cnt.br_answered, 1);
    assert_true(
        cap_has_event(p.hc, "ha.home.example rx BR peer=192.0.2.70 session=fa1;1;1", NULL, NULL));
    /* The BU: to the PCN, the registration-time content, what the binding
     * has left (9 s of 120). */
    unsigned i = p.ha->n_tx - 1;
    assert_int_equal(p.ha->tx[i].to.addr.s_addr, h_ip(PCN_A).s_addr);
    struct vpn_info info;
    struct mip_experimental bu = ha_bu(p.ha, i, key, 4096, &info);
    assert_int_equal(bu.u.bu.lifetime, 9);
    assert_int_equal(bu.u.bu.home_addr.s_addr, h_ip(HOA).s_addr);
    assert_int_equal(bu.u.bu.care_of_addr.s_addr, h_ip("192.0.2.11").s_addr);
    assert_string_equal(info.session_id, SID);
    assert_string_equal(info.nai, "alice@home.example");
    assert_int_equal(info.lifetime, 9);
    assert_int_equal(info.n, 1);
    assert_int_equal(info.profiles[0].number, 3);
    assert_int_equal(info.profiles[0].src_gw.s_addr, h_ip(PCN_A).s_addr);
    assert_true(info.profiles[0].has_keys);
    vpn_info_clear(&info);
    assert_int_equal(bu_pending_count(&p.ha->a), 1);
    assert_true(cap_has_event(p.hc, "tx BU peer=192.0.2.70 session=fa1;1;1", NULL, NULL));
    /* The PCN takes it: round over; its BA ends the HA's transaction. */
    struct pkt_addr from = {.addr = h_ip(HA_ADDR), .port = 434, .local = h_ip(PCN_A)};
    pcn_tx = p.pcn->n_tx;
    pcn_rx(&p.pcn->a, &from, p.ha->tx[i].buf, p.ha->tx[i].len);
    assert_int_equal(p.pcn->n_tx, pcn_tx + 1);
    assert_int_equal(p.pcn->a.cnt.br_refreshed, 1);
    struct pkt_addr back = {.addr = h_ip(PCN_A), .port = 434};
    ha_rx(&p.ha->a, &back, p.pcn->tx[pcn_tx].buf, p.pcn->tx[pcn_tx].len);
    assert_int_equal(bu_pending_count(&p.ha->a), 0);
    assert_int_equal(p.ha->a.cnt.br_bu_failed, 0);
    /* No more BRs; binding and session end together. */
    pcn_tx = p.pcn->n_tx;
    for (int s = 0; s < 9; s++)
        tick(p.pcn, p.ha);
    assert_int_equal(p.pcn->n_tx, pcn_tx);
    assert_int_equal(ha_binding_count(&p.ha->a), 0);
    assert_null(vpn_cache_find(p.pcn->a.vpn, SID));
    assert_int_equal(p.pcn->a.cnt.br_unanswered, 0);
    assert_int_equal(p.pcn->a.cnt.br_tx, 1);
    pair_free(&p);
}

/* A profile naming a correspondent host: the BUs go to its address and the
 * PCN intercepts them (DESIGN §7); its BR then reaches the HA from that
 * address (the REDIRECT's connection tracking rewrites the source of the
 * PCN's 434 -> 434 datagrams).  Accepted as the PCN's, answered the same way
 * as the registration.  Once the HA has no session for the home address, the
 * PCN's key still identifies it: silent (br_silent).  A BR from an address
 * that is no PCN's, under no configured key, is refused (br_unknown_peer). */
static void test_ha_br_via_correspondent(void **st)
{
    (void)st;
    g_prof_dst = "172.16.60.10/32";
    g_bu_to = "172.16.60.10";
    struct pair p;
    pair_new(&p);
    uint8_t buf[256];
    size_t n = build_br(HOA, h_ident(2), wrong_key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, "172.16.60.11", buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_unknown_peer, 1);
    n = build_br("10.10.0.151", h_ident(2), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, "172.16.60.10", buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_silent, 1);
    assert_int_equal(p.ha->a.cnt.br_unknown_peer, 1);
    n = build_br(HOA, h_ident(3), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, "172.16.60.10", buf, n), 1);
    assert_int_equal(p.ha->a.cnt.br_answered, 1);
    unsigned i = p.ha->n_tx - 1;
    assert_int_equal(p.ha->tx[i].to.addr.s_addr, h_ip("172.16.60.10").s_addr);
    struct vpn_info info;
    struct mip_experimental bu = ha_bu(p.ha, i, key, 4096, &info);
    assert_int_equal(bu.u.bu.home_addr.s_addr, h_ip(HOA).s_addr);
    assert_int_equal(info.n, 1);
    vpn_info_clear(&info);
    /* The PCN's BA, from the correspondent's address, ends the transaction. */
    struct pkt_addr from = {.addr = h_ip(HA_ADDR), .port = 434, .local = h_ip("172.16.60.10")};
    unsigned pcn_tx = p.pcn->n_tx;
    pcn_rx(&p.pcn->a, &from, p.ha->tx[i].buf, p.ha->tx[i].len);
    assert_int_equal(p.pcn->n_tx, pcn_tx + 1);
    struct pkt_addr back = {.addr = h_ip("172.16.60.10"), .port = 434};
    ha_rx(&p.ha->a, &back, p.pcn->tx[pcn_tx].buf, p.pcn->tx[pcn_tx].len);
    assert_int_equal(bu_pending_count(&p.ha->a), 0);
    assert_int_equal(p.ha->a.cnt.br_bu_failed, 0);
    pair_free(&p);
    g_prof_dst = "172.16.60.0/24";
    g_bu_to = PCN_A;
}

/* Silent (counted): no binding for the home address, a binding whose VPN
 * information does not involve that PCN, a registration still waiting for
 * its BAs. */
static void test_ha_silent(void **st)
{
    (void)st;
    struct pair p;
    pair_new(&p);
    uint8_t buf[256];
    size_t n = build_br("10.10.0.151", h_ident(1), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_silent, 1);
    assert_true(cap_has_event(p.hc, "rx BR peer=192.0.2.70 session=-", NULL, NULL));
    /* PCN B is a configured peer, authenticated, but alice's profiles are
     * all for PCN A. */
    n = build_br(HOA, h_ident(1), key_b, 4098, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_B, buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_silent, 2);
    /* A re-registration waiting for its BA: its BU will refresh the PCN. */
    struct pair q = p;
    q.pcn = NULL;
    ha_register(&q, h_ident(2));
    assert_int_equal(bu_pending_count(&p.ha->a), 1);
    n = build_br(HOA, h_ident(2), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_silent, 3);
    assert_int_equal(p.ha->a.cnt.br_answered, 0);
    assert_int_equal(p.ha->a.cnt.br_rx, 3);
    assert_int_equal(bu_pending_count(&p.ha->a), 1);
    assert_int_equal(ha_binding_count(&p.ha->a), 1);
    /* What `mipctl counters` shows. */
    char *js = NULL;
    size_t jl = 0;
    FILE *f = open_memstream(&js, &jl);
    agent_dump_counters(&p.ha->a, f);
    fclose(f);
    assert_non_null(strstr(js, "{\"name\":\"br_silent\",\"value\":3}"));
    assert_non_null(strstr(js, "{\"name\":\"br_rx\",\"value\":3}"));
    free(js);
    pair_free(&p);
}

/* Refused and counted, nothing sent, nothing changed: wrong authenticator,
 * wrong SPI, none, unknown sender, replayed, old or stale identification,
 * malformed.  Then a fresh BR is answered; the binding's end cancels the
 * BU in flight (only the lifetime-0 BU is left). */
static void test_ha_refusals(void **st)
{
    (void)st;
    struct pair p;
    pair_new(&p);
    for (int s = 0; s < 100; s++)
        tick(p.ha, NULL); /* 20 s left */
    uint8_t good[256], buf[256];
    size_t gn = build_br(HOA, h_ident(5), key, 4096, good, sizeof(good));
    assert_int_equal(ha_take_br(p.ha, PCN_A, good, gn), 1);
    assert_int_equal(p.ha->a.cnt.br_answered, 1);
    struct vpn_info info;
    struct mip_experimental bu = ha_bu(p.ha, p.ha->n_tx - 1, key, 4096, &info);
    assert_int_equal(bu.u.bu.lifetime, 20);
    vpn_info_clear(&info);
    unsigned tx = p.ha->n_tx;
    size_t n = build_br(HOA, h_ident(6), wrong_key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0);
    n = build_br(HOA, h_ident(7), key, 4097, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0);
    n = build_br(HOA, h_ident(8), NULL, 0, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_auth_failed, 3);
    /* A wrong authenticator did not use up its identification. */
    /* A sender that is no configured PCN: neither its address nor a BU
     * destination of the session, and no pcn_peers key authenticates it. */
    n = build_br(HOA, h_ident(9), wrong_key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, "192.0.2.99", buf, n), 0);
    assert_int_equal(p.ha->a.cnt.br_unknown_peer, 1);
    assert_int_equal(p.ha->a.cnt.br_auth_failed, 3);
    assert_int_equal(ha_take_br(p.ha, PCN_A, good, gn), 0); /* replayed */
    n = build_br(HOA, h_ident(4), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0); /* older */
    n = build_br(HOA, h_ident(50) - (30ull << 32), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 0); /* 30 s old: stale */
    assert_int_equal(p.ha->a.cnt.br_replayed, 3);
    memcpy(buf, good, gn);
    buf[1] = MIP_EXP_LEN_BR + 1;
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, gn), 0);
    assert_int_equal(p.ha->a.cnt.br_malformed, 1);
    assert_int_equal(p.ha->n_tx, tx);
    assert_int_equal(p.ha->a.cnt.br_rx, 9);
    assert_int_equal(p.ha->a.cnt.br_answered, 1);
    assert_int_equal(p.ha->a.cnt.br_silent, 0);
    assert_int_equal(bu_pending_count(&p.ha->a), 1);
    assert_int_equal(ha_binding_count(&p.ha->a), 1);
    /* A fresh one (the wrongly authenticated identification 6 included)
     * restarts the BU for that PCN: still one in flight. */
    n = build_br(HOA, h_ident(6), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 1);
    assert_int_equal(p.ha->a.cnt.br_answered, 2);
    assert_int_equal(bu_pending_count(&p.ha->a), 1);
    /* Unacknowledged: 1 + 2 + 4 s, then counted as failed; the binding stays. */
    for (int s = 0; s < 7; s++)
        tick(p.ha, NULL);
    assert_int_equal(bu_pending_count(&p.ha->a), 0);
    assert_int_equal(p.ha->a.cnt.br_bu_failed, 1);
    assert_int_equal(ha_binding_count(&p.ha->a), 1);
    /* Another answer 5 s before the end, then the binding expires while its
     * BU is in flight (retransmitted, not yet timed out): only the
     * lifetime-0 BU remains. */
    for (int s = 0; s < 8; s++)
        tick(p.ha, NULL);
    n = build_br(HOA, h_ident(7), key, 4096, buf, sizeof(buf));
    assert_int_equal(ha_take_br(p.ha, PCN_A, buf, n), 1);
    bu = ha_bu(p.ha, p.ha->n_tx - 1, key, 4096, &info);
    assert_int_equal(bu.u.bu.lifetime, 5);
    vpn_info_clear(&info);
    for (int s = 0; s < 5; s++)
        tick(p.ha, NULL);
    assert_int_equal(ha_binding_count(&p.ha->a), 0);
    assert_int_equal(bu_pending_count(&p.ha->a), 1);
    bu = ha_bu(p.ha, p.ha->n_tx - 1, key, 4096, &info);
    assert_int_equal(bu.u.bu.lifetime, 0);
    vpn_info_clear(&info);
    assert_int_equal(p.ha->a.cnt.br_bu_failed, 1);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_br_then_expiry),
        cmocka_unit_test(test_bu_ends_round),
        cmocka_unit_test(test_lifetime0_ends_round),
        cmocka_unit_test(test_threshold_zero),
        cmocka_unit_test(test_br_send_failure),
        cmocka_unit_test(test_ha_answers_pcn_br),
        cmocka_unit_test(test_ha_br_via_correspondent),
        cmocka_unit_test(test_ha_silent),
        cmocka_unit_test(test_ha_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
