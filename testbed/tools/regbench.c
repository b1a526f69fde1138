/*
 * regbench: many mobile nodes registering at once through a foreign agent in
 * AAA mode (testbed/bench register, DESIGN §11).
 *
 *   regbench --iface mn0 --ha 10.10.0.1 --count N --nai-fmt 'bench%u@home.example'
 *            --hoa-base 10.10.1.1 --spi 3 --key HEX [--window W] [--lifetime S]
 *            [--timeout-ms T] [--dereg]
 *
 * Runs in a namespace on the FA's access link.  It solicits an agent
 * advertisement, then sends N registration requests as N different mobile
 * nodes (NAI from the format, home address base+i, RFC 3012 MN-AAA
 * authentication over the FA's latest challenge; each request leaves from its
 * home address, so the namespace must own the range, e.g. a `local` route on
 * lo), at most W outstanding.  Each reply is matched by identification; the
 * time from request to reply is its latency.  --dereg then deregisters all of
 * them the same way (lifetime 0).  One JSON line per phase on stdout:
 *   {"phase":"register","sent":N,"accepted":A,"denied":{"67":n},"timeouts":T,
 *    "elapsed_s":..,"rate":..,"p50_ms":..,"p99_ms":..}
 * No retransmission: a request unanswered after --timeout-ms counts as a
 * timeout.  Exit 0 iff every request of every phase was accepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mip_proto.h"

#define MAX_KEY 64

struct mn {
    uint64_t ident;
    double sent_ms;
    int state; /* 0 idle, 1 outstanding, 2 done */
};

static struct {
    const char *iface, *nai_fmt;
    struct in_addr ha, hoa_base, fa, coa;
    uint32_t spi;
    uint8_t key[MAX_KEY];
    size_t keylen;
    unsigned count, window, lifetime, timeout_ms;
    bool dereg;
    int raw, udp;
    uint8_t chal[MIP_CHALLENGE_MAX];
    size_t chal_len;
    bool have_agent;
    struct mn *mns;
    double *lat;
    unsigned n_lat;
    unsigned denied[256];
    unsigned accepted, timeouts, outstanding, next;
    uint64_t last_ident;
} g;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int hexkey(const char *s)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > MAX_KEY || n == 0)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        g.key[i] = (uint8_t)v;
    }
    g.keylen = n / 2;
    return 0;
}

static struct in_addr hoa_of(unsigned i)
{
    struct in_addr a = {.s_addr = htonl(ntohl(g.hoa_base.s_addr) + i)};
    return a;
}

static void read_adverts(void)
{
    uint8_t buf[2048];
    ssize_t n;
    while ((n = recv(g.raw, buf, sizeof(buf), 0)) > 0) {
        size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
        struct mip_agent_adv a;
        if (n < 20 || (size_t)n <= ihl || buf[ihl] != 9 ||
            mip_get_agent_adv(buf + ihl, (size_t)n - ihl, &a) != MIP_OK)
            continue;
        if (!(a.flags & MIP_ADV_FLAG_F) || !a.n_coa || !a.has_challenge)
            continue;
        memcpy(&g.fa.s_addr, buf + 12, 4);
        g.coa = a.coa[0];
        g.chal_len = a.challenge_len;
        memcpy(g.chal, a.challenge, a.challenge_len);
        g.have_agent = true;
    }
}

static void solicit(void)
{
    uint8_t buf[64];
    size_t n = mip_put_agent_solicit(buf, sizeof(buf));
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
    if (n)
        sendto(g.raw, buf, n, 0, (struct sockaddr *)&d, sizeof(d));
}

static void send_rrq(unsigned i, bool dereg)
{
    struct mn *m = &g.mns[i];
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.lifetime = dereg ? 0 : (uint16_t)g.lifetime;
    rq.home_addr = hoa_of(i);
    rq.home_agent = g.ha;
    rq.care_of_addr = g.coa;
    /* Identifications strictly increase across all our requests: each NAI's
     * HA replay check only needs its own to increase (RFC 5944 §5.7). */
    rq.identification = mip_ident_now();
    if (rq.identification <= g.last_ident)
        rq.identification = g.last_ident + 1;
    g.last_ident = rq.identification;
    char nai[128];
    snprintf(nai, sizeof(nai), g.nai_fmt, i);
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, nai, strlen(nai));
    mip_put_challenge(&w, g.chal, g.chal_len);
    mip_put_mn_aaa_auth(&w, g.spi, g.key, g.keylen, g.chal, g.chal_len);
    if (w.err != MIP_OK) {
        fprintf(stderr, "regbench: encode: %s\n", mip_err_str(w.err));
        exit(1);
    }
    /* From the home address, to the FA (RFC 5944 §3.6.1.1). */
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(MIP_UDP_PORT),
                            .sin_addr = g.fa};
    struct iovec iov = {.iov_base = buf, .iov_len = w.len};
    union {
        char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cb;
    memset(&cb, 0, sizeof(cb));
    struct msghdr mh = {.msg_name = &d, .msg_namelen = sizeof(d), .msg_iov = &iov,
                        .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi = {.ipi_spec_dst = rq.home_addr};
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    m->ident = rq.identification;
    m->sent_ms = now_ms();
    m->state = 1;
    g.outstanding++;
    if (sendmsg(g.udp, &mh, 0) < 0) {
        fprintf(stderr, "regbench: send for %s: %s\n", nai, strerror(errno));
        m->state = 2;
        g.outstanding--;
        g.timeouts++;
    }
}

static void read_replies(void)
{
    uint8_t buf[MIP_MAX_MSG + 1];
    ssize_t n;
    while ((n = recv(g.udp, buf, sizeof(buf), 0)) > 0) {
        struct mip_reg_reply rp;
        if (mip_get_reg_reply(buf, (size_t)n, &rp, NULL) != MIP_OK)
            continue;
        /* The home address names the MN; the identification the request. */
        uint32_t i = ntohl(rp.home_addr.s_addr) - ntohl(g.hoa_base.s_addr);
        if (i >= g.count)
            continue;
        struct mn *m = &g.mns[i];
        if (m->state != 1 || (uint32_t)m->ident != (uint32_t)rp.identification)
            continue;
        m->state = 2;
        g.outstanding--;
        if (rp.code <= MIP_CODE_ACCEPTED_NO_SIMUL) {
            g.accepted++;
            g.lat[g.n_lat++] = now_ms() - m->sent_ms;
        } else {
            g.denied[rp.code]++;
        }
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool run_phase(const char *name, bool dereg)
{
    memset(g.denied, 0, sizeof(g.denied));
    g.accepted = g.timeouts = g.outstanding = g.next = g.n_lat = 0;
    for (unsigned i = 0; i < g.count; i++)
        g.mns[i].state = 0;
    double t0 = now_ms();
    unsigned done = 0;
    while (done < g.count) {
        while (g.next < g.count && g.outstanding < g.window)
            send_rrq(g.next++, dereg);
        struct pollfd p[2] = {{.fd = g.udp, .events = POLLIN}, {.fd = g.raw, .events = POLLIN}};
        poll(p, 2, 20);
        if (p[1].revents)
            read_adverts(); /* keep the newest challenge */
        if (p[0].revents)
            read_replies();
        double now = now_ms();
        done = 0;
        for (unsigned i = 0; i < g.next; i++) {
            struct mn *m = &g.mns[i];
            if (m->state == 1 && now - m->sent_ms > g.timeout_ms) {
                m->state = 2;
                g.outstanding--;
                g.timeouts++;
            }
            done += m->state == 2;
        }
    }
    double el = (now_ms() - t0) / 1e3;
    qsort(g.lat, g.n_lat, sizeof(double), cmp_d);
    printf("{\"phase\":\"%s\",\"sent\":%u,\"accepted\":%u,\"timeouts\":%u,\"denied\":{", name,
           g.count, g.accepted, g.timeouts);
    bool first = true;
    for (int c = 0; c < 256; c++)
        if (g.denied[c]) {
            printf("%s\"%d\":%u", first ? "" : ",", c, g.denied[c]);
            first = false;
        }
    printf("},\"elapsed_s\":%.3f,\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", el,
           el > 0 ? g.accepted / el : 0, g.n_lat ? g.lat[(g.n_lat - 1) / 2] : 0,
           g.n_lat ? g.lat[(size_t)((g.n_lat - 1) * 0.99)] : 0);
    fflush(stdout);
    return g.accepted == g.count;
}

static void usage(void)
{
    fprintf(stderr, "usage: regbench --iface IF --ha ADDR --count N --nai-fmt FMT --hoa-base ADDR\n"
                    "                --spi N --key HEX [--window W] [--lifetime S]\n"
                    "                [--timeout-ms T] [--dereg]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    g.window = 32;
    g.lifetime = 600;
    g.timeout_ms = 5000;
    static const struct option opts[] = {
        {"iface", required_argument, NULL, 'i'},    {"ha", required_argument, NULL, 'a'},
        {"count", required_argument, NULL, 'n'},    {"nai-fmt", required_argument, NULL, 'f'},
        {"hoa-base", required_argument, NULL, 'b'}, {"spi", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},      {"window", required_argument, NULL, 'w'},
        {"lifetime", required_argument, NULL, 'l'}, {"timeout-ms", required_argument, NULL, 't'},
        {"dereg", no_argument, NULL, 'd'},          {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'i': g.iface = optarg; break;
        case 'a': if (inet_pton(AF_INET, optarg, &g.ha) != 1) usage(); break;
        case 'n': g.count = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': g.nai_fmt = optarg; break;
        case 'b': if (inet_pton(AF_INET, optarg, &g.hoa_base) != 1) usage(); break;
        case 's': g.spi = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'k': if (hexkey(optarg)) usage(); break;
        case 'w': g.window = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'l': g.lifetime = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': g.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': g.dereg = true; break;
        default: usage();
        }
    }
    if (!g.iface || !g.count || !g.nai_fmt || !g.hoa_base.s_addr || !g.ha.s_addr || !g.keylen ||
        !g.window || g.lifetime > 0xffff || !strstr(g.nai_fmt, "%u"))
        usage();
    g.mns = calloc(g.count, sizeof(*g.mns));
    g.lat = calloc(g.count, sizeof(double));
    size_t ifl = strlen(g.iface) + 1;
    int one = 1;
    g.raw = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
    g.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(MIP_UDP_PORT)};
    int rcvbuf = 4 << 20;
    if (!g.mns || !g.lat || g.raw < 0 || g.udp < 0 ||
        setsockopt(g.raw, SOL_SOCKET, SO_BINDTODEVICE, g.iface, (socklen_t)ifl) ||
        setsockopt(g.raw, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) ||
        setsockopt(g.udp, SOL_SOCKET, SO_BINDTODEVICE, g.iface, (socklen_t)ifl) ||
        setsockopt(g.udp, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) ||
        bind(g.udp, (struct sockaddr *)&sa, sizeof(sa))) {
        fprintf(stderr, "regbench: sockets on %s: %s\n", g.iface, strerror(errno));
        return 1;
    }
    setsockopt(g.udp, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    for (int t = 0; t < 50 && !g.have_agent; t++) {
        if (t % 10 == 0)
            solicit();
        struct pollfd p = {.fd = g.raw, .events = POLLIN};
        poll(&p, 1, 100);
        read_adverts();
    }
    if (!g.have_agent) {
        fprintf(stderr, "regbench: no foreign agent advertisement with a challenge on %s\n",
                g.iface);
        return 1;
    }
    bool ok = run_phase("register", false);
    if (g.dereg)
        ok = run_phase("deregister", true) && ok;
    free(g.mns);
    free(g.lat);
    return ok ? 0 : 1;
}
