/*
 * Agent state shared by the HA and FA roles: configuration, event loop,
 * dataplane, counters, and the transmit hook.  Protocol handlers take raw
 * datagrams and send through agent->tx, so unit tests drive them without
 * sockets (the tx hook captures) and without a kernel (recorder dataplane).
 */
#ifndef MIPD_AGENT_H
#define MIPD_AGENT_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dataplane.h"
#include "hmap.h"
#include "loop.h"

/* Where a datagram came from / goes to. */
struct pkt_addr {
    struct in_addr addr;
    uint16_t port;
    int ifindex;              /* receiving / sending interface; 0 = by routing */
    struct in_addr local;     /* our address it was sent to / is to be sent from (0 = any) */
};

/* Sends a UDP 434 datagram. Returns 0 or -errno. */
typedef int (*agent_tx_fn)(void *ctx, const struct pkt_addr *to, const uint8_t *buf, size_t len);

#define AGENT_COUNTERS(X)                                                                          \
    X(rrq_rx)                                                                                      \
    X(rrq_malformed)                                                                               \
    X(rrq_accepted)                                                                                \
    X(rrq_denied)                                                                                  \
    X(rrq_auth_failed)                                                                             \
    X(rrq_id_mismatch)                                                                             \
    X(rrq_relayed)                                                                                 \
    X(rrp_rx)                                                                                      \
    X(rrp_malformed)                                                                               \
    X(rrp_unmatched)                                                                               \
    X(rrp_tx)                                                                                      \
    X(reg_timeouts)                                                                                \
    X(deregistrations)                                                                             \
    X(expirations)                                                                                 \
    X(adv_tx)                                                                                      \
    X(solicit_rx)                                                                                  \
    X(tx_errors)                                                                                   \
    X(kernel_errors)                                                                               \
    X(unknown_rx)

struct agent_counters {
#define X(n) uint64_t n;
    AGENT_COUNTERS(X)
#undef X
    uint64_t denied_by_code[256];
};

struct ha_state;
struct fa_state;

struct agent {
    struct mipd_config *cfg;
    struct loop *loop;
    struct dataplane *dp;
    agent_tx_fn tx;
    void *tx_ctx;
    struct agent_counters cnt;
    /* Wall clock as a 64-bit NTP timestamp for identification checks (tests override). */
    uint64_t (*ntp_now)(void);
    struct ha_state *ha;
    struct fa_state *fa;
};

/* ---- home agent (ha.c) ---- */
int ha_init(struct agent *a);
void ha_fini(struct agent *a); /* drops every binding and its kernel state */
void ha_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len);
size_t ha_binding_count(const struct agent *a);
void ha_dump_bindings(struct agent *a, FILE *out); /* JSON array */

/* ---- foreign agent (fa.c) ---- */
int fa_init(struct agent *a);
void fa_fini(struct agent *a);
void fa_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len);
/* ICMP router solicitation received on access link index i. */
void fa_solicit_rx(struct agent *a, size_t link, const uint8_t *buf, size_t len);
/* Sends an advertisement on link i now (also driven by the periodic timer). */
void fa_advertise(struct agent *a, size_t link);
/* Hook used to send ICMP adverts (set by the daemon; tests capture). */
typedef int (*fa_icmp_tx_fn)(void *ctx, size_t link, const uint8_t *buf, size_t len);
void fa_set_icmp_tx(struct agent *a, fa_icmp_tx_fn fn, void *ctx);
/* Access-link resolution done by the daemon at start (address + ifindex). */
void fa_set_link_info(struct agent *a, size_t link, int ifindex, struct in_addr addr);
size_t fa_visitor_count(const struct agent *a);
void fa_dump_visitors(struct agent *a, FILE *out);

/* Counters as a JSON array of {name, value} items. */
void agent_dump_counters(const struct agent *a, FILE *out);
uint64_t agent_ntp_now(void);

#endif
