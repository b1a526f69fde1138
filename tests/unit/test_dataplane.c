/* Unit tests of the dataplane shadow over the recorder backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "dp_backend.h"

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static const struct in_addr NOGW = {0};

static int setup(void **state)
{
    struct dataplane *dp = dp_new_recorder();
    if (!dp)
        return -1;
    *state = dp;
    return 0;
}

static int teardown(void **state)
{
    struct dataplane *dp = *state;
    dp_flush(dp);
    assert_int_equal(dp_recorder_kernel_count(dp), 0);
    dp_free(dp);
    return 0;
}

static void test_tunnel_refcount(void **state)
{
    struct dataplane *dp = *state;
    char n1[DP_IFNAMSIZ], n2[DP_IFNAMSIZ];
    int i1 = dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), n1);
    assert_true(i1 > 0);
    assert_string_equal(n1, "mipc000020b");
    int i2 = dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), n2);
    assert_int_equal(i1, i2);
    assert_string_equal(n2, n1);
    assert_string_equal(dp_recorder_log(dp), "tunnel_add mipc000020b 192.0.2.1>192.0.2.11\n");
    assert_int_equal(dp_count(dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_obj_at(dp, 0)->refs, 2);

    /* Same remote from another local address: the name is taken. */
    assert_int_equal(dp_tunnel_get(dp, ip("192.0.2.2"), ip("192.0.2.11"), NULL), -EEXIST);
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.2"), ip("192.0.2.11")), -ENOENT);

    dp_recorder_clear_log(dp);
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    assert_int_equal(dp_count(dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_obj_at(dp, 0)->refs, 1);
    assert_string_equal(dp_recorder_log(dp), "");
    assert_int_equal(dp_recorder_check(dp), 0);

    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    assert_int_equal(dp_count(dp, -1), 0);
    assert_string_equal(dp_recorder_log(dp), "tunnel_del mipc000020b\n");
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), -ENOENT);
    assert_int_equal(dp_recorder_check(dp), 0);
}

static void test_shared_objects(void **state)
{
    struct dataplane *dp = *state;
    char tun[DP_IFNAMSIZ];
    /* Two bindings behind the same FA. */
    for (int i = 0; i < 2; i++) {
        assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
        assert_int_equal(dp_route_get(dp, ip(i ? "10.10.0.101" : "10.10.0.100"), 32, tun, NOGW, 0),
                         0);
        assert_int_equal(dp_proxy_arp_get(dp, "home0", ip(i ? "10.10.0.101" : "10.10.0.100")), 0);
        assert_int_equal(dp_rule_get(dp, ip("10.10.0.0"), 24, "home0", 100, 1000), 0);
    }
    assert_int_equal(dp_count(dp, -1), 6);
    assert_int_equal(dp_count(dp, DP_OBJ_TUNNEL), 1);
    assert_int_equal(dp_count(dp, DP_OBJ_ROUTE), 2);
    assert_int_equal(dp_count(dp, DP_OBJ_RULE), 1);
    assert_int_equal(dp_count(dp, DP_OBJ_PROXY_ARP), 2);
    assert_int_equal(dp_count(dp, 7), 0);
    assert_string_equal(dp_recorder_log(dp),
                        "tunnel_add mipc000020b 192.0.2.1>192.0.2.11\n"
                        "route_add 10.10.0.100/32 dev mipc000020b table 0\n"
                        "proxy_arp_add 10.10.0.100 dev home0\n"
                        "rule_add from 10.10.0.0/24 iif home0 table 100 prio 1000\n"
                        "route_add 10.10.0.101/32 dev mipc000020b table 0\n"
                        "proxy_arp_add 10.10.0.101 dev home0\n");
    assert_int_equal(dp_recorder_check(dp), 0);

    /* Deregister the first binding: only its own objects go. */
    dp_recorder_clear_log(dp);
    assert_int_equal(dp_proxy_arp_put(dp, "home0", ip("10.10.0.100")), 0);
    assert_int_equal(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_rule_put(dp, ip("10.10.0.0"), 24, "home0", 100, 1000), 0);
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    assert_string_equal(dp_recorder_log(dp), "proxy_arp_del 10.10.0.100 dev home0\n"
                                             "route_del 10.10.0.100/32 dev mipc000020b table 0\n");
    assert_int_equal(dp_count(dp, -1), 4);
    assert_int_equal(dp_recorder_check(dp), 0);

    /* Wrong identity does not match (other gateway, table, priority). */
    assert_int_equal(dp_route_put(dp, ip("10.10.0.101"), 32, tun, ip("1.2.3.4"), 0), -ENOENT);
    assert_int_equal(dp_route_put(dp, ip("10.10.0.101"), 32, tun, NOGW, 5), -ENOENT);
    assert_int_equal(dp_rule_put(dp, ip("10.10.0.0"), 24, "home0", 100, 1001), -ENOENT);
    assert_int_equal(dp_rule_put(dp, ip("10.10.0.0"), 24, NULL, 100, 1000), -ENOENT);
    assert_int_equal(dp_proxy_arp_put(dp, "home1", ip("10.10.0.101")), -ENOENT);

    /* Second binding goes: the tunnel and rule follow. */
    dp_recorder_clear_log(dp);
    assert_int_equal(dp_proxy_arp_put(dp, "home0", ip("10.10.0.101")), 0);
    assert_int_equal(dp_route_put(dp, ip("10.10.0.101"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_rule_put(dp, ip("10.10.0.0"), 24, "home0", 100, 1000), 0);
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    assert_string_equal(dp_recorder_log(dp),
                        "proxy_arp_del 10.10.0.101 dev home0\n"
                        "route_del 10.10.0.101/32 dev mipc000020b table 0\n"
                        "rule_del from 10.10.0.0/24 iif home0 table 100 prio 1000\n"
                        "tunnel_del mipc000020b\n");
    assert_int_equal(dp_count(dp, -1), 0);
    assert_int_equal(dp_recorder_kernel_count(dp), 0);
}

static void test_flush_reverse_order(void **state)
{
    struct dataplane *dp = *state;
    char tun[DP_IFNAMSIZ];
    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0); /* refs 2 */
    assert_int_equal(dp_route_get(dp, ip("172.16.0.0"), 16, "eth1", ip("192.0.2.254"), 7), 0);
    assert_int_equal(dp_rule_get(dp, ip("10.10.0.100"), 32, NULL, 7, 500), 0);
    assert_int_equal(dp_proxy_arp_get(dp, "home0", ip("10.10.0.100")), 0);
    assert_int_equal(dp_recorder_check(dp), 0);

    dp_recorder_clear_log(dp);
    dp_flush(dp);
    assert_string_equal(dp_recorder_log(dp),
                        "proxy_arp_del 10.10.0.100 dev home0\n"
                        "rule_del from 10.10.0.100/32 table 7 prio 500\n"
                        "route_del 172.16.0.0/16 dev eth1 via 192.0.2.254 table 7\n"
                        "route_del 10.10.0.100/32 dev mipc000020b table 0\n"
                        "tunnel_del mipc000020b\n");
    assert_int_equal(dp_count(dp, -1), 0);
    for (int k = DP_OBJ_TUNNEL; k <= DP_OBJ_PROXY_ARP; k++)
        assert_int_equal(dp_count(dp, k), 0);
    assert_null(dp_obj_at(dp, 0));
    assert_int_equal(dp_recorder_kernel_count(dp), 0);

    /* Usable again after a flush. */
    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    assert_int_equal(dp_count(dp, -1), 1);
    assert_int_equal(dp_recorder_check(dp), 0);
}

static void test_failure_leaves_shadow(void **state)
{
    struct dataplane *dp = *state;
    char tun[DP_IFNAMSIZ] = "";

    dp_recorder_fail_next(dp, EPERM);
    assert_int_equal(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun), -EPERM);
    assert_string_equal(tun, "");
    assert_int_equal(dp_count(dp, -1), 0);
    assert_string_equal(dp_recorder_log(dp), "tunnel_add mipc000020b 192.0.2.1>192.0.2.11 -> -1\n");

    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    dp_recorder_fail_next(dp, -EIO); /* sign does not matter */
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), -EIO);
    dp_recorder_fail_next(dp, ENOMEM);
    assert_int_equal(dp_rule_get(dp, ip("10.10.0.100"), 32, NULL, 7, 500), -ENOMEM);
    dp_recorder_fail_next(dp, ENODEV);
    assert_int_equal(dp_proxy_arp_get(dp, "home0", ip("10.10.0.100")), -ENODEV);
    assert_int_equal(dp_count(dp, -1), 1);
    assert_int_equal(dp_recorder_check(dp), 0);

    /* Failure on the last put keeps the object (still in the kernel). */
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    dp_recorder_fail_next(dp, EBUSY);
    assert_int_equal(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), -EBUSY);
    assert_int_equal(dp_count(dp, DP_OBJ_ROUTE), 1);
    assert_int_equal(dp_obj_at(dp, 1)->refs, 1);
    assert_int_equal(dp_recorder_check(dp), 0);
    assert_int_equal(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_count(dp, DP_OBJ_ROUTE), 0);

    /* A put that is not the last never reaches the backend. */
    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    dp_recorder_fail_next(dp, EIO);
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    dp_recorder_fail_next(dp, 0);
    assert_int_equal(dp_recorder_check(dp), 0);

    /* One-shot actions report failures too. */
    dp_recorder_fail_next(dp, ENETDOWN);
    assert_int_equal(dp_garp(dp, "home0", ip("10.10.0.100")), -ENETDOWN);
    assert_int_equal(dp_garp(dp, "home0", ip("10.10.0.100")), 0);
    dp_recorder_fail_next(dp, EACCES);
    assert_int_equal(dp_sysctl(dp, "home0", "send_redirects", "0"), -EACCES);
}

static void test_validation(void **state)
{
    struct dataplane *dp = *state;
    assert_int_equal(dp_route_get(dp, ip("10.10.0.1"), 24, "eth0", NOGW, 0), -EINVAL);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.0"), 33, "eth0", NOGW, 0), -EINVAL);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.0"), 24, "", NOGW, 0), -EINVAL);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.0"), 24, NULL, NOGW, 0), -EINVAL);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.0"), 24, "abcdefghijklmnop", NOGW, 0), -EINVAL);
    assert_int_equal(dp_rule_get(dp, ip("10.10.0.1"), 16, NULL, 5, 5), -EINVAL);
    assert_int_equal(dp_proxy_arp_get(dp, NULL, ip("10.10.0.1")), -EINVAL);
    assert_int_equal(dp_sysctl(dp, "../x", "forwarding", "1"), -EINVAL);
    assert_int_equal(dp_sysctl(dp, "..", "forwarding", "1"), -EINVAL);
    assert_int_equal(dp_sysctl(dp, "eth0", "a/b", "1"), -EINVAL);
    assert_int_equal(dp_garp(dp, "", ip("10.10.0.1")), -EINVAL);
    assert_int_equal(dp_count(dp, -1), 0);
    assert_string_equal(dp_recorder_log(dp), "");
    /* Default route and "from all" rule are fine. */
    assert_int_equal(dp_route_get(dp, ip("0.0.0.0"), 0, "eth0", ip("192.0.2.254"), 9), 0);
    assert_int_equal(dp_rule_get(dp, ip("0.0.0.0"), 0, "eth1", 9, 100), 0);
    assert_int_equal(dp_count(dp, -1), 2);
}

static void test_oneshots_and_ifindex(void **state)
{
    struct dataplane *dp = *state;
    assert_int_equal(dp_garp(dp, "home0", ip("10.10.0.100")), 0);
    assert_int_equal(dp_sysctl(dp, "home0", "send_redirects", "0"), 0);
    assert_int_equal(dp_sysctl(dp, "all", "proxy_arp", "1"), 0);
    assert_string_equal(dp_recorder_log(dp), "garp home0 10.10.0.100\n"
                                             "sysctl home0 send_redirects 0\n"
                                             "sysctl all proxy_arp 1\n");
    int a = dp_ifindex(dp, "eth0"), b = dp_ifindex(dp, "eth1");
    assert_true(a > 0 && b > 0 && a != b);
    assert_int_equal(dp_ifindex(dp, "eth0"), a);
    assert_int_equal(dp_count(dp, -1), 0);
    /* Objects record the resolved index of their device. */
    assert_int_equal(dp_proxy_arp_get(dp, "eth1", ip("10.10.0.100")), 0);
    assert_int_equal(dp_obj_at(dp, 0)->ifindex, b);
}

static char *dump(struct dataplane *dp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    dp_dump_json(dp, f);
    fclose(f);
    return buf;
}

static void test_json(void **state)
{
    struct dataplane *dp = *state;
    char tun[DP_IFNAMSIZ];
    char *s = dump(dp);
    assert_string_equal(s, "[]");
    free(s);

    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_route_get(dp, ip("172.16.0.0"), 16, "eth1", ip("192.0.2.254"), 7), 0);
    assert_int_equal(dp_rule_get(dp, ip("10.10.0.100"), 32, NULL, 7, 500), 0);
    assert_int_equal(dp_rule_get(dp, ip("10.10.0.0"), 24, "home0", 8, 501), 0);
    assert_int_equal(dp_proxy_arp_get(dp, "home0", ip("10.10.0.100")), 0);
    s = dump(dp);
    assert_string_equal(
        s, "["
           "{\"kind\":\"tunnel\",\"name\":\"mipc000020b\",\"local\":\"192.0.2.1\","
           "\"remote\":\"192.0.2.11\",\"refs\":1},"
           "{\"kind\":\"route\",\"dst\":\"10.10.0.100/32\",\"dev\":\"mipc000020b\","
           "\"gw\":null,\"table\":0,\"refs\":2},"
           "{\"kind\":\"route\",\"dst\":\"172.16.0.0/16\",\"dev\":\"eth1\","
           "\"gw\":\"192.0.2.254\",\"table\":7,\"refs\":1},"
           "{\"kind\":\"rule\",\"src\":\"10.10.0.100/32\",\"dst\":\"0.0.0.0/"
           "0\",\"iif\":null,\"table\":7,"
           "\"priority\":500,\"refs\":1},"
           "{\"kind\":\"rule\",\"src\":\"10.10.0.0/24\",\"dst\":\"0.0.0.0/"
           "0\",\"iif\":\"home0\",\"table\":8,"
           "\"priority\":501,\"refs\":1},"
           "{\"kind\":\"proxy_arp\",\"addr\":\"10.10.0.100\",\"dev\":\"home0\",\"refs\":1}"
           "]");
    free(s);
}

static void test_obj_at_order(void **state)
{
    struct dataplane *dp = *state;
    char tun[DP_IFNAMSIZ];
    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    assert_int_equal(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_proxy_arp_get(dp, "home0", ip("10.10.0.100")), 0);
    assert_int_equal(dp_obj_at(dp, 2)->kind, DP_OBJ_PROXY_ARP);
    assert_int_equal(dp_obj_at(dp, 0)->kind, DP_OBJ_TUNNEL); /* backwards after forwards */
    assert_int_equal(dp_obj_at(dp, 1)->kind, DP_OBJ_ROUTE);
    assert_null(dp_obj_at(dp, 3));
    /* Removing from the middle keeps the order of the others. */
    assert_int_equal(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    assert_int_equal(dp_obj_at(dp, 0)->kind, DP_OBJ_TUNNEL);
    assert_int_equal(dp_obj_at(dp, 1)->kind, DP_OBJ_PROXY_ARP);
    assert_null(dp_obj_at(dp, 2));
}

#define MANY 100000u

static struct in_addr nth(unsigned i)
{
    return (struct in_addr){htonl(0x0a000000u + i)};
}

static void test_many_routes(void **state)
{
    struct dataplane *dp = *state;
    char tun[DP_IFNAMSIZ];
    assert_true(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    for (unsigned i = 0; i < MANY; i++)
        assert_int_equal(dp_route_get(dp, nth(i), 32, tun, NOGW, i % 3), 0);
    /* Second reference on every other one. */
    for (unsigned i = 0; i < MANY; i += 2)
        assert_int_equal(dp_route_get(dp, nth(i), 32, tun, NOGW, i % 3), 0);
    assert_int_equal(dp_count(dp, DP_OBJ_ROUTE), MANY);
    assert_int_equal(dp_count(dp, -1), MANY + 1);
    assert_int_equal(dp_recorder_check(dp), 0);
    /* In-order iteration. */
    for (unsigned i = 0; i < MANY; i++) {
        const struct dp_obj *o = dp_obj_at(dp, i + 1);
        assert_int_equal(o->a.s_addr, nth(i).s_addr);
        assert_int_equal(o->refs, i % 2 ? 1 : 2);
    }
    dp_recorder_clear_log(dp);
    /* Remove in a scattered order. */
    for (unsigned k = 0; k < MANY; k++) {
        unsigned i = (k * 7919u) % MANY;
        unsigned n = i % 2 ? 1 : 2;
        for (unsigned j = 0; j < n; j++)
            assert_int_equal(dp_route_put(dp, nth(i), 32, tun, NOGW, i % 3), 0);
    }
    assert_int_equal(dp_count(dp, DP_OBJ_ROUTE), 0);
    assert_int_equal(dp_count(dp, -1), 1);
    assert_int_equal(dp_recorder_kernel_count(dp), 1);
    assert_int_equal(dp_route_put(dp, nth(5), 32, tun, NOGW, 2), -ENOENT);
    assert_int_equal(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    assert_int_equal(dp_count(dp, -1), 0);
    assert_int_equal(dp_recorder_kernel_count(dp), 0);
}

static void test_recorder_check_detects_drift(void **state)
{
    struct dataplane *dp = *state;
    assert_int_equal(dp_proxy_arp_get(dp, "home0", ip("10.10.0.100")), 0);
    assert_int_equal(dp_recorder_check(dp), 0);
    /* Not a recorder. */
    assert_int_equal(dp_recorder_check(NULL), -EINVAL);
}

static struct dp_mark mk(const char *src, uint8_t sp, const char *dst, uint8_t dpl, uint8_t dscp)
{
    struct dp_mark m = {
        .src = ip(src), .dst = ip(dst), .src_plen = sp, .dst_plen = dpl, .dscp = dscp};
    return m;
}

/* DSCP marks (DESIGN §8): one class (set + rule) per DSCP value in use,
 * created with its first mark and removed after its last; marks are
 * reference-counted set elements. */
static void test_marks(void **state)
{
    struct dataplane *dp = *state;
    struct dp_mark ef = mk("10.10.0.100", 32, "172.16.50.0", 24, 46);
    struct dp_mark ef2 = mk("10.10.0.101", 32, "172.16.50.0", 24, 46);
    struct dp_mark af = mk("172.16.50.0", 24, "10.10.0.100", 32, 34);
    assert_int_equal(dp_mark_get(dp, &ef), 0);
    assert_int_equal(dp_mark_get(dp, &ef), 0); /* shared: one element */
    assert_int_equal(dp_mark_get(dp, &ef2), 0);
    assert_int_equal(dp_mark_get(dp, &af), 0);
    assert_string_equal(dp_recorder_log(dp), "mark_class_add mipd_dscp_46 dscp 46\n"
                                             "mark_add 10.10.0.100/32>172.16.50.0/24 dscp 46\n"
                                             "mark_add 10.10.0.101/32>172.16.50.0/24 dscp 46\n"
                                             "mark_class_add mipd_dscp_34 dscp 34\n"
                                             "mark_add 172.16.50.0/24>10.10.0.100/32 dscp 34\n");
    assert_int_equal(dp_count(dp, DP_OBJ_MARK_CLASS), 2);
    assert_int_equal(dp_count(dp, DP_OBJ_MARK), 3);
    assert_int_equal(dp_recorder_check(dp), 0);
    char *js = NULL;
    size_t jl = 0;
    FILE *f = open_memstream(&js, &jl);
    dp_dump_json(dp, f);
    fclose(f);
    assert_string_equal(
        js, "[{\"kind\":\"dscp_class\",\"dscp\":46,\"set\":\"mipd_dscp_46\",\"refs\":2},"
            "{\"kind\":\"dscp_mark\",\"src\":\"10.10.0.100/32\",\"dst\":\"172.16.50.0/24\","
            "\"dscp\":46,\"set\":\"mipd_dscp_46\",\"refs\":2},"
            "{\"kind\":\"dscp_mark\",\"src\":\"10.10.0.101/32\",\"dst\":\"172.16.50.0/24\","
            "\"dscp\":46,\"set\":\"mipd_dscp_46\",\"refs\":1},"
            "{\"kind\":\"dscp_class\",\"dscp\":34,\"set\":\"mipd_dscp_34\",\"refs\":1},"
            "{\"kind\":\"dscp_mark\",\"src\":\"172.16.50.0/24\",\"dst\":\"10.10.0.100/32\","
            "\"dscp\":34,\"set\":\"mipd_dscp_34\",\"refs\":1}]");
    free(js);
    dp_recorder_clear_log(dp);
    /* The class goes with its last mark, after it. */
    assert_int_equal(dp_mark_put(dp, &ef), 0);
    assert_string_equal(dp_recorder_log(dp), "");
    assert_int_equal(dp_mark_put(dp, &ef), 0);
    assert_int_equal(dp_mark_put(dp, &ef2), 0);
    assert_string_equal(dp_recorder_log(dp), "mark_del 10.10.0.100/32>172.16.50.0/24 dscp 46\n"
                                             "mark_del 10.10.0.101/32>172.16.50.0/24 dscp 46\n"
                                             "mark_class_del mipd_dscp_46 dscp 46\n");
    assert_int_equal(dp_mark_put(dp, &ef), -ENOENT);
    /* Validation: DSCP 1..63, prefixes without host bits. */
    struct dp_mark bad = mk("10.10.0.100", 24, "172.16.50.0", 24, 46);
    assert_int_equal(dp_mark_get(dp, &bad), -EINVAL);
    bad = mk("10.10.0.100", 32, "172.16.50.0", 24, 0);
    assert_int_equal(dp_mark_get(dp, &bad), -EINVAL);
    bad.dscp = 64;
    assert_int_equal(dp_mark_get(dp, &bad), -EINVAL);
    /* A failed element leaves no class behind. */
    dp_recorder_clear_log(dp);
    struct dp_mark cs1 = mk("10.10.0.100", 32, "0.0.0.0", 0, 8);
    dp_recorder_fail_next(dp, -ENOMEM);
    assert_int_equal(dp_mark_get(dp, &cs1), -ENOMEM);
    assert_int_equal(dp_count(dp, DP_OBJ_MARK_CLASS), 1);
    assert_int_equal(dp_recorder_check(dp), 0);
    dp_recorder_fail_next(dp, 0);
    assert_int_equal(dp_mark_get(dp, &cs1), 0);
    assert_int_equal(dp_recorder_check(dp), 0);
    /* flush (teardown) removes marks before their classes */
}

/* A batch: elements sent together; one op per object per batch. */
static void test_mark_batch(void **state)
{
    struct dataplane *dp = *state;
    enum { N = 100 };
    struct dp_mark m[N];
    struct dp_mark_op ops[N + 1];
    for (unsigned i = 0; i < N; i++) {
        char a[16];
        snprintf(a, sizeof(a), "10.10.%u.%u", i / 200, i % 200 + 1);
        m[i] = mk(a, 32, "172.16.50.0", 24, i % 2 ? 46 : 34);
        ops[i] = (struct dp_mark_op){.op = DP_MARK_GET, .mark = &m[i]};
    }
    assert_int_equal(dp_mark_many(dp, ops, N), 0);
    assert_non_null(strstr(dp_recorder_log(dp), "mark_batch 100\n"));
    assert_int_equal(dp_count(dp, DP_OBJ_MARK_CLASS), 2);
    assert_int_equal(dp_count(dp, DP_OBJ_MARK), N);
    /* Put then get of the same mark in one batch: the get is refused. */
    struct dp_mark_op two[] = {{.op = DP_MARK_PUT, .mark = &m[0]},
                               {.op = DP_MARK_GET, .mark = &m[0]}};
    assert_int_equal(dp_mark_many(dp, two, 2), 1);
    assert_int_equal(two[0].result, 0);
    assert_int_equal(two[1].result, -EBUSY);
    for (unsigned i = 1; i < N; i++)
        ops[i - 1] = (struct dp_mark_op){.op = DP_MARK_PUT, .mark = &m[i]};
    dp_recorder_clear_log(dp);
    assert_int_equal(dp_mark_many(dp, ops, N - 1), 0);
    assert_int_equal(dp_count(dp, -1), 0);
    const char *log = dp_recorder_log(dp);
    assert_non_null(strstr(log, "mark_batch 99\n"));
    /* both classes removed, after the elements */
    const char *c34 = strstr(log, "mark_class_del mipd_dscp_34");
    const char *c46 = strstr(log, "mark_class_del mipd_dscp_46");
    assert_non_null(c34);
    assert_non_null(c46);
    assert_null(strstr(c34 < c46 ? c34 : c46, "mark_del"));
}

/* Rules that select the destination too (encapsulation-only paths). */
static void test_rule_with_destination(void **state)
{
    struct dataplane *dp = *state;
    assert_int_equal(
        dp_rule2_get(dp, ip("10.10.0.100"), 32, ip("172.16.60.10"), 32, NULL, 10000, 900), 0);
    /* Another destination: another rule. */
    assert_int_equal(
        dp_rule2_get(dp, ip("10.10.0.100"), 32, ip("172.16.61.0"), 24, NULL, 10000, 900), 0);
    assert_int_equal(dp_rule_get(dp, ip("10.10.0.100"), 32, NULL, 10000, 900), 0);
    assert_int_equal(dp_count(dp, DP_OBJ_RULE), 3);
    assert_non_null(
        strstr(dp_recorder_log(dp),
               "rule_add from 10.10.0.100/32 to 172.16.60.10/32 table 10000 prio 900\n"));
    assert_non_null(
        strstr(dp_recorder_log(dp), "rule_add from 10.10.0.100/32 table 10000 prio 900\n"));
    assert_int_equal(dp_rule2_get(dp, ip("10.10.0.100"), 32, ip("172.16.61.1"), 24, NULL, 1, 1),
                     -EINVAL);
    char *js = NULL;
    size_t jl = 0;
    FILE *f = open_memstream(&js, &jl);
    dp_dump_json(dp, f);
    fclose(f);
    assert_non_null(strstr(js, "{\"kind\":\"rule\",\"src\":\"10.10.0.100/32\",\"dst\":"
                               "\"172.16.60.10/32\",\"iif\":null,\"table\":10000,\"priority\":900,"
                               "\"refs\":1}"));
    free(js);
    assert_int_equal(
        dp_rule2_put(dp, ip("10.10.0.100"), 32, ip("172.16.60.10"), 32, NULL, 10000, 900), 0);
    assert_int_equal(dp_count(dp, DP_OBJ_RULE), 2);
    assert_int_equal(dp_recorder_check(dp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tunnel_refcount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_reverse_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_leaves_shadow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneshots_and_ifindex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_at_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recorder_check_detects_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_with_destination, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
