/* aaad: the few freeDiameter look-ups diam.h does not offer (see aaad.h).  Callable from any
 * thread: freeDiameter locks its peer list itself. */
#include "aaad.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

#include "diam.h"
#include "log.h"
#include "mip4vpn_dict.h"
#include "vpn_profile.h"

#define AVP_DESTINATION_REALM 283
#define AVP_DESTINATION_HOST 293

static void copy_id(char *buf, size_t len, const char *id, size_t idlen)
{
    if (!id || !idlen) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, "%.*s", (int)idlen, id);
}

int aaad_msg_parse(struct msg *m)
{
    return fd_msg_parse_dict(m, fd_g_config->cnf_dict, NULL);
}

/* ---- taking requests off the forwarding path ---------------------------------------------- */

#define TAKE_MAX_CMDS 4

static struct {
    uint32_t cmds[TAKE_MAX_CMDS];
    size_t n;
    aaad_take_cb cb;
    void *ctx;
    struct fd_rt_fwd_hdl *hdl;
} g_take;

/* freeDiameter routing-in thread, for every request it is about to forward.  RT_FWD_REQ
 * handlers run before RT_FWD_ALL ones (routing_dispatch.c orders them by direction), so the
 * message is ours before diam_on_forward's callback could see it. */
static int take_fwd(void *cbdata, struct msg **m)
{
    (void)cbdata;
    struct msg_hdr *hdr = NULL;
    if (!*m || fd_msg_hdr(*m, &hdr) || !(hdr->msg_flags & CMD_FLAG_REQUEST) ||
        hdr->msg_appl != MIP4_APPLICATION_ID)
        return 0;
    bool want = false;
    for (size_t i = 0; i < g_take.n; i++)
        want |= hdr->msg_code == g_take.cmds[i];
    if (!want)
        return 0;
    if (aaad_msg_parse(*m) != 0) {
        log_warn("request %u to forward does not parse against our dictionary: passed on unread",
                 hdr->msg_code);
        return 0;
    }
    if (g_take.cb(g_take.ctx, *m, hdr->msg_code))
        *m = NULL; /* ours now: the loop answers it or hands it back (aaad_forward) */
    return 0;
}

int aaad_take_requests(const uint32_t *cmds, size_t n, aaad_take_cb cb, void *ctx)
{
    if (g_take.hdl || !n || n > TAKE_MAX_CMDS || !cb)
        return EINVAL;
    memcpy(g_take.cmds, cmds, n * sizeof(*cmds));
    g_take.n = n;
    g_take.cb = cb;
    g_take.ctx = ctx;
    /* Unregistered by freeDiameter itself at shutdown (fd_rtdisp_cleanup). */
    return fd_rt_fwd_register(take_fwd, NULL, RT_FWD_REQ, &g_take.hdl);
}

int aaad_forward(struct msg **m)
{
    /* What freeDiameter's forwarding does after the callbacks (routing_dispatch.c msg_rt_in):
     * queue the request for routing-out, which picks the next hop; the answer comes back
     * through the forwarding path to the peer the request came from. */
    int rc = fd_msg_send(m, NULL, NULL);
    if (rc && *m) {
        diam_msg_free(*m);
        *m = NULL;
    }
    return rc;
}

bool aaad_peer_realm(const char *diamid, char *buf, size_t len)
{
    struct peer_hdr *p = NULL;
    buf[0] = '\0';
    if (!diamid || fd_peer_getbyid((DiamId_t)diamid, strlen(diamid), 1, &p) || !p ||
        !p->info.runtime.pir_realm)
        return false;
    snprintf(buf, len, "%.*s", (int)p->info.runtime.pir_realmlen,
             (const char *)p->info.runtime.pir_realm);
    return true;
}

void aaad_msg_source(struct msg *m, char *buf, size_t len)
{
    DiamId_t id = NULL;
    size_t idlen = 0;
    if (!m || fd_msg_source_get(m, &id, &idlen))
        id = NULL;
    copy_id(buf, len, (const char *)id, idlen);
}

void aaad_answer_dest(struct msg *ans, char *buf, size_t len)
{
    struct msg *q = NULL;
    if (!ans || fd_msg_answ_getq(ans, &q) || !q) {
        snprintf(buf, len, "?");
        return;
    }
    aaad_msg_source(q, buf, len);
}

void aaad_request_dest(struct msg *req, char *buf, size_t len)
{
    if (diam_get_str(req, AVP_DESTINATION_HOST, 0, buf, len) == 0 && *buf)
        return;
    if (diam_get_str(req, AVP_DESTINATION_REALM, 0, buf, len) == 0 && *buf)
        return;
    snprintf(buf, len, "?");
}

/* Whether a peer's connection is TLS-protected, from its configured security: freeDiameter
 * keeps a connection in clear only for a peer whose security is "transparent" (PI_SEC_NONE:
 * No_TLS in its ConnectPeer entry, or set by a validator such as acl_wl); otherwise it does TLS
 * at connect or in band, or refuses the peer (libfdcore p_ce.c).  The runtime certificate list
 * cannot tell: 1.2.1 wipes pir_cert_list when it stores the peer's CER/CEA information
 * (cleanup_remote_CE_info), so it is NULL on most TLS connections. */
static int peer_tls(const struct peer_hdr *p, int state)
{
    if (p->info.config.pic_flags.sec & PI_SEC_NONE)
        return 0;
    return state == STATE_OPEN ? 1 : -1;
}

int aaad_peer_tls(const char *diamid)
{
    struct peer_hdr *p = NULL;
    if (!diamid || fd_peer_getbyid((DiamId_t)diamid, strlen(diamid), 1, &p) || !p)
        return -1;
    return peer_tls(p, fd_peer_get_state(p));
}

unsigned aaad_peers_open(void)
{
    unsigned n = 0;
    if (pthread_rwlock_rdlock(&fd_g_peers_rw))
        return 0;
    for (struct fd_list *li = fd_g_peers.next; li != &fd_g_peers; li = li->next)
        if (fd_peer_get_state((struct peer_hdr *)li->o) == STATE_OPEN)
            n++;
    pthread_rwlock_unlock(&fd_g_peers_rw);
    return n;
}

void aaad_dump_peers(FILE *out)
{
    fputc('[', out);
    if (pthread_rwlock_rdlock(&fd_g_peers_rw) == 0) {
        bool first = true;
        for (struct fd_list *li = fd_g_peers.next; li != &fd_g_peers; li = li->next) {
            struct peer_hdr *p = (struct peer_hdr *)li->o;
            int st = fd_peer_get_state(p);
            fprintf(out, "%s{\"peer\":", first ? "" : ",");
            vpn_json_str(out, (const char *)p->info.pi_diamid);
            int tls = peer_tls(p, st);
            fprintf(out, ",\"state\":\"%s\",\"tls\":%s,\"realm\":", STATE_STR(st),
                    tls > 0    ? "true"
                    : tls == 0 ? "false"
                               : "null");
            vpn_json_str(out,
                         p->info.runtime.pir_realm ? (const char *)p->info.runtime.pir_realm : "");
            fputc('}', out);
            first = false;
        }
        pthread_rwlock_unlock(&fd_g_peers_rw);
    }
    fputc(']', out);
}
