/*
 * Foreign agent (RFC 5944 §3.7): agent advertisements with a fresh challenge
 * (RFC 3012 §3), relaying of registration requests to the home agent and of
 * the replies back, the visitor list, the host route to each visiting MN, and
 * the reverse tunnel to its HA when asked (RFC 3024).
 *
 * AAA mode (fa.aaa, aaad/FLOWS.md): a request must carry the NAI, our
 * challenge and the MN-AAA authenticator (RFC 3012); it goes to the AAA as an
 * AMR (RFC 4004 §5.1) instead of to the HA.  The AMA brings the HA's reply,
 * the FA's VPN profiles (cached per Session-Id) and the FA-HA key; the FA
 * installs the visitor as in plain mode and relays the reply.  When the
 * visitor ends (deregistration, expiry) the FA sends an STR and drops the
 * cache.  Failures become the codes of FLOWS "Failures" (see ama_code).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ctl.h"
#include "hobuf.h"
#include "l2watch.h"
#include "log.h"
#include "mip_proto.h"
#include "vpn_cache.h"
#include "vpn_cvse.h"
#include "vpn_dp.h"

#define CHAL_LEN 16
#define CHAL_KEEP 4           /* challenges remembered per link */
#define REVTUN_TABLE_BASE 100 /* routing tables of the reverse tunnels, one per HA */
#define REVTUN_RULE_PRIO 1000

struct fa_link {
    const char *ifname;
    int ifindex;
    struct in_addr addr;
    uint16_t seq;
    struct loop_timer adv_timer;
    uint8_t chal[CHAL_KEEP][CHAL_LEN]; /* chal[0] is the newest */
    unsigned n_chal;
    struct agent *agent;
};

/* A request relayed to an HA (or the AAA) and not yet answered. */
struct pending {
    struct hnode node;   /* key: low 32 bits of the identification */
    struct hnode by_id;  /* AAA mode: key aaa_id */
    struct hnode by_nai; /* AAA mode: key hash of the NAI */
    bool aaa;
    uint64_t aaa_id;
    char *session_id;   /* AAA mode: the AMR's */
    struct pkt_addr mn; /* where the MN sent from */
    size_t link;
    struct in_addr hoa, ha;
    uint64_t ident;
    uint8_t nai[MIPD_NAI_MAX];
    size_t nai_len;
    bool revtun;
    struct loop_timer timer;
    struct agent *agent;
    /* AAA mode: the request as received, for a move the AAA authorised
     * without a reply (FLOWS "Intra-domain move" 5); then what the AMA gave,
     * used when the HA's reply comes. */
    uint8_t *req;
    size_t req_len;
    bool relayed;           /* sent straight to the HA, waiting for its reply */
    struct mipd_sa move_sa; /* the AMA's FA-HA MSA */
    struct vpn_profile *move_prof;
    unsigned move_n;
    bool move_has_life;
    uint32_t move_life;
    bool has_prev_fa;
    struct in_addr prev_fa;
    char *origin_realm;
    /* Set up before the request went to the HA (move_preinstall): the
     * session's VPN objects and a host route for move_hoa. */
    bool move_pre;
    struct in_addr move_hoa;
};

struct visitor {
    struct hnode node;   /* key: home address */
    struct hnode by_nai; /* key: hash of the NAI */
    char *session_id;    /* AAA mode: its Diameter session (STR at the end) */
    bool has_fa_ha;      /* AAA mode: FA-HA key from the AMA (RFC 4004 §9.10) */
    struct mipd_sa fa_ha;
    struct in_addr hoa, ha;
    char nai[MIPD_NAI_MAX];
    size_t link;
    uint16_t src_port;
    uint16_t lifetime;
    uint64_t expires_ms;
    bool revtun;
    uint32_t table;
    struct loop_timer timer;
    struct agent *agent;
    /* Old FA after the hand-off BU (seed [0066]): the MN's host route points
     * into the IP-in-IP tunnel to the new FA until the visit's lifetime ends. */
    bool handed_off;
    struct in_addr new_fa;
    char ho_tun[DP_IFNAMSIZ];
    bool held;          /* its host route is held by the hand-off buffer (hobuf.h) */
    uint32_t end_cause; /* STR Termination-Cause when it ends (0: LOGOUT) */
    /* New FA after a move: the receiving end of the old FA's hand-off
     * tunnel (send_handoff_bu), kept while the visitor lives. */
    bool ho_rx;
    struct in_addr ho_rx_from;
};

struct ha_table {
    struct in_addr ha;
    uint32_t table;
};

struct fa_state {
    struct fa_link *links;
    size_t n_links;
    struct hmap pending;
    struct hmap pending_aaa; /* AAA mode: by aaa_id */
    struct hmap pending_nai; /* AAA mode: by NAI */
    uint64_t next_aaa_id;
    struct hmap visitors;
    struct hmap visitors_nai;
    struct ha_table *tables;
    size_t n_tables;
    fa_icmp_tx_fn icmp_tx;
    void *icmp_ctx;
    uint64_t *fa_peer_last; /* last accepted BU identification per fa.fa_peers entry */
    struct hobuf *hb;       /* smooth hand-off: buffer and layer-2 trigger (fa_handoff_start) */
    struct l2watch *l2w;
};

static const struct mipd_peer *find_ha_peer(const struct agent *a, struct in_addr addr)
{
    for (size_t i = 0; i < a->cfg->fa.n_ha_peers; i++)
        if (a->cfg->fa.ha_peers[i].addr.s_addr == addr.s_addr)
            return &a->cfg->fa.ha_peers[i];
    return NULL;
}

static uint32_t table_for_ha(struct fa_state *f, struct in_addr ha)
{
    for (size_t i = 0; i < f->n_tables; i++)
        if (f->tables[i].ha.s_addr == ha.s_addr)
            return f->tables[i].table;
    struct ha_table *n = realloc(f->tables, (f->n_tables + 1) * sizeof(*n));
    if (!n)
        return 0;
    f->tables = n;
    n[f->n_tables].ha = ha;
    n[f->n_tables].table = REVTUN_TABLE_BASE + (uint32_t)f->n_tables;
    return n[f->n_tables++].table;
}

/* ---- advertisements (RFC 5944 §2.1, §2.3) ---- */

static void new_challenge(struct fa_link *L)
{
    memmove(L->chal[1], L->chal[0], (CHAL_KEEP - 1) * CHAL_LEN);
    if (RAND_bytes(L->chal[0], CHAL_LEN) != 1)
        abort(); /* no randomness: a predictable challenge defeats RFC 3012 */
    if (L->n_chal < CHAL_KEEP)
        L->n_chal++;
}

void fa_advertise(struct agent *a, size_t link)
{
    struct fa_state *f = a->fa;
    struct fa_link *L = &f->links[link];
    struct mip_agent_adv adv;
    memset(&adv, 0, sizeof(adv));
    adv.code = 0; /* we also route the visitors' ordinary traffic */
    adv.adv_lifetime = (uint16_t)a->cfg->fa.adv_lifetime;
    adv.n_routers = 1;
    adv.routers[0] = L->addr;
    adv.seq = L->seq;
    /* RFC 5944 §2.1.1: after 0xffff the sequence continues at 256. */
    L->seq = L->seq == 0xffff ? 256 : L->seq + 1;
    adv.reg_lifetime = (uint16_t)a->cfg->fa.max_lifetime;
    adv.flags = MIP_ADV_FLAG_R | MIP_ADV_FLAG_F | (a->cfg->fa.reverse_tunnel ? MIP_ADV_FLAG_T : 0);
    adv.n_coa = 1;
    adv.coa[0] = a->cfg->fa.address;
    if (a->cfg->fa.challenge) {
        new_challenge(L);
        adv.has_challenge = true;
        adv.challenge_len = CHAL_LEN;
        memcpy(adv.challenge, L->chal[0], CHAL_LEN);
    }
    uint8_t buf[256];
    size_t n = mip_put_agent_adv(buf, sizeof(buf), &adv);
    if (!n || !f->icmp_tx || f->icmp_tx(f->icmp_ctx, link, buf, n) < 0) {
        a->cnt.tx_errors++;
        return;
    }
    a->cnt.adv_tx++;
}

static void adv_timer_cb(struct loop *l, void *arg)
{
    struct fa_link *L = arg;
    struct agent *a = L->agent;
    fa_advertise(a, (size_t)(L - a->fa->links));
    /* RFC 5944 §2.3.2: jitter the period so agents do not synchronise. */
    uint32_t iv = a->cfg->fa.adv_interval_ms;
    uint8_t r = 0;
    RAND_bytes(&r, 1);
    uint32_t jitter = iv / 8 ? (uint32_t)r * (iv / 8) / 255 : 0;
    loop_timer_arm(l, &L->adv_timer, iv - iv / 16 + jitter);
}

void fa_solicit_rx(struct agent *a, size_t link, const uint8_t *buf, size_t len)
{
    if (link >= a->fa->n_links || mip_get_agent_solicit(buf, len) != MIP_OK) {
        a->cnt.unknown_rx++;
        return;
    }
    a->cnt.solicit_rx++;
    fa_advertise(a, link); /* RFC 5944 §2.4: answer a solicitation with an advertisement */
}

void fa_set_icmp_tx(struct agent *a, fa_icmp_tx_fn fn, void *ctx)
{
    a->fa->icmp_tx = fn;
    a->fa->icmp_ctx = ctx;
}

void fa_set_link_info(struct agent *a, size_t link, int ifindex, struct in_addr addr)
{
    struct fa_link *L = &a->fa->links[link];
    L->ifindex = ifindex;
    L->addr = addr;
    if (!loop_timer_armed(&L->adv_timer))
        loop_timer_arm(a->loop, &L->adv_timer, 0);
}

int fa_init(struct agent *a)
{
    struct fa_state *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->n_links = a->cfg->fa.n_links;
    f->links = calloc(f->n_links, sizeof(*f->links));
    f->fa_peer_last =
        calloc(a->cfg->fa.n_fa_peers ? a->cfg->fa.n_fa_peers : 1, sizeof(*f->fa_peer_last));
    if (!f->links || !f->fa_peer_last) {
        free(f->links);
        free(f->fa_peer_last);
        free(f);
        return -1;
    }
    for (size_t i = 0; i < f->n_links; i++) {
        f->links[i].ifname = a->cfg->fa.links[i];
        f->links[i].agent = a;
        loop_timer_init(&f->links[i].adv_timer, adv_timer_cb, &f->links[i]);
    }
    hmap_init(&f->pending);
    hmap_init(&f->pending_aaa);
    hmap_init(&f->pending_nai);
    hmap_init(&f->visitors);
    hmap_init(&f->visitors_nai);
    a->fa = f;
    if (a->cfg->fa.aaa.enabled && !a->vpn && !(a->vpn = vpn_cache_new())) {
        fa_fini(a);
        return -1;
    }
    /* Tunnel and QoS control of the cached sessions (seed [0060]-[0062]). */
    char err[VPN_ERR_MAX + 64];
    if (!a->vpn && a->cfg->n_default_sas)
        log_warn("default_sas ignored: plain Mobile IP (no aaa section) carries no VPN");
    if (a->vpn && !a->vdp && agent_vpn_init(a, a->cfg->fa.address, err, sizeof(err)) < 0) {
        log_err("%s", err);
        fa_fini(a);
        return -1;
    }
    dp_sysctl(a->dp, "all", "forwarding", "1");
    return 0;
}

/* ---- replies to the mobile node ---- */

static int tx_to_mn(struct agent *a, const struct pkt_addr *mn, size_t link, const uint8_t *buf,
                    size_t len)
{
    struct pkt_addr to = *mn;
    to.ifindex = a->fa->links[link].ifindex;
    to.local = a->fa->links[link].addr;
    /* RFC 5944 §3.7.2.3 wants link-layer delivery to an MN without an address
     * (its request came from 0.0.0.0, as with a home address from the AAA's
     * pool): we broadcast on its access link, as DHCP servers do; the MN
     * matches the reply by identification. */
    if (to.addr.s_addr == 0)
        to.addr.s_addr = htonl(INADDR_BROADCAST);
    int rc = a->tx(a->tx_ctx, &to, buf, len);
    if (rc < 0)
        a->cnt.tx_errors++;
    else
        a->cnt.rrp_tx++;
    struct mip_reg_reply rp;
    size_t off;
    if (mip_get_reg_reply(buf, len, &rp, &off) == MIP_OK) {
        char nai[MIPD_NAI_MAX] = "-";
        if (rp.ext.has_nai && rp.ext.nai.len < sizeof(nai)) {
            memcpy(nai, rp.ext.nai.ptr, rp.ext.nai.len);
            nai[rp.ext.nai.len] = 0;
        }
        agent_event_ip(a, "tx", "RRP", mn->addr, nai, rp.code);
    }
    return rc;
}

/* The realm of an NAI (after its last '@'), or NULL. */
static const char *nai_realm(const char *nai)
{
    const char *at = strrchr(nai, '@');
    return at && at[1] ? at + 1 : NULL;
}

/* STR for a session that ends here (FLOWS "STR/STA"); the Destination-Realm
 * is the NAI's, else realm. */
static void send_str_realm(struct agent *a, const char *sid, const char *nai, const char *realm,
                           uint32_t cause)
{
    if (!a->aaa || !a->aaa->send_str || !sid)
        return;
    if (nai && nai[0] && nai_realm(nai))
        realm = nai_realm(nai);
    if (a->aaa->send_str(a->aaa_ctx, sid, nai, realm, cause) < 0) {
        a->cnt.aaa_errors++;
        log_warn("cannot send the STR of session %s", sid);
        return;
    }
    a->cnt.str_tx++;
    agent_event(a, "tx", "STR", realm, sid, -1);
}

static void send_str(struct agent *a, const char *sid, const char *nai, uint32_t cause)
{
    send_str_realm(a, sid, nai, NULL, cause);
}

/* A denial the FA itself makes (RFC 5944 §3.7.2): no MN-HA authenticator, since
 * only the HA holds that key; the MN accepts FA denials without it (§3.6.2.1). */
static void fa_deny(struct agent *a, const struct pkt_addr *mn, size_t link, struct in_addr hoa,
                    struct in_addr ha, uint64_t ident, const uint8_t *nai, size_t nai_len,
                    uint8_t code, const char *why)
{
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &hoa, h, sizeof(h));
    log_info("registration of %.*s (%s) denied by the FA: %u %s (%s)", nai_len ? (int)nai_len : 1,
             nai_len ? (const char *)nai : "?", h, code, mip_code_str(code), why);
    uint8_t buf[512];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_reg_reply rp = {
        .code = code, .lifetime = 0, .home_addr = hoa, .home_agent = ha, .identification = ident};
    mip_put_reg_reply(&w, &rp);
    if (nai_len)
        mip_put_nai(&w, nai, nai_len);
    a->cnt.rrq_denied++;
    a->cnt.denied_by_code[code]++;
    if (!w.err)
        tx_to_mn(a, mn, link, buf, w.len);
}

/* ---- visitors ---- */

static struct visitor *find_visitor(struct fa_state *f, struct in_addr hoa)
{
    struct hnode *n = hmap_first(&f->visitors, hoa.s_addr);
    return n ? hmap_entry(n, struct visitor, node) : NULL;
}

static struct visitor *find_visitor_nai(struct fa_state *f, const char *nai)
{
    for (struct hnode *n = hmap_first(&f->visitors_nai, hmap_hash_str(nai)); n;
         n = hmap_next_same(n)) {
        struct visitor *v = hmap_entry(n, struct visitor, by_nai);
        if (!strcmp(v->nai, nai))
            return v;
    }
    return NULL;
}

static void visitor_set_nai(struct fa_state *f, struct visitor *v, const uint8_t *nai, size_t len)
{
    if (v->nai[0])
        hmap_remove(&f->visitors_nai, &v->by_nai);
    size_t n = len < sizeof(v->nai) - 1 ? len : sizeof(v->nai) - 1;
    memcpy(v->nai, nai, n);
    v->nai[n] = 0;
    if (v->nai[0])
        hmap_insert(&f->visitors_nai, &v->by_nai, hmap_hash_str(v->nai));
}

static void visitor_unprogram_revtun(struct agent *a, struct visitor *v)
{
    struct in_addr any = {0};
    char tun[DP_IFNAMSIZ];
    snprintf(tun, sizeof(tun), "mip%08x", ntohl(v->ha.s_addr));
    if (dp_rule_put(a->dp, v->hoa, 32, a->fa->links[v->link].ifname, v->table, REVTUN_RULE_PRIO) <
        0)
        a->cnt.kernel_errors++;
    if (dp_route_put(a->dp, any, 0, tun, any, v->table) < 0)
        a->cnt.kernel_errors++;
    if (dp_tunnel_put(a->dp, a->cfg->fa.address, v->ha) < 0)
        a->cnt.kernel_errors++;
    v->revtun = false;
}

/* Reverse tunnel (RFC 3024 §5.2): packets from the home address arriving on
 * the access link are routed by a source rule into a table whose default
 * route is the IP-in-IP tunnel to the HA. */
static int visitor_program_revtun(struct agent *a, struct visitor *v)
{
    struct in_addr any = {0};
    char tun[DP_IFNAMSIZ];
    v->table = table_for_ha(a->fa, v->ha);
    if (!v->table)
        return -12;
    int rc = dp_tunnel_get(a->dp, a->cfg->fa.address, v->ha, tun);
    if (rc < 0)
        return rc;
    rc = dp_route_get(a->dp, any, 0, tun, any, v->table);
    if (rc < 0) {
        dp_tunnel_put(a->dp, a->cfg->fa.address, v->ha);
        return rc;
    }
    rc = dp_rule_get(a->dp, v->hoa, 32, a->fa->links[v->link].ifname, v->table, REVTUN_RULE_PRIO);
    if (rc < 0) {
        dp_route_put(a->dp, any, 0, tun, any, v->table);
        dp_tunnel_put(a->dp, a->cfg->fa.address, v->ha);
        return rc;
    }
    v->revtun = true;
    return 0;
}

/* Removes a visitor and its kernel state.  end_session: the visit is over
 * (deregistration, expiry, shutdown), so its AAA session ends too (STR) and
 * its VPN information goes; not when it merely moves between our links. */
static void visitor_free(struct agent *a, struct visitor *v, bool end_session)
{
    struct in_addr any = {0};
    if (v->revtun)
        visitor_unprogram_revtun(a, v);
    if (a->fa->l2w)
        l2watch_untrack(a->fa->l2w, v->hoa);
    if (v->held) {
        /* The buffer holds the route and the packets: both go. */
        if (hobuf_drop(a->fa->hb, v->hoa, NULL) < 0)
            a->cnt.kernel_errors++;
        v->held = false;
    } else if (v->handed_off) {
        if (dp_route_put(a->dp, v->hoa, 32, v->ho_tun, any, 0) < 0 ||
            dp_tunnel_put(a->dp, a->cfg->fa.address, v->new_fa) < 0)
            a->cnt.kernel_errors++;
        a->cnt.handoff_ended++;
    } else if (dp_route_put(a->dp, v->hoa, 32, a->fa->links[v->link].ifname, any, 0) < 0) {
        a->cnt.kernel_errors++;
    }
    if (v->ho_rx && dp_tunnel_put(a->dp, a->cfg->fa.address, v->ho_rx_from) < 0)
        a->cnt.kernel_errors++;
    v->ho_rx = false;
    loop_timer_cancel(a->loop, &v->timer);
    hmap_remove(&a->fa->visitors, &v->node);
    if (v->nai[0])
        hmap_remove(&a->fa->visitors_nai, &v->by_nai);
    if (v->session_id && end_session) {
        agent_vpn_remove(a, v->session_id);
        if (a->vpn)
            vpn_cache_remove_id(a->vpn, v->session_id);
        send_str(a, v->session_id, v->nai,
                 v->handed_off  ? AAA_TC_USER_MOVED
                 : v->end_cause ? v->end_cause
                                : AAA_TC_LOGOUT);
    }
    free(v->session_id);
    OPENSSL_cleanse(&v->fa_ha, sizeof(v->fa_ha));
    free(v);
}

static void visitor_expired(struct loop *l, void *arg)
{
    (void)l;
    struct visitor *v = arg;
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &v->hoa, h, sizeof(h));
    log_info("visitor %s (%s) expired", v->nai, h);
    v->agent->cnt.expirations++;
    v->end_cause = AAA_TC_SESSION_TIMEOUT;
    visitor_free(v->agent, v, true);
}

/* Creates or refreshes the visitor entry for an accepted registration. */
static int visitor_update(struct agent *a, const struct pending *p, struct in_addr hoa,
                          uint16_t lifetime)
{
    struct fa_state *f = a->fa;
    struct in_addr any = {0};
    struct visitor *v = find_visitor(f, hoa);
    bool created = false;
    char *keep_sid = NULL;
    if (v && v->held && v->link == p->link) {
        /* Back on the same link before any BU: the route comes back to it,
         * the buffered packets follow it (hobuf.h). */
        struct hobuf_stats st;
        if (hobuf_flush(f->hb, hoa, f->links[p->link].ifname, any, &st) < 0)
            a->cnt.kernel_errors++;
        else
            v->held = false;
    }
    if (v && (v->link != p->link || v->handed_off || v->held)) {
        /* Moved between our own access links, or back here after a hand-off:
         * the same visit. */
        keep_sid = v->session_id;
        v->session_id = NULL;
        visitor_free(a, v, false);
        v = NULL;
    }
    if (!v) {
        v = calloc(1, sizeof(*v));
        if (!v)
            return -12;
        v->hoa = hoa;
        v->ha = p->ha;
        v->link = p->link;
        v->agent = a;
        loop_timer_init(&v->timer, visitor_expired, v);
        v->session_id = keep_sid;
        int rc = dp_route_get(a->dp, hoa, 32, f->links[p->link].ifname, any, 0);
        if (rc < 0) {
            if (v->session_id) {
                send_str(a, v->session_id, NULL, AAA_TC_ADMINISTRATIVE);
                free(v->session_id);
            }
            free(v);
            return rc;
        }
        hmap_insert(&f->visitors, &v->node, hoa.s_addr);
        created = true;
        if (f->l2w && l2watch_track(f->l2w, hoa, f->links[p->link].ifindex, NULL) < 0)
            log_warn("cannot watch the access link for %s", inet_ntoa(hoa));
    }
    if (v->revtun && (!p->revtun || v->ha.s_addr != p->ha.s_addr))
        visitor_unprogram_revtun(a, v);
    v->ha = p->ha;
    if (p->revtun && !v->revtun) {
        int rc = visitor_program_revtun(a, v);
        if (rc < 0) {
            if (created)
                visitor_free(a, v, true);
            return rc;
        }
    }
    if (strlen(v->nai) != p->nai_len || memcmp(v->nai, p->nai, p->nai_len))
        visitor_set_nai(f, v, p->nai, p->nai_len);
    v->src_port = p->mn.port;
    v->lifetime = lifetime;
    v->expires_ms = loop_now_ms(a->loop) + (uint64_t)lifetime * 1000u;
    loop_timer_arm_at(a->loop, &v->timer, v->expires_ms);
    return 0;
}

/* ---- relaying ---- */

static void move_preinstall_undo(struct agent *a, struct pending *p, bool keep_vpn);

static void pending_free(struct agent *a, struct pending *p)
{
    move_preinstall_undo(a, p, false);
    loop_timer_cancel(a->loop, &p->timer);
    hmap_remove(&a->fa->pending, &p->node);
    if (p->aaa) {
        hmap_remove(&a->fa->pending_aaa, &p->by_id);
        hmap_remove(&a->fa->pending_nai, &p->by_nai);
    }
    free(p->session_id);
    free(p->req);
    free(p->origin_realm);
    if (p->move_prof) {
        for (unsigned i = 0; i < p->move_n; i++)
            vpn_profile_clear(&p->move_prof[i]);
        free(p->move_prof);
    }
    OPENSSL_cleanse(&p->move_sa, sizeof(p->move_sa));
    free(p);
}

static void pending_timeout(struct loop *l, void *arg)
{
    (void)l;
    struct pending *p = arg;
    struct agent *a = p->agent;
    a->cnt.reg_timeouts++;
    if (p->aaa && !p->relayed)
        a->cnt.aaa_timeouts++;
    fa_deny(a, &p->mn, p->link, p->hoa, p->ha, p->ident, p->nai, p->nai_len,
            MIP_CODE_FA_REG_TIMEOUT,
            p->aaa && !p->relayed ? "no answer from the AAA before the timeout"
                                  : "no reply from the home agent");
    if (p->relayed && p->session_id) {
        /* FLOWS "Intra-domain move" 6: the move did not complete at the HA. */
        a->cnt.moves_refused++;
        char nb[MIPD_NAI_MAX];
        size_t n = p->nai_len < sizeof(nb) ? p->nai_len : sizeof(nb) - 1;
        memcpy(nb, p->nai, n);
        nb[n] = 0;
        send_str_realm(a, p->session_id, nb, p->origin_realm, AAA_TC_BAD_ANSWER);
    }
    pending_free(a, p);
}

static struct pending *find_pending(struct fa_state *f, uint64_t ident)
{
    for (struct hnode *n = hmap_first(&f->pending, (uint32_t)ident); n; n = hmap_next_same(n)) {
        struct pending *p = hmap_entry(n, struct pending, node);
        if ((uint32_t)p->ident == (uint32_t)ident)
            return p;
    }
    return NULL;
}

static bool link_of_ifindex(const struct fa_state *f, int ifindex, size_t *link)
{
    for (size_t i = 0; i < f->n_links; i++)
        if (f->links[i].ifindex == ifindex && ifindex > 0) {
            *link = i;
            return true;
        }
    return false;
}

/* RFC 3012 §3.2: the challenge must be one we advertised recently. */
static uint8_t check_challenge(const struct fa_link *L, const struct mip_reg_request *rq,
                               const char **why)
{
    if (!rq->ext.has_challenge) {
        *why = "no MN-FA challenge";
        return MIP_CODE_FA_MISSING_CHALLENGE;
    }
    for (unsigned i = 0; i < L->n_chal; i++) {
        if (rq->ext.challenge.len == CHAL_LEN &&
            !CRYPTO_memcmp(rq->ext.challenge.ptr, L->chal[i], CHAL_LEN)) {
            if (i < 2)
                return 0; /* the current one, or the previous in flight */
            *why = "challenge from an older advertisement";
            return MIP_CODE_FA_STALE_CHALLENGE;
        }
    }
    *why = "challenge not issued by this agent";
    return MIP_CODE_FA_UNKNOWN_CHALLENGE;
}

/* Creates the pending entry of a request (NULL: out of memory, denied). */
static struct pending *pending_new(struct agent *a, const struct pkt_addr *from, size_t link,
                                   const struct mip_reg_request *rq)
{
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->mn = *from;
    p->link = link;
    p->hoa = rq->home_addr;
    p->ha = rq->home_agent;
    p->ident = rq->identification;
    p->revtun = rq->flags & MIP_RRQ_FLAG_T;
    size_t nai_len = rq->ext.has_nai ? rq->ext.nai.len : 0;
    p->nai_len = nai_len < sizeof(p->nai) ? nai_len : sizeof(p->nai);
    if (nai_len)
        memcpy(p->nai, rq->ext.nai.ptr, p->nai_len);
    p->agent = a;
    loop_timer_init(&p->timer, pending_timeout, p);
    return p;
}

/* AAA mode: the request goes to the AAA in an AMR (RFC 4004 §5.1, FLOWS). */
static void aaa_relay(struct agent *a, const struct pkt_addr *from, size_t link, const uint8_t *buf,
                      size_t len, const struct mip_reg_request *rq, const char *nai)
{
    struct fa_state *f = a->fa;
    struct pending *p = pending_new(a, from, link, rq);
    if (!p) {
        fa_deny(a, from, link, rq->home_addr, rq->home_agent, rq->identification,
                (const uint8_t *)nai, strlen(nai), MIP_CODE_FA_INSUFFICIENT_RESOURCES,
                "out of memory");
        return;
    }
    p->aaa = true;
    p->aaa_id = ++f->next_aaa_id;
    /* A re-registration stays in its visitor's session. */
    const struct visitor *v = find_visitor_nai(f, nai);
    struct aaa_amr amr = {
        .id = p->aaa_id,
        .session_id = v ? v->session_id : NULL,
        .nai = nai,
        .realm = nai_realm(nai),
        .reg_req = buf,
        .reg_req_len = len,
        .mn_aaa_spi = rq->ext.mn_aaa.spi,
        .auth_input_len = (uint32_t)rq->ext.mn_aaa.covered_len,
        .authenticator_len = (uint32_t)rq->ext.mn_aaa.authenticator.len,
        .authenticator_off = (uint32_t)(rq->ext.mn_aaa.authenticator.ptr - buf),
        .challenge = rq->ext.challenge.ptr,
        .challenge_len = rq->ext.challenge.len,
        /* RFC 4004 §7.5: keys for the MN-HA and FA-HA SAs; a home address
         * from the home network when the MN asks for 0.0.0.0. */
        .feature_vector = AAA_FV_MN_HA_KEY_REQUEST | AAA_FV_FA_HA_KEY_REQUEST |
                          (rq->home_addr.s_addr ? 0 : AAA_FV_MN_HOME_ADDRESS_REQUESTED),
        .hoa = rq->home_addr,
        .ha = rq->home_agent,
        .timeout_ms = a->cfg->fa.aaa.timeout_ms,
        .has_prev_fa = rq->ext.has_prev_fa,
        .prev_fa = rq->ext.prev_fa,
        .service_update = rq->ext.has_service_update ? rq->ext.service_update : 0,
    };
    p->req = malloc(len);
    if (!p->req) {
        fa_deny(a, from, link, rq->home_addr, rq->home_agent, rq->identification,
                (const uint8_t *)nai, strlen(nai), MIP_CODE_FA_INSUFFICIENT_RESOURCES,
                "out of memory");
        free(p);
        return;
    }
    memcpy(p->req, buf, len);
    p->req_len = len;
    char sid[VPN_SESSION_ID_MAX + 1] = "";
    int rc = a->aaa->send_amr(a->aaa_ctx, &amr, sid, sizeof(sid));
    if (rc < 0) {
        a->cnt.aaa_errors++;
        fa_deny(a, from, link, rq->home_addr, rq->home_agent, rq->identification,
                (const uint8_t *)nai, strlen(nai), MIP_CODE_FA_HOME_NET_UNREACHABLE,
                "cannot send the AMR to the AAA");
        free(p->req);
        free(p);
        return;
    }
    p->session_id = sid[0] ? strdup(sid) : NULL;
    a->cnt.amr_tx++;
    agent_event(a, "tx", "AMR", amr.realm, sid, -1);
    hmap_insert(&f->pending, &p->node, (uint32_t)rq->identification);
    hmap_insert(&f->pending_aaa, &p->by_id, p->aaa_id);
    hmap_insert(&f->pending_nai, &p->by_nai, hmap_hash_str(nai));
    /* Our own guard: an answer after it is too late for the MN (code 78). */
    loop_timer_arm(a->loop, &p->timer, a->cfg->fa.aaa.timeout_ms);
    a->cnt.rrq_relayed++;
}

/* AAA-mode checks of a request (FLOWS "Agents in AAA mode"): the NAI, our
 * challenge and the MN-AAA authenticator are required (RFC 3012 §3, §6). */
static void aaa_rrq(struct agent *a, const struct pkt_addr *from, size_t link, const uint8_t *buf,
                    size_t len, const struct mip_reg_request *rq0)
{
    /* FLOWS "The MN's extensions": previous-FA CVSE, service-update NVSE. */
    struct mip_reg_request r = *rq0;
    const struct mip_reg_request *rq = &r;
    size_t voff = 0;
    enum mip_err verr = mip_get_vendor_exts(buf, len, a->cfg->vendor_id, &r.ext, &voff);
    struct fa_state *f = a->fa;
    const uint8_t *nai = rq->ext.has_nai ? rq->ext.nai.ptr : NULL;
    size_t nai_len = rq->ext.has_nai ? rq->ext.nai.len : 0;
    char nai_s[MIPD_NAI_MAX];
#define DENY(code, why)                                                                            \
    do {                                                                                           \
        fa_deny(a, from, link, rq->home_addr, rq->home_agent, rq->identification, nai, nai_len,    \
                (code), (why));                                                                    \
        return;                                                                                    \
    } while (0)
    if (!nai)
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "no NAI: the AAA needs it (RFC 2794)");
    if (nai_len >= sizeof(nai_s) || memchr(nai, 0, nai_len))
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "NAI too long or not text");
    memcpy(nai_s, nai, nai_len);
    nai_s[nai_len] = 0;
    if (verr) {
        a->cnt.rrq_malformed++;
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, mip_err_str(verr));
    }
    if (!nai_realm(nai_s))
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "NAI without a realm: no AAA to ask");
    if (rq->lifetime > a->cfg->fa.max_lifetime)
        DENY(MIP_CODE_FA_LIFETIME_TOO_LONG, "lifetime above the advertised maximum");
    const char *why = NULL;
    uint8_t code = check_challenge(&f->links[link], rq, &why);
    if (code)
        DENY(code, why);
    if (!rq->ext.mn_aaa.present)
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "no MN-AAA authentication extension (RFC 3012)");
    if (rq->care_of_addr.s_addr != a->cfg->fa.address.s_addr && rq->lifetime != 0)
        DENY(MIP_CODE_FA_INVALID_COA, "care-of address is not ours");
    if (rq->flags & (MIP_RRQ_FLAG_M | MIP_RRQ_FLAG_G))
        DENY(MIP_CODE_FA_ENCAP_UNAVAILABLE, "only IP-in-IP encapsulation is offered");
    if ((rq->flags & MIP_RRQ_FLAG_T) && !a->cfg->fa.reverse_tunnel)
        DENY(MIP_CODE_FA_REVTUN_UNAVAILABLE, "reverse tunnelling is disabled");
    if (rq->ext.encap_delivery && !(rq->flags & MIP_RRQ_FLAG_T))
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "encapsulating delivery without the T bit");
#undef DENY
    /* One AMR per MN at a time: a retransmission (new identification) while
     * the AAA works on the first would start a second registration that
     * supersedes it at the HA; the MN accepts the reply to any of its
     * transmissions (RFC 5944 §3.6.3), so it is dropped here. */
    for (struct hnode *n = hmap_first(&f->pending_nai, hmap_hash_str(nai_s)); n;
         n = hmap_next_same(n)) {
        struct pending *q = hmap_entry(n, struct pending, by_nai);
        if (q->nai_len == nai_len && !memcmp(q->nai, nai, nai_len)) {
            a->cnt.rrq_in_progress++;
            log_dbg("%s: a registration is in progress at the AAA; retransmission dropped", nai_s);
            return;
        }
    }
    aaa_relay(a, from, link, buf, len, rq, nai_s);
}

static void handle_rrq(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    struct fa_state *f = a->fa;
    size_t link;
    a->cnt.rrq_rx++;
    if (!link_of_ifindex(f, from->ifindex, &link)) {
        a->cnt.unknown_rx++;
        log_dbg("registration request from %s not on an access link: ignored",
                inet_ntoa(from->addr));
        return;
    }
    struct mip_reg_request rq;
    size_t off;
    enum mip_err err = mip_get_reg_request(buf, len, &rq, &off);
    if (err) {
        a->cnt.rrq_malformed++;
        if (len < 24)
            return;
        struct in_addr hoa, ha;
        memcpy(&hoa, buf + 4, 4);
        memcpy(&ha, buf + 8, 4);
        uint64_t id = 0;
        for (int i = 0; i < 8; i++)
            id = id << 8 | buf[16 + i];
        fa_deny(a, from, link, hoa, ha, id, NULL, 0, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                mip_err_str(err));
        return;
    }
    const uint8_t *nai = rq.ext.has_nai ? rq.ext.nai.ptr : NULL;
    size_t nai_len = rq.ext.has_nai ? rq.ext.nai.len : 0;
    {
        char ev[MIPD_NAI_MAX] = "-";
        if (nai && nai_len < sizeof(ev)) {
            memcpy(ev, nai, nai_len);
            ev[nai_len] = 0;
        }
        agent_event_ip(a, "rx", "RRQ", from->addr, ev, -1);
    }
    if (a->aaa) {
        aaa_rrq(a, from, link, buf, len, &rq);
        return;
    }
#define DENY(code, why)                                                                            \
    do {                                                                                           \
        fa_deny(a, from, link, rq.home_addr, rq.home_agent, rq.identification, nai, nai_len,       \
                (code), (why));                                                                    \
        return;                                                                                    \
    } while (0)
    if (!rq.ext.mn_ha.present)
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "no MN-HA authentication extension");
    if (rq.home_addr.s_addr == 0 && !rq.ext.has_nai)
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "home address 0 without an NAI");
    if (rq.lifetime > a->cfg->fa.max_lifetime)
        DENY(MIP_CODE_FA_LIFETIME_TOO_LONG, "lifetime above the advertised maximum");
    if (a->cfg->fa.challenge) {
        const char *why = NULL;
        uint8_t code = check_challenge(&f->links[link], &rq, &why);
        if (code)
            DENY(code, why);
    }
    if (rq.care_of_addr.s_addr != a->cfg->fa.address.s_addr && rq.lifetime != 0)
        DENY(MIP_CODE_FA_INVALID_COA, "care-of address is not ours");
    if (rq.flags & (MIP_RRQ_FLAG_M | MIP_RRQ_FLAG_G))
        DENY(MIP_CODE_FA_ENCAP_UNAVAILABLE, "only IP-in-IP encapsulation is offered");
    if ((rq.flags & MIP_RRQ_FLAG_T) && !a->cfg->fa.reverse_tunnel)
        DENY(MIP_CODE_FA_REVTUN_UNAVAILABLE, "reverse tunnelling is disabled");
    if (rq.ext.encap_delivery && !(rq.flags & MIP_RRQ_FLAG_T))
        DENY(MIP_CODE_FA_POORLY_FORMED_REQUEST, "encapsulating delivery without the T bit");
#undef DENY
    if (find_pending(f, rq.identification)) {
        a->cnt.rrq_malformed++; /* a retransmission in flight: the HA will answer once */
        return;
    }
    /* RFC 5944 §3.7.2.2: relay everything up to and including the MN-HA
     * authenticator; what follows was meant for us.  Then our FA-HA auth. */
    size_t end = (size_t)(rq.ext.mn_ha.authenticator.ptr - buf) + rq.ext.mn_ha.authenticator.len;
    uint8_t out[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, out, sizeof(out));
    if (end > sizeof(out))
        return;
    memcpy(out, buf, end);
    w.len = end;
    const struct mipd_peer *peer = find_ha_peer(a, rq.home_agent);
    if (peer)
        mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, peer->sa.spi, peer->sa.key, peer->sa.keylen);
    if (w.err)
        return;
    struct pending *p = pending_new(a, from, link, &rq);
    if (!p) {
        fa_deny(a, from, link, rq.home_addr, rq.home_agent, rq.identification, nai, nai_len,
                MIP_CODE_FA_INSUFFICIENT_RESOURCES, "out of memory");
        return;
    }
    struct pkt_addr to = {.addr = rq.home_agent, .port = MIP_UDP_PORT, .local = a->cfg->fa.address};
    if (a->tx(a->tx_ctx, &to, out, w.len) < 0) {
        a->cnt.tx_errors++;
        fa_deny(a, from, link, rq.home_addr, rq.home_agent, rq.identification, nai, nai_len,
                MIP_CODE_FA_HA_HOST_UNREACHABLE, "cannot send to the home agent");
        free(p);
        return;
    }
    hmap_insert(&f->pending, &p->node, (uint32_t)rq.identification);
    loop_timer_arm(a->loop, &p->timer, a->cfg->fa.reg_timeout_ms);
    a->cnt.rrq_relayed++;
    char ev[MIPD_NAI_MAX] = "-";
    if (nai && nai_len < sizeof(ev)) {
        memcpy(ev, nai, nai_len);
        ev[nai_len] = 0;
    }
    agent_event_ip(a, "tx", "RRQ", rq.home_agent, ev, -1);
}

static void move_reply(struct agent *a, struct pending *p, const uint8_t *buf, size_t len,
                       const struct mip_reg_reply *rp);
static void send_handoff_bu(struct agent *a, const struct pending *p, struct in_addr prev_fa,
                            const struct vpn_profile *prof, unsigned n, struct in_addr hoa,
                            uint16_t lifetime);

static void handle_rrp(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    struct fa_state *f = a->fa;
    a->cnt.rrp_rx++;
    struct mip_reg_reply rp;
    size_t off;
    enum mip_err err = mip_get_reg_reply(buf, len, &rp, &off);
    if (err) {
        a->cnt.rrp_malformed++;
        if (len < 20)
            return;
        uint64_t id = 0;
        for (int i = 0; i < 8; i++)
            id = id << 8 | buf[12 + i];
        struct pending *p = find_pending(f, id);
        if (!p)
            return;
        /* RFC 5944 §3.7.3.1: a reply we cannot parse becomes code 71. */
        fa_deny(a, &p->mn, p->link, p->hoa, p->ha, p->ident, p->nai, p->nai_len,
                MIP_CODE_FA_POORLY_FORMED_REPLY, mip_err_str(err));
        pending_free(a, p);
        return;
    }
    {
        char ev[MIPD_NAI_MAX] = "-";
        if (rp.ext.has_nai && rp.ext.nai.len < sizeof(ev)) {
            memcpy(ev, rp.ext.nai.ptr, rp.ext.nai.len);
            ev[rp.ext.nai.len] = 0;
        }
        agent_event_ip(a, "rx", "RRP", from->addr, ev, rp.code);
    }
    struct pending *p = find_pending(f, rp.identification);
    if (p && p->relayed && p->ha.s_addr == from->addr.s_addr &&
        (!p->hoa.s_addr || p->hoa.s_addr == rp.home_addr.s_addr)) {
        move_reply(a, p, buf, len, &rp);
        return;
    }
    if (!p || p->aaa || p->ha.s_addr != from->addr.s_addr ||
        (p->hoa.s_addr && p->hoa.s_addr != rp.home_addr.s_addr)) {
        a->cnt.rrp_unmatched++;
        log_dbg("unmatched registration reply from %s", inet_ntoa(from->addr));
        return;
    }
    const struct mipd_peer *peer = find_ha_peer(a, from->addr);
    if (peer && (!rp.ext.fa_ha.present || rp.ext.fa_ha.spi != peer->sa.spi ||
                 !mip_verify_auth_hmac_md5(buf, &rp.ext.fa_ha, peer->sa.key, peer->sa.keylen))) {
        a->cnt.rrq_auth_failed++;
        fa_deny(a, &p->mn, p->link, p->hoa, p->ha, p->ident, p->nai, p->nai_len,
                MIP_CODE_FA_HA_AUTH_FAILED, "bad FA-HA authenticator in the reply");
        pending_free(a, p);
        return;
    }
    if (rp.code <= MIP_CODE_ACCEPTED_NO_SIMUL) {
        struct visitor *v = find_visitor(f, rp.home_addr);
        if (rp.lifetime == 0) {
            if (v) {
                visitor_free(a, v, true);
                a->cnt.deregistrations++;
            }
        } else {
            int rc = visitor_update(a, p, rp.home_addr, rp.lifetime);
            if (rc < 0) {
                a->cnt.kernel_errors++;
                fa_deny(a, &p->mn, p->link, p->hoa, p->ha, p->ident, p->nai, p->nai_len,
                        MIP_CODE_FA_INSUFFICIENT_RESOURCES, "kernel refused the visitor's route");
                pending_free(a, p);
                return;
            }
        }
        a->cnt.rrq_accepted++;
        char h[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &rp.home_addr, h, sizeof(h));
        log_info("%.*s (%s) %s, lifetime %u", (int)p->nai_len, (const char *)p->nai, h,
                 rp.lifetime ? "accepted by its HA" : "deregistered", rp.lifetime);
    } else {
        a->cnt.rrq_denied++;
        a->cnt.denied_by_code[rp.code]++;
    }
    /* Relay the reply without our FA-HA authenticator (RFC 5944 §3.7.3.2). */
    size_t end = len;
    if (rp.ext.fa_ha.present)
        end = rp.ext.fa_ha.offset;
    tx_to_mn(a, &p->mn, p->link, buf, end);
    pending_free(a, p);
}

/* ---- AAA answers ---- */

/* FLOWS "Failures": the code the MN gets when the AMA carries no reply. */
static uint8_t ama_code(uint32_t rc, const char **why)
{
    switch (rc) {
    case AAA_RC_UNABLE_TO_DELIVER:
    case AAA_RC_REALM_NOT_SERVED:
        *why = "the home AAA cannot be reached (Diameter %u)";
        return MIP_CODE_FA_HOME_NET_UNREACHABLE;
    case AAA_RC_AUTHENTICATION_REJECTED:
        *why = "the AAA rejected the MN's authentication (Diameter %u)";
        return MIP_CODE_FA_MN_AUTH_FAILED;
    case AAA_RC_HA_NOT_AVAILABLE:
        *why = "the home agent is not available (Diameter %u)";
        return MIP_CODE_FA_HA_HOST_UNREACHABLE;
    case AAA_RC_INVALID_AVP_VALUE:
    case AAA_RC_MISSING_AVP:
        *why = "the AAA found the request malformed (Diameter %u)";
        return MIP_CODE_FA_POORLY_FORMED_REQUEST;
    case AAA_RC_AUTHORIZATION_REJECTED:
        *why = "the AAA did not authorise the registration (Diameter %u)";
        return MIP_CODE_FA_ADMIN_PROHIBITED;
    case AAA_RC_UNABLE_TO_COMPLY:
    case AAA_RC_TOO_BUSY:
        *why = "the AAA could not serve the request (Diameter %u)";
        return MIP_CODE_FA_INSUFFICIENT_RESOURCES;
    default:
        *why = "the AAA refused without a reply (Diameter %u)";
        return MIP_CODE_FA_UNSPECIFIED;
    }
}

static const char *pnai(const struct pending *p, char buf[MIPD_NAI_MAX])
{
    size_t n = p->nai_len < MIPD_NAI_MAX ? p->nai_len : MIPD_NAI_MAX - 1;
    memcpy(buf, p->nai, n);
    buf[n] = 0;
    return buf;
}

static void pending_deny(struct agent *a, struct pending *p, uint8_t code, const char *why)
{
    fa_deny(a, &p->mn, p->link, p->hoa, p->ha, p->ident, p->nai, p->nai_len, code, why);
}

/* Seed [0054], [0058], [0060]-[0062]: the FA's VPN information for session
 * sid, its tunnels and marks first (delete-then-set), then the cache.  On a
 * failure the session's previous objects are back, the cache unchanged, and
 * *code / *why say what to deny with. */
static int fa_vpn_set(struct agent *a, const char *sid, const char *nai, struct in_addr hoa,
                      const struct aaa_ama *ama, uint32_t life, uint8_t *code, const char **why)
{
    static char vwhy[VPN_ERR_MAX + 96];
    /* The Diameter profile AVP has no leg (dict/vpn_avp.h): the FA's profiles
     * are fa-pcn towards a dynamic gateway, else fa-ha (vpncache/README.md). */
    struct vpn_profile *prof = calloc(ama->n_profiles ? ama->n_profiles : 1, sizeof(*prof));
    if (!prof) {
        *code = MIP_CODE_FA_INSUFFICIENT_RESOURCES;
        *why = "out of memory";
        return -ENOMEM;
    }
    for (unsigned i = 0; i < ama->n_profiles; i++) {
        prof[i] = ama->profiles[i];
        prof[i].nai = NULL;
        prof[i].leg = prof[i].gw_type == VPN_GW_DYNAMIC ? VPN_LEG_FA_PCN : VPN_LEG_FA_HA;
    }
    int rc = agent_vpn_set(a, sid, hoa, prof, ama->n_profiles, vwhy, sizeof(vwhy));
    if (rc < 0) {
        agent_vpn_restore(a, sid);
        /* Profiles that do not fit this FA make the AAA's answer unusable
         * (RFC 5944 §3.7.3.1, 71); anything else is our lack (66). */
        *code =
            rc == -EINVAL ? MIP_CODE_FA_POORLY_FORMED_REPLY : MIP_CODE_FA_INSUFFICIENT_RESOURCES;
        *why = vwhy;
    } else if (!vpn_cache_set(a->vpn, sid, nai, hoa, a->cfg->fa.address, prof, ama->n_profiles,
                              life, agent_now_s(a), vwhy, sizeof(vwhy))) {
        a->cnt.vpn_cache_errors++;
        log_warn("VPN information of %s (session %s) not cached: %s", nai, sid, vwhy);
        agent_vpn_restore(a, sid);
        *code = MIP_CODE_FA_INSUFFICIENT_RESOURCES;
        *why = vwhy;
        rc = -ENOMEM;
    }
    OPENSSL_cleanse(prof, (ama->n_profiles ? ama->n_profiles : 1) * sizeof(*prof));
    free(prof);
    return rc;
}

/* An accepted AMA: visitor, VPN information, FA-HA key (FLOWS "FA").  On a
 * failure *code / *why say what to deny with and *keep_session whether the
 * session goes on (a re-registration of a visitor that keeps its state). */
static int aaa_accept(struct agent *a, struct pending *p, const struct mip_reg_reply *rp,
                      const struct aaa_ama *ama, const char *sid, uint8_t *code, const char **why,
                      bool *keep_session)
{
    struct fa_state *f = a->fa;
    char nai[MIPD_NAI_MAX];
    memcpy(nai, p->nai, p->nai_len < sizeof(nai) ? p->nai_len : sizeof(nai) - 1);
    nai[p->nai_len < sizeof(nai) ? p->nai_len : sizeof(nai) - 1] = 0;
    *keep_session = false;
    *code = MIP_CODE_FA_INSUFFICIENT_RESOURCES;
    *why = "kernel refused the visitor's route";
    if (rp->lifetime == 0) {
        struct visitor *v = find_visitor(f, rp->home_addr);
        if (!v)
            v = find_visitor_nai(f, nai);
        if (v) {
            a->cnt.deregistrations++;
            bool same = v->session_id && !strcmp(v->session_id, sid);
            visitor_free(a, v, true);
            if (same)
                return 0;
        }
        send_str(a, sid, nai, AAA_TC_LOGOUT); /* the session of this request ends as well */
        agent_vpn_remove(a, sid);
        if (a->vpn)
            vpn_cache_remove_id(a->vpn, sid);
        return 0;
    }
    /* The MN may not have known its HA (RFC 4004 §1): the reply names it. */
    p->ha = rp->home_agent;
    int rc = visitor_update(a, p, rp->home_addr, rp->lifetime);
    if (rc < 0) {
        a->cnt.kernel_errors++;
        return rc;
    }
    struct visitor *v = find_visitor(f, rp->home_addr);
    if (!v)
        return -ENOENT;
    if (v->session_id && strcmp(v->session_id, sid)) {
        /* A new session replaces the visitor's old one at the AAA; its
         * objects go first (the new ones select the same traffic). */
        agent_vpn_remove(a, v->session_id);
        if (a->vpn)
            vpn_cache_remove_id(a->vpn, v->session_id);
        send_str(a, v->session_id, v->nai, AAA_TC_LOGOUT);
        free(v->session_id);
        v->session_id = NULL;
    }
    uint32_t life =
        ama->has_lifetime && ama->lifetime < rp->lifetime ? ama->lifetime : rp->lifetime;
    rc = fa_vpn_set(a, sid, nai, rp->home_addr, ama, life, code, why);
    if (rc < 0) {
        if (v->session_id)
            *keep_session = true; /* a re-registration: the visit goes on as it was */
        else
            visitor_free(a, v, false); /* the caller ends the session (STR) */
        return rc;
    }
    if (!v->session_id)
        v->session_id = strdup(sid);
    OPENSSL_cleanse(&v->fa_ha, sizeof(v->fa_ha));
    v->has_fa_ha = false;
    if (ama->has_fa_ha && ama->fa_ha_key_len && ama->fa_ha_key_len <= sizeof(v->fa_ha.key)) {
        v->has_fa_ha = true;
        v->fa_ha.spi = ama->fa_ha_spi;
        memcpy(v->fa_ha.key, ama->fa_ha_key, ama->fa_ha_key_len);
        v->fa_ha.keylen = ama->fa_ha_key_len;
        v->fa_ha.alg = MIP_AUTH_HMAC_MD5;
    }
    return 0;
}

/* Make-before-break at the new FA (seed [0064]-[0066]: the HA moves its
 * tunnel to us when it accepts the request): the session's VPN objects (the
 * decrypting SA and "fwd" policy of the HA's tunnel to us, marks) and the
 * MN's host route go in before the request goes to the HA, from the AMA's
 * profiles and keys.  Set up after the HA's reply, every packet the HA sent
 * meanwhile found no SA here and was lost (the testbed's UML took 1.2-1.8 s
 * from the reply to the visitor's objects).  aaa_accept later keeps them
 * (vpn_dp_set keeps what the new plan holds too); undone if the move fails. */
static int move_preinstall(struct agent *a, struct pending *p, const struct aaa_ama *ama,
                           const char *sid, const char **why)
{
    static char vwhy[VPN_ERR_MAX + 64];
    struct in_addr any = {0};
    struct in_addr hoa = p->hoa.s_addr ? p->hoa : ama->hoa;
    if (!hoa.s_addr || !a->vpn)
        return 0; /* nothing selects the MN's traffic yet */
    int rc = dp_route_get(a->dp, hoa, 32, a->fa->links[p->link].ifname, any, 0);
    if (rc < 0) {
        *why = "kernel refused the visitor's route";
        return rc;
    }
    struct vpn_profile *prof = calloc(ama->n_profiles ? ama->n_profiles : 1, sizeof(*prof));
    if (!prof) {
        dp_route_put(a->dp, hoa, 32, a->fa->links[p->link].ifname, any, 0);
        *why = "out of memory";
        return -ENOMEM;
    }
    for (unsigned i = 0; i < ama->n_profiles; i++) {
        prof[i] = ama->profiles[i];
        prof[i].nai = NULL;
        prof[i].leg = prof[i].gw_type == VPN_GW_DYNAMIC ? VPN_LEG_FA_PCN : VPN_LEG_FA_HA;
    }
    rc = agent_vpn_set(a, sid, hoa, prof, ama->n_profiles, vwhy, sizeof(vwhy));
    OPENSSL_cleanse(prof, (ama->n_profiles ? ama->n_profiles : 1) * sizeof(*prof));
    free(prof);
    if (rc < 0) {
        agent_vpn_restore(a, sid); /* not cached: nothing of it stays */
        dp_route_put(a->dp, hoa, 32, a->fa->links[p->link].ifname, any, 0);
        *why = vwhy;
        return rc;
    }
    p->move_pre = true;
    p->move_hoa = hoa;
    return 0;
}

/* keep_vpn: the move completed (aaa_accept holds the objects and its own
 * reference on the route); else everything move_preinstall set goes. */
static void move_preinstall_undo(struct agent *a, struct pending *p, bool keep_vpn)
{
    if (!p->move_pre)
        return;
    struct in_addr any = {0};
    if (dp_route_put(a->dp, p->move_hoa, 32, a->fa->links[p->link].ifname, any, 0) < 0)
        a->cnt.kernel_errors++;
    if (!keep_vpn && p->session_id)
        agent_vpn_remove(a, p->session_id);
    p->move_pre = false;
}

/* AMA 2001 without MIP-Reg-Reply (FLOWS "Intra-domain move" 5): the MN's
 * request goes straight to its HA with an FA-HA authenticator made with the
 * AMA's FA-HA key (HMAC-MD5, FLOWS "FA-HA algorithm"); what the AMA gave is
 * kept for the HA's reply.  Returns NULL, or why the move cannot go on. */
static const char *move_relay(struct agent *a, struct pending *p, const struct aaa_ama *ama,
                              const char *sid)
{
    struct mip_reg_request rq;
    size_t off;
    if (!p->req || mip_get_reg_request(p->req, p->req_len, &rq, &off))
        return "the request cannot be relayed";
    if (!ama->has_fa_ha || !ama->fa_ha_key_len || ama->fa_ha_key_len > sizeof(p->move_sa.key))
        return "AMA success without MIP-Reg-Reply or FA-HA key";
    if (ama->decode_rc)
        return ama->decode_err ? ama->decode_err : "VPN profiles could not be decoded";
    if (!rq.ext.mn_ha.present)
        return "move authorised without an MN-HA authenticator";
    struct in_addr ha = rq.home_agent.s_addr ? rq.home_agent : ama->ha;
    if (!ha.s_addr || (ama->ha.s_addr && ama->ha.s_addr != ha.s_addr))
        return "AMA names another home agent";
    if (p->hoa.s_addr && ama->hoa.s_addr && ama->hoa.s_addr != p->hoa.s_addr)
        return "AMA names another home address";
    p->move_sa.spi = ama->fa_ha_spi;
    memcpy(p->move_sa.key, ama->fa_ha_key, ama->fa_ha_key_len);
    p->move_sa.keylen = ama->fa_ha_key_len;
    p->move_sa.alg = MIP_AUTH_HMAC_MD5;
    if (ama->n_profiles) {
        p->move_prof = calloc(ama->n_profiles, sizeof(*p->move_prof));
        if (!p->move_prof)
            return "out of memory";
        memcpy(p->move_prof, ama->profiles, ama->n_profiles * sizeof(*p->move_prof));
        p->move_n = ama->n_profiles;
    }
    p->move_has_life = ama->has_lifetime;
    p->move_life = ama->lifetime;
    p->has_prev_fa = ama->has_prev_fa;
    p->prev_fa = ama->prev_fa;
    if (ama->origin_realm && !(p->origin_realm = strdup(ama->origin_realm)))
        return "out of memory";
    if (!p->session_id || strcmp(p->session_id, sid)) {
        free(p->session_id);
        if (!(p->session_id = strdup(sid)))
            return "out of memory";
    }
    const char *pwhy = NULL;
    if (move_preinstall(a, p, ama, sid, &pwhy) < 0) {
        a->cnt.kernel_errors++;
        return pwhy;
    }
    /* RFC 5944 §3.7.2.2: everything up to the MN-HA authenticator, then ours. */
    size_t end = (size_t)(rq.ext.mn_ha.authenticator.ptr - p->req) + rq.ext.mn_ha.authenticator.len;
    uint8_t out[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, out, sizeof(out));
    if (end > sizeof(out))
        return "request too long";
    memcpy(out, p->req, end);
    w.len = end;
    mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, p->move_sa.spi, p->move_sa.key,
                          p->move_sa.keylen);
    if (w.err)
        return "request too long";
    struct pkt_addr to = {.addr = ha, .port = MIP_UDP_PORT, .local = a->cfg->fa.address};
    if (a->tx(a->tx_ctx, &to, out, w.len) < 0) {
        a->cnt.tx_errors++;
        return "cannot send to the home agent";
    }
    OPENSSL_cleanse(out, sizeof(out));
    p->ha = ha;
    p->relayed = true;
    a->cnt.moves_relayed++;
    char ev[MIPD_NAI_MAX];
    agent_event_ip(a, "tx", "RRQ", ha, pnai(p, ev), -1);
    loop_timer_arm(a->loop, &p->timer, a->cfg->fa.reg_timeout_ms);
    return NULL;
}

/* The HA's reply to a move relayed by move_relay (FLOWS "Intra-domain move"
 * 6): verified with the AMA's FA-HA key; accepted: the visitor with the AMA's
 * profiles; refused: relayed, and the session ends (STR). */
static void move_reply(struct agent *a, struct pending *p, const uint8_t *buf, size_t len,
                       const struct mip_reg_reply *rp)
{
    char nbuf[MIPD_NAI_MAX];
    if (!rp->ext.fa_ha.present || rp->ext.fa_ha.spi != p->move_sa.spi ||
        !mip_verify_auth_hmac_md5(buf, &rp->ext.fa_ha, p->move_sa.key, p->move_sa.keylen)) {
        a->cnt.rrq_auth_failed++;
        a->cnt.moves_refused++;
        pending_deny(a, p, MIP_CODE_FA_HA_AUTH_FAILED, "bad FA-HA authenticator in the reply");
        send_str_realm(a, p->session_id, pnai(p, nbuf), p->origin_realm, AAA_TC_BAD_ANSWER);
        pending_free(a, p);
        return;
    }
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &rp->home_addr, h, sizeof(h));
    if (rp->code <= MIP_CODE_ACCEPTED_NO_SIMUL && rp->lifetime) {
        struct aaa_ama ama = {
            .answered = true,
            .result_code = AAA_RC_SUCCESS,
            .session_id = p->session_id,
            .origin_realm = p->origin_realm,
            .has_lifetime = p->move_has_life,
            .lifetime = p->move_life,
            .hoa = rp->home_addr,
            .ha = p->ha,
            .has_fa_ha = true,
            .fa_ha_spi = p->move_sa.spi,
            .fa_ha_key = p->move_sa.key,
            .fa_ha_key_len = p->move_sa.keylen,
            .profiles = p->move_prof,
            .n_profiles = p->move_n,
            .has_prev_fa = p->has_prev_fa,
            .prev_fa = p->prev_fa,
        };
        uint8_t dcode;
        const char *dwhy;
        bool keep;
        if (aaa_accept(a, p, rp, &ama, p->session_id, &dcode, &dwhy, &keep) < 0) {
            a->cnt.moves_refused++;
            pending_deny(a, p, dcode, dwhy);
            if (!keep)
                send_str_realm(a, p->session_id, pnai(p, nbuf), p->origin_realm, AAA_TC_BAD_ANSWER);
            pending_free(a, p);
            return;
        }
        move_preinstall_undo(a, p, true); /* the visitor holds them now */
        a->cnt.rrq_accepted++;
        char pf[INET_ADDRSTRLEN] = "-";
        if (p->has_prev_fa)
            inet_ntop(AF_INET, &p->prev_fa, pf, sizeof(pf));
        log_info("%s (%s) moved here from FA %s (session %s), lifetime %u", pnai(p, nbuf), h, pf,
                 p->session_id, rp->lifetime);
        if (p->has_prev_fa)
            send_handoff_bu(a, p, p->prev_fa, p->move_prof, p->move_n, rp->home_addr, rp->lifetime);
    } else {
        /* Refused (or a lifetime 0 the AAAF never authorises): relayed, the
         * session of this move ends (FLOWS: STR, the AAAF undoes the move). */
        a->cnt.rrq_denied++;
        a->cnt.moves_refused++;
        if (rp->code > MIP_CODE_ACCEPTED_NO_SIMUL)
            a->cnt.denied_by_code[rp->code]++;
        log_info("%s (%s) move refused by its HA: %u %s", pnai(p, nbuf), h, rp->code,
                 mip_code_str(rp->code));
        send_str_realm(a, p->session_id, pnai(p, nbuf), p->origin_realm, AAA_TC_BAD_ANSWER);
    }
    size_t end = rp->ext.fa_ha.present ? rp->ext.fa_ha.offset : len;
    tx_to_mn(a, &p->mn, p->link, buf, end);
    pending_free(a, p);
}

void fa_aaa_answer(struct agent *a, uint64_t amr_id, const struct aaa_ama *ama)
{
    struct fa_state *f = a->fa;
    struct pending *p = NULL;
    for (struct hnode *n = f ? hmap_first(&f->pending_aaa, amr_id) : NULL; n;
         n = hmap_next_same(n)) {
        struct pending *q = hmap_entry(n, struct pending, by_id);
        if (q->aaa_id == amr_id)
            p = q;
    }
    const char *sid = ama->session_id ? ama->session_id : p && p->session_id ? p->session_id : NULL;
    if (ama->answered) {
        a->cnt.ama_rx++;
        agent_event(a, "rx", "AMA", ama->origin_host, sid, (int)ama->result_code);
    }
    if (!p) {
        /* Too late (the MN already got 78): do not leave the session open. */
        a->cnt.rrp_unmatched++;
        if (ama->answered && ama->result_code == AAA_RC_SUCCESS && sid)
            send_str_realm(a, sid, NULL, ama->origin_realm, AAA_TC_BAD_ANSWER);
        return;
    }
    if (!ama->answered) {
        a->cnt.aaa_timeouts++;
        a->cnt.reg_timeouts++;
        log_info("AMR %s: %s", sid ? sid : "?", ama->why ? ama->why : "no answer");
        pending_deny(a, p, MIP_CODE_FA_REG_TIMEOUT, "no answer from the AAA");
        pending_free(a, p);
        return;
    }
    bool success = ama->result_code == AAA_RC_SUCCESS;
    char nbuf[MIPD_NAI_MAX];
    if (success && !ama->reg_reply && sid) {
        /* FLOWS "Intra-domain move" 4-5: authorised by the AAAF, the HA decides. */
        const char *why = move_relay(a, p, ama, sid);
        if (!why)
            return;
        a->cnt.moves_refused++;
        pending_deny(a, p, MIP_CODE_FA_POORLY_FORMED_REPLY, why);
        send_str_realm(a, sid, pnai(p, nbuf), ama->origin_realm, AAA_TC_BAD_ANSWER);
        pending_free(a, p);
        return;
    }
    if (!ama->reg_reply) {
        const char *fmt;
        uint8_t code = success ? MIP_CODE_FA_POORLY_FORMED_REPLY : ama_code(ama->result_code, &fmt);
        char why[128];
        if (success)
            snprintf(why, sizeof(why), "AMA success without MIP-Reg-Reply");
        else
            snprintf(why, sizeof(why), fmt, ama->result_code);
        if (!success)
            a->cnt.aaa_errors++;
        pending_deny(a, p, code, why);
        if (success && sid)
            send_str_realm(a, sid, pnai(p, nbuf), ama->origin_realm, AAA_TC_BAD_ANSWER);
        pending_free(a, p);
        return;
    }
    struct mip_reg_reply rp;
    size_t off;
    enum mip_err err = mip_get_reg_reply(ama->reg_reply, ama->reg_reply_len, &rp, &off);
    const char *bad = NULL;
    if (err)
        bad = mip_err_str(err);
    else if ((uint32_t)rp.identification != (uint32_t)p->ident)
        bad = "reply identification does not match the request";
    else if (p->hoa.s_addr && rp.home_addr.s_addr != p->hoa.s_addr)
        bad = "reply home address does not match the request";
    else if (success && ama->decode_rc && rp.code <= MIP_CODE_ACCEPTED_NO_SIMUL)
        bad = ama->decode_err ? ama->decode_err : "VPN profiles could not be decoded";
    if (bad) {
        /* RFC 5944 §3.7.3.1: a reply we cannot use becomes code 71. */
        a->cnt.rrp_malformed++;
        pending_deny(a, p, MIP_CODE_FA_POORLY_FORMED_REPLY, bad);
        if (success && sid)
            send_str_realm(a, sid, pnai(p, nbuf), ama->origin_realm, AAA_TC_BAD_ANSWER);
        pending_free(a, p);
        return;
    }
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &rp.home_addr, h, sizeof(h));
    if (success && rp.code <= MIP_CODE_ACCEPTED_NO_SIMUL) {
        uint8_t dcode;
        const char *dwhy;
        bool keep;
        int rc = aaa_accept(a, p, &rp, ama, sid ? sid : "", &dcode, &dwhy, &keep);
        if (rc < 0) {
            pending_deny(a, p, dcode, dwhy);
            if (sid && !keep)
                send_str_realm(a, sid, pnai(p, nbuf), ama->origin_realm, AAA_TC_BAD_ANSWER);
            pending_free(a, p);
            return;
        }
        a->cnt.rrq_accepted++;
        /* Inter-domain move (FLOWS "Inter-domain move"): the AMA names the old FA. */
        if (ama->has_prev_fa && rp.lifetime)
            send_handoff_bu(a, p, ama->prev_fa, ama->profiles, ama->n_profiles, rp.home_addr,
                            rp.lifetime);
        log_info("%.*s (%s) %s via the AAA (session %s), lifetime %u", (int)p->nai_len,
                 (const char *)p->nai, h, rp.lifetime ? "accepted" : "deregistered",
                 sid ? sid : "?", rp.lifetime);
    } else {
        /* The HA's denial (4005 with its reply), relayed unchanged. */
        a->cnt.rrq_denied++;
        a->cnt.denied_by_code[rp.code]++;
        log_info("%.*s (%s) denied by its HA via the AAA: %u %s (Diameter %u)", (int)p->nai_len,
                 (const char *)p->nai, h, rp.code, mip_code_str(rp.code), ama->result_code);
    }
    size_t end = rp.ext.fa_ha.present ? rp.ext.fa_ha.offset : ama->reg_reply_len;
    tx_to_mn(a, &p->mn, p->link, ama->reg_reply, end);
    pending_free(a, p);
}

/* ---- smooth hand-off (seed [0066], FLOWS "Hand-off BU") ---- */

static const struct mipd_peer *find_fa_peer(const struct agent *a, struct in_addr addr, size_t *idx)
{
    for (size_t i = 0; i < a->cfg->fa.n_fa_peers; i++)
        if (a->cfg->fa.fa_peers[i].addr.s_addr == addr.s_addr) {
            if (idx)
                *idx = i;
            return &a->cfg->fa.fa_peers[i];
        }
    return NULL;
}

static void handoff_bu_done(struct agent *a, void *arg, struct bu_txn *t, int status)
{
    (void)arg;
    (void)t;
    if (status != 0) {
        a->cnt.handoff_bu_failed++;
        log_warn("hand-off BU not acknowledged (status %d): the old FA's state just expires",
                 status);
    }
}

/* New FA: the receiving end of the old FA's IP-in-IP hand-off tunnel, set
 * before the BU goes.  Without a tunnel from the old FA the kernel has no
 * device to decapsulate its packets on (they were dropped: testbed
 * intra-move).  And the MN's down-link here is selected by an ESP "fwd"
 * policy (HA -> this FA, seed [0062]) that a packet coming out of an IP-in-IP
 * tunnel cannot satisfy, so the tunnel device skips the IPsec forward check
 * (disable_policy): seed [0066] wants "whatever still reaches the old FA" to
 * reach the MN, and the hand-off tunnel is IP-in-IP (FLOWS "Hand-off BU",
 * decided there; an ESP hand-off tunnel would carry its own policy). */
static void handoff_rx_tunnel(struct agent *a, struct in_addr hoa, struct in_addr old_fa)
{
    struct visitor *v = find_visitor(a->fa, hoa);
    if (!v || (v->ho_rx && v->ho_rx_from.s_addr == old_fa.s_addr))
        return;
    if (v->ho_rx && dp_tunnel_put(a->dp, a->cfg->fa.address, v->ho_rx_from) < 0)
        a->cnt.kernel_errors++;
    v->ho_rx = false;
    char tun[DP_IFNAMSIZ];
    int rc = dp_tunnel_get(a->dp, a->cfg->fa.address, old_fa, tun);
    if (rc < 0) {
        a->cnt.kernel_errors++;
        log_warn("no hand-off tunnel from FA %s: %s", inet_ntoa(old_fa), strerror(-rc));
        return;
    }
    v->ho_rx = true;
    v->ho_rx_from = old_fa;
    rc = dp_sysctl(a->dp, tun, "disable_policy", "1");
    if (rc < 0)
        log_warn("hand-off tunnel %s: disable_policy: %s", tun, strerror(-rc));
}

/* New FA, a move accepted by the HA: the BU to the old FA with the VPN
 * information rewritten src GW = old FA, dst GW = new FA (seed [0066]). */
static void send_handoff_bu(struct agent *a, const struct pending *p, struct in_addr prev_fa,
                            const struct vpn_profile *prof, unsigned n, struct in_addr hoa,
                            uint16_t lifetime)
{
    if (!a->cfg->fa.smooth_handoff || !prev_fa.s_addr ||
        prev_fa.s_addr == a->cfg->fa.address.s_addr)
        return;
    const struct mipd_peer *peer = find_fa_peer(a, prev_fa, NULL);
    if (!peer) {
        a->cnt.handoff_no_peer++;
        log_warn("no pairwise key for FA %s (fa.fa_peers): no smooth hand-off", inet_ntoa(prev_fa));
        return;
    }
    struct vpn_info *vi = calloc(1, sizeof(*vi));
    if (!vi)
        return;
    char nb[MIPD_NAI_MAX];
    snprintf(vi->session_id, sizeof(vi->session_id), "%s", p->session_id ? p->session_id : "-");
    snprintf(vi->nai, sizeof(vi->nai), "%s", pnai(p, nb));
    vi->hoa = hoa;
    vi->lifetime = lifetime;
    for (unsigned i = 0; i < n && vi->n < VPN_CVSE_MAX_PROFILES; i++) {
        struct vpn_profile *q = &vi->profiles[vi->n++];
        *q = prof[i];
        q->nai = NULL;
        /* The AMA's profiles carry no leg (dict/vpn_avp.h): the one this FA
         * gave them (fa_vpn_set), so the old FA's cache reads the same. */
        q->leg = prof[i].gw_type == VPN_GW_DYNAMIC ? VPN_LEG_FA_PCN : VPN_LEG_FA_HA;
        q->src_gw = prev_fa;
        q->dst_gw = a->cfg->fa.address;
        q->gw_type = VPN_GW_STATIC;
    }
    handoff_rx_tunnel(a, hoa, prev_fa);
    char e[VPN_ERR_MAX];
    if (bu_start(a, prev_fa, peer, hoa, a->cfg->fa.address, lifetime, vi, handoff_bu_done, NULL, e,
                 sizeof(e)))
        a->cnt.handoff_bu_tx++;
    else
        log_warn("cannot send the hand-off BU to %s: %s", inet_ntoa(prev_fa), e);
    vpn_info_clear(vi);
    free(vi);
}

static void handoff_ba(struct agent *a, const struct pkt_addr *from, const struct mipd_peer *peer,
                       const struct mip_experimental *bu, uint8_t status, uint64_t ident,
                       const char *why)
{
    if (status != MIP_BA_ACCEPTED) {
        char h[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &bu->u.bu.home_addr, h, sizeof(h));
        log_info("hand-off BU from %s for %s refused: %u %s (%s)", inet_ntoa(from->addr), h, status,
                 mip_ba_status_str(status), why);
    }
    agent_event_ip(a, "rx", "BU", from->addr, "-", -1);
    uint8_t buf[256];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_ACK;
    m.u.ba.status = status;
    m.u.ba.lifetime = status == MIP_BA_ACCEPTED ? bu->u.bu.lifetime : 0;
    m.u.ba.home_addr = bu->u.bu.home_addr;
    m.u.ba.identification = ident;
    mip_put_experimental(&w, &m);
    if (peer)
        mip_put_ro_auth(&w, a->cfg->vendor_id, peer->sa.spi, peer->sa.key, peer->sa.keylen);
    struct pkt_addr to = *from;
    to.ifindex = 0;
    if (w.err || a->tx(a->tx_ctx, &to, buf, w.len) < 0) {
        a->cnt.tx_errors++;
        return;
    }
    a->cnt.ba_tx++;
    agent_event_ip(a, "tx", "BA", from->addr, "-", status);
}

/* Old FA, a hand-off BU accepted: the session's cached profiles now describe
 * the hand-off tunnel, src GW = this FA, dst GW = the new FA (seed [0059]:
 * "an FA changes the destination gateway to the new FA named in the BU";
 * [0066]), until the visitor ends.  The kernel already holds that tunnel
 * (IP-in-IP, FLOWS "Hand-off BU"): only the cache changes.  Before, the
 * cache kept the old FA -> HA profiles although their SAs were gone. */
static void handoff_cache(struct agent *a, const struct visitor *v, struct in_addr new_fa)
{
    struct vpn_session *s = a->vpn && v->session_id ? vpn_cache_find(a->vpn, v->session_id) : NULL;
    if (!s)
        return;
    unsigned n = s->n_profiles;
    struct vpn_profile *p = calloc(n ? n : 1, sizeof(*p));
    if (!p) {
        a->cnt.vpn_cache_errors++;
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        p[i] = s->profiles[i];
        p[i].nai = NULL;
        p[i].dst_gw = new_fa;
        p[i].gw_type = VPN_GW_STATIC;
    }
    uint64_t now = loop_now_ms(a->loop);
    uint32_t life = v->expires_ms > now ? (uint32_t)((v->expires_ms - now + 999) / 1000) : 1;
    char err[VPN_ERR_MAX];
    if (!vpn_cache_set(a->vpn, v->session_id, v->nai, v->hoa, new_fa, p, n, life, agent_now_s(a),
                       err, sizeof(err))) {
        a->cnt.vpn_cache_errors++;
        log_warn("VPN information of %s after the hand-off not cached: %s", v->nai, err);
    }
    OPENSSL_cleanse(p, (n ? n : 1) * sizeof(*p));
    free(p);
}

/* Old FA: the new FA's BU.  Checked as a PCN checks one (pcn.c), each
 * refusal answered with the BA status and counted, nothing changed; then the
 * MN's tunnels to its HA / PCNs go (its VPN objects and reverse tunnel), its
 * host route moves into an IP-in-IP tunnel to the new FA (FLOWS: no ESP
 * here), and the visitor stays until its lifetime ends (visitor_free). */
static void handle_handoff_bu(struct agent *a, const struct pkt_addr *from, const uint8_t *buf,
                              size_t len, const struct mip_experimental *m)
{
    struct fa_state *f = a->fa;
    const struct mipd_config *c = a->cfg;
    size_t pi = 0;
    const struct mipd_peer *peer = find_fa_peer(a, from->addr, &pi);
    uint64_t ident = m->u.bu.identification;
    a->cnt.bu_rx++;
    if (!peer) {
        a->cnt.bu_unknown_peer++;
        handoff_ba(a, from, NULL, m, MIP_BA_UNKNOWN_PEER, ident, "no pairwise key for this FA");
        return;
    }
    uint32_t spi = 0;
    if (!mip_verify_ro_auth(buf, len, &m->ext, c->vendor_id, peer->sa.key, peer->sa.keylen, &spi) ||
        spi != peer->sa.spi) {
        a->cnt.bu_auth_failed++;
        handoff_ba(a, from, peer, m, MIP_BA_AUTH_FAILED, ident,
                   "RO authenticator missing or wrong");
        return;
    }
    if (mip_ident_check(ident, f->fa_peer_last[pi], a->ntp_now(), c->fa.replay_window) !=
        MIP_IDENT_OK) {
        a->cnt.bu_replayed++;
        handoff_ba(a, from, peer, m, MIP_BA_ID_MISMATCH, mip_ident_resync(ident, a->ntp_now()),
                   "identification stale or not above the last accepted (replay)");
        return;
    }
    f->fa_peer_last[pi] = ident;
    unsigned count = 0;
    const struct mip_vse *vse = vpn_cvse_find(&m->ext, c->vendor_id, &count);
    struct vpn_info info;
    char err[VPN_ERR_MAX];
    if (!vse || count != 1 ||
        !vpn_cvse_get(vse, c->vendor_id, peer->sa.key, peer->sa.keylen, &info, err, sizeof(err))) {
        a->cnt.bu_bad_vpninfo++;
        handoff_ba(a, from, peer, m, MIP_BA_POORLY_FORMED, ident,
                   !vse         ? "no VPN-INFO CVSE"
                   : count != 1 ? "more than one VPN-INFO CVSE"
                                : err);
        return;
    }
    const char *why = NULL;
    struct visitor *v = find_visitor(f, m->u.bu.home_addr);
    for (unsigned i = 0; i < info.n && !why; i++)
        if (info.profiles[i].src_gw.s_addr != c->fa.address.s_addr ||
            info.profiles[i].dst_gw.s_addr != from->addr.s_addr)
            why = "VPN information not rewritten old FA (us) -> new FA (the sender)";
    if (!why && !c->fa.smooth_handoff)
        why = "smooth hand-off is off (fa.smooth_handoff)";
    else if (!why && m->u.bu.care_of_addr.s_addr != from->addr.s_addr)
        why = "care-of address is not the sender's";
    else if (!why && !v)
        why = "no visitor with that home address";
    else if (!why && v->handed_off && v->new_fa.s_addr != from->addr.s_addr)
        why = "already handed off to another FA";
    else if (!why && info.nai[0] && v->nai[0] && strcmp(info.nai, v->nai))
        why = "the visitor has another NAI";
    vpn_info_clear(&info);
    if (why) {
        a->cnt.bu_prohibited++;
        handoff_ba(a, from, peer, m, MIP_BA_PROHIBITED, ident, why);
        return;
    }
    if (v->handed_off) {
        /* The same new FA again: a retransmission (FLOWS "Hand-off BU": a
         * new BU with a new identification) because our BA was late or lost
         * -- removing the MN's VPN objects can take the kernel a while.  It
         * is acknowledged again and changes nothing (it was refused with 129
         * before, and the new FA logged a BA for no BU in flight). */
        a->cnt.bu_accepted++;
        handoff_ba(a, from, peer, m, MIP_BA_ACCEPTED, ident, NULL);
        return;
    }
    struct in_addr any = {0};
    char tun[DP_IFNAMSIZ];
    struct hobuf_stats st;
    memset(&st, 0, sizeof(st));
    int rc = dp_tunnel_get(a->dp, c->fa.address, from->addr, tun);
    if (rc >= 0) {
        /* Buffered since the MN left: hobuf switches the route to the
         * tunnel (ours from then on) and re-injects, in order. */
        rc = v->held ? hobuf_flush(f->hb, v->hoa, tun, any, &st)
                     : dp_route_get(a->dp, v->hoa, 32, tun, any, 0);
        if (rc < 0)
            dp_tunnel_put(a->dp, c->fa.address, from->addr);
    }
    if (rc < 0) {
        a->cnt.kernel_errors++;
        handoff_ba(a, from, peer, m, MIP_BA_INSUFFICIENT_RESOURCES, ident,
                   "kernel refused the hand-off tunnel");
        return;
    }
    if (v->held) {
        v->held = false;
        a->cnt.handoff_flushed += (uint64_t)rc;
    } else if (dp_route_put(a->dp, v->hoa, 32, f->links[v->link].ifname, any, 0) < 0) {
        /* The most specific route is the tunnel now; the access route goes. */
        a->cnt.kernel_errors++;
    }
    v->handed_off = true;
    v->new_fa = from->addr;
    memcpy(v->ho_tun, tun, sizeof(v->ho_tun));
    a->cnt.handoffs++;
    a->cnt.bu_accepted++;
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &v->hoa, h, sizeof(h));
    log_info("%s (%s) handed off to FA %s until its lifetime ends", v->nai, h,
             inet_ntoa(from->addr));
    /* The BA as soon as the hand-off tunnel carries the MN's packets; then
     * the old path goes (make-before-break).  Removing the VPN objects can
     * take the kernel a while (a DSCP class's xtables rule is a process,
     * dp_ipset.c: ~1.4 s in the testbed's UML), and a BA sent after it made
     * the new FA retransmit its BU twice (testbed intra-move). */
    handoff_ba(a, from, peer, m, MIP_BA_ACCEPTED, ident, NULL);
    if (v->revtun)
        visitor_unprogram_revtun(a, v);
    v->revtun = false;
    if (v->session_id)
        agent_vpn_remove(a, v->session_id);
    handoff_cache(a, v, from->addr);
}

/* l2watch: a visitor's MN left its access link: hold its packets until the
 * hand-off BU (or its return) says where they go. */
static void fa_l2_gone(void *ctx, int ifindex, struct in_addr hoa)
{
    struct agent *a = ctx;
    struct fa_state *f = a->fa;
    struct visitor *v = find_visitor(f, hoa);
    if (!v || f->links[v->link].ifindex != ifindex || v->handed_off || v->held)
        return;
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &hoa, h, sizeof(h));
    if (!f->hb) {
        log_info("%s (%s) left %s: no hand-off buffer", v->nai, h, f->links[v->link].ifname);
        return;
    }
    int rc = hobuf_start(f->hb, hoa, f->links[v->link].ifname);
    if (rc == 0) {
        v->held = true;
        a->cnt.handoff_buffered++;
        log_info("%s (%s) left %s: buffering its packets", v->nai, h, f->links[v->link].ifname);
    } else if (rc != -EEXIST) {
        a->cnt.kernel_errors++;
        log_warn("%s (%s) left %s: cannot buffer: %s", v->nai, h, f->links[v->link].ifname,
                 strerror(-rc));
    }
}

int fa_handoff_start(struct agent *a)
{
    struct fa_state *f = a->fa;
    if (!f || !a->cfg->fa.smooth_handoff)
        return 0;
    struct hobuf_limits lim = {.max_pkts = a->cfg->fa.hobuf_pkts,
                               .max_bytes = a->cfg->fa.hobuf_bytes,
                               .hold_ms = a->cfg->fa.hobuf_hold_ms,
                               .total_bytes = a->cfg->fa.hobuf_total_bytes};
    f->hb = hobuf_new(a->loop, a->dp, NULL, &lim);
    if (!f->hb)
        log_warn("no hand-off buffer (%s): smooth hand-off without buffering", strerror(errno));
    f->l2w = l2watch_new(a->loop, fa_l2_gone, a);
    if (!f->l2w)
        log_warn("no layer-2 trigger (%s): nothing is buffered", strerror(errno));
    return 0;
}

void fa_handoff_ctl_items(const struct agent *a, FILE *out)
{
    if (a->fa && a->fa->hb)
        hobuf_ctl_items(a->fa->hb, out);
    else
        fputs(",\"items\":[]", out);
}

static void handle_experimental(struct agent *a, const struct pkt_addr *from, const uint8_t *buf,
                                size_t len)
{
    struct mip_experimental m;
    size_t off;
    if (mip_get_experimental(buf, len, &m, &off) != MIP_OK) {
        a->cnt.bu_malformed++;
        return;
    }
    if (m.subtype == MIP_EXP_BINDING_ACK)
        bu_ba_rx(a, from, buf, len);
    else if (m.subtype == MIP_EXP_BINDING_UPDATE)
        handle_handoff_bu(a, from, buf, len, &m);
    else
        a->cnt.unknown_rx++;
}

void fa_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    if (len >= 1 && buf[0] == MIP_MSG_REG_REQUEST)
        handle_rrq(a, from, buf, len);
    else if (len >= 1 && buf[0] == MIP_MSG_REG_REPLY)
        handle_rrp(a, from, buf, len);
    else if (len >= 1 && buf[0] == MIP_MSG_EXPERIMENTAL)
        handle_experimental(a, from, buf, len);
    else
        a->cnt.unknown_rx++;
}

void fa_fini(struct agent *a)
{
    struct fa_state *f = a->fa;
    if (!f)
        return;
    size_t bkt = 0;
    struct hnode *n;
    while ((bkt = 0, n = hmap_iter(&f->visitors, &bkt, NULL))) {
        struct visitor *v = hmap_entry(n, struct visitor, node);
        v->end_cause = AAA_TC_ADMINISTRATIVE; /* shutdown */
        visitor_free(a, v, true);
    }
    while ((bkt = 0, n = hmap_iter(&f->pending, &bkt, NULL)))
        pending_free(a, hmap_entry(n, struct pending, node));
    if (f->hb)
        hobuf_free(f->hb);
    if (f->l2w)
        l2watch_free(f->l2w);
    f->hb = NULL;
    f->l2w = NULL;
    bu_fini(a);
    agent_vpn_fini(a);
    if (a->vpn) {
        vpn_cache_free(a->vpn);
        a->vpn = NULL;
    }
    for (size_t i = 0; i < f->n_links; i++) {
        loop_timer_cancel(a->loop, &f->links[i].adv_timer);
        OPENSSL_cleanse(f->links[i].chal, sizeof(f->links[i].chal));
    }
    hmap_free(&f->visitors);
    hmap_free(&f->visitors_nai);
    hmap_free(&f->pending);
    hmap_free(&f->pending_aaa);
    hmap_free(&f->pending_nai);
    free(f->tables);
    free(f->fa_peer_last);
    free(f->links);
    free(f);
    a->fa = NULL;
}

size_t fa_visitor_count(const struct agent *a)
{
    return a->fa ? a->fa->visitors.n : 0;
}

void fa_dump_visitors(struct agent *a, FILE *out)
{
    struct fa_state *f = a->fa;
    uint64_t now = loop_now_ms(a->loop);
    bool first = true;
    size_t bkt = 0;
    fputc('[', out);
    for (struct hnode *n = f ? hmap_iter(&f->visitors, &bkt, NULL) : NULL; n;
         n = hmap_iter(&f->visitors, &bkt, n)) {
        struct visitor *v = hmap_entry(n, struct visitor, node);
        char hoa[INET_ADDRSTRLEN], ha[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &v->hoa, hoa, sizeof(hoa));
        inet_ntop(AF_INET, &v->ha, ha, sizeof(ha));
        fprintf(out, "%s{\"nai\":", first ? "" : ",");
        ctl_json_str(out, v->nai);
        fprintf(out,
                ",\"home_address\":\"%s\",\"home_agent\":\"%s\",\"link\":\"%s\",\"lifetime\":%u,"
                "\"lifetime_left\":%llu,\"reverse_tunnel\":%s,\"state\":\"%s\",\"handed_off_to\":"
                "\"%s\"}",
                hoa, ha, f->links[v->link].ifname, v->lifetime,
                (unsigned long long)(v->expires_ms > now ? (v->expires_ms - now + 999) / 1000 : 0),
                v->revtun ? "true" : "false",
                v->handed_off ? "handed-off"
                : v->held     ? "buffering"
                              : "here",
                v->handed_off ? inet_ntoa(v->new_fa) : "");
        first = false;
    }
    fputc(']', out);
}
