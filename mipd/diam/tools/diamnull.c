/*
 * diamnull: the null Diameter application over RFC 4004's commands, and a
 * load generator for it.  It is the substrate baseline of the registration
 * benchmark (DESIGN §11: registrations/s as a ratio of the raw Diameter
 * request/answer capacity over the same hops) and the test of the glue.
 *
 *   diamnull -c FD.conf --serve [--chain-host HOST --chain-realm REALM]
 *       answers every AMR and HAR addressed to it with 2001 at once (the
 *       answer carries the request's User-Name), nothing else.  With
 *       --chain-host it plays the AAAH's message pattern without its logic:
 *       each AMR makes a HAR to HOST, and the AMA goes when the HAA is in.
 *   diamnull -c FD.conf --send N --realm REALM [--host HOST] [--window W]
 *            [--timeout-ms T] [--wait-peers S] [--start-delay-ms D]
 *       sends N AMRs (User-Name, a 60-octet MIP-Reg-Request, MIP-MN-AAA-Auth),
 *       W in flight, and prints one JSON line: sent, ok, errors (by result
 *       code), timeouts, elapsed_s, rate, p50_ms, p99_ms.  Exit 0 iff every
 *       request got 2001.  --start-delay-ms waits that long after the first peer
 *       is open before sending (tests use it to stop the server in between).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

#include "diam.h"
#include "log.h"
#include "loop.h"
#include "mip4vpn_dict.h"

#define AVP_USER_NAME 1

static struct {
    struct diam *d;
    struct loop *loop;
    const char *realm, *host, *chain_host, *chain_realm;
    unsigned total, window, timeout_ms;
    unsigned sent, done, ok, timeouts, inflight;
    unsigned err_codes[8];
    uint32_t err_code_v[8];
    double *lat;
    double t0;
    int exit_code;
} g;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- server ---- */

static void answer_ok(struct msg *req, const char *user)
{
    struct msg *ans = NULL;
    if (diam_new_answer(req, &ans)) {
        diam_msg_free(req);
        return;
    }
    if (user[0])
        diam_add_str(ans, AVP_USER_NAME, 0, user);
    diam_set_result(ans, 2001, NULL);
    diam_answer(g.d, &ans);
}

struct chained {
    struct msg *amr;
    char user[256];
};

static void chain_answered(void *arg, struct msg *haa, const char *why)
{
    struct chained *c = arg;
    if (!haa) {
        log_warn("HAR for %s: %s", c->user, why);
        struct msg *ans = NULL;
        if (diam_new_answer(c->amr, &ans) == 0) {
            diam_set_result(ans, 4006, why);
            diam_answer(g.d, &ans);
        }
    } else {
        diam_msg_free(haa);
        answer_ok(c->amr, c->user);
    }
    free(c);
}

/* AMR -> HAR -> HAA -> AMA, as the AAAH does, with no decision in between. */
static void serve_chained(void *ctx, struct msg *req)
{
    (void)ctx;
    struct chained *c = calloc(1, sizeof(*c));
    struct msg *har = NULL;
    if (!c) {
        diam_msg_free(req);
        return;
    }
    c->amr = req;
    diam_get_str(req, AVP_USER_NAME, 0, c->user, sizeof(c->user));
    int rc = diam_new_request(MIP4_CMD_HAR, NULL, &har);
    if (rc == 0)
        rc = diam_add_dest(har, g.chain_realm, g.chain_host);
    if (rc == 0 && c->user[0])
        rc = diam_add_str(har, AVP_USER_NAME, 0, c->user);
    const uint8_t *rrq;
    size_t rrq_len;
    if (rc == 0 && diam_get_os(req, MIP4_AVP_REG_REQUEST, 0, &rrq, &rrq_len) == 0)
        rc = diam_add_os(har, MIP4_AVP_REG_REQUEST, 0, rrq, rrq_len);
    if (rc == 0)
        rc = diam_send(g.d, &har, 5000, chain_answered, c);
    else if (har)
        diam_msg_free(har);
    if (rc) {
        struct msg *ans = NULL;
        if (diam_new_answer(req, &ans) == 0) {
            diam_set_result(ans, 5012, "cannot send the HAR");
            diam_answer(g.d, &ans);
        }
        free(c);
    }
}

static void serve(void *ctx, struct msg *req)
{
    (void)ctx;
    char user[256] = "";
    diam_get_str(req, AVP_USER_NAME, 0, user, sizeof(user));
    answer_ok(req, user);
}

/* ---- client ---- */

struct req_ctx {
    double t;
    unsigned idx;
};

static void send_more(void);

static void note_error(uint32_t code)
{
    for (size_t i = 0; i < 8; i++) {
        if (g.err_codes[i] == 0 || g.err_code_v[i] == code) {
            g.err_code_v[i] = code;
            g.err_codes[i]++;
            return;
        }
    }
}

static void answered(void *arg, struct msg *ans, const char *why)
{
    struct req_ctx *c = arg;
    g.inflight--;
    g.done++;
    if (!ans) {
        g.timeouts++;
        log_warn("request %u: %s", c->idx, why);
    } else {
        uint32_t rc = diam_result_code(ans);
        if (rc == 2001) {
            g.lat[g.ok++] = now_ms() - c->t;
        } else {
            note_error(rc);
        }
        diam_msg_free(ans);
    }
    free(c);
    if (g.done == g.total)
        loop_stop(g.loop);
    else
        send_more();
}

static void send_one(void)
{
    struct msg *m = NULL;
    unsigned i = g.sent++;
    char user[64];
    snprintf(user, sizeof(user), "user%u@%s", i, g.realm);
    uint8_t rrq[60] = {1, 0x02, 0, 60};
    rrq[20] = (uint8_t)(i >> 24);
    rrq[21] = (uint8_t)(i >> 16);
    rrq[22] = (uint8_t)(i >> 8);
    rrq[23] = (uint8_t)i;
    struct avp *grp = NULL;
    int rc = diam_new_request(MIP4_CMD_AMR, NULL, &m);
    if (rc == 0)
        rc = diam_add_str(m, AVP_USER_NAME, 0, user);
    if (rc == 0)
        rc = diam_add_dest(m, g.realm, g.host);
    if (rc == 0)
        rc = diam_add_os(m, MIP4_AVP_REG_REQUEST, 0, rrq, sizeof(rrq));
    if (rc == 0)
        rc = diam_add_group(m, MIP4_AVP_MN_AAA_AUTH, 0, &grp);
    if (rc == 0)
        rc = diam_add_u32(grp, MIP4_AVP_MN_AAA_SPI, 0, 3);
    if (rc == 0)
        rc = diam_add_u32(grp, MIP4_AVP_AUTH_INPUT_DATA_LENGTH, 0, 44);
    if (rc == 0)
        rc = diam_add_u32(grp, MIP4_AVP_AUTHENTICATOR_LENGTH, 0, 16);
    if (rc == 0)
        rc = diam_add_u32(grp, MIP4_AVP_AUTHENTICATOR_OFFSET, 0, 44);
    struct req_ctx *c = malloc(sizeof(*c));
    if (rc || !c) {
        log_err("cannot build AMR %u (%s)", i, strerror(rc ? rc : ENOMEM));
        free(c);
        if (m)
            diam_msg_free(m);
        g.done++;
        note_error(0);
        return;
    }
    c->t = now_ms();
    c->idx = i;
    g.inflight++;
    if (diam_send(g.d, &m, g.timeout_ms, answered, c)) {
        g.inflight--;
        g.done++;
        note_error(0);
        free(c);
    }
}

static void send_more(void)
{
    while (g.sent < g.total && g.inflight < g.window)
        send_one();
    if (g.done == g.total)
        loop_stop(g.loop);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void start_sending(struct loop *l, void *arg)
{
    (void)l;
    (void)arg;
    g.t0 = now_ms();
    send_more();
}

static void on_signal(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)ev;
    (void)arg;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) > 0)
        loop_stop(l);
}

/* Waits (bounded) until at least one peer is open, so the first requests do
 * not meet an empty routing table. */
static bool wait_peers(unsigned seconds)
{
    for (unsigned i = 0; i < seconds * 10; i++) {
        bool open = false;
        CHECK_POSIX_DO(pthread_rwlock_rdlock(&fd_g_peers_rw), return false);
        for (struct fd_list *li = fd_g_peers.next; li != &fd_g_peers; li = li->next) {
            struct peer_hdr *p = (struct peer_hdr *)li->o;
            if (fd_peer_get_state(p) == STATE_OPEN)
                open = true;
        }
        CHECK_POSIX_DO(pthread_rwlock_unlock(&fd_g_peers_rw), return false);
        if (open)
            return true;
        usleep(100000);
    }
    return false;
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    bool do_serve = false;
    unsigned wait_s = 20, start_delay_ms = 0;
    g.window = 64;
    g.timeout_ms = 5000;
    static const struct option opts[] = {{"conf", required_argument, NULL, 'c'},
                                         {"serve", no_argument, NULL, 's'},
                                         {"send", required_argument, NULL, 'n'},
                                         {"realm", required_argument, NULL, 'r'},
                                         {"host", required_argument, NULL, 'H'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"wait-peers", required_argument, NULL, 'W'},
                                         {"start-delay-ms", required_argument, NULL, 'D'},
                                         {"chain-host", required_argument, NULL, 'C'},
                                         {"chain-realm", required_argument, NULL, 'R'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:sn:r:H:w:t:W:D:C:R:", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            conf = optarg;
            break;
        case 's':
            do_serve = true;
            break;
        case 'n':
            g.total = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            g.realm = optarg;
            break;
        case 'H':
            g.host = optarg;
            break;
        case 'w':
            g.window = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 't':
            g.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'W':
            wait_s = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'D':
            start_delay_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'C':
            g.chain_host = optarg;
            break;
        case 'R':
            g.chain_realm = optarg;
            break;
        default:
            fprintf(stderr, "usage: diamnull -c FD.conf (--serve [--chain-host H [--chain-realm R]]"
                            " | --send N --realm R [--host H] [--window W] [--timeout-ms T]"
                            " [--wait-peers S] [--start-delay-ms D])\n");
            return 2;
        }
    }
    if (g.chain_host && !g.chain_realm)
        g.chain_realm = strchr(g.chain_host, '.') ? strchr(g.chain_host, '.') + 1 : NULL;
    if (!conf || (!do_serve && (!g.total || !g.realm || !g.window)) ||
        (g.chain_host && !g.chain_realm)) {
        fprintf(stderr, "diamnull: -c and either --serve or --send N --realm R are required\n");
        return 2;
    }
    g.loop = loop_new();
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    int sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    loop_add_fd(g.loop, sfd, EPOLLIN, on_signal, NULL);
    char err[256];
    g.d = diam_start(g.loop, conf, 0, err, sizeof(err));
    if (!g.d) {
        fprintf(stderr, "diamnull: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (do_serve) {
        diam_on_request(g.d, MIP4_CMD_AMR, g.chain_host ? serve_chained : serve, NULL);
        diam_on_request(g.d, MIP4_CMD_HAR, serve, NULL);
        fprintf(stderr, "diamnull: serving as %s\n", diam_identity(g.d));
        loop_run(g.loop);
    } else {
        g.lat = calloc(g.total, sizeof(double));
        if (!wait_peers(wait_s)) {
            fprintf(stderr, "diamnull: no peer open after %u s\n", wait_s);
            rc = 1;
        } else {
            struct loop_timer t;
            loop_timer_init(&t, start_sending, NULL);
            fprintf(stderr, "diamnull: peer open, sending in %u ms\n", start_delay_ms);
            loop_timer_arm(g.loop, &t, start_delay_ms);
            loop_run(g.loop);
            double el = (now_ms() - g.t0) / 1e3;
            qsort(g.lat, g.ok, sizeof(double), cmp_d);
            double p50 = g.ok ? g.lat[(g.ok - 1) / 2] : 0;
            double p99 = g.ok ? g.lat[(size_t)((g.ok - 1) * 0.99)] : 0;
            printf("{\"sent\":%u,\"ok\":%u,\"timeouts\":%u,\"errors\":{", g.sent, g.ok, g.timeouts);
            for (size_t i = 0, first = 1; i < 8 && g.err_codes[i]; i++, first = 0)
                printf("%s\"%u\":%u", first ? "" : ",", g.err_code_v[i], g.err_codes[i]);
            printf("},\"elapsed_s\":%.3f,\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", el,
                   el > 0 ? g.ok / el : 0, p50, p99);
            fflush(stdout);
            rc = g.ok == g.total ? 0 : 1;
        }
        free(g.lat);
    }
    diam_stop(g.d);
    loop_free(g.loop);
    return rc;
}
