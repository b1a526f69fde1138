/*
 * Proxy correspondent node (seeds [0059], [0074]-[0078]; DESIGN §7;
 * aaad/FLOWS.md "PCN").
 *
 * A PCN takes the BUs addressed to itself and those addressed to the
 * correspondents behind it: at start one netfilter REDIRECT of UDP 434 per
 * served prefix (dp_udp_redirect_get) delivers the forwarded ones to our
 * socket.  The PCN needs nothing from the original destination: the BU names
 * the mobile node and carries the VPN information, and our reply leaves from
 * the address the datagram was delivered to, which conntrack turns back into
 * the correspondent's for a redirected BU.
 *
 * Per BU, in this order, each refusal answered with a BA of the precise
 * status (mip_proto.h) and counted, and nothing else changed:
 *   undecodable BU .................................. dropped (bu_malformed)
 *   sender not in pcn.ha_peers ...................... 136, no RO-auth (bu_unknown_peer)
 *   RO-auth missing, wrong SPI or HMAC .............. 131 (bu_auth_failed)
 *   identification stale or not above the last ...... 133 (bu_replayed)
 *   VPN-INFO CVSE missing, twice or undecodable ...... 134 (bu_bad_vpninfo)
 *   VPN information for another PCN or a
 *   correspondent we do not serve ..................... 129 (bu_prohibited)
 *   profiles that cannot be planned at this PCN ...... 134 (vpn_plan_errors)
 *   no default SA for a vpnshare-0 profile, or the
 *   kernel refused an object ......................... 130 (vpn_no_default_sa,
 *                                                        kernel_errors)
 *   cache refused it ................................ 130 (vpn_cache_errors)
 * then the session's profiles replace what we held (delete-then-set, seed
 * [0060]-[0061]): first its kernel objects (vpn_dp.h: SAs, policies, DSCP
 * marks, IP-in-IP paths), then the cache; a failure puts the previous
 * objects back.  Lifetime 0 removes the session and its objects, and so does
 * its expiry.  BA 0 (bu_accepted).
 * The identification counts as used once the BU is authenticated and fresh.
 *
 * Lifetime refresh (seed scenario 8, claim 25): below pcn.refresh_threshold_s
 * of a session's lifetime the PCN sends Binding Requests to the HA of the
 * session's last BU until a BU for the home address comes or the session
 * expires (pcn_refresh.h); the expiry tick drives both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "mip_proto.h"
#include "pcn_refresh.h"
#include "vpn_cache.h"
#include "vpn_cvse.h"
#include "vpn_dp.h"

#define PCN_EXPIRE_TICK_MS 1000

struct pcn_state {
    uint64_t *last_ident; /* per configured HA peer */
    struct loop_timer expire_timer;
    struct agent *agent;
    struct pcn_refresh *refresh; /* Binding Requests (pcn_refresh.h) */
};

/* Expiry (also of a session whose HA left a BR unanswered, seed scenario 8):
 * its kernel objects go first (vpn_dp), then the cache entry. */
static void session_expiring(struct vpn_session *s, void *arg)
{
    struct agent *a = arg;
    agent_vpn_remove(a, s->id);
    pcn_refresh_forget(a->pcn->refresh, s->id, true);
}

static void expire_tick(struct loop *l, void *arg)
{
    struct pcn_state *p = arg;
    struct agent *a = p->agent;
    size_t n = vpn_cache_expire(a->vpn, agent_now_s(a), session_expiring, a);
    if (n) {
        a->cnt.expirations += n;
        log_info("%zu VPN session(s) expired", n);
    }
    pcn_refresh_check(p->refresh, agent_now_s(a));
    loop_timer_arm(l, &p->expire_timer, PCN_EXPIRE_TICK_MS);
}

int pcn_init(struct agent *a)
{
    struct pcn_state *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->last_ident =
        calloc(a->cfg->pcn.n_ha_peers ? a->cfg->pcn.n_ha_peers : 1, sizeof(*p->last_ident));
    if (!a->vpn)
        a->vpn = vpn_cache_new();
    p->refresh = pcn_refresh_new(a);
    if (!p->last_ident || !a->vpn || !p->refresh) {
        pcn_refresh_free(p->refresh);
        free(p->last_ident);
        free(p);
        return -ENOMEM;
    }
    p->agent = a;
    loop_timer_init(&p->expire_timer, expire_tick, p);
    a->pcn = p;
    char err[VPN_ERR_MAX + 64];
    int vrc = agent_vpn_init(a, a->cfg->pcn.address, err, sizeof(err));
    if (vrc < 0) {
        log_err("%s", err);
        pcn_fini(a);
        return vrc;
    }
    /* The PCN forwards traffic to its correspondents (and, later, tunnels). */
    dp_sysctl(a->dp, "all", "forwarding", "1");
    for (size_t i = 0; i < a->cfg->pcn.n_serves; i++) {
        const struct mipd_prefix *s = &a->cfg->pcn.serves[i];
        int rc = dp_udp_redirect_get(a->dp, s->addr, s->len, MIP_UDP_PORT);
        if (rc < 0) {
            log_err("cannot redirect UDP %d to %s/%u to ourselves: %s", MIP_UDP_PORT,
                    inet_ntoa(s->addr), s->len, strerror(-rc));
            a->cnt.kernel_errors++;
            pcn_fini(a);
            return rc;
        }
    }
    loop_timer_arm(a->loop, &p->expire_timer, PCN_EXPIRE_TICK_MS);
    return 0;
}

void pcn_fini(struct agent *a)
{
    struct pcn_state *p = a->pcn;
    if (!p)
        return;
    for (size_t i = 0; i < a->cfg->pcn.n_serves; i++) {
        const struct mipd_prefix *s = &a->cfg->pcn.serves[i];
        /* Those never installed (failed start) give -ENOENT: nothing to do. */
        (void)dp_udp_redirect_put(a->dp, s->addr, s->len, MIP_UDP_PORT);
    }
    loop_timer_cancel(a->loop, &p->expire_timer);
    pcn_refresh_free(p->refresh);
    agent_vpn_fini(a);
    if (a->vpn) {
        vpn_cache_free(a->vpn);
        a->vpn = NULL;
    }
    free(p->last_ident);
    free(p);
    a->pcn = NULL;
}

size_t pcn_session_count(const struct agent *a)
{
    return a->vpn ? vpn_cache_count(a->vpn) : 0;
}

/* Sends a BA; authenticated when we hold a key for the peer. */
static void send_ba(struct agent *a, const struct pkt_addr *from, const struct mipd_peer *peer,
                    const struct mip_experimental *bu, uint8_t status, uint64_t ident,
                    const char *session, const char *why)
{
    if (status != MIP_BA_ACCEPTED) {
        char h[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &bu->u.bu.home_addr, h, sizeof(h));
        log_info("BU from %s for %s (%s) refused: %u %s (%s)", inet_ntoa(from->addr), h,
                 session ? session : "?", status, mip_ba_status_str(status), why);
    }
    /* The BU's event now that its session is known (or not: "-"). */
    agent_event_ip(a, "rx", "BU", from->addr, session, -1);
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
    if (w.err) {
        a->cnt.tx_errors++;
        return;
    }
    /* From the address the BU was delivered to: for an intercepted BU,
     * conntrack turns it back into the correspondent's. */
    struct pkt_addr to = *from;
    to.ifindex = 0;
    if (a->tx(a->tx_ctx, &to, buf, w.len) < 0) {
        a->cnt.tx_errors++;
        return;
    }
    a->cnt.ba_tx++;
    agent_event_ip(a, "tx", "BA", from->addr, session, status);
}

static bool served(const struct agent *a, const struct vpn_prefix *dst)
{
    for (size_t i = 0; i < a->cfg->pcn.n_serves; i++) {
        const struct mipd_prefix *s = &a->cfg->pcn.serves[i];
        uint32_t mask = s->len ? 0xffffffffu << (32 - s->len) : 0;
        if (dst->len >= s->len && (ntohl(dst->addr.s_addr) & mask) == ntohl(s->addr.s_addr))
            return true;
    }
    return false;
}

/* Seed [0041]: the PCN's profile has src GW = PCN; its correspondent side
 * must be behind us. */
static const char *check_profiles(const struct agent *a, const struct vpn_info *info)
{
    static char why[160];
    for (unsigned i = 0; i < info->n; i++) {
        const struct vpn_profile *p = &info->profiles[i];
        char d[20];
        if (p->src_gw.s_addr != a->cfg->pcn.address.s_addr) {
            snprintf(why, sizeof(why), "profile %u names tunnel gateway %s, not us", p->number,
                     inet_ntoa(p->src_gw));
            return why;
        }
        if (!served(a, &p->dst)) {
            snprintf(why, sizeof(why), "profile %u: correspondent %s is not behind us", p->number,
                     vpn_prefix_str(&p->dst, d));
            return why;
        }
    }
    return NULL;
}

static void handle_bu(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len,
                      const struct mip_experimental *m)
{
    struct pcn_state *p = a->pcn;
    const struct mipd_config *c = a->cfg;
    const struct mipd_peer *peer = NULL;
    size_t pi = 0;
    for (; pi < c->pcn.n_ha_peers; pi++)
        if (c->pcn.ha_peers[pi].addr.s_addr == from->addr.s_addr) {
            peer = &c->pcn.ha_peers[pi];
            break;
        }
    uint64_t ident = m->u.bu.identification;
    if (!peer) {
        a->cnt.bu_unknown_peer++;
        send_ba(a, from, NULL, m, MIP_BA_UNKNOWN_PEER, ident, NULL,
                "no pairwise key for this sender");
        return;
    }
    uint32_t spi = 0;
    if (!mip_verify_ro_auth(buf, len, &m->ext, c->vendor_id, peer->sa.key, peer->sa.keylen, &spi) ||
        spi != peer->sa.spi) {
        a->cnt.bu_auth_failed++;
        send_ba(a, from, peer, m, MIP_BA_AUTH_FAILED, ident, NULL,
                spi && spi != peer->sa.spi ? "unknown SPI" : "RO authenticator missing or wrong");
        return;
    }
    switch (mip_ident_check(ident, p->last_ident[pi], a->ntp_now(), c->pcn.replay_window)) {
    case MIP_IDENT_OK:
        break;
    case MIP_IDENT_STALE:
        a->cnt.bu_replayed++;
        send_ba(a, from, peer, m, MIP_BA_ID_MISMATCH, mip_ident_resync(ident, a->ntp_now()), NULL,
                "timestamp outside the replay window");
        return;
    case MIP_IDENT_REPLAY:
        a->cnt.bu_replayed++;
        send_ba(a, from, peer, m, MIP_BA_ID_MISMATCH, mip_ident_resync(ident, a->ntp_now()), NULL,
                "identification not above the last accepted (replay)");
        return;
    }
    p->last_ident[pi] = ident;

    unsigned count = 0;
    const struct mip_vse *v = vpn_cvse_find(&m->ext, c->vendor_id, &count);
    struct vpn_info info;
    char err[VPN_ERR_MAX];
    if (!v || count != 1) {
        a->cnt.bu_bad_vpninfo++;
        send_ba(a, from, peer, m, MIP_BA_POORLY_FORMED, ident, NULL,
                count ? "more than one VPN-INFO CVSE" : "no VPN-INFO CVSE");
        return;
    }
    if (!vpn_cvse_get(v, c->vendor_id, peer->sa.key, peer->sa.keylen, &info, err, sizeof(err))) {
        a->cnt.bu_bad_vpninfo++;
        send_ba(a, from, peer, m, MIP_BA_POORLY_FORMED, ident, NULL, err);
        return;
    }
    const char *why = check_profiles(a, &info);
    if (why) {
        a->cnt.bu_prohibited++;
        send_ba(a, from, peer, m, MIP_BA_PROHIBITED, ident, info.session_id, why);
        vpn_info_clear(&info);
        return;
    }
    char h[INET_ADDRSTRLEN], coa[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m->u.bu.home_addr, h, sizeof(h));
    inet_ntop(AF_INET, &m->u.bu.care_of_addr, coa, sizeof(coa));
    if (m->u.bu.lifetime == 0 || info.lifetime == 0) {
        agent_vpn_remove(a, info.session_id);
        pcn_refresh_forget(p->refresh, info.session_id, false);
        bool had = vpn_cache_remove_id(a->vpn, info.session_id);
        log_info("VPN session %s of %s (%s) %s", info.session_id, info.nai, h,
                 had ? "removed" : "already gone");
    } else {
        const char *nai = info.nai[0] ? info.nai : NULL;
        uint32_t life = info.lifetime < m->u.bu.lifetime ? info.lifetime : m->u.bu.lifetime;
        /* Seed [0059]-[0061]: tunnel and QoS control, then the cache. */
        static char vwhy[VPN_ERR_MAX + 96];
        int vrc = agent_vpn_set(a, info.session_id, m->u.bu.home_addr, info.profiles, info.n, vwhy,
                                sizeof(vwhy));
        if (vrc < 0) {
            agent_vpn_restore(a, info.session_id);
            send_ba(a, from, peer, m,
                    vrc == -EINVAL ? MIP_BA_POORLY_FORMED : MIP_BA_INSUFFICIENT_RESOURCES, ident,
                    info.session_id, vwhy);
            vpn_info_clear(&info);
            return;
        }
        struct vpn_session *s =
            vpn_cache_set(a->vpn, info.session_id, nai, m->u.bu.home_addr, m->u.bu.care_of_addr,
                          info.profiles, info.n, life, agent_now_s(a), err, sizeof(err));
        if (!s) {
            a->cnt.vpn_cache_errors++;
            agent_vpn_restore(a, info.session_id);
            send_ba(a, from, peer, m, MIP_BA_INSUFFICIENT_RESOURCES, ident, info.session_id, err);
            vpn_info_clear(&info);
            return;
        }
        /* Its lifetime is watched from now on; a BR round for the home
         * address has its answer (seed scenario 8). */
        pcn_refresh_updated(p->refresh, s, pi, agent_now_s(a));
        log_info("VPN session %s of %s (%s) via %s: %u profile(s), lifetime %u", info.session_id,
                 info.nai, h, coa, info.n, life);
    }
    a->cnt.bu_accepted++;
    send_ba(a, from, peer, m, MIP_BA_ACCEPTED, ident, info.session_id, NULL);
    vpn_info_clear(&info);
}

void pcn_rx(struct agent *a, const struct pkt_addr *from, const uint8_t *buf, size_t len)
{
    if (len < 1 || buf[0] != MIP_MSG_EXPERIMENTAL) {
        a->cnt.unknown_rx++;
        return;
    }
    struct mip_experimental m;
    size_t off = 0;
    enum mip_err e = mip_get_experimental(buf, len, &m, &off);
    if (e) {
        a->cnt.bu_malformed++;
        agent_event_ip(a, "rx", "BU", from->addr, "-", -1);
        log_info("dropped a malformed message 255 from %s: %s at offset %zu", inet_ntoa(from->addr),
                 mip_err_str(e), off);
        return;
    }
    if (m.subtype != MIP_EXP_BINDING_UPDATE) {
        a->cnt.unknown_rx++;
        return;
    }
    a->cnt.bu_rx++;
    handle_bu(a, from, buf, len, &m);
}
