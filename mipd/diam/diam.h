/*
 * Diameter glue between libfdcore and a daemon's event loop (DESIGN §4).
 *
 * freeDiameter runs its own threads.  Everything they hand us (a request for
 * a command we serve, an answer to a request we sent, a timeout) is queued
 * and run as a callback on the loop thread, which owns all protocol state;
 * no lock is held around protocol state.  Messages handed to callbacks are
 * owned by the callback: answer them (diam_answer), pass them on, or free
 * them (diam_msg_free wipes our key AVPs first).
 *
 * One instance per process (libfdcore is a process-wide singleton).
 * Used by aaad (home/foreign) and mipd (FA/HA roles).
 */
#ifndef MIPD_DIAM_H
#define MIPD_DIAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct msg;
struct avp;
struct dict_object;
struct diam;

/* Starts libfdcore with the freeDiameter configuration file fd_conf (peers,
 * TLS credentials, extensions: the operator's file, unchanged), registers
 * the RFC 4004 + MIP4VPN dictionary under vendor_id (0 = default), declares
 * support of application 2 (RFC 4004) and waits until the core is running.
 * Returns NULL with a precise reason in err on failure. */
struct diam *diam_start(struct loop *loop, const char *fd_conf, uint32_t vendor_id, char *err,
                        size_t errlen);
/* Shuts libfdcore down (bounded wait) and frees d.  Queued events that have
 * not run are dropped (their messages freed). */
void diam_stop(struct diam *d);

/* Our Diameter identity and realm (from the freeDiameter configuration). */
const char *diam_identity(const struct diam *d);
const char *diam_realm(const struct diam *d);

/* ---- running work on the loop thread ------------------------------------ */

/* Queues fn(arg) to run on the loop thread; callable from any thread.
 * 0 or -errno. */
int diam_post(struct diam *d, void (*fn)(void *arg), void *arg);

/* ---- requests we serve -------------------------------------------------- */

/* Called on the loop thread with a request of application 2 and command
 * cmd_code addressed to this node.  The callback owns req: it must answer it
 * (diam_answer, at once or later) or diam_msg_free it. */
typedef void (*diam_req_cb)(void *ctx, struct msg *req);
int diam_on_request(struct diam *d, uint32_t cmd_code, diam_req_cb cb, void *ctx);

/* Makes the answer to req (Session-Id, Origin-Host/-Realm, Auth-Application-Id
 * set by freeDiameter) and returns it in *ans; req is consumed (it stays
 * attached to the answer).  0 or errno. */
int diam_new_answer(struct msg *req, struct msg **ans);
/* Sets Result-Code (and Error-Message when msg is not NULL) on an answer. */
int diam_set_result(struct msg *ans, uint32_t result_code, const char *error_message);
/* Sends an answer made by diam_new_answer; *ans is consumed (NULL after). */
int diam_answer(struct diam *d, struct msg **ans);

/* ---- requests we send --------------------------------------------------- */

/* Called on the loop thread with the answer (owned by the callback) or, when
 * no answer came within the timeout or freeDiameter could not route the
 * request, ans = NULL and why = a precise reason. */
typedef void (*diam_ans_cb)(void *arg, struct msg *ans, const char *why);
/* Sends *req (consumed) with an answer timeout. 0 or errno (then the
 * callback is not called and the request is freed). */
int diam_send(struct diam *d, struct msg **req, uint32_t timeout_ms, diam_ans_cb cb, void *arg);

/* New request of application 2 with a new Session-Id (sid_opt: optional
 * suffix, may be NULL) or, when session_id is not NULL, that Session-Id. */
int diam_new_request(uint32_t cmd_code, const char *session_id, struct msg **req);

/* ---- proxying (AAAF) ---------------------------------------------------- */

/* Called on a freeDiameter routing thread for every application-2 message
 * this node forwards (requests and answers).  The callback must not touch
 * loop state: it may read the message (its AVPs are resolved against the
 * dictionary before the call) and diam_post() a copy of what it needs.
 * It must leave the message alone (freeDiameter forwards it on return). */
typedef void (*diam_fwd_cb)(void *ctx, struct msg *m, bool is_request, uint32_t cmd_code);
int diam_on_forward(struct diam *d, diam_fwd_cb cb, void *ctx);

/* ---- AVP helpers (vendor 0 = IETF, else our vendor) ---------------------- */

struct dict_object *diam_avp_dict(uint32_t code, uint32_t vendor);
int diam_add_u32(void *parent, uint32_t code, uint32_t vendor, uint32_t v);
int diam_add_os(void *parent, uint32_t code, uint32_t vendor, const void *p, size_t len);
int diam_add_str(void *parent, uint32_t code, uint32_t vendor, const char *s);
int diam_add_addr(void *parent, uint32_t code, uint32_t vendor, struct in_addr a);
/* Adds an empty grouped AVP and returns it in *grp for diam_add_* on it. */
int diam_add_group(void *parent, uint32_t code, uint32_t vendor, struct avp **grp);
/* Adds Destination-Realm / Destination-Host (IETF codes 283 / 293). */
int diam_add_dest(struct msg *m, const char *realm, const char *host);

/* First AVP code/vendor directly under parent (a msg or grouped avp).
 * Return 0, ENOENT (absent) or EINVAL (wrong length / type). */
int diam_get_avp(void *parent, uint32_t code, uint32_t vendor, struct avp **out);
int diam_get_u32(void *parent, uint32_t code, uint32_t vendor, uint32_t *v);
/* *p points into the message (valid while it lives). */
int diam_get_os(void *parent, uint32_t code, uint32_t vendor, const uint8_t **p, size_t *len);
int diam_get_addr(void *parent, uint32_t code, uint32_t vendor, struct in_addr *a);
/* Copies a UTF8String / DiameterIdentity into buf (NUL-terminated); ENOSPC if too long. */
int diam_get_str(void *parent, uint32_t code, uint32_t vendor, char *buf, size_t buflen);
/* Session-Id of a message into buf. */
int diam_session_id(struct msg *m, char *buf, size_t buflen);
/* Result-Code of an answer (0 if absent). */
uint32_t diam_result_code(struct msg *ans);
/* Command code and request flag. */
uint32_t diam_cmd_code(struct msg *m);

/* Wipes our key AVPs and the RFC 4004 MIP-Session-Key values, then frees. */
void diam_msg_free(struct msg *m);

/* ---- counters ----------------------------------------------------------- */
struct diam_counters {
    uint64_t req_rx, ans_tx, req_tx, ans_rx, timeouts, send_errors, fwd_req, fwd_ans;
};
void diam_get_counters(const struct diam *d, struct diam_counters *out);

#endif
