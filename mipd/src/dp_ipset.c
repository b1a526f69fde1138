/*
 * DSCP marking backend (DESIGN §8, required backend): one ipset hash:net,net
 * per DSCP class in use and one fixed xtables rule per class
 *
 *   iptables-legacy -t mangle -A FORWARD -m set --match-set mipd_dscp_N src,dst
 *                   -j DSCP --set-dscp N
 *
 * Per user only set elements change (libipset, no process per element).
 * The rule is added with the iptables-legacy program: it changes once per
 * class, not per user, and libiptc is not a stable public library; the
 * legacy backend is named explicitly because Debian's `iptables` talks
 * nf_tables, which the data-plane kernel (UML 6.1) lacks for `ip`.
 */
#include "dp_ipset.h"

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libipset/ipset.h>
#include <libipset/session.h>
#include <libipset/types.h>

extern char **environ;

struct dp_ipset {
    struct ipset *ipset;
    char msg[256]; /* last libipset error */
};

static int on_error(struct ipset *ipset, void *p, int status, const char *msg, ...)
{
    (void)ipset;
    (void)status;
    struct dp_ipset *s = p;
    va_list ap;
    va_start(ap, msg);
    vsnprintf(s->msg, sizeof(s->msg), msg, ap);
    va_end(ap);
    return -1;
}

static int on_std_error(struct ipset *ipset, void *p)
{
    struct dp_ipset *s = p;
    const char *m = ipset_session_report_msg(ipset_session(ipset));
    snprintf(s->msg, sizeof(s->msg), "%s", m && *m ? m : "ipset error");
    ipset_session_report_reset(ipset_session(ipset));
    return -1;
}

static int on_print(struct ipset_session *session, void *p, const char *fmt, ...)
{
    (void)session;
    (void)p;
    (void)fmt;
    return 0; /* we list nothing */
}

struct dp_ipset *dp_ipset_new(char *err, size_t errlen)
{
    struct dp_ipset *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ipset_load_types();
    s->ipset = ipset_init();
    if (!s->ipset) {
        snprintf(err, errlen, "libipset: cannot open a session");
        free(s);
        return NULL;
    }
    ipset_custom_printf(s->ipset, on_error, on_std_error, on_print, s);
    return s;
}

void dp_ipset_free(struct dp_ipset *s)
{
    if (!s)
        return;
    ipset_fini(s->ipset);
    free(s);
}

const char *dp_ipset_error(const struct dp_ipset *s)
{
    return s->msg;
}

/* One ipset command line through libipset (the same parser as ipset(8)). */
static int cmd(struct dp_ipset *s, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->msg[0] = 0;
    int rc = ipset_parse_line(s->ipset, line);
    if (rc < 0) {
        if (!s->msg[0])
            snprintf(s->msg, sizeof(s->msg), "ipset %.200s failed", line);
        return -EIO;
    }
    return 0;
}

void dp_ipset_set_name(uint8_t dscp, char name[DP_IPSET_NAMSIZ])
{
    snprintf(name, DP_IPSET_NAMSIZ, "mipd_dscp_%u", dscp);
}

/* Runs iptables-legacy with args; 0, or -EIO with its stderr in s->msg. */
static int iptables(struct dp_ipset *s, const char *const *args)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 0, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "iptables-legacy", &fa, NULL, (char *const *)args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc) {
        close(pfd[0]);
        snprintf(s->msg, sizeof(s->msg), "cannot run iptables-legacy: %s", strerror(rc));
        return -rc;
    }
    ssize_t n = read(pfd[0], s->msg, sizeof(s->msg) - 1);
    s->msg[n > 0 ? n : 0] = 0;
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    char *nl = strchr(s->msg, '\n');
    if (nl)
        *nl = 0;
    return -EIO;
}

static int rule(struct dp_ipset *s, const char *op, uint8_t dscp)
{
    char name[DP_IPSET_NAMSIZ], val[8];
    dp_ipset_set_name(dscp, name);
    snprintf(val, sizeof(val), "%u", dscp);
    const char *args[] = {
        "iptables-legacy", "-w", "-t",      "mangle", op,     "FORWARD",    "-m", "set",
        "--match-set",     name, "src,dst", "-j",     "DSCP", "--set-dscp", val,  NULL};
    return iptables(s, args);
}

int dp_ipset_class_add(struct dp_ipset *s, uint8_t dscp)
{
    char name[DP_IPSET_NAMSIZ];
    dp_ipset_set_name(dscp, name);
    /* A set left by a daemon that died is reused, emptied: its rule may
     * still point at it. */
    int rc = cmd(s, "create %s hash:net,net -exist", name);
    if (rc == 0)
        rc = cmd(s, "flush %s", name);
    if (rc)
        return rc;
    if (rule(s, "-C", dscp) == 0)
        return 0;
    return rule(s, "-A", dscp);
}

int dp_ipset_class_del(struct dp_ipset *s, uint8_t dscp)
{
    char name[DP_IPSET_NAMSIZ];
    dp_ipset_set_name(dscp, name);
    int rc = 0;
    while (rule(s, "-C", dscp) == 0) /* every copy of the rule */
        if ((rc = rule(s, "-D", dscp)) < 0)
            return rc;
    return cmd(s, "destroy %s", name);
}

int dp_ipset_elem(struct dp_ipset *s, bool add, uint8_t dscp, struct in_addr src, uint8_t splen,
                  struct in_addr dst, uint8_t dplen)
{
    char name[DP_IPSET_NAMSIZ], a[16], b[16];
    dp_ipset_set_name(dscp, name);
    inet_ntop(AF_INET, &src, a, sizeof(a));
    inet_ntop(AF_INET, &dst, b, sizeof(b));
    /* hash:net,net refuses /0 ("0.0.0.0/0" is not a valid net): 1..32. */
    if (splen == 0 || dplen == 0) {
        snprintf(s->msg, sizeof(s->msg), "ipset hash:net,net cannot hold a /0 prefix");
        return -EINVAL;
    }
    return cmd(s, "%s %s %s/%u,%s/%u", add ? "add" : "del", name, a, splen, b, dplen);
}
