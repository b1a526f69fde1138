/* Unit tests: vpncache/vpn_cache (seed [0032]-[0033], [0054]-[0061]). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "vpn_cache.h"
#include "vpn_hash.h"

static struct in_addr A(const char *s) {
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static void
mk(struct vpn_profile *p, uint32_t num, const char *gw_src, const char *gw_dst)
{
    vpn_profile_init(p);
    p->number = num;
    assert_true(vpn_prefix_parse("10.10.0.100/32", &p->src));
    assert_true(vpn_prefix_parse("172.16.50.0/24", &p->dst));
    p->spi_up = 1000 + num;
    p->spi_down = 2000 + num;
    p->leg = VPN_LEG_FA_PCN;
    p->gw_type = VPN_GW_DYNAMIC;
    p->src_gw = A(gw_src);
    p->dst_gw = A(gw_dst);
    assert_true(vpn_profile_generate_keys(p));
}

static void test_siphash_vector(void **st)
{
    (void)st;
    /* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e -> a129ca6149be45e5 */
    uint8_t k[16], m[15];
    for (int i = 0; i < 16; i++)
        k[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        m[i] = (uint8_t)i;
    assert_true(vpn_siphash(k, m, 15) == 0xa129ca6149be45e5ull);
}

static void test_set_find_replace(void **st)
{
    (void)st;
    struct vpn_cache *c = vpn_cache_new();
    struct vpn_profile p[2];
    char err[VPN_ERR_MAX];
    mk(&p[0], 1, "198.51.100.1", "203.0.113.10");
    mk(&p[1], 2, "198.51.100.1", "203.0.113.10");
    struct vpn_session *s = vpn_cache_set(c, "sess-1", "alice@home", A("10.10.0.100"),
                                          A("203.0.113.10"), p, 2, 300, 1000, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(vpn_cache_count(c), 1);
    assert_ptr_equal(vpn_cache_find(c, "sess-1"), s);
    assert_ptr_equal(vpn_cache_find_nai(c, "alice@home"), s);
    assert_ptr_equal(vpn_cache_find_hoa(c, A("10.10.0.100")), s);
    assert_null(vpn_cache_find(c, "sess-2"));
    assert_null(vpn_cache_find_nai(c, "bob@home"));
    assert_int_equal(s->n_profiles, 2);
    assert_memory_equal(&s->profiles[1].key_up, &p[1].key_up, sizeof(p[1].key_up));
    assert_true(vpn_cache_take_updated(s));
    assert_false(vpn_cache_take_updated(s));

    /* replace: delete-then-set, new NAI/HoA re-indexed */
    struct vpn_session *s2 = vpn_cache_set(c, "sess-1", "alice2@home", A("10.10.0.101"),
                                           A("203.0.113.11"), p, 1, 600, 1000, err, sizeof(err));
    assert_ptr_equal(s2, s);
    assert_int_equal(vpn_cache_count(c), 1);
    assert_int_equal(s->n_profiles, 1);
    assert_true(s->updated);
    assert_int_equal(s->expires, 1600);
    assert_null(vpn_cache_find_nai(c, "alice@home"));
    assert_null(vpn_cache_find_hoa(c, A("10.10.0.100")));
    assert_ptr_equal(vpn_cache_find_nai(c, "alice2@home"), s);
    assert_ptr_equal(vpn_cache_find_hoa(c, A("10.10.0.101")), s);

    /* an invalid profile changes nothing and says why */
    p[1].spi_up = 5;
    assert_null(vpn_cache_set(c, "sess-1", "x@y", A("10.10.0.102"), A("203.0.113.11"), p, 2, 600,
                              1000, err, sizeof(err)));
    assert_non_null(strstr(err, "profile 2: SPI up 5 is reserved"));
    assert_int_equal(s->n_profiles, 1);
    assert_ptr_equal(vpn_cache_find_nai(c, "alice2@home"), s);
    /* duplicate profile/leg */
    p[1] = p[0];
    assert_null(vpn_cache_set(c, "sess-9", NULL, A("0.0.0.0"), A("203.0.113.11"), p, 2, 600, 1000,
                              err, sizeof(err)));
    assert_non_null(strstr(err, "appears twice"));
    memset(&p[1], 0, sizeof(p[1]));
    assert_null(
        vpn_cache_set(c, "", NULL, A("0.0.0.0"), A("0.0.0.0"), NULL, 0, 1, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "session ID"));

    /* session without NAI/HoA; HoA learnt later (pool) */
    struct vpn_session *t = vpn_cache_set(c, "sess-2", NULL, A("0.0.0.0"), A("203.0.113.12"), NULL,
                                          0, 10, 1000, err, sizeof(err));
    assert_non_null(t);
    assert_null(vpn_cache_find_hoa(c, A("0.0.0.0")));
    vpn_cache_set_hoa(c, t, A("10.10.0.200"));
    assert_ptr_equal(vpn_cache_find_hoa(c, A("10.10.0.200")), t);
    vpn_cache_set_hoa(c, t, A("10.10.0.201"));
    assert_null(vpn_cache_find_hoa(c, A("10.10.0.200")));

    /* iteration in insertion order */
    assert_ptr_equal(vpn_cache_first(c), s);
    assert_ptr_equal(vpn_cache_next(s), t);
    assert_null(vpn_cache_next(t));

    assert_true(vpn_cache_remove_id(c, "sess-1"));
    assert_false(vpn_cache_remove_id(c, "sess-1"));
    assert_null(vpn_cache_find_nai(c, "alice2@home"));
    assert_int_equal(vpn_cache_count(c), 1);
    vpn_profile_clear(&p[0]);
    vpn_cache_free(c);
}

static void test_move_fa(void **st)
{
    (void)st;
    struct vpn_cache *c = vpn_cache_new();
    struct vpn_profile p[2];
    char err[VPN_ERR_MAX];
    /* the HA's cache of scenario 1: ha-gw (HA -> GW) and fa-ha (HA -> FA1) */
    mk(&p[0], 1, "192.0.2.1", "198.51.100.50");
    p[0].leg = VPN_LEG_HA_GW;
    p[0].gw_type = VPN_GW_STATIC;
    mk(&p[1], 1, "192.0.2.1", "203.0.113.10");
    p[1].leg = VPN_LEG_FA_HA;
    p[1].gw_type = VPN_GW_STATIC;
    struct vpn_session *s = vpn_cache_set(c, "s", "u@h", A("10.10.0.100"), A("203.0.113.10"), p, 2,
                                          300, 0, err, sizeof(err));
    assert_non_null(s);
    (void)vpn_cache_take_updated(s);
    /* seed [0056]: care-of address changed -> destination gateway rewritten */
    assert_int_equal(vpn_cache_move_fa(s, A("203.0.113.10"), A("203.0.113.20")), 1);
    assert_true(s->updated);
    assert_int_equal(s->profiles[1].dst_gw.s_addr, A("203.0.113.20").s_addr);
    assert_int_equal(s->profiles[0].dst_gw.s_addr, A("198.51.100.50").s_addr); /* GW kept */
    assert_int_equal(s->fa.s_addr, A("203.0.113.20").s_addr);
    (void)vpn_cache_take_updated(s);
    assert_int_equal(vpn_cache_move_fa(s, A("203.0.113.20"), A("203.0.113.20")), 0);
    assert_false(s->updated);
    /* AAAF/FA view (src GW = FA) is rewritten too (seed [0065]) */
    s->profiles[1].src_gw = A("203.0.113.20");
    s->profiles[1].dst_gw = A("192.0.2.1");
    assert_int_equal(vpn_cache_move_fa(s, A("203.0.113.20"), A("203.0.113.30")), 1);
    assert_int_equal(s->profiles[1].src_gw.s_addr, A("203.0.113.30").s_addr);
    vpn_profile_clear(&p[0]);
    vpn_profile_clear(&p[1]);
    vpn_cache_free(c);
}

static void count_cb(struct vpn_session *s, void *arg)
{
    (void)s;
    (*(int *)arg)++;
}

static void test_expire_and_json(void **st)
{
    (void)st;
    struct vpn_cache *c = vpn_cache_new();
    struct vpn_profile p;
    char err[VPN_ERR_MAX];
    mk(&p, 7, "198.51.100.1", "203.0.113.10");
    p.dscp_up = 46;
    p.dscp_down = 26;
    assert_non_null(vpn_cache_set(c, "a", "n\"ai", A("10.0.0.1"), A("203.0.113.10"), &p, 1, 100, 0,
                                  err, sizeof(err)));
    assert_non_null(vpn_cache_set(c, "b", NULL, A("10.0.0.2"), A("203.0.113.10"), NULL, 0, 50, 0,
                                  err, sizeof(err)));
    assert_non_null(vpn_cache_set(c, "c", NULL, A("10.0.0.3"), A("203.0.113.10"), &p, 1, 200, 0,
                                  err, sizeof(err)));
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    vpn_cache_dump_json(c, 40, f);
    fclose(f);
    assert_non_null(strstr(buf, "{\"session\":\"a\",\"nai\":\"n\\\"ai\",\"hoa\":\"10.0.0.1\","
                                "\"fa\":\"203.0.113.10\",\"profile\":7,\"src\":\"10.10.0.100/32\","
                                "\"dst\":\"172.16.50.0/24\",\"dscp_up\":\"EF\",\"dscp_down\":"
                                "\"AF31\",\"sec\":\"esp\",\"src_gw\":\"198.51.100.1\",\"dst_gw\":"
                                "\"203.0.113.10\",\"gw_type\":\"dynamic\",\"leg\":\"fa-pcn\","
                                "\"spi_up\":1007,\"spi_down\":2007,\"lifetime_left\":60}"));
    assert_non_null(strstr(buf, "\"session\":\"b\",\"nai\":null,\"hoa\":\"10.0.0.2\",\"fa\":"
                                "\"203.0.113.10\",\"profile\":null,\"lifetime_left\":10}"));
    char hex[5];
    snprintf(hex, sizeof(hex), "%02x%02x", p.key_up.enc[0], p.key_up.enc[1]);
    assert_null(strstr(buf, "key"));
    assert_int_equal(buf[0], '[');
    assert_int_equal(buf[len - 1], ']');
    free(buf);

    int n = 0;
    assert_int_equal(vpn_cache_expire(c, 50, count_cb, &n), 1);
    assert_int_equal(n, 1);
    assert_null(vpn_cache_find(c, "b"));
    assert_int_equal(vpn_cache_expire(c, 99, NULL, NULL), 0);
    struct vpn_session *a = vpn_cache_find(c, "a");
    vpn_cache_refresh(a, 500, 99);
    assert_int_equal(vpn_cache_expire(c, 250, count_cb, &n), 1);
    assert_non_null(vpn_cache_find(c, "a"));
    assert_null(vpn_cache_find(c, "c"));
    assert_int_equal(vpn_cache_count(c), 1);
    vpn_profile_clear(&p);
    vpn_cache_free(c);
}

#define MANY 100000

static void test_100k(void **st)
{
    (void)st;
    struct vpn_cache *c = vpn_cache_new();
    struct vpn_profile p;
    char err[VPN_ERR_MAX], id[32], nai[48];
    mk(&p, 1, "198.51.100.1", "203.0.113.10");
    for (unsigned i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "fa1.visited;%u;%u", i * 7919u, i);
        snprintf(nai, sizeof(nai), "user%u@home.example", i);
        struct in_addr hoa = {htonl(0x0a000000u + i + 1)};
        assert_non_null(
            vpn_cache_set(c, id, nai, hoa, A("203.0.113.10"), &p, 1, 3600, 0, err, sizeof(err)));
    }
    assert_int_equal(vpn_cache_count(c), MANY);
    for (unsigned i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "fa1.visited;%u;%u", i * 7919u, i);
        snprintf(nai, sizeof(nai), "user%u@home.example", i);
        struct in_addr hoa = {htonl(0x0a000000u + i + 1)};
        struct vpn_session *s = vpn_cache_find(c, id);
        assert_non_null(s);
        assert_ptr_equal(vpn_cache_find_nai(c, nai), s);
        assert_ptr_equal(vpn_cache_find_hoa(c, hoa), s);
    }
    for (unsigned i = 0; i < MANY; i += 2) {
        snprintf(id, sizeof(id), "fa1.visited;%u;%u", i * 7919u, i);
        assert_true(vpn_cache_remove_id(c, id));
    }
    assert_int_equal(vpn_cache_count(c), MANY / 2);
    for (unsigned i = 0; i < MANY; i++) {
        snprintf(nai, sizeof(nai), "user%u@home.example", i);
        assert_true((vpn_cache_find_nai(c, nai) != NULL) == (i % 2 == 1));
    }
    assert_int_equal(vpn_cache_expire(c, 3600, NULL, NULL), MANY / 2);
    assert_int_equal(vpn_cache_count(c), 0);
    vpn_profile_clear(&p);
    vpn_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vector), cmocka_unit_test(test_set_find_replace),
        cmocka_unit_test(test_move_fa),        cmocka_unit_test(test_expire_and_json),
        cmocka_unit_test(test_100k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
