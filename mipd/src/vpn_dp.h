/*
 * VPN data plane of an agent: the tunnel control and QoS control of the
 * seeds' MAVPN part (seed [0060]-[0062], Figs. 15-24; DESIGN §8), on top of
 * the dataplane shadow.
 *
 * Per VPN information cache session (key: the Session-Id) it keeps the list
 * of kernel objects the session holds: the SAs and policies, DSCP marks and
 * IP-in-IP paths that vpn_plan_session() gives for this node.  Setting a
 * session's profiles is delete-then-set: what the new plan does not hold any
 * more is removed first, then what it adds is installed (SAs and policies in
 * one dp_xfrm_many batch, marks in one dp_mark_many batch, DESIGN §8
 * "batching").  Objects identical in the old and the new plan stay untouched,
 * so a re-registration does not reset an SA (keys are compared through a keyed
 * fingerprint, never kept).
 *
 * vpnshare 0 (SPI 0 in a profile, seed [0062]): the policies point at the
 * gateways' pre-configured default SA pair (config `default_sas`), installed
 * here at start (SAs only, both directions) and removed at the end.  The
 * policy template carries that SA's SPI: with SPI 0 the kernel takes any SA
 * between the two gateways with the same reqid (xfrm_state_find: the newest),
 * and per-user SAs between the same gateways are there too.
 *
 * Encapsulation-only profiles: an IP-in-IP tunnel to the remote gateway
 * (shared, "mip<hex remote>"), a default route through it in a table of that
 * gateway (VPN_DP_ENCAP_TABLE_BASE + n) and a rule selecting the profile's
 * source AND destination into that table, ahead of the FA's reverse-tunnel
 * rules (priority VPN_DP_ENCAP_RULE_PRIO).
 */
#ifndef MIPD_VPN_DP_H
#define MIPD_VPN_DP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "dataplane.h"
#include "vpn_plan.h"
#include "vpn_profile.h"

#define VPN_DP_ENCAP_TABLE_BASE 10000u
#define VPN_DP_ENCAP_RULE_PRIO 900u

struct vpn_dp;

/* The VPN data plane of a node of the given role whose tunnel address is
 * node; installs the default SAs (both directions).  NULL with err when they
 * cannot be installed (nothing is left behind). */
struct vpn_dp *vpn_dp_new(struct dataplane *dp, enum vpn_node_role role, struct in_addr node,
                          const struct mipd_default_sa *defaults, size_t n_defaults, char *err,
                          size_t errlen);
/* Removes what every session holds and the default SAs; frees v. */
void vpn_dp_free(struct vpn_dp *v);

/* Delete-then-set of session sid with profiles p[0..n) (n 0: it holds
 * nothing).  hoa: the MN's home address (selectors with source 0.0.0.0/0).
 * Returns 0, or:
 *   -EINVAL   a profile cannot be planned at this node (err says which and
 *             why): nothing changed;
 *   -ENOKEY   a vpnshare-0 profile needs a default SA with a gateway that
 *             `default_sas` does not list: nothing changed;
 *   -errno    the kernel refused an object (err names it): what the new plan
 *             installed is removed again, the session holds only the objects
 *             the old and the new plan share.  The caller puts the previous
 *             profiles back with another vpn_dp_set (roll-back) or removes
 *             the session. */
int vpn_dp_set(struct vpn_dp *v, const char *sid, struct in_addr hoa, const struct vpn_profile *p,
               unsigned n, char *err, size_t errlen);
/* Removes what session sid holds; returns how many objects the kernel
 * refused to remove (they stay in the shadow until the flush). */
unsigned vpn_dp_remove(struct vpn_dp *v, const char *sid);

size_t vpn_dp_session_count(const struct vpn_dp *v);
/* Objects session sid holds (0 if it holds none or is unknown). */
unsigned vpn_dp_session_objects(const struct vpn_dp *v, const char *sid);
/* One line per object of the session ("sa esp 192.0.2.11>10.10.0.1 spi 0x1001",
 * "policy out 10.10.0.100/32>172.16.50.0/24 tmpl esp 192.0.2.11>10.10.0.1 spi
 * 0x1001", "mark 10.10.0.100/32>172.16.50.0/24 dscp 46", "encap
 * 10.10.0.100/32>172.16.60.10/32 ipip 192.0.2.11>192.0.2.70 table 10000"),
 * sorted, into a malloc'd string (NULL if the session holds nothing). */
char *vpn_dp_session_describe(const struct vpn_dp *v, const char *sid);

/* JSON array, one item per object: the default SAs ("session": null) then
 * each session's objects ("session", "hoa", "profile", "kind" and the
 * object's fields; see vpn_dp.c). */
void vpn_dp_dump_json(const struct vpn_dp *v, FILE *out);

#endif
