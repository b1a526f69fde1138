/*
 * mipd's Diameter side (RFC 4004, aaad/FLOWS.md): implements the agent's AAA
 * interface (struct agent_aaa_ops, src/agent.h) over freeDiameter through the
 * glue of diam/diam.h.  Linked into the mipd executable only: the agent logic
 * and its unit tests never see freeDiameter.
 */
#ifndef MIPD_AAA_DIAM_H
#define MIPD_AAA_DIAM_H

#include <stddef.h>

struct agent;
struct aaa_diam;

/* Starts libfdcore with the agent's freeDiameter configuration and hooks the
 * agent up: a->aaa / a->aaa_ctx, and for the HA role the HAR handler.  NULL
 * with a precise reason in err on failure. */
struct aaa_diam *aaa_diam_start(struct agent *a, const char *fd_conf, char *err, size_t errlen);
/* Frees the HARs still unanswered and stops libfdcore. */
void aaa_diam_stop(struct aaa_diam *g);
/* Our Diameter identity (for the event log). */
const char *aaa_diam_identity(const struct aaa_diam *g);
/* Diameter counters as JSON {name, value} items, each preceded by a comma. */
void aaa_diam_dump_counters(const struct aaa_diam *g, void *file);

#endif
