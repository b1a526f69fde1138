/*
 * Kernel test of the netlink dataplane backend.  Runs as root in a fresh
 * network namespace (needs ipip: run inside UML, tests/run does).  After each
 * step the real kernel state is compared with the shadow through iproute2;
 * at the end nothing may be left.
 *
 * Exit status: 0 pass, 1 failure (with a message), 77 skipped (no root or no
 * ipip support in this kernel).
 */
#include "dataplane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *step = "setup";

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_dp_netlink: FAIL [%s]: ", step);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail("%s:%d: %s", __FILE__, __LINE__, #cond);                                          \
    } while (0)

#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (want))                                                                         \
            fail("%s:%d: %s = %d (%s), want %d", __FILE__, __LINE__, #expr, rc_,                   \
                 rc_ < 0 ? strerror(-rc_) : "ok", (want));                                         \
    } while (0)

/* Output of a shell command (caller frees). */
static char *run(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        fail("popen %s", cmd);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    CHECK(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf);
        }
    }
    buf[len] = '\0';
    pclose(p);
    return buf;
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        fail("command failed: %s", cmd);
}

static unsigned occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void expect_in(const char *cmd, const char *needle, bool present)
{
    char *out = run("%s", cmd);
    if (!!strstr(out, needle) != present)
        fail("`%s` %s \"%s\":\n%s", cmd, present ? "lacks" : "still has", needle, out);
    free(out);
}

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        fail("bad address %s", s);
    return a;
}

static const struct in_addr NOGW = {0};

/*
 * The kernel holds exactly as many of our objects as the shadow: static
 * routes, non-default rules, proxy entries, mip* links.
 */
static void compare_kernel(struct dataplane *dp)
{
    char *routes = run("ip -4 -j route show table all");
    char *rules = run("ip -4 -j rule show");
    char *proxies = run("ip -4 neigh show proxy");
    char *links = run("ip -j link show");
    unsigned nroutes = occurrences(routes, "\"protocol\":\"static\"");
    /* Default rules: 0 local, 32766 main, 32767 default. */
    unsigned nrules = occurrences(rules, "\"priority\":") - 3;
    unsigned nproxies = occurrences(proxies, " proxy");
    unsigned nlinks = occurrences(links, "\"ifname\":\"mip");
    if (nroutes != dp_count(dp, DP_OBJ_ROUTE) || nrules != dp_count(dp, DP_OBJ_RULE) ||
        nproxies != dp_count(dp, DP_OBJ_PROXY_ARP) || nlinks != dp_count(dp, DP_OBJ_TUNNEL)) {
        fprintf(stderr, "shadow: ");
        dp_dump_json(dp, stderr);
        fail("\nkernel has %u routes %u rules %u proxies %u tunnels; shadow %u %u %u %u\n"
             "routes: %s\nrules: %s\nproxies: %s\nlinks: %s",
             nroutes, nrules, nproxies, nlinks, dp_count(dp, DP_OBJ_ROUTE),
             dp_count(dp, DP_OBJ_RULE), dp_count(dp, DP_OBJ_PROXY_ARP), dp_count(dp, DP_OBJ_TUNNEL),
             routes, rules, proxies, links);
    }
    free(routes);
    free(rules);
    free(proxies);
    free(links);
}

static void read_sysctl(const char *ifname, const char *key, char *buf, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, (int)len, f))
        fail("read %s", path);
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static void test_garp(struct dataplane *dp)
{
    step = "garp";
    int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP));
    CHECK(fd >= 0);
    struct sockaddr_ll ll = {.sll_family = AF_PACKET,
                             .sll_protocol = htons(ETH_P_ARP),
                             .sll_ifindex = (int)if_nametoindex("v1")};
    CHECK(ll.sll_ifindex > 0);
    CHECK(bind(fd, (struct sockaddr *)&ll, sizeof(ll)) == 0);
    struct timeval tv = {.tv_sec = 3};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "v0");
    CHECK(ioctl(fd, SIOCGIFHWADDR, &ifr) == 0);

    struct in_addr hoa = ip("10.10.0.100");
    CHECK_RC(dp_garp(dp, "v0", hoa), 0);
    unsigned char pkt[64];
    struct sockaddr_ll from;
    socklen_t fl = sizeof(from);
    ssize_t n;
    /* Skip anything else the peer might see (none expected). */
    do {
        n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            fail("no gratuitous ARP received on v1: %s", strerror(errno));
    } while (n < 28 || memcmp(pkt + 14, &hoa, 4) != 0);
    CHECK(from.sll_pkttype == PACKET_BROADCAST);
    CHECK(pkt[0] == 0 && pkt[1] == 1);       /* Ethernet */
    CHECK(pkt[2] == 0x08 && pkt[3] == 0x00); /* IPv4 */
    CHECK(pkt[4] == 6 && pkt[5] == 4);
    CHECK(pkt[6] == 0 && pkt[7] == 1); /* request */
    CHECK(memcmp(pkt + 8, ifr.ifr_hwaddr.sa_data, 6) == 0);
    CHECK(memcmp(pkt + 14, &hoa, 4) == 0);
    CHECK(memcmp(pkt + 24, &hoa, 4) == 0);
    close(fd);

    /* No ARP on an IP-in-IP link; unknown device. */
    CHECK_RC(dp_garp(dp, "mipc000020b", hoa), -EOPNOTSUPP);
    CHECK_RC(dp_garp(dp, "nosuchdev", hoa), -ENODEV);
}

static void test_sysctl(struct dataplane *dp)
{
    step = "sysctl";
    char v[32];
    CHECK_RC(dp_sysctl(dp, "v0", "send_redirects", "0"), 0);
    read_sysctl("v0", "send_redirects", v, sizeof(v));
    CHECK(!strcmp(v, "0"));
    CHECK_RC(dp_sysctl(dp, "v0", "proxy_arp", "1"), 0);
    read_sysctl("v0", "proxy_arp", v, sizeof(v));
    CHECK(!strcmp(v, "1"));
    CHECK_RC(dp_sysctl(dp, "all", "send_redirects", "0"), 0);
    read_sysctl("all", "send_redirects", v, sizeof(v));
    CHECK(!strcmp(v, "0"));
    CHECK_RC(dp_sysctl(dp, "nosuchdev", "send_redirects", "0"), -ENOENT);
    CHECK_RC(dp_sysctl(dp, "v0", "nosuchkey", "0"), -ENOENT);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (geteuid() != 0) {
        printf("SKIP: needs root\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) != 0)
        fail("unshare(CLONE_NEWNET): %s", strerror(errno));
    sh("ip link set lo up");
    if (system("ip link add mipprobe type ipip local 192.0.2.1 remote 192.0.2.99 2>/dev/null")) {
        printf("SKIP: this kernel cannot create ipip links (run inside UML)\n");
        return 77;
    }
    sh("ip link del mipprobe");
    sh("ip link add v0 type veth peer name v1 && ip addr add 192.0.2.1/24 dev v0 && "
       "ip link set v0 up && ip link set v1 up");

    struct dataplane *dp = dp_new_netlink();
    CHECK(dp);
    CHECK_RC(dp_ifindex(dp, "v0"), (int)if_nametoindex("v0"));
    CHECK_RC(dp_ifindex(dp, "nosuchdev"), -ENODEV);

    step = "tunnel";
    char tun[DP_IFNAMSIZ], tun2[DP_IFNAMSIZ];
    int ti = dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun);
    CHECK(ti > 0);
    CHECK(!strcmp(tun, "mipc000020b"));
    CHECK_RC((int)if_nametoindex(tun), ti);
    CHECK_RC(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun2), ti);
    const char *show = "ip -d -j link show dev mipc000020b";
    expect_in(show, "\"info_kind\":\"ipip\"", true);
    expect_in(show, "\"local\":\"192.0.2.1\"", true);
    expect_in(show, "\"remote\":\"192.0.2.11\"", true);
    expect_in(show, "\"ttl\":64", true);
    expect_in(show, "\"UP\"", true);
    compare_kernel(dp);

    step = "routes";
    CHECK_RC(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    CHECK_RC(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    CHECK_RC(dp_route_get(dp, ip("10.10.0.101"), 32, tun, NOGW, 100), 0);
    CHECK_RC(dp_route_get(dp, ip("172.16.0.0"), 16, "v0", ip("192.0.2.254"), 100), 0);
    CHECK_RC(dp_route_get(dp, ip("172.17.0.0"), 16, "nosuchdev", NOGW, 100), -ENODEV);
    expect_in("ip -4 route show table main exact 10.10.0.100/32",
              "10.10.0.100 dev mipc000020b proto static scope link", true);
    expect_in("ip -4 route show table 100 exact 10.10.0.101/32",
              "10.10.0.101 dev mipc000020b proto static scope link", true);
    expect_in("ip -4 route show table 100 exact 172.16.0.0/16",
              "172.16.0.0/16 via 192.0.2.254 dev v0 proto static", true);
    compare_kernel(dp);
    CHECK_RC(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0); /* refs 2 -> 1 */
    expect_in("ip -4 route show table main", "10.10.0.100", true);
    CHECK_RC(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    expect_in("ip -4 route show table main", "10.10.0.100", false);
    compare_kernel(dp);

    step = "rules";
    CHECK_RC(dp_rule_get(dp, ip("10.10.0.0"), 24, "v0", 100, 1000), 0);
    CHECK_RC(dp_rule_get(dp, ip("10.10.0.100"), 32, NULL, 101, 0), 0); /* kernel picks prio */
    CHECK_RC(dp_rule_get(dp, ip("0.0.0.0"), 0, "v1", 102, 1001), 0);
    expect_in("ip -4 rule show", "1000:\tfrom 10.10.0.0/24 iif v0 lookup 100", true);
    expect_in("ip -4 rule show", "from 10.10.0.100 lookup 101", true);
    expect_in("ip -4 rule show", "1001:\tfrom all iif v1 lookup 102", true);
    compare_kernel(dp);
    CHECK_RC(dp_rule_put(dp, ip("10.10.0.100"), 32, NULL, 101, 0), 0);
    expect_in("ip -4 rule show", "lookup 101", false);
    compare_kernel(dp);

    step = "proxy_arp";
    CHECK_RC(dp_proxy_arp_get(dp, "v0", ip("10.10.0.100")), 0);
    CHECK_RC(dp_proxy_arp_get(dp, "v0", ip("10.10.0.101")), 0);
    expect_in("ip -4 neigh show proxy", "10.10.0.100 dev v0 proxy", true);
    expect_in("ip -4 neigh show proxy", "10.10.0.101 dev v0 proxy", true);
    compare_kernel(dp);
    CHECK_RC(dp_proxy_arp_put(dp, "v0", ip("10.10.0.101")), 0);
    expect_in("ip -4 neigh show proxy", "10.10.0.101", false);
    /* Removed behind our back: the put still succeeds. */
    sh("ip neigh del proxy 10.10.0.100 dev v0");
    CHECK_RC(dp_proxy_arp_put(dp, "v0", ip("10.10.0.100")), 0);
    compare_kernel(dp);
    CHECK_RC(dp_proxy_arp_get(dp, "v0", ip("10.10.0.100")), 0);
    compare_kernel(dp);

    test_garp(dp);
    test_sysctl(dp);

    step = "leftovers";
    /* Identical leftover route of a crashed run: replaced, success. */
    sh("ip route add 10.10.0.200/32 dev v0 proto static");
    CHECK_RC(dp_route_get(dp, ip("10.10.0.200"), 32, "v0", NOGW, 0), 0);
    compare_kernel(dp);
    /* Someone else's route for the prefix: conflict reported, theirs kept. */
    sh("ip route add 10.10.0.201/32 dev v1");
    CHECK_RC(dp_route_get(dp, ip("10.10.0.201"), 32, "v0", NOGW, 0), -EEXIST);
    expect_in("ip -4 route show exact 10.10.0.201/32", "dev v1", true);
    sh("ip route del 10.10.0.201/32 dev v1");
    /* Identical leftover rule. */
    sh("ip rule add from 10.10.1.0/24 lookup 103 priority 1003");
    CHECK_RC(dp_rule_get(dp, ip("10.10.1.0"), 24, NULL, 103, 1003), 0);
    compare_kernel(dp);
    /* Leftover tunnel with our endpoints: adopted and set up. */
    sh("ip link add mipc000020c type ipip local 192.0.2.1 remote 192.0.2.12");
    int t2 = dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.12"), tun2);
    CHECK(t2 > 0 && t2 == (int)if_nametoindex("mipc000020c"));
    expect_in("ip -j link show dev mipc000020c", "\"UP\"", true);
    /* Stale leftover (other local address): replaced. */
    sh("ip link add mipc000020d type ipip local 192.0.2.2 remote 192.0.2.13");
    CHECK(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.13"), tun2) > 0);
    expect_in("ip -d -j link show dev mipc000020d", "\"local\":\"192.0.2.1\"", true);
    /* Not an ipip link: refused. */
    sh("ip link add mipc000020e type dummy");
    CHECK_RC(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.14"), tun2), -EEXIST);
    sh("ip link del mipc000020e");
    /* Name clash with a live tunnel of other endpoints. */
    CHECK_RC(dp_tunnel_get(dp, ip("192.0.2.2"), ip("192.0.2.11"), tun2), -EEXIST);
    expect_in("ip -d -j link show dev mipc000020b", "\"local\":\"192.0.2.1\"", true);
    compare_kernel(dp);

    step = "tunnel put";
    CHECK_RC(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.13")), 0);
    expect_in("ip link show", "mipc000020d", false);
    CHECK_RC(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0); /* refs 2 -> 1 */
    expect_in("ip link show", "mipc000020b", true);
    compare_kernel(dp);

    step = "flush";
    dp_flush(dp);
    CHECK(dp_count(dp, -1) == 0);
    compare_kernel(dp);
    expect_in("ip link show", "mip", false);
    expect_in("ip -4 route show table all", "proto static", false);
    expect_in("ip -4 neigh show proxy", "proxy", false);
    char *rules = run("ip -4 rule show");
    if (occurrences(rules, "lookup") != 3)
        fail("rules left:\n%s", rules);
    free(rules);

    step = "reuse";
    /* The shadow works again after a flush; routes vanish with their tunnel. */
    CHECK(dp_tunnel_get(dp, ip("192.0.2.1"), ip("192.0.2.11"), tun) > 0);
    CHECK_RC(dp_route_get(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    sh("ip link del mipc000020b");
    CHECK_RC(dp_route_put(dp, ip("10.10.0.100"), 32, tun, NOGW, 0), 0);
    CHECK_RC(dp_tunnel_put(dp, ip("192.0.2.1"), ip("192.0.2.11")), 0);
    CHECK(dp_count(dp, -1) == 0);
    compare_kernel(dp);
    dp_free(dp);

    printf("test_dp_netlink: PASS\n");
    return 0;
}
