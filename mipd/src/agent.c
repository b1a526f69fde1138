#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "mip_proto.h"
#include "vpn_cache.h"
#include "vpn_dp.h"

uint64_t agent_ntp_now(void)
{
    return mip_ntp_now();
}

void agent_dump_counters(const struct agent *a, FILE *out)
{
    fputc('[', out);
    agent_dump_counter_items(a, out);
    fputc(']', out);
}

void agent_dump_counter_items(const struct agent *a, FILE *out)
{
    bool first = true;
#define X(n)                                                                                       \
    fprintf(out, "%s{\"name\":\"" #n "\",\"value\":%llu}", first ? "" : ",",                       \
            (unsigned long long)a->cnt.n);                                                         \
    first = false;
    AGENT_COUNTERS(X)
#undef X
    for (int c = 0; c < 256; c++)
        if (a->cnt.denied_by_code[c])
            fprintf(out, ",{\"name\":\"denied_code_%d\",\"value\":%llu}", c,
                    (unsigned long long)a->cnt.denied_by_code[c]);
}

static void event_str(FILE *out, const char *s)
{
    /* One token: the merge script splits on spaces. */
    if (!s || !*s) {
        fputc('-', out);
        return;
    }
    for (; *s; s++)
        fputc((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ? '_' : *s, out);
}

void agent_event(const struct agent *a, const char *dir, const char *msg, const char *peer,
                 const char *session, int code)
{
    FILE *dst = a->event_out ? a->event_out : stderr;
    /* Built in memory and written at once: freeDiameter's threads log to
     * the same stderr and must not land inside an EVENT line. */
    char *line = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&line, &len);
    if (!out)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(out, "EVENT %lld ", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    event_str(out, a->identity);
    fprintf(out, " %s %s peer=", dir, msg);
    event_str(out, peer);
    fputs(" session=", out);
    event_str(out, session);
    if (code >= 0)
        fprintf(out, " code=%d", code);
    fputc('\n', out);
    if (fclose(out) == 0) {
        fwrite(line, 1, len, dst);
        fflush(dst);
    }
    free(line);
}

void agent_event_ip(const struct agent *a, const char *dir, const char *msg, struct in_addr peer,
                    const char *session, int code)
{
    char p[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer, p, sizeof(p));
    agent_event(a, dir, msg, p, session, code);
}

time_t agent_now_s(struct agent *a)
{
    return (time_t)(loop_now_ms(a->loop) / 1000);
}

/* ---- VPN data plane ---------------------------------------------------------- */

int agent_vpn_init(struct agent *a, struct in_addr node, char *err, size_t errlen)
{
    enum vpn_node_role role = a->cfg->role == ROLE_HA   ? VPN_NODE_HA
                              : a->cfg->role == ROLE_FA ? VPN_NODE_FA
                                                        : VPN_NODE_PCN;
    a->vdp = vpn_dp_new(a->dp, role, node, a->cfg->default_sas, a->cfg->n_default_sas, err, errlen);
    if (!a->vdp) {
        a->cnt.kernel_errors++;
        return -EIO;
    }
    if (a->cfg->n_default_sas)
        log_info("%zu default SA pair(s) installed (vpnshare 0)", a->cfg->n_default_sas);
    return 0;
}

void agent_vpn_fini(struct agent *a)
{
    vpn_dp_free(a->vdp);
    a->vdp = NULL;
}

int agent_vpn_set(struct agent *a, const char *sid, struct in_addr hoa, const struct vpn_profile *p,
                  unsigned n, char *why, size_t whylen)
{
    if (!a->vdp)
        return 0;
    int rc = vpn_dp_set(a->vdp, sid, hoa, p, n, why, whylen);
    if (rc == 0) {
        a->cnt.vpn_set++;
        return 0;
    }
    a->cnt.vpn_set_failed++;
    if (rc == -EINVAL)
        a->cnt.vpn_plan_errors++;
    else if (rc == -ENOKEY)
        a->cnt.vpn_no_default_sa++;
    else
        a->cnt.kernel_errors++;
    log_warn("VPN session %s: tunnel/QoS control failed: %s", sid, why);
    return rc;
}

void agent_vpn_restore(struct agent *a, const char *sid)
{
    if (!a->vdp)
        return;
    struct vpn_session *s = a->vpn ? vpn_cache_find(a->vpn, sid) : NULL;
    if (!s) {
        agent_vpn_remove(a, sid);
        return;
    }
    char why[VPN_ERR_MAX + 64];
    if (vpn_dp_set(a->vdp, sid, s->hoa, s->profiles, s->n_profiles, why, sizeof(why)) < 0) {
        a->cnt.kernel_errors++;
        log_warn("VPN session %s: cannot put the previous objects back: %s", sid, why);
    }
}

void agent_vpn_remove(struct agent *a, const char *sid)
{
    if (!a->vdp || !sid || !vpn_dp_session_objects(a->vdp, sid))
        return;
    unsigned failed = vpn_dp_remove(a->vdp, sid);
    a->cnt.vpn_removed++;
    if (failed) {
        a->cnt.kernel_errors += failed;
        log_warn("VPN session %s: %u kernel object(s) could not be removed", sid, failed);
    }
}
