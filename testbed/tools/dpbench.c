/*
 * dpbench: kernel programming benchmark of the dataplane (DESIGN §11,
 * issue 4 "Also").  In a fresh network namespace (with a veth between the two
 * tunnel endpoints) it installs and then removes N ESP tunnel-mode SAs + N
 * policies (one of each per profile, distinct SPIs and selectors, keys from
 * RAND_bytes) through our dataplane (dp_xfrm_many, batched netlink), and, in
 * the same run, the same objects with `ip -batch` as the baseline.  After each
 * install the kernel must hold exactly N states and N policies, after each
 * removal none.  Then the DSCP marks (DESIGN §8): N ipset hash:net,net
 * elements (profile i: (10.128.0.0+i)/32 -> 172.16.50.0/24, DSCP class EF or
 * AF41 alternately) through our dataplane (dp_mark_many: libipset, aggregated)
 * and, in the same run, with `ipset restore` of the same elements into sets of
 * the same type; each class's set (and our mangle rule) exists before the
 * timing starts on both sides, so only elements are timed; after each install
 * the sets hold exactly the N elements, after each removal none.  Prints
 * objects/s for both and the ratio; asserts no speed.
 *
 *   dpbench [--n 1000,10000] [--json FILE] [--ip PATH] [--ipset PATH]
 *
 * Needs root and a kernel with xfrm_user + esp4, ip_set_hash_netnet, xt_set
 * and xt_DSCP (testbed/bench runs it inside UML when the host lacks them).
 * Exit: 0 measured, 1 failure, 77 skipped.
 */
#include "dataplane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define ENC_KEY_LEN 16  /* cbc(aes) 128 */
#define AUTH_KEY_LEN 32 /* hmac(sha256) */
#define SPI_BASE 0x10000u
#define MAX_N 1000000u

static const char *ip_bin = "ip";
static const char *ipset_bin = "ipset";

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dpbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a shell command, returns its whole stdout (caller frees). */
static char *capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        die("popen %s: %s", cmd, strerror(errno));
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    if (!buf)
        die("out of memory");
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("out of memory");
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    if (st != 0)
        die("command failed (status %d): %s\n%s", st, cmd, buf);
    return buf;
}

static void sh(const char *cmd)
{
    free(capture(cmd));
}

/* The kernel's own counters: `ip xfrm state count` ("SAD count N") and
 * `ip xfrm policy count` ("SPD IN n OUT n FWD n ..."). */
static void kernel_counts(unsigned long *states, unsigned long *policies)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s xfrm state count; %s xfrm policy count", ip_bin, ip_bin);
    char *out = capture(cmd);
    const char *p = strstr(out, "SAD count ");
    if (!p)
        die("cannot parse SAD count: %s", out);
    *states = strtoul(p + strlen("SAD count "), NULL, 10);
    *policies = 0;
    static const char *dirs[] = {" IN ", " OUT ", " FWD "};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        p = strstr(out, dirs[i]);
        if (!p)
            die("cannot parse SPD count: %s", out);
        *policies += strtoul(p + strlen(dirs[i]), NULL, 10);
    }
    free(out);
}

static void expect_kernel(unsigned long want, const char *who, const char *what)
{
    unsigned long s, p;
    kernel_counts(&s, &p);
    if (s != want || p != want)
        die("%s %s: kernel holds %lu states and %lu policies, want %lu each", who, what, s, p,
            want);
    if (want == 0) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "%s xfrm state list; %s xfrm policy list", ip_bin, ip_bin);
        char *out = capture(cmd);
        if (out[0])
            die("%s %s: left in the kernel:\n%.2000s", who, what, out);
        free(out);
    }
}

struct profile_set {
    unsigned n;
    struct dp_xfrm_state *sas;
    struct dp_xfrm_policy *pols;
    uint8_t *keys; /* n * (ENC_KEY_LEN + AUTH_KEY_LEN) */
};

static struct in_addr addr(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        die("bad address %s", s);
    return a;
}

/* Profile i: SA 192.0.2.1 -> 192.0.2.2 spi SPI_BASE+i; policy out
 * 10.0.0.0/24 -> (10.128.0.0 + i)/32 through that SA. */
static void profiles_make(struct profile_set *ps, unsigned n)
{
    ps->n = n;
    ps->sas = calloc(n, sizeof(*ps->sas));
    ps->pols = calloc(n, sizeof(*ps->pols));
    ps->keys = malloc((size_t)n * (ENC_KEY_LEN + AUTH_KEY_LEN));
    if (!ps->sas || !ps->pols || !ps->keys)
        die("out of memory");
    if (RAND_bytes(ps->keys, (int)((size_t)n * (ENC_KEY_LEN + AUTH_KEY_LEN))) != 1)
        die("RAND_bytes failed");
    struct in_addr gw_a = addr("192.0.2.1"), gw_b = addr("192.0.2.2");
    for (unsigned i = 0; i < n; i++) {
        struct dp_xfrm_state *s = &ps->sas[i];
        uint8_t *k = ps->keys + (size_t)i * (ENC_KEY_LEN + AUTH_KEY_LEN);
        s->src = gw_a;
        s->dst = gw_b;
        s->proto = DP_XFRM_ESP;
        s->spi = SPI_BASE + i;
        snprintf(s->enc.name, sizeof(s->enc.name), "cbc(aes)");
        s->enc.key = k;
        s->enc.key_len = ENC_KEY_LEN;
        snprintf(s->auth.name, sizeof(s->auth.name), "hmac(sha256)");
        s->auth.key = k + ENC_KEY_LEN;
        s->auth.key_len = AUTH_KEY_LEN;
        s->auth.icv_bits = 128;

        struct dp_xfrm_policy *p = &ps->pols[i];
        p->src = addr("10.0.0.0");
        p->src_plen = 24;
        p->dst.s_addr = htonl(0x0a800000u + i);
        p->dst_plen = 32;
        p->dir = DP_XFRM_DIR_OUT;
        p->priority = 100;
        p->tmpl_src = gw_a;
        p->tmpl_dst = gw_b;
        p->proto = DP_XFRM_ESP;
        p->spi = s->spi;
    }
}

static void profiles_free(struct profile_set *ps)
{
    OPENSSL_cleanse(ps->keys, (size_t)ps->n * (ENC_KEY_LEN + AUTH_KEY_LEN));
    free(ps->keys);
    free(ps->sas);
    free(ps->pols);
}

static void hex(FILE *f, const uint8_t *b, size_t n)
{
    fputs("0x", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}

/* ip -batch files: install (state then policy per profile) and removal
 * (policy then state). */
static void write_batches(const struct profile_set *ps, const char *add_path, const char *del_path)
{
    FILE *fa = fopen(add_path, "w"), *fd = fopen(del_path, "w");
    if (!fa || !fd)
        die("cannot write %s / %s: %s", add_path, del_path, strerror(errno));
    for (unsigned i = 0; i < ps->n; i++) {
        const struct dp_xfrm_state *s = &ps->sas[i];
        const struct dp_xfrm_policy *p = &ps->pols[i];
        char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], ps_[INET_ADDRSTRLEN], pd[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &s->src, src, sizeof(src));
        inet_ntop(AF_INET, &s->dst, dst, sizeof(dst));
        inet_ntop(AF_INET, &p->src, ps_, sizeof(ps_));
        inet_ntop(AF_INET, &p->dst, pd, sizeof(pd));
        fprintf(fa,
                "xfrm state add src %s dst %s proto esp spi 0x%08x reqid %u mode tunnel enc %s ",
                src, dst, s->spi, s->reqid, s->enc.name);
        hex(fa, s->enc.key, s->enc.key_len);
        fprintf(fa, " auth-trunc %s ", s->auth.name);
        hex(fa, s->auth.key, s->auth.key_len);
        fprintf(fa, " %u\n", s->auth.icv_bits);
        fprintf(fa,
                "xfrm policy add src %s/%u dst %s/%u dir out priority %u "
                "tmpl src %s dst %s proto esp spi 0x%08x reqid %u mode tunnel\n",
                ps_, p->src_plen, pd, p->dst_plen, p->priority, src, dst, p->spi, p->reqid);
        fprintf(fd, "xfrm policy delete src %s/%u dst %s/%u dir out\n", ps_, p->src_plen, pd,
                p->dst_plen);
        fprintf(fd, "xfrm state delete src %s dst %s proto esp spi 0x%08x\n", src, dst, s->spi);
    }
    if (fclose(fa) != 0 || fclose(fd) != 0)
        die("writing batch files: %s", strerror(errno));
}

/* Runs `ip -batch FILE` and returns the elapsed seconds (spawn to exit). */
static double ip_batch(const char *path)
{
    char *argv[] = {(char *)ip_bin, "-batch", (char *)path, NULL};
    double t0 = now();
    pid_t pid;
    int r = posix_spawnp(&pid, ip_bin, NULL, NULL, argv, environ);
    if (r != 0)
        die("spawn %s: %s", ip_bin, strerror(r));
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid: %s", strerror(errno));
    double t1 = now();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("ip -batch %s failed (status %d)", path, st);
    return t1 - t0;
}

/* Our dataplane: all 2n operations in one dp_xfrm_many call.  Returns the
 * elapsed seconds. */
static double ours(struct dataplane *dp, const struct profile_set *ps, bool install,
                   struct dp_xfrm_op *ops)
{
    for (unsigned i = 0; i < ps->n; i++) {
        if (install) {
            ops[2 * i] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_GET, .sa = &ps->sas[i]};
            ops[2 * i + 1] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_GET, .pol = &ps->pols[i]};
        } else {
            ops[2 * i] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_PUT, .pol = &ps->pols[i]};
            ops[2 * i + 1] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_PUT, .sa = &ps->sas[i]};
        }
    }
    double t0 = now();
    unsigned failed = dp_xfrm_many(dp, ops, 2 * (size_t)ps->n);
    double t1 = now();
    if (failed) {
        for (size_t i = 0; i < 2 * (size_t)ps->n; i++)
            if (ops[i].result < 0)
                die("dataplane %s: %u of %u ops failed, first at op %zu: %s",
                    install ? "install" : "removal", failed, 2 * ps->n, i,
                    strerror(-ops[i].result));
    }
    unsigned want = install ? ps->n : 0;
    if (dp_count(dp, DP_OBJ_XFRM_STATE) != want || dp_count(dp, DP_OBJ_XFRM_POLICY) != want)
        die("dataplane shadow holds %u states, %u policies, want %u",
            dp_count(dp, DP_OBJ_XFRM_STATE), dp_count(dp, DP_OBJ_XFRM_POLICY), want);
    return t1 - t0;
}

struct result {
    unsigned n;
    double ours_add, ours_del, ip_add, ip_del; /* seconds */
    bool marks;                                /* the ipset part ran */
    double mk_ours_add, mk_ours_del, mk_rs_add, mk_rs_del;
};

/* ---- DSCP marks: ipset hash:net,net elements ------------------------------- */

static const uint8_t CLASSES[2] = {46, 34}; /* EF, AF41 */

/* Mark of profile i: (10.128.0.0 + i)/32 -> 172.16.50.0/24, class EF or AF41. */
static struct dp_mark mark_of(unsigned i)
{
    struct dp_mark m = {.src_plen = 32, .dst_plen = 24, .dscp = CLASSES[i % 2]};
    m.src.s_addr = htonl(0x0a800000u + i);
    m.dst = addr("172.16.50.0");
    return m;
}

/* Number of elements the kernel's set holds (its header, `ipset list -t`);
 * -1 if the set does not exist. */
static long set_entries(const char *set)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "%s list -t %s 2>/dev/null || true", ipset_bin, set);
    char *out = capture(cmd);
    const char *p = strstr(out, "Number of entries: ");
    long n = p ? strtol(p + strlen("Number of entries: "), NULL, 10) : -1;
    free(out);
    return n;
}

static void expect_set_entries(const char *prefix, unsigned n, const char *who, const char *what)
{
    for (int c = 0; c < 2; c++) {
        char set[32];
        snprintf(set, sizeof(set), "%s%u", prefix, CLASSES[c]);
        /* the anchor element of each class (ours) is not counted in n */
        long want = (long)(n / 2 + (c == 0 ? n % 2 : 0)) + (strcmp(prefix, "mipd_dscp_") ? 0 : 1);
        long got = set_entries(set);
        if (got != want)
            die("%s %s: set %s holds %ld elements, want %ld", who, what, set, got, want);
    }
}

/* Ours: one dp_mark_many call for the n elements.  Returns the seconds. */
static double marks_ours(struct dataplane *dp, unsigned n, bool install, struct dp_mark *m,
                         struct dp_mark_op *ops)
{
    for (unsigned i = 0; i < n; i++) {
        m[i] = mark_of(i);
        ops[i] = (struct dp_mark_op){.op = install ? DP_MARK_GET : DP_MARK_PUT, .mark = &m[i]};
    }
    double t0 = now();
    unsigned failed = dp_mark_many(dp, ops, n);
    double t1 = now();
    if (failed)
        for (unsigned i = 0; i < n; i++)
            if (ops[i].result < 0)
                die("dataplane marks %s: %u of %u failed, first at %u: %s",
                    install ? "install" : "removal", failed, n, i, strerror(-ops[i].result));
    return t1 - t0;
}

/* `ipset restore` files: adds, then deletes, of the same elements into sets
 * "dpb_dscp_<class>" of the same type. */
static void write_restore(unsigned n, const char *add_path, const char *del_path)
{
    FILE *fa = fopen(add_path, "w"), *fd = fopen(del_path, "w");
    if (!fa || !fd)
        die("cannot write %s / %s: %s", add_path, del_path, strerror(errno));
    for (unsigned i = 0; i < n; i++) {
        struct dp_mark m = mark_of(i);
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &m.src, a, sizeof(a));
        inet_ntop(AF_INET, &m.dst, b, sizeof(b));
        fprintf(fa, "add dpb_dscp_%u %s/32,%s/24\n", m.dscp, a, b);
        fprintf(fd, "del dpb_dscp_%u %s/32,%s/24\n", m.dscp, a, b);
    }
    if (fclose(fa) != 0 || fclose(fd) != 0)
        die("writing restore files: %s", strerror(errno));
}

/* Runs `ipset restore < FILE` and returns the elapsed seconds. */
static double ipset_restore(const char *path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, path, O_RDONLY, 0);
    char *argv[] = {(char *)ipset_bin, "restore", NULL};
    double t0 = now();
    pid_t pid;
    int r = posix_spawnp(&pid, ipset_bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        die("spawn %s: %s", ipset_bin, strerror(r));
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid: %s", strerror(errno));
    double t1 = now();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("ipset restore < %s failed (status %d)", path, st);
    return t1 - t0;
}

/* Can this kernel hold hash:net,net sets and the DSCP target? */
static bool marks_available(struct dataplane *dp)
{
    struct dp_mark m = mark_of(0);
    int r = dp_mark_get(dp, &m);
    if (r < 0)
        return false;
    return dp_mark_put(dp, &m) == 0;
}

/* One N of the marks part: ours then ipset restore, with the checks. */
static void marks_run(struct dataplane *dp, struct result *r, const char *dir)
{
    unsigned n = r->n;
    struct dp_mark *m = calloc(n, sizeof(*m));
    struct dp_mark_op *ops = calloc(n, sizeof(*ops));
    if (!m || !ops)
        die("out of memory");
    /* One anchor mark per class keeps its set and rule for the whole run:
     * only elements are timed (the restore side creates its sets first). */
    struct dp_mark anchor[2];
    for (int c = 0; c < 2; c++) {
        anchor[c] = (struct dp_mark){.src = addr("10.127.0.1"),
                                     .src_plen = 32,
                                     .dst = addr("172.16.50.0"),
                                     .dst_plen = 24,
                                     .dscp = CLASSES[c]};
        if (dp_mark_get(dp, &anchor[c]) < 0)
            die("cannot create the DSCP class %u", CLASSES[c]);
    }
    fprintf(stderr, "dpbench: N=%u: marks through the dataplane (dp_mark_many)...\n", n);
    r->mk_ours_add = marks_ours(dp, n, true, m, ops);
    expect_set_entries("mipd_dscp_", n, "dataplane", "mark install");
    r->mk_ours_del = marks_ours(dp, n, false, m, ops);
    expect_set_entries("mipd_dscp_", 0, "dataplane", "mark removal");
    for (int c = 0; c < 2; c++)
        if (dp_mark_put(dp, &anchor[c]) < 0)
            die("cannot remove the DSCP class %u", CLASSES[c]);
    if (dp_count(dp, DP_OBJ_MARK) || dp_count(dp, DP_OBJ_MARK_CLASS) ||
        set_entries("mipd_dscp_46") != -1 || set_entries("mipd_dscp_34") != -1)
        die("dataplane marks: classes left after the removal");

    fprintf(stderr, "dpbench: N=%u: ipset restore...\n", n);
    char add_path[64], del_path[64], cmd[256];
    snprintf(add_path, sizeof(add_path), "%s/add.ipset", dir);
    snprintf(del_path, sizeof(del_path), "%s/del.ipset", dir);
    write_restore(n, add_path, del_path);
    snprintf(cmd, sizeof(cmd),
             "%1$s create dpb_dscp_46 hash:net,net && %1$s create dpb_dscp_34 hash:net,net",
             ipset_bin);
    sh(cmd);
    r->mk_rs_add = ipset_restore(add_path);
    expect_set_entries("dpb_dscp_", n, "ipset restore", "install");
    r->mk_rs_del = ipset_restore(del_path);
    expect_set_entries("dpb_dscp_", 0, "ipset restore", "removal");
    snprintf(cmd, sizeof(cmd), "%1$s destroy dpb_dscp_46 && %1$s destroy dpb_dscp_34", ipset_bin);
    sh(cmd);
    unlink(add_path);
    unlink(del_path);
    r->marks = true;
    free(m);
    free(ops);
}

static double rate(unsigned n, double secs)
{
    return secs > 0 ? 2.0 * n / secs : 0;
}

static void setup_netns(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        die("unshare(CLONE_NEWNET): %s", strerror(errno));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "%1$s link set lo up && "
             "%1$s link add dpb0 type veth peer name dpb1 && "
             "%1$s addr add 192.0.2.1/24 dev dpb0 && %1$s link set dpb0 up && "
             "%1$s addr add 192.0.2.2/24 dev dpb1 && %1$s link set dpb1 up",
             ip_bin);
    sh(cmd);
}

static void usage(FILE *f)
{
    fputs("usage: dpbench [--n 1000,10000] [--json FILE] [--ip PATH] [--ipset PATH]\n", f);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *nlist = "1000,10000", *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            nlist = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--ip") && i + 1 < argc)
            ip_bin = argv[++i];
        else if (!strcmp(argv[i], "--ipset") && i + 1 < argc)
            ipset_bin = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 64;
        }
    }
    unsigned ns[32], nn = 0;
    for (const char *p = nlist; *p;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v == 0 || v > MAX_N || nn == sizeof(ns) / sizeof(ns[0]) ||
            (*end && *end != ','))
            die("bad --n list: %s", nlist);
        ns[nn++] = (unsigned)v;
        p = *end ? end + 1 : end;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "dpbench: skipped (needs root for a network namespace)\n");
        return 77;
    }
    setup_netns();

    struct dataplane *dp = dp_new_netlink();
    if (!dp)
        die("dp_new_netlink failed");
    {
        /* Probe: can this kernel hold an ESP SA at all? */
        struct profile_set probe;
        profiles_make(&probe, 1);
        int r = dp_xfrm_state_get(dp, &probe.sas[0]);
        if (r < 0) {
            fprintf(stderr, "dpbench: skipped (no xfrm/esp in this kernel: %s)\n", strerror(-r));
            profiles_free(&probe);
            dp_free(dp);
            return 77;
        }
        if (dp_xfrm_state_put(dp, &probe.sas[0]) < 0)
            die("probe SA removal failed");
        profiles_free(&probe);
    }
    expect_kernel(0, "start", "");
    bool marks = marks_available(dp);
    if (!marks)
        fprintf(stderr, "dpbench: no ipset hash:net,net / xt_DSCP in this kernel: marks skipped\n");

    char dir[] = "/tmp/dpbench.XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    char add_path[64], del_path[64];
    snprintf(add_path, sizeof(add_path), "%s/add.batch", dir);
    snprintf(del_path, sizeof(del_path), "%s/del.batch", dir);

    struct result res[32];
    for (unsigned k = 0; k < nn; k++) {
        unsigned n = ns[k];
        struct profile_set ps;
        profiles_make(&ps, n);
        struct dp_xfrm_op *ops = calloc(2 * (size_t)n, sizeof(*ops));
        if (!ops)
            die("out of memory");
        struct result *r = &res[k];
        memset(r, 0, sizeof(*r));
        r->n = n;
        fprintf(stderr, "dpbench: N=%u: dataplane (dp_xfrm_many)...\n", n);
        r->ours_add = ours(dp, &ps, true, ops);
        expect_kernel(n, "dataplane", "install");
        r->ours_del = ours(dp, &ps, false, ops);
        expect_kernel(0, "dataplane", "removal");
        free(ops);

        fprintf(stderr, "dpbench: N=%u: ip -batch...\n", n);
        write_batches(&ps, add_path, del_path);
        r->ip_add = ip_batch(add_path);
        expect_kernel(n, "ip -batch", "install");
        r->ip_del = ip_batch(del_path);
        expect_kernel(0, "ip -batch", "removal");
        /* The add file holds keys: overwrite before unlinking. */
        FILE *f = fopen(add_path, "r+");
        if (f) {
            fseek(f, 0, SEEK_END);
            long sz = ftell(f);
            rewind(f);
            for (long i = 0; i < sz; i++)
                fputc(0, f);
            fclose(f);
        }
        unlink(add_path);
        unlink(del_path);
        profiles_free(&ps);
        if (marks)
            marks_run(dp, r, dir);
    }
    rmdir(dir);
    dp_free(dp);

    /* Our process only: a child's ru_maxrss would include our pages copied
     * at fork, so ip's own figure is not reported. */
    struct rusage ru_self;
    getrusage(RUSAGE_SELF, &ru_self);
    struct utsname un;
    uname(&un);

    printf("kernel %s %s; objects = SAs + policies (2 per profile); ours = dp_xfrm_many\n",
           un.sysname, un.release);
    printf("%7s %14s %14s %14s %14s %9s %9s\n", "N", "ours add/s", "ours del/s", "ip-b add/s",
           "ip-b del/s", "ratio add", "ratio del");
    for (unsigned k = 0; k < nn; k++) {
        const struct result *r = &res[k];
        double oa = rate(r->n, r->ours_add), od = rate(r->n, r->ours_del);
        double ia = rate(r->n, r->ip_add), id = rate(r->n, r->ip_del);
        printf("%7u %14.0f %14.0f %14.0f %14.0f %9.2f %9.2f\n", r->n, oa, od, ia, id,
               ia > 0 ? oa / ia : 0, id > 0 ? od / id : 0);
    }
    if (marks) {
        printf("DSCP marks = ipset hash:net,net elements (1 per profile); ours = dp_mark_many "
               "(libipset, aggregated); baseline = ipset restore\n");
        printf("%7s %14s %14s %14s %14s %9s %9s\n", "N", "ours add/s", "ours del/s",
               "restore add/s", "restore del/s", "ratio add", "ratio del");
        for (unsigned k = 0; k < nn; k++) {
            const struct result *r = &res[k];
            double oa = r->n / r->mk_ours_add, od = r->n / r->mk_ours_del;
            double ia = r->n / r->mk_rs_add, id = r->n / r->mk_rs_del;
            printf("%7u %14.0f %14.0f %14.0f %14.0f %9.2f %9.2f\n", r->n, oa, od, ia, id, oa / ia,
                   od / id);
        }
    }
    printf("peak RSS of dpbench: %ld KiB\n", ru_self.ru_maxrss);

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f)
            die("cannot write %s: %s", json, strerror(errno));
        fprintf(f, "{\n  \"benchmark\": \"dataplane\",\n  \"kernel\": \"%s %s\",\n", un.sysname,
                un.release);
        fprintf(f, "  \"objects_per_profile\": 2,\n  \"peak_rss_kib\": %ld,\n", ru_self.ru_maxrss);
        fputs("  \"results\": [\n", f);
        for (unsigned k = 0; k < nn; k++) {
            const struct result *r = &res[k];
            double oa = rate(r->n, r->ours_add), od = rate(r->n, r->ours_del);
            double ia = rate(r->n, r->ip_add), id = rate(r->n, r->ip_del);
            fprintf(f,
                    "    {\"n\": %u, \"objects\": %u,\n"
                    "     \"ours\": {\"install_s\": %.6f, \"remove_s\": %.6f, "
                    "\"install_objs_per_s\": %.1f, \"remove_objs_per_s\": %.1f},\n"
                    "     \"ip_batch\": {\"install_s\": %.6f, \"remove_s\": %.6f, "
                    "\"install_objs_per_s\": %.1f, \"remove_objs_per_s\": %.1f},\n"
                    "     \"ratio_install\": %.3f, \"ratio_remove\": %.3f",
                    r->n, 2 * r->n, r->ours_add, r->ours_del, oa, od, r->ip_add, r->ip_del, ia, id,
                    ia > 0 ? oa / ia : 0, id > 0 ? od / id : 0);
            if (r->marks)
                fprintf(f,
                        ",\n     \"marks\": {\"elements\": %u,\n"
                        "       \"ours\": {\"install_s\": %.6f, \"remove_s\": %.6f, "
                        "\"install_objs_per_s\": %.1f, \"remove_objs_per_s\": %.1f},\n"
                        "       \"ipset_restore\": {\"install_s\": %.6f, \"remove_s\": %.6f, "
                        "\"install_objs_per_s\": %.1f, \"remove_objs_per_s\": %.1f},\n"
                        "       \"ratio_install\": %.3f, \"ratio_remove\": %.3f}",
                        r->n, r->mk_ours_add, r->mk_ours_del, r->n / r->mk_ours_add,
                        r->n / r->mk_ours_del, r->mk_rs_add, r->mk_rs_del, r->n / r->mk_rs_add,
                        r->n / r->mk_rs_del, r->mk_rs_add / r->mk_ours_add,
                        r->mk_rs_del / r->mk_ours_del);
            fprintf(f, "}%s\n", k + 1 < nn ? "," : "");
        }
        fputs("  ]\n}\n", f);
        if (fclose(f) != 0)
            die("writing %s: %s", json, strerror(errno));
    }
    return 0;
}
