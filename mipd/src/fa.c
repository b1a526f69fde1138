/*
 * Foreign agent (RFC 5944 §3.7): agent advertisements with a fresh challenge
 * (RFC 3012 §3), relaying of registration requests to the home agent and of
 * the replies back, the visitor list, the host route to each visiting MN, and
 * the reverse tunnel to its HA when asked (RFC 3024).
 */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ctl.h"
#include "log.h"
#include "mip_proto.h"

#define CHAL_LEN 16
#define CHAL_KEEP 4          /* challenges remembered per link */
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

/* A request relayed to an HA and not yet answered. */
struct pending {
    struct hnode node; /* key: low 32 bits of the identification */
    struct pkt_addr mn;  /* where the MN sent from */
    size_t link;
    struct in_addr hoa, ha;
    uint64_t ident;
    uint8_t nai[MIPD_NAI_MAX];
    size_t nai_len;
    bool revtun;
    struct loop_timer timer;
    struct agent *agent;
};

struct visitor {
    struct hnode node; /* key: home address */
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
};

struct ha_table {
    struct in_addr ha;
    uint32_t table;
};

struct fa_state {
    struct fa_link *links;
    size_t n_links;
    struct hmap pending;
    struct hmap visitors;
    struct ha_table *tables;
    size_t n_tables;
    fa_icmp_tx_fn icmp_tx;
    void *icmp_ctx;
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
    if (!f->links) {
        free(f);
        return -1;
    }
    for (size_t i = 0; i < f->n_links; i++) {
        f->links[i].ifname = a->cfg->fa.links[i];
        f->links[i].agent = a;
        loop_timer_init(&f->links[i].adv_timer, adv_timer_cb, &f->links[i]);
    }
    hmap_init(&f->pending);
    hmap_init(&f->visitors);
    a->fa = f;
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
    int rc = a->tx(a->tx_ctx, &to, buf, len);
    if (rc < 0)
        a->cnt.tx_errors++;
    else
        a->cnt.rrp_tx++;
    return rc;
}

/* A denial the FA itself makes (RFC 5944 §3.7.2): no MN-HA authenticator, since
 * only the HA holds that key; the MN accepts FA denials without it (§3.6.2.1). */
static void fa_deny(struct agent *a, const struct pkt_addr *mn, size_t link, struct in_addr hoa,
                    struct in_addr ha, uint64_t ident, const uint8_t *nai, size_t nai_len,
                    uint8_t code, const char *why)
{
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &hoa, h, sizeof(h));
    log_info("registration of %s denied by the FA: %u %s (%s)", h, code, mip_code_str(code), why);
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

static void visitor_unprogram_revtun(struct agent *a, struct visitor *v)
{
    struct in_addr any = {0};
    char tun[DP_IFNAMSIZ];
    snprintf(tun, sizeof(tun), "mip%08x", ntohl(v->ha.s_addr));
    if (dp_rule_put(a->dp, v->hoa, 32, a->fa->links[v->link].ifname, v->table,
                    REVTUN_RULE_PRIO) < 0)
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

static void visitor_free(struct agent *a, struct visitor *v)
{
    struct in_addr any = {0};
    if (v->revtun)
        visitor_unprogram_revtun(a, v);
    if (dp_route_put(a->dp, v->hoa, 32, a->fa->links[v->link].ifname, any, 0) < 0)
        a->cnt.kernel_errors++;
    loop_timer_cancel(a->loop, &v->timer);
    hmap_remove(&a->fa->visitors, &v->node);
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
    visitor_free(v->agent, v);
}

/* Creates or refreshes the visitor entry for an accepted registration. */
static int visitor_update(struct agent *a, const struct pending *p, struct in_addr hoa,
                          uint16_t lifetime)
{
    struct fa_state *f = a->fa;
    struct in_addr any = {0};
    struct visitor *v = find_visitor(f, hoa);
    bool created = false;
    if (v && v->link != p->link) {
        visitor_free(a, v); /* moved between our own access links */
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
        int rc = dp_route_get(a->dp, hoa, 32, f->links[p->link].ifname, any, 0);
        if (rc < 0) {
            free(v);
            return rc;
        }
        hmap_insert(&f->visitors, &v->node, hoa.s_addr);
        created = true;
    }
    if (v->revtun && (!p->revtun || v->ha.s_addr != p->ha.s_addr))
        visitor_unprogram_revtun(a, v);
    v->ha = p->ha;
    if (p->revtun && !v->revtun) {
        int rc = visitor_program_revtun(a, v);
        if (rc < 0) {
            if (created)
                visitor_free(a, v);
            return rc;
        }
    }
    size_t n = p->nai_len < sizeof(v->nai) - 1 ? p->nai_len : sizeof(v->nai) - 1;
    memcpy(v->nai, p->nai, n);
    v->nai[n] = 0;
    v->src_port = p->mn.port;
    v->lifetime = lifetime;
    v->expires_ms = loop_now_ms(a->loop) + (uint64_t)lifetime * 1000u;
    loop_timer_arm_at(a->loop, &v->timer, v->expires_ms);
    return 0;
}

/* ---- relaying ---- */

static void pending_free(struct agent *a, struct pending *p)
{
    loop_timer_cancel(a->loop, &p->timer);
    hmap_remove(&a->fa->pending, &p->node);
    free(p);
}

static void pending_timeout(struct loop *l, void *arg)
{
    (void)l;
    struct pending *p = arg;
    struct agent *a = p->agent;
    a->cnt.reg_timeouts++;
    fa_deny(a, &p->mn, p->link, p->hoa, p->ha, p->ident, p->nai, p->nai_len,
            MIP_CODE_FA_REG_TIMEOUT, "no reply from the home agent");
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
#define DENY(code, why)                                                                            \
    do {                                                                                           \
        fa_deny(a, from, link, rq.home_addr, rq.home_agent, rq.identification, nai, nai_len,     \
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
        mip_put_auth_hmac_md5(&w, MIP_EXT_FA_HA_AUTH, peer->sa.spi, peer->sa.key,
                              peer->sa.keylen);
    if (w.err)
        return;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p) {
        fa_deny(a, from, link, rq.home_addr, rq.home_agent, rq.identification, nai, nai_len,
                MIP_CODE_FA_INSUFFICIENT_RESOURCES, "out of memory");
        return;
    }
    p->mn = *from;
    p->link = link;
    p->hoa = rq.home_addr;
    p->ha = rq.home_agent;
    p->ident = rq.identification;
    p->revtun = rq.flags & MIP_RRQ_FLAG_T;
    p->nai_len = nai_len < sizeof(p->nai) ? nai_len : sizeof(p->nai);
    if (nai_len)
        memcpy(p->nai, nai, p->nai_len);
    p->agent = a;
    loop_timer_init(&p->timer, pending_timeout, p);
    struct pkt_addr to = {.addr = rq.home_agent, .port = MIP_UDP_PORT,
                          .local = a->cfg->fa.address};
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
}

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
    struct pending *p = find_pending(f, rp.identification);
    if (!p || p->ha.s_addr != from->addr.s_addr ||
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
                visitor_free(a, v);
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

void fa_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    if (len >= 1 && buf[0] == MIP_MSG_REG_REQUEST)
        handle_rrq(a, from, buf, len);
    else if (len >= 1 && buf[0] == MIP_MSG_REG_REPLY)
        handle_rrp(a, from, buf, len);
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
    while ((bkt = 0, n = hmap_iter(&f->visitors, &bkt, NULL)))
        visitor_free(a, hmap_entry(n, struct visitor, node));
    while ((bkt = 0, n = hmap_iter(&f->pending, &bkt, NULL)))
        pending_free(a, hmap_entry(n, struct pending, node));
    for (size_t i = 0; i < f->n_links; i++) {
        loop_timer_cancel(a->loop, &f->links[i].adv_timer);
        OPENSSL_cleanse(f->links[i].chal, sizeof(f->links[i].chal));
    }
    hmap_free(&f->visitors);
    hmap_free(&f->pending);
    free(f->tables);
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
                "\"lifetime_left\":%llu,\"reverse_tunnel\":%s}",
                hoa, ha, f->links[v->link].ifname, v->lifetime,
                (unsigned long long)(v->expires_ms > now ? (v->expires_ms - now + 999) / 1000 : 0),
                v->revtun ? "true" : "false");
        first = false;
    }
    fputc(']', out);
}
