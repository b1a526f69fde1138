/* Home agent in AAA mode (aaad/FLOWS.md "HA", "BU/BA"): HAR -> binding, VPN
 * cache, RFC 3957 key reply, HAA; BUs to PCNs with the HAA held back until
 * every BA; retransmission, timeout and refusal -> 4005 + 130 and undo. */
#include "aaa_capture.h"

#include "vpn_cache.h"
#include "vpn_cvse.h"

static const char *ha_conf =
    "ha: { address = \"10.10.0.1\"; home_link = \"home0\"; max_lifetime = 600;\n"
    "  replay_window = 7;\n"
    "  aaa = { diameter_conf = \"/dev/null\"; };\n"
    "  pcn_peers = ( { address = \"192.0.2.70\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } );\n"
    "  bu_timeout_ms = 1000; bu_retries = 3; };\n";

static const uint8_t pcn_key[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t mn_aaa_key[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                       0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t nonce[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                  0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t fa_ha_key[16] = {0xfa, 0xce};
#define NAI "alice@home.example"
#define SID "fa1.visit-a.example;1;1"
#define MN_HA_SPI 0x10001

struct t {
    struct harness *h;
    struct aaa_capture *c;
    uint8_t mn_ha_key[20];
};

static struct t ha_aaa_new(void)
{
    struct t t;
    t.h = h_new(ha_conf, ROLE_HA);
    t.c = cap_attach(t.h, "ha.home.example");
    assert_int_equal(ha_init(&t.h->a), 0);
    assert_non_null(t.h->a.vpn);
    assert_true(mip_mn_ha_key_derive(mn_aaa_key, 16, nonce, 16, NAI, strlen(NAI), t.mn_ha_key));
    return t;
}

static void t_free(struct t *t)
{
    h_free(t->h);
    cap_free(t->c);
}

struct req_opts {
    unsigned low;
    uint16_t lifetime;
    const char *ha;
    bool mn_ha; /* add an MN-HA authenticator with the derived key */
    bool bad_mn_ha;
    const char *coa; /* the FA (default 192.0.2.11, FA1) */
    const char *sid; /* the HAR's Session-Id (default SID) */
};

/* What the MN sent through the FA (the AAAH already checked MN-AAA). */
static size_t mn_request(struct t *t, const struct req_opts *o, uint8_t *buf, size_t cap)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.lifetime = o->lifetime;
    rq.home_addr = h_ip("0.0.0.0");
    rq.home_agent = h_ip(o->ha ? o->ha : "10.10.0.1");
    rq.care_of_addr = h_ip(o->coa ? o->coa : "192.0.2.11");
    rq.identification = h_ident(o->low);
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, NAI, strlen(NAI));
    if (o->mn_ha) {
        uint8_t k[20];
        memcpy(k, t->mn_ha_key, 20);
        if (o->bad_mn_ha)
            k[0] ^= 1;
        mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, MN_HA_SPI, MIP_AUTH_HMAC_SHA1, k, 20);
    }
    static const uint8_t chal[16] = {5};
    mip_put_challenge(&w, chal, 16);
    mip_put_mn_aaa_auth(&w, 1000, mn_aaa_key, 16, chal, 16);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static void profile(struct vpn_profile *p, uint32_t num, const char *dst, const char *sgw,
                    const char *dgw, bool dynamic)
{
    vpn_profile_init(p);
    p->number = num;
    assert_true(vpn_prefix_parse("10.10.0.150/32", &p->src));
    assert_true(vpn_prefix_parse(dst, &p->dst));
    p->spi_up = 0x1000 + num * 16 + (dynamic ? 1 : 0);
    p->spi_down = 0x2000 + num * 16 + (dynamic ? 1 : 0);
    p->gw_type = dynamic ? VPN_GW_DYNAMIC : VPN_GW_STATIC;
    p->src_gw = h_ip(sgw);
    p->dst_gw = h_ip(dgw);
    assert_true(vpn_profile_generate_keys(p));
}

enum set { STATIC_SET, DYNAMIC_SET, BOTH_SET };

/* Sends a HAR with the HA's profile set. */
static void har(struct t *t, const struct req_opts *o, enum set which, uint64_t id)
{
    uint8_t req[512];
    size_t n = mn_request(t, o, req, sizeof(req));
    struct vpn_profile p[3];
    unsigned np = 0;
    const char *fa = o->coa ? o->coa : "192.0.2.11";
    if (which != DYNAMIC_SET) {
        /* scenario 1 (seed [0040]): ha-gw and fa-ha legs of profile 1 */
        profile(&p[np++], 1, "172.16.50.0/24", "10.10.0.1", "192.0.2.60", false);
        profile(&p[np++], 1, "172.16.50.0/24", "10.10.0.1", fa, false);
        p[1].spi_up += 4;
        p[1].spi_down += 4;
    }
    if (which != STATIC_SET) /* scenario 4 (seed [0041]): fa-pcn, src GW = PCN, dst GW = FA */
        profile(&p[np++], 2, "172.16.60.0/24", "192.0.2.70", fa, true);
    struct aaa_har h = {
        .id = id,
        .session_id = o->sid ? o->sid : SID,
        .origin_host = "aaah.home.example",
        .nai = NAI,
        .reg_req = req,
        .reg_req_len = n,
        .has_lifetime = true,
        .lifetime = 300,
        .hoa = h_ip("10.10.0.150"),
        .ha = h_ip("10.10.0.1"),
        .has_mn_ha = true,
        .mn_ha_spi = MN_HA_SPI,
        .mn_ha_alg = 2,
        .mn_ha_replay = 2,
        .nonce = nonce,
        .nonce_len = 16,
        .mn_ha_key = t->mn_ha_key,
        .mn_ha_key_len = 20,
        .has_fa_ha = true,
        .fa_ha_spi = 0x20001,
        .fa_ha_key = fa_ha_key,
        .fa_ha_key_len = 16,
        .profiles = p,
        .n_profiles = np,
    };
    ha_har_rx(&t->h->a, &h);
    for (unsigned i = 0; i < np; i++)
        vpn_profile_clear(&p[i]);
}

/* The reply inside the last HAA, checked as the MN would (RFC 3957). */
static struct mip_reg_reply haa_reply(struct t *t, unsigned i, uint32_t want_rc)
{
    assert_true(i < t->c->n_haa);
    struct cap_haa *a = &t->c->haa[i];
    assert_int_equal(a->rc, want_rc);
    assert_true(a->has_reply);
    struct mip_reg_reply rp;
    size_t off;
    assert_int_equal(mip_get_reg_reply(a->reply, a->reply_len, &rp, &off), MIP_OK);
    assert_true(rp.ext.keygen.present);
    assert_int_equal(rp.ext.keygen.aaa_spi, 1000);
    assert_int_equal(rp.ext.keygen.ha_spi, MN_HA_SPI);
    assert_int_equal(rp.ext.keygen.alg, 2);
    assert_int_equal(rp.ext.keygen.nonce.len, 16);
    assert_memory_equal(rp.ext.keygen.nonce.ptr, nonce, 16);
    uint8_t k[20];
    assert_true(mip_mn_ha_key_derive(mn_aaa_key, 16, rp.ext.keygen.nonce.ptr, 16, rp.ext.nai.ptr,
                                     rp.ext.nai.len, k));
    assert_int_equal(rp.ext.mn_ha.spi, MN_HA_SPI);
    assert_true(mip_verify_auth(a->reply, &rp.ext.mn_ha, MIP_AUTH_HMAC_SHA1, k, 20));
    return rp;
}

static void test_har_static(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, STATIC_SET, 7);
    assert_int_equal(t.c->n_haa, 1);
    assert_int_equal(t.c->haa[0].id, 7);
    struct mip_reg_reply rp = haa_reply(&t, 0, 2001);
    assert_int_equal(rp.code, 0);
    assert_int_equal(rp.lifetime, 300); /* the AAAH's Authorization-Lifetime */
    assert_int_equal(rp.home_addr.s_addr, h_ip("10.10.0.150").s_addr);
    assert_int_equal(rp.identification, h_ident(1));
    assert_true(t.c->haa[0].has_fa_ha_spi);
    assert_int_equal(t.c->haa[0].fa_ha_spi, 0x20001);
    assert_int_equal(t.c->haa[0].hoa.s_addr, h_ip("10.10.0.150").s_addr);
    assert_int_equal(t.h->n_tx, 0); /* no BU: the gateway is static */
    assert_int_equal(ha_binding_count(&t.h->a), 1);
    assert_int_equal(dp_count(t.h->a.dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_count(t.h->a.dp, DP_OBJ_PROXY_ARP), 1);
    assert_non_null(strstr(dp_recorder_log(t.h->a.dp), "route_add 10.10.0.150/32 dev mipc000020b"));
    struct vpn_session *s = vpn_cache_find(t.h->a.vpn, SID);
    assert_non_null(s);
    assert_int_equal(s->n_profiles, 2);
    assert_int_equal(s->profiles[0].leg, VPN_LEG_HA_GW);
    assert_int_equal(s->profiles[1].leg, VPN_LEG_FA_HA);
    assert_true(cap_has_event(t.c, "ha.home.example rx HAR peer=aaah.home.example", SID, NULL));
    assert_true(cap_has_event(t.c, "tx HAA peer=aaah.home.example", SID, "code=2001"));
    /* Later requests carry an MN-HA authenticator made with the derived key. */
    h_advance(t.h, 2000);
    o = (struct req_opts){.low = 2, .lifetime = 600, .mn_ha = true};
    har(&t, &o, STATIC_SET, 8);
    haa_reply(&t, 1, 2001);
    /* ... and with a wrong one it is refused (131) and the binding stays. */
    h_advance(t.h, 2000);
    o = (struct req_opts){.low = 3, .lifetime = 600, .mn_ha = true, .bad_mn_ha = true};
    har(&t, &o, STATIC_SET, 9);
    rp = haa_reply(&t, 2, 4005);
    assert_int_equal(rp.code, MIP_CODE_HA_MN_AUTH_FAILED);
    assert_int_equal(ha_binding_count(&t.h->a), 1);
    /* Deregistration: binding, kernel state and VPN information go. */
    h_advance(t.h, 2000);
    o = (struct req_opts){.low = 4, .lifetime = 0, .mn_ha = true};
    har(&t, &o, STATIC_SET, 10);
    rp = haa_reply(&t, 3, 2001);
    assert_int_equal(rp.code, 0);
    assert_int_equal(rp.lifetime, 0);
    assert_int_equal(ha_binding_count(&t.h->a), 0);
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    assert_int_equal(dp_count(t.h->a.dp, -1), 0);
    t_free(&t);
}

/* Decodes the BU in tx[i] as the PCN would. */
static struct mip_experimental bu_at(struct t *t, unsigned i, struct vpn_info *info)
{
    assert_true(i < t->h->n_tx);
    struct h_tx *x = &t->h->tx[i];
    assert_int_equal(x->to.addr.s_addr, h_ip("192.0.2.70").s_addr);
    assert_int_equal(x->to.port, 434);
    struct mip_experimental m;
    size_t off;
    assert_int_equal(mip_get_experimental(x->buf, x->len, &m, &off), MIP_OK);
    assert_int_equal(m.subtype, MIP_EXP_BINDING_UPDATE);
    uint32_t spi;
    assert_true(mip_verify_ro_auth(x->buf, x->len, &m.ext, 32473, pcn_key, 32, &spi));
    assert_int_equal(spi, 4096);
    unsigned count;
    const struct mip_vse *v = vpn_cvse_find(&m.ext, 32473, &count);
    assert_non_null(v);
    assert_int_equal(count, 1);
    char err[VPN_ERR_MAX];
    if (info && !vpn_cvse_get(v, 32473, pcn_key, 32, info, err, sizeof(err)))
        fail_msg("VPN-INFO: %s", err);
    return m;
}

static void send_ba(struct t *t, const struct mip_experimental *bu, uint8_t status, bool auth,
                    const char *from)
{
    uint8_t buf[128];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_ACK;
    m.u.ba.status = status;
    m.u.ba.lifetime = bu->u.bu.lifetime;
    m.u.ba.home_addr = bu->u.bu.home_addr;
    m.u.ba.identification = bu->u.bu.identification;
    mip_put_experimental(&w, &m);
    static const uint8_t wrong[32] = {1};
    mip_put_ro_auth(&w, 32473, 4096, auth ? pcn_key : wrong, 32);
    assert_int_equal(w.err, MIP_OK);
    struct pkt_addr pa = {.addr = h_ip(from), .port = 434};
    ha_rx(&t->h->a, &pa, buf, w.len);
}

static void test_dynamic_waits_for_ba(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, BOTH_SET, 7);
    /* The BU is out, the HAA is not (seed Fig. 27). */
    assert_int_equal(t.c->n_haa, 0);
    assert_int_equal(t.h->n_tx, 1);
    struct vpn_info info;
    struct mip_experimental bu = bu_at(&t, 0, &info);
    assert_true(bu.u.bu.flags & MIP_BU_FLAG_A);
    assert_int_equal(bu.u.bu.home_addr.s_addr, h_ip("10.10.0.150").s_addr);
    assert_int_equal(bu.u.bu.care_of_addr.s_addr, h_ip("192.0.2.11").s_addr);
    assert_int_equal(bu.u.bu.lifetime, 300);
    assert_int_equal(bu.u.bu.identification >> 32, h_ident(0) >> 32); /* NTP seconds */
    assert_string_equal(info.session_id, SID);
    assert_string_equal(info.nai, NAI);
    assert_int_equal(info.n, 1); /* only the fa-pcn profile */
    assert_int_equal(info.profiles[0].number, 2);
    assert_true(info.profiles[0].has_keys);
    vpn_info_clear(&info);
    assert_int_equal(t.h->a.cnt.bu_tx, 1);
    assert_true(cap_has_event(t.c, "tx BU peer=192.0.2.70", SID, NULL));
    /* A BA that does not authenticate is ignored. */
    send_ba(&t, &bu, 0, false, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 0);
    assert_int_equal(t.h->a.cnt.ba_auth_failed, 1);
    /* A BA to an unknown identification too. */
    struct mip_experimental other = bu;
    other.u.bu.identification += 1000;
    send_ba(&t, &other, 0, true, "192.0.2.70");
    assert_int_equal(t.h->a.cnt.ba_unmatched, 1);
    assert_int_equal(t.c->n_haa, 0);
    /* The PCN's BA: now the HAA. */
    send_ba(&t, &bu, 0, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 1);
    assert_int_equal(haa_reply(&t, 0, 2001).code, 0);
    assert_true(cap_has_event(t.c, "rx BA peer=192.0.2.70", SID, "code=0"));
    assert_int_equal(vpn_cache_find(t.h->a.vpn, SID)->n_profiles, 3);
    assert_int_equal(bu_pending_count(&t.h->a), 0);
    /* Expiry: the PCN is told the session ended (lifetime-0 BU). */
    unsigned before = t.h->n_tx;
    h_advance(t.h, 301000);
    assert_int_equal(ha_binding_count(&t.h->a), 0);
    assert_int_equal(t.h->n_tx, before + 1);
    struct mip_experimental bye = bu_at(&t, before, &info);
    assert_int_equal(bye.u.bu.lifetime, 0);
    assert_int_equal(info.n, 0);
    assert_string_equal(info.session_id, SID);
    vpn_info_clear(&info);
    send_ba(&t, &bye, 0, true, "192.0.2.70");
    assert_int_equal(bu_pending_count(&t.h->a), 0);
    assert_int_equal(dp_count(t.h->a.dp, -1), 0);
    t_free(&t);
}

static void test_bu_timeout_undoes(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, DYNAMIC_SET, 7);
    assert_int_equal(t.h->n_tx, 1);
    assert_int_equal(ha_binding_count(&t.h->a), 1);
    /* 1 s, then 2 s: retransmissions with new identifications. */
    h_advance(t.h, 999);
    assert_int_equal(t.h->n_tx, 1);
    h_advance(t.h, 1);
    assert_int_equal(t.h->n_tx, 2);
    h_advance(t.h, 2000);
    assert_int_equal(t.h->n_tx, 3);
    assert_int_equal(t.h->a.cnt.bu_retx, 2);
    struct mip_experimental b0 = bu_at(&t, 0, NULL), b2 = bu_at(&t, 2, NULL);
    assert_true(b2.u.bu.identification > b0.u.bu.identification);
    assert_int_equal(t.c->n_haa, 0);
    /* After the third try's 4 s: the registration fails, everything undone. */
    h_advance(t.h, 3999);
    assert_int_equal(t.c->n_haa, 0);
    h_advance(t.h, 1);
    assert_int_equal(t.c->n_haa, 1);
    struct mip_reg_reply rp = haa_reply(&t, 0, 4005);
    assert_int_equal(rp.code, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(t.h->n_tx, 3);
    assert_int_equal(t.h->a.cnt.bu_timeouts, 1);
    assert_int_equal(ha_binding_count(&t.h->a), 0);
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    assert_int_equal(dp_count(t.h->a.dp, -1), 0);
    assert_true(cap_has_event(t.c, "tx HAA", SID, "code=4005"));
    /* A BA to the first transmission arriving late changes nothing. */
    send_ba(&t, &b0, 0, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 1);
    t_free(&t);
}

static void test_ba_refusal_fails_registration(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, STATIC_SET, 6); /* an existing binding with its session */
    assert_int_equal(t.c->n_haa, 1);
    h_advance(t.h, 2000);
    o.low = 2;
    har(&t, &o, BOTH_SET, 7);
    struct mip_experimental bu = bu_at(&t, 0, NULL);
    /* A PCN that answers from the correspondent's address (intercepted BU). */
    send_ba(&t, &bu, MIP_BA_AUTH_FAILED, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 2);
    assert_int_equal(haa_reply(&t, 1, 4005).code, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(t.h->a.cnt.ba_refused, 1);
    /* The binding of the earlier registration and its VPN information stay. */
    assert_int_equal(ha_binding_count(&t.h->a), 1);
    struct vpn_session *s = vpn_cache_find(t.h->a.vpn, SID);
    assert_non_null(s);
    assert_int_equal(s->n_profiles, 2);
    t_free(&t);
}

static void test_har_checks(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 5, .lifetime = 600};
    har(&t, &o, STATIC_SET, 1);
    haa_reply(&t, 0, 2001);
    /* The same identification again: replay (133, our clock in the reply). */
    har(&t, &o, STATIC_SET, 2);
    assert_int_equal(haa_reply(&t, 1, 4005).code, MIP_CODE_HA_ID_MISMATCH);
    /* Another HA named in the request: 136. */
    o = (struct req_opts){.low = 6, .lifetime = 600, .ha = "10.10.0.2"};
    har(&t, &o, STATIC_SET, 3);
    assert_int_equal(haa_reply(&t, 2, 4005).code, MIP_CODE_HA_UNKNOWN_HA);
    /* A HAR without the MSAs cannot be answered with a reply: 5005. */
    uint8_t req[512];
    o = (struct req_opts){.low = 7, .lifetime = 600};
    size_t n = mn_request(&t, &o, req, sizeof(req));
    struct aaa_har h = {.id = 4,
                        .session_id = SID,
                        .nai = NAI,
                        .reg_req = req,
                        .reg_req_len = n,
                        .hoa = h_ip("10.10.0.150")};
    ha_har_rx(&t.h->a, &h);
    assert_int_equal(t.c->n_haa, 4);
    assert_int_equal(t.c->haa[3].rc, 5005);
    assert_false(t.c->haa[3].has_reply);
    /* The glue could not decode it: its code is the answer. */
    struct aaa_har bad = {.id = 5, .decode_rc = 5004, .decode_err = "VPN-Profile #1: ..."};
    ha_har_rx(&t.h->a, &bad);
    assert_int_equal(t.c->haa[4].rc, 5004);
    assert_int_equal(ha_binding_count(&t.h->a), 1);
    /* An MN that let the AAA choose its HA (0.0.0.0): the HAR names us. */
    h_advance(t.h, 2000);
    o = (struct req_opts){.low = 8, .lifetime = 600, .ha = "0.0.0.0"};
    har(&t, &o, STATIC_SET, 6);
    assert_int_equal(haa_reply(&t, 5, 2001).code, 0);
    t_free(&t);
}

/* An MN the AAA made known re-registers over UDP with its RFC 3957 key. */
static void test_udp_with_derived_key(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, STATIC_SET, 1);
    haa_reply(&t, 0, 2001);
    h_advance(t.h, 2000);
    uint8_t buf[256];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_request rq = {.lifetime = 100,
                                 .home_addr = h_ip("10.10.0.150"),
                                 .home_agent = h_ip("10.10.0.1"),
                                 .care_of_addr = h_ip("192.0.2.11"),
                                 .identification = h_ident(2)};
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, MN_HA_SPI, MIP_AUTH_HMAC_SHA1, t.mn_ha_key, 20);
    mip_put_auth(&w, MIP_EXT_FA_HA_AUTH, 0x20001, MIP_AUTH_HMAC_MD5, fa_ha_key, 16);
    struct pkt_addr fa = {.addr = h_ip("192.0.2.11"), .port = 434};
    ha_rx(&t.h->a, &fa, buf, w.len);
    assert_int_equal(t.h->n_tx, 1);
    struct mip_reg_reply rp = h_reply(t.h, 0);
    assert_int_equal(rp.code, 0);
    assert_int_equal(rp.lifetime, 100);
    assert_true(
        mip_verify_auth(t.h->tx[0].buf, &rp.ext.mn_ha, MIP_AUTH_HMAC_SHA1, t.mn_ha_key, 20));
    assert_true(mip_verify_auth(t.h->tx[0].buf, &rp.ext.fa_ha, MIP_AUTH_HMAC_MD5, fa_ha_key, 16));
    t_free(&t);
}

/* A direct request from an FA of the session (FLOWS "Intra-domain move" 5). */
static size_t move_request(struct t *t, unsigned low, const char *coa, const uint8_t *fa_key,
                           uint8_t *buf, size_t cap)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_request rq = {.lifetime = 100,
                                 .home_addr = h_ip("10.10.0.150"),
                                 .home_agent = h_ip("10.10.0.1"),
                                 .care_of_addr = h_ip(coa),
                                 .identification = h_ident(low)};
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_prev_fa(&w, 32473, h_ip("192.0.2.11"));
    mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, MN_HA_SPI, MIP_AUTH_HMAC_SHA1, t->mn_ha_key, 20);
    if (fa_key)
        mip_put_auth(&w, MIP_EXT_FA_HA_AUTH, 0x20001, MIP_AUTH_HMAC_MD5, fa_key, 16);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static void test_move_from_new_fa(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, BOTH_SET, 7);
    struct mip_experimental bu = bu_at(&t, 0, NULL);
    send_ba(&t, &bu, 0, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 1);
    assert_false(t.c->haa[0].has_prev_fa); /* no binding before */
    h_advance(t.h, 2000);
    /* The new FA relays the MN's request with the session's FA-HA key. */
    uint8_t buf[256];
    size_t n = move_request(&t, 2, "192.0.2.12", fa_ha_key, buf, sizeof(buf));
    struct pkt_addr fa2 = {.addr = h_ip("192.0.2.12"), .port = 434};
    unsigned tx = t.h->n_tx;
    uint8_t accepted[256];
    size_t acc_n = n;
    memcpy(accepted, buf, n);
    ha_rx(&t.h->a, &fa2, buf, n);
    assert_int_equal(t.h->n_tx, tx + 2); /* BU to the PCN, reply to the new FA */
    struct vpn_info info;
    struct mip_experimental mbu = bu_at(&t, tx, &info);
    assert_int_equal(mbu.u.bu.care_of_addr.s_addr, h_ip("192.0.2.12").s_addr);
    assert_int_equal(info.n, 1);
    assert_int_equal(info.profiles[0].dst_gw.s_addr, h_ip("192.0.2.12").s_addr); /* seed [0064] */
    vpn_info_clear(&info);
    assert_int_equal(t.h->tx[tx + 1].to.addr.s_addr, h_ip("192.0.2.12").s_addr);
    struct mip_reg_reply rp = h_reply(t.h, tx + 1);
    assert_int_equal(rp.code, 0);
    assert_true(
        mip_verify_auth(t.h->tx[tx + 1].buf, &rp.ext.fa_ha, MIP_AUTH_HMAC_MD5, fa_ha_key, 16));
    assert_int_equal(t.h->a.cnt.moves, 1);
    struct vpn_session *s = vpn_cache_find(t.h->a.vpn, SID);
    assert_non_null(s);
    for (unsigned i = 0; i < s->n_profiles; i++)
        assert_int_not_equal(s->profiles[i].dst_gw.s_addr, h_ip("192.0.2.11").s_addr);
    send_ba(&t, &mbu, 0, true, "192.0.2.70");
    const char *log = dp_recorder_log(t.h->a.dp);
    assert_non_null(strstr(log, "192.0.2.12"));
    unsigned objs = dp_count(t.h->a.dp, -1);
    /* A forged request (wrong FA-HA authenticator) from a third FA: 132,
     * counted, nothing changes. */
    h_advance(t.h, 1000);
    static const uint8_t wrong[16] = {0xbe, 0xef};
    n = move_request(&t, 3, "192.0.2.13", wrong, buf, sizeof(buf));
    struct pkt_addr fa3 = {.addr = h_ip("192.0.2.13"), .port = 434};
    unsigned fails = (unsigned)t.h->a.cnt.rrq_auth_failed;
    ha_rx(&t.h->a, &fa3, buf, n);
    assert_int_equal(h_reply(t.h, t.h->n_tx - 1).code, MIP_CODE_HA_FA_AUTH_FAILED);
    assert_int_equal(t.h->a.cnt.rrq_auth_failed, fails + 1);
    /* A move without any FA-HA authenticator: refused the same way. */
    n = move_request(&t, 4, "192.0.2.13", NULL, buf, sizeof(buf));
    ha_rx(&t.h->a, &fa3, buf, n);
    assert_int_equal(h_reply(t.h, t.h->n_tx - 1).code, MIP_CODE_HA_FA_AUTH_FAILED);
    /* The accepted request replayed: 133, counted, nothing changes. */
    unsigned ids = (unsigned)t.h->a.cnt.rrq_id_mismatch;
    ha_rx(&t.h->a, &fa2, accepted, acc_n);
    assert_int_equal(t.h->a.cnt.rrq_id_mismatch, ids + 1);
    assert_int_equal(h_reply(t.h, t.h->n_tx - 1).code, MIP_CODE_HA_ID_MISMATCH);
    assert_int_equal(t.h->a.cnt.moves, 1);
    assert_int_equal(dp_count(t.h->a.dp, -1), objs);
    s = vpn_cache_find(t.h->a.vpn, SID);
    for (unsigned i = 0; i < s->n_profiles; i++)
        assert_int_not_equal(s->profiles[i].dst_gw.s_addr, h_ip("192.0.2.13").s_addr);
    /* The next HAR: the HAA names the binding's care-of address. */
    h_advance(t.h, 1000);
    o.low = 9;
    har(&t, &o, STATIC_SET, 8);
    assert_true(t.c->n_haa >= 2);
    assert_true(t.c->haa[t.c->n_haa - 1].has_prev_fa);
    assert_int_equal(t.c->haa[t.c->n_haa - 1].prev_fa.s_addr, h_ip("192.0.2.12").s_addr);
    t_free(&t);
}

/* Service update (scenario 7): the new set has no profile for the PCN that
 * held the old one: it gets a lifetime-0 BU once the registration commits. */
static void test_service_update_forgets_pcn(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, BOTH_SET, 7);
    struct mip_experimental bu = bu_at(&t, 0, NULL);
    send_ba(&t, &bu, 0, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 1);
    h_advance(t.h, 2000);
    o.low = 2;
    unsigned tx = t.h->n_tx;
    har(&t, &o, STATIC_SET, 8); /* the destination moved off the PCN */
    assert_int_equal(t.c->n_haa, 2);
    haa_reply(&t, 1, 2001);
    assert_int_equal(t.h->n_tx, tx + 1);
    struct vpn_info info;
    struct mip_experimental bye = bu_at(&t, tx, &info);
    assert_int_equal(bye.u.bu.lifetime, 0);
    assert_int_equal(info.n, 0);
    assert_string_equal(info.session_id, SID);
    vpn_info_clear(&info);
    assert_int_equal(t.h->a.cnt.pcn_forgotten, 1);
    /* The same set again: nobody to forget. */
    h_advance(t.h, 2000);
    o.low = 3;
    tx = t.h->n_tx;
    har(&t, &o, STATIC_SET, 9);
    assert_int_equal(t.h->n_tx, tx);
    assert_int_equal(t.h->a.cnt.pcn_forgotten, 1);
    t_free(&t);
}

/* Inter-domain move (scenarios 3 and 6, FLOWS "Inter-domain move" 2-3): the
 * AAAH's HAR names the new FA's Session-Id for the same session.  The HA keeps
 * one VPN session under the key it had, its FA rewritten; the PCN gets one BU
 * for that session (no lifetime-0 BU ending it first); the HAA (the HAR's
 * Session-Id) waits for the BA and names the previous FA. */
static void test_inter_domain_move_keeps_session(void **st)
{
    (void)st;
    struct t t = ha_aaa_new();
    struct req_opts o = {.low = 1, .lifetime = 600};
    har(&t, &o, BOTH_SET, 7);
    struct mip_experimental bu = bu_at(&t, 0, NULL);
    send_ba(&t, &bu, 0, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 1);
    h_advance(t.h, 2000);
    o.low = 2;
    o.coa = "192.0.2.13";
    o.sid = "fa3.visit-b.example;1;1";
    unsigned tx = t.h->n_tx;
    har(&t, &o, BOTH_SET, 8);
    assert_int_equal(t.h->n_tx, tx + 1); /* the move's BU only */
    struct vpn_info info;
    struct mip_experimental mv = bu_at(&t, tx, &info);
    assert_int_equal(mv.u.bu.lifetime, 300);
    assert_int_equal(mv.u.bu.care_of_addr.s_addr, h_ip("192.0.2.13").s_addr);
    assert_string_equal(info.session_id, SID);
    assert_int_equal(info.n, 1);
    assert_int_equal(info.profiles[0].dst_gw.s_addr, h_ip("192.0.2.13").s_addr);
    vpn_info_clear(&info);
    assert_int_equal(t.c->n_haa, 1); /* waits for the BA (seed Fig. 29) */
    send_ba(&t, &mv, 0, true, "192.0.2.70");
    assert_int_equal(t.c->n_haa, 2);
    assert_int_equal(haa_reply(&t, 1, 2001).code, 0);
    assert_true(t.c->haa[1].has_prev_fa);
    assert_int_equal(t.c->haa[1].prev_fa.s_addr, h_ip("192.0.2.11").s_addr);
    assert_true(cap_has_event(t.c, "tx HAA", "fa3.visit-b.example;1;1", "code=2001"));
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 1);
    struct vpn_session *vs = vpn_cache_find(t.h->a.vpn, SID);
    assert_non_null(vs);
    assert_int_equal(vs->fa.s_addr, h_ip("192.0.2.13").s_addr);
    assert_int_equal(vs->n_profiles, 3);
    assert_int_equal(t.h->a.cnt.vpn_removed, 0); /* replaced, never removed */
    assert_int_equal(ha_binding_count(&t.h->a), 1);
    /* Its end still reaches the PCN, for the session it holds. */
    tx = t.h->n_tx;
    h_advance(t.h, 301000);
    assert_int_equal(ha_binding_count(&t.h->a), 0);
    assert_int_equal(t.h->n_tx, tx + 1);
    struct mip_experimental bye = bu_at(&t, tx, &info);
    assert_int_equal(bye.u.bu.lifetime, 0);
    assert_string_equal(info.session_id, SID);
    vpn_info_clear(&info);
    send_ba(&t, &bye, 0, true, "192.0.2.70");
    assert_int_equal(vpn_cache_count(t.h->a.vpn), 0);
    t_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_har_static),
        cmocka_unit_test(test_dynamic_waits_for_ba),
        cmocka_unit_test(test_bu_timeout_undoes),
        cmocka_unit_test(test_ba_refusal_fails_registration),
        cmocka_unit_test(test_har_checks),
        cmocka_unit_test(test_udp_with_derived_key),
        cmocka_unit_test(test_move_from_new_fa),
        cmocka_unit_test(test_service_update_forgets_pcn),
        cmocka_unit_test(test_inter_domain_move_keeps_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
