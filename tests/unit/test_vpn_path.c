/* Unit tests: vpncache/path, the AAAH path decision (seed [0039]-[0041], Fig. 13). */
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

#define FA "203.0.113.10"
#define HA "192.0.2.1"
#define GW "198.51.100.50"  /* company static gateway */
#define PCN "198.51.100.70" /* partner ISP's PCN */
#define HOA "10.10.0.100"

static struct in_addr A(const char *s) {
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static struct cngw_table *
table(void)
{
    struct cngw_table *t = cngw_new();
    char err[VPN_ERR_MAX];
    struct cngw_entry e = {{A("172.16.50.0"), 24}, A(GW), VPN_GW_STATIC};
    assert_true(cngw_add(t, &e, err, sizeof(err)));
    e = (struct cngw_entry){{A("172.20.0.0"), 16}, A(PCN), VPN_GW_DYNAMIC};
    assert_true(cngw_add(t, &e, err, sizeof(err)));
    return t;
}

static void db_profile(struct vpn_profile *p, uint32_t num, const char *dst)
{
    vpn_profile_init(p);
    p->number = num;
    assert_true(vpn_profile_set_nai(p, "alice@home.example"));
    assert_true(vpn_prefix_parse("0.0.0.0/32", &p->src));
    assert_true(vpn_prefix_parse(dst, &p->dst));
    p->spi_up = 0x1000 + num;
    p->spi_down = 0x2000 + num;
    p->dscp_up = 46;
    p->dscp_down = 34;
}

static uint32_t next_spi = 0x9000;
static bool alloc(void *arg, uint32_t *up, uint32_t *down)
{
    (*(int *)arg)++;
    *up = next_spi++;
    *down = next_spi++;
    return true;
}

static void assert_gw(const struct vpn_profile *p, const char *src, const char *dst)
{
    assert_int_equal(p->src_gw.s_addr, A(src).s_addr);
    assert_int_equal(p->dst_gw.s_addr, A(dst).s_addr);
}

static void assert_selector(const struct vpn_profile *p, const char *dst)
{
    char b[20];
    assert_string_equal(vpn_prefix_str(&p->src, b), HOA "/32");
    assert_string_equal(vpn_prefix_str(&p->dst, b), dst);
}

/* Scenario 1 (seed [0025]-[0044]): static company gateway. */
static void test_scenario1_static(void **st)
{
    (void)st;
    struct cngw_table *t = table();
    struct vpn_profile db;
    db_profile(&db, 1, "172.16.50.0/24");
    assert_true(vpn_profile_generate_keys(&db)); /* SLA keys provisioned (seed [0026]) */
    int calls = 0;
    struct vpn_path_input in = {&db, 1, A(FA), A(HA), A(HOA), t, alloc, &calls};
    struct vpn_path out;
    char err[VPN_ERR_MAX];
    assert_true(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_int_equal(calls, 1);
    assert_int_equal(out.n_ha, 2);
    assert_int_equal(out.n_fa, 1);
    assert_int_equal(out.n_plain, 0);

    const struct vpn_profile *hg = &out.ha[0], *hf = &out.ha[1], *ff = &out.fa[0];
    assert_int_equal(hg->leg, VPN_LEG_HA_GW);
    assert_gw(hg, HA, GW); /* [0040]: HA's src GW = HA, dst GW = GW */
    assert_int_equal(hg->gw_type, VPN_GW_STATIC);
    assert_int_equal(hg->spi_up, 0x1001);
    assert_memory_equal(&hg->key_up, &db.key_up, sizeof(db.key_up)); /* the SLA's keys */
    assert_selector(hg, "172.16.50.0/24");
    assert_null(hg->nai);
    assert_true(vpn_path_ha_installs(hg));

    assert_int_equal(hf->leg, VPN_LEG_FA_HA);
    assert_gw(hf, HA, FA); /* [0042]: tunnel (3) HA -> FA */
    assert_int_equal(hf->spi_up, 0x9000);
    assert_int_equal(hf->spi_down, 0x9001);
    assert_true(hf->has_keys);
    assert_memory_not_equal(&hf->key_up, &db.key_up, sizeof(db.key_up));
    assert_int_equal(hf->dscp_up, 46);
    assert_true(vpn_path_ha_installs(hf));

    assert_int_equal(ff->leg, VPN_LEG_FA_HA);
    assert_gw(ff, FA, HA);                    /* [0040]: FA's src GW = FA, dst GW = HA */
    assert_int_equal(ff->spi_up, hf->spi_up); /* both ends of one SA */
    assert_int_equal(ff->spi_down, hf->spi_down);
    assert_memory_equal(&ff->key_up, &hf->key_up, sizeof(hf->key_up));
    assert_memory_equal(&ff->key_down, &hf->key_down, sizeof(hf->key_down));
    assert_selector(ff, "172.16.50.0/24");
    for (unsigned i = 0; i < out.n_ha; i++)
        assert_true(vpn_profile_validate(&out.ha[i], err, sizeof(err)));
    vpn_path_free(&out);

    /* vpnshare 0: default SAs, no keys, no SPI allocation (seed [0028], [0038]) */
    vpn_profile_clear(&db);
    db_profile(&db, 1, "172.16.50.0/24");
    db.vpnshare = 0;
    db.spi_up = db.spi_down = 0;
    calls = 0;
    assert_true(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_int_equal(calls, 0);
    assert_false(out.ha[1].has_keys);
    assert_int_equal(out.ha[1].spi_up, 0);
    assert_false(out.fa[0].has_keys);
    vpn_path_free(&out);

    /* per-user SA but no SPI allocator: a clear error */
    db.vpnshare = 1;
    db.spi_up = 0x1001;
    db.spi_down = 0x2001;
    in.alloc_spi = NULL;
    assert_false(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_string_equal(err, "profile 1: no SPI available for the FA-HA leg");
    assert_int_equal(out.n_ha, 0);
    vpn_profile_clear(&db);
    cngw_free(t);
}

/* Scenario 4 (seed [0074]-[0078]): the CN sits behind a PCN. */
static void test_scenario4_pcn(void **st)
{
    (void)st;
    struct cngw_table *t = table();
    struct vpn_profile db;
    db_profile(&db, 2, "172.20.5.0/24");
    db.enc_alg = VPN_ENC_AES_GCM_128;
    db.integ_alg = VPN_INTEG_NONE;
    int calls = 0;
    struct vpn_path_input in = {&db, 1, A(FA), A(HA), A(HOA), t, alloc, &calls};
    struct vpn_path out;
    char err[VPN_ERR_MAX];
    assert_true(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_int_equal(calls, 0);
    assert_int_equal(out.n_ha, 1);
    assert_int_equal(out.n_fa, 1);
    const struct vpn_profile *hp = &out.ha[0], *ff = &out.fa[0];
    assert_int_equal(hp->leg, VPN_LEG_FA_PCN);
    assert_gw(hp, PCN, FA); /* [0041]: HA's src GW = PCN, dst GW = FA */
    assert_int_equal(hp->gw_type, VPN_GW_DYNAMIC);
    assert_false(vpn_path_ha_installs(hp)); /* the HA sends it to the PCN in a BU */
    assert_true(hp->has_keys);              /* [0038]: per-user SPI -> keys generated */
    assert_int_equal(hp->spi_up, 0x1002);
    assert_gw(ff, FA, PCN); /* [0041]: FA's src GW = FA, dst GW = PCN */
    assert_int_equal(ff->gw_type, VPN_GW_DYNAMIC);
    assert_memory_equal(&ff->key_up, &hp->key_up, sizeof(hp->key_up));
    assert_selector(ff, "172.20.5.0/24");
    vpn_path_free(&out);
    vpn_profile_clear(&db);
    cngw_free(t);
}

static void test_mixed_and_plain(void **st)
{
    (void)st;
    struct cngw_table *t = table();
    struct vpn_profile db[3];
    db_profile(&db[0], 1, "172.16.50.0/24");
    db_profile(&db[1], 2, "8.8.8.0/24"); /* nobody's gateway */
    db_profile(&db[2], 3, "172.20.0.0/16");
    int calls = 0;
    struct vpn_path_input in = {db, 3, A(FA), A(HA), {0}, t, alloc, &calls};
    struct vpn_path out;
    char err[VPN_ERR_MAX];
    assert_true(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_int_equal(out.n_ha, 3);
    assert_int_equal(out.n_fa, 2);
    assert_int_equal(out.n_plain, 1);
    assert_int_equal(out.plain[0].number, 2);
    assert_string_equal(out.plain[0].reason,
                        "profile 2: no CN-GW entry covers 8.8.8.0/24: plain Mobile IP, no VPN");
    char b[20];
    assert_string_equal(vpn_prefix_str(&out.fa[0].src, b), "0.0.0.0/32"); /* HoA unknown: kept */
    vpn_path_free(&out);

    /* a bad database profile and a missing FA are refused with the reason */
    db[2].spi_up = 3;
    assert_false(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "profile 3: SPI up 3 is reserved"));
    in.fa.s_addr = 0;
    assert_false(vpn_path_decide(&in, &out, err, sizeof(err)));
    assert_string_equal(err, "path: FA address unknown");
    for (int i = 0; i < 3; i++)
        vpn_profile_clear(&db[i]);
    cngw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario1_static),
        cmocka_unit_test(test_scenario4_pcn),
        cmocka_unit_test(test_mixed_and_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
