/* Unit tests: vpn_plan, the kernel objects each node holds for the seeds' scenarios 1
 * (static company gateway) and 4 (PCN), from the AAAH's own path decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "path.h"
#include "vpn_plan.h"

#define FA "192.0.2.11"
#define HA "10.10.0.1"
#define GW "192.0.2.60"
#define PCN "192.0.2.70"
#define HOA "10.10.0.100"

static struct in_addr A(const char *s) {
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static uint32_t next_spi = 0x9000;
static bool alloc(void *arg, uint32_t *up, uint32_t *down)
{
    (void)arg;
    *up = next_spi++;
    *down = next_spi++;
    return true;
}

/* The path of one database profile towards dst (static GW or PCN). */
static void decide(const char *dst, uint8_t vpnshare, struct vpn_path *out)
{
    struct cngw_table *t = cngw_new();
    char err[VPN_ERR_MAX];
    struct cngw_entry e = {{A("172.16.50.0"), 24}, A(GW), VPN_GW_STATIC};
    assert_true(cngw_add(t, &e, err, sizeof(err)));
    e = (struct cngw_entry){{A("172.16.60.0"), 24}, A(PCN), VPN_GW_DYNAMIC};
    assert_true(cngw_add(t, &e, err, sizeof(err)));
    struct vpn_profile db;
    vpn_profile_init(&db);
    db.number = 1;
    assert_true(vpn_profile_set_nai(&db, "alice@home.example"));
    assert_true(vpn_prefix_parse("0.0.0.0/32", &db.src));
    assert_true(vpn_prefix_parse(dst, &db.dst));
    db.vpnshare = vpnshare;
    db.spi_up = vpnshare ? 0x1001 : 0;
    db.spi_down = vpnshare ? 0x2001 : 0;
    db.dscp_up = 46;   /* EF */
    db.dscp_down = 34; /* AF41 */
    if (vpnshare)
        assert_true(vpn_profile_generate_keys(&db));
    struct vpn_path_input in = {.db = &db,
                                .n_db = 1,
                                .fa = A(FA),
                                .ha = A(HA),
                                .hoa = A(HOA),
                                .cngw = t,
                                .alloc_spi = alloc};
    memset(out, 0, sizeof(*out));
    assert_true(vpn_path_decide(&in, out, err, sizeof(err)));
    vpn_profile_clear(&db);
    cngw_free(t);
}

/* Plans and returns the items described, one per line, sorted as planned. */
static size_t plan(enum vpn_node_role role, const char *node, const struct vpn_profile *p,
                   unsigned n, struct vpn_plan_item *items, char lines[][160])
{
    size_t count = 0;
    char err[160] = "";
    int rc = vpn_plan_session(role, A(node), A(HOA), p, n, items, 24, &count, err, sizeof(err));
    if (rc)
        fail_msg("plan failed: %s", err);
    for (size_t i = 0; i < count; i++)
        vpn_plan_describe(&items[i], lines[i], 160);
    return count;
}

static void assert_has(char lines[][160], size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++)
        if (!strncmp(lines[i], prefix, strlen(prefix)))
            return;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  have: %s\n", lines[i]);
    fail_msg("missing: %s", prefix);
}

/* The SA one node sends with must be the SA its peer receives with: same
 * endpoints, SPI, algorithms and key bytes. */
static void assert_same_sa(const struct vpn_plan_item *a, size_t na, const struct vpn_plan_item *b,
                           size_t nb, const char *src, const char *dst)
{
    const struct dp_xfrm_state *x = NULL, *y = NULL;
    for (size_t i = 0; i < na; i++)
        if (a[i].kind == VPN_PLAN_SA && a[i].sa.src.s_addr == A(src).s_addr &&
            a[i].sa.dst.s_addr == A(dst).s_addr)
            x = &a[i].sa;
    for (size_t i = 0; i < nb; i++)
        if (b[i].kind == VPN_PLAN_SA && b[i].sa.src.s_addr == A(src).s_addr &&
            b[i].sa.dst.s_addr == A(dst).s_addr)
            y = &b[i].sa;
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(x->spi, y->spi);
    assert_string_equal(x->enc.name, y->enc.name);
    assert_int_equal(x->enc.key_len, y->enc.key_len);
    assert_memory_equal(x->enc.key, y->enc.key, x->enc.key_len);
    assert_memory_equal(x->auth.key, y->auth.key, x->auth.key_len);
}

/* Scenario 1 (seed [0025]-[0044]): HA holds HA<->GW and HA<->FA, FA holds FA<->HA. */
static void scenario1_static_gateway(void **state)
{
    (void)state;
    struct vpn_path path;
    decide("172.16.50.0/24", 1, &path);
    struct vpn_plan_item ha[24], fa[24];
    char hl[24][160], fl[24][160];
    size_t nh = plan(VPN_NODE_HA, HA, path.ha, path.n_ha, ha, hl);
    size_t nf = plan(VPN_NODE_FA, FA, path.fa, path.n_fa, fa, fl);

    /* HA: 4 SAs, 4 policies, 2 marks (the same marks serve both legs). */
    assert_int_equal(nh, 10);
    assert_has(hl, nh, "sa esp " HA ">" GW " spi 0x1001 enc cbc(aes) auth hmac(sha256)");
    assert_has(hl, nh, "sa esp " GW ">" HA " spi 0x2001");
    assert_has(hl, nh, "policy out " HOA "/32>172.16.50.0/24 tmpl esp " HA ">" GW " spi 0x1001");
    assert_has(hl, nh, "policy fwd 172.16.50.0/24>" HOA "/32 tmpl esp " GW ">" HA " spi 0x2001");
    assert_has(hl, nh, "policy out 172.16.50.0/24>" HOA "/32 tmpl esp " HA ">" FA);
    assert_has(hl, nh, "policy fwd " HOA "/32>172.16.50.0/24 tmpl esp " FA ">" HA);
    assert_has(hl, nh, "mark " HOA "/32>172.16.50.0/24 dscp 46");
    assert_has(hl, nh, "mark 172.16.50.0/24>" HOA "/32 dscp 34");

    /* FA: 2 SAs, 2 policies, 2 marks. */
    assert_int_equal(nf, 6);
    assert_has(fl, nf, "policy out " HOA "/32>172.16.50.0/24 tmpl esp " FA ">" HA);
    assert_has(fl, nf, "policy fwd 172.16.50.0/24>" HOA "/32 tmpl esp " HA ">" FA);
    assert_has(fl, nf, "mark " HOA "/32>172.16.50.0/24 dscp 46");
    /* Both ends of the FA-HA leg agree, per direction. */
    assert_same_sa(ha, nh, fa, nf, FA, HA);
    assert_same_sa(ha, nh, fa, nf, HA, FA);
    vpn_path_free(&path);
}

/* Scenario 4 (seed [0074]-[0078]): PCN<->FA only; the HA installs nothing. */
static void scenario4_pcn(void **state)
{
    (void)state;
    struct vpn_path path;
    decide("172.16.60.10/32", 1, &path);
    struct vpn_plan_item ha[24], fa[24], pcn[24];
    char hl[24][160], fl[24][160], pl[24][160];
    size_t nh = plan(VPN_NODE_HA, HA, path.ha, path.n_ha, ha, hl);
    assert_int_equal(nh, 0);
    /* The PCN gets the HA's fa-pcn profile by BU: src GW = PCN. */
    assert_int_equal(path.n_ha, 1);
    size_t np = plan(VPN_NODE_PCN, PCN, path.ha, path.n_ha, pcn, pl);
    size_t nf = plan(VPN_NODE_FA, FA, path.fa, path.n_fa, fa, fl);
    assert_int_equal(np, 6);
    assert_int_equal(nf, 6);
    assert_has(pl, np, "policy out 172.16.60.10/32>" HOA "/32 tmpl esp " PCN ">" FA);
    assert_has(pl, np, "policy fwd " HOA "/32>172.16.60.10/32 tmpl esp " FA ">" PCN);
    assert_has(fl, nf, "policy out " HOA "/32>172.16.60.10/32 tmpl esp " FA ">" PCN);
    assert_has(fl, nf, "policy fwd 172.16.60.10/32>" HOA "/32 tmpl esp " PCN ">" FA);
    assert_same_sa(pcn, np, fa, nf, FA, PCN);
    assert_same_sa(pcn, np, fa, nf, PCN, FA);
    vpn_path_free(&path);
}

/* vpnshare 0 (seed [0028], [0062]): policies only, template without SPI. */
static void shared_sa_gives_policies_only(void **state)
{
    (void)state;
    struct vpn_path path;
    decide("172.16.50.0/24", 0, &path);
    struct vpn_plan_item ha[24];
    char hl[24][160];
    size_t nh = plan(VPN_NODE_HA, HA, path.ha, path.n_ha, ha, hl);
    for (size_t i = 0; i < nh; i++)
        assert_int_not_equal(ha[i].kind, VPN_PLAN_SA);
    assert_has(hl, nh, "policy out " HOA "/32>172.16.50.0/24 tmpl esp " HA ">" GW " spi 0x0");
    vpn_path_free(&path);
}

static void wrong_node_and_leg_refused(void **state)
{
    (void)state;
    struct vpn_path path;
    decide("172.16.50.0/24", 1, &path);
    struct vpn_plan_item it[24];
    size_t n;
    char err[160];
    /* The FA's profiles planned at another address: refused, precisely. */
    assert_int_equal(vpn_plan_session(VPN_NODE_FA, A("192.0.2.12"), A(HOA), path.fa, path.n_fa, it,
                                      24, &n, err, sizeof(err)),
                     -22);
    assert_non_null(strstr(err, "not this node"));
    /* The HA's ha-gw leg on an FA: wrong leg. */
    assert_int_equal(vpn_plan_session(VPN_NODE_FA, A(HA), A(HOA), path.ha, path.n_ha, it, 24, &n,
                                      err, sizeof(err)),
                     -22);
    assert_non_null(strstr(err, "does not belong"));
    /* Too small an output array. */
    assert_int_equal(vpn_plan_session(VPN_NODE_HA, A(HA), A(HOA), path.ha, path.n_ha, it, 3, &n,
                                      err, sizeof(err)),
                     -22);
    vpn_path_free(&path);
}

/* Two profiles for the same traffic: the kernel holds one policy per
 * selector and direction, so the plan refuses, naming both. */
static void same_selector_refused(void **state)
{
    (void)state;
    struct vpn_path path;
    decide("172.16.50.0/24", 1, &path);
    struct vpn_profile two[2] = {path.fa[0], path.fa[0]};
    two[1].number = 2;
    two[1].spi_up += 16;
    two[1].spi_down += 16;
    struct vpn_plan_item it[24];
    size_t n;
    char err[160];
    assert_int_equal(
        vpn_plan_session(VPN_NODE_FA, A(FA), A(HOA), two, 2, it, 24, &n, err, sizeof(err)), -22);
    assert_non_null(strstr(err, "profiles 1 and 2 both select " HOA "/32>172.16.50.0/24"));
    vpn_path_free(&path);
}

static void encap_only_gives_ipip(void **state)
{
    (void)state;
    struct vpn_path path;
    decide("172.16.60.10/32", 1, &path);
    path.fa[0].sec = VPN_SEC_ENCAP;
    struct vpn_plan_item it[24];
    char l[24][160];
    size_t n = plan(VPN_NODE_FA, FA, path.fa, path.n_fa, it, l);
    assert_int_equal(n, 3);
    assert_has(l, n, "encap " HOA "/32>172.16.60.10/32 ipip " FA ">" PCN);
    vpn_path_free(&path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario1_static_gateway),
        cmocka_unit_test(scenario4_pcn),
        cmocka_unit_test(shared_sa_gives_policies_only),
        cmocka_unit_test(wrong_node_and_leg_refused),
        cmocka_unit_test(encap_only_gives_ipip),
        cmocka_unit_test(same_selector_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
