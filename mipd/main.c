/*
 * mipd: the Mobile IPv4 agent daemon (home agent, foreign agent or proxy
 * correspondent node).
 *
 *   mipd --role ha|fa|pcn -c FILE [--check-config]
 *
 * One thread: the event loop owns every binding, visitor, VPN session and
 * kernel object; freeDiameter's threads (AAA mode) hand their work to it
 * (aaa_diam.c, diam/diam.h).  SIGTERM/SIGINT stop the loop; shutdown removes
 * all kernel state we made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aaa_diam.h"
#include "agent.h"
#include "ctl.h"
#include "log.h"
#include "mip_proto.h"
#include "vpn_cache.h"
#include "vpn_dp.h"

struct daemon {
    struct agent agent;
    struct mipd_config cfg;
    int udp;
    int *icmp; /* one raw ICMP socket per FA access link */
    size_t n_icmp;
    struct ctl *ctl;
    struct aaa_diam *aaa;
    char identity[MIPD_IDENTITY_MAX];
    time_t started;
};

static int udp_tx(void *ctx, const struct pkt_addr *to, const uint8_t *buf, size_t len)
{
    struct daemon *d = ctx;
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(to->port), .sin_addr = to->addr};
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf;
    memset(&cbuf, 0, sizeof(cbuf));
    struct msghdr mh = {
        .msg_name = &sin, .msg_namelen = sizeof(sin), .msg_iov = &iov, .msg_iovlen = 1};
    if (to->ifindex || to->local.s_addr) {
        /* Choose the source address and, towards a visiting MN, the access
         * link: the MN's home address is not routed here (RFC 5944 §3.7.2.3). */
        mh.msg_control = cbuf.b;
        mh.msg_controllen = sizeof(cbuf.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
        pi->ipi_ifindex = to->ifindex;
        pi->ipi_spec_dst = to->local;
    }
    if (sendmsg(d->udp, &mh, 0) < 0) {
        log_warn("send to %s:%u failed: %s", inet_ntoa(to->addr), to->port, strerror(errno));
        return -errno;
    }
    return 0;
}

static void udp_rx(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)l;
    (void)ev;
    struct daemon *d = arg;
    for (int burst = 0; burst < 64; burst++) {
        uint8_t buf[MIP_MAX_MSG + 1];
        struct sockaddr_in sin;
        union {
            char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr mh = {.msg_name = &sin,
                            .msg_namelen = sizeof(sin),
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cbuf.b,
                            .msg_controllen = sizeof(cbuf.b)};
        ssize_t n = recvmsg(fd, &mh, 0);
        if (n < 0)
            return;
        struct pkt_addr from = {.addr = sin.sin_addr, .port = ntohs(sin.sin_port)};
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                from.ifindex = pi.ipi_ifindex;
                from.local = pi.ipi_addr;
            }
        }
        if ((size_t)n > MIP_MAX_MSG || (mh.msg_flags & MSG_TRUNC)) {
            d->agent.cnt.unknown_rx++;
            continue;
        }
        switch (d->cfg.role) {
        case ROLE_HA:
            ha_rx(&d->agent, &from, buf, (size_t)n);
            break;
        case ROLE_FA:
            fa_rx(&d->agent, &from, buf, (size_t)n);
            break;
        case ROLE_PCN:
            pcn_rx(&d->agent, &from, buf, (size_t)n);
            break;
        }
    }
}

static int icmp_tx(void *ctx, size_t link, const uint8_t *buf, size_t len)
{
    struct daemon *d = ctx;
    /* RFC 5944 §2.3.1: advertisements go to 224.0.0.1 with TTL 1. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xE0000001)};
    if (sendto(d->icmp[link], buf, len, 0, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        log_warn("advertisement on %s failed: %s", d->cfg.fa.links[link], strerror(errno));
        return -errno;
    }
    return 0;
}

static void icmp_rx(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)l;
    (void)ev;
    struct daemon *d = arg;
    size_t link = 0;
    while (link < d->n_icmp && d->icmp[link] != fd)
        link++;
    for (int burst = 0; burst < 16; burst++) {
        uint8_t buf[1500];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
            return;
        /* Raw IPv4 sockets deliver the IP header first. */
        if (n < 20)
            continue;
        size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
        if (ihl < 20 || (size_t)n < ihl + 8)
            continue;
        if (buf[ihl] == 10) /* router solicitation */
            fa_solicit_rx(&d->agent, link, buf + ihl, (size_t)n - ihl);
    }
}

static int ctl_cb(void *arg, const char *cmd, const char *args, FILE *out, const char **err)
{
    (void)args;
    struct daemon *d = arg;
    struct agent *a = &d->agent;
    if (!strcmp(cmd, "bindings")) {
        if (d->cfg.role != ROLE_HA) {
            *err = "bindings: this agent is not a home agent (try visitors)";
            return -1;
        }
        fputs(",\"items\":", out);
        ha_dump_bindings(a, out);
    } else if (!strcmp(cmd, "visitors")) {
        if (d->cfg.role != ROLE_FA) {
            *err = "visitors: this agent is not a foreign agent (try bindings)";
            return -1;
        }
        fputs(",\"items\":", out);
        fa_dump_visitors(a, out);
    } else if (!strcmp(cmd, "handoff")) {
        if (d->cfg.role != ROLE_FA) {
            *err = "handoff: this agent is not a foreign agent";
            return -1;
        }
        fa_handoff_ctl_items(a, out);
    } else if (!strcmp(cmd, "kernel")) {
        fputs(",\"items\":", out);
        dp_dump_json(a->dp, out);
    } else if (!strcmp(cmd, "counters")) {
        fputs(",\"items\":[", out);
        agent_dump_counter_items(a, out);
        if (d->aaa)
            aaa_diam_dump_counters(d->aaa, out);
        fputc(']', out);
    } else if (!strcmp(cmd, "vpn")) {
        if (!a->vpn) {
            *err = "vpn: this agent keeps no VPN information (plain Mobile IP: no aaa section)";
            return -1;
        }
        fputs(",\"items\":", out);
        vpn_cache_dump_json(a->vpn, agent_now_s(a), out);
    } else if (!strcmp(cmd, "vpn-kernel")) {
        if (!a->vdp) {
            *err = "vpn-kernel: this agent keeps no VPN information (plain Mobile IP: no aaa "
                   "section)";
            return -1;
        }
        fputs(",\"items\":", out);
        vpn_dp_dump_json(a->vdp, out);
    } else if (!strcmp(cmd, "status")) {
        fprintf(out, ",\"role\":\"%s\",\"identity\":", mipd_role_str(d->cfg.role));
        ctl_json_str(out, d->identity);
        fprintf(out,
                ",\"aaa\":%s,\"pid\":%d,\"uptime_s\":%lld,\"bindings\":%zu,\"visitors\":%zu,"
                "\"vpn_sessions\":%zu,\"bu_in_flight\":%zu,\"kernel_objects\":%u,\"timers\":%zu",
                d->aaa ? "true" : "false", (int)getpid(), (long long)(time(NULL) - d->started),
                ha_binding_count(a), fa_visitor_count(a), a->vpn ? vpn_cache_count(a->vpn) : 0,
                bu_pending_count(a), dp_count(a->dp, -1), loop_timer_count(a->loop));
    } else {
        *err = "unknown command (bindings, visitors, handoff, vpn, vpn-kernel, kernel, counters, "
               "status)";
        return -1;
    }
    return 0;
}

static void signal_rx(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)ev;
    (void)arg;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u: shutting down", si.ssi_signo);
        loop_stop(l);
    }
}

static int open_udp(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    /* FA: replies to an MN without an address go out as link broadcasts. */
    setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(MIP_UDP_PORT)};
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(s);
        return -1;
    }
    return s;
}

static int link_address(const char *ifname, struct in_addr *out)
{
    struct ifaddrs *ifa, *i;
    if (getifaddrs(&ifa) < 0)
        return -1;
    int rc = -1;
    for (i = ifa; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp(i->ifa_name, ifname)) {
            *out = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            rc = 0;
            break;
        }
    }
    freeifaddrs(ifa);
    return rc;
}

static int open_icmp(const char *ifname, int ifindex)
{
    int s = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (s < 0)
        return -1;
    int ttl = 1;
    struct ip_mreqn mr = {.imr_ifindex = ifindex};
    if (setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
        setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) < 0 ||
        setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0 ||
        setsockopt(s, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0) {
        close(s);
        return -1;
    }
    return s;
}

static void usage(FILE *f)
{
    fputs("usage: mipd --role ha|fa|pcn -c CONFIG [--check-config]\n"
          "  --role ROLE      ha (home agent), fa (foreign agent) or pcn (proxy\n"
          "                   correspondent node)\n"
          "  -c, --config F   libconfig file (see conf/mipd-ha.conf, conf/mipd-fa.conf,\n"
          "                   conf/mipd-pcn.conf)\n"
          "  --check-config   validate the configuration and exit\n"
          "Runs in the foreground and logs to stderr; SIGTERM removes every kernel\n"
          "object the daemon installed and exits.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *role_s = NULL, *path = NULL;
    bool check_only = false;
    int o;
    while ((o = getopt_long(argc, argv, "r:c:kh", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            role_s = optarg;
            break;
        case 'c':
            path = optarg;
            break;
        case 'k':
            check_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!role_s || !path) {
        usage(stderr);
        return 2;
    }
    enum mipd_role role;
    if (!strcmp(role_s, "ha"))
        role = ROLE_HA;
    else if (!strcmp(role_s, "fa"))
        role = ROLE_FA;
    else if (!strcmp(role_s, "pcn"))
        role = ROLE_PCN;
    else {
        fprintf(stderr, "mipd: --role %s: must be ha, fa or pcn\n", role_s);
        return 2;
    }

    static struct daemon d;
    char err[512];
    if (config_load(&d.cfg, path, role, err, sizeof(err)) < 0) {
        fprintf(stderr, "mipd: %s\n", err);
        return 2;
    }
    if (check_only) {
        printf("%s: configuration OK\n", path);
        config_free(&d.cfg);
        return 0;
    }
    log_threshold = d.cfg.log_level;
    d.started = time(NULL);
    /* SIGTERM/SIGINT are taken through a signalfd by the loop.  Blocked now,
     * before freeDiameter starts its threads (they inherit the mask): one of
     * them would otherwise take the signal and the process would die without
     * removing its kernel state. */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct agent *a = &d.agent;
    a->cfg = &d.cfg;
    a->loop = loop_new();
    a->dp = dp_new_netlink();
    a->tx = udp_tx;
    a->tx_ctx = &d;
    a->ntp_now = agent_ntp_now;
    if (!a->loop || !a->dp) {
        fprintf(stderr, "mipd: cannot create the event loop or the netlink dataplane\n");
        return 1;
    }
    d.udp = open_udp();
    if (d.udp < 0) {
        fprintf(stderr, "mipd: cannot bind UDP port %d: %s\n", MIP_UDP_PORT, strerror(errno));
        return 1;
    }
    loop_add_fd(a->loop, d.udp, EPOLLIN, udp_rx, &d);

    /* AAA mode: the agent becomes a Diameter peer (RFC 4004). */
    const struct mipd_aaa *aaa = role == ROLE_HA   ? &d.cfg.ha.aaa
                                 : role == ROLE_FA ? &d.cfg.fa.aaa
                                                   : NULL;
    if (aaa && aaa->enabled) {
        d.aaa = aaa_diam_start(a, aaa->diameter_conf, err, sizeof(err));
        if (!d.aaa) {
            fprintf(stderr, "mipd: Diameter: %s\n", err);
            return 1;
        }
    }
    if (d.cfg.identity[0])
        snprintf(d.identity, sizeof(d.identity), "%s", d.cfg.identity);
    else if (d.aaa)
        snprintf(d.identity, sizeof(d.identity), "%s", aaa_diam_identity(d.aaa));
    else {
        /* Unique in a testbed where every namespace shares the host name. */
        struct in_addr me = role == ROLE_HA   ? d.cfg.ha.address
                            : role == ROLE_FA ? d.cfg.fa.address
                                              : d.cfg.pcn.address;
        snprintf(d.identity, sizeof(d.identity), "%s-%s", mipd_role_str(role), inet_ntoa(me));
    }
    a->identity = d.identity;

    if (role == ROLE_PCN) {
        int rc = pcn_init(a);
        if (rc < 0) {
            fprintf(stderr, "mipd: %s: cannot start the PCN (UDP %d redirects, default SAs): %s\n",
                    path, MIP_UDP_PORT, strerror(-rc));
            dp_flush(a->dp);
            return 1;
        }
    } else if (role == ROLE_HA) {
        if (dp_ifindex(a->dp, d.cfg.ha.home_link) < 0) {
            fprintf(stderr, "mipd: %s: home_link \"%s\" does not exist\n", path,
                    d.cfg.ha.home_link);
            return 1;
        }
        if (ha_init(a) < 0)
            return 1;
    } else {
        if (fa_init(a) < 0)
            return 1;
        fa_handoff_start(a);
        d.n_icmp = d.cfg.fa.n_links;
        d.icmp = calloc(d.n_icmp, sizeof(int));
        for (size_t i = 0; i < d.n_icmp; i++) {
            const char *ifn = d.cfg.fa.links[i];
            int idx = (int)if_nametoindex(ifn);
            struct in_addr la;
            if (!idx || link_address(ifn, &la) < 0) {
                fprintf(stderr,
                        "mipd: %s: access link \"%s\" does not exist or has no IPv4 "
                        "address\n",
                        path, ifn);
                return 1;
            }
            d.icmp[i] = open_icmp(ifn, idx);
            if (d.icmp[i] < 0) {
                fprintf(stderr, "mipd: raw ICMP socket on %s: %s\n", ifn, strerror(errno));
                return 1;
            }
            loop_add_fd(a->loop, d.icmp[i], EPOLLIN, icmp_rx, &d);
        }
        fa_set_icmp_tx(a, icmp_tx, &d);
        for (size_t i = 0; i < d.n_icmp; i++) {
            struct in_addr la;
            link_address(d.cfg.fa.links[i], &la);
            fa_set_link_info(a, i, (int)if_nametoindex(d.cfg.fa.links[i]), la);
        }
    }

    d.ctl = ctl_open(a->loop, d.cfg.ctl_path, ctl_cb, &d);
    if (!d.ctl) {
        fprintf(stderr, "mipd: cannot open control socket %s: %s\n", d.cfg.ctl_path,
                strerror(errno));
        return 1;
    }
    int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    loop_add_fd(a->loop, sfd, EPOLLIN, signal_rx, &d);
    log_info("mipd %s started as %s%s (control socket %s)",
             role == ROLE_HA   ? "home agent"
             : role == ROLE_FA ? "foreign agent"
                               : "proxy correspondent node",
             d.identity, d.aaa ? ", AAA mode" : "", d.cfg.ctl_path);

    loop_run(a->loop);

    ctl_close(d.ctl);
    if (role == ROLE_HA)
        ha_fini(a);
    else if (role == ROLE_FA)
        fa_fini(a);
    else
        pcn_fini(a);
    aaa_diam_stop(d.aaa);
    dp_flush(a->dp);
    dp_free(a->dp);
    for (size_t i = 0; i < d.n_icmp; i++)
        close(d.icmp[i]);
    free(d.icmp);
    close(sfd);
    close(d.udp);
    loop_free(a->loop);
    config_free(&d.cfg);
    log_info("mipd stopped; kernel state removed");
    return 0;
}
