/*
 * Agent state shared by the HA, FA and PCN roles: configuration, event loop,
 * dataplane, counters, the transmit hook and the AAA interface.  Protocol handlers take raw
 * datagrams and send through agent->tx, so unit tests drive them without
 * sockets (the tx hook captures) and without a kernel (recorder dataplane).
 */
#ifndef MIPD_AGENT_H
#define MIPD_AGENT_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "dataplane.h"
#include "hmap.h"
#include "loop.h"

/* Where a datagram came from / goes to. */
struct pkt_addr {
    struct in_addr addr;
    uint16_t port;
    int ifindex;          /* receiving / sending interface; 0 = by routing */
    struct in_addr local; /* our address it was sent to / is to be sent from (0 = any) */
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
    X(rrq_in_progress)                                                                             \
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
    X(unknown_rx)                                                                                  \
    X(amr_tx)                                                                                      \
    X(ama_rx)                                                                                      \
    X(aaa_timeouts)                                                                                \
    X(moves_relayed)                                                                               \
    X(moves_refused)                                                                               \
    X(moves)                                                                                       \
    X(move_bu_refused)                                                                             \
    X(handoff_bu_tx)                                                                               \
    X(handoff_bu_failed)                                                                           \
    X(handoff_no_peer)                                                                             \
    X(handoffs)                                                                                    \
    X(handoff_ended)                                                                               \
    X(pcn_forgotten)                                                                               \
    X(handoff_buffered)                                                                            \
    X(handoff_flushed)                                                                             \
    X(aaa_errors)                                                                                  \
    X(str_tx)                                                                                      \
    X(har_rx)                                                                                      \
    X(haa_tx)                                                                                      \
    X(bu_tx)                                                                                       \
    X(bu_retx)                                                                                     \
    X(bu_timeouts)                                                                                 \
    X(ba_rx)                                                                                       \
    X(ba_refused)                                                                                  \
    X(ba_unmatched)                                                                                \
    X(ba_auth_failed)                                                                              \
    X(bu_rx)                                                                                       \
    X(bu_accepted)                                                                                 \
    X(ba_tx)                                                                                       \
    X(bu_malformed)                                                                                \
    X(bu_unknown_peer)                                                                             \
    X(bu_auth_failed)                                                                              \
    X(bu_replayed)                                                                                 \
    X(bu_bad_vpninfo)                                                                              \
    X(bu_prohibited)                                                                               \
    X(vpn_cache_errors)                                                                            \
    X(vpn_set)                                                                                     \
    X(vpn_set_failed)                                                                              \
    X(vpn_plan_errors)                                                                             \
    X(vpn_no_default_sa)                                                                           \
    X(vpn_removed)                                                                                 \
    X(br_tx)                                                                                       \
    X(br_retx)                                                                                     \
    X(br_refreshed)                                                                                \
    X(br_unanswered)                                                                               \
    X(br_rx)                                                                                       \
    X(br_malformed)                                                                                \
    X(br_unknown_peer)                                                                             \
    X(br_auth_failed)                                                                              \
    X(br_replayed)                                                                                 \
    X(br_silent)                                                                                   \
    X(br_answered)                                                                                 \
    X(br_bu_failed)

struct agent_counters {
#define X(n) uint64_t n;
    AGENT_COUNTERS(X)
#undef X
    uint64_t denied_by_code[256];
};

struct ha_state;
struct fa_state;
struct pcn_state;
struct ro_state;
struct vpn_cache;
struct vpn_profile;
struct vpn_dp;

/* ---- the AAA seen from the agent (RFC 4004, aaad/FLOWS.md) ------------------
 *
 * Plain structs, no freeDiameter: mipd/aaa_diam.c translates them to and from
 * Diameter messages, unit tests capture them.  Pointers inside are valid for
 * the duration of the call only (copy what must be kept).
 */

/* FA -> AAA: AA-Mobile-Node-Request (RFC 4004 §5.1). */
struct aaa_amr {
    uint64_t id;            /* the agent's handle; fa_aaa_answer() quotes it */
    const char *session_id; /* NULL: a new session; else the visitor's session */
    const char *nai;        /* User-Name */
    const char *realm;      /* Destination-Realm: the NAI's realm */
    const uint8_t *reg_req; /* MIP-Reg-Request: the request as received */
    size_t reg_req_len;
    uint32_t mn_aaa_spi;        /* MIP-MN-AAA-SPI */
    uint32_t auth_input_len;    /* MIP-Auth-Input-Data-Length: octets 0 .. MN-AAA SPI */
    uint32_t authenticator_len; /* MIP-Authenticator-Length */
    uint32_t authenticator_off; /* MIP-Authenticator-Offset */
    const uint8_t *challenge;   /* MIP-FA-Challenge */
    size_t challenge_len;
    uint32_t feature_vector; /* MIP-Feature-Vector (RFC 4004 §7.5 bits) */
    struct in_addr hoa;      /* MIP-Mobile-Node-Address, 0.0.0.0 = not sent */
    struct in_addr ha;       /* MIP-Home-Agent-Address */
    uint32_t timeout_ms;
    /* Moves / service update (FLOWS "Moves"): from the MN's CVSE / NVSE. */
    bool has_prev_fa;
    struct in_addr prev_fa;  /* MIP4VPN-Previous-FA-Address */
    uint32_t service_update; /* MIP4VPN-Service-Update-Request, 0 = not sent */
};

/* AAA -> FA: AA-Mobile-Node-Answer, or no answer at all. */
struct aaa_ama {
    bool answered; /* false: no answer (why says what happened) */
    const char *why;
    uint32_t result_code;     /* Result-Code (0 if absent) */
    const char *session_id;   /* of the answer (or of the request) */
    const char *origin_host;  /* for the event log; may be NULL */
    const char *origin_realm; /* where an STR can go when the NAI is not known */
    const uint8_t *reg_reply; /* MIP-Reg-Reply, NULL if absent */
    size_t reg_reply_len;
    bool has_lifetime;
    uint32_t lifetime; /* Authorization-Lifetime */
    struct in_addr hoa, ha;
    bool has_fa_ha; /* MIP-FA-to-HA-MSA */
    uint32_t fa_ha_spi;
    const uint8_t *fa_ha_key;
    size_t fa_ha_key_len;
    const struct vpn_profile *profiles; /* the FA's VPN profiles (decoded, validated) */
    unsigned n_profiles;
    uint32_t decode_rc; /* nonzero: the answer's AVPs could not be decoded */
    const char *decode_err;
    bool has_prev_fa; /* MIP4VPN-Previous-FA-Address: a move, hand off from there */
    struct in_addr prev_fa;
};

/* AAA -> HA: Home-Agent-MIP-Request (RFC 4004 §5.3). */
struct aaa_har {
    uint64_t id;        /* the glue's handle; answer_har() quotes it */
    uint32_t decode_rc; /* nonzero: the HAR is malformed; answer it with this code */
    const char *decode_err;
    const char *session_id;
    const char *origin_host;
    const char *nai;
    const uint8_t *reg_req;
    size_t reg_req_len;
    bool has_lifetime;
    uint32_t lifetime; /* Authorization-Lifetime granted by the AAAH */
    uint32_t feature_vector;
    struct in_addr hoa; /* MIP-Mobile-Node-Address (assigned when the MN asked 0.0.0.0) */
    struct in_addr ha;  /* MIP-Home-Agent-Address */
    /* MIP-MN-to-HA-MSA + MIP-HA-to-MN-MSA */
    bool has_mn_ha;
    uint32_t mn_ha_spi;
    uint32_t mn_ha_alg;    /* MIP-Algorithm-Type (2 = HMAC-SHA-1) */
    uint32_t mn_ha_replay; /* MIP-Replay-Mode (2 = timestamps) */
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *mn_ha_key;
    size_t mn_ha_key_len;
    /* MIP-HA-to-FA-MSA */
    bool has_fa_ha;
    uint32_t fa_ha_spi;
    const uint8_t *fa_ha_key;
    size_t fa_ha_key_len;
    const struct vpn_profile *profiles; /* the HA's set (ha-gw, fa-ha, fa-pcn legs) */
    unsigned n_profiles;
};

/* HA -> AAA: Home-Agent-MIP-Answer. */
struct aaa_haa {
    uint32_t result_code; /* 2001, 4005 (MIP-Reply-Failure: reg_reply says why), 5xxx */
    const char *error_message;
    const uint8_t *reg_reply; /* NULL when none could be made */
    size_t reg_reply_len;
    struct in_addr ha, hoa;
    bool has_fa_ha_spi;
    uint32_t fa_ha_spi;
    bool has_prev_fa; /* MIP4VPN-Previous-FA-Address: the replaced binding's CoA */
    struct in_addr prev_fa;
};

struct agent_aaa_ops {
    /* FA: sends an AMR; the Session-Id it carries (amr->session_id or a new
     * one) is written to sid.  Exactly one fa_aaa_answer(a, amr->id, ...)
     * follows, unless this returns -errno (nothing was sent). */
    int (*send_amr)(void *ctx, const struct aaa_amr *amr, char *sid, size_t sidlen);
    /* FA: ends a session (STR, base protocol 275 with Auth-Application-Id 2). */
    int (*send_str)(void *ctx, const char *session_id, const char *nai, const char *realm,
                    uint32_t cause);
    /* HA: answers the HAR of that id (each HAR is answered exactly once). */
    int (*answer_har)(void *ctx, uint64_t har_id, const struct aaa_haa *haa);
};

/* STR Termination-Cause (RFC 6733 §8.15) the FA sends (FLOWS "STR/STA"). */
#define AAA_TC_LOGOUT 1u
#define AAA_TC_BAD_ANSWER 3u
#define AAA_TC_ADMINISTRATIVE 4u
#define AAA_TC_USER_MOVED 7u
#define AAA_TC_SESSION_TIMEOUT 8u

/* Diameter Result-Codes the agents use (RFC 6733 §7.1, RFC 4004 §6). */
#define AAA_RC_SUCCESS 2001u
#define AAA_RC_UNABLE_TO_DELIVER 3002u
#define AAA_RC_TOO_BUSY 3004u
#define AAA_RC_REALM_NOT_SERVED 3003u
#define AAA_RC_AUTHENTICATION_REJECTED 4001u
#define AAA_RC_MIP_REPLY_FAILURE 4005u
#define AAA_RC_HA_NOT_AVAILABLE 4006u
#define AAA_RC_AUTHORIZATION_REJECTED 5003u
#define AAA_RC_INVALID_AVP_VALUE 5004u
#define AAA_RC_MISSING_AVP 5005u
#define AAA_RC_UNABLE_TO_COMPLY 5012u

/* MIP-Feature-Vector bits (RFC 4004 §7.5). */
#define AAA_FV_MN_HOME_ADDRESS_REQUESTED 0x001u
#define AAA_FV_MN_HA_KEY_REQUEST 0x010u
#define AAA_FV_FA_HA_KEY_REQUEST 0x040u

struct agent {
    struct mipd_config *cfg;
    struct loop *loop;
    struct dataplane *dp;
    agent_tx_fn tx;
    void *tx_ctx;
    struct agent_counters cnt;
    /* Wall clock as a 64-bit NTP timestamp for identification checks (tests override). */
    uint64_t (*ntp_now)(void);
    /* AAA mode (NULL in plain mode): the Diameter glue, or a test capture. */
    const struct agent_aaa_ops *aaa;
    void *aaa_ctx;
    /* Node name in EVENT lines (Diameter identity / configured identity / host). */
    const char *identity;
    /* Where EVENT lines go (NULL = stderr). */
    FILE *event_out;
    struct vpn_cache *vpn; /* VPN information cache of this node (AAA mode, PCN) */
    struct vpn_dp *vdp;    /* its tunnel and QoS control (vpn_dp.h), with the cache */
    struct ha_state *ha;
    struct fa_state *fa;
    struct pcn_state *pcn;
    struct ro_state *ro;
};

/* ---- home agent (ha.c) ---- */
int ha_init(struct agent *a);
void ha_fini(struct agent *a); /* drops every binding and its kernel state */
void ha_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len);
size_t ha_binding_count(const struct agent *a);
void ha_dump_bindings(struct agent *a, FILE *out); /* JSON array */

/* AAA mode: a HAR for this HA (aaa_diam.c or a test). */
void ha_har_rx(struct agent *a, const struct aaa_har *har);

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
/* Smooth hand-off (fa.smooth_handoff): the hand-off buffer (hobuf.h, tun
 * device) and the layer-2 trigger (l2watch.h); either may fail (logged):
 * the FA then runs without it.  The daemon calls it after fa_init; unit
 * tests do not (no tun device, no netlink). */
int fa_handoff_start(struct agent *a);
/* mipctl handoff: ,"items":[...] of hobuf_ctl_items (empty without buffer). */
void fa_handoff_ctl_items(const struct agent *a, FILE *out);
size_t fa_visitor_count(const struct agent *a);
void fa_dump_visitors(struct agent *a, FILE *out);
/* AAA mode: the answer to the AMR of that id (see struct agent_aaa_ops). */
void fa_aaa_answer(struct agent *a, uint64_t amr_id, const struct aaa_ama *ama);

/* ---- proxy correspondent node (pcn.c) ---- */
int pcn_init(struct agent *a);  /* installs the UDP redirect of each served prefix */
void pcn_fini(struct agent *a); /* drops the VPN cache and the redirects */
void pcn_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len);
size_t pcn_session_count(const struct agent *a);

/* ---- binding updates sent by the HA (bu.c, DESIGN §6, FLOWS "BU/BA") ---- */
struct bu_txn;
struct vpn_info;
/* Result of one BU transaction: a BA status (0 = accepted), or -ETIMEDOUT
 * when no acceptable BA came after every retransmission. */
typedef void (*bu_done_fn)(struct agent *a, void *arg, struct bu_txn *t, int status);
int bu_init(struct agent *a);
void bu_fini(struct agent *a); /* cancels every transaction (callbacks not called) */
/* Sends a BU to dst carrying info, authenticated and sealed with peer's key;
 * retransmits with back-off (ha.bu_timeout_ms doubling, ha.bu_retries
 * transmissions).  info is copied.  NULL (err says why) when nothing was sent. */
struct bu_txn *bu_start(struct agent *a, struct in_addr dst, const struct mipd_peer *peer,
                        struct in_addr hoa, struct in_addr coa, uint16_t lifetime,
                        const struct vpn_info *info, bu_done_fn cb, void *arg, char *err,
                        size_t errlen);
void bu_cancel(struct agent *a, struct bu_txn *t); /* callback not called */
void bu_ba_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len);
size_t bu_pending_count(const struct agent *a);

/* EVENT line for the scenarios' message-sequence checks (aaad/FLOWS.md):
 *   EVENT <unix-ms> <identity> <tx|rx> <MSG> peer=<peer> session=<session> [code=<n>]
 * code < 0 leaves it out. */
void agent_event(const struct agent *a, const char *dir, const char *msg, const char *peer,
                 const char *session, int code);
/* Same with the peer an IPv4 address. */
void agent_event_ip(const struct agent *a, const char *dir, const char *msg, struct in_addr peer,
                    const char *session, int code);
/* VPN cache clock: seconds of the loop's monotonic clock. */
time_t agent_now_s(struct agent *a);

/* ---- tunnel and QoS control of the VPN cache sessions (vpn_dp.h) ----
 * No-ops returning 0 when the agent keeps no VPN information. */
/* Creates a->vdp for a node whose tunnel address is node (installs the
 * default SAs).  -errno with err on failure. */
int agent_vpn_init(struct agent *a, struct in_addr node, char *err, size_t errlen);
void agent_vpn_fini(struct agent *a); /* removes every session's objects, the default SAs */
/* Delete-then-set of session sid (vpn_dp_set), counted: vpn_set, or
 * vpn_set_failed plus vpn_plan_errors (-EINVAL) / vpn_no_default_sa
 * (-ENOKEY) / kernel_errors (other).  why: the reason, for the denial. */
int agent_vpn_set(struct agent *a, const char *sid, struct in_addr hoa, const struct vpn_profile *p,
                  unsigned n, char *why, size_t whylen);
/* Roll-back: the session's objects back to what the cache holds for sid
 * (none when the cache does not hold it). */
void agent_vpn_restore(struct agent *a, const char *sid);
void agent_vpn_remove(struct agent *a, const char *sid);

/* Counters as a JSON array of {name, value} items. */
void agent_dump_counters(const struct agent *a, FILE *out);
/* The same items without the brackets (to append more). */
void agent_dump_counter_items(const struct agent *a, FILE *out);
uint64_t agent_ntp_now(void);

#endif
