/*
 * Kernel test of the FA's layer-2 trigger (l2watch.h) and hand-off buffer
 * (hobuf.h) on the real kernel: namespaces cn - fa(acc0 bridge) - mn, as
 * testbed/lib/topo.sh builds them.  This process is the FA (its own network
 * namespace); cn, mn, mn2... are named namespaces.
 *
 *   A  l2watch started before the MN attaches (state from events): the MN's
 *      port is deleted -> on_gone for its address (and for another address
 *      pinned to the same MAC, not for one with another MAC); the callback
 *      starts the buffer; 200 numbered UDP packets cn -> MN at ~1000/s are
 *      held; a second path (mn2, which now owns the address) appears; flush:
 *      mn2 receives all 200, in order.
 *   B  l2watch started after the MN re-attached (state from dumps): the MN's
 *      link loses carrier -> on_gone; a buffer of 50 packets: 150 overflow
 *      drops counted, the 50 oldest flushed in order.
 *   C  hold time 50 ms: everything expires (counted), a packet for an
 *      address not held is counted as no_mn.
 *   D  a plain access link (no bridge) losing carrier triggers for its
 *      visitors; l2watch_link_gone does the same on demand.
 *   E  a port deleted while events are not read: l2watch_resync (what an
 *      overrun triggers) reports it, the queued events repeat nothing.
 * At the end no route of ours is left.
 *
 * Exit status: 0 pass, 1 failure (with a message), 77 skipped (no root, no
 * bridge or tun support).
 */
#include "dataplane.h"
#include "hobuf.h"
#include "l2watch.h"
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *step = "setup";
static char ns_prefix[32];

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_hobuf_l2: FAIL [%s]: ", step);
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

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            fail("%s:%d: %s = %lld, want %lld", __FILE__, __LINE__, #a, a_, b_);                   \
    } while (0)

static char *run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        fail("popen %s", cmd);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    pclose(p);
    return buf;
}

static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail("command failed: %s", cmd);
}

/* Namespace names: NS("cn") -> "hbt<pid>-cn". */
static const char *NS(const char *n)
{
    static char b[4][48];
    static int i;
    i = (i + 1) % 4;
    snprintf(b[i], sizeof(b[i]), "%s%s", ns_prefix, n);
    return b[i];
}

static void cleanup(void)
{
    const char *names[] = {"cn", "mn", "mn2", "mn3", "sink"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", NS(names[i]));
        if (system(cmd)) {
            /* not there */
        }
    }
}

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        fail("bad address %s", s);
    return a;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fa_ns = -1;

/* A socket created inside namespace ns (it stays there). */
static int socket_in(const char *ns, int type)
{
    char path[96];
    snprintf(path, sizeof(path), "/run/netns/%s", ns);
    int nfd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(nfd >= 0);
    CHECK(setns(nfd, CLONE_NEWNET) == 0);
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    CHECK(setns(fa_ns, CLONE_NEWNET) == 0);
    close(nfd);
    return s;
}

static void read_mac(const char *ns, const char *ifn, uint8_t mac[6])
{
    char *out = run("ip netns exec %s cat /sys/class/net/%s/address", ns, ifn);
    unsigned m[6];
    if (sscanf(out, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
        fail("mac of %s in %s: %s", ifn, ns, out);
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)m[i];
}

/* ---- the agent side: loop, dataplane, watch, buffer ------------------------ */

static struct loop *lp;
static struct dataplane *dp;
static struct hobuf *hb;
static const struct in_addr NOGW = {0};
static const char *HOA = "10.10.0.100";
static int acc0;

struct gone_log {
    unsigned n;
    int link[8];
    struct in_addr hoa[8];
    int start_rc; /* hobuf_start result for HOA */
};
static struct gone_log gl;

/* What the FA will do: the MN left, hold its packets. */
static void on_gone(void *ctx, int link, struct in_addr hoa)
{
    struct gone_log *g = ctx;
    if (g->n < 8) {
        g->link[g->n] = link;
        g->hoa[g->n] = hoa;
    }
    g->n++;
    if (hb && hoa.s_addr == ip(HOA).s_addr)
        g->start_rc = hobuf_start(hb, hoa, "acc0");
}

static void pump(unsigned ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end)
        loop_run_once(lp, 5);
}

static bool pump_until_gone(unsigned want, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    while (gl.n < want && now_ms() < end)
        loop_run_once(lp, 5);
    return gl.n >= want;
}

/* ---- traffic ------------------------------------------------------------------ */

#define PORT 9999
#define PAYLOAD 100

/* Sends n numbered datagrams cn -> HOA, one per ms, running the loop between. */
static void send_burst(int s, unsigned n, uint32_t run_id)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = ip(HOA)};
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t p[PAYLOAD] = {0};
        uint32_t v = htonl(i), r = htonl(run_id);
        memcpy(p, &v, 4);
        memcpy(p + 4, &r, 4);
        if (sendto(s, p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(p))
            fail("sendto #%u: %s", i, strerror(errno));
        loop_run_once(lp, 0);
        t.tv_nsec += 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_nsec -= 1000000000;
            t.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
            ;
    }
}

/* Receives datagrams of run_id until n arrived or 2 s of silence; checks
 * they are 0..n-1 in order. */
static void expect_in_order(int s, unsigned n, uint32_t run_id)
{
    struct timeval tv = {.tv_usec = 100000};
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    unsigned got = 0;
    uint64_t last = now_ms();
    while (got < n && now_ms() - last < 2000) {
        uint8_t p[PAYLOAD + 16];
        ssize_t r = recv(s, p, sizeof(p), 0);
        if (r < 0)
            continue;
        last = now_ms();
        if (r != PAYLOAD)
            fail("datagram of %zd bytes", r);
        uint32_t v, id;
        memcpy(&v, p, 4);
        memcpy(&id, p + 4, 4);
        if (ntohl(id) != run_id)
            continue;
        if (ntohl(v) != got)
            fail("datagram #%u arrived as the %u-th (lost or reordered)", ntohl(v), got);
        got++;
    }
    if (got != n)
        fail("received %u of %u datagrams", got, n);
    /* Nothing more (no duplicates). */
    uint8_t p[PAYLOAD + 16];
    if (recv(s, p, sizeof(p), 0) >= 0)
        fail("a datagram more than expected");
}

static int big_rcvbuf_socket(const char *ns)
{
    int s = socket_in(ns, SOCK_DGRAM);
    int sz = 4 << 20;
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
    return s;
}

/* ---- topology ----------------------------------------------------------------- */

static void ns_add(const char *n)
{
    sh("ip netns add %s", NS(n));
    sh("ip -n %s link set lo up", NS(n));
    sh("ip netns exec %s sh -c 'sysctl -qw net.ipv4.conf.all.rp_filter=0; "
       "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null; true'",
       NS(n));
}

/* mn_attach of topo.sh: the FA-side end p-mn becomes a port of acc0. */
static void mn_attach(void)
{
    /* The new veth has a new MAC: forget the FA's old neighbour entry (as
     * the MN's gratuitous ARP would update it). */
    if (system("ip neigh del 10.10.0.100 dev acc0 2>/dev/null")) {
        /* none */
    }
    sh("ip link add p-mn type veth peer name mn0 netns %s", NS("mn"));
    sh("ip -n %s addr add %s/32 dev mn0 && ip -n %s link set mn0 up", NS("mn"), HOA, NS("mn"));
    sh("ip -n %s route add 10.21.0.1 dev mn0 && ip -n %s route add default via 10.21.0.1", NS("mn"),
       NS("mn"));
    sh("ip link set p-mn master acc0 && ip link set p-mn up");
}

/* The new path: a namespace mn2 owning HOA behind a veth v2. */
static int mn2_up(void)
{
    ns_add("mn2");
    sh("ip link add v2 type veth peer name mn0 netns %s", NS("mn2"));
    sh("ip addr add 10.22.0.1/24 dev v2 && ip link set v2 up");
    sh("ip -n %s addr add %s/32 dev mn0 && ip -n %s link set mn0 up", NS("mn2"), HOA, NS("mn2"));
    sh("ip -n %s route add 10.22.0.1 dev mn0 && ip -n %s route add default via 10.22.0.1",
       NS("mn2"), NS("mn2"));
    /* The new path's next hop is known (as the backbone neighbour of a new
     * FA would be): the flush is not stuck behind ARP resolution. */
    uint8_t m[6];
    read_mac(NS("mn2"), "mn0", m);
    sh("ip neigh replace %s lladdr %02x:%02x:%02x:%02x:%02x:%02x dev v2 nud stale", HOA, m[0], m[1],
       m[2], m[3], m[4], m[5]);
    return big_rcvbuf_socket(NS("mn2"));
}

static void mn2_down(void)
{
    CHECK_EQ(dp_route_put(dp, ip(HOA), 32, "v2", NOGW, 0), 0); /* the flush gave it to us */
    sh("ip netns del %s", NS("mn2"));
}

static void expect_route_dev(const char *dev)
{
    char *out = run("ip -4 route show %s/32", HOA);
    char want[64];
    snprintf(want, sizeof(want), "dev %s ", dev);
    if (!strstr(out, want))
        fail("route to %s is not on %s: %s", HOA, dev, out);
}

static void expect_mac(struct l2watch *w, const char *ns, const char *ifn, const char *port)
{
    uint8_t want[6], got[6];
    read_mac(ns, ifn, want);
    int p = -1;
    int r = l2watch_lookup(w, ip(HOA), got, &p);
    if (r != 0)
        fail("l2watch_lookup: %d", r);
    CHECK(!memcmp(want, got, 6));
    CHECK_EQ(p, (int)if_nametoindex(port));
}

/* ---- phases ------------------------------------------------------------------ */

static void phase_a(int cn_sock)
{
    step = "A: watch from events";
    struct l2watch *w = l2watch_new(lp, on_gone, &gl);
    CHECK(w);
    mn_attach();
    CHECK_EQ(dp_route_get(dp, ip(HOA), 32, "acc0", NOGW, 0), 0);
    sh("ip netns exec %s ping -q -c1 -W2 %s >/dev/null", NS("cn"), HOA);
    pump(100);
    CHECK_EQ(l2watch_track(w, ip(HOA), acc0, NULL), 0);
    expect_mac(w, NS("mn"), "mn0", "p-mn");
    /* Another visitor behind the same interface (same MAC) goes with it; one
     * with another MAC stays. */
    uint8_t mac[6], other[6] = {0x02, 0, 0, 0, 0, 0x42};
    read_mac(NS("mn"), "mn0", mac);
    CHECK_EQ(l2watch_track(w, ip("10.10.0.150"), acc0, mac), 0);
    CHECK_EQ(l2watch_track(w, ip("10.10.0.151"), acc0, other), 0);
    CHECK_EQ(l2watch_lookup(w, ip("10.10.0.9"), NULL, NULL), -ENOENT);

    step = "A: port deleted";
    memset(&gl, 0, sizeof(gl));
    gl.start_rc = 1;
    uint64_t t0 = now_ms();
    sh("ip -n %s link del mn0", NS("mn")); /* mn_detach */
    if (!pump_until_gone(2, 2000))
        fail("on_gone fired %u times, want 2", gl.n);
    printf("A: on_gone %llu ms after the port was deleted\n", (unsigned long long)(now_ms() - t0));
    pump(200); /* no third, no repeat */
    CHECK_EQ(gl.n, 2);
    bool saw_hoa = false, saw_150 = false;
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ(gl.link[i], acc0);
        saw_hoa |= gl.hoa[i].s_addr == ip(HOA).s_addr;
        saw_150 |= gl.hoa[i].s_addr == ip("10.10.0.150").s_addr;
    }
    CHECK(saw_hoa && saw_150);
    CHECK_EQ(gl.start_rc, 0);
    CHECK(hobuf_holding(hb, ip(HOA)));
    expect_route_dev(hobuf_ifname(hb));
    CHECK_EQ(dp_count(dp, DP_OBJ_ROUTE), 1); /* acc0's route moved, not added */

    step = "A: buffering 200 packets";
    send_burst(cn_sock, 200, 1);
    struct hobuf_stats s;
    uint64_t end = now_ms() + 1000;
    do {
        loop_run_once(lp, 5);
        CHECK_EQ(hobq_stats(hobuf_queue(hb), ip(HOA), &s, NULL), 0);
    } while (s.held_pkts < 200 && now_ms() < end);
    CHECK_EQ(s.held_pkts, 200);
    CHECK_EQ(s.queued, 200);
    for (int r = 0; r < HOBUF_DROP_REASONS; r++)
        CHECK_EQ(s.dropped[r], 0);

    step = "A: flush into the new path";
    int rx = mn2_up();
    struct hobuf_stats fin;
    CHECK_EQ(hobuf_flush(hb, ip(HOA), "v2", NOGW, &fin), 200);
    CHECK_EQ(fin.flushed, 200);
    CHECK(!hobuf_holding(hb, ip(HOA)));
    expect_route_dev("v2");
    CHECK_EQ(dp_count(dp, DP_OBJ_ROUTE), 1);
    expect_in_order(rx, 200, 1);
    close(rx);
    /* The control socket's view. */
    char *items = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&items, &len);
    hobuf_ctl_items(hb, f);
    fclose(f);
    CHECK(strstr(items, "\"hoa\":\"total\",\"mns\":0,\"held\":0,\"held_bytes\":0,"
                        "\"queued\":200,\"flushed\":200"));
    free(items);
    l2watch_untrack(w, ip(HOA));
    l2watch_free(w);
    mn2_down();
}

static void phase_b(int cn_sock)
{
    step = "B: watch from dumps";
    hobuf_free(hb);
    struct hobuf_limits lim;
    hobuf_limits_default(&lim);
    lim.max_pkts = 50;
    lim.hold_ms = 30000; /* see main(): only the overflow is under test here */
    hb = hobuf_new(lp, dp, NULL, &lim);
    CHECK(hb);
    mn_attach();
    CHECK_EQ(dp_route_get(dp, ip(HOA), 32, "acc0", NOGW, 0), 0);
    sh("ip netns exec %s ping -q -c1 -W2 %s >/dev/null", NS("cn"), HOA);
    struct l2watch *w = l2watch_new(lp, on_gone, &gl);
    CHECK(w);
    CHECK_EQ(l2watch_track(w, ip(HOA), acc0, NULL), 0);
    expect_mac(w, NS("mn"), "mn0", "p-mn");

    step = "B: carrier lost";
    memset(&gl, 0, sizeof(gl));
    gl.start_rc = 1;
    sh("ip -n %s link set mn0 down", NS("mn"));
    if (!pump_until_gone(1, 2000))
        fail("on_gone did not fire");
    pump(100);
    CHECK_EQ(gl.n, 1);
    CHECK_EQ(gl.link[0], acc0);
    CHECK_EQ(gl.hoa[0].s_addr, ip(HOA).s_addr);
    CHECK_EQ(gl.start_rc, 0);

    step = "B: 200 packets into a buffer of 50";
    send_burst(cn_sock, 200, 2);
    pump(100);
    struct hobuf_stats s;
    CHECK_EQ(hobq_stats(hobuf_queue(hb), ip(HOA), &s, NULL), 0);
    CHECK_EQ(s.held_pkts, 50);
    CHECK_EQ(s.dropped[HOBUF_DROP_OVERFLOW], 150);
    int rx = mn2_up();
    struct hobuf_stats fin, tot;
    CHECK_EQ(hobuf_flush(hb, ip(HOA), "v2", NOGW, &fin), 50);
    CHECK_EQ(fin.queued, 50);
    CHECK_EQ(fin.flushed, 50);
    CHECK_EQ(fin.dropped[HOBUF_DROP_OVERFLOW], 150);
    hobq_total(hobuf_queue(hb), &tot);
    CHECK_EQ(tot.dropped[HOBUF_DROP_OVERFLOW], 150);
    expect_in_order(rx, 50, 2);
    close(rx);
    printf("B: 50 held and flushed in order, 150 counted as overflow\n");
    l2watch_free(w);
    mn2_down();
    sh("ip -n %s link del mn0", NS("mn"));
}

static void phase_c(int cn_sock)
{
    step = "C: hold time";
    hobuf_free(hb);
    struct hobuf_limits lim;
    hobuf_limits_default(&lim);
    lim.hold_ms = 50;
    hb = hobuf_new(lp, dp, NULL, &lim);
    CHECK(hb);
    CHECK_EQ(hobuf_start(hb, ip(HOA), NULL), 0); /* no route to take over */
    CHECK_EQ(hobuf_start(hb, ip(HOA), NULL), -EEXIST);
    expect_route_dev(hobuf_ifname(hb));
    send_burst(cn_sock, 200, 3);
    pump(120);
    struct hobuf_stats s, tot;
    CHECK_EQ(hobq_stats(hobuf_queue(hb), ip(HOA), &s, NULL), 0);
    CHECK_EQ(s.queued, 200);
    CHECK_EQ(s.held_pkts, 0);
    CHECK_EQ(s.dropped[HOBUF_DROP_EXPIRED], 200);
    /* A packet routed to the buffer for an address it does not hold. */
    sh("ip route add 10.10.0.99/32 dev %s", hobuf_ifname(hb));
    struct sockaddr_in to = {
        .sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = ip("10.10.0.99")};
    uint8_t p[PAYLOAD] = {0};
    CHECK(sendto(cn_sock, p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(p));
    pump(100);
    hobq_total(hobuf_queue(hb), &tot);
    CHECK_EQ(tot.dropped[HOBUF_DROP_NO_MN], 1);
    sh("ip route del 10.10.0.99/32 dev %s", hobuf_ifname(hb));
    CHECK_EQ(hobuf_drop(hb, ip(HOA), &s), 0);
    CHECK_EQ(hobuf_drop(hb, ip(HOA), NULL), -ENOENT);
    CHECK_EQ(hobuf_flush(hb, ip(HOA), NULL, NOGW, NULL), -ENOENT);
    CHECK_EQ(dp_count(dp, DP_OBJ_ROUTE), 0);
    printf("C: 200 expired after 50 ms, 1 counted as no_mn\n");
}

static void phase_d(void)
{
    step = "D: plain access link";
    struct l2watch *w = l2watch_new(lp, on_gone, &gl);
    CHECK(w);
    ns_add("mn3");
    sh("ip link add pl0 type veth peer name pl0p netns %s", NS("mn3"));
    sh("ip link set pl0 up && ip -n %s link set pl0p up", NS("mn3"));
    pump(100);
    int pl0 = (int)if_nametoindex("pl0");
    CHECK(pl0 > 0);
    CHECK_EQ(l2watch_track(w, ip("10.10.0.200"), pl0, NULL), 0);
    CHECK_EQ(l2watch_lookup(w, ip("10.10.0.200"), NULL, NULL), -ENXIO);
    CHECK_EQ(l2watch_track(w, ip("10.10.0.201"), acc0, NULL), 0); /* another link: stays */
    memset(&gl, 0, sizeof(gl));
    sh("ip -n %s link set pl0p down", NS("mn3"));
    if (!pump_until_gone(1, 2000))
        fail("on_gone did not fire for the plain link");
    pump(100);
    CHECK_EQ(gl.n, 1);
    CHECK_EQ(gl.link[0], pl0);
    CHECK_EQ(gl.hoa[0].s_addr, ip("10.10.0.200").s_addr);
    /* Reported once; after the link is back, the agent can report it too. */
    CHECK_EQ(l2watch_link_gone(w, pl0), 0);
    sh("ip -n %s link set pl0p up", NS("mn3"));
    pump(200);
    CHECK_EQ(gl.n, 1);
    CHECK_EQ(l2watch_link_gone(w, pl0), 1);
    CHECK_EQ(gl.n, 2);
    l2watch_untrack(w, ip("10.10.0.200"));
    CHECK_EQ(l2watch_link_gone(w, pl0), 0);
    uint64_t msgs, resyncs;
    l2watch_counters(w, &msgs, &resyncs);
    CHECK(msgs > 0);
    CHECK_EQ(resyncs, 0);
    l2watch_free(w);
    sh("ip link del pl0");
}

static void phase_e(void)
{
    step = "E: resynchronisation";
    mn_attach();
    CHECK_EQ(dp_route_get(dp, ip(HOA), 32, "acc0", NOGW, 0), 0);
    sh("ip netns exec %s ping -q -c1 -W2 %s >/dev/null", NS("cn"), HOA);
    struct l2watch *w = l2watch_new(lp, on_gone, &gl);
    CHECK(w);
    CHECK_EQ(l2watch_track(w, ip(HOA), acc0, NULL), 0);
    expect_mac(w, NS("mn"), "mn0", "p-mn");
    memset(&gl, 0, sizeof(gl));
    gl.start_rc = 1;
    /* The port goes while the loop does not run (as if its events were
     * lost in an overrun): the dumps find it missing. */
    sh("ip link del p-mn");
    CHECK_EQ(l2watch_resync(w), 0);
    CHECK_EQ(gl.n, 1);
    CHECK_EQ(gl.link[0], acc0);
    CHECK_EQ(gl.hoa[0].s_addr, ip(HOA).s_addr);
    CHECK_EQ(gl.start_rc, 0);
    pump(200); /* the queued events repeat nothing */
    CHECK_EQ(gl.n, 1);
    uint64_t resyncs;
    l2watch_counters(w, NULL, &resyncs);
    CHECK_EQ(resyncs, 1);
    l2watch_free(w);
    CHECK_EQ(hobuf_drop(hb, ip(HOA), NULL), 0);
    CHECK_EQ(dp_count(dp, DP_OBJ_ROUTE), 0);
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
    fa_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    CHECK(fa_ns >= 0);
    sh("ip link set lo up");
    if (system("ip link add hbprobe type bridge 2>/dev/null && ip link del hbprobe")) {
        printf("SKIP: no bridge support in this kernel\n");
        return 77;
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        printf("SKIP: no /dev/net/tun\n");
        return 77;
    }
    snprintf(ns_prefix, sizeof(ns_prefix), "hbt%d-", (int)getpid());
    atexit(cleanup);

    /* The FA: a router with rp_filter 0 (topo.sh node_add). */
    sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 "
       "net.ipv4.conf.default.rp_filter=0");
    if (system("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 "
               "2>/dev/null")) {
        /* no IPv6 */
    }
    ns_add("cn");
    ns_add("mn");
    ns_add("sink");
    sh("ip link add up0 type veth peer name cn0 netns %s", NS("cn"));
    sh("ip addr add 10.1.0.1/24 dev up0 && ip link set up0 up");
    sh("ip -n %s addr add 10.1.0.2/24 dev cn0 && ip -n %s link set cn0 up && "
       "ip -n %s route add default via 10.1.0.1",
       NS("cn"), NS("cn"), NS("cn"));
    /* topo.sh bridge_add: acc0 kept up by a spare port whose peer is elsewhere. */
    sh("ip link add acc0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0");
    sh("ip link add acc0-k type veth peer name k0 netns %s", NS("sink"));
    sh("ip link set acc0-k master acc0 up && ip -n %s link set k0 up", NS("sink"));
    sh("ip link set acc0 up && ip addr add 10.21.0.1/24 dev acc0");
    acc0 = (int)if_nametoindex("acc0");
    CHECK(acc0 > 0);

    lp = loop_new();
    CHECK(lp);
    dp = dp_new_netlink();
    CHECK(dp);
    /* Phase A sets up the new path (a namespace and a veth: several ip
     * processes) while packets are held: under a loaded UML that can take
     * longer than the 2 s default hold time, so hold them longer here. */
    struct hobuf_limits lim_a;
    hobuf_limits_default(&lim_a);
    lim_a.hold_ms = 30000;
    hb = hobuf_new(lp, dp, NULL, &lim_a);
    if (!hb)
        fail("hobuf_new: %s", strerror(errno));
    CHECK(if_nametoindex(HOBUF_IFNAME) == (unsigned)hobuf_ifindex(hb));
    int cn_sock = socket_in(NS("cn"), SOCK_DGRAM);

    phase_a(cn_sock);
    phase_b(cn_sock);
    phase_c(cn_sock);
    phase_d();
    phase_e();

    step = "teardown";
    hobuf_free(hb);
    CHECK_EQ(if_nametoindex(HOBUF_IFNAME), 0); /* the device went with its fd */
    dp_flush(dp);
    CHECK_EQ(dp_count(dp, -1), 0);
    char *routes = run("ip -4 route show proto static");
    if (routes[0])
        fail("routes left: %s", routes);
    dp_free(dp);
    loop_free(lp);
    close(cn_sock);
    printf("PASS\n");
    return 0;
}
