/* Unit tests: vpncache/cngw, the CN-GW table (seed [0034], Fig. 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "cngw.h"

static struct in_addr A(const char *s) {
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static void
add(struct cngw_table *t, const char *pfx, const char *gw, enum vpn_gw_type ty)
{
    struct cngw_entry e;
    char err[VPN_ERR_MAX];
    assert_true(vpn_prefix_parse(pfx, &e.prefix));
    e.gw = A(gw);
    e.type = ty;
    assert_true(cngw_add(t, &e, err, sizeof(err)));
}

static const char *gw_of(const struct cngw_table *t, const char *addr)
{
    static char b[INET_ADDRSTRLEN];
    const struct cngw_entry *e = cngw_lookup(t, A(addr));
    if (!e)
        return "none";
    return inet_ntop(AF_INET, &e->gw, b, sizeof(b));
}

static void test_lpm_edges(void **st)
{
    (void)st;
    struct cngw_table *t = cngw_new();
    assert_string_equal(gw_of(t, "1.2.3.4"), "none");
    add(t, "172.16.0.0/12", "198.51.100.1", VPN_GW_STATIC);
    add(t, "172.16.50.0/24", "198.51.100.2", VPN_GW_DYNAMIC);
    add(t, "172.16.50.7/32", "198.51.100.3", VPN_GW_STATIC);
    assert_string_equal(gw_of(t, "172.16.50.7"), "198.51.100.3");
    assert_string_equal(gw_of(t, "172.16.50.8"), "198.51.100.2");
    assert_string_equal(gw_of(t, "172.17.0.1"), "198.51.100.1");
    assert_string_equal(gw_of(t, "172.32.0.1"), "none");
    assert_string_equal(gw_of(t, "0.0.0.0"), "none");
    add(t, "0.0.0.0/0", "198.51.100.9", VPN_GW_DYNAMIC);
    assert_string_equal(gw_of(t, "8.8.8.8"), "198.51.100.9");
    assert_string_equal(gw_of(t, "255.255.255.255"), "198.51.100.9");
    assert_int_equal(cngw_count(t), 4);
    /* replace an exact prefix */
    add(t, "172.16.50.0/24", "198.51.100.4", VPN_GW_STATIC);
    assert_int_equal(cngw_count(t), 4);
    assert_int_equal(cngw_lookup(t, A("172.16.50.1"))->type, VPN_GW_STATIC);
    /* prefix lookups: the longest entry that covers the whole prefix */
    struct vpn_prefix p;
    assert_true(vpn_prefix_parse("172.16.50.0/25", &p));
    assert_int_equal(cngw_lookup_prefix(t, p)->gw.s_addr, A("198.51.100.4").s_addr);
    assert_true(vpn_prefix_parse("172.16.0.0/16", &p));
    assert_int_equal(cngw_lookup_prefix(t, p)->gw.s_addr, A("198.51.100.1").s_addr);
    assert_true(vpn_prefix_parse("172.0.0.0/8", &p));
    assert_int_equal(cngw_lookup_prefix(t, p)->gw.s_addr, A("198.51.100.9").s_addr);
    /* remove: falls back to the shorter prefix; unknown prefixes stay false */
    assert_true(vpn_prefix_parse("172.16.50.7/32", &p));
    assert_non_null(cngw_get(t, p));
    assert_true(cngw_remove(t, p));
    assert_false(cngw_remove(t, p));
    assert_null(cngw_get(t, p));
    assert_string_equal(gw_of(t, "172.16.50.7"), "198.51.100.4");
    assert_true(vpn_prefix_parse("0.0.0.0/0", &p));
    assert_true(cngw_remove(t, p));
    assert_string_equal(gw_of(t, "8.8.8.8"), "none");
    assert_true(vpn_prefix_parse("172.16.0.0/13", &p));
    assert_false(cngw_remove(t, p)); /* not an entry, only on the path */
    assert_string_equal(gw_of(t, "172.17.0.1"), "198.51.100.1");
    assert_int_equal(cngw_count(t), 2);
    cngw_free(t);
}

static void test_rejects(void **st)
{
    (void)st;
    struct cngw_table *t = cngw_new();
    struct cngw_entry e = {{A("10.0.0.1"), 24}, A("192.0.2.1"), VPN_GW_STATIC};
    char err[VPN_ERR_MAX];
    assert_false(cngw_add(t, &e, err, sizeof(err)));
    assert_non_null(strstr(err, "host bits"));
    e.prefix.addr = A("10.0.0.0");
    e.prefix.len = 33;
    assert_false(cngw_add(t, &e, err, sizeof(err)));
    assert_non_null(strstr(err, "> 32"));
    e.prefix.len = 24;
    e.gw.s_addr = 0;
    assert_false(cngw_add(t, &e, err, sizeof(err)));
    assert_non_null(strstr(err, "gateway 0.0.0.0"));
    e.gw = A("192.0.2.1");
    e.type = (enum vpn_gw_type)7;
    assert_false(cngw_add(t, &e, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown gateway type"));
    assert_int_equal(cngw_count(t), 0);
    cngw_free(t);
}

/* Thousands of random entries against a brute-force reference. */
#define N 4000
static struct cngw_entry ref[N];

static void visit(const struct cngw_entry *e, void *arg)
{
    (void)e;
    (*(unsigned *)arg)++;
}

static void test_random_vs_bruteforce(void **st)
{
    (void)st;
    struct cngw_table *t = cngw_new();
    char err[VPN_ERR_MAX];
    srand(42);
    unsigned n = 0;
    for (unsigned i = 0; i < N; i++) {
        unsigned len = (unsigned)rand() % 33;
        uint32_t a = ((uint32_t)rand() << 16 ^ (uint32_t)rand()) & 0x0fffffffu;
        a &= len ? ~0u << (32 - len) : 0;
        struct cngw_entry e = {
            {{htonl(a)}, (uint8_t)len}, {htonl(0xc0000200u + i + 1)}, (enum vpn_gw_type)(i & 1)};
        bool dup = false;
        for (unsigned j = 0; j < n; j++)
            if (ref[j].prefix.len == len && ref[j].prefix.addr.s_addr == e.prefix.addr.s_addr) {
                ref[j] = e;
                dup = true;
            }
        if (!dup)
            ref[n++] = e;
        assert_true(cngw_add(t, &e, err, sizeof(err)));
    }
    assert_int_equal(cngw_count(t), n);
    unsigned seen = 0;
    cngw_foreach(t, visit, &seen);
    assert_int_equal(seen, n);
    for (unsigned k = 0; k < 20000; k++) {
        uint32_t a = ((uint32_t)rand() << 16 ^ (uint32_t)rand()) & 0x0fffffffu;
        if (k % 4 == 0 && n) /* aim at entries too */
            a = ntohl(ref[(unsigned)rand() % n].prefix.addr.s_addr) | ((uint32_t)rand() & 0xff);
        const struct cngw_entry *best = NULL;
        for (unsigned j = 0; j < n; j++) {
            unsigned l = ref[j].prefix.len;
            uint32_t m = l ? ~0u << (32 - l) : 0;
            if ((a & m) == ntohl(ref[j].prefix.addr.s_addr) && (!best || l > best->prefix.len))
                best = &ref[j];
        }
        const struct cngw_entry *got = cngw_lookup(t, (struct in_addr){htonl(a)});
        if (!best) {
            assert_null(got);
        } else {
            assert_non_null(got);
            assert_int_equal(got->gw.s_addr, best->gw.s_addr);
        }
    }
    for (unsigned j = 0; j < n; j++)
        assert_true(cngw_remove(t, ref[j].prefix));
    assert_int_equal(cngw_count(t), 0);
    cngw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lpm_edges),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_random_vs_bruteforce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
