/*
 * VPN plan: profiles -> the SAs, policies, marks and IP-in-IP paths one node
 * holds (see vpn_plan.h for the orientation rules).
 */
#include "vpn_plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

bool vpn_plan_enc_alg(enum vpn_enc_alg a, struct dp_xfrm_alg *enc, struct dp_xfrm_alg *aead)
{
    memset(enc, 0, sizeof(*enc));
    memset(aead, 0, sizeof(*aead));
    switch (a) {
    case VPN_ENC_NULL:
        snprintf(enc->name, sizeof(enc->name), "ecb(cipher_null)");
        return true;
    case VPN_ENC_AES_CBC_128:
    case VPN_ENC_AES_CBC_256:
        snprintf(enc->name, sizeof(enc->name), "cbc(aes)");
        enc->key_len = (unsigned)vpn_enc_key_len(a);
        return true;
    case VPN_ENC_AES_GCM_128:
        /* RFC 4106: key + 4-octet salt, 16-octet ICV. */
        snprintf(aead->name, sizeof(aead->name), "rfc4106(gcm(aes))");
        aead->key_len = (unsigned)vpn_enc_key_len(a);
        aead->icv_bits = 128;
        return true;
    }
    return false;
}

bool vpn_plan_integ_alg(enum vpn_integ_alg a, struct dp_xfrm_alg *auth)
{
    memset(auth, 0, sizeof(*auth));
    switch (a) {
    case VPN_INTEG_NONE:
        return true;
    case VPN_INTEG_HMAC_SHA1: /* RFC 2404: 96-bit ICV */
        snprintf(auth->name, sizeof(auth->name), "hmac(sha1)");
        auth->key_len = (unsigned)vpn_integ_key_len(a);
        auth->icv_bits = 96;
        return true;
    case VPN_INTEG_HMAC_SHA256: /* RFC 4868: 128-bit ICV */
        snprintf(auth->name, sizeof(auth->name), "hmac(sha256)");
        auth->key_len = (unsigned)vpn_integ_key_len(a);
        auth->icv_bits = 128;
        return true;
    }
    return false;
}

struct planner {
    struct vpn_plan_item *out;
    size_t max, n;
    char *err;
    size_t errlen;
};

static struct vpn_plan_item *next_item(struct planner *pl, enum vpn_plan_kind kind,
                                       uint32_t profile)
{
    if (pl->n >= pl->max) {
        snprintf(pl->err, pl->errlen, "profile %u: more than %zu kernel objects for one session",
                 profile, pl->max);
        return NULL;
    }
    struct vpn_plan_item *it = &pl->out[pl->n++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->profile = profile;
    return it;
}

/* One direction of one profile: the SA (when per-user) and the policy. */
static int plan_direction(struct planner *pl, const struct vpn_profile *p, bool outbound,
                          struct vpn_prefix sel_src, struct vpn_prefix sel_dst, struct in_addr from,
                          struct in_addr to, uint32_t spi, const struct vpn_keys *keys)
{
    uint8_t proto = p->sec == VPN_SEC_AH ? DP_XFRM_AH : DP_XFRM_ESP;
    if (spi != 0) {
        struct vpn_plan_item *it = next_item(pl, VPN_PLAN_SA, p->number);
        if (!it)
            return -EINVAL;
        struct dp_xfrm_state *sa = &it->sa;
        sa->src = from;
        sa->dst = to;
        sa->proto = proto;
        sa->spi = spi;
        struct dp_xfrm_alg enc, aead, auth;
        if (!vpn_plan_enc_alg(p->enc_alg, &enc, &aead) ||
            !vpn_plan_integ_alg(p->integ_alg, &auth)) {
            snprintf(pl->err, pl->errlen, "profile %u: unknown algorithm (enc %u, integ %u)",
                     p->number, p->enc_alg, p->integ_alg);
            return -EINVAL;
        }
        if (!p->has_keys) {
            snprintf(pl->err, pl->errlen, "profile %u: per-user SPI 0x%x but no keys", p->number,
                     spi);
            return -EINVAL;
        }
        if (proto == DP_XFRM_AH) {
            if (!auth.name[0]) {
                snprintf(pl->err, pl->errlen, "profile %u: AH needs an integrity algorithm",
                         p->number);
                return -EINVAL;
            }
            sa->auth = auth;
            sa->auth.key = keys->integ;
        } else if (aead.name[0]) {
            sa->aead = aead;
            sa->aead.key = keys->enc;
        } else {
            sa->enc = enc;
            sa->enc.key = keys->enc;
            if (auth.name[0]) {
                sa->auth = auth;
                sa->auth.key = keys->integ;
            }
        }
    }
    struct vpn_plan_item *it = next_item(pl, VPN_PLAN_POLICY, p->number);
    if (!it)
        return -EINVAL;
    struct dp_xfrm_policy *pol = &it->pol;
    pol->src = sel_src.addr;
    pol->src_plen = sel_src.len;
    pol->dst = sel_dst.addr;
    pol->dst_plen = sel_dst.len;
    /* What we encapsulate goes out; what we decapsulate is forwarded on to
     * the MN or the CN, never delivered locally (DESIGN §8). */
    pol->dir = outbound ? DP_XFRM_DIR_OUT : DP_XFRM_DIR_FWD;
    pol->priority = VPN_PLAN_POLICY_PRIORITY;
    pol->tmpl_src = from;
    pol->tmpl_dst = to;
    pol->proto = proto;
    pol->spi = spi; /* 0: the default SA between the two gateways */
    return 0;
}

static int plan_mark(struct planner *pl, uint32_t profile, struct vpn_prefix src,
                     struct vpn_prefix dst, uint8_t dscp)
{
    if (dscp == 0)
        return 0; /* seed [0060]: TOS 0 means no marker */
    /* The HA of scenario 1 marks the same traffic for both of its legs. */
    for (size_t i = 0; i < pl->n; i++) {
        const struct vpn_plan_item *o = &pl->out[i];
        if (o->kind == VPN_PLAN_MARK && o->mark.dscp == dscp &&
            o->mark.src.addr.s_addr == src.addr.s_addr && o->mark.src.len == src.len &&
            o->mark.dst.addr.s_addr == dst.addr.s_addr && o->mark.dst.len == dst.len)
            return 0;
    }
    struct vpn_plan_item *it = next_item(pl, VPN_PLAN_MARK, profile);
    if (!it)
        return -EINVAL;
    it->mark.src = src;
    it->mark.dst = dst;
    it->mark.dscp = dscp;
    return 0;
}

/* The traffic an item takes: its selector and direction (an IP-in-IP path
 * takes what it sends, like an out policy).  False for SAs and marks. */
static bool plan_selector(const struct vpn_plan_item *it, struct vpn_prefix *src,
                          struct vpn_prefix *dst, int *dir)
{
    if (it->kind == VPN_PLAN_POLICY) {
        *src = (struct vpn_prefix){it->pol.src, it->pol.src_plen};
        *dst = (struct vpn_prefix){it->pol.dst, it->pol.dst_plen};
        *dir = it->pol.dir;
        return true;
    }
    if (it->kind == VPN_PLAN_ENCAP) {
        *src = it->encap.src;
        *dst = it->encap.dst;
        *dir = DP_XFRM_DIR_OUT;
        return true;
    }
    return false;
}

int vpn_plan_session(enum vpn_node_role role, struct in_addr node, struct in_addr hoa,
                     const struct vpn_profile *p, unsigned n, struct vpn_plan_item *out, size_t max,
                     size_t *count, char *err, size_t errlen)
{
    struct planner pl = {.out = out, .max = max, .err = err, .errlen = errlen};
    *count = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct vpn_profile *q = &p[i];
        bool mn_side;
        switch (role) {
        case VPN_NODE_FA:
            if (q->leg != VPN_LEG_FA_HA && q->leg != VPN_LEG_FA_PCN)
                goto wrong_leg;
            mn_side = true;
            break;
        case VPN_NODE_HA:
            if (q->leg == VPN_LEG_FA_PCN)
                continue; /* handed to the PCN by BU; the path bypasses the HA */
            if (q->leg != VPN_LEG_HA_GW && q->leg != VPN_LEG_FA_HA)
                goto wrong_leg;
            mn_side = q->leg == VPN_LEG_HA_GW;
            break;
        case VPN_NODE_PCN:
            if (q->leg != VPN_LEG_FA_PCN)
                goto wrong_leg;
            mn_side = false;
            break;
        default:
            snprintf(err, errlen, "unknown node role %d", (int)role);
            return -EINVAL;
        }
        if (q->src_gw.s_addr != node.s_addr) {
            char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &q->src_gw, a, sizeof(a));
            inet_ntop(AF_INET, &node, b, sizeof(b));
            snprintf(err, errlen, "profile %u: tunnel source gateway %s is not this node (%s)",
                     q->number, a, b);
            return -EINVAL;
        }
        struct vpn_prefix up_src = q->src, up_dst = q->dst;
        if (up_src.len == 0 && up_src.addr.s_addr == 0) {
            up_src.addr = hoa; /* the MN itself */
            up_src.len = 32;
        }
        struct in_addr self = q->src_gw, peer = q->dst_gw;
        int rc;
        if (q->sec == VPN_SEC_ENCAP) {
            struct vpn_plan_item *it = next_item(&pl, VPN_PLAN_ENCAP, q->number);
            if (!it)
                return -EINVAL;
            it->encap.local = self;
            it->encap.remote = peer;
            /* The direction this node sends into the tunnel. */
            it->encap.src = mn_side ? up_src : up_dst;
            it->encap.dst = mn_side ? up_dst : up_src;
        } else if (mn_side) {
            rc = plan_direction(&pl, q, true, up_src, up_dst, self, peer, q->spi_up, &q->key_up);
            if (rc == 0)
                rc = plan_direction(&pl, q, false, up_dst, up_src, peer, self, q->spi_down,
                                    &q->key_down);
            if (rc)
                return rc;
        } else {
            rc =
                plan_direction(&pl, q, true, up_dst, up_src, self, peer, q->spi_down, &q->key_down);
            if (rc == 0)
                rc = plan_direction(&pl, q, false, up_src, up_dst, peer, self, q->spi_up,
                                    &q->key_up);
            if (rc)
                return rc;
        }
        if (plan_mark(&pl, q->number, up_src, up_dst, q->dscp_up) ||
            plan_mark(&pl, q->number, up_dst, up_src, q->dscp_down))
            return -EINVAL;
        continue;
    wrong_leg:
        snprintf(err, errlen, "profile %u: leg %s does not belong on a%s %s", q->number,
                 vpn_leg_str((enum vpn_leg)q->leg), role == VPN_NODE_HA ? "n" : "",
                 role == VPN_NODE_HA   ? "HA"
                 : role == VPN_NODE_FA ? "FA"
                                       : "PCN");
        return -EINVAL;
    }
    /* Two profiles that select the same traffic cannot both have it (the
     * kernel holds one policy per selector and direction). */
    for (size_t i = 0; i < pl.n; i++)
        for (size_t j = i + 1; j < pl.n; j++) {
            const struct vpn_plan_item *x = &out[i], *y = &out[j];
            struct vpn_prefix xs, xd, ys, yd;
            int xdir, ydir;
            if (!plan_selector(x, &xs, &xd, &xdir) || !plan_selector(y, &ys, &yd, &ydir))
                continue;
            if (xdir != ydir || xs.addr.s_addr != ys.addr.s_addr || xs.len != ys.len ||
                xd.addr.s_addr != yd.addr.s_addr || xd.len != yd.len)
                continue;
            char a[20], b[20];
            snprintf(err, errlen, "profiles %u and %u both select %s>%s", x->profile, y->profile,
                     vpn_prefix_str(&xs, a), vpn_prefix_str(&xd, b));
            return -EINVAL;
        }
    *count = pl.n;
    return 0;
}

static const char *pfx(struct vpn_prefix p, char buf[20])
{
    return vpn_prefix_str(&p, buf);
}

void vpn_plan_describe(const struct vpn_plan_item *it, char *buf, size_t len)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], s1[20], s2[20];
    switch (it->kind) {
    case VPN_PLAN_SA: {
        const struct dp_xfrm_state *sa = &it->sa;
        inet_ntop(AF_INET, &sa->src, a, sizeof(a));
        inet_ntop(AF_INET, &sa->dst, b, sizeof(b));
        snprintf(buf, len, "sa %s %s>%s spi 0x%x%s%s%s%s%s%s",
                 sa->proto == DP_XFRM_AH ? "ah" : "esp", a, b, sa->spi,
                 sa->enc.name[0] ? " enc " : "", sa->enc.name, sa->auth.name[0] ? " auth " : "",
                 sa->auth.name, sa->aead.name[0] ? " aead " : "", sa->aead.name);
        break;
    }
    case VPN_PLAN_POLICY: {
        const struct dp_xfrm_policy *p = &it->pol;
        struct vpn_prefix src = {p->src, p->src_plen}, dst = {p->dst, p->dst_plen};
        inet_ntop(AF_INET, &p->tmpl_src, a, sizeof(a));
        inet_ntop(AF_INET, &p->tmpl_dst, b, sizeof(b));
        snprintf(buf, len, "policy %s %s>%s tmpl %s %s>%s spi 0x%x",
                 p->dir == DP_XFRM_DIR_OUT   ? "out"
                 : p->dir == DP_XFRM_DIR_FWD ? "fwd"
                                             : "in",
                 pfx(src, s1), pfx(dst, s2), p->proto == DP_XFRM_AH ? "ah" : "esp", a, b, p->spi);
        break;
    }
    case VPN_PLAN_MARK:
        snprintf(buf, len, "mark %s>%s dscp %u", pfx(it->mark.src, s1), pfx(it->mark.dst, s2),
                 it->mark.dscp);
        break;
    case VPN_PLAN_ENCAP:
        inet_ntop(AF_INET, &it->encap.local, a, sizeof(a));
        inet_ntop(AF_INET, &it->encap.remote, b, sizeof(b));
        snprintf(buf, len, "encap %s>%s ipip %s>%s", pfx(it->encap.src, s1), pfx(it->encap.dst, s2),
                 a, b);
        break;
    }
}
