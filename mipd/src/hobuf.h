/*
 * Hand-off buffer of the old FA (issue 5 "Buffering at the old FA"; smooth
 * hand-off, seeds [0063]-[0067]: whatever still reaches the old FA is
 * forwarded to the new one).  From the moment the MN's layer-2 link goes
 * (l2watch.h) until the smooth hand-off tunnel to the new FA is in place (the
 * BU arrives), packets for the MN's home address are held here; then they are
 * re-injected, in order, and follow the new route.
 *
 * Why a tun device.  The daemon owns one tun device ("mipbuf0", IFF_TUN |
 * IFF_NO_PI, not persistent: it disappears with the daemon).  Holding an MN
 * means moving its host route from the access link to that device, through
 * the dataplane (dp_route_put / dp_route_get) so the shadow stays right; the
 * kernel's own forwarding then hands us exactly that MN's packets on the tun
 * fd.  No NFQUEUE / netfilter dependency, nothing else is copied to user
 * space, and it works the same in any namespace or kernel (tun is loaded in
 * the testbed's UML).
 *
 * Order.  One FIFO per home address in arrival order.  A flush moves the
 * route to the new path, then reads everything the kernel queued on the tun
 * before the switch, then writes the FIFO back into the tun, oldest first,
 * in one go.  Packets arriving on the
 * new path while that burst is written may overtake the buffer's last
 * packets (none is lost); the buffered ones keep their order.
 *
 * What the kernel does with a re-injected packet: it is received on mipbuf0
 * and forwarded again (ip_forward, the FA is a router) along the route now
 * in place, so:
 *   - its TTL is decremented twice at the old FA (one hop more; fine);
 *   - its source (the CN) is not routed via mipbuf0, so strict reverse-path
 *     filtering would drop it: the kernel uses max(conf.all, conf.mipbuf0);
 *     hobuf sets mipbuf0's rp_filter to 0 and the testbed runs with all = 0
 *     (a host with all = 1 must use 0 or 2, loose);
 *   - a new path whose next hop still needs ARP queues only
 *     neigh unres_qlen_bytes of the burst; a tunnel to the new FA over the
 *     backbone has its next hop resolved already.
 *
 * Bounds (struct hobuf_limits): per home address a packet count, a byte size
 * and a hold time from arrival, and a byte size for all MNs together.  Beyond
 * them: the newest packet is dropped (tail drop: the oldest data goes on
 * first); a packet older than the hold time is dropped by a timer; a packet
 * for an address not held (a race with a route change, or not IPv4) is
 * dropped as "no MN".  Every drop is counted by reason, per MN and in total.
 *
 * Two layers: struct hobq is the queue logic with time passed in (unit
 * tested with fake time), struct hobuf adds the tun device, the routes and
 * the event loop.
 */
#ifndef MIPD_HOBUF_H
#define MIPD_HOBUF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct loop;
struct dataplane;

#define HOBUF_IFNAME "mipbuf0"

#define HOBUF_DEFAULT_MAX_PKTS 1000u
#define HOBUF_DEFAULT_MAX_BYTES (1024u * 1024u)
#define HOBUF_DEFAULT_HOLD_MS 2000u
#define HOBUF_DEFAULT_TOTAL_BYTES (16ull * 1024u * 1024u)

/* All bounds are inclusive; 0 holds nothing (every packet is dropped). */
struct hobuf_limits {
    uint32_t max_pkts;    /* per home address */
    uint32_t max_bytes;   /* per home address (IP datagram sizes) */
    uint32_t hold_ms;     /* a packet held this long is dropped */
    uint64_t total_bytes; /* all home addresses together */
};
void hobuf_limits_default(struct hobuf_limits *lim);

enum hobuf_drop_reason {
    HOBUF_DROP_OVERFLOW,  /* over max_pkts / max_bytes / total_bytes */
    HOBUF_DROP_EXPIRED,   /* held hold_ms */
    HOBUF_DROP_NO_MN,     /* addressed to no held home address (or not IPv4) */
    HOBUF_DROP_DISCARDED, /* hobuf_drop / hobuf_free: the buffer was thrown away */
    HOBUF_DROP_TX,        /* re-injection failed (write to the tun device) */
    HOBUF_DROP_REASONS
};
/* "overflow", "expired", "no_mn", "discarded", "tx_error" */
const char *hobuf_drop_reason_name(enum hobuf_drop_reason r);

struct hobuf_stats {
    uint64_t held_pkts, held_bytes; /* in the buffer now */
    uint64_t queued;                /* packets accepted into the buffer, ever */
    uint64_t flushed;               /* re-injected */
    uint64_t dropped[HOBUF_DROP_REASONS];
};

/* ---- the queue logic (no I/O; time in monotonic ms, passed in) ----------- */

struct hobq;

struct hobq *hobq_new(const struct hobuf_limits *lim); /* NULL lim: defaults */
void hobq_free(struct hobq *q);                        /* frees packets; counts nothing */

/* Starts a (empty) queue for hoa.  0, -EEXIST (already held) or -ENOMEM. */
int hobq_hold(struct hobq *q, struct in_addr hoa, uint64_t now_ms);
bool hobq_holding(const struct hobq *q, struct in_addr hoa);

/* Offers one IPv4 datagram; its destination address picks the queue.  First
 * expires what is due at now_ms.  Returns true if the packet was copied into
 * the queue; false if dropped, with the reason in *why (why may be NULL). */
bool hobq_push(struct hobq *q, const uint8_t *pkt, size_t len, uint64_t now_ms,
               enum hobuf_drop_reason *why);

/* Drops every packet held hold_ms or longer at now_ms; returns how many. */
size_t hobq_expire(struct hobq *q, uint64_t now_ms);
/* When the oldest packet expires (ms), UINT64_MAX if nothing is held. */
uint64_t hobq_next_expiry(const struct hobq *q);

/* Re-injection hook: 0 = delivered, < 0 = failed (counted HOBUF_DROP_TX).
 * It must not call back into the queue. */
typedef int (*hobq_emit_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* Ends the hold of hoa: expires what is due at now_ms, then hands every
 * remaining packet to emit, oldest first.  *final (may be NULL) gets the
 * MN's last counters.  Returns the number delivered, or -ENOENT. */
int hobq_flush(struct hobq *q, struct in_addr hoa, uint64_t now_ms, hobq_emit_fn emit, void *ctx,
               struct hobuf_stats *final);
/* Ends the hold of hoa discarding its packets (HOBUF_DROP_DISCARDED).
 * Returns the number discarded, or -ENOENT. */
int hobq_drop(struct hobq *q, struct in_addr hoa, struct hobuf_stats *final);

/* Counters of one held address (0, or -ENOENT); since_ms: when the hold
 * started (may be NULL). */
int hobq_stats(const struct hobq *q, struct in_addr hoa, struct hobuf_stats *out,
               uint64_t *since_ms);
/* Totals over every address ever held (held_* = now; no_mn only here). */
void hobq_total(const struct hobq *q, struct hobuf_stats *out);
size_t hobq_count(const struct hobq *q); /* addresses held now */
typedef void (*hobuf_visit_fn)(void *ctx, struct in_addr hoa, uint64_t since_ms,
                               const struct hobuf_stats *st);
/* Visits every held address (the callback must not change the queue). */
void hobq_foreach(const struct hobq *q, hobuf_visit_fn fn, void *ctx);

/* ---- the buffer: tun device, routes, event loop -------------------------- */

struct hobuf;

/* Creates the tun device ifname (NULL: HOBUF_IFNAME), sets it up (rp_filter
 * 0, forwarding 1, no IPv6) and watches its fd on the loop.  NULL lim:
 * defaults.  Returns NULL with errno set (no /dev/net/tun: ENOENT; the name
 * is taken: EBUSY). */
struct hobuf *hobuf_new(struct loop *l, struct dataplane *dp, const char *ifname,
                        const struct hobuf_limits *lim);
/* Discards everything held (counted), puts the tun routes, closes the device. */
void hobuf_free(struct hobuf *hb);

/* Starts holding hoa.  Takes over the caller's reference on the host route
 * hoa/32 on from_ifname (main table, no gateway): dp_route_put there, then
 * dp_route_get hoa/32 on the tun device.  If the caller holds no such route
 * (the put says -ENOENT) only the tun route is installed.  Returns 0,
 * -EEXIST (already held) or the dataplane's -errno (then nothing changed:
 * the caller's route is back). */
int hobuf_start(struct hobuf *hb, struct in_addr hoa, const char *from_ifname);

/* Ends the hold of hoa and re-injects its packets, in order, into the
 * kernel: puts the tun route, and when to_ifname is given takes hoa/32 on
 * to_ifname via gw (main table; gw 0 = on link) with
 * dp_route_get: that reference is the CALLER's from then on (put it when the
 * smooth hand-off tunnel goes).  to_ifname NULL: no route is added (the
 * kernel's other routes / xfrm policies decide).  Then reads what the
 * kernel queued on the tun before the switch and writes the queue back.
 * Returns the number re-injected, or -ENOENT (not held), or the dataplane's
 * -errno when the new route could not be added (then the tun route is back
 * and hoa is still held).  *final (may be NULL): the MN's last counters.
 * The route is switched here, not by the caller beforehand: the kernel
 * refuses a second hoa/32 in a table while the tun's exists (routes are
 * added with NLM_F_EXCL).  An MN back on its old access link before any BU:
 * hobuf_flush(hb, hoa, <that link>, 0, ...) gives the FA its route back. */
int hobuf_flush(struct hobuf *hb, struct in_addr hoa, const char *to_ifname, struct in_addr gw,
                struct hobuf_stats *final);

/* Ends the hold of hoa discarding its packets; puts the tun route (no route
 * for hoa remains).  Returns the number discarded or -ENOENT. */
int hobuf_drop(struct hobuf *hb, struct in_addr hoa, struct hobuf_stats *final);

bool hobuf_holding(const struct hobuf *hb, struct in_addr hoa);
const struct hobq *hobuf_queue(const struct hobuf *hb); /* counters: hobq_stats etc. */
const char *hobuf_ifname(const struct hobuf *hb);
int hobuf_ifindex(const struct hobuf *hb);

/* For the control socket (ctl.h): writes ,"items":[...] with one flat object
 * per held address ("hoa", "age_ms", "held", "held_bytes", "queued",
 * "flushed", "dropped_<reason>"...) and a last one with "hoa":"total" (the
 * totals and "mns", the number of addresses held). */
void hobuf_ctl_items(const struct hobuf *hb, FILE *out);

#endif
