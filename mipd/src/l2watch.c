/* Layer-2 trigger of the FA: see l2watch.h for the design. */
#include "l2watch.h"

#include "hmap.h"
#include "log.h"
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef NDA_RTA /* defined by libc's rtnetlink wrappers, not by the uapi headers */
#define NDA_RTA(r) ((struct rtattr *)(((char *)(r)) + NLMSG_ALIGN(sizeof(struct ndmsg))))
#endif
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h: driver signals L1 up (carrier) */
#endif

#define ETH_LEN 6
#define RCVBUF (1 << 20)  /* event socket receive buffer */
#define BUFSZ (64 * 1024) /* one recv: rtnetlink messages never exceed this */
#define READ_BURST 64     /* datagrams per readiness event */
#define DUMP_TIMEOUT_S 2  /* a dump that does not finish is an error */

struct l2_link {
    struct hnode node; /* key: ifindex */
    int ifindex;
    int master; /* bridge it is a port of, 0 = none */
    bool up;    /* IFF_UP and carrier */
    bool bridge;
    bool seen; /* resync bookkeeping */
    char name[IFNAMSIZ];
};

/* Where a bridge last learned a MAC (kept after the kernel deletes it). */
struct l2_fdb {
    struct hnode node; /* key: MAC */
    uint8_t mac[ETH_LEN];
    int bridge, port;
};

struct l2_neigh {
    struct hnode node; /* key: IPv4 address */
    struct in_addr ip;
    int ifindex;
    uint8_t mac[ETH_LEN];
};

struct l2_track {
    struct hnode node; /* key: home address */
    struct in_addr hoa;
    int link;
    uint8_t mac[ETH_LEN];
    bool has_mac;
    bool gone; /* reported */
    bool fire; /* to report after the batch */
    const char *why;
};

struct l2watch {
    struct loop *loop;
    int fd;
    l2watch_gone_fn on_gone;
    void *ctx;
    struct hmap links, fdb, neigh, track;
    size_t n_fire;
    uint64_t msgs, resyncs;
    uint32_t seq;
    uint8_t buf[BUFSZ];
};

/* ---- lookups ----------------------------------------------------------------- */

static uint64_t mac_key(const uint8_t *mac)
{
    uint64_t k = 0;
    for (int i = 0; i < ETH_LEN; i++)
        k = k << 8 | mac[i];
    return k;
}

static struct l2_link *link_find(const struct l2watch *w, int ifindex)
{
    for (struct hnode *n = hmap_first(&w->links, (uint64_t)ifindex); n; n = hmap_next_same(n)) {
        struct l2_link *l = hmap_entry(n, struct l2_link, node);
        if (l->ifindex == ifindex)
            return l;
    }
    return NULL;
}

static const char *link_name(const struct l2watch *w, int ifindex)
{
    struct l2_link *l = link_find(w, ifindex);
    return l && l->name[0] ? l->name : "?";
}

static struct l2_fdb *fdb_find(const struct l2watch *w, const uint8_t *mac, int bridge)
{
    for (struct hnode *n = hmap_first(&w->fdb, mac_key(mac)); n; n = hmap_next_same(n)) {
        struct l2_fdb *f = hmap_entry(n, struct l2_fdb, node);
        if (f->bridge == bridge && !memcmp(f->mac, mac, ETH_LEN))
            return f;
    }
    return NULL;
}

static struct l2_neigh *neigh_find(const struct l2watch *w, struct in_addr ip, int ifindex)
{
    for (struct hnode *n = hmap_first(&w->neigh, ip.s_addr); n; n = hmap_next_same(n)) {
        struct l2_neigh *e = hmap_entry(n, struct l2_neigh, node);
        if (e->ip.s_addr == ip.s_addr && e->ifindex == ifindex)
            return e;
    }
    return NULL;
}

static struct l2_track *track_find(const struct l2watch *w, struct in_addr hoa)
{
    for (struct hnode *n = hmap_first(&w->track, hoa.s_addr); n; n = hmap_next_same(n)) {
        struct l2_track *t = hmap_entry(n, struct l2_track, node);
        if (t->hoa.s_addr == hoa.s_addr)
            return t;
    }
    return NULL;
}

/* Iterates t over every tracked address (the body must not add or remove any). */
#define FOR_EACH_TRACK(w, t)                                                                       \
    for (size_t bkt_ = 0, once_ = 1; once_; once_ = 0)                                             \
        for (struct hnode *n_ = hmap_iter(&(w)->track, &bkt_, NULL); n_;                           \
             n_ = hmap_iter(&(w)->track, &bkt_, n_))                                               \
            for (struct l2_track *t = hmap_entry(n_, struct l2_track, node); t; t = NULL)

/* ---- state changes ------------------------------------------------------------- */

static void mark_gone(struct l2watch *w, struct l2_track *t, const char *why)
{
    if (t->gone)
        return;
    t->gone = true;
    t->fire = true;
    t->why = why;
    w->n_fire++;
}

/* A bridge port disappeared, left its bridge or went down. */
static void port_gone(struct l2watch *w, int port, int bridge, const char *why)
{
    FOR_EACH_TRACK(w, t)
    {
        if (t->link != bridge || !t->has_mac || t->gone)
            continue;
        struct l2_fdb *f = fdb_find(w, t->mac, bridge);
        if (f && f->port == port)
            mark_gone(w, t, why);
    }
}

/* An access link (bridge or plain interface) went down or away. */
static void link_gone(struct l2watch *w, int ifindex, const char *why)
{
    FOR_EACH_TRACK(w, t)
    {
        if (t->link == ifindex)
            mark_gone(w, t, why);
    }
}

/* A plain access link is up again: its visitors may be back. */
static void link_back(struct l2watch *w, int ifindex)
{
    FOR_EACH_TRACK(w, t)
    {
        if (t->link == ifindex)
            t->gone = false;
    }
}

static void fdb_forget_port(struct l2watch *w, int port)
{
    struct hnode *n, *next;
    size_t bkt = 0;
    for (n = hmap_iter(&w->fdb, &bkt, NULL); n; n = next) {
        size_t b2 = bkt;
        next = hmap_iter(&w->fdb, &b2, n);
        struct l2_fdb *f = hmap_entry(n, struct l2_fdb, node);
        if (f->port == port) {
            hmap_remove(&w->fdb, n);
            free(f);
        }
        bkt = b2;
    }
}

static void link_deleted(struct l2watch *w, struct l2_link *l)
{
    if (l->master)
        port_gone(w, l->ifindex, l->master, "port deleted");
    link_gone(w, l->ifindex, "link deleted");
    fdb_forget_port(w, l->ifindex);
    hmap_remove(&w->links, &l->node);
    free(l);
}

/* ---- rtnetlink messages --------------------------------------------------------- */

static void parse_attrs(struct rtattr *tb[], int max, struct rtattr *rta, int len)
{
    memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
    for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
        if (rta->rta_type <= max && !tb[rta->rta_type])
            tb[rta->rta_type] = rta;
}

static uint32_t attr_u32(const struct rtattr *a)
{
    uint32_t v = 0;
    if (a && RTA_PAYLOAD(a) >= sizeof(v))
        memcpy(&v, RTA_DATA(a), sizeof(v));
    return v;
}

static bool attr_mac(const struct rtattr *a, uint8_t mac[ETH_LEN])
{
    if (!a || RTA_PAYLOAD(a) != ETH_LEN)
        return false;
    memcpy(mac, RTA_DATA(a), ETH_LEN);
    return true;
}

static bool is_bridge_kind(struct rtattr *linkinfo)
{
    if (!linkinfo)
        return false;
    struct rtattr *li[IFLA_INFO_MAX + 1];
    parse_attrs(li, IFLA_INFO_MAX, RTA_DATA(linkinfo), (int)RTA_PAYLOAD(linkinfo));
    struct rtattr *k = li[IFLA_INFO_KIND];
    return k && RTA_PAYLOAD(k) >= 6 && !strncmp(RTA_DATA(k), "bridge", RTA_PAYLOAD(k));
}

static void link_msg(struct l2watch *w, struct nlmsghdr *h)
{
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
        return;
    struct rtattr *tb[IFLA_MAX + 1];
    parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
    struct l2_link *l = link_find(w, ifi->ifi_index);

    if (ifi->ifi_family == AF_BRIDGE) {
        /* The bridge's own notice that a port is leaving it (del_nbp): the
         * first and fastest sign, before its FDB flush and unlink. */
        if (h->nlmsg_type == RTM_DELLINK) {
            int br = tb[IFLA_MASTER] ? (int)attr_u32(tb[IFLA_MASTER]) : l ? l->master : 0;
            if (br)
                port_gone(w, ifi->ifi_index, br, "port left the bridge");
            if (l)
                l->master = 0;
        }
        return;
    }
    if (h->nlmsg_type == RTM_DELLINK) {
        if (l)
            link_deleted(w, l);
        return;
    }
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l)
            return;
        l->ifindex = ifi->ifi_index;
        hmap_insert(&w->links, &l->node, (uint64_t)l->ifindex);
    }
    l->seen = true;
    if (tb[IFLA_IFNAME])
        snprintf(l->name, sizeof(l->name), "%.*s", (int)RTA_PAYLOAD(tb[IFLA_IFNAME]),
                 (const char *)RTA_DATA(tb[IFLA_IFNAME]));
    if (tb[IFLA_LINKINFO])
        l->bridge = is_bridge_kind(tb[IFLA_LINKINFO]);
    int master = (int)attr_u32(tb[IFLA_MASTER]);
    bool up = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP);
    if (l->master && l->master != master)
        port_gone(w, l->ifindex, l->master, "port left the bridge");
    else if (master && !up)
        port_gone(w, l->ifindex, master, "port down");
    if (!up)
        link_gone(w, l->ifindex, "link down");
    else if (!l->up && !l->bridge)
        link_back(w, l->ifindex);
    l->master = master;
    l->up = up;
}

static void fdb_msg(struct l2watch *w, struct nlmsghdr *h)
{
    struct ndmsg *nd = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)))
        return;
    /* Permanent entries are the bridge's and its ports' own addresses. */
    if (nd->ndm_state & NUD_PERMANENT)
        return;
    struct rtattr *tb[NDA_MAX + 1];
    parse_attrs(tb, NDA_MAX, NDA_RTA(nd), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd))));
    uint8_t mac[ETH_LEN];
    if (!attr_mac(tb[NDA_LLADDR], mac))
        return;
    int port = nd->ndm_ifindex;
    struct l2_link *pl = link_find(w, port);
    int bridge = tb[NDA_MASTER] ? (int)attr_u32(tb[NDA_MASTER]) : pl ? pl->master : 0;
    if (!bridge || bridge == port)
        return;
    struct l2_fdb *f = fdb_find(w, mac, bridge);
    if (h->nlmsg_type == RTM_DELNEIGH)
        return; /* keep the port: the port's loss may follow (ageing is no signal) */
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (!f)
            return;
        memcpy(f->mac, mac, ETH_LEN);
        f->bridge = bridge;
        hmap_insert(&w->fdb, &f->node, mac_key(mac));
    }
    f->port = port;
    if (pl && pl->up) {
        /* The MAC's frames are seen again on a live port: it is back. */
        FOR_EACH_TRACK(w, t)
        {
            if (t->gone && t->has_mac && t->link == bridge && !memcmp(t->mac, mac, ETH_LEN))
                t->gone = false;
        }
    }
}

static void set_track_mac(struct l2_track *t, const uint8_t *mac)
{
    if (t->has_mac && !memcmp(t->mac, mac, ETH_LEN))
        return;
    memcpy(t->mac, mac, ETH_LEN);
    t->has_mac = true;
    t->gone = false; /* another interface: a new attachment */
}

static void neigh_msg(struct l2watch *w, struct nlmsghdr *h)
{
    struct ndmsg *nd = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)) || (nd->ndm_flags & NTF_PROXY))
        return;
    struct rtattr *tb[NDA_MAX + 1];
    parse_attrs(tb, NDA_MAX, NDA_RTA(nd), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd))));
    if (!tb[NDA_DST] || RTA_PAYLOAD(tb[NDA_DST]) != 4)
        return;
    struct in_addr ip;
    memcpy(&ip.s_addr, RTA_DATA(tb[NDA_DST]), 4);
    struct l2_neigh *e = neigh_find(w, ip, nd->ndm_ifindex);
    uint8_t mac[ETH_LEN];
    bool valid = (nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
                                   NUD_PERMANENT | NUD_NOARP)) &&
                 attr_mac(tb[NDA_LLADDR], mac);
    if (h->nlmsg_type == RTM_DELNEIGH) {
        if (e) {
            hmap_remove(&w->neigh, &e->node);
            free(e);
        }
        return;
    }
    if (!valid)
        return; /* incomplete / failed: keep what we knew */
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e)
            return;
        e->ip = ip;
        e->ifindex = nd->ndm_ifindex;
        hmap_insert(&w->neigh, &e->node, ip.s_addr);
    }
    memcpy(e->mac, mac, ETH_LEN);
    struct l2_track *t = track_find(w, ip);
    if (t && t->link == e->ifindex)
        set_track_mac(t, mac);
}

static void handle(struct l2watch *w, struct nlmsghdr *h)
{
    w->msgs++;
    switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        link_msg(w, h);
        break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
        struct ndmsg *nd = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)))
            break;
        if (nd->ndm_family == AF_BRIDGE)
            fdb_msg(w, h);
        else if (nd->ndm_family == AF_INET)
            neigh_msg(w, h);
        break;
    }
    default:
        break;
    }
}

/* Reports the addresses marked during the last batch. */
static void fire(struct l2watch *w)
{
    if (!w->n_fire)
        return;
    struct gone {
        struct in_addr hoa;
        int link;
        const char *why;
    } *g = calloc(w->n_fire, sizeof(*g));
    size_t n = 0;
    FOR_EACH_TRACK(w, t)
    {
        if (!t->fire)
            continue;
        t->fire = false;
        if (g && n < w->n_fire)
            g[n++] = (struct gone){t->hoa, t->link, t->why};
    }
    w->n_fire = 0;
    for (size_t i = 0; i < n; i++) {
        struct l2_track *t = track_find(w, g[i].hoa);
        if (!t || t->link != g[i].link)
            continue; /* untracked by an earlier callback */
        char h[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &g[i].hoa, h, sizeof(h));
        log_info("l2watch: %s left %s (%s)", h, link_name(w, g[i].link), g[i].why);
        w->on_gone(w->ctx, g[i].link, g[i].hoa);
    }
    free(g);
}

/* ---- dumps ------------------------------------------------------------------------ */

/* Requests one dump on a fresh socket and applies every answer. */
static int dump(struct l2watch *w, uint16_t type, uint8_t family)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -errno;
    struct timeval tv = {.tv_sec = DUMP_TIMEOUT_S};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct {
        struct nlmsghdr h;
        union {
            struct ifinfomsg ifi;
            struct ndmsg nd;
        } u;
    } req;
    memset(&req, 0, sizeof(req));
    size_t body = type == RTM_GETLINK ? sizeof(req.u.ifi) : sizeof(req.u.nd);
    req.h.nlmsg_len = NLMSG_LENGTH(body);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = ++w->seq;
    if (type == RTM_GETLINK)
        req.u.ifi.ifi_family = family;
    else
        req.u.nd.ndm_family = family;
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    int err = 0;
    if (sendto(s, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k)) < 0) {
        err = -errno;
        goto out;
    }
    uint8_t *buf = malloc(BUFSZ);
    if (!buf) {
        err = -ENOMEM;
        goto out;
    }
    for (bool done = false; !done && !err;) {
        ssize_t n = recv(s, buf, BUFSZ, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            break;
        }
        size_t len = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != req.h.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE) {
                done = true;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                err = e->error ? e->error : -EPROTO;
                break;
            }
            handle(w, h);
        }
    }
    free(buf);
out:
    close(s);
    return err;
}

static void free_all(struct hmap *m, size_t off)
{
    struct hnode *n;
    size_t bkt;
    while ((bkt = 0, n = hmap_iter(m, &bkt, NULL))) {
        hmap_remove(m, n);
        free((char *)n - off);
    }
    hmap_free(m);
}

/* Full state from the kernel; what we knew and it no longer has is gone. */
static int sync_all(struct l2watch *w)
{
    size_t bkt = 0;
    for (struct hnode *n = hmap_iter(&w->links, &bkt, NULL); n; n = hmap_iter(&w->links, &bkt, n))
        hmap_entry(n, struct l2_link, node)->seen = false;
    int r = dump(w, RTM_GETLINK, AF_UNSPEC);
    if (r < 0)
        return r;
    for (;;) { /* links that vanished while we were not listening */
        struct l2_link *gone = NULL;
        bkt = 0;
        for (struct hnode *n = hmap_iter(&w->links, &bkt, NULL); n && !gone;
             n = hmap_iter(&w->links, &bkt, n))
            if (!hmap_entry(n, struct l2_link, node)->seen)
                gone = hmap_entry(n, struct l2_link, node);
        if (!gone)
            break;
        link_deleted(w, gone);
    }
    /* Neighbours only seed a newly tracked address's MAC: start afresh. */
    free_all(&w->neigh, offsetof(struct l2_neigh, node));
    r = dump(w, RTM_GETNEIGH, AF_INET);
    if (r == 0)
        r = dump(w, RTM_GETNEIGH, AF_BRIDGE);
    return r;
}

/* ---- events ----------------------------------------------------------------------- */

static void on_readable(struct loop *l, int fd, uint32_t events, void *arg)
{
    (void)l;
    (void)events;
    struct l2watch *w = arg;
    for (int i = 0; i < READ_BURST; i++) {
        ssize_t n = recv(fd, w->buf, sizeof(w->buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                /* Events were lost: rebuild from dumps (vanished = gone). */
                log_warn("l2watch: netlink overrun, resynchronising");
                int r = l2watch_resync(w);
                if (r < 0)
                    log_err("l2watch: resync: %s", strerror(-r));
                continue;
            }
            if (errno != EAGAIN)
                log_warn("l2watch: recv: %s", strerror(errno));
            break;
        }
        size_t len = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)w->buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len))
            handle(w, h);
    }
    fire(w);
}

struct l2watch *l2watch_new(struct loop *l, l2watch_gone_fn on_gone, void *ctx)
{
    struct l2watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->loop = l;
    w->on_gone = on_gone;
    w->ctx = ctx;
    hmap_init(&w->links);
    hmap_init(&w->fdb);
    hmap_init(&w->neigh);
    hmap_init(&w->track);
    int err = 0;
    /* Subscribe first, then dump: nothing happening in between is missed. */
    w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (w->fd < 0) {
        err = -errno;
        goto fail;
    }
    int sz = RCVBUF;
    if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_NEIGH};
    if (bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = -errno;
        goto fail;
    }
    err = sync_all(w);
    if (err < 0)
        goto fail;
    err = loop_add_fd(l, w->fd, EPOLLIN, on_readable, w);
    if (err < 0)
        goto fail;
    log_info("l2watch: watching %zu links, %zu FDB entries, %zu neighbours", w->links.n, w->fdb.n,
             w->neigh.n);
    return w;
fail:
    log_err("l2watch: cannot start: %s", strerror(-err));
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    l2watch_free(w);
    errno = -err;
    return NULL;
}

void l2watch_free(struct l2watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        loop_del_fd(w->loop, w->fd);
        close(w->fd);
    }
    free_all(&w->links, offsetof(struct l2_link, node));
    free_all(&w->fdb, offsetof(struct l2_fdb, node));
    free_all(&w->neigh, offsetof(struct l2_neigh, node));
    free_all(&w->track, offsetof(struct l2_track, node));
    free(w);
}

int l2watch_track(struct l2watch *w, struct in_addr hoa, int link_ifindex, const uint8_t *mac)
{
    if (link_ifindex <= 0)
        return -EINVAL;
    struct l2_track *t = track_find(w, hoa);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t)
            return -ENOMEM;
        t->hoa = hoa;
        hmap_insert(&w->track, &t->node, hoa.s_addr);
    } else if (t->fire) {
        t->fire = false;
        w->n_fire--;
    }
    t->link = link_ifindex;
    t->gone = false;
    t->has_mac = false;
    struct l2_neigh *e = neigh_find(w, hoa, link_ifindex);
    if (mac)
        set_track_mac(t, mac);
    else if (e)
        set_track_mac(t, e->mac);
    return 0;
}

void l2watch_untrack(struct l2watch *w, struct in_addr hoa)
{
    struct l2_track *t = track_find(w, hoa);
    if (!t)
        return;
    if (t->fire)
        w->n_fire--;
    hmap_remove(&w->track, &t->node);
    free(t);
}

size_t l2watch_link_gone(struct l2watch *w, int link_ifindex)
{
    size_t before = w->n_fire;
    link_gone(w, link_ifindex, "reported by the agent");
    size_t n = w->n_fire - before;
    fire(w);
    return n;
}

int l2watch_lookup(const struct l2watch *w, struct in_addr hoa, uint8_t *mac, int *port)
{
    const struct l2_track *t = track_find(w, hoa);
    if (!t)
        return -ENOENT;
    if (port)
        *port = 0;
    if (!t->has_mac)
        return -ENXIO;
    if (mac)
        memcpy(mac, t->mac, ETH_LEN);
    const struct l2_fdb *f = fdb_find(w, t->mac, t->link);
    if (f && port)
        *port = f->port;
    return 0;
}

int l2watch_resync(struct l2watch *w)
{
    w->resyncs++;
    int r = sync_all(w);
    fire(w);
    return r;
}

void l2watch_counters(const struct l2watch *w, uint64_t *msgs, uint64_t *resyncs)
{
    if (msgs)
        *msgs = w->msgs;
    if (resyncs)
        *resyncs = w->resyncs;
}
