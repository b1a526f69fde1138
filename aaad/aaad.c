/*
 * aaad: the AAA server (DESIGN §4, aaad/FLOWS.md).
 *
 *   aaad [--role home|foreign] -c FILE [--check-config]
 *
 * home    = AAAH: serves AMR and STR (RFC 4004, RFC 6733 §8.4) from the VPN database,
 *           asks the user's HA with HAR, keeps the VPN information caches.
 * foreign = AAAF: a proxy; freeDiameter forwards AMR/AMA/STR, aaad caches the visited
 *           domain's VPN information from the AMAs it forwards.
 *
 * One thread owns all state (the event loop); freeDiameter's threads hand work to it
 * (diam.h).  SIGTERM/SIGINT: stop Diameter, end every session (keys wiped), exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aaad.h"
#include "ctl.h"
#include "diam.h"
#include "log.h"
#include "loop.h"

static int ctl_cb(void *arg, const char *cmd, const char *args, FILE *out, const char **err)
{
    (void)args;
    struct aaad *ad = arg;
    bool home = ad->cfg.role == AAAD_ROLE_HOME;
    if (!strcmp(cmd, "status")) {
        fprintf(out, ",\"role\":\"%s\",\"identity\":", aaad_role_str(ad->cfg.role));
        ctl_json_str(out, diam_identity(ad->diam));
        fputs(",\"realm\":", out);
        ctl_json_str(out, diam_realm(ad->diam));
        fprintf(out,
                ",\"pid\":%d,\"uptime_s\":%lld,\"sessions\":%zu,\"pending\":%zu,"
                "\"peers_open\":%u,\"timers\":%zu",
                (int)getpid(), (long long)(time(NULL) - ad->started),
                home ? aaad_home_sessions(ad->home) : aaad_foreign_sessions(ad->foreign),
                home ? aaad_home_pending(ad->home) : aaad_foreign_pending(ad->foreign),
                aaad_peers_open(), loop_timer_count(ad->loop));
    } else if (!strcmp(cmd, "sessions")) {
        fputs(",\"items\":", out);
        if (home)
            aaad_home_dump_sessions(ad->home, out);
        else
            aaad_foreign_dump_sessions(ad->foreign, out);
    } else if (!strcmp(cmd, "vpn")) {
        fputs(",\"items\":", out);
        if (home)
            aaad_home_dump_vpn(ad->home, out);
        else
            aaad_foreign_dump_vpn(ad->foreign, out);
    } else if (!strcmp(cmd, "counters")) {
        fputs(",\"items\":", out);
        aaad_dump_counters(ad, out);
    } else if (!strcmp(cmd, "peers")) {
        fputs(",\"items\":", out);
        aaad_dump_peers(out);
    } else {
        *err = "unknown command (status, sessions, vpn, counters, peers)";
        return -1;
    }
    return 0;
}

static void signal_rx(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)ev;
    (void)arg;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u: shutting down", si.ssi_signo);
        loop_stop(l);
    }
}

static void usage(FILE *f)
{
    fputs("usage: aaad [--role home|foreign] -c CONFIG [--check-config]\n"
          "  --role ROLE      home (AAAH) or foreign (AAAF); must agree with the file's 'role'\n"
          "  -c, --config F   libconfig file (see conf/aaad-home.conf, conf/aaad-foreign.conf)\n"
          "  --check-config   validate the configuration and exit\n"
          "Runs in the foreground and logs to stderr (EVENT lines: aaad/FLOWS.md); SIGTERM\n"
          "ends every session, wipes the keys and exits.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    enum aaad_role role = AAAD_ROLE_NONE;
    bool check_only = false;
    int o;
    while ((o = getopt_long(argc, argv, "r:c:kh", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            if (!aaad_role_parse(optarg, &role)) {
                fprintf(stderr, "aaad: --role %s: must be home or foreign\n", optarg);
                return 2;
            }
            break;
        case 'c':
            path = optarg;
            break;
        case 'k':
            check_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
        return 2;
    }

    static struct aaad ad;
    char err[768];
    if (aaad_conf_load(&ad.cfg, path, role, err, sizeof(err)) < 0) {
        fprintf(stderr, "aaad: %s\n", err);
        return 2;
    }
    if (access(ad.cfg.diameter_conf, R_OK) != 0) {
        fprintf(stderr, "aaad: %s: diameter_conf %s: %s\n", path, ad.cfg.diameter_conf,
                strerror(errno));
        aaad_conf_free(&ad.cfg);
        return 2;
    }
    struct stat st;
    if (ad.cfg.role == AAAD_ROLE_HOME && stat(ad.cfg.home.database, &st) != 0) {
        fprintf(stderr, "aaad: %s: database %s: %s (create it with vpnadm)\n", path,
                ad.cfg.home.database, strerror(errno));
        aaad_conf_free(&ad.cfg);
        return 2;
    }
    if (check_only) {
        printf("%s: configuration OK (role %s)\n", path, aaad_role_str(ad.cfg.role));
        aaad_conf_free(&ad.cfg);
        return 0;
    }
    log_threshold = ad.cfg.log_level;
    ad.started = time(NULL);

    /* Signals are blocked before freeDiameter starts its threads, so that they inherit the
     * mask and SIGTERM reaches the signalfd, i.e. the loop. */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);

    ad.loop = loop_new();
    if (!ad.loop) {
        fprintf(stderr, "aaad: cannot create the event loop\n");
        return 1;
    }
    int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0 || loop_add_fd(ad.loop, sfd, EPOLLIN, signal_rx, &ad) < 0) {
        fprintf(stderr, "aaad: signalfd: %s\n", strerror(errno));
        return 1;
    }
    ad.diam = diam_start(ad.loop, ad.cfg.diameter_conf, ad.cfg.vendor_id, err, sizeof(err));
    if (!ad.diam) {
        fprintf(stderr, "aaad: Diameter: %s\n", err);
        return 1;
    }
    if (ad.cfg.role == AAAD_ROLE_HOME)
        ad.home = aaad_home_new(&ad, err, sizeof(err));
    else
        ad.foreign = aaad_foreign_new(&ad, err, sizeof(err));
    if (!ad.home && !ad.foreign) {
        fprintf(stderr, "aaad: %s\n", err);
        diam_stop(ad.diam);
        return 1;
    }
    ad.ctl = ctl_open(ad.loop, ad.cfg.ctl_path, ctl_cb, &ad);
    if (!ad.ctl) {
        fprintf(stderr, "aaad: cannot open control socket %s: %s\n", ad.cfg.ctl_path,
                strerror(errno));
        diam_stop(ad.diam);
        aaad_home_free(ad.home);
        aaad_foreign_free(ad.foreign);
        return 1;
    }
    log_info("aaad %s started as %s (realm %s, control socket %s)",
             ad.cfg.role == AAAD_ROLE_HOME ? "AAAH" : "AAAF", diam_identity(ad.diam),
             diam_realm(ad.diam), ad.cfg.ctl_path);

    loop_run(ad.loop);

    ctl_close(ad.ctl);
    /* Stop Diameter first: its queued callbacks run now, while our state still exists. */
    diam_stop(ad.diam);
    size_t n = ad.home ? aaad_home_sessions(ad.home) : aaad_foreign_sessions(ad.foreign);
    aaad_home_free(ad.home);
    aaad_foreign_free(ad.foreign);
    close(sfd);
    loop_free(ad.loop);
    aaad_conf_free(&ad.cfg);
    log_info("aaad stopped; %zu session(s) ended, keys wiped", n);
    return 0;
}
