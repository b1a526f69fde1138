/*
 * Binding updates sent by the home agent (seed [0057], [0076]; DESIGN §6;
 * aaad/FLOWS.md "BU/BA HA -> PCN") and by a new FA to the old one (seed
 * [0066], FLOWS "Hand-off BU"; timing from fa.bu_timeout_ms / bu_retries).
 *
 * A BU is the RFC 4064 experimental message (type 255, subtype 18) with the
 * VPN-INFO CVSE (vpncache/vpn_cvse.h: profile keys sealed with the pairwise
 * key) followed by the RO-auth CVSE (HMAC-SHA-256 with the same key).  Its
 * identification is an NTP timestamp (RFC 5944 §5.7 style), strictly
 * increasing per peer.  Each retransmission is a new BU with a fresh
 * identification: a copy of an earlier one that did arrive would otherwise
 * be refused as a replay.  A BA is matched by identification (any of the
 * transaction's, low 32 bits), must come from the BU's destination or from the PCN (a
 * PCN that intercepted a BU addressed to a correspondent answers from its
 * own address unless conntrack rewrote it) and must carry a valid RO-auth.
 * Wait: bu_timeout_ms, doubled after every transmission; bu_retries
 * transmissions in all (FLOWS: 1 s, doubling, 3 tries).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "hmap.h"
#include "log.h"
#include "mip_proto.h"
#include "vpn_cvse.h"

#define BU_MAX_IDS 12

struct bu_txn {
    struct hnode node; /* in ro->txns, key: low 32 bits of the current identification */
    struct agent *agent;
    struct in_addr dst;
    const struct mipd_peer *peer;
    struct in_addr hoa, coa;
    uint16_t lifetime;
    struct vpn_info info; /* holds keys: wiped when the transaction ends */
    uint64_t ids[BU_MAX_IDS];
    unsigned n_ids;
    unsigned tries;
    uint32_t wait_ms;
    struct loop_timer timer;
    bu_done_fn cb;
    void *arg;
};

struct peer_ident {
    struct in_addr peer;
    uint64_t last;
};

struct ro_state {
    struct hmap txns;
    struct peer_ident *idents;
    size_t n_idents;
};

int bu_init(struct agent *a)
{
    if (a->ro)
        return 0;
    struct ro_state *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    hmap_init(&r->txns);
    a->ro = r;
    return 0;
}

static void txn_free(struct agent *a, struct bu_txn *t)
{
    loop_timer_cancel(a->loop, &t->timer);
    hmap_remove(&a->ro->txns, &t->node);
    vpn_info_clear(&t->info);
    OPENSSL_cleanse(t, sizeof(*t));
    free(t);
}

void bu_fini(struct agent *a)
{
    struct ro_state *r = a->ro;
    if (!r)
        return;
    size_t bkt;
    struct hnode *n;
    while ((bkt = 0, n = hmap_iter(&r->txns, &bkt, NULL)))
        txn_free(a, hmap_entry(n, struct bu_txn, node));
    hmap_free(&r->txns);
    free(r->idents);
    free(r);
    a->ro = NULL;
}

size_t bu_pending_count(const struct agent *a)
{
    return a->ro ? a->ro->txns.n : 0;
}

/* Next identification for a peer: the NTP time, above the last one sent. */
static uint64_t next_ident(struct agent *a, struct in_addr peer)
{
    struct ro_state *r = a->ro;
    struct peer_ident *pi = NULL;
    for (size_t i = 0; i < r->n_idents; i++)
        if (r->idents[i].peer.s_addr == peer.s_addr)
            pi = &r->idents[i];
    if (!pi) {
        struct peer_ident *n = realloc(r->idents, (r->n_idents + 1) * sizeof(*n));
        if (!n)
            return a->ntp_now();
        r->idents = n;
        pi = &r->idents[r->n_idents++];
        pi->peer = peer;
        pi->last = 0;
    }
    uint64_t id = a->ntp_now();
    if (id <= pi->last)
        id = pi->last + 1;
    pi->last = id;
    return id;
}

/* Builds and sends one BU with a fresh identification. */
static int transmit(struct agent *a, struct bu_txn *t, char *err, size_t errlen)
{
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_UPDATE;
    m.u.bu.flags = MIP_BU_FLAG_A | MIP_BU_FLAG_I;
    m.u.bu.lifetime = t->lifetime;
    m.u.bu.home_addr = t->hoa;
    m.u.bu.care_of_addr = t->coa;
    m.u.bu.identification = next_ident(a, t->peer->addr);
    mip_put_experimental(&w, &m);
    bool ok = vpn_cvse_put(&w, a->cfg->vendor_id, &t->info, t->peer->sa.key, t->peer->sa.keylen,
                           err, errlen);
    if (ok)
        mip_put_ro_auth(&w, a->cfg->vendor_id, t->peer->sa.spi, t->peer->sa.key,
                        t->peer->sa.keylen);
    if (!ok || w.err) {
        if (ok)
            snprintf(err, errlen, "cannot encode the BU: %s", mip_err_str(w.err));
        OPENSSL_cleanse(buf, sizeof(buf));
        return -EINVAL;
    }
    if (t->n_ids > 0)
        hmap_remove(&a->ro->txns, &t->node);
    if (t->n_ids < BU_MAX_IDS)
        t->ids[t->n_ids++] = m.u.bu.identification;
    hmap_insert(&a->ro->txns, &t->node, (uint32_t)m.u.bu.identification);
    /* From the agent's own address, the one its peers' keys are listed
     * under (pcn.ha_peers, fa.fa_peers), not whatever the route picks. */
    struct pkt_addr to = {.addr = t->dst,
                          .port = MIP_UDP_PORT,
                          .local =
                              a->cfg->role == ROLE_FA ? a->cfg->fa.address : a->cfg->ha.address};
    int rc = a->tx(a->tx_ctx, &to, buf, w.len);
    OPENSSL_cleanse(buf, w.len);
    t->tries++;
    if (t->tries > 1)
        a->cnt.bu_retx++;
    if (rc < 0) {
        a->cnt.tx_errors++;
        log_warn("BU for %s to %s: send failed (%d), will retry", t->info.session_id,
                 inet_ntoa(t->dst), rc);
    } else {
        a->cnt.bu_tx++;
    }
    agent_event_ip(a, "tx", "BU", t->dst, t->info.session_id, -1);
    return 0;
}

static void on_timer(struct loop *l, void *arg)
{
    (void)l;
    struct bu_txn *t = arg;
    struct agent *a = t->agent;
    if (t->tries >= (a->cfg->role == ROLE_FA ? a->cfg->fa.bu_retries : a->cfg->ha.bu_retries)) {
        a->cnt.bu_timeouts++;
        log_warn("BU for %s to %s: no acceptable BA after %u transmissions", t->info.session_id,
                 inet_ntoa(t->dst), t->tries);
        bu_done_fn cb = t->cb;
        void *cbarg = t->arg;
        /* The callback gets t only as an identity (it is freed): keep its
         * value, not a pointer the compiler sees used after free. */
        struct bu_txn *volatile id = t; /* the compiler must not track it */
        txn_free(a, t);
        cb(a, cbarg, id, -ETIMEDOUT);
        return;
    }
    char err[VPN_ERR_MAX];
    if (transmit(a, t, err, sizeof(err)) < 0) {
        /* The same content encoded once already: cannot happen but for memory. */
        log_err("BU for %s: %s", t->info.session_id, err);
    }
    loop_timer_arm(a->loop, &t->timer, t->wait_ms);
    t->wait_ms *= 2;
}

struct bu_txn *bu_start(struct agent *a, struct in_addr dst, const struct mipd_peer *peer,
                        struct in_addr hoa, struct in_addr coa, uint16_t lifetime,
                        const struct vpn_info *info, bu_done_fn cb, void *arg, char *err,
                        size_t errlen)
{
    if (bu_init(a) < 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct bu_txn *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->agent = a;
    t->dst = dst;
    t->peer = peer;
    t->hoa = hoa;
    t->coa = coa;
    t->lifetime = lifetime;
    t->cb = cb;
    t->arg = arg;
    t->wait_ms = a->cfg->role == ROLE_FA ? a->cfg->fa.bu_timeout_ms : a->cfg->ha.bu_timeout_ms;
    loop_timer_init(&t->timer, on_timer, t);
    /* Deep copy of the VPN information, keys included (wiped in txn_free). */
    memcpy(t->info.session_id, info->session_id, sizeof(t->info.session_id));
    memcpy(t->info.nai, info->nai, sizeof(t->info.nai));
    t->info.hoa = info->hoa;
    t->info.lifetime = info->lifetime;
    t->info.n = info->n;
    for (unsigned i = 0; i < info->n && i < VPN_CVSE_MAX_PROFILES; i++)
        t->info.profiles[i] = info->profiles[i];
    if (transmit(a, t, err, errlen) < 0) {
        vpn_info_clear(&t->info);
        free(t);
        return NULL;
    }
    /* From now, not from the start of this loop iteration: a BU often goes
     * after kernel work in the same iteration (the new FA's visitor and VPN
     * objects, ~1 s in the testbed's UML), and a timeout counted from the
     * iteration's cached clock fired at once -- a second BU 1 ms after the
     * first (testbed intra-move). */
    loop_now_ms_fresh(a->loop);
    loop_timer_arm(a->loop, &t->timer, t->wait_ms);
    t->wait_ms *= 2;
    return t;
}

void bu_cancel(struct agent *a, struct bu_txn *t)
{
    if (t)
        txn_free(a, t);
}

/* By the low 32 bits of the identification: a BA with status 133 carries the
 * PCN's clock in the high 32 bits (RFC 5944 §5.7 style). */
static struct bu_txn *find_txn(struct ro_state *r, uint64_t ident)
{
    uint32_t low = (uint32_t)ident;
    for (struct hnode *n = hmap_first(&r->txns, low); n; n = hmap_next_same(n)) {
        struct bu_txn *t = hmap_entry(n, struct bu_txn, node);
        if (t->n_ids && (uint32_t)t->ids[t->n_ids - 1] == low)
            return t;
    }
    /* A BA to an earlier transmission (the table holds the latest one). */
    size_t bkt = 0;
    for (struct hnode *n = hmap_iter(&r->txns, &bkt, NULL); n; n = hmap_iter(&r->txns, &bkt, n)) {
        struct bu_txn *t = hmap_entry(n, struct bu_txn, node);
        for (unsigned i = 0; i + 1 < t->n_ids; i++)
            if ((uint32_t)t->ids[i] == low)
                return t;
    }
    return NULL;
}

void bu_ba_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    struct mip_experimental m;
    size_t off;
    a->cnt.ba_rx++;
    enum mip_err e = mip_get_experimental(buf, len, &m, &off);
    if (e || m.subtype != MIP_EXP_BINDING_ACK) {
        a->cnt.ba_unmatched++;
        log_info("dropped a malformed BA from %s: %s at offset %zu", inet_ntoa(from->addr),
                 e ? mip_err_str(e) : "not a binding acknowledge", off);
        return;
    }
    struct bu_txn *t = a->ro ? find_txn(a->ro, m.u.ba.identification) : NULL;
    if (!t || (from->addr.s_addr != t->dst.s_addr && from->addr.s_addr != t->peer->addr.s_addr)) {
        a->cnt.ba_unmatched++;
        log_info("BA from %s matches no BU in flight (status %u)", inet_ntoa(from->addr),
                 m.u.ba.status);
        agent_event_ip(a, "rx", "BA", from->addr, "-", m.u.ba.status);
        return;
    }
    uint32_t spi = 0;
    if (!mip_verify_ro_auth(buf, len, &m.ext, a->cfg->vendor_id, t->peer->sa.key,
                            t->peer->sa.keylen, &spi) ||
        spi != t->peer->sa.spi) {
        /* Unauthenticated (e.g. "unknown peer"): anyone could have sent it.
         * The BU stays in flight; retransmissions or the timeout decide. */
        a->cnt.ba_auth_failed++;
        log_warn("BA from %s for %s ignored: RO authenticator missing or wrong (status %u)",
                 inet_ntoa(from->addr), t->info.session_id, m.u.ba.status);
        agent_event_ip(a, "rx", "BA", from->addr, t->info.session_id, m.u.ba.status);
        return;
    }
    agent_event_ip(a, "rx", "BA", from->addr, t->info.session_id, m.u.ba.status);
    if (m.u.ba.status != MIP_BA_ACCEPTED) {
        a->cnt.ba_refused++;
        log_warn("BU for %s refused by %s: %u %s", t->info.session_id, inet_ntoa(from->addr),
                 m.u.ba.status, mip_ba_status_str(m.u.ba.status));
    }
    bu_done_fn cb = t->cb;
    void *cbarg = t->arg;
    struct bu_txn *volatile id = t; /* identity only, see on_timer */
    txn_free(a, t);
    cb(a, cbarg, id, m.u.ba.status);
}
