/*
 * Home agent (RFC 5944 §3.8): registration processing, the binding cache and
 * the kernel state each binding needs (IP-in-IP tunnel to the care-of
 * address, host route for the home address, proxy ARP on the home link).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ctl.h"
#include "log.h"
#include "mip_proto.h"

struct binding {
    struct mn_state *mn;
    struct in_addr coa;
    struct in_addr src; /* who sent the request: the FA, or the MN itself */
    uint16_t src_port;
    uint16_t lifetime; /* granted */
    uint64_t created_ms;
    uint64_t expires_ms;
    bool revtun;
    char tun[DP_IFNAMSIZ];
    struct loop_timer timer;
    struct agent *agent;
};

/* Per configured mobile node: the replay state outlives bindings (§5.7). */
struct mn_state {
    const struct mipd_mn *mn;
    struct hnode by_nai;
    struct hnode by_hoa;
    uint64_t last_ident;
    struct binding *b;
};

struct ha_state {
    struct mn_state *mns;
    size_t n_mns;
    struct hmap by_nai;
    struct hmap by_hoa;
    size_t n_bindings;
};

static struct mn_state *find_by_nai(struct ha_state *h, const uint8_t *nai, size_t len)
{
    char s[MIPD_NAI_MAX];
    if (len == 0 || len >= sizeof(s))
        return NULL;
    memcpy(s, nai, len);
    s[len] = 0;
    for (struct hnode *n = hmap_first(&h->by_nai, hmap_hash_str(s)); n; n = hmap_next_same(n)) {
        struct mn_state *m = hmap_entry(n, struct mn_state, by_nai);
        if (!strcmp(m->mn->nai, s))
            return m;
    }
    return NULL;
}

static struct mn_state *find_by_hoa(struct ha_state *h, struct in_addr hoa)
{
    struct hnode *n = hmap_first(&h->by_hoa, hoa.s_addr);
    return n ? hmap_entry(n, struct mn_state, by_hoa) : NULL;
}

static const struct mipd_peer *find_fa_peer(const struct agent *a, struct in_addr addr)
{
    for (size_t i = 0; i < a->cfg->ha.n_fa_peers; i++)
        if (a->cfg->ha.fa_peers[i].addr.s_addr == addr.s_addr)
            return &a->cfg->ha.fa_peers[i];
    return NULL;
}

int ha_init(struct agent *a)
{
    struct ha_state *h = calloc(1, sizeof(*h));
    if (!h)
        return -1;
    h->n_mns = a->cfg->ha.n_mns;
    h->mns = calloc(h->n_mns ? h->n_mns : 1, sizeof(*h->mns));
    if (!h->mns) {
        free(h);
        return -1;
    }
    hmap_init(&h->by_nai);
    hmap_init(&h->by_hoa);
    for (size_t i = 0; i < h->n_mns; i++) {
        struct mn_state *m = &h->mns[i];
        m->mn = &a->cfg->ha.mns[i];
        hmap_insert(&h->by_nai, &m->by_nai, hmap_hash_str(m->mn->nai));
        hmap_insert(&h->by_hoa, &m->by_hoa, m->mn->home_addr.s_addr);
    }
    a->ha = h;
    /* RFC 5944 §4.2.3: the HA forwards for its mobile nodes; it must not send
     * ICMP redirects for the home addresses it intercepts. */
    dp_sysctl(a->dp, "all", "forwarding", "1");
    dp_sysctl(a->dp, "all", "send_redirects", "0");
    dp_sysctl(a->dp, a->cfg->ha.home_link, "send_redirects", "0");
    return 0;
}

/* Removes the kernel state of a binding (route, proxy ARP, tunnel reference). */
static void binding_unprogram(struct agent *a, struct binding *b)
{
    struct in_addr any = {0};
    if (!b->tun[0])
        return;
    if (dp_route_put(a->dp, b->mn->mn->home_addr, 32, b->tun, any, 0) < 0)
        a->cnt.kernel_errors++;
    if (dp_proxy_arp_put(a->dp, a->cfg->ha.home_link, b->mn->mn->home_addr) < 0)
        a->cnt.kernel_errors++;
    if (dp_tunnel_put(a->dp, a->cfg->ha.address, b->coa) < 0)
        a->cnt.kernel_errors++;
    b->tun[0] = 0;
}

/* Points the home address at the tunnel to coa, make-before-break for the
 * tunnel itself.  Returns 0 or -errno with the old state intact. */
static int binding_program(struct agent *a, struct binding *b, struct in_addr coa)
{
    struct in_addr any = {0};
    struct in_addr hoa = b->mn->mn->home_addr;
    if (b->tun[0] && b->coa.s_addr == coa.s_addr)
        return 0;
    char tun[DP_IFNAMSIZ];
    int rc = dp_tunnel_get(a->dp, a->cfg->ha.address, coa, tun);
    if (rc < 0)
        return rc;
    bool first = !b->tun[0];
    if (!first && dp_route_put(a->dp, hoa, 32, b->tun, any, 0) < 0)
        a->cnt.kernel_errors++;
    rc = dp_route_get(a->dp, hoa, 32, tun, any, 0);
    if (rc < 0) {
        if (!first && dp_route_get(a->dp, hoa, 32, b->tun, any, 0) < 0)
            a->cnt.kernel_errors++;
        dp_tunnel_put(a->dp, a->cfg->ha.address, coa);
        return rc;
    }
    if (first) {
        rc = dp_proxy_arp_get(a->dp, a->cfg->ha.home_link, hoa);
        if (rc < 0) {
            dp_route_put(a->dp, hoa, 32, tun, any, 0);
            dp_tunnel_put(a->dp, a->cfg->ha.address, coa);
            return rc;
        }
        /* RFC 5944 §4.6: take over the home address on the home link now. */
        if (dp_garp(a->dp, a->cfg->ha.home_link, hoa) < 0)
            a->cnt.kernel_errors++;
    } else if (dp_tunnel_put(a->dp, a->cfg->ha.address, b->coa) < 0) {
        a->cnt.kernel_errors++;
    }
    memcpy(b->tun, tun, sizeof(b->tun));
    b->coa = coa;
    return 0;
}

static void binding_free(struct agent *a, struct binding *b)
{
    binding_unprogram(a, b);
    loop_timer_cancel(a->loop, &b->timer);
    b->mn->b = NULL;
    a->ha->n_bindings--;
    free(b);
}

static void binding_expired(struct loop *l, void *arg)
{
    (void)l;
    struct binding *b = arg;
    struct agent *a = b->agent;
    char hoa[INET_ADDRSTRLEN], coa[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &b->mn->mn->home_addr, hoa, sizeof(hoa));
    inet_ntop(AF_INET, &b->coa, coa, sizeof(coa));
    log_info("binding %s (%s) via %s expired", b->mn->mn->nai, hoa, coa);
    a->cnt.expirations++;
    binding_free(a, b);
}

void ha_fini(struct agent *a)
{
    struct ha_state *h = a->ha;
    if (!h)
        return;
    for (size_t i = 0; i < h->n_mns; i++)
        if (h->mns[i].b)
            binding_free(a, h->mns[i].b);
    hmap_free(&h->by_nai);
    hmap_free(&h->by_hoa);
    free(h->mns);
    free(h);
    a->ha = NULL;
}

/* Builds and sends a Registration Reply (RFC 5944 §3.4). */
static void send_reply(struct agent *a, const struct pkt_addr *to, const struct mip_reg_request *rq,
                       uint8_t code, uint16_t lifetime, uint64_t ident, struct in_addr hoa,
                       const struct mipd_mn *mn, const struct mipd_peer *fa_peer)
{
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_reply rp = {
        .code = code,
        .lifetime = lifetime,
        .home_addr = hoa,
        .home_agent = a->cfg->ha.address,
        .identification = ident,
    };
    mip_put_reg_reply(&w, &rp);
    /* RFC 2794 §2: a reply to a request that carried the NAI carries it too. */
    if (rq->ext.has_nai)
        mip_put_nai(&w, rq->ext.nai.ptr, rq->ext.nai.len);
    if (mn)
        mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, mn->sa.spi, mn->sa.key, mn->sa.keylen);
    if (fa_peer)
        mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, fa_peer->sa.spi, fa_peer->sa.key,
                              fa_peer->sa.keylen);
    if (w.err) {
        log_err("cannot encode reply: %s", mip_err_str(w.err));
        a->cnt.tx_errors++;
        return;
    }
    if (code > MIP_CODE_ACCEPTED_NO_SIMUL) {
        a->cnt.rrq_denied++;
        a->cnt.denied_by_code[code]++;
    }
    if (a->tx(a->tx_ctx, to, buf, w.len) < 0)
        a->cnt.tx_errors++;
    else
        a->cnt.rrp_tx++;
}

static void deny(struct agent *a, const struct pkt_addr *from, const struct mip_reg_request *rq,
                 uint8_t code, const struct mipd_mn *mn, const struct mipd_peer *fa_peer,
                 const char *why)
{
    char hoa[INET_ADDRSTRLEN], src[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &rq->home_addr, hoa, sizeof(hoa));
    inet_ntop(AF_INET, &from->addr, src, sizeof(src));
    log_info("registration of %s (%s) from %s denied: %u %s (%s)", mn ? mn->nai : "?", hoa, src,
             code, mip_code_str(code), why);
    uint64_t ident = rq->identification;
    if (code == MIP_CODE_HA_ID_MISMATCH)
        ident = mip_ident_resync(rq->identification, a->ntp_now());
    send_reply(a, from, rq, code, 0, ident, mn ? mn->home_addr : rq->home_addr, mn, fa_peer);
}

/* Answers a request whose extensions could not be decoded: RFC 5944 §3.8.2.1
 * poorly formed (134), authenticated when the fixed part names a known MN. */
static void deny_malformed(struct agent *a, const struct pkt_addr *from, const uint8_t *buf,
                           size_t len, enum mip_err err)
{
    a->cnt.rrq_malformed++;
    if (len < 24) {
        log_info("dropped truncated registration request (%zu octets) from %s", len,
                 inet_ntoa(from->addr));
        return;
    }
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    memcpy(&rq.home_addr, buf + 4, 4);
    memcpy(&rq.home_agent, buf + 8, 4);
    memcpy(&rq.care_of_addr, buf + 12, 4);
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | buf[16 + i];
    rq.identification = id;
    struct mn_state *m = find_by_hoa(a->ha, rq.home_addr);
    deny(a, from, &rq, MIP_CODE_HA_POORLY_FORMED_REQUEST, m ? m->mn : NULL, NULL, mip_err_str(err));
}

static void handle_rrq(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    struct ha_state *h = a->ha;
    struct mip_reg_request rq;
    size_t off = 0;
    a->cnt.rrq_rx++;
    enum mip_err err = mip_get_reg_request(buf, len, &rq, &off);
    if (err) {
        deny_malformed(a, from, buf, len, err);
        return;
    }
    const struct mipd_peer *fa_peer = find_fa_peer(a, from->addr);
    struct mn_state *m = rq.ext.has_nai ? find_by_nai(h, rq.ext.nai.ptr, rq.ext.nai.len)
                                        : find_by_hoa(h, rq.home_addr);
    if (!m) {
        a->cnt.rrq_auth_failed++;
        deny(a, from, &rq, MIP_CODE_HA_MN_AUTH_FAILED, NULL, fa_peer, "unknown mobile node");
        return;
    }
    const struct mipd_mn *mn = m->mn;
    /* RFC 5944 §3.8.2.1: the MN-HA authenticator is mandatory and checked first. */
    if (!rq.ext.mn_ha.present || rq.ext.mn_ha.spi != mn->sa.spi ||
        !mip_verify_auth_hmac_md5(buf, &rq.ext.mn_ha, mn->sa.key, mn->sa.keylen)) {
        a->cnt.rrq_auth_failed++;
        deny(a, from, &rq, MIP_CODE_HA_MN_AUTH_FAILED, mn, fa_peer,
             !rq.ext.mn_ha.present ? "no MN-HA authenticator"
             : rq.ext.mn_ha.spi != mn->sa.spi ? "unknown SPI"
                                              : "bad MN-HA authenticator");
        return;
    }
    if (fa_peer && (!rq.ext.fa_ha.present || rq.ext.fa_ha.spi != fa_peer->sa.spi ||
                    !mip_verify_auth_hmac_md5(buf, &rq.ext.fa_ha, fa_peer->sa.key,
                                              fa_peer->sa.keylen))) {
        a->cnt.rrq_auth_failed++;
        deny(a, from, &rq, MIP_CODE_HA_FA_AUTH_FAILED, mn, fa_peer, "bad FA-HA authenticator");
        return;
    }
    switch (mip_ident_check(rq.identification, m->last_ident, a->ntp_now(),
                            a->cfg->ha.replay_window)) {
    case MIP_IDENT_OK:
        break;
    case MIP_IDENT_STALE:
        a->cnt.rrq_id_mismatch++;
        deny(a, from, &rq, MIP_CODE_HA_ID_MISMATCH, mn, fa_peer, "timestamp outside the window");
        return;
    case MIP_IDENT_REPLAY:
        a->cnt.rrq_id_mismatch++;
        deny(a, from, &rq, MIP_CODE_HA_ID_MISMATCH, mn, fa_peer, "replayed identification");
        return;
    }
    if (rq.home_addr.s_addr != 0 && rq.home_addr.s_addr != mn->home_addr.s_addr) {
        deny(a, from, &rq, MIP_CODE_HA_ADMIN_PROHIBITED, mn, fa_peer,
             "home address is not the one provisioned for this NAI");
        return;
    }
    if (rq.home_agent.s_addr != a->cfg->ha.address.s_addr) {
        deny(a, from, &rq, MIP_CODE_HA_UNKNOWN_HA, mn, fa_peer, "request names another HA");
        return;
    }
    if (rq.flags & (MIP_RRQ_FLAG_M | MIP_RRQ_FLAG_G)) {
        deny(a, from, &rq, MIP_CODE_HA_ENCAP_UNAVAILABLE, mn, fa_peer,
             "only IP-in-IP encapsulation is offered");
        return;
    }
    bool revtun = rq.flags & MIP_RRQ_FLAG_T;
    if (revtun && !a->cfg->ha.reverse_tunnel) {
        deny(a, from, &rq, MIP_CODE_HA_REVTUN_UNAVAILABLE, mn, fa_peer,
             "reverse tunnelling is disabled");
        return;
    }
    /* The identification is now accepted (even if the kernel fails below, the
     * same request must not be replayed). */
    m->last_ident = rq.identification;

    uint16_t lifetime = rq.lifetime;
    if (lifetime > a->cfg->ha.max_lifetime)
        lifetime = (uint16_t)a->cfg->ha.max_lifetime;
    char hoa_s[INET_ADDRSTRLEN], coa_s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &mn->home_addr, hoa_s, sizeof(hoa_s));
    inet_ntop(AF_INET, &rq.care_of_addr, coa_s, sizeof(coa_s));

    /* RFC 5944 §3.8.3: lifetime 0 or CoA = home address deregisters. */
    if (lifetime == 0 || rq.care_of_addr.s_addr == mn->home_addr.s_addr) {
        if (m->b) {
            binding_free(a, m->b);
            a->cnt.deregistrations++;
        }
        log_info("%s (%s) deregistered", mn->nai, hoa_s);
        a->cnt.rrq_accepted++;
        send_reply(a, from, &rq, MIP_CODE_ACCEPTED, 0, rq.identification, mn->home_addr, mn,
                   fa_peer);
        return;
    }
    if (rq.care_of_addr.s_addr == 0) {
        deny(a, from, &rq, MIP_CODE_HA_POORLY_FORMED_REQUEST, mn, fa_peer, "care-of address 0");
        return;
    }
    struct binding *b = m->b;
    bool created = false;
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b) {
            deny(a, from, &rq, MIP_CODE_HA_INSUFFICIENT_RESOURCES, mn, fa_peer, "out of memory");
            return;
        }
        b->mn = m;
        b->agent = a;
        b->created_ms = loop_now_ms(a->loop);
        loop_timer_init(&b->timer, binding_expired, b);
        created = true;
    }
    int rc = binding_program(a, b, rq.care_of_addr);
    if (rc < 0) {
        a->cnt.kernel_errors++;
        if (created)
            free(b);
        deny(a, from, &rq, MIP_CODE_HA_INSUFFICIENT_RESOURCES, mn, fa_peer,
             "kernel refused the tunnel or route");
        return;
    }
    if (created) {
        m->b = b;
        h->n_bindings++;
    }
    b->src = from->addr;
    b->src_port = from->port;
    b->lifetime = lifetime;
    b->revtun = revtun;
    b->expires_ms = loop_now_ms(a->loop) + (uint64_t)lifetime * 1000u;
    loop_timer_arm_at(a->loop, &b->timer, b->expires_ms);
    log_info("%s (%s) %s via %s, lifetime %u%s", mn->nai, hoa_s,
             created ? "registered" : "re-registered", coa_s, lifetime,
             revtun ? ", reverse tunnel" : "");
    a->cnt.rrq_accepted++;
    /* We keep one binding per MN: S asks for more, so answer code 1 (§3.4). */
    uint8_t code = (rq.flags & MIP_RRQ_FLAG_S) ? MIP_CODE_ACCEPTED_NO_SIMUL : MIP_CODE_ACCEPTED;
    send_reply(a, from, &rq, code, lifetime, rq.identification, mn->home_addr, mn, fa_peer);
}

void ha_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    if (len >= 1 && buf[0] == MIP_MSG_REG_REQUEST) {
        handle_rrq(a, from, buf, len);
        return;
    }
    a->cnt.unknown_rx++;
    log_dbg("ignored a message of type %u (%zu octets) from %s", len ? buf[0] : 0, len,
            inet_ntoa(from->addr));
}

size_t ha_binding_count(const struct agent *a)
{
    return a->ha ? a->ha->n_bindings : 0;
}

void ha_dump_bindings(struct agent *a, FILE *out)
{
    struct ha_state *h = a->ha;
    uint64_t now = loop_now_ms(a->loop);
    bool first = true;
    fputc('[', out);
    for (size_t i = 0; h && i < h->n_mns; i++) {
        struct binding *b = h->mns[i].b;
        if (!b)
            continue;
        char hoa[INET_ADDRSTRLEN], coa[INET_ADDRSTRLEN], src[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &b->mn->mn->home_addr, hoa, sizeof(hoa));
        inet_ntop(AF_INET, &b->coa, coa, sizeof(coa));
        inet_ntop(AF_INET, &b->src, src, sizeof(src));
        fprintf(out, "%s{\"nai\":", first ? "" : ",");
        ctl_json_str(out, b->mn->mn->nai);
        fprintf(out,
                ",\"home_address\":\"%s\",\"care_of_address\":\"%s\",\"registered_by\":\"%s\","
                "\"lifetime\":%u,\"lifetime_left\":%llu,\"reverse_tunnel\":%s,\"tunnel\":\"%s\","
                "\"age_s\":%llu}",
                hoa, coa, src, b->lifetime,
                (unsigned long long)(b->expires_ms > now ? (b->expires_ms - now + 999) / 1000 : 0),
                b->revtun ? "true" : "false", b->tun,
                (unsigned long long)((now - b->created_ms) / 1000));
        first = false;
    }
    fputc(']', out);
}
