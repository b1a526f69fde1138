/*
 * Lifetime refresh at the PCN: Binding Requests to the home agents
 * (pcn_refresh.h; seed scenario 8, claim 25).
 *
 * Per watched session: the HA peer of its last accepted BU, its home address,
 * and the BR round (timer, back-off).  Two indexes: by session ID (the BU
 * and the expiry name the session) and by home address (a BU for the home
 * address ends the rounds of every session of that address: the HA may have
 * answered with a new Session-Id after a re-registration).
 */
#include "pcn_refresh.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "hmap.h"
#include "log.h"
#include "mip_proto.h"
#include "vpn_cache.h"

#define PCN_BR_MAX_WAIT_MS 60000u /* back-off ceiling */

struct watch {
    struct hnode by_sid; /* key: hmap_hash_str(sid) */
    struct hnode by_hoa; /* key: hoa.s_addr */
    char *sid;
    struct in_addr hoa;
    size_t peer;   /* index in cfg->pcn.ha_peers */
    bool asked;    /* a BR round ran or runs for the session's current expiry */
    bool active;   /* the round is sending */
    unsigned sent; /* BRs of the round */
    uint32_t wait_ms;
    struct loop_timer timer;
    struct pcn_refresh *r;
};

struct pcn_refresh {
    struct agent *a;
    struct hmap by_sid, by_hoa;
    uint64_t *last_ident; /* per HA peer: the last BR identification sent */
    size_t n_active;
};

static void on_timer(struct loop *l, void *arg);

struct pcn_refresh *pcn_refresh_new(struct agent *a)
{
    struct pcn_refresh *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    size_t n = a->cfg->pcn.n_ha_peers ? a->cfg->pcn.n_ha_peers : 1;
    r->last_ident = calloc(n, sizeof(*r->last_ident));
    if (!r->last_ident) {
        free(r);
        return NULL;
    }
    r->a = a;
    hmap_init(&r->by_sid);
    hmap_init(&r->by_hoa);
    return r;
}

static struct watch *find_sid(const struct pcn_refresh *r, const char *sid)
{
    for (struct hnode *n = hmap_first(&r->by_sid, hmap_hash_str(sid)); n; n = hmap_next_same(n)) {
        struct watch *w = hmap_entry(n, struct watch, by_sid);
        if (!strcmp(w->sid, sid))
            return w;
    }
    return NULL;
}

static void round_stop(struct pcn_refresh *r, struct watch *w)
{
    if (!w->active)
        return;
    loop_timer_cancel(r->a->loop, &w->timer);
    w->active = false;
    r->n_active--;
}

static void watch_free(struct pcn_refresh *r, struct watch *w)
{
    round_stop(r, w);
    hmap_remove(&r->by_sid, &w->by_sid);
    hmap_remove(&r->by_hoa, &w->by_hoa);
    free(w->sid);
    free(w);
}

void pcn_refresh_free(struct pcn_refresh *r)
{
    if (!r)
        return;
    size_t bkt;
    struct hnode *n;
    while ((bkt = 0, n = hmap_iter(&r->by_sid, &bkt, NULL)))
        watch_free(r, hmap_entry(n, struct watch, by_sid));
    hmap_free(&r->by_sid);
    hmap_free(&r->by_hoa);
    free(r->last_ident);
    free(r);
}

size_t pcn_refresh_pending(const struct pcn_refresh *r)
{
    return r ? r->n_active : 0;
}

/* Identification of a BR (DESIGN §6: replay protection by identification):
 * the NTP time, above the last one sent to that HA. */
static uint64_t next_ident(struct pcn_refresh *r, size_t peer)
{
    uint64_t id = r->a->ntp_now();
    if (id <= r->last_ident[peer])
        id = r->last_ident[peer] + 1;
    r->last_ident[peer] = id;
    return id;
}

/* One BR: fixed part (mip_proto.h, subtype 17) + RO-auth CVSE with the HA's
 * pairwise key, from our own address (the one the HA lists in ha.pcn_peers). */
static void send_br(struct pcn_refresh *r, struct watch *w)
{
    struct agent *a = r->a;
    const struct mipd_peer *peer = &a->cfg->pcn.ha_peers[w->peer];
    uint8_t buf[128];
    struct mip_writer mw;
    mip_writer_init(&mw, buf, sizeof(buf));
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_REQUEST;
    m.u.br.home_addr = w->hoa;
    m.u.br.identification = next_ident(r, w->peer);
    mip_put_experimental(&mw, &m);
    mip_put_ro_auth(&mw, a->cfg->vendor_id, peer->sa.spi, peer->sa.key, peer->sa.keylen);
    w->sent++;
    if (mw.err) {
        a->cnt.tx_errors++;
        log_err("BR for %s: cannot encode: %s", w->sid, mip_err_str(mw.err));
        return;
    }
    struct pkt_addr to = {.addr = peer->addr, .port = MIP_UDP_PORT, .local = a->cfg->pcn.address};
    int rc = a->tx(a->tx_ctx, &to, buf, mw.len);
    if (w->sent > 1)
        a->cnt.br_retx++;
    if (rc < 0) {
        a->cnt.tx_errors++;
        log_warn("BR for %s to %s: send failed (%d), will retry", w->sid, inet_ntoa(peer->addr),
                 rc);
    } else {
        a->cnt.br_tx++;
    }
    agent_event_ip(a, "tx", "BR", peer->addr, w->sid, -1);
}

static void arm_next(struct pcn_refresh *r, struct watch *w)
{
    loop_timer_arm(r->a->loop, &w->timer, w->wait_ms);
    w->wait_ms = w->wait_ms >= PCN_BR_MAX_WAIT_MS / 2 ? PCN_BR_MAX_WAIT_MS : w->wait_ms * 2;
}

static void on_timer(struct loop *l, void *arg)
{
    (void)l;
    struct watch *w = arg;
    struct pcn_refresh *r = w->r;
    /* Until a BU or the expiry ends the round (both stop the timer). */
    send_br(r, w);
    arm_next(r, w);
}

static void round_start(struct pcn_refresh *r, struct watch *w, time_t left)
{
    struct agent *a = r->a;
    char h[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &w->hoa, h, sizeof(h));
    log_info("VPN session %s (%s): %lld s left (threshold %u s): Binding Request to HA %s", w->sid,
             h, (long long)left, a->cfg->pcn.refresh_threshold_s,
             inet_ntoa(a->cfg->pcn.ha_peers[w->peer].addr));
    w->asked = true;
    w->active = true;
    w->sent = 0;
    w->wait_ms = a->cfg->pcn.br_timeout_ms;
    r->n_active++;
    send_br(r, w);
    arm_next(r, w);
}

void pcn_refresh_updated(struct pcn_refresh *r, const struct vpn_session *s, size_t peer,
                         time_t now)
{
    struct agent *a = r->a;
    struct watch *w = find_sid(r, s->id);
    if (!w) {
        w = calloc(1, sizeof(*w));
        if (w)
            w->sid = strdup(s->id);
        if (!w || !w->sid) {
            free(w);
            log_err("VPN session %s: out of memory, its lifetime is not watched", s->id);
            return;
        }
        w->r = r;
        loop_timer_init(&w->timer, on_timer, w);
        hmap_insert(&r->by_sid, &w->by_sid, hmap_hash_str(w->sid));
        w->hoa = s->hoa;
        hmap_insert(&r->by_hoa, &w->by_hoa, w->hoa.s_addr);
    } else if (w->hoa.s_addr != s->hoa.s_addr) {
        hmap_remove(&r->by_hoa, &w->by_hoa);
        w->hoa = s->hoa;
        hmap_insert(&r->by_hoa, &w->by_hoa, w->hoa.s_addr);
    }
    w->peer = peer;
    /* A lifetime at or below the threshold is all the HA has left to give
     * (its answer to a BR carries the binding's remaining lifetime, rounded
     * up: typically the threshold itself); asking again would only repeat
     * that answer every second. */
    w->asked = s->expires - now <= (time_t)a->cfg->pcn.refresh_threshold_s;
    /* Every round for this home address has its answer. */
    for (struct hnode *n = hmap_first(&r->by_hoa, s->hoa.s_addr); n; n = hmap_next_same(n)) {
        struct watch *o = hmap_entry(n, struct watch, by_hoa);
        if (o->hoa.s_addr != s->hoa.s_addr || !o->active)
            continue;
        round_stop(r, o);
        a->cnt.br_refreshed++;
        log_info("VPN session %s: a BU came after %u Binding Request(s)", o->sid, o->sent);
    }
}

void pcn_refresh_forget(struct pcn_refresh *r, const char *sid, bool expired)
{
    struct watch *w = find_sid(r, sid);
    if (!w)
        return;
    if (expired && w->active) {
        r->a->cnt.br_unanswered++;
        log_info("VPN session %s expired: HA %s sent no BU after %u Binding Request(s)", sid,
                 inet_ntoa(r->a->cfg->pcn.ha_peers[w->peer].addr), w->sent);
    }
    watch_free(r, w);
}

void pcn_refresh_check(struct pcn_refresh *r, time_t now)
{
    struct agent *a = r->a;
    uint32_t thr = a->cfg->pcn.refresh_threshold_s;
    if (thr == 0 || !a->vpn)
        return;
    size_t bkt = 0;
    for (struct hnode *n = hmap_iter(&r->by_sid, &bkt, NULL); n;
         n = hmap_iter(&r->by_sid, &bkt, n)) {
        struct watch *w = hmap_entry(n, struct watch, by_sid);
        if (w->asked)
            continue;
        const struct vpn_session *s = vpn_cache_find(a->vpn, w->sid);
        if (s && s->expires - now < (time_t)thr)
            round_start(r, w, s->expires - now);
    }
}
