/*
 * VPN plan: the kernel objects one agent must hold for one VPN information
 * cache session (seed [0060]-[0062], Figs. 15-24; DESIGN §8).  A pure
 * function of the node's role and the session's profiles, so the agents'
 * tunnel and QoS control is unit-tested without a kernel and the same plan
 * is installed, compared and removed (delete-then-set) by the agents.
 *
 * Orientation (vpn_profile.h): a profile's selector is written up-link
 * (src = MN side, dst = CN side); src_gw is this node, dst_gw the remote end.
 * Each node sits on one side of the profile's tunnel:
 *   MN side  - FA (fa-ha, fa-pcn legs), HA on the ha-gw leg: it encapsulates
 *              the up-link (out policy, SA src_gw -> dst_gw with the up SPI)
 *              and decapsulates the down-link (SA dst_gw -> src_gw with the
 *              down SPI, fwd policy: the packets are forwarded, not local).
 *   CN side  - HA on the fa-ha leg, PCN on the fa-pcn leg: the mirror image
 *              (out = down-link, fwd = up-link).
 * The HA holds fa-pcn profiles only to hand them to the PCN (BU): they give
 * it no kernel object.  vpnshare 0 (SPI 0): the policies use the gateways'
 * pre-configured default SA, no per-user SA (seed [0062]); the plan leaves
 * SPI 0 in their template and vpn_dp.c puts the default SA's SPI there (with
 * SPI 0 the kernel would take any SA between the two gateways).  Two
 * profiles that select the same traffic in the same direction are refused.
 * Marking: up-link packets (src,dst) get dscp_up, down-link packets get
 * dscp_down, at every node on the path (seed [0060]; tunnel mode copies the
 * class to the outer header, seed [0052]).  Security type encap-only gives an
 * IP-in-IP item instead of SAs and policies.
 */
#ifndef MIPD_VPN_PLAN_H
#define MIPD_VPN_PLAN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"
#include "vpn_profile.h"

enum vpn_node_role { VPN_NODE_HA, VPN_NODE_FA, VPN_NODE_PCN };

enum vpn_plan_kind {
    VPN_PLAN_SA,     /* sa */
    VPN_PLAN_POLICY, /* pol */
    VPN_PLAN_MARK,   /* mark: packets src -> dst get dscp */
    VPN_PLAN_ENCAP,  /* encap: IP-in-IP local -> remote for packets src -> dst */
};

struct vpn_plan_mark {
    struct vpn_prefix src, dst;
    uint8_t dscp;
};

struct vpn_plan_encap {
    struct in_addr local, remote;
    struct vpn_prefix src, dst;
};

struct vpn_plan_item {
    enum vpn_plan_kind kind;
    uint32_t profile;        /* profile number it comes from */
    struct dp_xfrm_state sa; /* key pointers point into the profile's key buffers */
    struct dp_xfrm_policy pol;
    struct vpn_plan_mark mark;
    struct vpn_plan_encap encap;
};

/* Priority of our policies.  The kernel prefers the lower value, so a policy
 * an operator adds by hand (default priority 0) overrides ours on purpose. */
#define VPN_PLAN_POLICY_PRIORITY 1000u

/* Most items one profile can give (2 SAs, 2 policies, 2 marks). */
#define VPN_PLAN_MAX_PER_PROFILE 6

/* Plans profiles p[0..n) of one session for a node of the given role whose
 * own address is node (a profile whose src_gw is not node is an error: the
 * cache holds another node's view).  hoa is the MN's home address (the
 * selector's MN side when the profile's source prefix is 0.0.0.0/0).
 * Writes at most max items to out; *count receives how many.  Returns 0, or
 * -EINVAL with a precise reason in err (unknown algorithm, wrong node,
 * too many items). */
int vpn_plan_session(enum vpn_node_role role, struct in_addr node, struct in_addr hoa,
                     const struct vpn_profile *p, unsigned n, struct vpn_plan_item *out, size_t max,
                     size_t *count, char *err, size_t errlen);

/* Kernel crypto names for our algorithms (DESIGN §8); false if unknown. */
bool vpn_plan_enc_alg(enum vpn_enc_alg a, struct dp_xfrm_alg *enc, struct dp_xfrm_alg *aead);
bool vpn_plan_integ_alg(enum vpn_integ_alg a, struct dp_xfrm_alg *auth);

/* One line per item ("sa esp 192.0.2.11>10.10.0.1 spi 0x10000 enc cbc(aes)",
 * "policy out 10.10.0.100/32>172.16.50.0/24 tmpl esp ...", "mark
 * 10.10.0.100/32>172.16.50.0/24 dscp 46"); never keys. */
void vpn_plan_describe(const struct vpn_plan_item *it, char *buf, size_t len);

#endif
