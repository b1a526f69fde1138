/* Unit tests of the AAAH decision logic (aaad/aaah.h) on a temporary VPN
 * database built with the vpndb API.  Addresses follow vpncache/README.md's
 * worked examples (scenarios 1 and 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aaah.h"
#include "mip_proto.h"
#include "vpndb.h"

#define FA1 "203.0.113.10"
#define FA2 "203.0.113.20"
#define HA "192.0.2.1"
#define GW "198.51.100.50"
#define PCN "198.51.100.70"
#define PCN2 "198.51.100.80"
#define T0 1700000000000ull

static char err[VPNDB_ERR_MAX];
static const uint8_t CHAL[8] = {1, 2, 3, 4, 5, 6, 7, 8};

struct fx {
    char dir[64];
    char path[96];
    struct vpndb *db;
    struct aaah *a;
};

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static struct vpn_prefix pfx(const char *s)
{
    struct vpn_prefix p;
    assert_true(vpn_prefix_parse(s, &p));
    return p;
}

static void key_of(uint8_t key[16], uint8_t seed)
{
    for (size_t i = 0; i < 16; i++)
        key[i] = (uint8_t)(seed + i);
}

static void add_user(struct vpndb *db, const char *nai, const char *hoa, const char *pool)
{
    struct vpndb_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.nai, sizeof(u.nai), "%s", nai);
    u.spi = 1000;
    u.key_len = 16;
    key_of(u.key, 0xa0);
    u.ha = ip(HA);
    if (hoa)
        u.hoa = ip(hoa);
    if (pool)
        snprintf(u.pool, sizeof(u.pool), "%s", pool);
    assert_true(vpndb_user_add(db, &u, err, sizeof(err)));
}

static void add_profile(struct vpndb *db, const char *nai, uint32_t num, const char *dst,
                        uint8_t vpnshare)
{
    struct vpn_profile p;
    vpn_profile_init(&p);
    assert_true(vpn_profile_set_nai(&p, nai));
    p.number = num;
    p.dst = pfx(dst);
    p.dscp_up = 46;
    p.dscp_down = 34;
    p.vpnshare = vpnshare;
    p.spi_up = vpnshare ? 0x1000 + num : 0;
    p.spi_down = vpnshare ? 0x2000 + num : 0;
    assert_true(vpndb_profile_add(db, &p, err, sizeof(err)));
    vpn_profile_clear(&p);
}

static void add_cngw(struct vpndb *db, const char *prefix, const char *gw, enum vpn_gw_type t)
{
    struct cngw_entry e = {.prefix = pfx(prefix), .gw = ip(gw), .type = t};
    assert_true(vpndb_cngw_add(db, &e, err, sizeof(err)));
}

static int setup_cfg(void **state, const struct aaah_config *cfg)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_aaah.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/vpn.db", f->dir);
    f->db = vpndb_open(f->path, err, sizeof(err));
    assert_non_null(f->db);
    add_cngw(f->db, "172.16.50.0/24", GW, VPN_GW_STATIC);
    add_cngw(f->db, "172.20.0.0/16", PCN, VPN_GW_DYNAMIC);
    add_cngw(f->db, "172.21.0.0/16", PCN2, VPN_GW_DYNAMIC);
    assert_true(vpndb_pool_add(f->db, "home", pfx("10.10.1.0/30"), err, sizeof(err)));
    add_user(f->db, "alice@home.example", "10.10.0.100", NULL);
    add_profile(f->db, "alice@home.example", 1, "172.16.50.0/24", 1); /* scenario 1 */
    add_profile(f->db, "alice@home.example", 2, "172.20.5.0/24", 1);  /* scenario 4 */
    add_user(f->db, "frank@home.example", "10.10.0.101", NULL);
    add_profile(f->db, "frank@home.example", 1, "172.16.50.0/24", 1);
    add_user(f->db, "erin@home.example", "10.10.0.102", NULL);
    add_profile(f->db, "erin@home.example", 1, "172.16.50.0/24", 0);
    add_profile(f->db, "erin@home.example", 2, "172.20.5.0/24", 0);
    add_user(f->db, "bob@home.example", NULL, "home");
    add_user(f->db, "carol@home.example", NULL, "home");
    add_user(f->db, "dave@home.example", NULL, "home");
    f->a = aaah_new(f->db, cfg, err, sizeof(err));
    assert_non_null(f->a);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_cfg(state, NULL);
}

static int setup_small_spi(void **state)
{
    struct aaah_config c = {.spi_min = 256, .spi_max = 263};
    return setup_cfg(state, &c);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aaah_free(f->a);
    vpndb_close(f->db);
    char b[128];
    snprintf(b, sizeof(b), "%s-journal", f->path);
    unlink(b);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A Reg Req as an MN sends it through an FA in AAA mode (RFC 3012). */
static size_t mk_rrq(uint8_t *buf, const char *nai, const char *hoa, uint16_t lifetime,
                     uint8_t key_seed)
{
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T;
    rq.lifetime = lifetime;
    rq.home_addr = ip(hoa);
    rq.home_agent = ip(HA);
    rq.care_of_addr = ip(FA1);
    rq.identification = 0x1122334455667788ull;
    struct mip_writer w;
    mip_writer_init(&w, buf, MIP_MAX_MSG);
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, nai, strlen(nai));
    mip_put_challenge(&w, CHAL, sizeof(CHAL));
    uint8_t key[16];
    key_of(key, key_seed);
    mip_put_mn_aaa_auth(&w, 1000, key, sizeof(key), CHAL, sizeof(CHAL));
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

struct req {
    uint8_t buf[MIP_MAX_MSG];
    struct aaah_amr amr;
};

static void mk_amr(struct req *r, const char *sid, const char *nai, const char *hoa, const char *fa)
{
    memset(r, 0, sizeof(*r));
    r->amr.session_id = sid;
    r->amr.nai = nai;
    r->amr.reg_req = r->buf;
    r->amr.reg_req_len = mk_rrq(r->buf, nai, hoa, 600, 0xa0);
    r->amr.fa = ip(fa);
    r->amr.challenge = CHAL;
    r->amr.challenge_len = sizeof(CHAL);
}

static int amr(struct fx *f, const char *sid, const char *nai, const char *hoa, const char *fa,
               struct aaah_decision *d)
{
    struct req r;
    mk_amr(&r, sid, nai, hoa, fa);
    int rc = aaah_handle_amr(f->a, &r.amr, d, T0);
    if (rc)
        print_message("denied: %u/%u %s\n", d->result_code, d->mip_code, d->reason);
    return rc;
}

static const struct vpn_profile *find_leg(const struct aaah_profile_set *s, uint32_t num,
                                          enum vpn_leg leg)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->p[i].number == num && s->p[i].leg == leg)
            return &s->p[i];
    return NULL;
}

static void assert_gw(const struct vpn_profile *p, const char *src, const char *dst)
{
    assert_non_null(p);
    assert_int_equal(p->src_gw.s_addr, ip(src).s_addr);
    assert_int_equal(p->dst_gw.s_addr, ip(dst).s_addr);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_scenarios_1_and_4(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d;
    assert_int_equal(amr(f, "s1", "alice@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.result_code, AAAH_DIAMETER_SUCCESS);
    assert_int_equal(d.mip_code, 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.0.100").s_addr);
    assert_int_equal(d.ha.s_addr, ip(HA).s_addr);
    assert_int_equal(d.lifetime, 600);
    assert_false(d.moved);
    assert_true(d.profile_cache);

    /* HA: ha-gw + fa-ha (static, profile 1) and the PCN's fa-pcn (profile 2). */
    assert_int_equal(d.ha_set.node.s_addr, ip(HA).s_addr);
    assert_int_equal(d.ha_set.n, 3);
    assert_gw(find_leg(&d.ha_set, 1, VPN_LEG_HA_GW), HA, GW);
    const struct vpn_profile *hf = find_leg(&d.ha_set, 1, VPN_LEG_FA_HA);
    assert_gw(hf, HA, FA1);
    assert_gw(find_leg(&d.ha_set, 2, VPN_LEG_FA_PCN), PCN, FA1);
    assert_int_equal(hf->src.addr.s_addr, ip("10.10.0.100").s_addr);
    assert_int_equal(hf->src.len, 32);
    /* FA: fa-ha towards the HA, fa-pcn towards the PCN. */
    assert_int_equal(d.fa_set.node.s_addr, ip(FA1).s_addr);
    assert_int_equal(d.fa_set.n, 2);
    const struct vpn_profile *ff = find_leg(&d.fa_set, 1, VPN_LEG_FA_HA);
    assert_gw(ff, FA1, HA);
    assert_gw(find_leg(&d.fa_set, 2, VPN_LEG_FA_PCN), FA1, PCN);
    /* PCN: one set, at its address. */
    assert_int_equal(d.n_pcn, 1);
    assert_int_equal(d.pcn[0].node.s_addr, ip(PCN).s_addr);
    assert_int_equal(d.pcn[0].n, 1);
    assert_gw(&d.pcn[0].p[0], PCN, FA1);
    assert_int_equal(d.pcn[0].p[0].gw_type, VPN_GW_DYNAMIC);

    /* Per-user SPIs from the allocator, same keys at both ends of the leg. */
    assert_true(hf->has_keys && ff->has_keys);
    assert_true(hf->spi_up >= 0x10000 && hf->spi_down >= 0x10000);
    assert_int_equal(hf->spi_up, ff->spi_up);
    assert_memory_equal(&hf->key_up, &ff->key_up, sizeof(hf->key_up));
    assert_true(find_leg(&d.fa_set, 2, VPN_LEG_FA_PCN)->has_keys);

    /* RFC 4004 / RFC 3957 keys: MN-HA = HMAC-SHA1(MN-AAA key, nonce || NAI). */
    assert_true(d.has_keys);
    assert_int_not_equal(d.keys.mn_ha_spi, d.keys.fa_ha_spi);
    uint8_t key[16], msg[AAAH_NONCE_LEN + 64], md[20];
    unsigned mdlen = 0;
    key_of(key, 0xa0);
    memcpy(msg, d.keys.nonce, AAAH_NONCE_LEN);
    memcpy(msg + AAAH_NONCE_LEN, "alice@home.example", 18);
    HMAC(EVP_sha1(), key, 16, msg, AAAH_NONCE_LEN + 18, md, &mdlen);
    assert_memory_equal(md, d.keys.mn_ha_key, 20);

    /* The AAAH's cache knows the session and its current FA. */
    assert_int_equal(aaah_session_count(f->a), 1);
    struct vpn_session *vs = vpn_cache_find(aaah_cache_ha(f->a), "s1");
    assert_non_null(vs);
    assert_int_equal(vs->fa.s_addr, ip(FA1).s_addr);
    assert_int_equal(vs->n_profiles, 3);
    vs = vpn_cache_find(aaah_cache_fa(f->a), "s1");
    assert_non_null(vs);
    assert_int_equal(vs->fa.s_addr, ip(FA1).s_addr);
    assert_int_equal(vs->n_profiles, 2);
    aaah_decision_free(&d);

    assert_true(aaah_session_end(f->a, "s1"));
    assert_false(aaah_session_end(f->a, "s1"));
    assert_int_equal(aaah_session_count(f->a), 0);
    assert_null(vpn_cache_find(aaah_cache_ha(f->a), "s1"));
    assert_null(vpn_cache_find(aaah_cache_fa(f->a), "s1"));
}

static void test_denials(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d;
    struct req r;

    assert_int_equal(amr(f, "s1", "mallory@home.example", "0.0.0.0", FA1, &d), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_AUTHENTICATION_REJECTED);
    assert_int_equal(d.mip_code, MIP_CODE_FA_MN_AUTH_FAILED);
    assert_non_null(strstr(d.reason, "unknown user"));
    aaah_decision_free(&d);

    /* Wrong MN-AAA key. */
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    r.amr.reg_req_len = mk_rrq(r.buf, "alice@home.example", "0.0.0.0", 600, 0x55);
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_AUTHENTICATION_REJECTED);
    assert_int_equal(d.mip_code, MIP_CODE_FA_MN_AUTH_FAILED);
    assert_non_null(strstr(d.reason, "does not verify"));
    aaah_decision_free(&d);

    /* No MIP-FA-Challenge. */
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    r.amr.challenge = NULL;
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_MISSING_AVP);
    assert_int_equal(d.mip_code, MIP_CODE_FA_MISSING_CHALLENGE);
    aaah_decision_free(&d);

    /* Challenge differs from the one in the request. */
    static const uint8_t other[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    r.amr.challenge = other;
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_AUTHENTICATION_REJECTED);
    assert_int_equal(d.mip_code, MIP_CODE_FA_UNKNOWN_CHALLENGE);
    aaah_decision_free(&d);

    /* Truncated request. */
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    r.amr.reg_req_len = 10;
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_INVALID_AVP_VALUE);
    assert_int_equal(d.mip_code, MIP_CODE_FA_POORLY_FORMED_REQUEST);
    aaah_decision_free(&d);

    /* User-Name differs from the NAI extension. */
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    r.amr.nai = "frank@home.example";
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_INVALID_AVP_VALUE);
    aaah_decision_free(&d);

    /* No MN-AAA authentication extension at all. */
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    {
        struct mip_reg_request rq;
        memset(&rq, 0, sizeof(rq));
        rq.lifetime = 600;
        rq.home_agent = ip(HA);
        rq.care_of_addr = ip(FA1);
        struct mip_writer w;
        mip_writer_init(&w, r.buf, sizeof(r.buf));
        mip_put_reg_request(&w, &rq);
        mip_put_nai(&w, "alice@home.example", 18);
        mip_put_challenge(&w, CHAL, sizeof(CHAL));
        r.amr.reg_req_len = w.len;
    }
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_MISSING_AVP);
    assert_int_equal(d.mip_code, MIP_CODE_FA_POORLY_FORMED_REQUEST);
    aaah_decision_free(&d);

    /* Someone else's home address. */
    assert_int_equal(amr(f, "s1", "alice@home.example", "10.10.0.101", FA1, &d), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_AUTHORIZATION_REJECTED);
    assert_int_equal(d.mip_code, MIP_CODE_HA_ADMIN_PROHIBITED);
    aaah_decision_free(&d);

    assert_int_equal(aaah_session_count(f->a), 0);
}

static void test_pool_and_free(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d;
    assert_int_equal(amr(f, "sb", "bob@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.1").s_addr);
    assert_int_equal(d.ha_set.n, 0); /* bob has no VPN profiles */
    aaah_decision_free(&d);
    /* Re-registration keeps the address, and may name it. */
    assert_int_equal(amr(f, "sb", "bob@home.example", "10.10.1.1", FA1, &d), 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.1").s_addr);
    aaah_decision_free(&d);
    assert_int_equal(amr(f, "sc", "carol@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.2").s_addr);
    aaah_decision_free(&d);

    /* /30: two hosts, the third MN is refused. */
    assert_int_equal(amr(f, "sd", "dave@home.example", "0.0.0.0", FA1, &d), 1);
    assert_int_equal(d.result_code, AAAH_DIAMETER_UNABLE_TO_COMPLY);
    assert_int_equal(d.mip_code, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    aaah_decision_free(&d);
    assert_int_equal(aaah_session_count(f->a), 2);

    /* Session end frees bob's address; dave gets it. */
    assert_true(aaah_session_end(f->a, "sb"));
    assert_int_equal(amr(f, "sd", "dave@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.1").s_addr);
    aaah_decision_free(&d);

    /* Deregistration (lifetime 0) frees carol's. */
    struct req r;
    mk_amr(&r, "sc", "carol@home.example", "10.10.1.2", FA1);
    r.amr.reg_req_len = mk_rrq(r.buf, "carol@home.example", "10.10.1.2", 0, 0xa0);
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 0);
    assert_int_equal(d.lifetime, 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.2").s_addr);
    assert_true(d.has_keys); /* the session's, for the HAR */
    assert_int_equal(d.ha_set.n + d.fa_set.n, 0);
    aaah_decision_free(&d);
    /* The session (and its address) stays until the HA accepted: the daemon ends it after
     * the HAA. */
    assert_int_equal(aaah_session_count(f->a), 2);
    assert_true(aaah_session_end_nai(f->a, "carol@home.example"));
    assert_false(aaah_session_end_nai(f->a, "carol@home.example"));
    assert_int_equal(amr(f, "sb2", "bob@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.2").s_addr);
    aaah_decision_free(&d);

    /* Lifetime expiry (600 s) ends the rest and frees their addresses. */
    assert_int_equal(aaah_expire(f->a, T0 + 599000), 0);
    assert_int_equal(aaah_expire(f->a, T0 + 600000), 2);
    assert_int_equal(aaah_session_count(f->a), 0);
    assert_int_equal(amr(f, "sc", "carol@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.hoa.s_addr, ip("10.10.1.1").s_addr);
    aaah_decision_free(&d);
}

/* The daemon passes no FA address: the AAAH takes the request's care-of address; sessions
 * are listed with aaah_foreach_session. */
static void count_sess(const struct aaah_session_info *i, void *arg)
{
    unsigned *n = arg;
    assert_string_equal(i->nai, "alice@home.example");
    assert_string_equal(i->session_id, "s1");
    assert_int_equal(i->fa.s_addr, ip(FA1).s_addr);
    assert_int_equal(i->ha.s_addr, ip(HA).s_addr);
    assert_int_equal(i->n_ha_profiles, 3);
    assert_int_equal(i->n_fa_profiles, 2);
    assert_int_equal(i->expires, (time_t)(T0 / 1000) + 600);
    (*n)++;
}

static void test_fa_from_coa_and_listing(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d;
    assert_int_equal(amr(f, "s1", "alice@home.example", "0.0.0.0", "0.0.0.0", &d), 0);
    assert_int_equal(d.fa.s_addr, ip(FA1).s_addr);
    assert_int_equal(d.fa_set.node.s_addr, ip(FA1).s_addr);
    aaah_decision_free(&d);
    unsigned n = 0;
    aaah_foreach_session(f->a, count_sess, &n);
    assert_int_equal(n, 1);
}

static void test_move(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d1, d2, d3;
    assert_int_equal(amr(f, "s1", "alice@home.example", "0.0.0.0", FA1, &d1), 0);
    /* Re-registration via the same FA: no move, same everything. */
    assert_int_equal(amr(f, "s1", "alice@home.example", "10.10.0.100", FA1, &d2), 0);
    assert_false(d2.moved);
    assert_int_equal(d2.generation, d1.generation);
    aaah_decision_free(&d2);

    /* Same MN through FA2 (scenario 3/6). */
    assert_int_equal(amr(f, "s1", "alice@home.example", "10.10.0.100", FA2, &d2), 0);
    assert_true(d2.moved);
    assert_int_equal(d2.prev_fa.s_addr, ip(FA1).s_addr);
    assert_int_equal(d2.fa.s_addr, ip(FA2).s_addr);
    assert_true(d2.generation > d1.generation);
    assert_gw(find_leg(&d2.ha_set, 1, VPN_LEG_HA_GW), HA, GW);
    assert_gw(find_leg(&d2.ha_set, 1, VPN_LEG_FA_HA), HA, FA2);
    assert_gw(find_leg(&d2.ha_set, 2, VPN_LEG_FA_PCN), PCN, FA2);
    assert_int_equal(d2.fa_set.node.s_addr, ip(FA2).s_addr);
    assert_gw(find_leg(&d2.fa_set, 1, VPN_LEG_FA_HA), FA2, HA);
    assert_gw(find_leg(&d2.fa_set, 2, VPN_LEG_FA_PCN), FA2, PCN);
    assert_gw(&d2.pcn[0].p[0], PCN, FA2);
    /* Profile keys and SPIs kept; MN-HA key kept; new FA-HA key. */
    const struct vpn_profile *a1 = find_leg(&d1.fa_set, 1, VPN_LEG_FA_HA);
    const struct vpn_profile *a2 = find_leg(&d2.fa_set, 1, VPN_LEG_FA_HA);
    assert_int_equal(a1->spi_up, a2->spi_up);
    assert_memory_equal(&a1->key_up, &a2->key_up, sizeof(a1->key_up));
    assert_memory_equal(d1.keys.mn_ha_key, d2.keys.mn_ha_key, AAAH_MN_HA_KEY_LEN);
    assert_memory_not_equal(d1.keys.fa_ha_key, d2.keys.fa_ha_key, AAAH_FA_HA_KEY_LEN);
    assert_int_not_equal(d1.keys.fa_ha_spi, d2.keys.fa_ha_spi);
    struct vpn_session *vs = vpn_cache_find(aaah_cache_ha(f->a), "s1");
    assert_int_equal(vs->fa.s_addr, ip(FA2).s_addr);
    vs = vpn_cache_find(aaah_cache_fa(f->a), "s1");
    assert_int_equal(vs->fa.s_addr, ip(FA2).s_addr);

    /* Back to FA1 under a new Diameter session: the cache follows the new ID. */
    assert_int_equal(amr(f, "s2", "alice@home.example", "10.10.0.100", FA1, &d3), 0);
    assert_true(d3.moved);
    assert_int_equal(d3.prev_fa.s_addr, ip(FA2).s_addr);
    assert_gw(find_leg(&d3.ha_set, 1, VPN_LEG_FA_HA), HA, FA1);
    assert_null(vpn_cache_find(aaah_cache_ha(f->a), "s1"));
    assert_null(vpn_cache_find(aaah_cache_fa(f->a), "s1"));
    assert_non_null(vpn_cache_find(aaah_cache_ha(f->a), "s2"));
    assert_non_null(vpn_cache_find(aaah_cache_fa(f->a), "s2"));
    assert_int_equal(aaah_session_count(f->a), 1);
    assert_false(aaah_session_end(f->a, "s1"));
    assert_true(aaah_session_end(f->a, "s2"));
    aaah_decision_free(&d1);
    aaah_decision_free(&d2);
    aaah_decision_free(&d3);
}

/* The MN's previous-FA notification is checked against the cache, which wins (FLOWS.md). */
static void test_prev_fa_notification(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d;
    struct req r;
    /* First registration naming a previous FA: no session to move, a mismatch. */
    mk_amr(&r, "s1", "alice@home.example", "0.0.0.0", FA1);
    r.amr.has_prev_fa = true;
    r.amr.prev_fa = ip(FA2);
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 0);
    assert_false(d.moved);
    assert_true(d.prev_fa_mismatch);
    assert_int_equal(d.mn_prev_fa.s_addr, ip(FA2).s_addr);
    aaah_decision_free(&d);
    /* FA1 -> FA2 naming FA1: agreed. */
    mk_amr(&r, "s1", "alice@home.example", "10.10.0.100", FA2);
    r.amr.has_prev_fa = true;
    r.amr.prev_fa = ip(FA1);
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 0);
    assert_true(d.moved);
    assert_false(d.prev_fa_mismatch);
    assert_int_equal(d.prev_fa.s_addr, ip(FA1).s_addr);
    aaah_decision_free(&d);
    /* FA2 -> FA1 naming another FA: the cache's FA2 is the previous FA. */
    mk_amr(&r, "s2", "alice@home.example", "10.10.0.100", FA1);
    r.amr.has_prev_fa = true;
    r.amr.prev_fa = ip("203.0.113.99");
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 0);
    assert_true(d.moved);
    assert_true(d.prev_fa_mismatch);
    assert_int_equal(d.prev_fa.s_addr, ip(FA2).s_addr);
    assert_int_equal(d.mn_prev_fa.s_addr, ip("203.0.113.99").s_addr);
    aaah_decision_free(&d);
    /* Re-registration at FA1 naming FA2 (the cache has it at FA1 already): no move. */
    mk_amr(&r, "s2", "alice@home.example", "10.10.0.100", FA1);
    r.amr.has_prev_fa = true;
    r.amr.prev_fa = ip(FA2);
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 0);
    assert_false(d.moved);
    assert_true(d.prev_fa_mismatch);
    aaah_decision_free(&d);
    /* ... naming FA1 itself: consistent with no move. */
    r.amr.prev_fa = ip(FA1);
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d, T0), 0);
    assert_false(d.moved);
    assert_false(d.prev_fa_mismatch);
    aaah_decision_free(&d);
}

static void test_service_update(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d1, d2;
    assert_int_equal(amr(f, "s1", "alice@home.example", "0.0.0.0", FA1, &d1), 0);
    /* Seed [0091]: the user moves profile 2 behind another PCN. */
    struct vpn_profile p;
    assert_int_equal(vpndb_profile_get(f->db, "alice@home.example", 2, &p, err, sizeof(err)), 1);
    p.dst = pfx("172.21.5.0/24");
    assert_true(vpndb_profile_update(f->db, &p, err, sizeof(err)));
    vpn_profile_clear(&p);

    /* Without the request the cache answers: still the old PCN. */
    assert_int_equal(amr(f, "s1", "alice@home.example", "10.10.0.100", FA1, &d2), 0);
    assert_gw(find_leg(&d2.fa_set, 2, VPN_LEG_FA_PCN), FA1, PCN);
    aaah_decision_free(&d2);

    struct req r;
    mk_amr(&r, "s1", "alice@home.example", "10.10.0.100", FA1);
    r.amr.service_update = true;
    assert_int_equal(aaah_handle_amr(f->a, &r.amr, &d2, T0), 0);
    assert_false(d2.moved);
    assert_true(d2.generation > d1.generation);
    assert_gw(find_leg(&d2.fa_set, 2, VPN_LEG_FA_PCN), FA1, PCN2);
    assert_int_equal(find_leg(&d2.fa_set, 2, VPN_LEG_FA_PCN)->dst.addr.s_addr,
                     ip("172.21.5.0").s_addr);
    assert_int_equal(d2.n_pcn, 1);
    assert_int_equal(d2.pcn[0].node.s_addr, ip(PCN2).s_addr);
    assert_gw(find_leg(&d2.fa_set, 1, VPN_LEG_FA_HA), FA1, HA);
    assert_memory_equal(d1.keys.mn_ha_key, d2.keys.mn_ha_key, AAAH_MN_HA_KEY_LEN);
    aaah_decision_free(&d1);
    aaah_decision_free(&d2);
}

static void test_vpnshare0_no_keys(void **state)
{
    struct fx *f = *state;
    struct aaah_decision d;
    assert_int_equal(amr(f, "se", "erin@home.example", "0.0.0.0", FA1, &d), 0);
    assert_int_equal(d.ha_set.n, 3);
    assert_int_equal(d.fa_set.n, 2);
    for (unsigned i = 0; i < d.ha_set.n; i++)
        assert_false(d.ha_set.p[i].has_keys);
    for (unsigned i = 0; i < d.fa_set.n; i++) {
        assert_false(d.fa_set.p[i].has_keys);
        assert_int_equal(d.fa_set.p[i].spi_up, 0); /* the default SA */
    }
    aaah_decision_free(&d);
}

static void test_spi_allocator(void **state)
{
    struct fx *f = *state;
    struct aaah_decision da, df, db;
    /* 8 SPIs: alice takes 4 (MN-HA, FA-HA, fa-ha leg up/down), frank 4. */
    assert_int_equal(amr(f, "sa", "alice@home.example", "0.0.0.0", FA1, &da), 0);
    assert_int_equal(amr(f, "sf", "frank@home.example", "0.0.0.0", FA1, &df), 0);
    assert_int_equal(amr(f, "sb", "bob@home.example", "0.0.0.0", FA1, &db), 1);
    assert_int_equal(db.result_code, AAAH_DIAMETER_UNABLE_TO_COMPLY);
    assert_int_equal(db.mip_code, MIP_CODE_HA_INSUFFICIENT_RESOURCES);
    aaah_decision_free(&db);
    /* bob's failed attempt must not keep his pool address */
    assert_true(aaah_session_end(f->a, "sa"));
    assert_int_equal(amr(f, "sb", "bob@home.example", "0.0.0.0", FA1, &db), 0);
    assert_int_equal(db.hoa.s_addr, ip("10.10.1.1").s_addr);
    const struct vpn_profile *fp = find_leg(&df.fa_set, 1, VPN_LEG_FA_HA);
    uint32_t frank[4] = {df.keys.mn_ha_spi, df.keys.fa_ha_spi, fp->spi_up, fp->spi_down};
    for (unsigned i = 0; i < 4; i++) {
        assert_true(frank[i] >= 256 && frank[i] <= 263);
        assert_int_not_equal(db.keys.mn_ha_spi, frank[i]);
        assert_int_not_equal(db.keys.fa_ha_spi, frank[i]);
    }
    aaah_decision_free(&da);
    aaah_decision_free(&df);
    aaah_decision_free(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios_1_and_4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_and_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fa_from_coa_and_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prev_fa_notification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vpnshare0_no_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spi_allocator, setup_small_spi, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
