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
    char msg[256];   /* last libipset error */
    unsigned errors; /* errors reported by libipset (batches) */
};

static int on_error(struct ipset *ipset, void *p, int status, const char *msg, ...)
{
    (void)ipset;
    (void)status;
    struct dp_ipset *s = p;
    s->errors++;
    va_list ap;
    va_start(ap, msg);
    vsnprintf(s->msg, sizeof(s->msg), msg, ap);
    va_end(ap);
    return -1;
}

static int on_std_error(struct ipset *ipset, void *p)
{
    struct dp_ipset *s = p;
    s->errors++;
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
    /* After a batch (ipset_parse_stream) libipset is in restore mode, where
     * an add/del is buffered for aggregation: send it now. */
    if (rc >= 0 && ipset_commit(ipset_session(s->ipset)) < 0)
        rc = -1;
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

/* The kernel elements of one mark: hash:net,net refuses /0 ("0.0.0.0/0" is
 * not a valid net, prefixes 1..32), so a /0 side becomes 0.0.0.0/1 and
 * 128.0.0.0/1.  Writes up to 4 lines "NAME a/p,b/q" into out. */
static unsigned elem_lines(const struct dp_ipset_op *op, char out[4][80])
{
    char name[DP_IPSET_NAMSIZ];
    dp_ipset_set_name(op->dscp, name);
    struct in_addr half[2] = {{0}, {htonl(0x80000000u)}};
    unsigned ns = op->splen ? 1 : 2, nd = op->dplen ? 1 : 2, n = 0;
    for (unsigned i = 0; i < ns; i++)
        for (unsigned j = 0; j < nd; j++) {
            char a[16], b[16];
            inet_ntop(AF_INET, op->splen ? &op->src : &half[i], a, sizeof(a));
            inet_ntop(AF_INET, op->dplen ? &op->dst : &half[j], b, sizeof(b));
            snprintf(out[n++], 80, "%s %s/%u,%s/%u", name, a, op->splen ? op->splen : 1, b,
                     op->dplen ? op->dplen : 1);
        }
    return n;
}

static int elem_one(struct dp_ipset *s, const struct dp_ipset_op *op)
{
    char lines[4][80];
    unsigned n = elem_lines(op, lines);
    for (unsigned i = 0; i < n; i++) {
        int rc = cmd(s, "-exist %s %s", op->add ? "add" : "del", lines[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dp_ipset_elem(struct dp_ipset *s, bool add, uint8_t dscp, struct in_addr src, uint8_t splen,
                  struct in_addr dst, uint8_t dplen)
{
    struct dp_ipset_op op = {
        .add = add, .dscp = dscp, .src = src, .dst = dst, .splen = splen, .dplen = dplen};
    return elem_one(s, &op);
}

static int op_order(const void *x, const void *y)
{
    const struct dp_ipset_op *a = *(const struct dp_ipset_op *const *)x;
    const struct dp_ipset_op *b = *(const struct dp_ipset_op *const *)y;
    if (a->add != b->add)
        return a->add ? 1 : -1; /* deletes first */
    return (int)a->dscp - (int)b->dscp;
}

void dp_ipset_batch(struct dp_ipset *s, struct dp_ipset_op *ops, size_t n)
{
    if (n == 0)
        return;
    if (n == 1) {
        ops[0].result = elem_one(s, &ops[0]);
        return;
    }
    /* Grouped by command and set, so libipset can aggregate (it only joins
     * consecutive lines of the same command and set).  The ops touch
     * distinct elements (the shadow sees to it): their order is free. */
    const struct dp_ipset_op **ord = malloc(n * sizeof(*ord));
    char *text = NULL;
    size_t tlen = 0;
    FILE *w = ord ? open_memstream(&text, &tlen) : NULL;
    if (!w) {
        free(ord);
        for (size_t i = 0; i < n; i++)
            ops[i].result = elem_one(s, &ops[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ord[i] = &ops[i];
    qsort(ord, n, sizeof(*ord), op_order);
    for (size_t i = 0; i < n; i++) {
        char lines[4][80];
        unsigned k = elem_lines(ord[i], lines);
        for (unsigned j = 0; j < k; j++)
            fprintf(w, "-exist %s %s\n", ord[i]->add ? "add" : "del", lines[j]);
    }
    free(ord);
    fclose(w);
    FILE *r = fmemopen(text, tlen, "r");
    s->errors = 0;
    s->msg[0] = 0;
    if (r) {
        ipset_parse_stream(s->ipset, r);
        fclose(r);
    }
    free(text);
    bool ok = r && s->errors == 0;
    for (size_t i = 0; i < n; i++)
        ops[i].result = ok ? 0 : elem_one(s, &ops[i]);
}
