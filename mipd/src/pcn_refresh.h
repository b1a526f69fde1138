/*
 * Lifetime refresh at the PCN (seed scenario 8: claim 25, supplementary note
 * 17; DESIGN §6; aaad/FLOWS.md "BR PCN -> HA").
 *
 * The PCN measures the remaining lifetime of each VPN session it holds.  Once
 * it drops below pcn.refresh_threshold_s, a Binding Request (experimental
 * message 255, subtype 17) naming the session's home address goes to the home
 * agent that sent the session's last accepted BU, authenticated with that
 * HA's pairwise key (RO-auth CVSE, HMAC-SHA-256) and with a fresh
 * identification (NTP timestamp, strictly increasing per HA).  It is sent
 * again after pcn.br_timeout_ms, doubling each time, until a BU for that home
 * address arrives (the HA refreshed the session) or the session expires (the
 * PCN then deletes it and its kernel objects: pcn.c's expiry path).
 *
 * One BR round per expiry: a BU whose lifetime is already below the
 * threshold (the HA answered with what its binding has left) does not start
 * another round, so a binding that is ending is not asked about every second.
 */
#ifndef MIPD_PCN_REFRESH_H
#define MIPD_PCN_REFRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct agent;
struct pcn_refresh;
struct vpn_session;

struct pcn_refresh *pcn_refresh_new(struct agent *a);
void pcn_refresh_free(struct pcn_refresh *r); /* stops every BR round */

/* A BU from the HA pcn.ha_peers[peer] was accepted and set session s (lifetime
 * > 0): the session is watched from now on, and every BR round for s's home
 * address ends (counted as br_refreshed). */
void pcn_refresh_updated(struct pcn_refresh *r, const struct vpn_session *s, size_t peer,
                         time_t now);

/* Session sid is gone: a lifetime-0 BU (expired false) or its expiry
 * (expired true: a BR round still waiting is counted as br_unanswered). */
void pcn_refresh_forget(struct pcn_refresh *r, const char *sid, bool expired);

/* Periodic check (pcn.c's expiry tick): starts a BR round for each session
 * whose remaining lifetime is below the threshold. */
void pcn_refresh_check(struct pcn_refresh *r, time_t now);

/* BR rounds in progress (tests, mipctl). */
size_t pcn_refresh_pending(const struct pcn_refresh *r);

#endif
