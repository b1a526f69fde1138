/* The seeds' scenarios 1 (static company gateway) and 4 (PCN) through the
 * agents' own message handling against the recorder dataplane: the exact set
 * of kernel objects the HA, the FA and the PCN hold after the AAA flow (profiles
 * from the AAAH's own path decision), and nothing of the VPN after
 * deregistration, lifetime expiry and shutdown (SIGTERM).  Also vpnshare 0
 * (default SAs), the refusals with their precise codes when a node cannot
 * program its part, the roll-back, and the per-session listing. */
#include "aaa_capture.h"

#include "dp_backend.h"
#include "path.h"
#include "vpn_cache.h"
#include "vpn_cvse.h"
#include "vpn_dp.h"

#define HA "10.10.0.1"
#define FA "192.0.2.11"
#define GW "192.0.2.60"
#define PCN "192.0.2.70"
#define HOA "10.10.0.100"
#define CN1 "172.16.50.0/24"
#define CN2 "172.16.60.10/32"
#define NAI "alice@home.example"
#define ACC_IFINDEX 7

#define PCN_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* Default SAs (vpnshare 0): 16 octets of AES-CBC key, then 32 of HMAC-SHA-256 key. */
#define DKEY1                                                                                      \
    "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d" \
    "1e1f"
#define DKEY2                                                                                      \
    "ffeeddccbbaa99887766554433221100202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d" \
    "3e3f"
#define DSA(peer, out, in)                                                                         \
    "{ peer = \"" peer "\"; spi_out = " #out "; spi_in = " #in "; sec = \"esp\";"                  \
    " enc = \"aes-cbc-128\"; integ = \"hmac-sha256\"; key_out = \"" DKEY1 "\";"                    \
    " key_in = \"" DKEY2 "\"; }"

static const char *ha_conf(const char *defaults)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "ha: { address = \"" HA "\"; home_link = \"home0\"; max_lifetime = 600;\n"
             "  replay_window = 7; aaa = { diameter_conf = \"/dev/null\"; };\n"
             "  pcn_peers = ( { address = \"" PCN "\"; spi = 4096; key = \"" PCN_KEY "\"; } );\n"
             "  bu_timeout_ms = 1000; bu_retries = 3; %s };\n",
             defaults ? defaults : "");
    return buf;
}

static const char *fa_conf(const char *defaults)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "fa: { address = \"" FA "\"; access_links = ( { interface = \"acc0\"; } );\n"
             "  max_lifetime = 600; reverse_tunnel = true; challenge = true;\n"
             "  aaa = { diameter_conf = \"/dev/null\"; timeout_ms = 9000; }; %s };\n",
             defaults ? defaults : "");
    return buf;
}

static const char *pcn_conf(const char *defaults)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "pcn: { address = \"" PCN "\"; serves = ( \"172.16.60.0/24\" );\n"
             "  ha_peers = ( { address = \"" HA "\"; spi = 4096; key = \"" PCN_KEY
             "\"; } ); %s };\n",
             defaults ? defaults : "");
    return buf;
}

struct node {
    struct harness *h;
    struct aaa_capture *c;
};

static struct node node_new(const char *conf, enum mipd_role role, const char *identity)
{
    struct node n;
    n.h = h_new(conf, role);
    n.c = cap_attach(n.h, identity);
    if (role == ROLE_HA) {
        assert_int_equal(ha_init(&n.h->a), 0);
    } else if (role == ROLE_FA) {
        assert_int_equal(fa_init(&n.h->a), 0);
        fa_set_icmp_tx(&n.h->a, h_icmp_fn, n.h);
        fa_set_link_info(&n.h->a, 0, ACC_IFINDEX, h_ip("10.21.0.1"));
        loop_run_once(n.h->a.loop, 0);
    } else {
        n.h->a.aaa = NULL; /* the PCN speaks only Mobile IP */
        assert_int_equal(pcn_init(&n.h->a), 0);
    }
    assert_non_null(n.h->a.vdp);
    return n;
}

/* Shutdown as on SIGTERM: every kernel object goes (h_free checks). */
static void node_free(struct node *n)
{
    h_free(n->h);
    cap_free(n->c);
}

/* ---- the kernel as a node holds it ------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every object of the shadow, one line each, sorted; the recorder's view of
 * the kernel must be the same. */
static char *kernel_lines(struct harness *h)
{
    struct dataplane *dp = h->a.dp;
    assert_int_equal(dp_recorder_check(dp), 0);
    unsigned n = dp_count(dp, -1);
    char **l = calloc(n + 1, sizeof(*l));
    for (unsigned i = 0; i < n; i++) {
        const struct dp_obj *o = dp_obj_at(dp, i);
        char buf[256], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], c[INET_ADDRSTRLEN],
            d[INET_ADDRSTRLEN];
        const struct dp_xfrm_state *sa = dp_obj_xfrm_state(o);
        const struct dp_xfrm_policy *p = dp_obj_xfrm_policy(o);
        static const char *kinds[] = {"tunnel",       "route",      "rule",
                                      "proxy_arp",    "xfrm_state", "xfrm_policy",
                                      "udp_redirect", "dscp_class", "mark"};
        if (sa) {
            snprintf(buf, sizeof(buf), "sa %s %s>%s spi 0x%x", sa->proto == 51 ? "ah" : "esp",
                     inet_ntop(AF_INET, &sa->src, a, sizeof(a)),
                     inet_ntop(AF_INET, &sa->dst, b, sizeof(b)), sa->spi);
        } else if (p) {
            static const char *dirs[] = {"in", "out", "fwd"};
            snprintf(buf, sizeof(buf), "policy %s %s/%u>%s/%u tmpl %s>%s spi 0x%x", dirs[p->dir],
                     inet_ntop(AF_INET, &p->src, a, sizeof(a)), p->src_plen,
                     inet_ntop(AF_INET, &p->dst, b, sizeof(b)), p->dst_plen,
                     inet_ntop(AF_INET, &p->tmpl_src, c, sizeof(c)),
                     inet_ntop(AF_INET, &p->tmpl_dst, d, sizeof(d)), p->spi);
        } else {
            dp_obj_describe(o, kinds[o->kind], buf, sizeof(buf));
        }
        l[i] = strdup(buf);
    }
    qsort(l, n, sizeof(*l), cmp_str);
    size_t len = 1;
    for (unsigned i = 0; i < n; i++)
        len += strlen(l[i]) + 1;
    char *out = calloc(1, len);
    for (unsigned i = 0; i < n; i++) {
        strcat(out, l[i]);
        strcat(out, "\n");
        free(l[i]);
    }
    free(l);
    return out;
}

/* The node holds exactly the lines of want (NULL-terminated, any order). */
static void assert_kernel(struct harness *h, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    const char **w = calloc(n + 1, sizeof(*w));
    memcpy(w, want, n * sizeof(*w));
    qsort(w, n, sizeof(*w), cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(w[i]) + 1;
    char *exp = calloc(1, len);
    for (size_t i = 0; i < n; i++) {
        strcat(exp, w[i]);
        strcat(exp, "\n");
    }
    char *got = kernel_lines(h);
    if (strcmp(got, exp) != 0)
        fail_msg("kernel objects differ.\n--- want:\n%s--- have:\n%s", exp, got);
    free(got);
    free(exp);
    free(w);
}

/* ---- the AAAH's path decision (vpncache/path.h) ------------------------------ */

static uint32_t next_spi;
static bool alloc(void *arg, uint32_t *up, uint32_t *down)
{
    (void)arg;
    *up = next_spi++;
    *down = next_spi++;
    return true;
}

struct prof_opts {
    uint8_t vpnshare;
    uint8_t sec;
    uint8_t dscp_up, dscp_down;
};

static void decide(const char *dst, const struct prof_opts *o, struct vpn_path *out)
{
    next_spi = 0x9000;
    struct cngw_table *t = cngw_new();
    char err[VPN_ERR_MAX];
    struct cngw_entry e = {{h_ip("172.16.50.0"), 24}, h_ip(GW), VPN_GW_STATIC};
    assert_true(cngw_add(t, &e, err, sizeof(err)));
    e = (struct cngw_entry){{h_ip("172.16.60.0"), 24}, h_ip(PCN), VPN_GW_DYNAMIC};
    assert_true(cngw_add(t, &e, err, sizeof(err)));
    struct vpn_profile db;
    vpn_profile_init(&db);
    db.number = 1;
    assert_true(vpn_profile_set_nai(&db, NAI));
    assert_true(vpn_prefix_parse("0.0.0.0/32", &db.src));
    assert_true(vpn_prefix_parse(dst, &db.dst));
    db.vpnshare = o->vpnshare;
    db.sec = o->sec;
    if (o->sec == VPN_SEC_ENCAP) {
        db.enc_alg = VPN_ENC_NULL;
        db.integ_alg = VPN_INTEG_NONE;
    }
    bool spis = o->vpnshare && o->sec != VPN_SEC_ENCAP;
    db.spi_up = spis ? 0x1001 : 0;
    db.spi_down = spis ? 0x2001 : 0;
    db.dscp_up = o->dscp_up;
    db.dscp_down = o->dscp_down;
    if (vpn_profile_needs_keys(&db))
        assert_true(vpn_profile_generate_keys(&db));
    struct vpn_path_input in = {.db = &db,
                                .n_db = 1,
                                .fa = h_ip(FA),
                                .ha = h_ip(HA),
                                .hoa = h_ip(HOA),
                                .cngw = t,
                                .alloc_spi = alloc};
    memset(out, 0, sizeof(*out));
    if (!vpn_path_decide(&in, out, err, sizeof(err)))
        fail_msg("path: %s", err);
    vpn_profile_clear(&db);
    cngw_free(t);
}

/* ---- the HA: HAR -> HAA ---------------------------------------------------------- */

static const uint8_t mn_aaa_key[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                       0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t nonce[16] = {0xa0, 0xa1, 0xa2};
static const uint8_t mn_ha_key[20] = {0x33};
static const uint8_t fa_ha_key[16] = {0xfa, 0xce};
#define SID "fa1.visit-a.example;1;1"

static void har(struct node *ha, const struct vpn_profile *p, unsigned np, uint16_t lifetime,
                unsigned low, uint64_t id)
{
    uint8_t req[512];
    struct mip_writer w;
    mip_writer_init(&w, req, sizeof(req));
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T;
    rq.lifetime = lifetime;
    rq.home_addr = h_ip(HOA);
    rq.home_agent = h_ip(HA);
    rq.care_of_addr = h_ip(FA);
    rq.identification = h_ident(low);
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, NAI, strlen(NAI));
    static const uint8_t chal[16] = {5};
    mip_put_challenge(&w, chal, 16);
    mip_put_mn_aaa_auth(&w, 1000, mn_aaa_key, 16, chal, 16);
    assert_int_equal(w.err, MIP_OK);
    struct aaa_har h = {
        .id = id,
        .session_id = SID,
        .origin_host = "aaah.home.example",
        .nai = NAI,
        .reg_req = req,
        .reg_req_len = w.len,
        .has_lifetime = true,
        .lifetime = lifetime,
        .hoa = h_ip(HOA),
        .ha = h_ip(HA),
        .has_mn_ha = true,
        .mn_ha_spi = 0x10001,
        .mn_ha_alg = 2,
        .mn_ha_replay = 2,
        .nonce = nonce,
        .nonce_len = 16,
        .mn_ha_key = mn_ha_key,
        .mn_ha_key_len = 20,
        .has_fa_ha = true,
        .fa_ha_spi = 0x20001,
        .fa_ha_key = fa_ha_key,
        .fa_ha_key_len = 16,
        .profiles = p,
        .n_profiles = np,
    };
    ha_har_rx(&ha->h->a, &h);
}

/* The last HAA: its Result-Code and the code of the reply inside. */
static void assert_haa(struct node *ha, uint32_t rc, uint8_t code)
{
    assert_true(ha->c->n_haa > 0);
    struct cap_haa *a = &ha->c->haa[ha->c->n_haa - 1];
    assert_int_equal(a->rc, rc);
    assert_true(a->has_reply);
    struct mip_reg_reply rp;
    size_t off;
    assert_int_equal(mip_get_reg_reply(a->reply, a->reply_len, &rp, &off), MIP_OK);
    assert_int_equal(rp.code, code);
}

/* Delivers the HA's last datagram (a BU) to the PCN and the PCN's answer (a
 * BA) back to the HA.  Returns the BA status. */
static int bu_round(struct node *ha, struct node *pcn)
{
    assert_true(ha->h->n_tx > 0);
    struct h_tx *bu = &ha->h->tx[ha->h->n_tx - 1];
    assert_int_equal(bu->buf[0], MIP_MSG_EXPERIMENTAL);
    struct pkt_addr from = {.addr = h_ip(HA), .port = 434, .local = bu->to.addr};
    unsigned before = pcn->h->n_tx;
    pcn_rx(&pcn->h->a, &from, bu->buf, bu->len);
    assert_int_equal(pcn->h->n_tx, before + 1);
    struct h_tx *ba = &pcn->h->tx[pcn->h->n_tx - 1];
    struct mip_experimental m;
    size_t off;
    assert_int_equal(mip_get_experimental(ba->buf, ba->len, &m, &off), MIP_OK);
    struct pkt_addr back = {.addr = ba->to.local, .port = 434, .local = h_ip(HA)};
    ha_rx(&ha->h->a, &back, ba->buf, ba->len);
    return m.u.ba.status;
}

/* ---- the FA: RRQ -> AMR, AMA -> RRP ------------------------------------------------ */

static void mn_request(struct node *fa, uint16_t lifetime, unsigned low)
{
    assert_true(fa->h->n_icmp > 0);
    struct mip_agent_adv adv;
    assert_int_equal(mip_get_agent_adv(fa->h->icmp[fa->h->n_icmp - 1].buf,
                                       fa->h->icmp[fa->h->n_icmp - 1].len, &adv),
                     MIP_OK);
    uint8_t buf[512];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T; /* reverse tunnelling: its rule must not defeat the policies */
    rq.lifetime = lifetime;
    rq.home_addr = h_ip(HOA);
    rq.home_agent = h_ip(HA);
    rq.care_of_addr = h_ip(FA);
    rq.identification = h_ident(low);
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_challenge(&w, adv.challenge, adv.challenge_len);
    mip_put_mn_aaa_auth(&w, 1000, mn_aaa_key, 16, adv.challenge, adv.challenge_len);
    assert_int_equal(w.err, MIP_OK);
    struct pkt_addr from = {.addr = h_ip(HOA), .port = 40000, .ifindex = ACC_IFINDEX};
    fa_rx(&fa->h->a, &from, buf, w.len);
}

/* AMA 2001 to the last AMR with the HA's accepting reply and profiles p. */
static void ama(struct node *fa, const struct vpn_profile *p, unsigned np, uint16_t lifetime)
{
    assert_true(fa->c->n_amr > 0);
    struct cap_amr *amr = &fa->c->amr[fa->c->n_amr - 1];
    struct mip_reg_request rq;
    size_t off;
    assert_int_equal(mip_get_reg_request(amr->req, amr->req_len, &rq, &off), MIP_OK);
    uint8_t reply[512];
    struct mip_writer w;
    mip_writer_init(&w, reply, sizeof(reply));
    struct mip_reg_reply rp = {.code = 0,
                               .lifetime = lifetime,
                               .home_addr = h_ip(HOA),
                               .home_agent = h_ip(HA),
                               .identification = rq.identification};
    mip_put_reg_reply(&w, &rp);
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_mn_ha_keygen_reply(&w, 3600, 1000, 0x10001, 2, 2, nonce, 16);
    mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, 0x10001, MIP_AUTH_HMAC_SHA1, mn_ha_key, 20);
    assert_int_equal(w.err, MIP_OK);
    struct aaa_ama a = {.answered = true,
                        .result_code = 2001,
                        .session_id = amr->sid,
                        .origin_host = "aaah.home.example",
                        .reg_reply = reply,
                        .reg_reply_len = w.len,
                        .has_lifetime = true,
                        .lifetime = lifetime,
                        .hoa = h_ip(HOA),
                        .ha = h_ip(HA),
                        .has_fa_ha = lifetime != 0,
                        .fa_ha_spi = 0x20001,
                        .fa_ha_key = fa_ha_key,
                        .fa_ha_key_len = 16,
                        .profiles = p,
                        .n_profiles = np};
    fa_aaa_answer(&fa->h->a, amr->id, &a);
}

static uint8_t last_rrp_code(struct node *fa)
{
    return h_reply(fa->h, fa->h->n_tx - 1).code;
}

/* What the FA holds for the visitor itself (host route, reverse tunnel). */
#define FA_VISITOR                                                                                 \
    "route 10.10.0.100/32 dev acc0 table 0", "tunnel mip0a0a0001 " FA ">" HA,                      \
        "route 0.0.0.0/0 dev mip0a0a0001 table 100",                                               \
        "rule from 10.10.0.100/32 iif acc0 table 100 prio 1000"
/* What the HA holds for the binding itself. */
#define HA_BINDING                                                                                 \
    "tunnel mipc000020b " HA ">" FA, "route 10.10.0.100/32 dev mipc000020b table 0",               \
        "proxy_arp 10.10.0.100 dev home0"

static const struct prof_opts esp_ef = {.vpnshare = 1, .dscp_up = 46, .dscp_down = 34};

/* ---- scenario 1 ----------------------------------------------------------------- */

static void scenario1_static_gateway(void **st)
{
    (void)st;
    struct vpn_path path;
    decide(CN1, &esp_ef, &path);
    /* fa-ha SPIs from the AAAH's allocator: up 0x9000, down 0x9001. */
    assert_int_equal(path.fa[0].spi_up, 0x9000);

    struct node ha = node_new(ha_conf(NULL), ROLE_HA, "ha.home.example");
    har(&ha, path.ha, path.n_ha, 300, 1, 1);
    assert_haa(&ha, 2001, 0);
    assert_int_equal(ha.h->n_tx, 0); /* no BU: the gateway is static */
    /* Seed [0042]: HA->GW and HA<->FA tunnels plus the decrypting side, marks. */
    const char *ha_want[] = {HA_BINDING,
                             "sa esp " HA ">" GW " spi 0x1001",
                             "sa esp " GW ">" HA " spi 0x2001",
                             "sa esp " HA ">" FA " spi 0x9001",
                             "sa esp " FA ">" HA " spi 0x9000",
                             "policy out " HOA "/32>" CN1 " tmpl " HA ">" GW " spi 0x1001",
                             "policy fwd " CN1 ">" HOA "/32 tmpl " GW ">" HA " spi 0x2001",
                             "policy out " CN1 ">" HOA "/32 tmpl " HA ">" FA " spi 0x9001",
                             "policy fwd " HOA "/32>" CN1 " tmpl " FA ">" HA " spi 0x9000",
                             "dscp_class mipd_dscp_46 dscp 46",
                             "dscp_class mipd_dscp_34 dscp 34",
                             "mark " HOA "/32>" CN1 " dscp 46",
                             "mark " CN1 ">" HOA "/32 dscp 34",
                             NULL};
    assert_kernel(ha.h, ha_want);
    assert_int_equal(vpn_dp_session_objects(ha.h->a.vdp, SID), 10);
    /* SAs and policies went to the kernel in one batch (DESIGN §8). */
    assert_non_null(strstr(dp_recorder_log(ha.h->a.dp), "xfrm_batch 8\n"));
    assert_non_null(strstr(dp_recorder_log(ha.h->a.dp), "mark_batch 2\n"));

    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), 0);
    /* Seed [0044]: FA->HA tunnel plus the decrypting side, marks. */
    const char *fa_want[] = {FA_VISITOR,
                             "sa esp " FA ">" HA " spi 0x9000",
                             "sa esp " HA ">" FA " spi 0x9001",
                             "policy out " HOA "/32>" CN1 " tmpl " FA ">" HA " spi 0x9000",
                             "policy fwd " CN1 ">" HOA "/32 tmpl " HA ">" FA " spi 0x9001",
                             "dscp_class mipd_dscp_46 dscp 46",
                             "dscp_class mipd_dscp_34 dscp 34",
                             "mark " HOA "/32>" CN1 " dscp 46",
                             "mark " CN1 ">" HOA "/32 dscp 34",
                             NULL};
    assert_kernel(fa.h, fa_want);

    /* A re-registration with the same profiles touches nothing. */
    dp_recorder_clear_log(ha.h->a.dp);
    h_advance(ha.h, 2000);
    har(&ha, path.ha, path.n_ha, 300, 2, 2);
    assert_haa(&ha, 2001, 0);
    assert_kernel(ha.h, ha_want);
    assert_null(strstr(dp_recorder_log(ha.h->a.dp), "xfrm_"));
    assert_null(strstr(dp_recorder_log(ha.h->a.dp), "mark_"));

    /* Deregistration: the binding and every VPN object go. */
    har(&ha, NULL, 0, 0, 3, 3);
    assert_haa(&ha, 2001, 0);
    const char *none[] = {NULL};
    assert_kernel(ha.h, none);
    assert_int_equal(vpn_dp_session_count(ha.h->a.vdp), 0);
    mn_request(&fa, 0, 2);
    ama(&fa, NULL, 0, 0);
    assert_kernel(fa.h, none);
    assert_int_equal(fa.h->a.cnt.vpn_removed, 1);

    node_free(&ha);
    node_free(&fa);
    vpn_path_free(&path);
}

/* Lifetime expiry at both agents, and SIGTERM with sessions still up. */
static void scenario1_expiry_and_shutdown(void **st)
{
    (void)st;
    struct vpn_path path;
    decide(CN1, &esp_ef, &path);
    struct node ha = node_new(ha_conf(NULL), ROLE_HA, "ha.home.example");
    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");
    har(&ha, path.ha, path.n_ha, 30, 1, 1);
    mn_request(&fa, 30, 1);
    ama(&fa, path.fa, path.n_fa, 30);
    assert_int_equal(dp_count(ha.h->a.dp, DP_OBJ_XFRM_STATE), 4);
    assert_int_equal(dp_count(fa.h->a.dp, DP_OBJ_XFRM_STATE), 2);
    h_advance(ha.h, 31000);
    h_advance(fa.h, 31000);
    const char *none[] = {NULL};
    assert_kernel(ha.h, none);
    assert_kernel(fa.h, none);
    assert_int_equal(ha.h->a.cnt.expirations, 1);
    assert_int_equal(fa.h->a.cnt.expirations, 1);

    /* Up again, then shut down with everything in place: h_free checks that
     * nothing is left (ha_fini / fa_fini, as on SIGTERM). */
    har(&ha, path.ha, path.n_ha, 300, 2, 2);
    mn_request(&fa, 300, 2);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(dp_count(ha.h->a.dp, DP_OBJ_MARK), 2);
    assert_int_equal(dp_count(fa.h->a.dp, DP_OBJ_MARK), 2);
    node_free(&ha);
    node_free(&fa);
    vpn_path_free(&path);
}

/* ---- scenario 4 ----------------------------------------------------------------- */

static void scenario4_pcn(void **st)
{
    (void)st;
    struct vpn_path path;
    decide(CN2, &esp_ef, &path);
    uint32_t up = path.fa[0].spi_up, down = path.fa[0].spi_down;
    struct node ha = node_new(ha_conf(NULL), ROLE_HA, "ha.home.example");
    struct node pcn = node_new(pcn_conf(NULL), ROLE_PCN, "pcn.partner.example");
    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");

    har(&ha, path.ha, path.n_ha, 300, 1, 1);
    assert_int_equal(ha.c->n_haa, 0); /* the HAA waits for the BA (seed Fig. 27) */
    assert_int_equal(bu_round(&ha, &pcn), 0);
    assert_haa(&ha, 2001, 0);
    /* The HA installs nothing of the VPN: the path bypasses it. */
    const char *ha_want[] = {HA_BINDING, NULL};
    assert_kernel(ha.h, ha_want);
    /* Seed [0077]: PCN->FA tunnel plus the decrypting side, marks. */
    char l[6][160];
    snprintf(l[0], 160, "sa esp " PCN ">" FA " spi 0x%x", down);
    snprintf(l[1], 160, "sa esp " FA ">" PCN " spi 0x%x", up);
    snprintf(l[2], 160, "policy out " CN2 ">" HOA "/32 tmpl " PCN ">" FA " spi 0x%x", down);
    snprintf(l[3], 160, "policy fwd " HOA "/32>" CN2 " tmpl " FA ">" PCN " spi 0x%x", up);
    const char *pcn_want[] = {"udp_redirect 172.16.60.0/24 udp 434",
                              l[0],
                              l[1],
                              l[2],
                              l[3],
                              "dscp_class mipd_dscp_46 dscp 46",
                              "dscp_class mipd_dscp_34 dscp 34",
                              "mark " HOA "/32>" CN2 " dscp 46",
                              "mark " CN2 ">" HOA "/32 dscp 34",
                              NULL};
    assert_kernel(pcn.h, pcn_want);

    /* Seed [0078]: FA->PCN tunnel plus the decrypting side, marks. */
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), 0);
    snprintf(l[4], 160, "policy out " HOA "/32>" CN2 " tmpl " FA ">" PCN " spi 0x%x", up);
    snprintf(l[5], 160, "policy fwd " CN2 ">" HOA "/32 tmpl " PCN ">" FA " spi 0x%x", down);
    const char *fa_want[] = {FA_VISITOR,
                             l[1],
                             l[0],
                             l[4],
                             l[5],
                             "dscp_class mipd_dscp_46 dscp 46",
                             "dscp_class mipd_dscp_34 dscp 34",
                             "mark " HOA "/32>" CN2 " dscp 46",
                             "mark " CN2 ">" HOA "/32 dscp 34",
                             NULL};
    assert_kernel(fa.h, fa_want);

    /* Deregistration: the HA tells the PCN (lifetime-0 BU), which drops it all. */
    har(&ha, NULL, 0, 0, 2, 2);
    assert_haa(&ha, 2001, 0);
    bu_round(&ha, &pcn);
    const char *redirect_only[] = {"udp_redirect 172.16.60.0/24 udp 434", NULL};
    assert_kernel(pcn.h, redirect_only);
    const char *none[] = {NULL};
    assert_kernel(ha.h, none);
    mn_request(&fa, 0, 2);
    ama(&fa, NULL, 0, 0);
    assert_kernel(fa.h, none);

    /* Registered again; this time the PCN's own lifetime runs out. */
    har(&ha, path.ha, path.n_ha, 20, 3, 3);
    assert_int_equal(bu_round(&ha, &pcn), 0);
    assert_kernel(pcn.h, pcn_want);
    h_advance(pcn.h, 21000);
    h_advance(pcn.h, 1000);
    assert_kernel(pcn.h, redirect_only);
    assert_int_equal(pcn.h->a.cnt.expirations, 1);

    /* Once more, then SIGTERM with the session in place (h_free checks). */
    h_advance(ha.h, 5000);
    har(&ha, path.ha, path.n_ha, 300, 4, 4);
    assert_int_equal(bu_round(&ha, &pcn), 0);
    assert_kernel(pcn.h, pcn_want);
    node_free(&pcn);
    node_free(&ha);
    node_free(&fa);
    vpn_path_free(&path);
}

/* ---- vpnshare 0: the default SAs (seed [0062]) ------------------------------------- */

static void shared_default_sas(void **st)
{
    (void)st;
    struct vpn_path path;
    struct prof_opts o = {.vpnshare = 0, .dscp_up = 46};
    decide(CN1, &o, &path);
    /* Installed at start, both directions; the policies name their SPIs. */
    struct node ha =
        node_new(ha_conf("default_sas = ( " DSA(GW, 512, 513) ", " DSA(FA, 600, 601) " );"),
                 ROLE_HA, "ha.home.example");
    struct node fa = node_new(fa_conf("default_sas = ( " DSA(HA, 601, 600) " );"), ROLE_FA, "fa1");
    const char *ha_start[] = {"sa esp " HA ">" GW " spi 0x200", "sa esp " GW ">" HA " spi 0x201",
                              "sa esp " HA ">" FA " spi 0x258", "sa esp " FA ">" HA " spi 0x259",
                              NULL};
    assert_kernel(ha.h, ha_start);
    har(&ha, path.ha, path.n_ha, 300, 1, 1);
    assert_haa(&ha, 2001, 0);
    const char *ha_want[] = {HA_BINDING,
                             "sa esp " HA ">" GW " spi 0x200",
                             "sa esp " GW ">" HA " spi 0x201",
                             "sa esp " HA ">" FA " spi 0x258",
                             "sa esp " FA ">" HA " spi 0x259",
                             "policy out " HOA "/32>" CN1 " tmpl " HA ">" GW " spi 0x200",
                             "policy fwd " CN1 ">" HOA "/32 tmpl " GW ">" HA " spi 0x201",
                             "policy out " CN1 ">" HOA "/32 tmpl " HA ">" FA " spi 0x258",
                             "policy fwd " HOA "/32>" CN1 " tmpl " FA ">" HA " spi 0x259",
                             "dscp_class mipd_dscp_46 dscp 46",
                             "mark " HOA "/32>" CN1 " dscp 46",
                             NULL};
    assert_kernel(ha.h, ha_want);
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), 0);
    const char *fa_want[] = {FA_VISITOR,
                             "sa esp " FA ">" HA " spi 0x259",
                             "sa esp " HA ">" FA " spi 0x258",
                             "policy out " HOA "/32>" CN1 " tmpl " FA ">" HA " spi 0x259",
                             "policy fwd " CN1 ">" HOA "/32 tmpl " HA ">" FA " spi 0x258",
                             "dscp_class mipd_dscp_46 dscp 46",
                             "mark " HOA "/32>" CN1 " dscp 46",
                             NULL};
    assert_kernel(fa.h, fa_want);
    /* The listing: default SAs without a session, then the session's objects. */
    char *js = NULL;
    size_t jl = 0;
    FILE *f = open_memstream(&js, &jl);
    vpn_dp_dump_json(fa.h->a.vdp, f);
    fclose(f);
    assert_non_null(strstr(js, "{\"session\":null,\"hoa\":null,\"profile\":null,\"default_sa\":"
                               "true,\"kind\":\"xfrm_state\",\"proto\":\"esp\",\"spi\":\"0x259\","
                               "\"src\":\"" FA "\",\"dst\":\"" HA "\"}"));
    assert_non_null(strstr(js, "\"profile\":1,\"default_sa\":false,\"kind\":\"xfrm_policy\","
                               "\"dir\":\"out\",\"src\":\"" HOA "/32\",\"dst\":\"" CN1 "\","
                               "\"tmpl\":{\"proto\":\"esp\",\"src\":\"" FA "\",\"dst\":\"" HA
                               "\",\"spi\":\"0x259\"}}"));
    assert_non_null(strstr(js, "\"kind\":\"dscp_mark\",\"src\":\"" HOA "/32\",\"dst\":\"" CN1
                               "\",\"dscp\":46,\"set\":\"mipd_dscp_46\"}"));
    free(js);
    /* Deregistration leaves the default SAs, shutdown takes them. */
    har(&ha, NULL, 0, 0, 2, 2);
    assert_kernel(ha.h, ha_start);
    node_free(&ha);
    node_free(&fa);
    vpn_path_free(&path);
}

/* ---- refusals ----------------------------------------------------------------------- */

/* vpnshare 0 without the default SA: HAA 4005 + 130, FA 66, PCN BA 130;
 * each counted, nothing left. */
static void missing_default_sa_refused(void **st)
{
    (void)st;
    struct vpn_path path;
    struct prof_opts o = {.vpnshare = 0};
    decide(CN1, &o, &path);
    struct node ha = node_new(ha_conf(NULL), ROLE_HA, "ha.home.example");
    har(&ha, path.ha, path.n_ha, 300, 1, 1);
    assert_haa(&ha, 4005, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(ha.h->a.cnt.vpn_no_default_sa, 1);
    assert_int_equal(ha.h->a.cnt.vpn_set_failed, 1);
    assert_int_equal(ha_binding_count(&ha.h->a), 0);
    assert_null(vpn_cache_find(ha.h->a.vpn, SID));
    const char *none[] = {NULL};
    assert_kernel(ha.h, none);

    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), MIP_CODE_FA_INSUFFICIENT_RESOURCES);
    assert_int_equal(fa.h->a.cnt.vpn_no_default_sa, 1);
    assert_int_equal(fa_visitor_count(&fa.h->a), 0);
    assert_int_equal(fa.c->n_str, 1); /* the session ends at the AAA */
    assert_kernel(fa.h, none);
    node_free(&ha);
    node_free(&fa);
    vpn_path_free(&path);

    decide(CN2, &o, &path);
    ha = node_new(ha_conf(NULL), ROLE_HA, "ha.home.example");
    struct node pcn = node_new(pcn_conf(NULL), ROLE_PCN, "pcn");
    har(&ha, path.ha, path.n_ha, 300, 1, 1);
    assert_int_equal(bu_round(&ha, &pcn), MIP_BA_INSUFFICIENT_RESOURCES);
    assert_haa(&ha, 4005, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(pcn.h->a.cnt.vpn_no_default_sa, 1);
    const char *redirect_only[] = {"udp_redirect 172.16.60.0/24 udp 434", NULL};
    assert_kernel(pcn.h, redirect_only);
    assert_kernel(ha.h, none);
    node_free(&pcn);
    node_free(&ha);
    vpn_path_free(&path);
}

/* Someone else's SA where a plan wants its own (same destination and SPI,
 * other algorithms): the dataplane refuses the plan's with -EEXIST. */
static struct dp_xfrm_state clash_sa(const char *src, const char *dst, uint32_t spi)
{
    static const uint8_t k16[16];
    struct dp_xfrm_state c;
    memset(&c, 0, sizeof(c));
    c.src = h_ip(src);
    c.dst = h_ip(dst);
    c.proto = DP_XFRM_ESP;
    c.spi = spi;
    strcpy(c.enc.name, "cbc(aes)");
    c.enc.key = k16;
    c.enc.key_len = 16;
    return c;
}

/* The HA cannot install a new plan: HAA 4005 + 130, the previous objects,
 * cache and binding as they were; a first registration leaves nothing. */
static void kernel_refusal_rolls_back(void **st)
{
    (void)st;
    struct vpn_path path, upd;
    decide(CN1, &esp_ef, &path);
    decide(CN1, &esp_ef, &upd); /* a service update: other SPIs and keys */
    for (unsigned i = 0; i < upd.n_ha; i++) {
        upd.ha[i].spi_up += 0x100;
        upd.ha[i].spi_down += 0x100;
    }
    struct node ha = node_new(ha_conf(NULL), ROLE_HA, "ha.home.example");
    struct dataplane *dp = ha.h->a.dp;
    har(&ha, path.ha, path.n_ha, 300, 1, 1);
    assert_haa(&ha, 2001, 0);
    struct dp_xfrm_state clash = clash_sa(HA, GW, 0x1101);
    assert_int_equal(dp_xfrm_state_get(dp, &clash), 0);
    char *before = kernel_lines(ha.h);
    h_advance(ha.h, 1000);
    har(&ha, upd.ha, upd.n_ha, 300, 2, 2);
    assert_haa(&ha, 4005, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(ha.h->a.cnt.vpn_set_failed, 1);
    assert_int_equal(ha.h->a.cnt.kernel_errors, 1);
    char *after = kernel_lines(ha.h);
    assert_string_equal(after, before);
    struct vpn_session *s = vpn_cache_find(ha.h->a.vpn, SID);
    assert_non_null(s);
    assert_int_equal(s->profiles[0].spi_up, 0x1001);
    free(before);
    free(after);
    assert_int_equal(dp_xfrm_state_put(dp, &clash), 0);
    har(&ha, NULL, 0, 0, 3, 3);
    const char *none[] = {NULL};
    assert_kernel(ha.h, none);

    /* A first registration the kernel refuses: nothing stays, binding neither. */
    assert_int_equal(dp_xfrm_state_get(dp, &clash), 0);
    h_advance(ha.h, 1000);
    har(&ha, upd.ha, upd.n_ha, 300, 4, 4);
    assert_haa(&ha, 4005, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    assert_int_equal(ha_binding_count(&ha.h->a), 0);
    assert_int_equal(dp_xfrm_state_put(dp, &clash), 0);
    assert_kernel(ha.h, none);
    assert_int_equal(vpn_dp_session_count(ha.h->a.vdp), 0);
    node_free(&ha);
    vpn_path_free(&upd);
    vpn_path_free(&path);
}

/* The FA: a re-registration whose new plan fails gets the previous objects
 * back and code 66; the session goes on (no STR). */
static void failed_update_restores_previous(void **st)
{
    (void)st;
    struct vpn_path path, upd;
    decide(CN1, &esp_ef, &path);
    decide(CN1, &esp_ef, &upd);
    for (unsigned i = 0; i < upd.n_fa; i++) {
        upd.fa[i].spi_up += 0x100;
        upd.fa[i].spi_down += 0x100;
        upd.fa[i].dscp_up = 10; /* AF11 */
    }
    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");
    struct dataplane *dp = fa.h->a.dp;
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), 0);
    char *before = kernel_lines(fa.h);
    const char *sid = fa.c->amr[0].sid;
    h_advance(fa.h, 1000);
    mn_request(&fa, 300, 2);
    assert_string_equal(fa.c->amr[1].sid, sid); /* same session */
    struct dp_xfrm_state clash = clash_sa(HA, FA, upd.fa[0].spi_down);
    assert_int_equal(dp_xfrm_state_get(dp, &clash), 0);
    ama(&fa, upd.fa, upd.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), MIP_CODE_FA_INSUFFICIENT_RESOURCES);
    assert_int_equal(fa.c->n_str, 0);
    assert_int_equal(fa_visitor_count(&fa.h->a), 1);
    assert_int_equal(fa.h->a.cnt.vpn_set_failed, 1);
    assert_int_equal(dp_xfrm_state_put(dp, &clash), 0);
    char *after = kernel_lines(fa.h);
    assert_string_equal(after, before); /* exactly the previous objects */
    struct vpn_session *s = vpn_cache_find(fa.h->a.vpn, sid);
    assert_non_null(s);
    assert_int_equal(s->profiles[0].spi_up, path.fa[0].spi_up); /* the cache too */
    free(before);
    free(after);
    node_free(&fa);
    vpn_path_free(&upd);
    vpn_path_free(&path);
}

/* Encapsulation only: an IP-in-IP path selected by source and destination,
 * sharing the FA's tunnel to the HA, no SA, no policy. */
static void encap_only(void **st)
{
    (void)st;
    struct vpn_path path;
    struct prof_opts o = {.vpnshare = 1, .sec = VPN_SEC_ENCAP, .dscp_up = 46};
    decide(CN1, &o, &path);
    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), 0);
    const char *fa_want[] = {FA_VISITOR,
                             "route 0.0.0.0/0 dev mip0a0a0001 table 10000",
                             "rule from " HOA "/32 to " CN1 " table 10000 prio 900",
                             "dscp_class mipd_dscp_46 dscp 46",
                             "mark " HOA "/32>" CN1 " dscp 46",
                             NULL};
    assert_kernel(fa.h, fa_want);
    /* The tunnel is shared with the reverse tunnel: two references. */
    for (unsigned i = 0; i < dp_count(fa.h->a.dp, -1); i++) {
        const struct dp_obj *ob = dp_obj_at(fa.h->a.dp, i);
        if (ob->kind == DP_OBJ_TUNNEL)
            assert_int_equal(ob->refs, 2);
    }
    char *d = vpn_dp_session_describe(fa.h->a.vdp, fa.c->amr[0].sid);
    assert_string_equal(d, "encap " HOA "/32>" CN1 " ipip " FA ">" HA " table 10000\n"
                           "mark " HOA "/32>" CN1 " dscp 46\n");
    free(d);
    mn_request(&fa, 0, 2);
    ama(&fa, NULL, 0, 0);
    const char *none[] = {NULL};
    assert_kernel(fa.h, none);
    node_free(&fa);
    vpn_path_free(&path);
}

/* A profile that does not belong on this node: precise refusal, nothing set. */
static void wrong_profile_refused(void **st)
{
    (void)st;
    struct vpn_path path;
    decide(CN1, &esp_ef, &path);
    struct node fa = node_new(fa_conf(NULL), ROLE_FA, "fa1.visit-a.example");
    path.fa[0].src_gw = h_ip("192.0.2.12"); /* another FA's view */
    mn_request(&fa, 300, 1);
    ama(&fa, path.fa, path.n_fa, 300);
    assert_int_equal(last_rrp_code(&fa), MIP_CODE_FA_POORLY_FORMED_REPLY);
    assert_int_equal(fa.h->a.cnt.vpn_plan_errors, 1);
    const char *none[] = {NULL};
    assert_kernel(fa.h, none);
    node_free(&fa);
    vpn_path_free(&path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario1_static_gateway),
        cmocka_unit_test(scenario1_expiry_and_shutdown),
        cmocka_unit_test(scenario4_pcn),
        cmocka_unit_test(shared_default_sas),
        cmocka_unit_test(missing_default_sa_refused),
        cmocka_unit_test(kernel_refusal_rolls_back),
        cmocka_unit_test(failed_update_restores_previous),
        cmocka_unit_test(encap_only),
        cmocka_unit_test(wrong_profile_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
