/* Proxy correspondent node (aaad/FLOWS.md "PCN"): the UDP redirect of its
 * served prefixes, a good BU cached and acknowledged, every refusal answered
 * with its BA status, counted, and leaving the state alone; and a whole
 * HA -> PCN -> HA exchange. */
#include "aaa_capture.h"

#include "dp_backend.h"

#include "vpn_cache.h"
#include "vpn_cvse.h"

static const char *pcn_conf =
    "pcn: { address = \"192.0.2.70\"; serves = ( \"172.16.60.0/24\", \"172.16.61.0/24\" );\n"
    "  replay_window = 7;\n"
    "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } ); };\n";

static const uint8_t key[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t wrong_key[32] = {0xee};

static struct harness *pcn_new(struct aaa_capture **c)
{
    struct harness *h = h_new(pcn_conf, ROLE_PCN);
    *c = cap_attach(h, "pcn.partner.example");
    h->a.aaa = NULL; /* the PCN speaks only Mobile IP */
    assert_int_equal(pcn_init(&h->a), 0);
    return h;
}

static void profile(struct vpn_profile *p, uint32_t num, const char *dst, const char *src_gw)
{
    vpn_profile_init(p);
    p->number = num;
    p->leg = VPN_LEG_FA_PCN;
    p->gw_type = VPN_GW_DYNAMIC;
    assert_true(vpn_prefix_parse("10.10.0.150/32", &p->src));
    assert_true(vpn_prefix_parse(dst, &p->dst));
    p->spi_up = 0x1000 + num;
    p->spi_down = 0x2000 + num;
    p->src_gw = h_ip(src_gw);
    p->dst_gw = h_ip("192.0.2.11");
    assert_true(vpn_profile_generate_keys(p));
}

struct bu_opts {
    uint64_t ident;
    uint16_t lifetime;
    const char *dst;    /* profile destination (default 172.16.60.0/24) */
    const char *src_gw; /* default: the PCN */
    const uint8_t *auth_key, *seal_key;
    uint32_t spi;
    bool no_vpninfo;
    unsigned n_profiles; /* default 1 */
};

static size_t build_bu(const struct bu_opts *o, uint8_t *buf, size_t cap)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_UPDATE;
    m.u.bu.flags = MIP_BU_FLAG_A | MIP_BU_FLAG_I;
    m.u.bu.lifetime = o->lifetime;
    m.u.bu.home_addr = h_ip("10.10.0.150");
    m.u.bu.care_of_addr = h_ip("192.0.2.11");
    m.u.bu.identification = o->ident;
    mip_put_experimental(&w, &m);
    if (!o->no_vpninfo) {
        struct vpn_info info;
        memset(&info, 0, sizeof(info));
        snprintf(info.session_id, sizeof(info.session_id), "fa1;1;1");
        snprintf(info.nai, sizeof(info.nai), "alice@home.example");
        info.hoa = h_ip("10.10.0.150");
        info.lifetime = o->lifetime;
        info.n = o->n_profiles ? o->n_profiles : (o->lifetime ? 1 : 0);
        /* Each profile selects other traffic (else they would conflict). */
        for (unsigned i = 0; i < info.n; i++)
            profile(&info.profiles[i], 2 + i,
                    i == 1   ? "172.16.61.128/25"
                    : o->dst ? o->dst
                             : "172.16.60.0/24",
                    o->src_gw ? o->src_gw : "192.0.2.70");
        char err[VPN_ERR_MAX];
        if (!vpn_cvse_put(&w, 32473, &info, o->seal_key ? o->seal_key : key, 32, err, sizeof(err)))
            fail_msg("vpn_cvse_put: %s", err);
        vpn_info_clear(&info);
    }
    mip_put_ro_auth(&w, 32473, o->spi ? o->spi : 4096, o->auth_key ? o->auth_key : key, 32);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

/* Sends a BU as the HA 10.10.0.1 (or from) addressed to a correspondent the
 * PCN serves (the redirect delivers it to us) and returns the BA. */
static struct mip_experimental bu_exchange(struct harness *h, const struct bu_opts *o,
                                           const char *from, bool *authenticated)
{
    uint8_t buf[2048];
    size_t n = build_bu(o, buf, sizeof(buf));
    struct pkt_addr pa = {
        .addr = h_ip(from ? from : "10.10.0.1"), .port = 434, .local = h_ip("192.0.2.70")};
    unsigned before = h->n_tx;
    pcn_rx(&h->a, &pa, buf, n);
    assert_int_equal(h->n_tx, before + 1);
    struct h_tx *t = &h->tx[h->n_tx - 1];
    assert_int_equal(t->to.addr.s_addr, pa.addr.s_addr);
    assert_int_equal(t->to.local.s_addr, h_ip("192.0.2.70").s_addr);
    struct mip_experimental ba;
    size_t off;
    assert_int_equal(mip_get_experimental(t->buf, t->len, &ba, &off), MIP_OK);
    assert_int_equal(ba.subtype, MIP_EXP_BINDING_ACK);
    uint32_t spi = 0;
    *authenticated =
        mip_verify_ro_auth(t->buf, t->len, &ba.ext, 32473, key, 32, &spi) && spi == 4096;
    return ba;
}

static uint64_t ident(unsigned low)
{
    return h_ident(low);
}

static void test_redirect_installed_and_removed(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(&c);
    assert_int_equal(dp_count(h->a.dp, DP_OBJ_UDP_REDIRECT), 2);
    const char *log = dp_recorder_log(h->a.dp);
    assert_non_null(strstr(log, "udp_redirect_add 172.16.60.0/24 udp 434"));
    assert_non_null(strstr(log, "udp_redirect_add 172.16.61.0/24 udp 434"));
    assert_int_equal(dp_recorder_check(h->a.dp), 0);
    char *js = NULL;
    size_t jl = 0;
    FILE *f = open_memstream(&js, &jl);
    dp_dump_json(h->a.dp, f);
    fclose(f);
    assert_non_null(strstr(
        js, "{\"kind\":\"udp_redirect\",\"dst\":\"172.16.60.0/24\",\"port\":434,\"refs\":1}"));
    free(js);
    pcn_fini(&h->a);
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    assert_non_null(strstr(dp_recorder_log(h->a.dp), "udp_redirect_del 172.16.60.0/24 udp 434"));
    h_free(h);
    cap_free(c);
}

static void test_good_bu(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(&c);
    bool auth;
    struct bu_opts o = {.ident = ident(1), .lifetime = 300};
    struct mip_experimental ba = bu_exchange(h, &o, NULL, &auth);
    assert_true(auth);
    assert_int_equal(ba.u.ba.status, 0);
    assert_int_equal(ba.u.ba.identification, o.ident);
    assert_int_equal(ba.u.ba.lifetime, 300);
    assert_int_equal(ba.u.ba.home_addr.s_addr, h_ip("10.10.0.150").s_addr);
    struct vpn_session *s = vpn_cache_find(h->a.vpn, "fa1;1;1");
    assert_non_null(s);
    assert_string_equal(s->nai, "alice@home.example");
    assert_int_equal(s->fa.s_addr, h_ip("192.0.2.11").s_addr);
    assert_int_equal(s->n_profiles, 1);
    assert_true(s->profiles[0].has_keys);
    assert_int_equal(h->a.cnt.bu_rx, 1);
    assert_int_equal(h->a.cnt.bu_accepted, 1);
    assert_int_equal(h->a.cnt.ba_tx, 1);
    assert_true(cap_has_event(c, "pcn.partner.example rx BU peer=10.10.0.1", NULL, NULL));
    assert_true(cap_has_event(c, "tx BA peer=10.10.0.1 session=fa1;1;1 code=0", NULL, NULL));
    /* A new BU for the session replaces its profiles (delete-then-set). */
    o = (struct bu_opts){
        .ident = ident(2), .lifetime = 300, .n_profiles = 2, .dst = "172.16.61.0/24"};
    ba = bu_exchange(h, &o, NULL, &auth);
    assert_int_equal(ba.u.ba.status, 0);
    s = vpn_cache_find(h->a.vpn, "fa1;1;1");
    assert_int_equal(s->n_profiles, 2);
    assert_int_equal(vpn_cache_count(h->a.vpn), 1);
    /* Lifetime 0: the session goes. */
    o = (struct bu_opts){.ident = ident(3), .lifetime = 0};
    ba = bu_exchange(h, &o, NULL, &auth);
    assert_int_equal(ba.u.ba.status, 0);
    assert_int_equal(vpn_cache_count(h->a.vpn), 0);
    h_free(h);
    cap_free(c);
}

/* Each refusal: its status, its counter, and no change of state. */
static void test_refusals(void **st)
{
    (void)st;
    struct aaa_capture *c;
    struct harness *h = pcn_new(&c);
    bool auth;
    struct bu_opts good = {.ident = ident(10), .lifetime = 300};
    assert_int_equal(bu_exchange(h, &good, NULL, &auth).u.ba.status, 0);
    struct vpn_session *s = vpn_cache_find(h->a.vpn, "fa1;1;1");
    uint32_t spi_before = s->profiles[0].spi_up;

    /* bad RO authenticator */
    struct bu_opts o = {
        .ident = ident(11), .lifetime = 300, .auth_key = wrong_key, .dst = "172.16.61.0/24"};
    struct mip_experimental ba = bu_exchange(h, &o, NULL, &auth);
    assert_int_equal(ba.u.ba.status, MIP_BA_AUTH_FAILED);
    assert_true(auth);
    assert_int_equal(h->a.cnt.bu_auth_failed, 1);
    /* wrong SPI */
    o = (struct bu_opts){.ident = ident(12), .lifetime = 300, .spi = 4097};
    assert_int_equal(bu_exchange(h, &o, NULL, &auth).u.ba.status, MIP_BA_AUTH_FAILED);
    assert_int_equal(h->a.cnt.bu_auth_failed, 2);
    /* replay of the accepted BU, and an older identification */
    assert_int_equal(bu_exchange(h, &good, NULL, &auth).u.ba.status, MIP_BA_ID_MISMATCH);
    o = (struct bu_opts){.ident = ident(9), .lifetime = 300};
    ba = bu_exchange(h, &o, NULL, &auth);
    assert_int_equal(ba.u.ba.status, MIP_BA_ID_MISMATCH);
    assert_int_equal((uint32_t)ba.u.ba.identification, (uint32_t)o.ident);
    /* stale: outside the replay window */
    o = (struct bu_opts){.ident = h_ident(20) - (30ull << 32), .lifetime = 300};
    assert_int_equal(bu_exchange(h, &o, NULL, &auth).u.ba.status, MIP_BA_ID_MISMATCH);
    assert_int_equal(h->a.cnt.bu_replayed, 3);
    /* unknown peer: a BA without RO-auth */
    o = (struct bu_opts){.ident = ident(21), .lifetime = 300};
    ba = bu_exchange(h, &o, "10.10.0.9", &auth);
    assert_int_equal(ba.u.ba.status, MIP_BA_UNKNOWN_PEER);
    assert_false(auth);
    assert_int_equal(ba.ext.n_cvse, 0);
    assert_int_equal(h->a.cnt.bu_unknown_peer, 1);
    /* no VPN-INFO; VPN-INFO sealed with another key */
    o = (struct bu_opts){.ident = ident(22), .lifetime = 300, .no_vpninfo = true};
    assert_int_equal(bu_exchange(h, &o, NULL, &auth).u.ba.status, MIP_BA_POORLY_FORMED);
    o = (struct bu_opts){.ident = ident(23), .lifetime = 300, .seal_key = wrong_key};
    assert_int_equal(bu_exchange(h, &o, NULL, &auth).u.ba.status, MIP_BA_POORLY_FORMED);
    assert_int_equal(h->a.cnt.bu_bad_vpninfo, 2);
    /* VPN information for another PCN, or a correspondent we do not serve */
    o = (struct bu_opts){.ident = ident(24), .lifetime = 300, .src_gw = "192.0.2.71"};
    assert_int_equal(bu_exchange(h, &o, NULL, &auth).u.ba.status, MIP_BA_PROHIBITED);
    o = (struct bu_opts){.ident = ident(25), .lifetime = 300, .dst = "172.16.50.0/24"};
    assert_int_equal(bu_exchange(h, &o, NULL, &auth).u.ba.status, MIP_BA_PROHIBITED);
    assert_int_equal(h->a.cnt.bu_prohibited, 2);
    /* Garbage: dropped, counted. */
    uint8_t junk[] = {255, 21, 18, 0xf0};
    struct pkt_addr pa = {.addr = h_ip("10.10.0.1"), .port = 434};
    unsigned before = h->n_tx;
    pcn_rx(&h->a, &pa, junk, sizeof(junk));
    assert_int_equal(h->n_tx, before);
    assert_int_equal(h->a.cnt.bu_malformed, 1);
    /* Nothing changed the session of the good BU. */
    assert_int_equal(vpn_cache_count(h->a.vpn), 1);
    s = vpn_cache_find(h->a.vpn, "fa1;1;1");
    assert_int_equal(s->n_profiles, 1);
    assert_int_equal(s->profiles[0].spi_up, spi_before);
    assert_string_equal(s->profiles[0].dst.addr.s_addr == h_ip("172.16.60.0").s_addr ? "ok" : "x",
                        "ok");
    assert_int_equal(h->a.cnt.bu_accepted, 1);
    h_free(h);
    cap_free(c);
}

/* ---- the whole exchange: HA -> PCN -> HA ---------------------------------- */

static const char *ha_conf =
    "ha: { address = \"10.10.0.1\"; home_link = \"home0\";\n"
    "  aaa = { diameter_conf = \"/dev/null\"; };\n"
    "  pcn_peers = ( { address = \"192.0.2.70\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } ); };\n";

static void test_ha_pcn_exchange(void **st)
{
    (void)st;
    struct aaa_capture *pc, *hc;
    struct harness *pcn = pcn_new(&pc);
    /* The PCN's peer is the HA at 10.10.0.1 with the same key. */
    struct harness *ha = h_new(ha_conf, ROLE_HA);
    hc = cap_attach(ha, "ha.home.example");
    assert_int_equal(ha_init(&ha->a), 0);
    uint8_t req[256];
    struct mip_writer w;
    mip_writer_init(&w, req, sizeof(req));
    struct mip_reg_request rq = {.lifetime = 120,
                                 .home_agent = h_ip("10.10.0.1"),
                                 .care_of_addr = h_ip("192.0.2.11"),
                                 .identification = h_ident(1)};
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, "alice@home.example", 18);
    static const uint8_t nonce[16] = {1}, k[20] = {2};
    struct vpn_profile p[2];
    profile(&p[0], 2, "172.16.60.10/32", "192.0.2.70"); /* a host: BU to the CN */
    profile(&p[1], 3, "172.16.61.0/24", "192.0.2.70");  /* a prefix: BU to the PCN */
    struct aaa_har har = {.id = 1,
                          .session_id = "fa1;1;1",
                          .nai = "alice@home.example",
                          .reg_req = req,
                          .reg_req_len = w.len,
                          .hoa = h_ip("10.10.0.150"),
                          .has_mn_ha = true,
                          .mn_ha_spi = 0x10001,
                          .mn_ha_alg = 2,
                          .mn_ha_replay = 2,
                          .nonce = nonce,
                          .nonce_len = 16,
                          .mn_ha_key = k,
                          .mn_ha_key_len = 20,
                          .profiles = p,
                          .n_profiles = 2};
    ha_har_rx(&ha->a, &har);
    vpn_profile_clear(&p[0]);
    vpn_profile_clear(&p[1]);
    /* One BU for the PCN with both profiles, to the correspondent host. */
    assert_int_equal(ha->n_tx, 1);
    assert_int_equal(ha->tx[0].to.addr.s_addr, h_ip("172.16.60.10").s_addr);
    assert_int_equal(hc->n_haa, 0);
    /* Intercepted by the PCN (the redirect), it arrives from the HA. */
    struct pkt_addr from = {.addr = h_ip("10.10.0.1"), .port = 434, .local = h_ip("192.0.2.70")};
    pcn_rx(&pcn->a, &from, ha->tx[0].buf, ha->tx[0].len);
    assert_int_equal(pcn->n_tx, 1);
    /* The BA comes back from the correspondent's address (conntrack). */
    struct pkt_addr back = {.addr = h_ip("172.16.60.10"), .port = 434};
    ha_rx(&ha->a, &back, pcn->tx[0].buf, pcn->tx[0].len);
    assert_int_equal(hc->n_haa, 1);
    assert_int_equal(hc->haa[0].rc, 2001);
    assert_int_equal(pcn->a.cnt.bu_accepted, 1);
    assert_int_equal(vpn_cache_count(pcn->a.vpn), 1);
    assert_int_equal(vpn_cache_find(pcn->a.vpn, "fa1;1;1")->n_profiles, 2);
    h_free(ha);
    h_free(pcn);
    cap_free(hc);
    cap_free(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirect_installed_and_removed),
        cmocka_unit_test(test_good_bu),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ha_pcn_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
