/*
 * aaad: the AAA server of the Mobile IPv4 VPN system (DESIGN §4, aaad/FLOWS.md), in the home
 * role (AAAH: RFC 4004 AMR -> HAR -> HAA -> AMA, STR, the VPN database and the decision logic
 * of aaah.h) or the foreign role (AAAF: a proxy that watches the AMR/AMA/STR it forwards and
 * keeps the visited domain's VPN information cache).
 *
 * One event loop thread owns every piece of state below; freeDiameter's threads only hand
 * work to it through diam.h (DESIGN §4).
 */
#ifndef AAAD_H
#define AAAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "aaad_conf.h"

struct loop;
struct diam;
struct ctl;
struct msg;

/* Counters shown by the control socket's "counters" command. */
#define AAAD_COUNTERS(X)                                                                           \
    X(amr_rx)                                                                                      \
    X(ama_tx)                                                                                      \
    X(ama_accepted)                                                                                \
    X(ama_denied)                                                                                  \
    X(har_tx)                                                                                      \
    X(haa_rx)                                                                                      \
    X(har_timeouts)                                                                                \
    X(har_undeliverable)                                                                           \
    X(har_send_errors)                                                                             \
    X(str_rx)                                                                                      \
    X(sta_tx)                                                                                      \
    X(deregistrations)                                                                             \
    X(sessions_expired)                                                                            \
    X(answer_errors)                                                                               \
    X(fwd_amr)                                                                                     \
    X(fwd_ama)                                                                                     \
    X(fwd_str)                                                                                     \
    X(fwd_sta)                                                                                     \
    X(fwd_other)                                                                                   \
    X(fwd_amr_unmatched)                                                                           \
    X(fwd_profile_errors)                                                                          \
    X(cache_set)                                                                                   \
    X(cache_forget)                                                                                \
    X(cache_expired)                                                                               \
    X(move_local)                                                                                  \
    X(move_undone)                                                                                 \
    X(str_local)                                                                                   \
    X(str_relayed)                                                                                 \
    X(prev_fa_mismatch)                                                                            \
    X(prev_fa_from_ha)

#define AAAD_MAX_CODES 32 /* distinct denial result codes counted */

struct aaad_counters {
#define X(n) uint64_t n;
    AAAD_COUNTERS(X)
#undef X
    uint32_t denied_code[AAAD_MAX_CODES];
    uint64_t denied_count[AAAD_MAX_CODES];
};

struct aaad_home;
struct aaad_foreign;

struct aaad {
    struct aaad_conf cfg;
    struct loop *loop;
    struct diam *diam;
    struct ctl *ctl;
    time_t started;
    struct aaad_counters cnt;
    struct aaad_home *home;       /* role home */
    struct aaad_foreign *foreign; /* role foreign */
};

/* Counts one denial (AMA with a Result-Code other than 2001) by result code. */
void aaad_count_denial(struct aaad *ad, uint32_t result_code);
/* Writes the counters as ctl items (an array of {"name","value"}). */
void aaad_dump_counters(const struct aaad *ad, FILE *out);

/* Wall-clock time in ms (the clock of the session lifetimes and of the EVENT lines). */
uint64_t aaad_now_ms(void);

/* ---- EVENT lines (FLOWS.md "Event log") ---------------------------------------------------
 *   EVENT <unix-ms> <node-identity> <tx|rx> <AMR|AMA|HAR|HAA|STR|STA> peer=<p> session=<s>
 *         [code=<n>]
 * one write(2) per line to stderr, so lines from freeDiameter's threads never interleave.
 * code 0 = no code field.  White space or control characters in peer/session are written as
 * '_' so a line always splits into its fields. */
void aaad_event(const char *node, const char *dir, const char *msg, const char *peer,
                const char *session, uint32_t code);

/* ---- freeDiameter helpers diam.h does not offer (aaad_fd.c) ------------------------------ */

/* Interprets the AVP values of a message freeDiameter has only split into AVPs: it does so
 * for messages it handles locally, not for those it forwards (routing_dispatch.c; diam.h's
 * forward callback gets them resolved, aaad_take_requests() below resolves them itself).
 * Idempotent; 0 or an errno. */
int aaad_msg_parse(struct msg *m);
/* Takes application-2 requests whose command is one of cmds[0..n) (n <= 4) off freeDiameter's
 * forwarding path, AVPs resolved: cb runs on a freeDiameter routing thread, before
 * diam_on_forward's callback, and returns true when it has taken the message (it must then
 * diam_post() it to the loop, which answers it or hands it back with aaad_forward()), false to
 * let freeDiameter forward it as usual.  One registration per process.  0 or an errno. */
typedef bool (*aaad_take_cb)(void *ctx, struct msg *req, uint32_t cmd);
int aaad_take_requests(const uint32_t *cmds, size_t n, aaad_take_cb cb, void *ctx);
/* Forwards a taken request as freeDiameter would have (routing by Destination-Host/-Realm; the
 * answer goes back to the peer it came from through the forwarding path).  *m is consumed;
 * 0 or an errno (the message is then freed, keys wiped). */
int aaad_forward(struct msg **m);
/* The realm a peer announced in its CER/CEA; false if unknown. */
bool aaad_peer_realm(const char *diamid, char *buf, size_t len);
/* Identity of the peer a received message came from ("?" if unknown). */
void aaad_msg_source(struct msg *m, char *buf, size_t len);
/* Where an answer goes back to: the peer its request came from ("?" if unknown). */
void aaad_answer_dest(struct msg *ans, char *buf, size_t len);
/* Next hop of a request we forward or send: its Destination-Host, else its
 * Destination-Realm (routing picks the peer later). */
void aaad_request_dest(struct msg *req, char *buf, size_t len);
/* 0: the peer talks to us without TLS (its security is configured "transparent": No_TLS),
 * 1: its connection is open (and so TLS-protected), -1: unknown peer or not open. */
int aaad_peer_tls(const char *diamid);
/* Number of peers in state OPEN. */
unsigned aaad_peers_open(void);
/* ctl items: one per configured/known peer: peer, state, tls, realm. */
void aaad_dump_peers(FILE *out);

/* ---- roles (aaad_home.c, aaad_foreign.c) ---------------------------------------------- */

/* Opens the VPN database, builds the AAAH and registers the AMR and STR handlers and the
 * expiry timer.  NULL with err set on failure. */
struct aaad_home *aaad_home_new(struct aaad *ad, char *err, size_t errlen);
/* After diam_stop(): frees pending requests, ends every session (wipes keys, frees pool
 * addresses), closes the database. */
void aaad_home_free(struct aaad_home *h);
size_t aaad_home_sessions(const struct aaad_home *h);
size_t aaad_home_pending(const struct aaad_home *h);
void aaad_home_dump_sessions(const struct aaad_home *h, FILE *out);
void aaad_home_dump_vpn(const struct aaad_home *h, FILE *out);

struct aaad_foreign *aaad_foreign_new(struct aaad *ad, char *err, size_t errlen);
void aaad_foreign_free(struct aaad_foreign *f); /* after diam_stop() */
size_t aaad_foreign_sessions(const struct aaad_foreign *f);
size_t aaad_foreign_pending(const struct aaad_foreign *f);
void aaad_foreign_dump_sessions(const struct aaad_foreign *f, FILE *out);
void aaad_foreign_dump_vpn(const struct aaad_foreign *f, FILE *out);
/* The AAAF's VPN information cache (kept for intra-domain moves answered locally, seed
 * [0063]-[0067]; read-only here). */
const struct vpn_cache *aaad_foreign_cache(const struct aaad_foreign *f);

/* RFC 4004 §9.x MSA grouped AVP on m: SPI (when spi_code != 0), MIP-Algorithm-Type alg, the
 * replay mode (when not 0), nonce (when given), MIP-Session-Key (when given).  0 or an errno. */
int aaad_add_msa(struct msg *m, uint32_t code, uint32_t spi_code, uint32_t spi, uint32_t alg,
                 int replay, const uint8_t *nonce, size_t nonce_len, const uint8_t *key,
                 size_t key_len);

/* Writes vpn_cache_dump_json()'s items of c with "set":set added to each, without the array
 * brackets, preceded by a comma unless *first (which it then clears). */
struct vpn_cache;
void aaad_dump_cache_items(const struct vpn_cache *c, const char *set, time_t now, FILE *out,
                           bool *first);

#endif
