/*
 * Layer-2 trigger of the FA (issue 5 "Buffering at the old FA"): tells the
 * FA, the moment it happens, that a visiting MN has left its access link, so
 * the hand-off buffer (hobuf.h) can start holding its packets before the BU
 * from the new FA arrives.
 *
 * Where the signal comes from.  A radio FA would get a disassociation; in
 * the testbed an MN is a veth pair whose FA-side end is a port of the FA's
 * access bridge acc0 (testbed/lib/topo.sh mn_attach), and leaving deletes
 * the pair, so the FA sees that bridge port disappear.  l2watch listens on
 * rtnetlink in the FA's namespace (RTM_NEWLINK / DELLINK; RTM_NEWNEIGH /
 * DELNEIGH for AF_INET neighbours and AF_BRIDGE FDB entries) and keeps:
 *   - links: ifindex -> master bridge, up (IFF_UP and carrier), bridge or not;
 *   - the FDB: MAC -> bridge port where the bridge last learned it.  Kept
 *     when the kernel deletes the entry (ageing, or the port going down or
 *     away: the kernel flushes the port's FDB around those events), so the
 *     port's loss can still be matched to the MACs that sat on it; forgotten
 *     with the port;
 *   - IPv4 neighbours -> MAC.  An MN's home address is not on the FA's
 *     subnet: the FA has a host route to it on the access link and a
 *     neighbour entry on that link once it has sent to it (the Reg Rep).
 * For every tracked home address (the FA's visitors, l2watch_track) whose
 * MAC's last port was deleted, left the bridge or lost carrier / went down,
 * on_gone(ctx, access link ifindex, hoa) is called once (again only after
 * the MAC shows up on an up port of that bridge).  A tracked access link
 * that is not a bridge (a plain interface: one MN behind it, or a radio
 * whose driver drops carrier) triggers for all addresses tracked on it
 * when it goes down or is deleted; so does a bridge access link; the FA can
 * also trigger that itself (l2watch_link_gone).
 *
 * Event-loop friendly: one non-blocking netlink socket on the loop; the
 * initial state (and a resynchronisation after a receive-buffer overrun,
 * ENOBUFS, treating what vanished meanwhile as gone) comes from dumps on a
 * short-lived second socket.  Callbacks run after a whole batch of messages
 * is applied, so they may call l2watch_track / untrack freely.
 */
#ifndef MIPD_L2WATCH_H
#define MIPD_L2WATCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct l2watch;

/* link_ifindex: the access link the address was tracked on. */
typedef void (*l2watch_gone_fn)(void *ctx, int link_ifindex, struct in_addr hoa);

/* Subscribes, dumps the current state and watches the socket on the loop.
 * NULL with errno set on failure. */
struct l2watch *l2watch_new(struct loop *l, l2watch_gone_fn on_gone, void *ctx);
void l2watch_free(struct l2watch *w);

/* Tracks a visitor's home address on access link link_ifindex (the bridge,
 * or a plain interface).  mac: the MN's link-layer address if the caller
 * knows it, else NULL: taken from the neighbour table (now or when the
 * kernel resolves it).  Tracking an address again updates link and MAC.
 * 0 or -ENOMEM / -EINVAL. */
int l2watch_track(struct l2watch *w, struct in_addr hoa, int link_ifindex, const uint8_t *mac);
void l2watch_untrack(struct l2watch *w, struct in_addr hoa);

/* Calls on_gone now for every address tracked on link_ifindex not already
 * reported gone; returns how many. */
size_t l2watch_link_gone(struct l2watch *w, int link_ifindex);

/* What l2watch knows of a tracked address: its MAC (mac may be NULL) and
 * the bridge port it was last learned on (*port 0: unknown or not a bridge).
 * 0; -ENOENT not tracked; -ENXIO MAC not known yet. */
int l2watch_lookup(const struct l2watch *w, struct in_addr hoa, uint8_t *mac, int *port);

/* Rebuilds the state from dumps, reporting (on_gone, before returning)
 * what vanished since the last event read; done by itself after a netlink
 * overrun.  0 or -errno. */
int l2watch_resync(struct l2watch *w);

/* Number of netlink messages applied and of resynchronisations. */
void l2watch_counters(const struct l2watch *w, uint64_t *msgs, uint64_t *resyncs);

#endif
