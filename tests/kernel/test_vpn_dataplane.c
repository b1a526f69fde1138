/*
 * Kernel test of the VPN data plane (DESIGN §8, seed [0060]-[0062]) on a real
 * kernel (UML): the netlink backend's DSCP marks (libipset + iptables-legacy)
 * and IP-in-IP paths, then the plans of real nodes installed with real ESP.
 *
 * Part 1, namespaces a - r - b:
 *   r's dataplane marks a->b with DSCP 46: a ping from a arrives at b with
 *   TOS 0xb8 (raw socket at b), one from a's other address with TOS 0; the
 *   set and the rule are what the shadow says; removing the mark leaves no
 *   set and no rule; 1,000 marks in one batch and back; a /0 side.
 *   a's VPN data plane holds an encapsulation-only profile: the selected
 *   flow goes through IP-in-IP to b (link counters), an unselected one not.
 *
 * Part 2, the seeds' scenarios 1 and 4 at once (profiles from the AAAH's own
 * path decision, vpncache/path.h), one namespace per node on a backbone
 * bridge:  mn - fa - [bb] - ha - gw - cn1   and   [bb] - pcn - cn2.
 *   fa holds its visitor state as fa.c makes it (host route, reverse tunnel
 *   to the HA: a source rule into table 100 whose default route is the ipip
 *   link) plus its plan (fa-ha and fa-pcn legs); ha holds its binding state
 *   as ha.c makes it (ipip link to the FA, host route for the home address
 *   through it) plus its plan (ha-gw and fa-ha legs); pcn its plan; gw is a
 *   plain Linux box with static SAs set up with `ip xfrm`, as in the testbed.
 *   Pings mn -> cn1 and mn -> cn2 must get through: any bypass of the XFRM
 *   policies by those rules and routes would send them in clear IP-in-IP to
 *   a next hop that drops them (the fwd policies require ESP).  Every SA's
 *   byte counter rises; the outer ESP headers carry the class (raw ESP
 *   sockets at ha, pcn, fa); the inner packets arrive with it (raw ICMP
 *   sockets at cn1, cn2, mn); kernel policies and set elements equal the
 *   shadow; freeing the VPN data planes leaves nothing.
 *
 * Needs root, ipip, xfrm/esp4, ip_set_hash_netnet, xt_set, xt_DSCP (run
 * inside UML).  Exit: 0 pass, 1 fail, 77 skip.
 */
#include "dataplane.h"
#include "path.h"
#include "vpn_dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *step = "setup";

static const char *const NS[] = {"va", "vr",  "vb",  "mn",  "fa", "ha",
                                 "gw", "cn1", "pcn", "cn2", "bb"};

static void cleanup(void)
{
    char cmd[1024] = "";
    for (size_t i = 0; i < sizeof(NS) / sizeof(NS[0]); i++) {
        size_t n = strlen(cmd);
        snprintf(cmd + n, sizeof(cmd) - n, "ip netns del %s 2>/dev/null; ", NS[i]);
    }
    if (system(cmd)) {
    }
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_vpn_dataplane: FAIL [%s]: ", step);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup();
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

static char *run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        fail("popen %s", cmd);
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    CHECK(buf);
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

static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail("command failed: %s", cmd);
}

static unsigned count_lines(const char *out, const char *prefix)
{
    unsigned n = 0;
    size_t pl = strlen(prefix);
    for (const char *l = out; l && *l;) {
        if (!strncmp(l, prefix, pl))
            n++;
        l = strchr(l, '\n');
        if (l)
            l++;
    }
    return n;
}

static void enter(const char *ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
        fail("setns %s: %s", ns, strerror(errno));
    close(fd);
}

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    CHECK(inet_pton(AF_INET, s, &a) == 1);
    return a;
}

static unsigned long counter(const char *ns, const char *dev, const char *what)
{
    char *o = run("ip netns exec %s cat /sys/class/net/%s/statistics/%s", ns, dev, what);
    unsigned long v = strtoul(o, NULL, 10);
    free(o);
    return v;
}

/* A raw IPv4 socket of protocol proto in namespace ns (IP header included
 * on receipt; locally delivered packets of that protocol are copied to it). */
static int raw_socket(const char *ns, int proto)
{
    enter(ns);
    int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0)
        fail("raw socket %d in %s: %s", proto, ns, strerror(errno));
    return fd;
}

/* The TOS of the packets src -> dst that arrived on the raw socket (ICMP:
 * of that type; -1 = any): writes up to max values, returns how many. */
static unsigned tos_seen(int fd, const char *src, const char *dst, int icmp_type, int *tos,
                         unsigned max)
{
    struct in_addr s = ip(src), d = ip(dst);
    unsigned n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 300) <= 0)
            break;
        uint8_t b[2048];
        ssize_t len = recv(fd, b, sizeof(b), 0);
        if (len < 20)
            continue;
        size_t ihl = (size_t)(b[0] & 15) * 4;
        if (memcmp(b + 12, &s, 4) || memcmp(b + 16, &d, 4))
            continue;
        if (icmp_type >= 0 && ((size_t)len <= ihl || b[ihl] != icmp_type))
            continue;
        if (n < max)
            tos[n] = b[1];
        n++;
    }
    return n < max ? n : max;
}

/* Every packet seen had this TOS (and at least one was seen). */
static void expect_tos(int fd, const char *what, const char *src, const char *dst, int icmp_type,
                       int want)
{
    int tos[64];
    unsigned n = tos_seen(fd, src, dst, icmp_type, tos, 64);
    if (n == 0)
        fail("%s: no packet %s -> %s seen", what, src, dst);
    for (unsigned i = 0; i < n; i++)
        if (tos[i] != want)
            fail("%s: packet %u %s -> %s has TOS 0x%02x, want 0x%02x", what, i, src, dst, tos[i],
                 want);
    printf("%s: %u packet(s) %s -> %s with TOS 0x%02x\n", what, n, src, dst, want);
}

static void ping(const char *ns, const char *src, const char *dst)
{
    sh("ip netns exec %s ping -q -c 3 -i 0.3 -W 2 -I %s %s >/dev/null", ns, src, dst);
}

/* The kernel's mipd sets and mangle rules. */
static char *marks_in_kernel(const char *ns)
{
    return run("ip netns exec %s sh -c 'ipset list -n 2>/dev/null | grep ^mipd_ ; "
               "iptables-legacy -w -t mangle -S FORWARD | grep mipd_'",
               ns);
}

/* ---- part 1 ----------------------------------------------------------------------- */

static void part1_marks_and_encap(void)
{
    step = "part 1 topology";
    sh("ip netns add va && ip netns add vr && ip netns add vb && "
       "ip link add va0 netns va type veth peer name vr0 netns vr && "
       "ip link add vb0 netns vb type veth peer name vr1 netns vr && "
       "ip -n va addr add 10.1.0.2/24 dev va0 && ip -n va addr add 10.1.0.3/24 dev va0 && "
       "ip -n vr addr add 10.1.0.1/24 dev vr0 && ip -n vr addr add 10.2.0.1/24 dev vr1 && "
       "ip -n vb addr add 10.2.0.2/24 dev vb0 && ip -n vb addr add 10.9.0.9/32 dev lo && "
       "for n in va vr vb; do ip -n $n link set lo up; done && "
       "ip -n va link set va0 up && ip -n vr link set vr0 up && ip -n vr link set vr1 up && "
       "ip -n vb link set vb0 up && "
       "ip -n va route add default via 10.1.0.1 && ip -n vb route add default via 10.2.0.1 && "
       "ip netns exec vr sysctl -qw net.ipv4.ip_forward=1");

    step = "mark a->b with DSCP 46";
    enter("vr");
    struct dataplane *r = dp_new_netlink();
    CHECK(r);
    struct dp_mark m = {
        .src = ip("10.1.0.2"), .src_plen = 32, .dst = ip("10.2.0.2"), .dst_plen = 32, .dscp = 46};
    CHECK_RC(dp_mark_get(r, &m), 0);
    char *k = marks_in_kernel("vr");
    if (!strstr(k, "mipd_dscp_46\n") ||
        !strstr(k, "-A FORWARD -m set --match-set mipd_dscp_46 src,dst -j DSCP --set-dscp 0x2e"))
        fail("set or rule missing:\n%s", k);
    free(k);
    k = run("ip netns exec vr ipset list mipd_dscp_46");
    CHECK(strstr(k, "\n10.1.0.2,10.2.0.2\n"));
    free(k);

    step = "ping arrives with TOS 0xb8";
    int raw = raw_socket("vb", IPPROTO_ICMP);
    ping("va", "10.1.0.2", "10.2.0.2");
    expect_tos(raw, "b (marked flow)", "10.1.0.2", "10.2.0.2", 8, 0xb8);
    ping("va", "10.1.0.3", "10.2.0.2");
    expect_tos(raw, "b (other source)", "10.1.0.3", "10.2.0.2", 8, 0x00);

    step = "remove: no set, no rule";
    enter("vr");
    CHECK_RC(dp_mark_put(r, &m), 0);
    k = marks_in_kernel("vr");
    if (k[0])
        fail("left after the last mark of the class:\n%s", k);
    free(k);
    ping("va", "10.1.0.2", "10.2.0.2");
    expect_tos(raw, "b (mark removed)", "10.1.0.2", "10.2.0.2", 8, 0x00);

    step = "a /0 side is two /1 elements";
    enter("vr");
    struct dp_mark any = {.src = ip("10.1.0.2"), .src_plen = 32, .dscp = 10};
    CHECK_RC(dp_mark_get(r, &any), 0);
    k = run("ip netns exec vr ipset list mipd_dscp_10");
    CHECK(strstr(k, "\n10.1.0.2,0.0.0.0/1\n") && strstr(k, "\n10.1.0.2,128.0.0.0/1\n"));
    free(k);
    ping("va", "10.1.0.2", "10.2.0.2");
    expect_tos(raw, "b (dscp 10 to anywhere)", "10.1.0.2", "10.2.0.2", 8, 10 << 2);
    enter("vr");
    CHECK_RC(dp_mark_put(r, &any), 0);

    step = "1,000 marks in one batch";
    enum { N = 1000 };
    static struct dp_mark ms[N];
    static struct dp_mark_op ops[N];
    for (unsigned i = 0; i < N; i++) {
        char a[32];
        snprintf(a, sizeof(a), "10.20.%u.%u", i / 250, i % 250 + 1);
        ms[i] = (struct dp_mark){.src = ip(a),
                                 .src_plen = 32,
                                 .dst = ip("172.16.50.0"),
                                 .dst_plen = 24,
                                 .dscp = i % 2 ? 46 : 34};
        ops[i] = (struct dp_mark_op){.op = DP_MARK_GET, .mark = &ms[i]};
    }
    CHECK_RC((int)dp_mark_many(r, ops, N), 0);
    k = run("ip netns exec vr sh -c 'ipset list mipd_dscp_46 | grep -c ,172.16.50.0/24; "
            "ipset list mipd_dscp_34 | grep -c ,172.16.50.0/24'");
    if (strcmp(k, "500\n500\n") != 0)
        fail("kernel set sizes after the batch: %s", k);
    free(k);
    for (unsigned i = 0; i < N; i++)
        ops[i] = (struct dp_mark_op){.op = DP_MARK_PUT, .mark = &ms[i]};
    CHECK_RC((int)dp_mark_many(r, ops, N), 0);
    k = marks_in_kernel("vr");
    if (k[0])
        fail("left after the batch removal:\n%s", k);
    free(k);
    CHECK(dp_count(r, -1) == 0);
    dp_free(r);

    step = "encapsulation only: IP-in-IP for the selected flow";
    /* b decapsulates a's IP-in-IP (plain Linux); its reply goes back plainly. */
    sh("ip -n vb link add ipa type ipip local 10.2.0.2 remote 10.1.0.2 && "
       "ip -n vb link set ipa up && "
       "ip netns exec vb sysctl -qw net.ipv4.conf.all.rp_filter=0 && "
       "ip netns exec vb sysctl -qw net.ipv4.conf.ipa.rp_filter=0 && "
       "true");
    enter("va");
    struct dataplane *a = dp_new_netlink();
    CHECK(a);
    char err[256] = "";
    struct vpn_dp *v = vpn_dp_new(a, VPN_NODE_FA, ip("10.1.0.2"), NULL, 0, err, sizeof(err));
    if (!v)
        fail("vpn_dp_new: %s", err);
    struct vpn_profile p;
    vpn_profile_init(&p);
    p.number = 7;
    p.sec = VPN_SEC_ENCAP;
    p.enc_alg = VPN_ENC_NULL;
    p.integ_alg = VPN_INTEG_NONE;
    p.leg = VPN_LEG_FA_PCN;
    p.gw_type = VPN_GW_DYNAMIC;
    CHECK(vpn_prefix_parse("10.1.0.2/32", &p.src));
    CHECK(vpn_prefix_parse("10.9.0.9/32", &p.dst));
    p.src_gw = ip("10.1.0.2");
    p.dst_gw = ip("10.2.0.2");
    CHECK_RC(vpn_dp_set(v, "s-encap", ip("10.1.0.2"), &p, 1, err, sizeof(err)), 0);
    k = run("ip -n va rule; ip -n va route show table 10000");
    if (!strstr(k, "900:\tfrom 10.1.0.2 to 10.9.0.9 lookup 10000") ||
        !strstr(k, "default dev mip0a020002"))
        fail("rule or route of the IP-in-IP path missing:\n%s", k);
    free(k);
    unsigned long tx0 = counter("va", "mip0a020002", "tx_packets");
    unsigned long rx0 = counter("vb", "ipa", "rx_packets");
    ping("va", "10.1.0.2", "10.9.0.9");
    unsigned long tx1 = counter("va", "mip0a020002", "tx_packets");
    unsigned long rx1 = counter("vb", "ipa", "rx_packets");
    if (tx1 < tx0 + 3 || rx1 < rx0 + 3)
        fail("IP-in-IP: tunnel tx %lu -> %lu, b's ipip rx %lu -> %lu", tx0, tx1, rx0, rx1);
    printf("encap-only: %lu packets through the IP-in-IP link a -> b\n", tx1 - tx0);
    /* Another source takes the plain route (the rule selects source AND destination). */
    if (system("ip netns exec va ping -q -c 1 -W 1 -I 10.1.0.3 10.9.0.9 >/dev/null 2>&1")) {
    }
    CHECK(counter("va", "mip0a020002", "tx_packets") == tx1);
    enter("va");
    vpn_dp_free(v);
    k = run("ip -n va rule | grep -c 10000; ip -n va link show mip0a020002 2>&1 | grep -c mtu");
    if (strcmp(k, "0\n0\n") != 0)
        fail("IP-in-IP path left behind: %s", k);
    free(k);
    CHECK(dp_count(a, -1) == 0);
    dp_free(a);
    vpn_profile_clear(&p);
    close(raw);
    sh("ip netns del va; ip netns del vr; ip netns del vb");
}

/* ---- part 2 ----------------------------------------------------------------------- */

#define HA "10.10.0.1"
#define FA "192.0.2.11"
#define GW "192.0.2.60"
#define PCN "192.0.2.70"
#define HOA "10.10.0.100"
#define CN1 "172.16.50.10"
#define CN2 "172.16.60.10"

static uint32_t next_spi = 0x9000;
static bool alloc(void *arg, uint32_t *up, uint32_t *down)
{
    (void)arg;
    *up = next_spi++;
    *down = next_spi++;
    return true;
}

static void db_profile(struct vpn_profile *p, uint32_t num, const char *dst, uint32_t up,
                       uint32_t down)
{
    vpn_profile_init(p);
    p->number = num;
    CHECK(vpn_profile_set_nai(p, "alice@home.example"));
    CHECK(vpn_prefix_parse("0.0.0.0/32", &p->src));
    CHECK(vpn_prefix_parse(dst, &p->dst));
    p->vpnshare = 1;
    p->spi_up = up;
    p->spi_down = down;
    p->dscp_up = 46;   /* EF */
    p->dscp_down = 34; /* AF41 */
    CHECK(vpn_profile_generate_keys(p));
}

static void hex(const uint8_t *k, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", k[i]);
}

/* The company gateway: a plain Linux box with static SAs towards the HA. */
static void gateway_sas(const struct vpn_profile *hagw)
{
    char eu[80], au[80], ed[80], ad[80];
    hex(hagw->key_up.enc, 16, eu);
    hex(hagw->key_up.integ, 32, au);
    hex(hagw->key_down.enc, 16, ed);
    hex(hagw->key_down.integ, 32, ad);
    sh("ip -n gw xfrm state add src " HA " dst " GW " proto esp spi 0x%x mode tunnel "
       "enc 'cbc(aes)' 0x%s auth-trunc 'hmac(sha256)' 0x%s 128 && "
       "ip -n gw xfrm state add src " GW " dst " HA " proto esp spi 0x%x mode tunnel "
       "enc 'cbc(aes)' 0x%s auth-trunc 'hmac(sha256)' 0x%s 128 && "
       "ip -n gw xfrm policy add src 172.16.50.0/24 dst " HOA "/32 dir out "
       "tmpl src " GW " dst " HA " proto esp spi 0x%x mode tunnel && "
       "ip -n gw xfrm policy add src " HOA "/32 dst 172.16.50.0/24 dir fwd "
       "tmpl src " HA " dst " GW " proto esp mode tunnel",
       hagw->spi_up, eu, au, hagw->spi_down, ed, ad, hagw->spi_down);
}

/* SA byte counters of a namespace: how many are above zero, out of how many. */
static void sa_counters(const char *ns, unsigned *up, unsigned *total)
{
    char *st = run("ip -n %s -s xfrm state", ns);
    *total = count_lines(st, "src ");
    *up = 0;
    for (const char *p = strstr(st, "(bytes)"); p; p = strstr(p + 1, "(bytes)")) {
        const char *q = p;
        while (q > st && q[-1] >= '0' && q[-1] <= '9')
            q--;
        if (strtoul(q, NULL, 10) > 0)
            (*up)++;
    }
    free(st);
}

/* Kernel policies and set elements of ns equal the shadow's. */
static void kernel_equals_shadow(struct dataplane *dp, const char *ns)
{
    char *out = run("ip -n %s xfrm policy", ns);
    unsigned want = dp_count(dp, DP_OBJ_XFRM_POLICY);
    if (count_lines(out, "src ") != want)
        fail("%s: %u policies in kernel, %u in shadow:\n%s", ns, count_lines(out, "src "), want,
             out);
    for (unsigned i = 0; i < dp_count(dp, -1); i++) {
        const struct dp_obj *o = dp_obj_at(dp, i);
        const struct dp_xfrm_policy *p = dp_obj_xfrm_policy(o);
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], line[160];
        inet_ntop(AF_INET, &o->a, a, sizeof(a));
        inet_ntop(AF_INET, &o->b, b, sizeof(b));
        if (p) {
            static const char *dirs[] = {"in", "out", "fwd"};
            snprintf(line, sizeof(line), "src %s/%u dst %s/%u \n\tdir %s priority %u", a,
                     p->src_plen, b, p->dst_plen, dirs[p->dir], p->priority);
            if (!strstr(out, line))
                fail("%s: policy \"%s\" not in kernel:\n%s", ns, line, out);
        } else if (o->kind == DP_OBJ_MARK) {
            char set[DP_MARK_SET_NAMSIZ];
            dp_mark_set_name((uint8_t)o->table, set);
            char *l = run("ip netns exec %s ipset list %s", ns, set);
            /* ipset prints a /32 net without its length */
            char el[96], sa[24], sb[24];
            snprintf(sa, sizeof(sa), o->plen == 32 ? "%s" : "%s/%u", a, o->plen);
            snprintf(sb, sizeof(sb), o->dplen == 32 ? "%s" : "%s/%u", b, o->dplen);
            snprintf(el, sizeof(el), "\n%s,%s\n", sa, sb);
            if (!strstr(l, el))
                fail("%s: element %s not in set %s:\n%s", ns, el + 1, set, l);
            free(l);
        }
    }
    free(out);
}

static void nothing_left(const char *ns)
{
    char *k = run("ip -n %s xfrm state; ip -n %s xfrm policy; ip -n %s rule | grep -v "
                  "'lookup \\(local\\|main\\|default\\)'; ip netns exec %s sh -c 'ipset list -n "
                  "| grep mipd_; iptables-legacy -w -t mangle -S FORWARD | grep mipd_'",
                  ns, ns, ns, ns);
    if (k[0])
        fail("%s: left after the VPN data plane was freed:\n%s", ns, k);
    free(k);
}

static void part2_nodes(void)
{
    step = "part 2 topology";
    /* Backbone bridge in bb; each node one veth onto it. */
    sh("for n in mn fa ha gw cn1 pcn cn2 bb; do ip netns add $n && ip -n $n link set lo up; done "
       "&& "
       "ip -n bb link add br0 type bridge && ip -n bb link set br0 up && "
       "for n in fa ha gw pcn; do ip link add bb0 netns $n type veth peer name $n netns bb && "
       "ip -n bb link set $n master br0 && ip -n bb link set $n up && ip -n $n link set bb0 up; "
       "done && "
       "ip -n fa addr add " FA "/24 dev bb0 && ip -n ha addr add 192.0.2.1/24 dev bb0 && "
       "ip -n gw addr add " GW "/24 dev bb0 && ip -n pcn addr add " PCN "/24 dev bb0 && "
       /* the MN on the FA's access link, with its home address */
       "ip link add acc0 netns fa type veth peer name m0 netns mn && "
       "ip -n fa addr add 10.21.0.1/24 dev acc0 && ip -n fa link set acc0 up && "
       "ip -n mn addr add " HOA "/32 dev m0 && ip -n mn link set m0 up && "
       "ip -n mn route add 10.21.0.1 dev m0 && ip -n mn route add default via 10.21.0.1 && "
       /* the HA's address on its home link */
       "ip -n ha link add home0 type dummy && ip -n ha addr add " HA "/24 dev home0 && "
       "ip -n ha link set home0 up && "
       /* the company LAN behind the gateway, the partner LAN behind the PCN */
       "ip link add lan netns gw type veth peer name e0 netns cn1 && "
       "ip -n gw addr add 172.16.50.1/24 dev lan && ip -n gw link set lan up && "
       "ip -n cn1 addr add " CN1 "/24 dev e0 && ip -n cn1 link set e0 up && "
       "ip -n cn1 route add default via 172.16.50.1 && "
       "ip link add lan netns pcn type veth peer name e0 netns cn2 && "
       "ip -n pcn addr add 172.16.60.1/24 dev lan && ip -n pcn link set lan up && "
       "ip -n cn2 addr add " CN2 "/24 dev e0 && ip -n cn2 link set e0 up && "
       "ip -n cn2 route add default via 172.16.60.1 && "
       /* backbone routing: home network at the HA, LANs at their gateways */
       "for n in fa gw pcn; do ip -n $n route add 10.10.0.0/24 via 192.0.2.1; done && "
       "for n in fa ha; do ip -n $n route add 172.16.50.0/24 via " GW "; done && "
       "ip -n fa route add 172.16.60.0/24 via " PCN " && "
       "for n in fa ha gw pcn; do ip netns exec $n sysctl -qw net.ipv4.ip_forward=1; "
       "ip netns exec $n sysctl -qw net.ipv4.conf.all.rp_filter=0; done");

    step = "plans (the AAAH's path decision)";
    struct cngw_table *t = cngw_new();
    char err[256] = "";
    struct cngw_entry e = {{ip("172.16.50.0"), 24}, ip(GW), VPN_GW_STATIC};
    CHECK(cngw_add(t, &e, err, sizeof(err)));
    e = (struct cngw_entry){{ip("172.16.60.0"), 24}, ip(PCN), VPN_GW_DYNAMIC};
    CHECK(cngw_add(t, &e, err, sizeof(err)));
    struct vpn_profile db[2];
    db_profile(&db[0], 1, "172.16.50.0/24", 0x1001, 0x2001);
    db_profile(&db[1], 2, CN2 "/32", 0x3001, 0x4001);
    struct vpn_path_input in = {.db = db,
                                .n_db = 2,
                                .fa = ip(FA),
                                .ha = ip(HA),
                                .hoa = ip(HOA),
                                .cngw = t,
                                .alloc_spi = alloc};
    struct vpn_path path;
    memset(&path, 0, sizeof(path));
    if (!vpn_path_decide(&in, &path, err, sizeof(err)))
        fail("path: %s", err);
    /* The HA's set: ha-gw, fa-ha (installed) and fa-pcn (for the PCN's BU);
     * the legs as ha.c / fa.c set them from the AVPs. */
    const struct vpn_profile *hagw = NULL;
    struct vpn_profile pcn_set[2];
    unsigned npcn = 0;
    for (unsigned i = 0; i < path.n_ha; i++) {
        if (path.ha[i].leg == VPN_LEG_HA_GW)
            hagw = &path.ha[i];
        if (path.ha[i].leg == VPN_LEG_FA_PCN)
            pcn_set[npcn++] = path.ha[i];
    }
    CHECK(hagw && npcn == 1);

    step = "the agents' state";
    /* gw: static SAs (the testbed's job in the scenarios) */
    gateway_sas(hagw);
    /* fa: the visitor as fa.c installs it, with reverse tunnelling */
    enter("fa");
    struct dataplane *fdp = dp_new_netlink();
    CHECK(fdp);
    struct in_addr any = {0};
    char tun[DP_IFNAMSIZ];
    CHECK_RC(dp_route_get(fdp, ip(HOA), 32, "acc0", any, 0), 0);
    CHECK(dp_tunnel_get(fdp, ip(FA), ip(HA), tun) > 0);
    CHECK_RC(dp_route_get(fdp, any, 0, tun, any, 100), 0);
    CHECK_RC(dp_rule_get(fdp, ip(HOA), 32, "acc0", 100, 1000), 0);
    struct vpn_dp *fv = vpn_dp_new(fdp, VPN_NODE_FA, ip(FA), NULL, 0, err, sizeof(err));
    CHECK(fv);
    CHECK_RC(vpn_dp_set(fv, "s1", ip(HOA), path.fa, path.n_fa, err, sizeof(err)), 0);
    /* ha: the binding as ha.c installs it */
    enter("ha");
    struct dataplane *hdp = dp_new_netlink();
    CHECK(hdp);
    CHECK(dp_tunnel_get(hdp, ip(HA), ip(FA), tun) > 0);
    CHECK_RC(dp_route_get(hdp, ip(HOA), 32, tun, any, 0), 0);
    struct vpn_dp *hv = vpn_dp_new(hdp, VPN_NODE_HA, ip(HA), NULL, 0, err, sizeof(err));
    CHECK(hv);
    if (vpn_dp_set(hv, "s1", ip(HOA), path.ha, path.n_ha, err, sizeof(err)) != 0)
        fail("ha: %s", err);
    /* pcn: the BU's profiles */
    enter("pcn");
    struct dataplane *pdp = dp_new_netlink();
    CHECK(pdp);
    struct vpn_dp *pv = vpn_dp_new(pdp, VPN_NODE_PCN, ip(PCN), NULL, 0, err, sizeof(err));
    CHECK(pv);
    if (vpn_dp_set(pv, "s1", ip(HOA), pcn_set, npcn, err, sizeof(err)) != 0)
        fail("pcn: %s", err);
    printf("objects: fa %u, ha %u, pcn %u\n", dp_count(fdp, -1), dp_count(hdp, -1),
           dp_count(pdp, -1));
    kernel_equals_shadow(fdp, "fa");
    kernel_equals_shadow(hdp, "ha");
    kernel_equals_shadow(pdp, "pcn");

    step = "scenario 1: mn -> cn1 through FA-HA and HA-GW ESP";
    int esp_ha = raw_socket("ha", IPPROTO_ESP), esp_fa = raw_socket("fa", IPPROTO_ESP);
    int esp_pcn = raw_socket("pcn", IPPROTO_ESP), esp_gw = raw_socket("gw", IPPROTO_ESP);
    int icmp_cn1 = raw_socket("cn1", IPPROTO_ICMP), icmp_cn2 = raw_socket("cn2", IPPROTO_ICMP);
    int icmp_mn = raw_socket("mn", IPPROTO_ICMP);
    /* IP-in-IP links: the FA's reverse tunnel to the HA, the HA's tunnel to
     * the FA.  Profile traffic must not use them (not even as ESP inside). */
    unsigned long ipip0 = counter("fa", "mip0a0a0001", "tx_packets");
    unsigned long ipip_fa_rx0 = counter("fa", "mip0a0a0001", "rx_packets");
    unsigned long ipip_ha0 = counter("ha", "mipc000020b", "tx_packets");
    ping("mn", HOA, CN1);
    /* Up-link class EF (46) on the inner packets and on every ESP header;
     * down-link AF41 (34) likewise (tunnel mode copies it, seed [0052]). */
    expect_tos(icmp_cn1, "cn1 inner up-link", HOA, CN1, 8, 0xb8);
    expect_tos(esp_ha, "ha outer ESP from fa", FA, HA, -1, 0xb8);
    expect_tos(esp_gw, "gw outer ESP from ha", HA, GW, -1, 0xb8);
    expect_tos(esp_fa, "fa outer ESP from ha", HA, FA, -1, 0x88);
    expect_tos(icmp_mn, "mn inner down-link", CN1, HOA, 0, 0x88);
    if (counter("fa", "mip0a0a0001", "tx_packets") != ipip0)
        fail("profile traffic left the FA through the reverse tunnel (IP-in-IP)");
    if (counter("ha", "mipc000020b", "tx_packets") != ipip_ha0 ||
        counter("fa", "mip0a0a0001", "rx_packets") != ipip_fa_rx0)
        fail("profile traffic left the HA through its IP-in-IP tunnel to the FA");

    step = "scenario 4: mn -> cn2 through FA-PCN ESP";
    ping("mn", HOA, CN2);
    expect_tos(icmp_cn2, "cn2 inner up-link", HOA, CN2, 8, 0xb8);
    expect_tos(esp_pcn, "pcn outer ESP from fa", FA, PCN, -1, 0xb8);
    expect_tos(esp_fa, "fa outer ESP from pcn", PCN, FA, -1, 0x88);
    expect_tos(icmp_mn, "mn inner down-link", CN2, HOA, 0, 0x88);
    if (counter("fa", "mip0a0a0001", "tx_packets") != ipip0)
        fail("profile traffic left the FA through the reverse tunnel (IP-in-IP)");

    step = "every SA carried traffic";
    const char *nodes[] = {"fa", "ha", "pcn", "gw"};
    for (int i = 0; i < 4; i++) {
        unsigned up, total;
        sa_counters(nodes[i], &up, &total);
        printf("%s: %u of %u SA byte counters > 0\n", nodes[i], up, total);
        if (up != total || total == 0)
            fail("%s: only %u of %u SAs carried traffic", nodes[i], up, total);
    }

    step = "traffic without a profile stays plain Mobile IP";
    /* A host on another company LAN is in no profile: IP-in-IP both ways. */
    sh("ip -n gw addr add 172.16.51.1/24 dev lan && "
       "for n in fa ha; do ip -n $n route add 172.16.51.0/24 via " GW "; done");
    ping("mn", HOA, "172.16.51.1");
    unsigned long up = counter("fa", "mip0a0a0001", "tx_packets") - ipip0;
    unsigned long down = counter("ha", "mipc000020b", "tx_packets") - ipip_ha0;
    if (up < 3 || down < 3)
        fail("traffic without a profile: %lu packets up through the reverse tunnel, %lu down "
             "through the HA's tunnel, want 3 each",
             up, down);
    printf("plain Mobile IP: %lu up, %lu down through IP-in-IP\n", up, down);

    step = "free: nothing left";
    enter("fa");
    vpn_dp_free(fv);
    dp_flush(fdp);
    dp_free(fdp);
    enter("ha");
    vpn_dp_free(hv);
    dp_flush(hdp);
    dp_free(hdp);
    enter("pcn");
    vpn_dp_free(pv);
    dp_free(pdp);
    nothing_left("fa");
    nothing_left("ha");
    nothing_left("pcn");
    close(esp_ha);
    close(esp_fa);
    close(esp_pcn);
    close(esp_gw);
    close(icmp_cn1);
    close(icmp_cn2);
    close(icmp_mn);
    vpn_path_free(&path);
    vpn_profile_clear(&db[0]);
    vpn_profile_clear(&db[1]);
    cngw_free(t);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (geteuid() != 0) {
        fprintf(stderr, "test_vpn_dataplane: skipped (not root)\n");
        return 77;
    }
    if (system("ip link add mipprobe0 type ipip remote 192.0.2.1 local 192.0.2.2 2>/dev/null && "
               "ip link del mipprobe0") != 0) {
        fprintf(stderr, "test_vpn_dataplane: skipped (no ipip in this kernel)\n");
        return 77;
    }
    cleanup();
    /* The DSCP backend needs hash:net,net sets and the DSCP target (DESIGN §8). */
    if (system("ip netns add vr && ip netns exec vr sh -c 'ipset create mipd_probe hash:net,net "
               "&& iptables-legacy -w -t mangle -A FORWARD -m set --match-set mipd_probe src,dst "
               "-j DSCP --set-dscp 1' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_vpn_dataplane: skipped (no ipset hash:net,net or xt_DSCP here)\n");
        cleanup();
        return 77;
    }
    if (system("ip netns del vr")) {
    }
    part1_marks_and_encap();
    part2_nodes();
    cleanup();
    printf("test_vpn_dataplane: PASS\n");
    return 0;
}
