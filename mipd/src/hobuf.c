/* Hand-off buffer of the old FA: see hobuf.h for the design. */
#include "hobuf.h"

#include "dataplane.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ---- queue logic ------------------------------------------------------------ */

struct hob_mn;

struct hob_pkt {
    struct hob_pkt *next;          /* its MN's queue */
    struct hob_pkt *gprev, *gnext; /* every packet, arrival order */
    struct hob_mn *mn;
    uint64_t at_ms;
    uint32_t len;
    uint8_t data[];
};

struct hob_mn {
    struct hnode node; /* key: home address */
    struct in_addr hoa;
    uint64_t since_ms;
    struct hob_pkt *head, *tail;
    struct hobuf_stats st;
};

struct hobq {
    struct hobuf_limits lim;
    struct hmap mns;
    /* All packets in arrival order: the global head is the oldest, and so
     * also the head of its MN's queue (one hold time for all). */
    struct hob_pkt *ghead, *gtail;
    struct hobuf_stats total;
};

void hobuf_limits_default(struct hobuf_limits *lim)
{
    lim->max_pkts = HOBUF_DEFAULT_MAX_PKTS;
    lim->max_bytes = HOBUF_DEFAULT_MAX_BYTES;
    lim->hold_ms = HOBUF_DEFAULT_HOLD_MS;
    lim->total_bytes = HOBUF_DEFAULT_TOTAL_BYTES;
}

const char *hobuf_drop_reason_name(enum hobuf_drop_reason r)
{
    static const char *const names[HOBUF_DROP_REASONS] = {"overflow", "expired", "no_mn",
                                                          "discarded", "tx_error"};
    return (unsigned)r < HOBUF_DROP_REASONS ? names[r] : "?";
}

struct hobq *hobq_new(const struct hobuf_limits *lim)
{
    struct hobq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    if (lim)
        q->lim = *lim;
    else
        hobuf_limits_default(&q->lim);
    hmap_init(&q->mns);
    return q;
}

static struct hob_mn *find_mn(const struct hobq *q, struct in_addr hoa)
{
    for (struct hnode *n = hmap_first(&q->mns, hoa.s_addr); n; n = hmap_next_same(n)) {
        struct hob_mn *m = hmap_entry(n, struct hob_mn, node);
        if (m->hoa.s_addr == hoa.s_addr)
            return m;
    }
    return NULL;
}

/* Unlinks the head packet of its MN's queue (which p must be). */
static void unlink_head(struct hobq *q, struct hob_pkt *p)
{
    struct hob_mn *m = p->mn;
    m->head = p->next;
    if (!m->head)
        m->tail = NULL;
    if (p->gprev)
        p->gprev->gnext = p->gnext;
    else
        q->ghead = p->gnext;
    if (p->gnext)
        p->gnext->gprev = p->gprev;
    else
        q->gtail = p->gprev;
    m->st.held_pkts--;
    m->st.held_bytes -= p->len;
    q->total.held_pkts--;
    q->total.held_bytes -= p->len;
}

static void count_drop(struct hobq *q, struct hob_mn *m, enum hobuf_drop_reason r)
{
    if (m)
        m->st.dropped[r]++;
    q->total.dropped[r]++;
}

void hobq_free(struct hobq *q)
{
    if (!q)
        return;
    for (struct hob_pkt *p = q->ghead, *next; p; p = next) {
        next = p->gnext;
        free(p);
    }
    struct hnode *n;
    size_t bkt;
    while ((bkt = 0, n = hmap_iter(&q->mns, &bkt, NULL))) {
        hmap_remove(&q->mns, n);
        free(hmap_entry(n, struct hob_mn, node));
    }
    hmap_free(&q->mns);
    free(q);
}

int hobq_hold(struct hobq *q, struct in_addr hoa, uint64_t now_ms)
{
    if (find_mn(q, hoa))
        return -EEXIST;
    struct hob_mn *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->hoa = hoa;
    m->since_ms = now_ms;
    hmap_insert(&q->mns, &m->node, hoa.s_addr);
    return 0;
}

bool hobq_holding(const struct hobq *q, struct in_addr hoa)
{
    return find_mn(q, hoa) != NULL;
}

size_t hobq_expire(struct hobq *q, uint64_t now_ms)
{
    size_t n = 0;
    while (q->ghead && now_ms >= q->ghead->at_ms + q->lim.hold_ms) {
        struct hob_pkt *p = q->ghead;
        unlink_head(q, p);
        count_drop(q, p->mn, HOBUF_DROP_EXPIRED);
        free(p);
        n++;
    }
    return n;
}

uint64_t hobq_next_expiry(const struct hobq *q)
{
    return q->ghead ? q->ghead->at_ms + q->lim.hold_ms : UINT64_MAX;
}

bool hobq_push(struct hobq *q, const uint8_t *pkt, size_t len, uint64_t now_ms,
               enum hobuf_drop_reason *why)
{
    enum hobuf_drop_reason r;
    struct hob_mn *m = NULL;
    hobq_expire(q, now_ms);
    /* IPv4 header (RFC 791): version 4, destination at offset 16. */
    if (len < 20 || (pkt[0] >> 4) != 4) {
        r = HOBUF_DROP_NO_MN;
        goto drop;
    }
    struct in_addr dst;
    memcpy(&dst.s_addr, pkt + 16, 4);
    m = find_mn(q, dst);
    if (!m) {
        r = HOBUF_DROP_NO_MN;
        goto drop;
    }
    if (m->st.held_pkts + 1 > q->lim.max_pkts || m->st.held_bytes + len > q->lim.max_bytes ||
        q->total.held_bytes + len > q->lim.total_bytes || len > UINT32_MAX) {
        r = HOBUF_DROP_OVERFLOW;
        goto drop;
    }
    struct hob_pkt *p = malloc(sizeof(*p) + len);
    if (!p) {
        r = HOBUF_DROP_OVERFLOW; /* out of memory is a bound too */
        goto drop;
    }
    memcpy(p->data, pkt, len);
    p->len = (uint32_t)len;
    p->at_ms = now_ms;
    p->mn = m;
    p->next = NULL;
    if (m->tail)
        m->tail->next = p;
    else
        m->head = p;
    m->tail = p;
    p->gnext = NULL;
    p->gprev = q->gtail;
    if (q->gtail)
        q->gtail->gnext = p;
    else
        q->ghead = p;
    q->gtail = p;
    m->st.held_pkts++;
    m->st.held_bytes += len;
    m->st.queued++;
    q->total.held_pkts++;
    q->total.held_bytes += len;
    q->total.queued++;
    return true;
drop:
    count_drop(q, m, r);
    if (why)
        *why = r;
    return false;
}

/* Empties m's queue: each packet to emit (NULL: discard), then forgets m. */
static int finish(struct hobq *q, struct hob_mn *m, hobq_emit_fn emit, void *ctx,
                  struct hobuf_stats *final)
{
    int n = 0;
    while (m->head) {
        struct hob_pkt *p = m->head;
        unlink_head(q, p);
        if (!emit) {
            count_drop(q, m, HOBUF_DROP_DISCARDED);
            n++;
        } else if (emit(ctx, p->data, p->len) == 0) {
            m->st.flushed++;
            q->total.flushed++;
            n++;
        } else {
            count_drop(q, m, HOBUF_DROP_TX);
        }
        free(p);
    }
    if (final)
        *final = m->st;
    hmap_remove(&q->mns, &m->node);
    free(m);
    return n;
}

int hobq_flush(struct hobq *q, struct in_addr hoa, uint64_t now_ms, hobq_emit_fn emit, void *ctx,
               struct hobuf_stats *final)
{
    struct hob_mn *m = find_mn(q, hoa);
    if (!m)
        return -ENOENT;
    hobq_expire(q, now_ms);
    return finish(q, m, emit, ctx, final);
}

int hobq_drop(struct hobq *q, struct in_addr hoa, struct hobuf_stats *final)
{
    struct hob_mn *m = find_mn(q, hoa);
    return m ? finish(q, m, NULL, NULL, final) : -ENOENT;
}

int hobq_stats(const struct hobq *q, struct in_addr hoa, struct hobuf_stats *out,
               uint64_t *since_ms)
{
    struct hob_mn *m = find_mn(q, hoa);
    if (!m)
        return -ENOENT;
    if (out)
        *out = m->st;
    if (since_ms)
        *since_ms = m->since_ms;
    return 0;
}

void hobq_total(const struct hobq *q, struct hobuf_stats *out)
{
    *out = q->total;
}

size_t hobq_count(const struct hobq *q)
{
    return q->mns.n;
}

void hobq_foreach(const struct hobq *q, hobuf_visit_fn fn, void *ctx)
{
    size_t bkt = 0;
    for (struct hnode *n = hmap_iter(&q->mns, &bkt, NULL); n; n = hmap_iter(&q->mns, &bkt, n)) {
        const struct hob_mn *m = hmap_entry(n, struct hob_mn, node);
        fn(ctx, m->hoa, m->since_ms, &m->st);
    }
}

/* ---- tun device, routes, loop ------------------------------------------------ */

#define HOBUF_READ_BURST 1024 /* packets read per readiness event (fairness) */
#define HOBUF_TXQLEN 2000     /* tun queue (packets) the kernel may hold for us */

struct hobuf {
    struct loop *loop;
    struct dataplane *dp;
    struct hobq *q;
    int fd;
    int ifindex;
    char ifname[IFNAMSIZ];
    struct loop_timer timer;
    uint8_t buf[65536]; /* one IPv4 datagram at most */
};

static void rearm(struct hobuf *hb)
{
    uint64_t due = hobq_next_expiry(hb->q);
    if (due == UINT64_MAX)
        loop_timer_cancel(hb->loop, &hb->timer);
    else
        loop_timer_arm_at(hb->loop, &hb->timer, due);
}

static void on_timer(struct loop *l, void *arg)
{
    struct hobuf *hb = arg;
    size_t n = hobq_expire(hb->q, loop_now_ms(l));
    if (n)
        log_dbg("hobuf: %zu packets expired (held %u ms)", n, hb->q->lim.hold_ms);
    rearm(hb);
}

/* Reads what the kernel queued on the tun (at most max packets). */
static size_t drain(struct hobuf *hb, size_t max)
{
    size_t n = 0;
    uint64_t now = loop_now_ms_fresh(hb->loop);
    for (; n < max; n++) {
        ssize_t r = read(hb->fd, hb->buf, sizeof(hb->buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                log_warn("hobuf: read %s: %s", hb->ifname, strerror(errno));
            break;
        }
        hobq_push(hb->q, hb->buf, (size_t)r, now, NULL);
    }
    rearm(hb);
    return n;
}

static void on_readable(struct loop *l, int fd, uint32_t events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    drain(arg, HOBUF_READ_BURST);
}

static int emit_tun(void *ctx, const uint8_t *pkt, size_t len)
{
    struct hobuf *hb = ctx;
    for (;;) {
        ssize_t w = write(hb->fd, pkt, len);
        if (w == (ssize_t)len)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return w < 0 ? -errno : -EIO;
    }
}

static void ipv6_off(const char *ifname)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* no IPv6 in this kernel: nothing to silence */
    if (write(fd, "1", 1) != 1)
        log_dbg("hobuf: %s: %s", path, strerror(errno));
    close(fd);
}

/* Opens the tun device and brings it up; returns the fd or -errno. */
static int tun_open(struct hobuf *hb)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, hb->ifname, sizeof(ifr.ifr_name));
    int err = 0;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        err = -errno;
        goto fail;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        err = -errno;
        goto fail;
    }
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, hb->ifname, sizeof(ifr.ifr_name));
    ifr.ifr_qlen = HOBUF_TXQLEN;
    if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
        log_warn("hobuf: %s: txqueuelen: %s", hb->ifname, strerror(errno));
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, hb->ifname, sizeof(ifr.ifr_name));
    int ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    if (ok) {
        ifr.ifr_flags |= IFF_UP;
        ok = ioctl(s, SIOCSIFFLAGS, &ifr) == 0 && ioctl(s, SIOCGIFINDEX, &ifr) == 0;
    }
    if (!ok) {
        err = -errno;
        close(s);
        goto fail;
    }
    hb->ifindex = ifr.ifr_ifindex;
    close(s);
    return fd;
fail:
    close(fd);
    return err;
}

struct hobuf *hobuf_new(struct loop *l, struct dataplane *dp, const char *ifname,
                        const struct hobuf_limits *lim)
{
    if (!ifname)
        ifname = HOBUF_IFNAME;
    if (strlen(ifname) >= IFNAMSIZ) {
        errno = EINVAL;
        return NULL;
    }
    struct hobuf *hb = calloc(1, sizeof(*hb));
    if (!hb)
        return NULL;
    hb->loop = l;
    hb->dp = dp;
    hb->fd = -1;
    snprintf(hb->ifname, sizeof(hb->ifname), "%s", ifname);
    loop_timer_init(&hb->timer, on_timer, hb);
    hb->q = hobq_new(lim);
    int err = hb->q ? 0 : -ENOMEM;
    if (!err) {
        hb->fd = tun_open(hb);
        if (hb->fd < 0)
            err = hb->fd;
    }
    if (!err) {
        /* Re-injected packets arrive on this device (see hobuf.h). */
        int r = dp_sysctl(dp, hb->ifname, "rp_filter", "0");
        if (r == 0)
            r = dp_sysctl(dp, hb->ifname, "forwarding", "1");
        /* A held packet already passed the FA's IPsec forward check when it
         * first arrived (decrypted from its ESP tunnel, seed [0062]); written
         * back here it has no security path any more, so the same "fwd"
         * policy would drop it (XfrmInTmplMismatch) while the MN's VPN objects
         * are still in place: no second policy check on this device (found in
         * the testbed's intra-move scenario: every flushed packet was lost). */
        if (r == 0)
            r = dp_sysctl(dp, hb->ifname, "disable_policy", "1");
        if (r < 0)
            log_warn("hobuf: %s: sysctl: %s", hb->ifname, strerror(-r));
        ipv6_off(hb->ifname);
        err = loop_add_fd(l, hb->fd, EPOLLIN, on_readable, hb);
    }
    if (err) {
        log_err("hobuf: cannot set up %s: %s", hb->ifname, strerror(-err));
        if (hb->fd >= 0)
            close(hb->fd);
        hobq_free(hb->q);
        free(hb);
        errno = -err;
        return NULL;
    }
    log_info("hobuf: %s up (ifindex %d): %u packets, %u bytes, %u ms per MN", hb->ifname,
             hb->ifindex, hb->q->lim.max_pkts, hb->q->lim.max_bytes, hb->q->lim.hold_ms);
    return hb;
}

static const struct in_addr NO_GW = {0};

static void log_end(const char *what, struct in_addr hoa, const struct hobuf_stats *st)
{
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &hoa, h, sizeof(h));
    log_info("hobuf: %s %s: queued %llu flushed %llu dropped overflow %llu expired %llu "
             "discarded %llu tx %llu",
             what, h, (unsigned long long)st->queued, (unsigned long long)st->flushed,
             (unsigned long long)st->dropped[HOBUF_DROP_OVERFLOW],
             (unsigned long long)st->dropped[HOBUF_DROP_EXPIRED],
             (unsigned long long)st->dropped[HOBUF_DROP_DISCARDED],
             (unsigned long long)st->dropped[HOBUF_DROP_TX]);
}

void hobuf_free(struct hobuf *hb)
{
    if (!hb)
        return;
    drain(hb, HOBUF_TXQLEN); /* counted with the rest as discarded */
    struct hnode *n;
    size_t bkt;
    while ((bkt = 0, n = hmap_iter(&hb->q->mns, &bkt, NULL)))
        hobuf_drop(hb, hmap_entry(n, struct hob_mn, node)->hoa, NULL);
    loop_timer_cancel(hb->loop, &hb->timer);
    loop_del_fd(hb->loop, hb->fd);
    close(hb->fd); /* not persistent: the device goes with its last fd */
    hobq_free(hb->q);
    free(hb);
}

int hobuf_start(struct hobuf *hb, struct in_addr hoa, const char *from_ifname)
{
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &hoa, h, sizeof(h));
    uint64_t now = loop_now_ms_fresh(hb->loop);
    int r = hobq_hold(hb->q, hoa, now);
    if (r < 0)
        return r;
    /* Put before get: the kernel refuses a second hoa/32 on another device. */
    bool had = true;
    r = from_ifname ? dp_route_put(hb->dp, hoa, 32, from_ifname, NO_GW, 0) : -ENOENT;
    if (r == -ENOENT) {
        had = false;
        r = 0;
    }
    if (r == 0) {
        r = dp_route_get(hb->dp, hoa, 32, hb->ifname, NO_GW, 0);
        if (r < 0 && had && dp_route_get(hb->dp, hoa, 32, from_ifname, NO_GW, 0) < 0)
            log_err("hobuf: %s: route on %s lost", h, from_ifname);
    }
    if (r < 0) {
        hobq_drop(hb->q, hoa, NULL);
        log_warn("hobuf: cannot hold %s: %s", h, strerror(-r));
        return r;
    }
    log_info("hobuf: holding packets for %s (route %s -> %s)", h, had ? from_ifname : "none",
             hb->ifname);
    return 0;
}

int hobuf_flush(struct hobuf *hb, struct in_addr hoa, const char *to_ifname, struct in_addr gw,
                struct hobuf_stats *final)
{
    if (!hobq_holding(hb->q, hoa))
        return -ENOENT;
    int r = dp_route_put(hb->dp, hoa, 32, hb->ifname, NO_GW, 0);
    if (r < 0 && r != -ENOENT)
        return r;
    if (to_ifname) {
        r = dp_route_get(hb->dp, hoa, 32, to_ifname, gw, 0);
        if (r < 0) {
            if (dp_route_get(hb->dp, hoa, 32, hb->ifname, NO_GW, 0) < 0)
                log_err("hobuf: route to %s lost", hb->ifname);
            return r;
        }
    }
    /* What the kernel queued on the tun before the switch is older than
     * anything taking the new path now: read it all before writing. */
    drain(hb, SIZE_MAX);
    struct hobuf_stats st;
    int n = hobq_flush(hb->q, hoa, loop_now_ms_fresh(hb->loop), emit_tun, hb, &st);
    rearm(hb);
    log_end(to_ifname ? "flushed" : "flushed (no route)", hoa, &st);
    if (final)
        *final = st;
    return n;
}

int hobuf_drop(struct hobuf *hb, struct in_addr hoa, struct hobuf_stats *final)
{
    struct hobuf_stats st;
    int n = hobq_drop(hb->q, hoa, &st);
    if (n < 0)
        return n;
    rearm(hb);
    if (dp_route_put(hb->dp, hoa, 32, hb->ifname, NO_GW, 0) < 0)
        log_dbg("hobuf: no route on %s to put", hb->ifname);
    log_end("dropped", hoa, &st);
    if (final)
        *final = st;
    return n;
}

bool hobuf_holding(const struct hobuf *hb, struct in_addr hoa)
{
    return hobq_holding(hb->q, hoa);
}

const struct hobq *hobuf_queue(const struct hobuf *hb)
{
    return hb->q;
}

const char *hobuf_ifname(const struct hobuf *hb)
{
    return hb->ifname;
}

int hobuf_ifindex(const struct hobuf *hb)
{
    return hb->ifindex;
}

struct ctl_walk {
    FILE *out;
    uint64_t now;
};

static void write_counters(FILE *out, const struct hobuf_stats *st)
{
    fprintf(out, ",\"held\":%llu,\"held_bytes\":%llu,\"queued\":%llu,\"flushed\":%llu",
            (unsigned long long)st->held_pkts, (unsigned long long)st->held_bytes,
            (unsigned long long)st->queued, (unsigned long long)st->flushed);
    for (int r = 0; r < HOBUF_DROP_REASONS; r++)
        fprintf(out, ",\"dropped_%s\":%llu", hobuf_drop_reason_name(r),
                (unsigned long long)st->dropped[r]);
}

static void ctl_row(void *ctx, struct in_addr hoa, uint64_t since_ms, const struct hobuf_stats *st)
{
    struct ctl_walk *w = ctx;
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &hoa, h, sizeof(h));
    fprintf(w->out, "{\"hoa\":\"%s\",\"age_ms\":%llu", h,
            (unsigned long long)(w->now > since_ms ? w->now - since_ms : 0));
    write_counters(w->out, st);
    fputs("},", w->out);
}

void hobuf_ctl_items(const struct hobuf *hb, FILE *out)
{
    struct ctl_walk w = {.out = out, .now = loop_now_ms(hb->loop)};
    fputs(",\"items\":[", out);
    hobq_foreach(hb->q, ctl_row, &w);
    struct hobuf_stats t;
    hobq_total(hb->q, &t);
    fprintf(out, "{\"hoa\":\"total\",\"mns\":%zu", hobq_count(hb->q));
    write_counters(out, &t);
    fputs("}]", out);
}
