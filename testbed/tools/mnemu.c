/*
 * mnemu: a Mobile IPv4 mobile node emulator for the testbed (DESIGN §9).
 *
 *   mnemu --iface mn0 --nai alice@home.example --hoa 10.10.0.100 --ha 10.10.0.1
 *         --spi 256 --key HEX [--lifetime 60] [--reverse-tunnel]
 *         --ctl /run/tb/mnemu-mn1.sock [--events FILE] [--name mn1]
 *
 * Runs inside the mobile node's namespace.  It listens to agent advertisements
 * on the interface (RFC 5944 §2.1), solicits when the link comes up, detects
 * movement (an advertisement from another agent or care-of address, the
 * advertisement lifetime running out, or the link going away), points its
 * default route at the foreign agent and registers through it (RFC 5944 §3.3:
 * NAI 131, MN-FA challenge 132 from the latest advertisement, MN-HA 32 with
 * HMAC-MD5; T bit when asked for and advertised).  Requests are retransmitted
 * after 1, 2 and 4 s (--retx-ms sets the first interval: a path through AAA
 * relays takes longer than one to a home agent, RFC 5944 §3.6.3), then it
 * gives up and reports; replies are matched by the
 * low 32 bits of the identification and their MN-HA authenticator is checked.
 * It re-registers at 2/3 of the granted lifetime and deregisters on command.
 *
 * AAA mode (--mn-aaa SPI:HEXKEY, aaad/FLOWS.md): the MN shares a key with its
 * home AAA, not with its HA.  Every request carries the NAI, the challenge of
 * the latest advertisement and the MN-AAA authenticator (RFC 3012 §5, §8, as
 * mipd/proto computes it and aaad/aaah.c verifies it); the HA's reply brings
 * the RFC 3957 key generation nonce, from which the MN derives its MN-HA key
 * (HMAC-SHA1(MN-AAA key, nonce || NAI), mip_mn_ha_key_derive) and checks the
 * reply's MN-HA authenticator (HMAC-SHA1, the AAA's algorithm 2).  Later
 * requests carry an MN-HA authenticator with that key too.  With
 * --hoa 0.0.0.0 the home address comes from the AAA's pool: it is taken from
 * the accepted reply (status "hoa"); while the MN has no address its requests
 * go to the link broadcast address (a source of 0.0.0.0 is only accepted by
 * the FA's kernel for a limited-broadcast destination, as for DHCP) and the FA
 * answers by link broadcast.
 *
 * Moves (aaad/FLOWS.md "Moves"): a request for a new care-of address while
 * the binding at another FA is still live (its granted lifetime not run out)
 * carries the previous-FA notification CVSE naming that FA's care-of address
 * (mip_put_prev_fa), before the authenticators so they cover it; --no-prev-fa
 * leaves it out ("move detected without notification", DESIGN §7).  The
 * control command service-update re-registers at the current FA with the
 * service-update NVSE (RELOAD-PROFILES, mip_put_service_update; seed [0091]);
 * retransmissions, and a request a move starts while it is unanswered, carry
 * it too.  --vendor sets the vendor ID of both (default 32473, as the agents).
 *
 * Gratuitous ARP: the testbed gives the MN a new MAC on every attach, so on
 * every (re)attachment (link up, a new agent heard, a home address from the
 * pool) the MN announces its home address with a gratuitous ARP request
 * (sender = target = home address, as mipd's dp_garp), and an FA it returns to
 * replaces its stale neighbour entry at once instead of sending the reply and
 * the first packets to the old MAC.  (RFC 5944 §4.6 has an MN away from home
 * broadcast no ARP; the testbed's access links hold only the MN and its FA,
 * and the FA delivers to visitors by ARP, so this is deliberate here.)
 *
 * Control socket (UNIX stream, one command per line, plain word or
 * {"cmd":"..."}): status | register | deregister | service-update | quit.  Replies are one JSON
 * line; `mnemu --ctl SOCKET --query CMD` is the matching client (prints the
 * reply, exits 0 iff it says "ok":true).  Events go to --events as JSON lines
 * {"t":REALTIME,"mono":MONOTONIC, "mn":NAME,"event":...} for timelines and registration-time
 * metrics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mip_proto.h"

#define MAX_KEY 64
#define MAX_CLIENTS 8
#define MAX_TRIES 3      /* transmissions of one request: waits of 1, 2, 4 s */
#define SOLICIT_MAX 3    /* solicitations after the link comes up, 1 s apart */
#define LINK_POLL_MS 200 /* belt and braces next to the netlink link events */

enum state {
    ST_DETACHED,    /* no link or no agent heard yet */
    ST_REGISTERING, /* request outstanding for a new location */
    ST_REGISTERED,  /* binding accepted (a refresh may be outstanding) */
    ST_DEREGISTERING,
    ST_DEREGISTERED, /* binding removed on request; stays until "register" */
    ST_DENIED,       /* last request denied; waits for a move or "register" */
    ST_FAILED,       /* no reply after every retransmission */
    ST_EXPIRED,      /* granted lifetime ran out without a refresh */
};
static const char *state_name[] = {"detached",     "registering", "registered", "deregistering",
                                   "deregistered", "denied",      "failed",     "expired"};

struct agent {
    bool valid;
    struct in_addr src;    /* the advertisement's source: where requests go */
    struct in_addr router; /* default router */
    struct in_addr coa;
    uint16_t flags, reg_lifetime, seq, adv_lifetime;
    uint64_t expires_ms;
    bool has_chal;
    uint8_t chal_len;
    uint8_t chal[MIP_CHALLENGE_MAX];
};

struct pending {
    bool active, dereg;
    int tries;
    uint64_t next_ms;
    double first_sent_ms;
    uint32_t ids[MAX_TRIES + 2];
    int n_ids;
    int resyncs;
    struct in_addr coa, fa;
    struct in_addr prev_fa; /* 0.0.0.0: no previous-FA CVSE */
    bool service_update;    /* carries the service-update NVSE */
};

static struct {
    /* options */
    const char *iface, *nai, *ctl_path, *events_path, *name;
    struct in_addr hoa, ha;
    struct in_addr hoa_cfg; /* as given: 0.0.0.0 = from the AAA's pool */
    /* MN-HA SA: from the options (plain) or derived with RFC 3957 (AAA mode) */
    bool have_sa;
    uint32_t spi;
    uint8_t key[MAX_KEY];
    size_t keylen;
    enum mip_auth_alg alg;
    /* AAA mode: MN-AAA SA (RFC 3012) */
    bool aaa;
    uint32_t aaa_spi;
    uint8_t aaa_key[MAX_KEY];
    size_t aaa_keylen;
    unsigned lifetime;
    unsigned retx_ms; /* first retransmission interval (doubles each try) */
    bool reverse;
    bool prev_fa_notify; /* previous-FA CVSE on a move (--no-prev-fa: off) */
    uint32_t vendor_id;
    /* sockets */
    int raw, udp, nl_events, nl_req, ctl;
    int clients[MAX_CLIENTS];
    char cbuf[MAX_CLIENTS][512];
    size_t clen[MAX_CLIENTS];
    FILE *ev;
    /* link */
    unsigned ifindex;
    bool link_usable;
    int solicits_left;
    uint64_t next_solicit_ms;
    /* mobility state */
    enum state st;
    bool want_registered;
    struct agent ag;
    struct pending pend;
    struct in_addr reg_coa, reg_fa;
    bool reg_reverse;
    unsigned granted;
    uint64_t expire_ms, rereg_ms;
    int last_code; /* -1: none yet */
    uint64_t registrations, rrq_sent, timeouts, adverts, bad_adverts, bad_replies;
    uint64_t prev_fa_sent, service_update_sent, garp_sent; /* requests / ARPs sent */
    struct in_addr last_prev_fa; /* named by the latest request that had one */
    int service_update_code;     /* reply code to the last service update; -1: none */
    bool service_update_wanted;  /* asked for, not answered yet */
    double last_reg_ms;
    int32_t clock_offset; /* seconds, learnt from a 133 reply (RFC 5944 §5.7) */
    uint64_t last_ident;  /* identification of the previous request */
} g = {.raw = -1,
       .udp = -1,
       .nl_events = -1,
       .nl_req = -1,
       .ctl = -1,
       .last_code = -1,
       .service_update_code = -1,
       .prev_fa_notify = true,
       .vendor_id = MIP_DEFAULT_VENDOR_ID,
       .lifetime = 60,
       .retx_ms = 1000,
       .want_registered = true,
       .last_reg_ms = -1};

static volatile sig_atomic_t g_quit;

static void on_signal(int sig)
{
    (void)sig;
    g_quit = 1;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
static double mono_ms_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A ring of buffers: status() formats up to 8 addresses in one call. */
#define IP_STR_RING 12
static const char *ip_str(struct in_addr a)
{
    static char bufs[IP_STR_RING][INET_ADDRSTRLEN];
    static int i;
    i = (i + 1) % IP_STR_RING;
    inet_ntop(AF_INET, &a, bufs[i], sizeof(bufs[i]));
    return bufs[i];
}

/* One event line; fmt gives extra JSON members (starting with ',') or "". */
static void event(const char *name, const char *fmt, ...)
{
    if (!g.ev)
        return;
    struct timespec rt, mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    fprintf(g.ev, "{\"t\":%lld.%06ld,\"mono\":%lld.%06ld,\"mn\":\"%s\",\"event\":\"%s\"",
            (long long)rt.tv_sec, rt.tv_nsec / 1000, (long long)mt.tv_sec, mt.tv_nsec / 1000,
            g.name, name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g.ev, fmt, ap);
    va_end(ap);
    fputs("}\n", g.ev);
    fflush(g.ev);
}

static void set_state(enum state s)
{
    if (s != g.st)
        event("state", ",\"from\":\"%s\",\"to\":\"%s\"", state_name[g.st], state_name[s]);
    g.st = s;
}

/* --- netlink: link events and the default route --------------------------- */

static int nl_open(unsigned groups)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void nl_attr(struct nlmsghdr *n, size_t cap, unsigned short type, const void *d, size_t len)
{
    size_t off = NLMSG_ALIGN(n->nlmsg_len);
    if (off + RTA_SPACE(len) > cap)
        return;
    struct rtattr *a = (struct rtattr *)((char *)n + off);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), d, len);
    n->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
}

/* Sends one request and waits (1 s at most) for its acknowledgement: 0 or -errno. */
static int nl_transact(const struct nlmsghdr *n)
{
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    if (sendto(g.nl_req, n, n->nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k)) < 0)
        return -errno;
    char buf[1024];
    struct pollfd p = {.fd = g.nl_req, .events = POLLIN};
    if (poll(&p, 1, 1000) <= 0)
        return -ETIMEDOUT;
    ssize_t len = recv(g.nl_req, buf, sizeof(buf), 0);
    if (len < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        return -EIO;
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
    if (h->nlmsg_type == NLMSG_ERROR)
        return ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
    return 0;
}

/* ip route replace default via GW dev IFACE onlink */
static int set_default_route(struct in_addr gw)
{
    struct {
        struct nlmsghdr n;
        struct rtmsg r;
        char attrs[64];
    } req;
    memset(&req, 0, sizeof(req));
    req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.n.nlmsg_type = RTM_NEWROUTE;
    req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
    req.n.nlmsg_seq = (uint32_t)mono_ms();
    req.r.rtm_family = AF_INET;
    req.r.rtm_table = RT_TABLE_MAIN;
    req.r.rtm_protocol = RTPROT_STATIC;
    req.r.rtm_scope = RT_SCOPE_UNIVERSE;
    req.r.rtm_type = RTN_UNICAST;
    req.r.rtm_flags = RTNH_F_ONLINK;
    uint32_t oif = g.ifindex;
    nl_attr(&req.n, sizeof(req), RTA_GATEWAY, &gw.s_addr, 4);
    nl_attr(&req.n, sizeof(req), RTA_OIF, &oif, 4);
    return nl_transact(&req.n);
}

/* ip addr replace HOA/32 dev IFACE: a home address from the pool is the MN's own address from
 * the reply on (RFC 4004 §1.1: the MN configures what its home network assigned), so replies
 * to it are accepted and it is the source of what the MN sends. */
static int set_home_address(struct in_addr hoa)
{
    struct {
        struct nlmsghdr n;
        struct ifaddrmsg a;
        char attrs[64];
    } req;
    memset(&req, 0, sizeof(req));
    req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    req.n.nlmsg_type = RTM_NEWADDR;
    req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
    req.n.nlmsg_seq = (uint32_t)mono_ms();
    req.a.ifa_family = AF_INET;
    req.a.ifa_prefixlen = 32;
    req.a.ifa_scope = RT_SCOPE_UNIVERSE;
    req.a.ifa_index = g.ifindex;
    nl_attr(&req.n, sizeof(req), IFA_LOCAL, &hoa.s_addr, 4);
    nl_attr(&req.n, sizeof(req), IFA_ADDRESS, &hoa.s_addr, 4);
    return nl_transact(&req.n);
}

/* --- link and sockets ------------------------------------------------------ */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int open_link_sockets(void)
{
    int one = 1, zero = 0;
    size_t ifl = strlen(g.iface) + 1;
    g.raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP);
    if (g.raw < 0 || setsockopt(g.raw, SOL_SOCKET, SO_BINDTODEVICE, g.iface, (socklen_t)ifl) < 0)
        goto fail;
    setsockopt(g.raw, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
    setsockopt(g.raw, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero));
    int ttl = 1;
    setsockopt(g.raw, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
    setsockopt(g.raw, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));

    g.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (g.udp < 0 || setsockopt(g.udp, SOL_SOCKET, SO_BINDTODEVICE, g.iface, (socklen_t)ifl) < 0)
        goto fail;
    setsockopt(g.udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(g.udp, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
    /* The home address is put on the new interface just after it appears. */
    setsockopt(g.udp, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(MIP_UDP_PORT), .sin_addr = g.hoa_cfg};
    if (bind(g.udp, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto fail;
    return 0;
fail:
    event("error", ",\"what\":\"link sockets\",\"errno\":\"%s\"", strerror(errno));
    close_fd(&g.raw);
    close_fd(&g.udp);
    return -1;
}

static void send_solicit(void)
{
    if (g.raw < 0)
        return;
    uint8_t buf[64];
    size_t n = mip_put_agent_solicit(buf, sizeof(buf));
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
    if (n && sendto(g.raw, buf, n, 0, (struct sockaddr *)&d, sizeof(d)) >= 0)
        event("solicit", "");
}

/* Gratuitous ARP request for the home address on the interface (see the top):
 * sender IP = target IP = home address, sender MAC = ours, to broadcast. */
static int garp(void)
{
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd < 0)
        return -errno;
    int r = 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", g.iface);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        r = -errno;
        goto out;
    }
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
        r = -EOPNOTSUPP; /* no ARP on this link type */
        goto out;
    }
    uint8_t pkt[28];
    struct arphdr *h = (struct arphdr *)pkt;
    h->ar_hrd = htons(ARPHRD_ETHER);
    h->ar_pro = htons(ETH_P_IP);
    h->ar_hln = ETH_ALEN;
    h->ar_pln = 4;
    h->ar_op = htons(ARPOP_REQUEST);
    memcpy(pkt + 8, ifr.ifr_hwaddr.sa_data, ETH_ALEN); /* sender MAC */
    memcpy(pkt + 14, &g.hoa.s_addr, 4);                /* sender IP */
    memset(pkt + 18, 0, ETH_ALEN);                     /* target MAC: unused */
    memcpy(pkt + 24, &g.hoa.s_addr, 4);                /* target IP */
    struct sockaddr_ll ll;
    memset(&ll, 0, sizeof(ll));
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ARP);
    ll.sll_ifindex = (int)g.ifindex;
    ll.sll_halen = ETH_ALEN;
    memset(ll.sll_addr, 0xff, ETH_ALEN);
    if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
        r = -errno;
out:
    close(fd);
    return r;
}

static void send_garp(const char *why)
{
    if (!g.ifindex || !g.link_usable || g.hoa.s_addr == 0)
        return; /* no link, or no home address yet (pool mode) */
    if (g.hoa_cfg.s_addr == 0) {
        /* Pool mode: the link may be new (a move), so the address is (re)configured. */
        int a = set_home_address(g.hoa);
        event("hoa_addr", ",\"hoa\":\"%s\",\"result\":\"%s\"", ip_str(g.hoa),
              a ? strerror(-a) : "ok");
    }
    int r = garp();
    if (r == 0)
        g.garp_sent++;
    event("garp", ",\"hoa\":\"%s\",\"why\":\"%s\",\"result\":\"%s\"", ip_str(g.hoa), why,
          r ? strerror(-r) : "ok");
}

static void forget_agent(void)
{
    g.ag.valid = false;
    g.pend.active = false;
}

static void check_link(void)
{
    unsigned idx = if_nametoindex(g.iface);
    bool usable = false;
    if (idx) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", g.iface);
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
            usable = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
        if (s >= 0)
            close(s);
        /* IFF_RUNNING is also set while the operational state is still
         * "unknown" (a link just raised, before the kernel has looked at its
         * carrier): wait for "up", or the first solicitation is lost. */
        char path[64], state[16] = "";
        snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", g.iface);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(state, sizeof(state), f))
                state[0] = 0;
            fclose(f);
            usable = usable && !strncmp(state, "up", 2);
        }
    }
    if (idx != g.ifindex) {
        if (g.ifindex) {
            event("link_down", ",\"ifindex\":%u", g.ifindex);
            close_fd(&g.raw);
            close_fd(&g.udp);
            forget_agent();
            if (g.st == ST_REGISTERED || g.st == ST_REGISTERING)
                set_state(ST_DETACHED);
        }
        g.ifindex = idx;
        g.link_usable = false;
        if (idx)
            open_link_sockets();
    }
    bool up = usable && !g.link_usable;
    if (up) {
        event("link_up", ",\"ifindex\":%u", idx);
        g.solicits_left = SOLICIT_MAX;
        g.next_solicit_ms = mono_ms();
    }
    g.link_usable = usable;
    if (up)
        send_garp("link_up");
}

static void drain_netlink(void)
{
    char buf[8192];
    while (recv(g.nl_events, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    check_link();
}

/* --- registration ---------------------------------------------------------- */

static bool iface_has_ipv4(void)
{
    struct ifaddrs *ifa;
    bool found = false;
    if (getifaddrs(&ifa) < 0)
        return true; /* cannot tell: unicast as usual */
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp(i->ifa_name, g.iface))
            found = true;
    freeifaddrs(ifa);
    return found;
}

static void send_rrq(void)
{
    struct pending *p = &g.pend;
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    if (g.reverse && (g.ag.flags & MIP_ADV_FLAG_T) && !p->dereg)
        rq.flags |= MIP_RRQ_FLAG_T;
    unsigned life = g.lifetime;
    if (g.ag.reg_lifetime != 0xffff && life > g.ag.reg_lifetime)
        life = g.ag.reg_lifetime;
    rq.lifetime = p->dereg ? 0 : (uint16_t)life;
    rq.home_addr = g.hoa;
    rq.home_agent = g.ha;
    rq.care_of_addr = p->coa;
    rq.identification = mip_ident_now() + ((uint64_t)(uint32_t)g.clock_offset << 32);
    /* RFC 5944 §5.7: each request's identification must exceed the last one the
     * HA accepted.  Two requests within the same second share the timestamp's
     * high 32 bits, so random low bits could go backwards: step past the last. */
    if ((rq.identification >> 32) == (g.last_ident >> 32) && rq.identification <= g.last_ident)
        rq.identification = g.last_ident + 1;
    g.last_ident = rq.identification;

    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, g.nai, strlen(g.nai));
    /* Ours before every authenticator, which thus covers them (mip_proto.h). */
    if (p->prev_fa.s_addr)
        mip_put_prev_fa(&w, g.vendor_id, p->prev_fa);
    if (p->service_update)
        mip_put_service_update(&w, g.vendor_id, MIP_SERVICE_UPDATE_RELOAD_PROFILES);
    if (g.ag.has_chal)
        mip_put_challenge(&w, g.ag.chal, g.ag.chal_len);
    if (g.have_sa)
        mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, g.spi, g.alg, g.key, g.keylen);
    /* RFC 3012 §5: the MN-AAA authenticator comes last and covers the
     * challenge; without a challenge the FA denies (105). */
    if (g.aaa && g.ag.has_chal)
        mip_put_mn_aaa_auth(&w, g.aaa_spi, g.aaa_key, g.aaa_keylen, g.ag.chal, g.ag.chal_len);
    if (w.err != MIP_OK) {
        event("error", ",\"what\":\"encode\",\"err\":\"%s\"", mip_err_str(w.err));
        return;
    }
    struct sockaddr_in d = {
        .sin_family = AF_INET, .sin_port = htons(MIP_UDP_PORT), .sin_addr = p->fa};
    /* No address on the link yet (pool mode): our source is 0.0.0.0, which
     * the FA's kernel only takes for the limited-broadcast destination (as
     * DHCP relies on). */
    if (!iface_has_ipv4())
        d.sin_addr.s_addr = htonl(INADDR_BROADCAST);
    int err = 0;
    if (p->tries == 0 && p->resyncs == 0)
        p->first_sent_ms = mono_ms_f();
    if (g.udp < 0 || sendto(g.udp, buf, w.len, 0, (struct sockaddr *)&d, sizeof(d)) < 0)
        err = g.udp < 0 ? ENOTCONN : errno;
    if (p->n_ids < (int)(sizeof(p->ids) / sizeof(p->ids[0])))
        p->ids[p->n_ids++] = (uint32_t)rq.identification;
    g.rrq_sent++;
    if (p->prev_fa.s_addr) {
        g.prev_fa_sent++;
        g.last_prev_fa = p->prev_fa;
    }
    if (p->service_update)
        g.service_update_sent++;
    p->next_ms = mono_ms() + ((uint64_t)g.retx_ms << p->tries);
    p->tries++;
    char prev[40] = "";
    if (p->prev_fa.s_addr)
        snprintf(prev, sizeof(prev), ",\"prev_fa\":\"%s\"", ip_str(p->prev_fa));
    event("rrq_sent",
          ",\"fa\":\"%s\",\"coa\":\"%s\",\"hoa\":\"%s\",\"lifetime\":%u,\"try\":%d,"
          "\"T\":%s,\"challenge\":%s,\"mn_ha\":%s,\"id\":%" PRIu32 "%s%s%s%s%s",
          ip_str(p->fa), ip_str(p->coa), ip_str(rq.home_addr), rq.lifetime, p->tries,
          (rq.flags & MIP_RRQ_FLAG_T) ? "true" : "false", g.ag.has_chal ? "true" : "false",
          g.have_sa ? "true" : "false", (uint32_t)rq.identification, prev,
          p->service_update ? ",\"service_update\":true" : "", err ? ",\"error\":\"" : "",
          err ? strerror(err) : "", err ? "\"" : "");
}

/* A service update goes on in every request until one is answered or times out
 * (a move, even through a link down, does not lose it). */
static void start_registration(bool dereg, bool service_update)
{
    if (!g.ag.valid)
        return;
    struct pending *p = &g.pend;
    if (service_update)
        g.service_update_wanted = true;
    if (dereg)
        g.service_update_wanted = false;
    memset(p, 0, sizeof(*p));
    p->active = true;
    p->dereg = dereg;
    p->service_update = !dereg && g.service_update_wanted;
    p->first_sent_ms = mono_ms_f();
    p->coa = g.ag.coa;
    p->fa = g.ag.src;
    /* A move: the binding at another FA is still live (FLOWS.md "Moves"). */
    if (!dereg && g.prev_fa_notify && g.reg_coa.s_addr && g.reg_coa.s_addr != p->coa.s_addr &&
        mono_ms() < g.expire_ms)
        p->prev_fa = g.reg_coa;
    if (dereg)
        set_state(ST_DEREGISTERING);
    else if (g.st != ST_REGISTERED || g.reg_coa.s_addr != p->coa.s_addr)
        set_state(ST_REGISTERING);
    send_rrq();
}

static void handle_reply(const uint8_t *buf, size_t len, struct in_addr from)
{
    if (len >= 1 && buf[0] == MIP_MSG_REG_REQUEST)
        return; /* our own broadcast request, looped back (pool mode) */
    struct mip_reg_reply rp;
    size_t off = 0;
    enum mip_err e = mip_get_reg_reply(buf, len, &rp, &off);
    if (e != MIP_OK) {
        g.bad_replies++;
        event("rrp_bad", ",\"from\":\"%s\",\"err\":\"%s\",\"offset\":%zu", ip_str(from),
              mip_err_str(e), off);
        return;
    }
    struct pending *p = &g.pend;
    uint32_t id = (uint32_t)rp.identification;
    bool match = false;
    for (int i = 0; p->active && i < p->n_ids; i++)
        match |= p->ids[i] == id;
    if (!match) {
        event("rrp_unmatched", ",\"from\":\"%s\",\"code\":%u,\"id\":%" PRIu32, ip_str(from),
              rp.code, id);
        return;
    }
    const char *auth = "absent";
    bool auth_ok = false;
    /* RFC 3957: a new MN-HA key from the nonce, checked on this very reply. */
    bool new_sa = false;
    uint8_t nkey[MIP_MN_HA_KEY_LEN];
    if (g.aaa && rp.ext.keygen.present) {
        const struct mip_keygen_reply *k = &rp.ext.keygen;
        if (k->alg == MIP_KEYGEN_ALG_HMAC_SHA1 && k->aaa_spi == g.aaa_spi &&
            mip_mn_ha_key_derive(g.aaa_key, g.aaa_keylen, k->nonce.ptr, k->nonce.len, g.nai,
                                 strlen(g.nai), nkey) &&
            rp.ext.mn_ha.present && rp.ext.mn_ha.spi == k->ha_spi &&
            mip_verify_auth(buf, &rp.ext.mn_ha, MIP_AUTH_HMAC_SHA1, nkey, sizeof(nkey))) {
            auth_ok = true;
            new_sa = true;
        }
        auth = auth_ok ? "ok" : "bad";
    } else if (rp.ext.mn_ha.present && g.have_sa) {
        auth_ok = rp.ext.mn_ha.spi == g.spi &&
                  mip_verify_auth(buf, &rp.ext.mn_ha, g.alg, g.key, g.keylen);
        auth = auth_ok ? "ok" : "bad";
    } else if (rp.ext.mn_ha.present) {
        auth = "no key";
    }
    double ms = mono_ms_f() - p->first_sent_ms;
    char prev[40] = "";
    if (p->prev_fa.s_addr)
        snprintf(prev, sizeof(prev), ",\"prev_fa\":\"%s\"", ip_str(p->prev_fa));
    event("rrp",
          ",\"from\":\"%s\",\"code\":%u,\"code_str\":\"%s\",\"lifetime\":%u,\"auth\":\"%s\","
          "\"ms\":%.3f,\"dereg\":%s%s%s",
          ip_str(from), rp.code, mip_code_str(rp.code), rp.lifetime, auth, ms,
          p->dereg ? "true" : "false", prev, p->service_update ? ",\"service_update\":true" : "");
    bool accepted = rp.code == MIP_CODE_ACCEPTED || rp.code == MIP_CODE_ACCEPTED_NO_SIMUL;
    if (accepted && !auth_ok) {
        /* RFC 5944 §3.6.2.1: an accepted reply must authenticate; drop it. */
        g.bad_replies++;
        return;
    }
    if (new_sa) {
        g.have_sa = true;
        g.spi = rp.ext.keygen.ha_spi;
        memcpy(g.key, nkey, sizeof(nkey));
        g.keylen = sizeof(nkey);
        g.alg = MIP_AUTH_HMAC_SHA1;
        event("mn_ha_key", ",\"spi\":%" PRIu32 ",\"lifetime\":%" PRIu32, g.spi,
              rp.ext.keygen.lifetime);
    }
    if (accepted && !p->dereg && rp.home_addr.s_addr && rp.home_addr.s_addr != g.hoa.s_addr) {
        /* The home address the AAA assigned (pool): requests name it from now. */
        event("hoa", ",\"hoa\":\"%s\",\"was\":\"%s\"", ip_str(rp.home_addr), ip_str(g.hoa));
        g.hoa = rp.home_addr;
        send_garp("hoa");
    }
    g.last_code = rp.code;
    if (rp.code == MIP_CODE_HA_ID_MISMATCH && auth_ok && p->resyncs < 1) {
        /* RFC 5944 §5.7: adopt the home agent's clock and retry at once. */
        uint32_t sent_hi = (uint32_t)(mip_ident_now() >> 32);
        g.clock_offset = (int32_t)((uint32_t)(rp.identification >> 32) - sent_hi);
        p->resyncs++;
        p->tries = 0;
        send_rrq();
        return;
    }
    p->active = false;
    if (p->service_update) {
        g.service_update_code = rp.code;
        g.service_update_wanted = false;
    }
    if (!accepted) {
        set_state(ST_DENIED);
        return;
    }
    uint64_t now = mono_ms();
    if (p->dereg || rp.lifetime == 0) {
        g.granted = 0;
        g.reg_coa.s_addr = 0;
        g.reg_fa.s_addr = 0;
        set_state(ST_DEREGISTERED);
        return;
    }
    g.granted = rp.lifetime;
    g.expire_ms = now + (uint64_t)rp.lifetime * 1000u;
    g.rereg_ms = now + (uint64_t)rp.lifetime * 2000u / 3u;
    g.reg_coa = p->coa;
    g.reg_fa = p->fa;
    g.reg_reverse = g.reverse && (g.ag.flags & MIP_ADV_FLAG_T);
    g.registrations++;
    g.last_reg_ms = ms;
    set_state(ST_REGISTERED);
}

static void read_udp(void)
{
    uint8_t buf[MIP_MAX_MSG];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(g.udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        handle_reply(buf, (size_t)n, from.sin_addr);
    }
}

/* --- advertisements -------------------------------------------------------- */

static void handle_advert(const uint8_t *icmp, size_t len, struct in_addr src)
{
    struct mip_agent_adv a;
    if (len < 1 || icmp[0] != 9) /* only router advertisements */
        return;
    enum mip_err e = mip_get_agent_adv(icmp, len, &a);
    if (e != MIP_OK) {
        g.bad_adverts++;
        event("advert_bad", ",\"from\":\"%s\",\"err\":\"%s\"", ip_str(src), mip_err_str(e));
        return;
    }
    if (!(a.flags & MIP_ADV_FLAG_F) || a.n_coa == 0)
        return; /* not a foreign agent offering a care-of address */
    g.adverts++;
    uint64_t now = mono_ms();
    struct agent old = g.ag;
    bool moved = !old.valid || old.src.s_addr != src.s_addr || old.coa.s_addr != a.coa[0].s_addr;
    bool rebooted = !moved && a.seq < old.seq && a.seq < 256;

    g.ag.valid = true;
    g.ag.src = src;
    g.ag.router = a.n_routers ? a.routers[0] : src;
    g.ag.coa = a.coa[0];
    g.ag.flags = a.flags;
    g.ag.reg_lifetime = a.reg_lifetime;
    g.ag.seq = a.seq;
    g.ag.adv_lifetime = a.adv_lifetime;
    g.ag.expires_ms = now + (uint64_t)a.adv_lifetime * 1000u;
    g.ag.has_chal = a.has_challenge;
    g.ag.chal_len = a.has_challenge ? a.challenge_len : 0;
    if (a.has_challenge)
        memcpy(g.ag.chal, a.challenge, a.challenge_len);
    g.solicits_left = 0;

    if (moved) {
        event("advert",
              ",\"from\":\"%s\",\"coa\":\"%s\",\"router\":\"%s\",\"seq\":%u,\"flags\":\"0x%04x\","
              "\"reg_lifetime\":%u,\"adv_lifetime\":%u,\"challenge\":%s",
              ip_str(src), ip_str(a.coa[0]), ip_str(g.ag.router), a.seq, a.flags, a.reg_lifetime,
              a.adv_lifetime, a.has_challenge ? "true" : "false");
        event("moved", ",\"from_fa\":\"%s\",\"to_fa\":\"%s\",\"coa\":\"%s\"",
              old.valid ? ip_str(old.src) : "", ip_str(src), ip_str(a.coa[0]));
        int r = set_default_route(g.ag.router);
        event("route", ",\"via\":\"%s\",\"result\":\"%s\"", ip_str(g.ag.router),
              r ? strerror(-r) : "ok");
        send_garp("new_agent"); /* the FA is listening now, whatever the link-up one met */
    } else if (rebooted) {
        event("advert", ",\"from\":\"%s\",\"seq\":%u,\"note\":\"agent rebooted\"", ip_str(src),
              a.seq);
    }
    if (!g.want_registered)
        return;
    /* A denied or failed request is retried on a move, not on every advertisement. */
    if (moved || rebooted || g.st == ST_DETACHED || g.st == ST_EXPIRED) {
        if (!g.pend.active || moved)
            start_registration(false, false);
    }
}

static void read_raw(void)
{
    uint8_t buf[2048];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(g.raw, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if (n < 20)
            continue;
        size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
        if (ihl < 20 || (size_t)n < ihl)
            continue;
        struct in_addr src;
        memcpy(&src.s_addr, buf + 12, 4);
        handle_advert(buf + ihl, (size_t)n - ihl, src);
    }
}

/* --- control socket -------------------------------------------------------- */

static void reply(int fd, const char *fmt, ...)
{
    char out[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, sizeof(out) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(out) - 2)
        n = (int)sizeof(out) - 2;
    out[n++] = '\n';
    if (send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0) {
        /* the client went away; nothing to do */
    }
}

static void status(int fd)
{
    uint64_t now = mono_ms();
    long left = 0;
    if (g.st == ST_REGISTERED && g.expire_ms > now)
        left = (long)((g.expire_ms - now + 999) / 1000);
    char code[16] = "null";
    if (g.last_code >= 0)
        snprintf(code, sizeof(code), "%d", g.last_code);
    char last_ms[32] = "null";
    if (g.last_reg_ms >= 0)
        snprintf(last_ms, sizeof(last_ms), "%.3f", g.last_reg_ms);
    bool reg = g.st == ST_REGISTERED;
    char su_code[16] = "null";
    if (g.service_update_code >= 0)
        snprintf(su_code, sizeof(su_code), "%d", g.service_update_code);
    reply(fd,
          "{\"ok\":true,\"cmd\":\"status\",\"name\":\"%s\",\"nai\":\"%s\",\"hoa\":\"%s\","
          "\"ha\":\"%s\",\"iface\":\"%s\",\"link\":%s,\"state\":\"%s\",\"fa\":\"%s\","
          "\"coa\":\"%s\",\"agent\":\"%s\",\"agent_coa\":\"%s\",\"lifetime_left\":%ld,"
          "\"granted_lifetime\":%u,\"reverse_tunnel\":%s,\"last_code\":%s,"
          "\"last_code_str\":\"%s\",\"registrations\":%" PRIu64 ",\"rrq_sent\":%" PRIu64
          ",\"timeouts\":%" PRIu64 ",\"adverts\":%" PRIu64 ",\"last_reg_ms\":%s,"
          "\"pending\":%s,\"aaa\":%s,\"hoa_from_pool\":%s,\"mn_ha_spi\":%" PRIu32 ","
          "\"prev_fa_notify\":%s,\"prev_fa_sent\":%" PRIu64 ",\"last_prev_fa\":\"%s\","
          "\"service_update_sent\":%" PRIu64 ",\"service_update_pending\":%s,"
          "\"service_update_code\":%s,\"garp_sent\":%" PRIu64 ",\"vendor_id\":%" PRIu32 "}",
          g.name, g.nai, ip_str(g.hoa), ip_str(g.ha), g.iface, g.link_usable ? "true" : "false",
          state_name[g.st], reg ? ip_str(g.reg_fa) : "", reg ? ip_str(g.reg_coa) : "",
          g.ag.valid ? ip_str(g.ag.src) : "", g.ag.valid ? ip_str(g.ag.coa) : "", left,
          reg ? g.granted : 0, reg && g.reg_reverse ? "true" : "false", code,
          g.last_code >= 0 ? mip_code_str((uint8_t)g.last_code) : "", g.registrations, g.rrq_sent,
          g.timeouts, g.adverts, last_ms, g.pend.active ? "true" : "false",
          g.aaa ? "true" : "false", g.hoa_cfg.s_addr == 0 ? "true" : "false", g.have_sa ? g.spi : 0,
          g.prev_fa_notify ? "true" : "false", g.prev_fa_sent,
          g.last_prev_fa.s_addr ? ip_str(g.last_prev_fa) : "", g.service_update_sent,
          g.service_update_wanted ? "true" : "false", su_code, g.garp_sent, g.vendor_id);
}

static void command(int fd, char *line)
{
    /* Accept "status" or {"cmd":"status"}. */
    char cmd[32] = "";
    char *p = strstr(line, "\"cmd\"");
    if (p) {
        p = strchr(p + 5, '"');
        if (p)
            sscanf(p + 1, "%31[a-z_-]", cmd);
    } else {
        sscanf(line, " %31[a-z_-]", cmd);
    }
    if (!strcmp(cmd, "status")) {
        status(fd);
    } else if (!strcmp(cmd, "register")) {
        g.want_registered = true;
        if (g.ag.valid) {
            start_registration(false, false);
            reply(fd, "{\"ok\":true,\"cmd\":\"register\"}");
        } else {
            g.solicits_left = SOLICIT_MAX;
            g.next_solicit_ms = mono_ms();
            reply(fd, "{\"ok\":true,\"cmd\":\"register\",\"note\":\"no agent yet\"}");
        }
    } else if (!strcmp(cmd, "deregister")) {
        g.want_registered = false;
        if (!g.ag.valid) {
            reply(fd, "{\"ok\":false,\"cmd\":\"deregister\",\"error\":\"no agent\"}");
        } else {
            start_registration(true, false);
            reply(fd, "{\"ok\":true,\"cmd\":\"deregister\"}");
        }
    } else if (!strcmp(cmd, "service-update") || !strcmp(cmd, "service_update")) {
        /* A re-registration of the live binding (FLOWS.md "Service update"). */
        if (!g.ag.valid)
            reply(fd, "{\"ok\":false,\"cmd\":\"service-update\",\"error\":\"no agent\"}");
        else if (g.st != ST_REGISTERED)
            reply(fd, "{\"ok\":false,\"cmd\":\"service-update\",\"error\":\"not registered (%s)\"}",
                  state_name[g.st]);
        else {
            start_registration(false, true);
            reply(fd, "{\"ok\":true,\"cmd\":\"service-update\"}");
        }
    } else if (!strcmp(cmd, "quit")) {
        reply(fd, "{\"ok\":true,\"cmd\":\"quit\"}");
        g_quit = 1;
    } else if (cmd[0]) {
        reply(fd, "{\"ok\":false,\"error\":\"unknown command\"}");
    }
}

static void ctl_accept(void)
{
    int fd = accept4(g.ctl, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (g.clients[i] < 0) {
            g.clients[i] = fd;
            g.clen[i] = 0;
            return;
        }
    }
    reply(fd, "{\"ok\":false,\"error\":\"too many clients\"}");
    close(fd);
}

static void ctl_read(int i)
{
    ssize_t n = recv(g.clients[i], g.cbuf[i] + g.clen[i], sizeof(g.cbuf[i]) - 1 - g.clen[i], 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            close_fd(&g.clients[i]);
        return;
    }
    g.clen[i] += (size_t)n;
    g.cbuf[i][g.clen[i]] = 0;
    char *nl;
    while ((nl = strchr(g.cbuf[i], '\n'))) {
        *nl = 0;
        command(g.clients[i], g.cbuf[i]);
        size_t used = (size_t)(nl - g.cbuf[i]) + 1;
        memmove(g.cbuf[i], nl + 1, g.clen[i] - used + 1);
        g.clen[i] -= used;
        if (g.clients[i] < 0)
            return;
    }
    if (g.clen[i] >= sizeof(g.cbuf[i]) - 1)
        close_fd(&g.clients[i]); /* a line this long is no command */
}

static int ctl_open(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(g.ctl_path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mnemu: control socket path too long\n");
        return -1;
    }
    strcpy(sa.sun_path, g.ctl_path);
    unlink(g.ctl_path);
    g.ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(0077);
    int r = g.ctl < 0 ? -1 : bind(g.ctl, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || listen(g.ctl, 4) < 0) {
        fprintf(stderr, "mnemu: control socket %s: %s\n", g.ctl_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* --- timers and main loop -------------------------------------------------- */

static void timers(void)
{
    uint64_t now = mono_ms();
    if (g.link_usable && g.solicits_left > 0 && !g.ag.valid && now >= g.next_solicit_ms) {
        send_solicit();
        g.solicits_left--;
        g.next_solicit_ms = now + 1000;
    }
    if (g.ag.valid && now >= g.ag.expires_ms) {
        event("agent_lost", ",\"fa\":\"%s\"", ip_str(g.ag.src));
        forget_agent();
        if (g.st == ST_REGISTERED || g.st == ST_REGISTERING)
            set_state(ST_DETACHED);
        g.solicits_left = SOLICIT_MAX;
        g.next_solicit_ms = now;
    }
    struct pending *p = &g.pend;
    if (p->active && now >= p->next_ms) {
        if (p->tries >= MAX_TRIES) {
            p->active = false;
            g.timeouts++;
            if (p->service_update)
                g.service_update_wanted = false; /* reported: the user may ask again */
            event("timeout", ",\"fa\":\"%s\",\"tries\":%d,\"dereg\":%s", ip_str(p->fa), p->tries,
                  p->dereg ? "true" : "false");
            if (g.st != ST_REGISTERED || p->dereg)
                set_state(ST_FAILED);
        } else {
            send_rrq();
        }
    }
    if (g.st == ST_REGISTERED && !p->active && g.want_registered && g.ag.valid &&
        now >= g.rereg_ms) {
        event("refresh", ",\"lifetime_left_ms\":%" PRId64, (int64_t)g.expire_ms - (int64_t)now);
        start_registration(false, false);
        /* If the refresh goes unanswered, do not retry it on every tick. */
        g.rereg_ms = g.expire_ms;
    }
    if (g.st == ST_REGISTERED && now >= g.expire_ms) {
        event("expired", "");
        set_state(ST_EXPIRED);
    }
}

static int next_timeout(void)
{
    uint64_t now = mono_ms(), next = now + LINK_POLL_MS;
    if (g.link_usable && g.solicits_left > 0 && !g.ag.valid && g.next_solicit_ms < next)
        next = g.next_solicit_ms;
    if (g.ag.valid && g.ag.expires_ms < next)
        next = g.ag.expires_ms;
    if (g.pend.active && g.pend.next_ms < next)
        next = g.pend.next_ms;
    if (g.st == ST_REGISTERED && g.rereg_ms < next)
        next = g.rereg_ms;
    return next > now ? (int)(next - now) : 0;
}

/* Client side: one command, one reply line. */
static int query(const char *path, const char *cmd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return 2;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "mnemu: %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[300];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    if (n < 0 || (size_t)n >= sizeof(line) || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return 2;
    }
    char buf[4096];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(buf, '\n', len))
            break;
    }
    close(fd);
    buf[len] = 0;
    fputs(buf, stdout);
    if (!len)
        return 2;
    return strstr(buf, "\"ok\":true") ? 0 : 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *what, const char *hex, uint8_t *out, size_t *outlen)
{
    size_t kl = strlen(hex);
    if (kl == 0 || kl % 2 || kl / 2 > MAX_KEY) {
        fprintf(stderr, "mnemu: %s: the key must be 1..%d octets of hex\n", what, MAX_KEY);
        return -1;
    }
    for (size_t i = 0; i < kl; i += 2) {
        int hi = hexval(hex[i]), lo4 = hexval(hex[i + 1]);
        if (hi < 0 || lo4 < 0) {
            fprintf(stderr, "mnemu: %s: the key must be hex\n", what);
            return -1;
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo4);
    }
    *outlen = kl / 2;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: mnemu --iface IF --nai NAI --hoa IP --ha IP (--spi N --key HEX |"
                    " --mn-aaa SPI:HEX)\n"
                    "             [--lifetime S] [--reverse-tunnel] --ctl SOCKET [--events FILE]"
                    " [--name NAME]\n"
                    "             [--no-prev-fa] [--vendor N] [--retx-ms MS]\n"
                    "       --mn-aaa: AAA mode (MN-AAA key, RFC 3012; MN-HA key from RFC 3957);\n"
                    "                 --hoa 0.0.0.0 then asks for an address from the pool\n"
                    "       --no-prev-fa: no previous-FA CVSE on a move\n"
                    "       --vendor: vendor ID of our extensions (default 32473)\n"
                    "       --retx-ms: first retransmission after MS (default 1000; doubles)\n"
                    "       mnemu --ctl SOCKET --query "
                    "status|register|deregister|service-update|quit\n");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"iface", required_argument, NULL, 'i'},    {"nai", required_argument, NULL, 'n'},
        {"hoa", required_argument, NULL, 'a'},      {"ha", required_argument, NULL, 'H'},
        {"spi", required_argument, NULL, 's'},      {"key", required_argument, NULL, 'k'},
        {"lifetime", required_argument, NULL, 'l'}, {"reverse-tunnel", no_argument, NULL, 'T'},
        {"ctl", required_argument, NULL, 'c'},      {"events", required_argument, NULL, 'e'},
        {"name", required_argument, NULL, 'N'},     {"query", required_argument, NULL, 'q'},
        {"mn-aaa", required_argument, NULL, 'A'},   {"no-prev-fa", no_argument, NULL, 'P'},
        {"vendor", required_argument, NULL, 'V'},   {"retx-ms", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *mn_aaa = NULL;
    const char *hoa = NULL, *ha = NULL, *key = NULL, *query_cmd = NULL;
    bool have_spi = false;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'i':
            g.iface = optarg;
            break;
        case 'n':
            g.nai = optarg;
            break;
        case 'a':
            hoa = optarg;
            break;
        case 'H':
            ha = optarg;
            break;
        case 's': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 0);
            if (*end || v > UINT32_MAX) {
                fprintf(stderr, "mnemu: bad --spi\n");
                return 2;
            }
            g.spi = (uint32_t)v;
            have_spi = true;
            break;
        }
        case 'k':
            key = optarg;
            break;
        case 'R': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 100 || v > 60000) {
                fprintf(stderr, "mnemu: --retx-ms must be 100..60000\n");
                return 2;
            }
            g.retx_ms = (unsigned)v;
            break;
        }
        case 'l': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 65534) {
                fprintf(stderr, "mnemu: --lifetime must be 1..65534\n");
                return 2;
            }
            g.lifetime = (unsigned)v;
            break;
        }
        case 'T':
            g.reverse = true;
            break;
        case 'c':
            g.ctl_path = optarg;
            break;
        case 'e':
            g.events_path = optarg;
            break;
        case 'N':
            g.name = optarg;
            break;
        case 'q':
            query_cmd = optarg;
            break;
        case 'A':
            mn_aaa = optarg;
            break;
        case 'P':
            g.prev_fa_notify = false;
            break;
        case 'V': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 0);
            if (*end || v == 0 || v > 0xFFFFFF) {
                fprintf(stderr, "mnemu: --vendor must be 1..16777215 (as mipd's vendor_id)\n");
                return 2;
            }
            g.vendor_id = (uint32_t)v;
            break;
        }
        default:
            usage();
            return 2;
        }
    }
    if (query_cmd && g.ctl_path)
        return query(g.ctl_path, query_cmd);
    if (!g.iface || !g.nai || !hoa || !ha || (!mn_aaa && (!have_spi || !key)) || !g.ctl_path ||
        strlen(g.iface) >= IFNAMSIZ || strlen(g.nai) > 255) {
        usage();
        return 2;
    }
    if (inet_pton(AF_INET, hoa, &g.hoa) != 1 || inet_pton(AF_INET, ha, &g.ha) != 1) {
        fprintf(stderr, "mnemu: bad --hoa or --ha\n");
        return 2;
    }
    if (g.hoa.s_addr == 0 && !mn_aaa) {
        fprintf(stderr, "mnemu: --hoa 0.0.0.0 (an address from the pool) needs --mn-aaa\n");
        return 2;
    }
    g.hoa_cfg = g.hoa;
    if (key && parse_hex("--key", key, g.key, &g.keylen) < 0)
        return 2;
    g.have_sa = key && have_spi;
    g.alg = MIP_AUTH_HMAC_MD5;
    if (mn_aaa) {
        char *colon = strchr(mn_aaa, ':'), *end;
        unsigned long v = colon ? strtoul(mn_aaa, &end, 0) : 0;
        if (!colon || end != colon || v < 256 || v > UINT32_MAX) {
            fprintf(stderr, "mnemu: --mn-aaa must be SPI:HEXKEY with SPI >= 256\n");
            return 2;
        }
        g.aaa_spi = (uint32_t)v;
        if (parse_hex("--mn-aaa", colon + 1, g.aaa_key, &g.aaa_keylen) < 0)
            return 2;
        g.aaa = true;
    }
    if (!g.name)
        g.name = g.nai;
    for (int i = 0; i < MAX_CLIENTS; i++)
        g.clients[i] = -1;
    if (g.events_path) {
        g.ev = fopen(g.events_path, "a");
        if (!g.ev) {
            fprintf(stderr, "mnemu: %s: %s\n", g.events_path, strerror(errno));
            return 1;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    g.nl_events = nl_open(RTMGRP_LINK);
    g.nl_req = nl_open(0);
    if (g.nl_events < 0 || g.nl_req < 0) {
        fprintf(stderr, "mnemu: netlink: %s\n", strerror(errno));
        return 1;
    }
    if (ctl_open() < 0)
        return 1;
    (void)mip_ident_now(); /* seeds the DRBG now, not on the first request */
    event("start",
          ",\"nai\":\"%s\",\"hoa\":\"%s\",\"ha\":\"%s\",\"reverse_tunnel\":%s,\"aaa\":%s,"
          "\"prev_fa_notify\":%s",
          g.nai, ip_str(g.hoa), ip_str(g.ha), g.reverse ? "true" : "false",
          g.aaa ? "true" : "false", g.prev_fa_notify ? "true" : "false");
    check_link();

    while (!g_quit) {
        struct pollfd p[5 + MAX_CLIENTS];
        int n = 0;
        p[n++] = (struct pollfd){.fd = g.nl_events, .events = POLLIN};
        p[n++] = (struct pollfd){.fd = g.ctl, .events = POLLIN};
        p[n++] = (struct pollfd){.fd = g.raw, .events = POLLIN};
        p[n++] = (struct pollfd){.fd = g.udp, .events = POLLIN};
        for (int i = 0; i < MAX_CLIENTS; i++)
            p[n++] = (struct pollfd){.fd = g.clients[i], .events = POLLIN};
        int r = poll(p, (nfds_t)n, next_timeout());
        if (r < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            drain_netlink();
        if (p[1].revents)
            ctl_accept();
        if (p[2].revents && g.raw >= 0)
            read_raw();
        if (p[3].revents && g.udp >= 0)
            read_udp();
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (p[4 + i].revents && g.clients[i] >= 0)
                ctl_read(i);
        check_link();
        timers();
    }
    event("stop", "");
    for (int i = 0; i < MAX_CLIENTS; i++)
        close_fd(&g.clients[i]);
    close_fd(&g.ctl);
    unlink(g.ctl_path);
    close_fd(&g.raw);
    close_fd(&g.udp);
    if (g.ev)
        fclose(g.ev);
    return 0;
}
