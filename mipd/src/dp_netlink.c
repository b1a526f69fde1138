/*
 * Real kernel dataplane backend (DESIGN §8): rtnetlink through libnl-route-3,
 * an AF_PACKET socket for gratuitous ARP, /proc/sys for sysctls and
 * iptables-legacy for the PCN's UDP redirect (see there why).
 *
 * Errors are returned as -errno: the kernel's errno is captured from the
 * netlink error message (libnl's own codes lose it); failures are logged on
 * stderr naming the object.
 *
 * Idempotency (crash leftovers).  The shadow only calls *_add for an object
 * it does not know, so an EEXIST from the kernel means a leftover of an
 * earlier run (or someone else's object):
 *   - route / rule: we delete the kernel object with the full description of
 *     ours (dst, table, device, gateway / src, iif, table, priority).  The
 *     kernel only deletes an entry matching all of those, so success means
 *     the leftover was identical: we add ours again and report success.  If
 *     the delete fails, the existing object differs (e.g. the same prefix via
 *     another device, or not "proto static" as all our routes are) and the
 *     add fails with -EEXIST.
 *   - proxy neighbour: the kernel creates-or-keeps without EEXIST; identical
 *     by construction.
 *   - tunnel: an existing ipip link of that name with the same endpoints is
 *     adopted (set up); an ipip link with other endpoints is replaced; any
 *     other link of that name is left alone and -EEXIST returned.
 * Removal of an object the kernel no longer has (ESRCH/ENOENT/ENODEV, e.g. a
 * route removed with its tunnel) counts as success: the goal state holds.
 */
#include "dp_backend.h"
#include "dp_ipset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <net/if_arp.h>
#include <net/ethernet.h>
#include <netpacket/packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/ipip.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <netlink/socket.h>

#define DP_TUNNEL_TTL 64

struct nlbe {
    struct nl_sock *sk;
    int kerr;                /* errno of the last netlink error message, 0 if none */
    struct dp_xfrm_sock *xs; /* NETLINK_XFRM, opened on first use (dp_xfrm.c) */
    struct dp_ipset *ips;    /* libipset session for DSCP marks, opened on first use */
};

static void nlb_log(const char *what, int err)
{
    fprintf(stderr, "dp_netlink: %s: %s\n", what, strerror(err < 0 ? -err : err));
}

static int on_nl_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
    (void)nla;
    struct nlbe *b = arg;
    b->kerr = e->error < 0 ? -e->error : e->error;
    return NL_STOP;
}

static int nle_to_errno(int nle)
{
    switch (nle < 0 ? -nle : nle) {
    case NLE_NOMEM:
        return ENOMEM;
    case NLE_EXIST:
        return EEXIST;
    case NLE_OBJ_NOTFOUND:
        return ENOENT;
    case NLE_NODEV:
        return ENODEV;
    case NLE_INVAL:
    case NLE_MISSING_ATTR:
        return EINVAL;
    case NLE_PERM:
        return EPERM;
    case NLE_OPNOTSUPP:
        return EOPNOTSUPP;
    case NLE_BUSY:
        return EBUSY;
    case NLE_AGAIN:
        return EAGAIN;
    case NLE_RANGE:
        return ERANGE;
    case NLE_NOADDR:
        return EADDRNOTAVAIL;
    default:
        return EIO;
    }
}

/* Maps a libnl return value to 0 / -errno (preferring the kernel's errno). */
static int nl_result(struct nlbe *b, int r)
{
    if (r >= 0)
        return 0;
    return -(b->kerr ? b->kerr : nle_to_errno(r));
}

static struct nl_addr *addr4(struct in_addr a, unsigned plen)
{
    struct nl_addr *n = nl_addr_build(AF_INET, &a, sizeof(a));
    if (n)
        nl_addr_set_prefixlen(n, (int)plen);
    return n;
}

static uint32_t kernel_table(uint32_t t)
{
    return t ? t : RT_TABLE_MAIN;
}

static bool gone(int err)
{
    return err == -ESRCH || err == -ENOENT || err == -ENODEV;
}

/* ---- links --------------------------------------------------------------- */

static int nlb_ifindex(void *be, const char *ifname)
{
    (void)be;
    unsigned idx = if_nametoindex(ifname);
    if (!idx)
        return -(errno ? errno : ENODEV);
    return (int)idx;
}

static int link_up(struct nlbe *b, const char *name)
{
    struct rtnl_link *cur = NULL, *chg = rtnl_link_alloc();
    int r = -ENOMEM;
    if (!chg)
        goto out;
    b->kerr = 0;
    r = nl_result(b, rtnl_link_get_kernel(b->sk, 0, name, &cur));
    if (r < 0)
        goto out;
    rtnl_link_set_flags(chg, IFF_UP);
    b->kerr = 0;
    r = nl_result(b, rtnl_link_change(b->sk, cur, chg, 0));
out:
    rtnl_link_put(chg);
    if (cur)
        rtnl_link_put(cur);
    return r;
}

static int tunnel_create(struct nlbe *b, const char *name, struct in_addr local,
                         struct in_addr remote)
{
    struct rtnl_link *l = rtnl_link_ipip_alloc();
    if (!l)
        return -ENOMEM;
    rtnl_link_set_name(l, name);
    rtnl_link_ipip_set_local(l, local.s_addr);
    rtnl_link_ipip_set_remote(l, remote.s_addr);
    rtnl_link_ipip_set_ttl(l, DP_TUNNEL_TTL);
    rtnl_link_set_flags(l, IFF_UP);
    b->kerr = 0;
    int r = nl_result(b, rtnl_link_add(b->sk, l, NLM_F_CREATE | NLM_F_EXCL));
    rtnl_link_put(l);
    return r;
}

static int nlb_tunnel_del(void *be, const char *name);

/* EEXIST on creation: adopt an identical leftover, replace a stale one. */
static int tunnel_leftover(struct nlbe *b, const char *name, struct in_addr local,
                           struct in_addr remote)
{
    struct rtnl_link *old = NULL;
    b->kerr = 0;
    int r = nl_result(b, rtnl_link_get_kernel(b->sk, 0, name, &old));
    if (r < 0)
        return r;
    bool ipip = rtnl_link_is_ipip(old);
    bool same = ipip && rtnl_link_ipip_get_local(old) == local.s_addr &&
                rtnl_link_ipip_get_remote(old) == remote.s_addr;
    rtnl_link_put(old);
    if (same) {
        fprintf(stderr, "dp_netlink: tunnel %s: adopting leftover link\n", name);
        return link_up(b, name);
    }
    if (!ipip)
        return -EEXIST;
    fprintf(stderr, "dp_netlink: tunnel %s: replacing stale link\n", name);
    r = nlb_tunnel_del(b, name);
    return r < 0 ? r : tunnel_create(b, name, local, remote);
}

static int nlb_tunnel_add(void *be, const char *name, struct in_addr local, struct in_addr remote)
{
    struct nlbe *b = be;
    int r = tunnel_create(b, name, local, remote);
    if (r == -EEXIST)
        r = tunnel_leftover(b, name, local, remote);
    if (r == 0)
        r = nlb_ifindex(b, name);
    if (r < 0) {
        char l[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN], what[96];
        snprintf(what, sizeof(what), "add ipip tunnel %s %s>%s", name,
                 inet_ntop(AF_INET, &local, l, sizeof(l)),
                 inet_ntop(AF_INET, &remote, m, sizeof(m)));
        nlb_log(what, r);
    }
    return r;
}

static int nlb_tunnel_del(void *be, const char *name)
{
    struct nlbe *b = be;
    struct rtnl_link *l = rtnl_link_alloc();
    if (!l)
        return -ENOMEM;
    rtnl_link_set_name(l, name);
    b->kerr = 0;
    int r = nl_result(b, rtnl_link_delete(b->sk, l));
    rtnl_link_put(l);
    if (gone(r))
        r = 0;
    if (r < 0) {
        char what[64];
        snprintf(what, sizeof(what), "delete tunnel %s", name);
        nlb_log(what, r);
    }
    return r;
}

/* ---- routes -------------------------------------------------------------- */

static struct rtnl_route *route_build(const struct dp_obj *o)
{
    struct rtnl_route *rt = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nl_addr *dst = addr4(o->a, o->plen);
    struct nl_addr *gw = o->b.s_addr ? addr4(o->b, 32) : NULL;
    if (!rt || !nh || !dst || (o->b.s_addr && !gw))
        goto fail;
    rtnl_route_set_family(rt, AF_INET);
    rtnl_route_set_table(rt, kernel_table(o->table));
    rtnl_route_set_protocol(rt, RTPROT_STATIC);
    rtnl_route_set_type(rt, RTN_UNICAST);
    rtnl_route_set_scope(rt, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    if (rtnl_route_set_dst(rt, dst) < 0)
        goto fail;
    rtnl_route_nh_set_ifindex(nh, o->ifindex);
    if (gw)
        rtnl_route_nh_set_gateway(nh, gw);
    rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
    nl_addr_put(dst);
    if (gw)
        nl_addr_put(gw);
    return rt;
fail:
    if (rt)
        rtnl_route_put(rt);
    if (nh)
        rtnl_route_nh_free(nh);
    if (dst)
        nl_addr_put(dst);
    if (gw)
        nl_addr_put(gw);
    return NULL;
}

static int route_op(struct nlbe *b, const struct dp_obj *o, bool add)
{
    struct rtnl_route *rt = route_build(o);
    if (!rt)
        return -ENOMEM;
    b->kerr = 0;
    int r = add ? nl_result(b, rtnl_route_add(b->sk, rt, NLM_F_CREATE | NLM_F_EXCL))
                : nl_result(b, rtnl_route_delete(b->sk, rt, 0));
    rtnl_route_put(rt);
    return r;
}

static int nlb_route_add(void *be, const struct dp_obj *o)
{
    struct nlbe *b = be;
    int r = route_op(b, o, true);
    if (r == -EEXIST && route_op(b, o, false) == 0) {
        fprintf(stderr, "dp_netlink: route: replaced identical leftover\n");
        r = route_op(b, o, true);
    }
    if (r < 0) {
        char d[160];
        dp_obj_describe(o, "add route", d, sizeof(d));
        nlb_log(d, r);
    }
    return r;
}

static int nlb_route_del(void *be, const struct dp_obj *o)
{
    int r = route_op(be, o, false);
    if (gone(r))
        r = 0;
    if (r < 0) {
        char d[160];
        dp_obj_describe(o, "delete route", d, sizeof(d));
        nlb_log(d, r);
    }
    return r;
}

/* ---- rules --------------------------------------------------------------- */

static int rule_op(struct nlbe *b, const struct dp_obj *o, bool add)
{
    struct rtnl_rule *ru = rtnl_rule_alloc();
    int r = -ENOMEM;
    if (!ru)
        return r;
    rtnl_rule_set_family(ru, AF_INET);
    if (o->plen) {
        struct nl_addr *src = addr4(o->a, o->plen);
        if (!src)
            goto out;
        r = rtnl_rule_set_src(ru, src);
        nl_addr_put(src);
        if (r < 0) {
            r = -nle_to_errno(r);
            goto out;
        }
    }
    if (o->dplen) {
        struct nl_addr *dst = addr4(o->b, o->dplen);
        if (!dst)
            goto out;
        r = rtnl_rule_set_dst(ru, dst);
        nl_addr_put(dst);
        if (r < 0) {
            r = -nle_to_errno(r);
            goto out;
        }
    }
    if (o->ifname[0] && rtnl_rule_set_iif(ru, o->ifname) < 0) {
        r = -EINVAL;
        goto out;
    }
    rtnl_rule_set_table(ru, kernel_table(o->table));
    if (o->priority)
        rtnl_rule_set_prio(ru, o->priority);
    rtnl_rule_set_action(ru, FR_ACT_TO_TBL);
    b->kerr = 0;
    r = add ? nl_result(b, rtnl_rule_add(b->sk, ru, NLM_F_CREATE | NLM_F_EXCL))
            : nl_result(b, rtnl_rule_delete(b->sk, ru, 0));
out:
    rtnl_rule_put(ru);
    return r;
}

static int nlb_rule_add(void *be, const struct dp_obj *o)
{
    struct nlbe *b = be;
    int r = rule_op(b, o, true);
    if (r == -EEXIST && rule_op(b, o, false) == 0) {
        fprintf(stderr, "dp_netlink: rule: replaced identical leftover\n");
        r = rule_op(b, o, true);
    }
    if (r < 0) {
        char d[160];
        dp_obj_describe(o, "add rule", d, sizeof(d));
        nlb_log(d, r);
    }
    return r;
}

static int nlb_rule_del(void *be, const struct dp_obj *o)
{
    int r = rule_op(be, o, false);
    if (gone(r))
        r = 0;
    if (r < 0) {
        char d[160];
        dp_obj_describe(o, "delete rule", d, sizeof(d));
        nlb_log(d, r);
    }
    return r;
}

/* ---- proxy ARP (ip neigh add proxy ADDR dev DEV) ------------------------- */

static int proxy_op(struct nlbe *b, const struct dp_obj *o, bool add)
{
    struct rtnl_neigh *n = rtnl_neigh_alloc();
    struct nl_addr *dst = addr4(o->a, 32);
    int r = -ENOMEM;
    if (!n || !dst)
        goto out;
    rtnl_neigh_set_family(n, AF_INET);
    rtnl_neigh_set_ifindex(n, o->ifindex);
    rtnl_neigh_set_flags(n, NTF_PROXY);
    rtnl_neigh_set_state(n, NUD_PERMANENT);
    if (rtnl_neigh_set_dst(n, dst) < 0) {
        r = -EINVAL;
        goto out;
    }
    b->kerr = 0;
    r = add ? nl_result(b, rtnl_neigh_add(b->sk, n, NLM_F_CREATE | NLM_F_EXCL))
            : nl_result(b, rtnl_neigh_delete(b->sk, n, 0));
out:
    if (n)
        rtnl_neigh_put(n);
    if (dst)
        nl_addr_put(dst);
    return r;
}

static int nlb_proxy_arp_add(void *be, const struct dp_obj *o)
{
    int r = proxy_op(be, o, true);
    if (r < 0) {
        char d[128];
        dp_obj_describe(o, "add proxy neighbour", d, sizeof(d));
        nlb_log(d, r);
    }
    return r;
}

static int nlb_proxy_arp_del(void *be, const struct dp_obj *o)
{
    int r = proxy_op(be, o, false);
    if (gone(r))
        r = 0;
    if (r < 0) {
        char d[128];
        dp_obj_describe(o, "delete proxy neighbour", d, sizeof(d));
        nlb_log(d, r);
    }
    return r;
}

/* ---- gratuitous ARP (RFC 5944 §4.6) -------------------------------------- */

static int garp_send(const char *ifname, struct in_addr addr)
{
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd < 0)
        return -errno;
    int r = 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int ifindex;
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        r = -errno;
        goto out;
    }
    ifindex = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        r = -errno;
        goto out;
    }
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
        r = -EOPNOTSUPP; /* no ARP on this link type */
        goto out;
    }
    /* Request with sender IP = target IP = addr, sender MAC = ours. */
    unsigned char pkt[28];
    struct arphdr *h = (struct arphdr *)pkt;
    h->ar_hrd = htons(ARPHRD_ETHER);
    h->ar_pro = htons(ETH_P_IP);
    h->ar_hln = ETH_ALEN;
    h->ar_pln = 4;
    h->ar_op = htons(ARPOP_REQUEST);
    memcpy(pkt + 8, ifr.ifr_hwaddr.sa_data, ETH_ALEN); /* sender MAC */
    memcpy(pkt + 14, &addr, 4);                        /* sender IP */
    memset(pkt + 18, 0, ETH_ALEN);                     /* target MAC: unused */
    memcpy(pkt + 24, &addr, 4);                        /* target IP */
    struct sockaddr_ll ll;
    memset(&ll, 0, sizeof(ll));
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ARP);
    ll.sll_ifindex = ifindex;
    ll.sll_halen = ETH_ALEN;
    memset(ll.sll_addr, 0xff, ETH_ALEN);
    if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
        r = -errno;
out:
    close(fd);
    return r;
}

static int nlb_garp(void *be, const char *ifname, struct in_addr addr)
{
    (void)be;
    int r = garp_send(ifname, addr);
    if (r < 0) {
        char a[INET_ADDRSTRLEN], what[64];
        snprintf(what, sizeof(what), "gratuitous ARP for %s on %s",
                 inet_ntop(AF_INET, &addr, a, sizeof(a)), ifname);
        nlb_log(what, r);
    }
    return r;
}

/* ---- sysctl -------------------------------------------------------------- */

static int nlb_sysctl(void *be, const char *ifname, const char *key, const char *value)
{
    (void)be;
    char path[256];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
    int r = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
    } else {
        size_t n = strlen(value);
        ssize_t w = write(fd, value, n);
        if (w < 0)
            r = -errno;
        else if ((size_t)w != n)
            r = -EIO;
        if (close(fd) < 0 && r == 0)
            r = -errno;
    }
    if (r < 0) {
        char what[300];
        snprintf(what, sizeof(what), "write %s = %s", path, value);
        nlb_log(what, r);
    }
    return r;
}

/* ---- UDP redirect (netfilter) ---------------------------------------------
 *
 * The PCN intercepts BUs addressed to the correspondents it serves with one
 * nat PREROUTING REDIRECT rule per served prefix.  The rule is made by
 * running `iptables-legacy -w`: the xtables ruleset has no kernel interface
 * of its own (iptables replaces whole tables through setsockopt, and libiptc
 * is documented by netfilter as not a public API), the test kernel has no
 * nf_tables for the ip family (DESIGN §8), and these rules change only at
 * start and stop, so the cost of exec is irrelevant.  (No "-m comment":
 * one module fewer for the test kernel to load.)  No shell is involved: the
 * arguments are passed as an argv.
 */
#define IPTABLES "iptables-legacy"

static int run_iptables(const char *op, const struct dp_obj *o, bool quiet)
{
    char dst[INET_ADDRSTRLEN + 4], port[8];
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &o->a, a, sizeof(a));
    snprintf(dst, sizeof(dst), "%s/%u", a, o->plen);
    snprintf(port, sizeof(port), "%u", o->table);
    char *argv[] = {IPTABLES, "-w",      "-t", "nat", (char *)op, "PREROUTING", "-d", dst, "-p",
                    "udp",    "--dport", port, "-j",  "REDIRECT", "--to-ports", port, NULL};
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
        }
        execvp(IPTABLES, argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return -ENOENT; /* no iptables-legacy on this host */
    return -EIO;
}

static int nlb_udp_redirect_add(void *be, const struct dp_obj *o)
{
    (void)be;
    /* A leftover identical rule (crash of an earlier run) is taken over. */
    if (run_iptables("-C", o, true) == 0)
        return 0;
    int r = run_iptables("-A", o, false);
    if (r < 0) {
        char what[96];
        dp_obj_describe(o, IPTABLES " -t nat -A PREROUTING", what, sizeof(what));
        nlb_log(what, r);
    }
    return r;
}

static int nlb_udp_redirect_del(void *be, const struct dp_obj *o)
{
    (void)be;
    if (run_iptables("-C", o, true) != 0)
        return 0; /* already gone: the goal state holds */
    int r = run_iptables("-D", o, false);
    if (r < 0) {
        char what[96];
        dp_obj_describe(o, IPTABLES " -t nat -D PREROUTING", what, sizeof(what));
        nlb_log(what, r);
    }
    return r;
}

/* ---- DSCP marks: ipset + iptables-legacy (dp_ipset.c, DESIGN §8) --------- */

static int ipset_session_of(struct nlbe *b)
{
    if (b->ips)
        return 0;
    char err[128];
    b->ips = dp_ipset_new(err, sizeof(err));
    if (!b->ips) {
        fprintf(stderr, "dp_netlink: %s\n", err);
        return -ENOMEM;
    }
    return 0;
}

static int nlb_mark_class_add(void *be, uint8_t dscp)
{
    struct nlbe *b = be;
    int r = ipset_session_of(b);
    if (r == 0)
        r = dp_ipset_class_add(b->ips, dscp);
    if (r < 0)
        fprintf(stderr, "dp_netlink: DSCP class %u (set + mangle rule): %s\n", dscp,
                b->ips && dp_ipset_error(b->ips)[0] ? dp_ipset_error(b->ips) : strerror(-r));
    return r;
}

static int nlb_mark_class_del(void *be, uint8_t dscp)
{
    struct nlbe *b = be;
    int r = ipset_session_of(b);
    if (r == 0)
        r = dp_ipset_class_del(b->ips, dscp);
    if (r < 0)
        fprintf(stderr, "dp_netlink: remove DSCP class %u: %s\n", dscp,
                b->ips && dp_ipset_error(b->ips)[0] ? dp_ipset_error(b->ips) : strerror(-r));
    return r;
}

static int nlb_mark_batch(void *be, struct dp_mark_kop *ops, size_t n)
{
    struct nlbe *b = be;
    int r = ipset_session_of(b);
    if (r < 0)
        return r;
    struct dp_ipset_op *io = calloc(n ? n : 1, sizeof(*io));
    if (!io)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct dp_obj *o = ops[i].o;
        io[i] = (struct dp_ipset_op){.add = ops[i].add,
                                     .dscp = (uint8_t)o->table,
                                     .src = o->a,
                                     .dst = o->b,
                                     .splen = o->plen,
                                     .dplen = o->dplen};
    }
    dp_ipset_batch(b->ips, io, n);
    for (size_t i = 0; i < n; i++) {
        ops[i].result = io[i].result;
        if (io[i].result < 0) {
            char d[160];
            dp_obj_describe(ops[i].o, ops[i].add ? "add DSCP mark" : "delete DSCP mark", d,
                            sizeof(d));
            fprintf(stderr, "dp_netlink: %s: %s\n", d, dp_ipset_error(b->ips));
        }
    }
    free(io);
    return 0;
}

static int nlb_xfrm_batch(void *be, struct dp_xfrm_kop *ops, size_t n)
{
    struct nlbe *b = be;
    return dp_xfrm_sock_batch(&b->xs, ops, n);
}

/* ---- construction -------------------------------------------------------- */

static void nlb_destroy(void *be)
{
    struct nlbe *b = be;
    if (!b)
        return;
    if (b->sk)
        nl_socket_free(b->sk);
    dp_xfrm_sock_free(b->xs);
    dp_ipset_free(b->ips);
    free(b);
}

static const struct dp_backend_ops netlink_ops = {
    .tunnel_add = nlb_tunnel_add,
    .tunnel_del = nlb_tunnel_del,
    .route_add = nlb_route_add,
    .route_del = nlb_route_del,
    .rule_add = nlb_rule_add,
    .rule_del = nlb_rule_del,
    .proxy_arp_add = nlb_proxy_arp_add,
    .proxy_arp_del = nlb_proxy_arp_del,
    .garp_send = nlb_garp,
    .sysctl_set = nlb_sysctl,
    .ifindex = nlb_ifindex,
    .destroy = nlb_destroy,
    .xfrm_batch = nlb_xfrm_batch,
    .udp_redirect_add = nlb_udp_redirect_add,
    .udp_redirect_del = nlb_udp_redirect_del,
    .mark_class_add = nlb_mark_class_add,
    .mark_class_del = nlb_mark_class_del,
    .mark_batch = nlb_mark_batch,
};

struct dataplane *dp_new_netlink(void)
{
    struct nlbe *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->sk = nl_socket_alloc();
    if (!b->sk) {
        nlb_log("allocate netlink socket", -ENOMEM);
        nlb_destroy(b);
        return NULL;
    }
    int r = nl_connect(b->sk, NETLINK_ROUTE);
    if (r < 0) {
        nlb_log("connect rtnetlink", -nle_to_errno(r));
        nlb_destroy(b);
        return NULL;
    }
    nl_socket_modify_err_cb(b->sk, NL_CB_CUSTOM, on_nl_error, b);
    return dp_new_with_backend(&netlink_ops, b);
}
