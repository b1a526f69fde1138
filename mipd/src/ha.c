/*
 * Home agent (RFC 5944 §3.8): registration processing, the binding cache and
 * the kernel state each binding needs (IP-in-IP tunnel to the care-of
 * address, host route for the home address, proxy ARP on the home link).
 *
 * Two ways in (DESIGN §7):
 *  - a Registration Request over UDP, for the mobile nodes of the
 *    configuration (MN-HA key from the file, HMAC-MD5) and for those the AAA
 *    made known (the RFC 3957 key of their binding);
 *  - AAA mode (ha.aaa): the request inside a HAR (RFC 4004 §5.3).  The MN is
 *    known from the HAR (NAI, home address, MN-HA SPI / key / nonce); the
 *    AAAH authenticated the request (MN-AAA), we check the rest of §3.8
 *    (identification per NAI, HA address, flags) and the MN-HA authenticator
 *    when present.  The reply carries the RFC 3957 key generation nonce and
 *    the MN-HA authenticator made with the new key; it goes back in the HAA.
 *    The HA caches its VPN profiles (session = Session-Id) and sends a BU for
 *    each group of profiles whose destination gateway is dynamic (seed
 *    [0057], [0076]); the HAA waits for every BA (seed Fig. 27).  A BU that is
 *    refused or never acknowledged fails the registration: HAA 4005 with a
 *    reply of code 130, and what the request set up is undone (FLOWS "HAA").
 *
 * Lifetime refresh (seed scenario 8, claim 25): a PCN asks with a Binding
 * Request (255/17) before the VPN information it holds expires; handle_br
 * answers with a BU when the binding still involves that PCN, else nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ctl.h"
#include "log.h"
#include "mip_proto.h"
#include "vpn_cache.h"
#include "vpn_cvse.h"
#include "vpn_dp.h"

#define HA_MAX_BU_GROUPS 8 /* PCNs one registration can involve */

struct binding {
    struct mn_state *mn;
    struct in_addr coa;
    struct in_addr src; /* who sent the request: the FA, or the MN itself */
    uint16_t src_port;
    uint16_t lifetime; /* granted */
    uint64_t created_ms;
    uint64_t expires_ms;
    bool revtun;
    bool via_aaa;
    char tun[DP_IFNAMSIZ];
    struct loop_timer timer;
    struct agent *agent;
};

/* RFC 3957 key distribution as the HAR gives it. */
struct keygen {
    uint32_t lifetime;
    uint32_t aaa_spi;
    uint32_t ha_spi;
    uint16_t alg, replay;
    uint8_t nonce[255];
    size_t nonce_len;
};

struct reg_txn;

/* Per mobile node: the replay state outlives bindings (§5.7). */
struct mn_state {
    struct mipd_mn dyn;       /* a mobile node the AAA made known */
    const struct mipd_mn *mn; /* the configured entry, or &dyn */
    bool dynamic;
    struct hnode by_nai;
    struct hnode by_hoa;
    bool in_hoa;
    uint64_t last_ident;
    struct binding *b;
    /* AAA mode */
    char *session_id; /* of the binding */
    bool has_fa_ha;   /* FA-HA SA from the HAR (MIP-HA-to-FA-MSA) */
    struct in_addr fa_ha_peer;
    struct mipd_sa fa_ha;
    struct reg_txn *txn;      /* a registration waiting for BAs */
    struct loop_timer forget; /* dynamic: dropped once its replay state is moot */
    /* BUs answering Binding Requests, one per PCN at most; cancelled when
     * the binding ends or a registration sends newer VPN information. */
    struct bu_txn *refresh[HA_MAX_BU_GROUPS];
    struct in_addr refresh_pcn[HA_MAX_BU_GROUPS]; /* the PCN of each */
    struct agent *agent;
};

struct ha_state {
    struct mn_state *mns; /* configured ones */
    size_t n_mns;
    struct hmap by_nai;
    struct hmap by_hoa;
    size_t n_bindings;
    size_t n_dynamic;
    uint64_t *br_last; /* per ha.pcn_peers entry: last accepted BR identification */
};

/* What a registration that waits for its BAs must remember. */
struct reg_txn {
    struct mn_state *m;
    uint64_t har_id;
    char *session_id; /* the HAR's (for the HAA) */
    char *vsid;       /* the key of the HA's VPN session (ha_har_rx: vsid) */
    char *origin;
    uint8_t flags;
    uint64_t ident;
    uint16_t lifetime;
    struct in_addr coa, src;
    uint16_t src_port;
    struct mipd_sa sa; /* the new MN-HA SA */
    struct keygen kg;
    bool has_fa_ha;
    struct mipd_sa fa_ha;
    /* undo */
    bool created; /* the binding is new */
    struct in_addr old_coa;
    bool had_binding; /* HAA MIP4VPN-Previous-FA-Address = its care-of address */
    struct in_addr prev_coa;
    bool cache_set;   /* the cache got this registration's profiles */
    bool had_session; /* the cache held the session before */
    struct vpn_profile *old_profiles;
    unsigned n_old;
    uint32_t old_lifetime;
    /* the BUs */
    struct bu_txn *bu[HA_MAX_BU_GROUPS];
    unsigned n_bu;
    unsigned n_open;
};

static struct mn_state *find_by_nai_str(struct ha_state *h, const char *s)
{
    for (struct hnode *n = hmap_first(&h->by_nai, hmap_hash_str(s)); n; n = hmap_next_same(n)) {
        struct mn_state *m = hmap_entry(n, struct mn_state, by_nai);
        if (!strcmp(m->mn->nai, s))
            return m;
    }
    return NULL;
}

static struct mn_state *find_by_nai(struct ha_state *h, const uint8_t *nai, size_t len)
{
    char s[MIPD_NAI_MAX];
    if (len == 0 || len >= sizeof(s))
        return NULL;
    memcpy(s, nai, len);
    s[len] = 0;
    return find_by_nai_str(h, s);
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

static const struct mipd_peer *find_pcn_peer(const struct agent *a, struct in_addr addr)
{
    for (size_t i = 0; i < a->cfg->ha.n_pcn_peers; i++)
        if (a->cfg->ha.pcn_peers[i].addr.s_addr == addr.s_addr)
            return &a->cfg->ha.pcn_peers[i];
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
    h->br_last = calloc(a->cfg->ha.n_pcn_peers ? a->cfg->ha.n_pcn_peers : 1, sizeof(*h->br_last));
    if (!h->br_last) {
        free(h->mns);
        free(h);
        return -1;
    }
    for (size_t i = 0; i < h->n_mns; i++) {
        struct mn_state *m = &h->mns[i];
        m->mn = &a->cfg->ha.mns[i];
        m->agent = a;
        hmap_insert(&h->by_nai, &m->by_nai, hmap_hash_str(m->mn->nai));
        hmap_insert(&h->by_hoa, &m->by_hoa, m->mn->home_addr.s_addr);
        m->in_hoa = true;
    }
    a->ha = h;
    if (a->cfg->ha.aaa.enabled && !a->vpn && !(a->vpn = vpn_cache_new())) {
        ha_fini(a);
        return -1;
    }
    /* Tunnel and QoS control of the cached sessions (seed [0060]-[0062]). */
    char err[VPN_ERR_MAX + 64];
    if (!a->vpn && a->cfg->n_default_sas)
        log_warn("default_sas ignored: plain Mobile IP (no aaa section) carries no VPN");
    if (a->vpn && !a->vdp && agent_vpn_init(a, a->cfg->ha.address, err, sizeof(err)) < 0) {
        log_err("%s", err);
        ha_fini(a);
        return -1;
    }
    /* RFC 5944 §4.2.3: the HA forwards for its mobile nodes; it must not send
     * ICMP redirects for the home addresses it intercepts. */
    dp_sysctl(a->dp, "all", "forwarding", "1");
    dp_sysctl(a->dp, "all", "send_redirects", "0");
    dp_sysctl(a->dp, a->cfg->ha.home_link, "send_redirects", "0");
    return 0;
}

/* ---- mobile nodes the AAA made known ------------------------------------- */

static void mn_forget_cb(struct loop *l, void *arg);

static struct mn_state *mn_dynamic_new(struct agent *a, const char *nai)
{
    struct mn_state *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    snprintf(m->dyn.nai, sizeof(m->dyn.nai), "%s", nai);
    m->mn = &m->dyn;
    m->dynamic = true;
    m->agent = a;
    loop_timer_init(&m->forget, mn_forget_cb, m);
    hmap_insert(&a->ha->by_nai, &m->by_nai, hmap_hash_str(m->dyn.nai));
    a->ha->n_dynamic++;
    return m;
}

static void mn_set_hoa(struct agent *a, struct mn_state *m, struct in_addr hoa)
{
    if (m->in_hoa && m->dyn.home_addr.s_addr == hoa.s_addr)
        return;
    if (m->in_hoa)
        hmap_remove(&a->ha->by_hoa, &m->by_hoa);
    m->dyn.home_addr = hoa;
    hmap_insert(&a->ha->by_hoa, &m->by_hoa, hoa.s_addr);
    m->in_hoa = true;
}

static void mn_dynamic_free(struct agent *a, struct mn_state *m)
{
    loop_timer_cancel(a->loop, &m->forget);
    hmap_remove(&a->ha->by_nai, &m->by_nai);
    if (m->in_hoa)
        hmap_remove(&a->ha->by_hoa, &m->by_hoa);
    free(m->session_id);
    a->ha->n_dynamic--;
    OPENSSL_cleanse(m, sizeof(*m));
    free(m);
}

/* A dynamic MN without binding is kept for the replay window (its last
 * identification must still be refused), then dropped. */
static void mn_idle(struct agent *a, struct mn_state *m)
{
    if (m->dynamic && !m->b && !m->txn)
        loop_timer_arm(a->loop, &m->forget, (uint64_t)a->cfg->ha.replay_window * 1000u + 1000u);
}

static void mn_forget_cb(struct loop *l, void *arg)
{
    (void)l;
    struct mn_state *m = arg;
    if (!m->b && !m->txn)
        mn_dynamic_free(m->agent, m);
}

/* ---- bindings ------------------------------------------------------------ */

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

static void reg_txn_abort(struct agent *a, struct reg_txn *t, const char *why);
static void send_lifetime0_bus(struct agent *a, struct mn_state *m);
static void forget_lost_pcns(struct agent *a, const struct reg_txn *t);

/* Stops the BUs answering Binding Requests: a retransmission must not bring
 * back at a PCN what a lifetime-0 BU or a newer BU replaced. */
static void refresh_cancel(struct agent *a, struct mn_state *m)
{
    for (unsigned i = 0; i < HA_MAX_BU_GROUPS; i++)
        if (m->refresh[i]) {
            bu_cancel(a, m->refresh[i]);
            m->refresh[i] = NULL;
        }
}

/* Ends a binding: kernel state, VPN information (with a lifetime-0 BU to
 * each PCN that held it), and the session. */
static void binding_free(struct agent *a, struct binding *b, bool tell_pcns)
{
    struct mn_state *m = b->mn;
    refresh_cancel(a, m);
    binding_unprogram(a, b);
    loop_timer_cancel(a->loop, &b->timer);
    m->b = NULL;
    a->ha->n_bindings--;
    free(b);
    if (m->session_id) {
        if (tell_pcns)
            send_lifetime0_bus(a, m);
        agent_vpn_remove(a, m->session_id);
        if (a->vpn)
            vpn_cache_remove_id(a->vpn, m->session_id);
        free(m->session_id);
        m->session_id = NULL;
    }
    mn_idle(a, m);
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
    binding_free(a, b, true);
}

static struct binding *binding_new(struct agent *a, struct mn_state *m)
{
    struct binding *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->mn = m;
    b->agent = a;
    b->created_ms = loop_now_ms(a->loop);
    loop_timer_init(&b->timer, binding_expired, b);
    return b;
}

void ha_fini(struct agent *a)
{
    struct ha_state *h = a->ha;
    if (!h)
        return;
    size_t bkt;
    struct hnode *n;
    /* Registrations waiting for BAs are refused (their HARs must be answered). */
    for (bkt = 0, n = hmap_iter(&h->by_nai, &bkt, NULL); n; n = hmap_iter(&h->by_nai, &bkt, n)) {
        struct mn_state *m = hmap_entry(n, struct mn_state, by_nai);
        if (m->txn)
            reg_txn_abort(a, m->txn, "the home agent is shutting down");
    }
    for (bkt = 0, n = hmap_iter(&h->by_nai, &bkt, NULL); n; n = hmap_iter(&h->by_nai, &bkt, n)) {
        struct mn_state *m = hmap_entry(n, struct mn_state, by_nai);
        if (m->b)
            binding_free(a, m->b, false);
    }
    while ((bkt = 0, n = hmap_iter(&h->by_nai, &bkt, NULL))) {
        struct mn_state *m = hmap_entry(n, struct mn_state, by_nai);
        if (m->dynamic) {
            mn_dynamic_free(a, m);
        } else {
            hmap_remove(&h->by_nai, &m->by_nai);
        }
    }
    bu_fini(a);
    agent_vpn_fini(a);
    if (a->vpn) {
        vpn_cache_free(a->vpn);
        a->vpn = NULL;
    }
    hmap_free(&h->by_nai);
    hmap_free(&h->by_hoa);
    free(h->br_last);
    free(h->mns);
    free(h);
    a->ha = NULL;
}

/* ---- replies -------------------------------------------------------------- */

/* Builds a Registration Reply (RFC 5944 §3.4): NAI (RFC 2794 §2), the RFC 3957
 * key reply when kg is given, the MN-HA authenticator with mn_sa, the FA-HA
 * one with fa_sa.  Returns the length, 0 on error. */
static size_t build_reply(struct agent *a, uint8_t *buf, size_t cap, uint8_t code,
                          uint16_t lifetime, uint64_t ident, struct in_addr hoa, const uint8_t *nai,
                          size_t nai_len, const struct keygen *kg, const struct mipd_sa *mn_sa,
                          const struct mipd_sa *fa_sa)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_reply rp = {
        .code = code,
        .lifetime = lifetime,
        .home_addr = hoa,
        .home_agent = a->cfg->ha.address,
        .identification = ident,
    };
    mip_put_reg_reply(&w, &rp);
    if (nai_len)
        mip_put_nai(&w, nai, nai_len);
    if (kg)
        mip_put_mn_ha_keygen_reply(&w, kg->lifetime, kg->aaa_spi, kg->ha_spi, kg->alg, kg->replay,
                                   kg->nonce, kg->nonce_len);
    if (mn_sa)
        mip_put_auth(&w, MIP_EXT_MN_HA_AUTH, mn_sa->spi, mn_sa->alg, mn_sa->key, mn_sa->keylen);
    if (fa_sa)
        mip_put_auth(&w, MIP_EXT_FA_HA_AUTH, fa_sa->spi, fa_sa->alg, fa_sa->key, fa_sa->keylen);
    if (w.err) {
        log_err("cannot encode reply: %s", mip_err_str(w.err));
        a->cnt.tx_errors++;
        return 0;
    }
    if (code > MIP_CODE_ACCEPTED_NO_SIMUL) {
        a->cnt.rrq_denied++;
        a->cnt.denied_by_code[code]++;
    }
    return w.len;
}

/* Sends a Registration Reply over UDP. */
static void send_reply(struct agent *a, const struct pkt_addr *to, const struct mip_reg_request *rq,
                       uint8_t code, uint16_t lifetime, uint64_t ident, struct in_addr hoa,
                       const struct mipd_sa *mn_sa, const struct mipd_sa *fa_sa)
{
    uint8_t buf[MIP_MAX_MSG];
    size_t n = build_reply(a, buf, sizeof(buf), code, lifetime, ident, hoa,
                           rq->ext.has_nai ? rq->ext.nai.ptr : NULL,
                           rq->ext.has_nai ? rq->ext.nai.len : 0, NULL, mn_sa, fa_sa);
    if (!n)
        return;
    if (a->tx(a->tx_ctx, to, buf, n) < 0)
        a->cnt.tx_errors++;
    else
        a->cnt.rrp_tx++;
    char nai[MIPD_NAI_MAX] = "-";
    if (rq->ext.has_nai && rq->ext.nai.len < sizeof(nai)) {
        memcpy(nai, rq->ext.nai.ptr, rq->ext.nai.len);
        nai[rq->ext.nai.len] = 0;
    }
    agent_event_ip(a, "tx", "RRP", to->addr, nai, code);
}

static const struct mipd_sa *peer_sa(const struct mipd_peer *p)
{
    return p ? &p->sa : NULL;
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
    send_reply(a, from, rq, code, 0, ident, mn ? mn->home_addr : rq->home_addr, mn ? &mn->sa : NULL,
               peer_sa(fa_peer));
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

/* ---- RFC 5944 §3.8 checks shared by both ways in ------------------------- */

/* Returns 0 when the request may proceed, else the denial code and *why. */
static uint8_t check_request(struct agent *a, struct mn_state *m, const struct mip_reg_request *rq,
                             struct in_addr hoa, const char **why)
{
    switch (mip_ident_check(rq->identification, m->last_ident, a->ntp_now(),
                            a->cfg->ha.replay_window)) {
    case MIP_IDENT_OK:
        break;
    case MIP_IDENT_STALE:
        a->cnt.rrq_id_mismatch++;
        *why = "timestamp outside the window";
        return MIP_CODE_HA_ID_MISMATCH;
    case MIP_IDENT_REPLAY:
        a->cnt.rrq_id_mismatch++;
        *why = "replayed identification";
        return MIP_CODE_HA_ID_MISMATCH;
    }
    if (rq->home_addr.s_addr != 0 && rq->home_addr.s_addr != hoa.s_addr) {
        *why = "home address is not the one provisioned for this NAI";
        return MIP_CODE_HA_ADMIN_PROHIBITED;
    }
    if (rq->home_agent.s_addr != a->cfg->ha.address.s_addr) {
        *why = "request names another HA";
        return MIP_CODE_HA_UNKNOWN_HA;
    }
    if (rq->flags & (MIP_RRQ_FLAG_M | MIP_RRQ_FLAG_G)) {
        *why = "only IP-in-IP encapsulation is offered";
        return MIP_CODE_HA_ENCAP_UNAVAILABLE;
    }
    if ((rq->flags & MIP_RRQ_FLAG_T) && !a->cfg->ha.reverse_tunnel) {
        *why = "reverse tunnelling is disabled";
        return MIP_CODE_HA_REVTUN_UNAVAILABLE;
    }
    return 0;
}

/* ---- registration over UDP ------------------------------------------------ */

/* BU destination of a dynamic profile (FLOWS "BU/BA"): the correspondent
 * when the profile names a host, else the PCN (the profile's tunnel GW).
 * A PCN replaces a session's profiles with each BU (delete-then-set), so all
 * the profiles for one PCN travel in one BU: it goes to the first
 * correspondent host among them, else to the PCN itself. */
static struct in_addr bu_destination(const struct vpn_profile *p)
{
    return p->dst.len == 32 ? p->dst.addr : p->src_gw;
}

static void move_bu_done(struct agent *a, void *arg, struct bu_txn *t, int status)
{
    (void)t;
    (void)arg;
    if (status != 0) {
        a->cnt.move_bu_refused++;
        log_warn("a PCN did not take the moved VPN information (status %d)", status);
    }
}

/* A direct request moved the binding of an AAA session from old_coa to coa
 * (FLOWS "Intra-domain move" 5, seeds [0056], [0064]): the FA in the cached
 * profiles is rewritten, the session's kernel objects replaced
 * (delete-then-set), and each PCN of the session gets a BU with its
 * rewritten profiles (one BU per PCN, as send_bus).  The reply does not wait
 * for their BAs (FLOWS: decided here).  Returns 0, or -1 with *why and the
 * cache and kernel objects as they were. */
static int move_vpn(struct agent *a, struct mn_state *m, struct in_addr old_coa, struct in_addr coa,
                    uint16_t life, const char **why)
{
    struct vpn_session *vs = a->vpn && m->session_id ? vpn_cache_find(a->vpn, m->session_id) : NULL;
    if (!vs)
        return 0;
    if (!vpn_cache_move_fa(vs, old_coa, coa))
        return 0;
    refresh_cancel(a, m); /* the move BUs carry the new VPN information */
    static char vwhy[VPN_ERR_MAX + 96];
    if (agent_vpn_set(a, m->session_id, m->mn->home_addr, vs->profiles, vs->n_profiles, vwhy,
                      sizeof(vwhy)) < 0) {
        vpn_cache_move_fa(vs, coa, old_coa);
        agent_vpn_remove(a, m->session_id); /* back to what the cache holds */
        *why = vwhy;
        return -1;
    }
    struct in_addr done[HA_MAX_BU_GROUPS];
    unsigned nd = 0;
    for (unsigned i = 0; i < vs->n_profiles; i++) {
        const struct vpn_profile *p = &vs->profiles[i];
        if (p->gw_type != VPN_GW_DYNAMIC)
            continue;
        bool seen = false;
        for (unsigned k = 0; k < nd; k++)
            seen |= done[k].s_addr == p->src_gw.s_addr;
        if (seen || nd == HA_MAX_BU_GROUPS)
            continue;
        done[nd++] = p->src_gw;
        const struct mipd_peer *pp = find_pcn_peer(a, p->src_gw);
        if (!pp) {
            log_warn("no pairwise key for PCN %s (ha.pcn_peers): it keeps the old FA",
                     inet_ntoa(p->src_gw));
            continue;
        }
        struct vpn_info *vi = calloc(1, sizeof(*vi));
        if (!vi)
            continue;
        snprintf(vi->session_id, sizeof(vi->session_id), "%s", m->session_id);
        snprintf(vi->nai, sizeof(vi->nai), "%s", m->mn->nai);
        vi->hoa = m->mn->home_addr;
        vi->lifetime = life;
        struct in_addr dst = pp->addr;
        for (unsigned j = i; j < vs->n_profiles && vi->n < VPN_CVSE_MAX_PROFILES; j++) {
            const struct vpn_profile *q = &vs->profiles[j];
            if (q->gw_type != VPN_GW_DYNAMIC || q->src_gw.s_addr != p->src_gw.s_addr)
                continue;
            if (dst.s_addr == pp->addr.s_addr)
                dst = bu_destination(q);
            vi->profiles[vi->n] = *q;
            vi->profiles[vi->n].nai = NULL;
            vi->profiles[vi->n].leg = VPN_LEG_FA_PCN;
            vi->n++;
        }
        char e[VPN_ERR_MAX];
        if (!bu_start(a, dst, pp, m->mn->home_addr, coa, life, vi, move_bu_done, NULL, e,
                      sizeof(e)))
            log_warn("cannot send the move BU to %s: %s", inet_ntoa(dst), e);
        vpn_info_clear(vi);
        free(vi);
    }
    return 0;
}

static void handle_rrq(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    struct ha_state *h = a->ha;
    struct mip_reg_request rq;
    size_t off = 0;
    a->cnt.rrq_rx++;
    enum mip_err err = mip_get_reg_request(buf, len, &rq, &off);
    /* FLOWS "The MN's extensions": a bad previous-FA / service-update
     * extension makes the request poorly formed (134). */
    if (!err)
        err = mip_get_vendor_exts(buf, len, a->cfg->vendor_id, &rq.ext, &off);
    if (err) {
        agent_event_ip(a, "rx", "RRQ", from->addr, "-", -1);
        deny_malformed(a, from, buf, len, err);
        return;
    }
    {
        char ev[MIPD_NAI_MAX] = "-";
        if (rq.ext.has_nai && rq.ext.nai.len < sizeof(ev)) {
            memcpy(ev, rq.ext.nai.ptr, rq.ext.nai.len);
            ev[rq.ext.nai.len] = 0;
        }
        agent_event_ip(a, "rx", "RRQ", from->addr, ev, -1);
    }
    const struct mipd_peer *fa_peer = find_fa_peer(a, from->addr);
    struct mn_state *m = rq.ext.has_nai ? find_by_nai(h, rq.ext.nai.ptr, rq.ext.nai.len)
                                        : find_by_hoa(h, rq.home_addr);
    /* A mobile node the AAA made known registers over UDP only while it has
     * a binding (whose RFC 3957 key authenticates it). */
    if (m && m->dynamic && !m->b)
        m = NULL;
    if (!m) {
        a->cnt.rrq_auth_failed++;
        deny(a, from, &rq, MIP_CODE_HA_MN_AUTH_FAILED, NULL, fa_peer, "unknown mobile node");
        return;
    }
    if (m->txn) {
        /* Its registration through the AAA is still waiting for BAs. */
        deny(a, from, &rq, MIP_CODE_HA_INSUFFICIENT_RESOURCES, m->mn, fa_peer,
             "a registration of this mobile node is in progress");
        return;
    }
    const struct mipd_mn *mn = m->mn;
    /* RFC 5944 §3.8.2.1: the MN-HA authenticator is mandatory and checked first. */
    if (!rq.ext.mn_ha.present || rq.ext.mn_ha.spi != mn->sa.spi ||
        !mip_verify_auth(buf, &rq.ext.mn_ha, mn->sa.alg, mn->sa.key, mn->sa.keylen)) {
        a->cnt.rrq_auth_failed++;
        deny(a, from, &rq, MIP_CODE_HA_MN_AUTH_FAILED, mn, fa_peer,
             !rq.ext.mn_ha.present            ? "no MN-HA authenticator"
             : rq.ext.mn_ha.spi != mn->sa.spi ? "unknown SPI"
                                              : "bad MN-HA authenticator");
        return;
    }
    /* FA-HA: a configured peer, or the key the AAA gave for this FA. */
    const struct mipd_sa *fa_sa = peer_sa(fa_peer);
    /* FLOWS "Intra-domain move" 5: the session's FA-HA key is accepted from
     * whichever FA presents it; a move (another care-of address) of a
     * session that has one must present it. */
    if (!fa_sa && m->has_fa_ha &&
        (m->fa_ha_peer.s_addr == from->addr.s_addr || rq.ext.fa_ha.present ||
         (m->b && rq.lifetime && rq.care_of_addr.s_addr != m->b->coa.s_addr)))
        fa_sa = &m->fa_ha;
    if (fa_sa && (!rq.ext.fa_ha.present || rq.ext.fa_ha.spi != fa_sa->spi ||
                  !mip_verify_auth(buf, &rq.ext.fa_ha, fa_sa->alg, fa_sa->key, fa_sa->keylen))) {
        a->cnt.rrq_auth_failed++;
        char hoa[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &rq.home_addr, hoa, sizeof(hoa));
        log_info("registration of %s (%s) from %s denied: %u %s (%s)", mn->nai, hoa,
                 inet_ntoa(from->addr), MIP_CODE_HA_FA_AUTH_FAILED,
                 mip_code_str(MIP_CODE_HA_FA_AUTH_FAILED), "bad FA-HA authenticator");
        send_reply(a, from, &rq, MIP_CODE_HA_FA_AUTH_FAILED, 0, rq.identification, mn->home_addr,
                   &mn->sa, fa_sa);
        return;
    }
    const char *why = NULL;
    uint8_t code = check_request(a, m, &rq, mn->home_addr, &why);
    if (code) {
        uint64_t ident = code == MIP_CODE_HA_ID_MISMATCH
                             ? mip_ident_resync(rq.identification, a->ntp_now())
                             : rq.identification;
        char hoa[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &rq.home_addr, hoa, sizeof(hoa));
        log_info("registration of %s (%s) from %s denied: %u %s (%s)", mn->nai, hoa,
                 inet_ntoa(from->addr), code, mip_code_str(code), why);
        send_reply(a, from, &rq, code, 0, ident, mn->home_addr, &mn->sa, fa_sa);
        return;
    }
    /* The identification is now accepted (even if the kernel fails below, the
     * same request must not be replayed). */
    m->last_ident = rq.identification;
    bool revtun = rq.flags & MIP_RRQ_FLAG_T;

    uint16_t lifetime = rq.lifetime;
    if (lifetime > a->cfg->ha.max_lifetime)
        lifetime = (uint16_t)a->cfg->ha.max_lifetime;
    char hoa_s[INET_ADDRSTRLEN], coa_s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &mn->home_addr, hoa_s, sizeof(hoa_s));
    inet_ntop(AF_INET, &rq.care_of_addr, coa_s, sizeof(coa_s));

    /* RFC 5944 §3.8.3: lifetime 0 or CoA = home address deregisters. */
    if (lifetime == 0 || rq.care_of_addr.s_addr == mn->home_addr.s_addr) {
        /* The reply is authenticated with the SA of the binding ending now. */
        struct mipd_sa sa = mn->sa;
        if (m->b) {
            binding_free(a, m->b, true);
            a->cnt.deregistrations++;
        }
        log_info("%s (%s) deregistered", mn->nai, hoa_s);
        a->cnt.rrq_accepted++;
        send_reply(a, from, &rq, MIP_CODE_ACCEPTED, 0, rq.identification, mn->home_addr, &sa,
                   fa_sa);
        OPENSSL_cleanse(&sa, sizeof(sa));
        return;
    }
    if (rq.care_of_addr.s_addr == 0) {
        deny(a, from, &rq, MIP_CODE_HA_POORLY_FORMED_REQUEST, mn, fa_peer, "care-of address 0");
        return;
    }
    struct binding *b = m->b;
    bool created = false;
    if (!b) {
        b = binding_new(a, m);
        if (!b) {
            deny(a, from, &rq, MIP_CODE_HA_INSUFFICIENT_RESOURCES, mn, fa_peer, "out of memory");
            return;
        }
        created = true;
    }
    struct in_addr old_coa = b->coa;
    int rc = binding_program(a, b, rq.care_of_addr);
    if (rc < 0) {
        a->cnt.kernel_errors++;
        if (created)
            free(b);
        deny(a, from, &rq, MIP_CODE_HA_INSUFFICIENT_RESOURCES, mn, fa_peer,
             "kernel refused the tunnel or route");
        return;
    }
    if (!created && old_coa.s_addr != rq.care_of_addr.s_addr) {
        const char *mwhy = NULL;
        if (move_vpn(a, m, old_coa, rq.care_of_addr, lifetime, &mwhy) < 0) {
            if (binding_program(a, b, old_coa) < 0)
                a->cnt.kernel_errors++;
            deny(a, from, &rq, MIP_CODE_HA_INSUFFICIENT_RESOURCES, mn, fa_peer, mwhy);
            return;
        }
        if (fa_sa == &m->fa_ha)
            m->fa_ha_peer = from->addr; /* the session's FA is now this one */
        a->cnt.moves++;
    }
    if (created) {
        m->b = b;
        h->n_bindings++;
    }
    struct vpn_session *vs = a->vpn && m->session_id ? vpn_cache_find(a->vpn, m->session_id) : NULL;
    if (vs)
        vpn_cache_refresh(vs, lifetime, agent_now_s(a));
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
    uint8_t acode = (rq.flags & MIP_RRQ_FLAG_S) ? MIP_CODE_ACCEPTED_NO_SIMUL : MIP_CODE_ACCEPTED;
    send_reply(a, from, &rq, acode, lifetime, rq.identification, mn->home_addr, &mn->sa, fa_sa);
}

/* ---- registration through the AAA (HAR) ---------------------------------- */

static void answer_har(struct agent *a, uint64_t har_id, const char *sid, const char *origin,
                       uint32_t rc, const char *msg, const uint8_t *reply, size_t rlen,
                       struct in_addr hoa, bool has_fa_ha, uint32_t fa_ha_spi,
                       const struct in_addr *prev_fa)
{
    struct aaa_haa haa = {
        .has_prev_fa = prev_fa != NULL,
        .prev_fa = prev_fa ? *prev_fa : (struct in_addr){0},
        .result_code = rc,
        .error_message = msg,
        .reg_reply = reply,
        .reg_reply_len = rlen,
        .ha = a->cfg->ha.address,
        .hoa = hoa,
        .has_fa_ha_spi = has_fa_ha,
        .fa_ha_spi = fa_ha_spi,
    };
    if (!a->aaa || a->aaa->answer_har(a->aaa_ctx, har_id, &haa) < 0) {
        a->cnt.aaa_errors++;
        log_warn("cannot answer the HAR of session %s", sid ? sid : "?");
        return;
    }
    a->cnt.haa_tx++;
    agent_event(a, "tx", "HAA", origin, sid, (int)rc);
}

/* HAA without a Mobile IP reply: the HAR itself is unusable. */
static void har_reject(struct agent *a, const struct aaa_har *har, uint32_t rc, const char *why)
{
    log_info("HAR %s (%s) rejected: Diameter %u (%s)", har->session_id ? har->session_id : "?",
             har->nai ? har->nai : "?", rc, why);
    a->cnt.aaa_errors++;
    answer_har(a, har->id, har->session_id, har->origin_host, rc, why, NULL, 0, har->hoa, false, 0,
               NULL);
}

/* The new MN-HA SA and key reply of a HAR (RFC 3957, RFC 4004 MSAs). */
static void har_keys(const struct aaa_har *har, uint32_t aaa_spi, uint32_t lifetime,
                     struct mipd_sa *sa, struct keygen *kg)
{
    memset(sa, 0, sizeof(*sa));
    sa->spi = har->mn_ha_spi;
    sa->keylen = har->mn_ha_key_len;
    memcpy(sa->key, har->mn_ha_key, har->mn_ha_key_len);
    sa->alg = MIP_AUTH_HMAC_SHA1;
    memset(kg, 0, sizeof(*kg));
    kg->lifetime = lifetime;
    kg->aaa_spi = aaa_spi;
    kg->ha_spi = har->mn_ha_spi;
    kg->alg = (uint16_t)har->mn_ha_alg;
    kg->replay = (uint16_t)har->mn_ha_replay;
    kg->nonce_len = har->nonce_len;
    memcpy(kg->nonce, har->nonce, har->nonce_len);
}

/* HAA 4005 with a reply of code `code` (authenticated with the new key). */
static void har_deny(struct agent *a, const struct aaa_har *har, const struct mip_reg_request *rq,
                     uint8_t code, uint64_t ident, const struct mipd_sa *sa,
                     const struct keygen *kg, const char *why)
{
    char hoa[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &har->hoa, hoa, sizeof(hoa));
    log_info("registration of %s (%s) via the AAA denied: %u %s (%s)", har->nai, hoa, code,
             mip_code_str(code), why);
    uint8_t buf[MIP_MAX_MSG];
    size_t n = build_reply(a, buf, sizeof(buf), code, 0, ident, har->hoa,
                           rq->ext.has_nai ? rq->ext.nai.ptr : NULL,
                           rq->ext.has_nai ? rq->ext.nai.len : 0, kg, sa, NULL);
    answer_har(a, har->id, har->session_id, har->origin_host, AAA_RC_MIP_REPLY_FAILURE, why,
               n ? buf : NULL, n, har->hoa, false, 0, NULL);
}

/* The registration is complete: commit the SA, arm the lifetime, answer. */
static void reg_commit(struct agent *a, struct mn_state *m, uint64_t har_id, const char *sid,
                       const char *vsid, const char *origin, uint8_t flags, uint64_t ident,
                       uint16_t lifetime, struct in_addr src, uint16_t src_port,
                       const struct mipd_sa *sa, const struct keygen *kg, bool has_fa_ha,
                       const struct mipd_sa *fa_ha, struct in_addr coa,
                       const struct in_addr *prev_fa)
{
    struct binding *b = m->b;
    m->dyn.sa = *sa;
    m->has_fa_ha = has_fa_ha;
    if (has_fa_ha) {
        m->fa_ha = *fa_ha;
        m->fa_ha_peer = coa;
    }
    if (!m->session_id || strcmp(m->session_id, vsid)) {
        free(m->session_id);
        m->session_id = strdup(vsid);
    }
    b->src = src;
    b->src_port = src_port;
    b->lifetime = lifetime;
    b->revtun = flags & MIP_RRQ_FLAG_T;
    b->via_aaa = true;
    b->expires_ms = loop_now_ms(a->loop) + (uint64_t)lifetime * 1000u;
    loop_timer_arm_at(a->loop, &b->timer, b->expires_ms);
    char hoa_s[INET_ADDRSTRLEN], coa_s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m->mn->home_addr, hoa_s, sizeof(hoa_s));
    inet_ntop(AF_INET, &b->coa, coa_s, sizeof(coa_s));
    log_info("%s (%s) registered via the AAA via %s, lifetime %u (session %s)", m->mn->nai, hoa_s,
             coa_s, lifetime, sid);
    a->cnt.rrq_accepted++;
    uint8_t code = (flags & MIP_RRQ_FLAG_S) ? MIP_CODE_ACCEPTED_NO_SIMUL : MIP_CODE_ACCEPTED;
    uint8_t buf[MIP_MAX_MSG];
    size_t n = build_reply(a, buf, sizeof(buf), code, lifetime, ident, m->mn->home_addr,
                           (const uint8_t *)m->mn->nai, strlen(m->mn->nai), kg, sa, NULL);
    if (!n) {
        answer_har(a, har_id, sid, origin, AAA_RC_UNABLE_TO_COMPLY, "cannot encode the reply", NULL,
                   0, m->mn->home_addr, false, 0, NULL);
        return;
    }
    answer_har(a, har_id, sid, origin, AAA_RC_SUCCESS, NULL, buf, n, m->mn->home_addr, has_fa_ha,
               has_fa_ha ? fa_ha->spi : 0, prev_fa);
}

static void reg_txn_free(struct reg_txn *t)
{
    if (t->old_profiles) {
        for (unsigned i = 0; i < t->n_old; i++)
            vpn_profile_clear(&t->old_profiles[i]);
        free(t->old_profiles);
    }
    free(t->session_id);
    free(t->vsid);
    free(t->origin);
    OPENSSL_cleanse(t, sizeof(*t));
    free(t);
}

/* Puts back what the registration set up (FLOWS "HAA": "removes what it set
 * up for the request"): the cache session as it was, the binding's tunnel. */
static void reg_undo(struct agent *a, struct reg_txn *t)
{
    struct mn_state *m = t->m;
    if (a->vpn && t->cache_set) {
        if (t->had_session) {
            char err[VPN_ERR_MAX];
            if (!vpn_cache_set(a->vpn, t->vsid, m->mn->nai, m->mn->home_addr, t->old_coa,
                               t->old_profiles, t->n_old, t->old_lifetime, agent_now_s(a), err,
                               sizeof(err)))
                log_warn("cannot restore the VPN information of %s: %s", t->vsid, err);
        } else {
            vpn_cache_remove_id(a->vpn, t->vsid);
        }
        agent_vpn_restore(a, t->vsid);
    }
    if (!m->b)
        return;
    if (t->created) {
        /* Nothing to tell the PCNs: none acknowledged this session's BU. */
        char *sid = m->session_id;
        m->session_id = NULL;
        binding_free(a, m->b, false);
        m->session_id = sid;
    } else if (m->b->coa.s_addr != t->old_coa.s_addr && binding_program(a, m->b, t->old_coa) < 0) {
        a->cnt.kernel_errors++;
    }
}

/* Fails a waiting registration: BUs cancelled, undo, HAA 4005 + 130. */
static void reg_txn_abort(struct agent *a, struct reg_txn *t, const char *why)
{
    struct mn_state *m = t->m;
    for (unsigned i = 0; i < t->n_bu; i++)
        if (t->bu[i]) {
            bu_cancel(a, t->bu[i]);
            t->bu[i] = NULL;
        }
    m->txn = NULL;
    reg_undo(a, t);
    char hoa[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m->mn->home_addr, hoa, sizeof(hoa));
    log_info("registration of %s (%s) via the AAA denied: %u %s (%s)", m->mn->nai, hoa,
             MIP_CODE_HA_INSUFFICIENT_RESOURCES, mip_code_str(MIP_CODE_HA_INSUFFICIENT_RESOURCES),
             why);
    uint8_t buf[MIP_MAX_MSG];
    size_t n = build_reply(a, buf, sizeof(buf), MIP_CODE_HA_INSUFFICIENT_RESOURCES, 0, t->ident,
                           m->mn->home_addr, (const uint8_t *)m->mn->nai, strlen(m->mn->nai),
                           &t->kg, &t->sa, NULL);
    answer_har(a, t->har_id, t->session_id, t->origin, AAA_RC_MIP_REPLY_FAILURE, why,
               n ? buf : NULL, n, m->mn->home_addr, false, 0, NULL);
    reg_txn_free(t);
    mn_idle(a, m);
}

static void reg_bu_done(struct agent *a, void *arg, struct bu_txn *bt, int status)
{
    struct reg_txn *t = arg;
    for (unsigned i = 0; i < t->n_bu; i++)
        if (t->bu[i] == bt)
            t->bu[i] = NULL;
    if (status != MIP_BA_ACCEPTED) {
        char why[128];
        if (status < 0)
            snprintf(why, sizeof(why), "a PCN did not acknowledge the binding update");
        else
            snprintf(why, sizeof(why), "a PCN refused the binding update: %d %s", status,
                     mip_ba_status_str((uint8_t)status));
        reg_txn_abort(a, t, why);
        return;
    }
    if (--t->n_open > 0)
        return;
    struct mn_state *m = t->m;
    m->txn = NULL;
    forget_lost_pcns(a, t);
    reg_commit(a, m, t->har_id, t->session_id, t->vsid, t->origin, t->flags, t->ident, t->lifetime,
               t->src, t->src_port, &t->sa, &t->kg, t->has_fa_ha, &t->fa_ha, t->coa,
               t->had_binding ? &t->prev_coa : NULL);
    reg_txn_free(t);
}

/* Sends the BUs of a registration; 0, or -1 with why set (nothing in flight). */
static int send_bus(struct agent *a, struct reg_txn *t, const struct aaa_har *har, uint16_t life,
                    const char **why)
{
    struct mn_state *m = t->m;
    struct vpn_info *groups = calloc(HA_MAX_BU_GROUPS, sizeof(*groups));
    struct in_addr dst[HA_MAX_BU_GROUPS];
    const struct mipd_peer *peer[HA_MAX_BU_GROUPS];
    unsigned ng = 0;
    static char err[VPN_ERR_MAX + 64];
    int rc = 0;
    if (!groups) {
        *why = "out of memory";
        return -1;
    }
    refresh_cancel(a, m); /* this registration's BUs carry the newer VPN information */
    for (unsigned i = 0; i < har->n_profiles && rc == 0; i++) {
        const struct vpn_profile *p = &har->profiles[i];
        if (p->gw_type != VPN_GW_DYNAMIC)
            continue;
        struct in_addr d = bu_destination(p);
        unsigned g = 0;
        while (g < ng && peer[g]->addr.s_addr != p->src_gw.s_addr)
            g++;
        if (g < ng && dst[g].s_addr == peer[g]->addr.s_addr)
            dst[g] = d; /* a correspondent host named: the BU goes there */
        if (g == ng) {
            const struct mipd_peer *pp = find_pcn_peer(a, p->src_gw);
            if (!pp) {
                snprintf(err, sizeof(err), "no pairwise key for PCN %s (ha.pcn_peers)",
                         inet_ntoa(p->src_gw));
                *why = err;
                rc = -1;
                break;
            }
            if (ng == HA_MAX_BU_GROUPS) {
                *why = "profiles for too many PCNs";
                rc = -1;
                break;
            }
            dst[ng] = d;
            peer[ng] = pp;
            struct vpn_info *vi = &groups[ng++];
            snprintf(vi->session_id, sizeof(vi->session_id), "%s", t->vsid);
            snprintf(vi->nai, sizeof(vi->nai), "%s", m->mn->nai);
            vi->hoa = m->mn->home_addr;
            vi->lifetime = life;
        }
        struct vpn_info *vi = &groups[g];
        if (vi->n == VPN_CVSE_MAX_PROFILES) {
            *why = "more VPN profiles for one PCN than a BU carries";
            rc = -1;
            break;
        }
        vi->profiles[vi->n] = *p;
        vi->profiles[vi->n].nai = NULL;
        vi->profiles[vi->n].leg = VPN_LEG_FA_PCN; /* the AVP does not carry it */
        vi->n++;
    }
    for (unsigned g = 0; g < ng && rc == 0; g++) {
        char e[VPN_ERR_MAX];
        t->bu[g] = bu_start(a, dst[g], peer[g], m->mn->home_addr, t->coa, life, &groups[g],
                            reg_bu_done, t, e, sizeof(e));
        if (!t->bu[g]) {
            snprintf(err, sizeof(err), "cannot send the BU to %s: %s", inet_ntoa(dst[g]), e);
            *why = err;
            rc = -1;
            break;
        }
        t->n_bu = g + 1;
        t->n_open++;
    }
    if (rc < 0)
        for (unsigned g = 0; g < t->n_bu; g++)
            if (t->bu[g]) {
                bu_cancel(a, t->bu[g]);
                t->bu[g] = NULL;
            }
    for (unsigned g = 0; g < HA_MAX_BU_GROUPS; g++)
        vpn_info_clear(&groups[g]);
    free(groups);
    return rc;
}

/* Binding end: the PCNs that hold the session's VPN information forget it
 * (a lifetime-0 BU; nobody waits for its BA). */
static void bu_forget_done(struct agent *a, void *arg, struct bu_txn *t, int status)
{
    (void)a;
    (void)arg;
    (void)t;
    (void)status;
}

static void send_lifetime0_bus(struct agent *a, struct mn_state *m)
{
    struct vpn_session *s = a->vpn ? vpn_cache_find(a->vpn, m->session_id) : NULL;
    if (!s)
        return;
    struct in_addr done[HA_MAX_BU_GROUPS];
    unsigned nd = 0;
    for (unsigned i = 0; i < s->n_profiles && nd < HA_MAX_BU_GROUPS; i++) {
        const struct vpn_profile *p = &s->profiles[i];
        if (p->gw_type != VPN_GW_DYNAMIC)
            continue;
        struct in_addr d = p->src_gw; /* one per PCN */
        bool seen = false;
        for (unsigned k = 0; k < nd; k++)
            seen |= done[k].s_addr == d.s_addr;
        const struct mipd_peer *pp = find_pcn_peer(a, p->src_gw);
        if (seen || !pp)
            continue;
        done[nd++] = d;
        struct vpn_info vi;
        memset(&vi, 0, sizeof(vi));
        snprintf(vi.session_id, sizeof(vi.session_id), "%s", m->session_id);
        snprintf(vi.nai, sizeof(vi.nai), "%s", m->mn->nai);
        vi.hoa = m->mn->home_addr;
        char e[VPN_ERR_MAX];
        /* The way the session's BUs went (send_bus): through a correspondent
         * the PCN answers for, its answer matches (br_peer_by_correspondent). */
        if (!bu_start(a, bu_destination(p), pp, m->mn->home_addr, s->fa, 0, &vi, bu_forget_done,
                      NULL, e, sizeof(e)))
            log_warn("cannot tell %s that session %s ended: %s", inet_ntoa(d), m->session_id, e);
    }
}

/* Service update (scenario 7, FLOWS "Service update" 4): a registration of
 * the same session that replaced the cached set; each PCN that held
 * profiles of the old set and has none in the new one gets a lifetime-0 BU
 * (nobody waits for its BA).  Called once the registration commits. */
static void forget_lost_pcns(struct agent *a, const struct reg_txn *t)
{
    struct vpn_session *s = a->vpn ? vpn_cache_find(a->vpn, t->vsid) : NULL;
    if (!t->had_session || !t->old_profiles || !s)
        return;
    struct in_addr done[HA_MAX_BU_GROUPS];
    unsigned nd = 0;
    for (unsigned i = 0; i < t->n_old && nd < HA_MAX_BU_GROUPS; i++) {
        const struct vpn_profile *p = &t->old_profiles[i];
        if (p->gw_type != VPN_GW_DYNAMIC)
            continue;
        bool keep = false;
        for (unsigned k = 0; k < nd; k++)
            keep |= done[k].s_addr == p->src_gw.s_addr;
        for (unsigned j = 0; j < s->n_profiles; j++)
            keep |= s->profiles[j].gw_type == VPN_GW_DYNAMIC &&
                    s->profiles[j].src_gw.s_addr == p->src_gw.s_addr;
        if (keep)
            continue;
        done[nd++] = p->src_gw;
        const struct mipd_peer *pp = find_pcn_peer(a, p->src_gw);
        if (!pp)
            continue;
        struct vpn_info vi;
        memset(&vi, 0, sizeof(vi));
        snprintf(vi.session_id, sizeof(vi.session_id), "%s", t->vsid);
        snprintf(vi.nai, sizeof(vi.nai), "%s", t->m->mn->nai);
        vi.hoa = t->m->mn->home_addr;
        char e[VPN_ERR_MAX];
        if (bu_start(a, bu_destination(p), pp, t->m->mn->home_addr, t->coa, 0, &vi, bu_forget_done,
                     NULL, e, sizeof(e))) {
            a->cnt.pcn_forgotten++;
            log_info("PCN %s lost the profiles of session %s: lifetime-0 BU", inet_ntoa(p->src_gw),
                     t->vsid);
        } else {
            log_warn("cannot tell PCN %s to drop session %s: %s", inet_ntoa(p->src_gw), t->vsid, e);
        }
    }
}

/* The Diameter profile AVP does not carry the leg (dict/vpn_avp.h); the
 * gateways tell it (vpncache/README.md "Path decision"): a dynamic
 * destination gateway is the fa-pcn leg, HA -> the care-of address the fa-ha
 * leg, HA -> anything else the ha-gw leg.  A shallow copy (NAIs are NULL). */
static struct vpn_profile *ha_profiles_with_legs(struct agent *a, const struct aaa_har *har,
                                                 struct in_addr coa)
{
    struct vpn_profile *p = calloc(har->n_profiles ? har->n_profiles : 1, sizeof(*p));
    if (!p)
        return NULL;
    for (unsigned i = 0; i < har->n_profiles; i++) {
        p[i] = har->profiles[i];
        p[i].nai = NULL;
        if (p[i].gw_type == VPN_GW_DYNAMIC)
            p[i].leg = VPN_LEG_FA_PCN;
        else if (p[i].src_gw.s_addr == a->cfg->ha.address.s_addr &&
                 p[i].dst_gw.s_addr == coa.s_addr)
            p[i].leg = VPN_LEG_FA_HA;
        else
            p[i].leg = VPN_LEG_HA_GW;
    }
    return p;
}

void ha_har_rx(struct agent *a, const struct aaa_har *har)
{
    struct ha_state *h = a->ha;
    a->cnt.har_rx++;
    agent_event(a, "rx", "HAR", har->origin_host, har->session_id, -1);
    if (har->decode_rc) {
        har_reject(a, har, har->decode_rc, har->decode_err ? har->decode_err : "malformed HAR");
        return;
    }
    if (!har->session_id || !har->nai || !har->reg_req || !har->hoa.s_addr || !har->has_mn_ha ||
        !har->nonce || !har->nonce_len || har->nonce_len > 255 || !har->mn_ha_key ||
        !har->mn_ha_key_len || har->mn_ha_key_len > MIPD_KEY_MAX) {
        har_reject(a, har, AAA_RC_MISSING_AVP,
                   "HAR lacks Session-Id, User-Name, MIP-Reg-Request, MIP-Mobile-Node-Address or "
                   "the MN-HA MSAs (key, nonce)");
        return;
    }
    if (strlen(har->nai) >= MIPD_NAI_MAX || strlen(har->session_id) > VPN_SESSION_ID_MAX) {
        har_reject(a, har, AAA_RC_INVALID_AVP_VALUE, "User-Name or Session-Id too long");
        return;
    }
    if (har->mn_ha_alg != MIP_KEYGEN_ALG_HMAC_SHA1) {
        har_reject(a, har, AAA_RC_INVALID_AVP_VALUE,
                   "MIP-Algorithm-Type: only 2 (HMAC-SHA-1) is supported");
        a->cnt.rrq_rx++;
        return;
    }
    a->cnt.rrq_rx++;
    struct mip_reg_request rq;
    size_t off = 0;
    enum mip_err err = mip_get_reg_request(har->reg_req, har->reg_req_len, &rq, &off);
    if (err) {
        a->cnt.rrq_malformed++;
        har_reject(a, har, AAA_RC_INVALID_AVP_VALUE, "MIP-Reg-Request does not decode");
        return;
    }
    uint32_t aaa_spi = rq.ext.mn_aaa.present ? rq.ext.mn_aaa.spi : 0;
    uint16_t lifetime = rq.lifetime;
    if (lifetime > a->cfg->ha.max_lifetime)
        lifetime = (uint16_t)a->cfg->ha.max_lifetime;
    if (har->has_lifetime && har->lifetime < lifetime)
        lifetime = (uint16_t)har->lifetime;
    struct mipd_sa sa;
    struct keygen kg;
    har_keys(har, aaa_spi, har->has_lifetime ? har->lifetime : lifetime, &sa, &kg);
#define HAR_DENY(code, ident, why)                                                                 \
    do {                                                                                           \
        har_deny(a, har, &rq, (code), (ident), &sa, &kg, (why));                                   \
        OPENSSL_cleanse(&sa, sizeof(sa));                                                          \
        return;                                                                                    \
    } while (0)
    /* The request must be the one the AAA authorised (RFC 4004 §5.3). */
    if (!rq.ext.has_nai || rq.ext.nai.len != strlen(har->nai) ||
        memcmp(rq.ext.nai.ptr, har->nai, rq.ext.nai.len))
        HAR_DENY(MIP_CODE_HA_POORLY_FORMED_REQUEST, rq.identification,
                 "the request's NAI is not the HAR's User-Name");
    struct mn_state *m = find_by_nai_str(h, har->nai);
    if (m && !m->dynamic)
        HAR_DENY(MIP_CODE_HA_ADMIN_PROHIBITED, rq.identification,
                 "this NAI is configured for plain Mobile IP on this HA");
    struct mn_state *other = find_by_hoa(h, har->hoa);
    if (other && other != m)
        HAR_DENY(MIP_CODE_HA_ADMIN_PROHIBITED, rq.identification,
                 "the home address belongs to another mobile node");
    if (!m && !(m = mn_dynamic_new(a, har->nai)))
        HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification, "out of memory");
    loop_timer_cancel(a->loop, &m->forget);
    if (!m->b)
        mn_set_hoa(a, m, har->hoa);
    else if (m->dyn.home_addr.s_addr != har->hoa.s_addr) {
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_ADMIN_PROHIBITED, rq.identification,
                 "the HAR names another home address than the binding's");
    }
    /* RFC 5944 §3.8.2.1: an MN-HA authenticator, when present, must verify with
     * the MN-HA key: the HAR's (new) one, or the one of the current binding. */
    if (rq.ext.mn_ha.present) {
        bool ok = rq.ext.mn_ha.spi == sa.spi &&
                  mip_verify_auth(har->reg_req, &rq.ext.mn_ha, sa.alg, sa.key, sa.keylen);
        if (!ok && m->b && m->dyn.sa.keylen && rq.ext.mn_ha.spi == m->dyn.sa.spi)
            ok = mip_verify_auth(har->reg_req, &rq.ext.mn_ha, m->dyn.sa.alg, m->dyn.sa.key,
                                 m->dyn.sa.keylen);
        if (!ok) {
            a->cnt.rrq_auth_failed++;
            mn_idle(a, m);
            HAR_DENY(MIP_CODE_HA_MN_AUTH_FAILED, rq.identification, "bad MN-HA authenticator");
        }
    }
    /* An MN that asked the AAA for a home agent (0.0.0.0 or all ones, RFC 4004
     * §1) got us: the HAR names our address. */
    struct mip_reg_request chk = rq;
    if ((rq.home_agent.s_addr == 0 || rq.home_agent.s_addr == 0xffffffffu) &&
        har->ha.s_addr == a->cfg->ha.address.s_addr)
        chk.home_agent = a->cfg->ha.address;
    const char *why = NULL;
    uint8_t code = check_request(a, m, &chk, har->hoa, &why);
    if (code) {
        mn_idle(a, m);
        HAR_DENY(code,
                 code == MIP_CODE_HA_ID_MISMATCH ? mip_ident_resync(rq.identification, a->ntp_now())
                                                 : rq.identification,
                 why);
    }
    m->last_ident = rq.identification;
    /* A newer request supersedes one still waiting for its BAs. */
    if (m->txn)
        reg_txn_abort(a, m->txn, "superseded by a newer registration");

    struct mipd_sa fa_ha;
    memset(&fa_ha, 0, sizeof(fa_ha));
    bool has_fa_ha = har->has_fa_ha && har->fa_ha_key_len && har->fa_ha_key_len <= MIPD_KEY_MAX;
    if (has_fa_ha) {
        fa_ha.spi = har->fa_ha_spi;
        fa_ha.keylen = har->fa_ha_key_len;
        memcpy(fa_ha.key, har->fa_ha_key, har->fa_ha_key_len);
        fa_ha.alg = MIP_AUTH_HMAC_MD5;
    }
    char hoa_s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &har->hoa, hoa_s, sizeof(hoa_s));
    /* The key of the binding's VPN session.  FLOWS "Inter-domain move" 2-3:
     * the AAAH takes the new FA's Session-Id over for the same session, and
     * the HA "moves the binding, its tunnel or sends the BU to the PCN"
     * (seeds [0070], [0086]): a HAR with another Session-Id for a live binding
     * replaces the session's VPN information under the key it has -- only
     * what changed is reprogrammed (vpn_dp_set, delete-then-set), and each PCN
     * replaces its copy of the same session.  Ending the old session and
     * starting a new one instead (all its SAs, marks and DSCP classes out
     * and in again, a lifetime-0 BU then a BU to each PCN) took 3.5 s in the
     * testbed's UML, longer than the MN waits (testbed inter-move). */
    char vsid[VPN_SESSION_ID_MAX + 1];
    snprintf(vsid, sizeof(vsid), "%s", m->b && m->session_id ? m->session_id : har->session_id);

    /* RFC 5944 §3.8.3: deregistration. */
    if (lifetime == 0 || rq.care_of_addr.s_addr == har->hoa.s_addr) {
        bool had_b = m->b != NULL;
        struct in_addr prev = had_b ? m->b->coa : (struct in_addr){0};
        if (m->b) {
            binding_free(a, m->b, true);
            a->cnt.deregistrations++;
        }
        agent_vpn_remove(a, vsid);
        if (a->vpn)
            vpn_cache_remove_id(a->vpn, vsid);
        log_info("%s (%s) deregistered via the AAA", har->nai, hoa_s);
        a->cnt.rrq_accepted++;
        uint8_t buf[MIP_MAX_MSG];
        size_t n = build_reply(a, buf, sizeof(buf), MIP_CODE_ACCEPTED, 0, rq.identification,
                               har->hoa, rq.ext.nai.ptr, rq.ext.nai.len, &kg, &sa, NULL);
        answer_har(a, har->id, har->session_id, har->origin_host, AAA_RC_SUCCESS, NULL,
                   n ? buf : NULL, n, har->hoa, false, 0, had_b ? &prev : NULL);
        m->dyn.sa = sa;
        OPENSSL_cleanse(&sa, sizeof(sa));
        OPENSSL_cleanse(&fa_ha, sizeof(fa_ha));
        mn_idle(a, m);
        return;
    }
    if (rq.care_of_addr.s_addr == 0) {
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_POORLY_FORMED_REQUEST, rq.identification, "care-of address 0");
    }

    struct reg_txn *t = calloc(1, sizeof(*t));
    if (!t) {
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification, "out of memory");
    }
    t->m = m;
    t->har_id = har->id;
    t->session_id = strdup(har->session_id);
    t->vsid = strdup(vsid);
    t->origin = har->origin_host ? strdup(har->origin_host) : NULL;
    t->flags = rq.flags;
    t->ident = rq.identification;
    t->lifetime = lifetime;
    t->coa = rq.care_of_addr;
    t->src = rq.care_of_addr; /* the FA (its request came through the AAA) */
    t->src_port = MIP_UDP_PORT;
    t->sa = sa;
    t->kg = kg;
    t->has_fa_ha = has_fa_ha;
    t->fa_ha = fa_ha;
    OPENSSL_cleanse(&fa_ha, sizeof(fa_ha));
    if (!t->session_id || !t->vsid) {
        reg_txn_free(t);
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification, "out of memory");
    }

    /* Kernel first (make-before-break inside binding_program). */
    struct binding *b = m->b;
    t->created = !b;
    if (!b) {
        b = binding_new(a, m);
        if (!b) {
            reg_txn_free(t);
            mn_idle(a, m);
            HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification, "out of memory");
        }
    } else {
        t->old_coa = b->coa;
        t->had_binding = true;
        t->prev_coa = b->coa;
    }
    int rc = binding_program(a, b, rq.care_of_addr);
    if (rc < 0) {
        a->cnt.kernel_errors++;
        if (t->created)
            free(b);
        reg_txn_free(t);
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification,
                 "kernel refused the tunnel or route");
    }
    if (t->created) {
        m->b = b;
        h->n_bindings++;
    }
    /* Seed [0054]: cache the HA's VPN information (delete-then-set); keep the
     * previous content to restore it if a PCN refuses. */
    struct vpn_session *old = vpn_cache_find(a->vpn, vsid);
    if (old) {
        t->had_session = true;
        t->old_coa = old->fa;
        t->old_lifetime =
            old->expires > agent_now_s(a) ? (uint32_t)(old->expires - agent_now_s(a)) : 1;
        t->old_profiles = calloc(old->n_profiles ? old->n_profiles : 1, sizeof(*t->old_profiles));
        for (unsigned i = 0; t->old_profiles && i < old->n_profiles; i++)
            if (vpn_profile_copy(&t->old_profiles[i], &old->profiles[i]))
                t->n_old = i + 1;
    }
    char cerr[VPN_ERR_MAX];
    struct vpn_profile *prof = ha_profiles_with_legs(a, har, rq.care_of_addr);
    bool cached =
        prof && vpn_cache_set(a->vpn, vsid, har->nai, har->hoa, rq.care_of_addr, prof,
                              har->n_profiles, lifetime, agent_now_s(a), cerr, sizeof(cerr));
    if (!prof)
        snprintf(cerr, sizeof(cerr), "out of memory");
    if (prof) {
        OPENSSL_cleanse(prof, har->n_profiles * sizeof(*prof));
        free(prof);
    }
    if (!cached) {
        a->cnt.vpn_cache_errors++;
        log_warn("VPN information of %s refused by the cache: %s", vsid, cerr);
        reg_undo(a, t); /* the cache is unchanged: the binding only */
        reg_txn_free(t);
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification,
                 "the VPN information could not be cached");
    }
    t->cache_set = true;
    /* A new session of the same MN replaces the binding's old one. */
    if (m->session_id && strcmp(m->session_id, vsid)) {
        send_lifetime0_bus(a, m);
        agent_vpn_remove(a, m->session_id);
        vpn_cache_remove_id(a->vpn, m->session_id);
        free(m->session_id);
        m->session_id = NULL;
    }
    /* Seed [0057], [0060]-[0062]: MAVPN, the HA's own tunnels and marks
     * (ha-gw and fa-ha legs; the fa-pcn ones go to the PCN by BU). */
    {
        struct vpn_session *vs = vpn_cache_find(a->vpn, vsid);
        static char vwhy[VPN_ERR_MAX + 96];
        if (vs && agent_vpn_set(a, vsid, har->hoa, vs->profiles, vs->n_profiles, vwhy,
                                sizeof(vwhy)) < 0) {
            reg_undo(a, t); /* cache, kernel objects and binding as they were */
            reg_txn_free(t);
            mn_idle(a, m);
            HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification, vwhy);
        }
    }
    /* Seed [0057]: a BU for each destination gateway that is dynamic. */
    const char *bwhy = NULL;
    if (send_bus(a, t, har, lifetime, &bwhy) < 0) {
        reg_undo(a, t);
        log_info("registration of %s (%s) via the AAA denied: %u %s (%s)", har->nai, hoa_s,
                 MIP_CODE_HA_INSUFFICIENT_RESOURCES,
                 mip_code_str(MIP_CODE_HA_INSUFFICIENT_RESOURCES), bwhy);
        reg_txn_free(t);
        mn_idle(a, m);
        HAR_DENY(MIP_CODE_HA_INSUFFICIENT_RESOURCES, rq.identification, bwhy);
    }
#undef HAR_DENY
    if (t->n_open > 0) {
        m->txn = t; /* the HAA waits for the BAs (seed Fig. 27) */
        OPENSSL_cleanse(&sa, sizeof(sa));
        return;
    }
    forget_lost_pcns(a, t);
    reg_commit(a, m, t->har_id, t->session_id, t->vsid, t->origin, t->flags, t->ident, t->lifetime,
               t->src, t->src_port, &t->sa, &t->kg, t->has_fa_ha, &t->fa_ha, t->coa,
               t->had_binding ? &t->prev_coa : NULL);
    reg_txn_free(t);
    OPENSSL_cleanse(&sa, sizeof(sa));
}

/* ---- Binding Request from a PCN (seed scenario 8, claim 25) ----------------
 *
 * Checked in this order, each refusal counted, logged and answered by
 * nothing (a BR has no acknowledgement; the PCN retransmits), the state left
 * alone:
 *   undecodable ........................................ br_malformed
 *   sender not a PCN of ha.pcn_peers ................... br_unknown_peer
 *     (a PCN is known by its address, by the correspondent address a BU
 *     of the session went to, or by its key under its SPI)
 *   RO-auth missing, wrong SPI or HMAC ................. br_auth_failed
 *   identification stale or not above the last BR's .... br_replayed
 * then the identification counts as used.  The binding of the home address
 * is looked up: when it exists, carries VPN information and some of its
 * profiles are for that PCN (dynamic gateway = the PCN, as send_bus groups
 * them), a BU with those profiles (the registration-time content) and the
 * binding's remaining lifetime goes to the PCN through bu.c (retransmission,
 * BA check): br_answered.  Otherwise the HA stays silent (br_silent), and the
 * PCN lets the VPN information expire. */

static void refresh_bu_done(struct agent *a, void *arg, struct bu_txn *t, int status)
{
    struct mn_state *m = arg;
    struct in_addr pcn = {0};
    for (unsigned i = 0; i < HA_MAX_BU_GROUPS; i++)
        if (m->refresh[i] == t) {
            m->refresh[i] = NULL;
            pcn = m->refresh_pcn[i];
        }
    if (status != MIP_BA_ACCEPTED) {
        a->cnt.br_bu_failed++;
        log_warn("PCN %s did not take the refreshed VPN information of %s (status %d)",
                 inet_ntoa(pcn), m->mn->nai, status);
    }
}

/* Answers a fresh, authenticated BR of PCN pp: 0 when a BU went out, 1 when
 * the HA stays silent, -1 when the BU could not be sent; *why says why not. */
static int br_answer(struct agent *a, struct mn_state *m, const struct mipd_peer *pp,
                     const char **why)
{
#define SILENT(reason)                                                                             \
    do {                                                                                           \
        *why = reason;                                                                             \
        return 1;                                                                                  \
    } while (0)
    if (!m || !m->b)
        SILENT("no binding for this home address");
    if (m->txn)
        SILENT("a registration is waiting for its BAs (its BUs will follow)");
    struct vpn_session *vs = a->vpn && m->session_id ? vpn_cache_find(a->vpn, m->session_id) : NULL;
    if (!vs)
        SILENT("the binding carries no VPN information");
    uint64_t now = loop_now_ms(a->loop);
    if (m->b->expires_ms <= now)
        SILENT("the binding is ending");
    uint64_t left = (m->b->expires_ms - now + 999) / 1000;
    unsigned slot = HA_MAX_BU_GROUPS;
    for (unsigned i = 0; i < HA_MAX_BU_GROUPS; i++)
        if (m->refresh[i] ? m->refresh_pcn[i].s_addr == pp->addr.s_addr : slot == HA_MAX_BU_GROUPS)
            slot = i;
    if (slot == HA_MAX_BU_GROUPS)
        SILENT("too many refresh BUs in flight for this binding");
#undef SILENT
    struct vpn_info *vi = calloc(1, sizeof(*vi));
    if (!vi) {
        *why = "out of memory";
        return -1;
    }
    snprintf(vi->session_id, sizeof(vi->session_id), "%s", m->session_id);
    snprintf(vi->nai, sizeof(vi->nai), "%s", m->mn->nai);
    vi->hoa = m->mn->home_addr;
    vi->lifetime = (uint32_t)(left > 0xffff ? 0xffff : left);
    for (unsigned j = 0; j < vs->n_profiles && vi->n < VPN_CVSE_MAX_PROFILES; j++) {
        const struct vpn_profile *q = &vs->profiles[j];
        if (q->gw_type != VPN_GW_DYNAMIC || q->src_gw.s_addr != pp->addr.s_addr)
            continue;
        vi->profiles[vi->n] = *q;
        vi->profiles[vi->n].nai = NULL;
        vi->profiles[vi->n].leg = VPN_LEG_FA_PCN;
        vi->n++;
    }
    int rc = 0;
    if (vi->n == 0) {
        *why = "its VPN information no longer involves this PCN";
        rc = 1;
    } else {
        /* A newer BR from the same PCN: the BU starts again (fresh lifetime). */
        if (m->refresh[slot])
            bu_cancel(a, m->refresh[slot]);
        char e[VPN_ERR_MAX];
        /* Where the registration's BU went (send_bus): a correspondent host the
         * profile names, else the PCN; every BU of the session takes one way. */
        struct in_addr dst = pp->addr;
        for (unsigned j = 0; j < vi->n; j++)
            if (bu_destination(&vi->profiles[j]).s_addr != pp->addr.s_addr)
                dst = bu_destination(&vi->profiles[j]);
        m->refresh[slot] = bu_start(a, dst, pp, m->mn->home_addr, m->b->coa, (uint16_t)vi->lifetime,
                                    vi, refresh_bu_done, m, e, sizeof(e));
        m->refresh_pcn[slot] = pp->addr;
        if (!m->refresh[slot]) {
            static char err[VPN_ERR_MAX + 32];
            snprintf(err, sizeof(err), "cannot send the BU: %s", e);
            *why = err;
            rc = -1;
        }
    }
    vpn_info_clear(vi);
    free(vi);
    return rc;
}

/* A PCN answers as the correspondents it serves (DESIGN §7: it intercepts the
 * BUs addressed to them with a REDIRECT rule), and while that rule's
 * connection-tracking entry lives, what the PCN sends to our UDP 434 from its
 * own 434 is the entry's reply direction: it reaches us with the
 * correspondent's address as source.  So a BR from the address a BU of this
 * home address's session went to stands for the PCN of that BU. */
static const struct mipd_peer *br_peer_by_correspondent(const struct agent *a, struct in_addr hoa,
                                                        struct in_addr from, size_t *pi)
{
    struct mn_state *m = find_by_hoa(a->ha, hoa);
    struct vpn_session *vs =
        m && m->session_id && a->vpn ? vpn_cache_find(a->vpn, m->session_id) : NULL;
    for (unsigned i = 0; vs && i < vs->n_profiles; i++) {
        const struct vpn_profile *p = &vs->profiles[i];
        if (p->gw_type != VPN_GW_DYNAMIC || bu_destination(p).s_addr != from.s_addr)
            continue;
        for (size_t k = 0; k < a->cfg->ha.n_pcn_peers; k++)
            if (a->cfg->ha.pcn_peers[k].addr.s_addr == p->src_gw.s_addr) {
                *pi = k;
                return &a->cfg->ha.pcn_peers[k];
            }
    }
    return NULL;
}

/* The same PCN once the HA has forgotten the session (deregistration, expiry:
 * exactly when a PCN still asks): no BU destination to match any more, so the
 * PCN is the ha.pcn_peers entry whose key authenticates the BR under its SPI. */
static const struct mipd_peer *br_peer_by_auth(const struct agent *a, const uint8_t *buf,
                                               size_t len, const struct mip_exts *ext, size_t *pi)
{
    const struct mipd_config *c = a->cfg;
    for (size_t k = 0; k < c->ha.n_pcn_peers; k++) {
        const struct mipd_peer *p = &c->ha.pcn_peers[k];
        uint32_t spi = 0;
        if (mip_verify_ro_auth(buf, len, ext, c->vendor_id, p->sa.key, p->sa.keylen, &spi) &&
            spi == p->sa.spi) {
            *pi = k;
            return p;
        }
    }
    return NULL;
}

static void handle_br(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    struct ha_state *h = a->ha;
    const struct mipd_config *c = a->cfg;
    struct mip_experimental m;
    size_t off = 0;
    a->cnt.br_rx++;
    enum mip_err e = mip_get_experimental(buf, len, &m, &off);
    if (e) {
        a->cnt.br_malformed++;
        agent_event_ip(a, "rx", "BR", from->addr, "-", -1);
        log_info("dropped a malformed BR from %s: %s at offset %zu", inet_ntoa(from->addr),
                 mip_err_str(e), off);
        return;
    }
    char hoa[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m.u.br.home_addr, hoa, sizeof(hoa));
    const struct mipd_peer *peer = NULL;
    size_t pi = 0;
    for (; pi < c->ha.n_pcn_peers; pi++)
        if (c->ha.pcn_peers[pi].addr.s_addr == from->addr.s_addr) {
            peer = &c->ha.pcn_peers[pi];
            break;
        }
    if (!peer)
        peer = br_peer_by_correspondent(a, m.u.br.home_addr, from->addr, &pi);
    if (!peer)
        peer = br_peer_by_auth(a, buf, len, &m.ext, &pi);
    const char *why = NULL;
    uint32_t spi = 0;
    if (!peer) {
        a->cnt.br_unknown_peer++;
        why = "sender not in ha.pcn_peers";
    } else if (!mip_verify_ro_auth(buf, len, &m.ext, c->vendor_id, peer->sa.key, peer->sa.keylen,
                                   &spi) ||
               spi != peer->sa.spi) {
        a->cnt.br_auth_failed++;
        why = spi && spi != peer->sa.spi ? "unknown SPI" : "RO authenticator missing or wrong";
    } else if (mip_ident_check(m.u.br.identification, h->br_last[pi], a->ntp_now(),
                               c->ha.replay_window) != MIP_IDENT_OK) {
        a->cnt.br_replayed++;
        why = "identification stale or not above the last (replay)";
    }
    if (why) {
        agent_event_ip(a, "rx", "BR", from->addr, "-", -1);
        log_warn("BR from %s for %s refused: %s", inet_ntoa(from->addr), hoa, why);
        return;
    }
    h->br_last[pi] = m.u.br.identification;
    struct mn_state *mn = find_by_hoa(h, m.u.br.home_addr);
    agent_event_ip(a, "rx", "BR", from->addr, mn && mn->b && mn->session_id ? mn->session_id : "-",
                   -1);
    int rc = br_answer(a, mn, peer, &why);
    if (rc != 0) {
        if (rc > 0)
            a->cnt.br_silent++;
        else
            a->cnt.br_bu_failed++;
        log_info("BR from %s for %s: no BU (%s)", inet_ntoa(from->addr), hoa, why);
        return;
    }
    a->cnt.br_answered++;
    log_info("BR from %s for %s: BU with the VPN information of %s", inet_ntoa(from->addr), hoa,
             mn->session_id);
}

void ha_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    if (len >= 1 && buf[0] == MIP_MSG_REG_REQUEST) {
        handle_rrq(a, from, buf, len);
        return;
    }
    if (len >= 3 && buf[0] == MIP_MSG_EXPERIMENTAL && buf[2] == MIP_EXP_BINDING_ACK) {
        bu_ba_rx(a, from, buf, len);
        return;
    }
    if (len >= 3 && buf[0] == MIP_MSG_EXPERIMENTAL && buf[2] == MIP_EXP_BINDING_REQUEST) {
        handle_br(a, from, buf, len);
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
    size_t bkt = 0;
    for (struct hnode *n = h ? hmap_iter(&h->by_nai, &bkt, NULL) : NULL; n;
         n = hmap_iter(&h->by_nai, &bkt, n)) {
        struct binding *b = hmap_entry(n, struct mn_state, by_nai)->b;
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
                "\"age_s\":%llu,\"via\":\"%s\",\"session\":",
                hoa, coa, src, b->lifetime,
                (unsigned long long)(b->expires_ms > now ? (b->expires_ms - now + 999) / 1000 : 0),
                b->revtun ? "true" : "false", b->tun,
                (unsigned long long)((now - b->created_ms) / 1000), b->via_aaa ? "aaa" : "udp");
        if (b->mn->session_id)
            ctl_json_str(out, b->mn->session_id);
        else
            fputs("null", out);
        fputc('}', out);
        first = false;
    }
    fputc(']', out);
}
