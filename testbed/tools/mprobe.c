/*
 * mprobe: sequenced, timestamped UDP probes for the testbed (DESIGN §9).
 *
 *   mprobe send --dst IP --port N --rate PPS --duration S [--src IP] [--size B]
 *   mprobe recv --port N --out FILE.json [--duration S] [--linger MS] [--bind IP]
 *   mprobe echo --port N [--duration S]
 *   mprobe ping --dst IP --port N [--count N] [--timeout-ms MS] [--src IP]
 *
 * send paces datagrams at PPS for S seconds; each carries a run id, its
 * sequence number, the planned total and the sender's CLOCK_REALTIME.  recv
 * counts them and writes {received, lost, max_seq, duplicates, reordered,
 * max_gap_ms, ...}: max_gap_ms is the longest interval without packets, i.e.
 * the interruption seen during a hand-off; "tos" counts arrivals per IP TOS
 * octet as delivered (the DSCP a VPN profile's marking gave them, seed
 * [0052]) and "tos_first_ts" gives each octet's first arrival (when a marked
 * path first delivered); first_seq/first_ts: the first arrival of all.  recv stops
 * after --duration, or --linger ms after the last packet of the run arrived.  echo reflects
 * datagrams; ping measures round trips against an echo (the testbed has no
 * ping(8)).  Everything is bounded in count and time, and destinations must be
 * private, documentation or loopback addresses (the testbed's own hosts).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAGIC 0x4d505242u /* "MPRB" */
#define PROBE_HDR 24
#define MAX_RATE 100000
#define MAX_DURATION 3600
#define MAX_TOTAL 20000000u
#define MAX_SIZE 1400

struct probe_hdr {
    uint32_t magic;
    uint32_t run;
    uint32_t seq;
    uint32_t total;
    uint64_t sent_ns; /* CLOCK_REALTIME of the sender */
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}
static void encode(uint8_t *b, const struct probe_hdr *h)
{
    put32(b, h->magic);
    put32(b + 4, h->run);
    put32(b + 8, h->seq);
    put32(b + 12, h->total);
    put32(b + 16, (uint32_t)(h->sent_ns >> 32));
    put32(b + 20, (uint32_t)h->sent_ns);
}
static bool decode(const uint8_t *b, size_t len, struct probe_hdr *h)
{
    if (len < PROBE_HDR)
        return false;
    h->magic = get32(b);
    h->run = get32(b + 4);
    h->seq = get32(b + 8);
    h->total = get32(b + 12);
    h->sent_ns = ((uint64_t)get32(b + 16) << 32) | get32(b + 20);
    return h->magic == PROBE_MAGIC;
}

/* Only the testbed's own hosts: RFC 1918, RFC 5737 documentation, loopback. */
static bool allowed_dst(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    return (h >> 24) == 10 || (h >> 20) == (172u << 4 | 1) || (h >> 16) == (192u << 8 | 168) ||
           (h >> 8) == (192u << 16 | 2) || (h >> 8) == (198u << 16 | 51u << 8 | 100) ||
           (h >> 8) == (203u << 16 | 113) || (h >> 24) == 127;
}

struct opts {
    const char *dst, *src, *bind, *out;
    int port, rate, size, count, timeout_ms, linger_ms;
    double duration;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: mprobe send --dst IP --port N --rate PPS --duration S [--src IP] [--size B]\n"
            "       mprobe recv --port N --out FILE.json [--duration S] [--linger MS] "
            "[--bind IP]\n"
            "       mprobe echo --port N [--duration S]\n"
            "       mprobe ping --dst IP --port N [--count N] [--timeout-ms MS] [--src IP]\n");
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "mprobe: %s must be %d..%d\n", what, lo, hi);
        exit(2);
    }
    return (int)v;
}

static int udp_socket(const char *bind_ip, int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("mprobe: socket");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* The source may be a home address that is configured a moment later. */
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    int rcv = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind_ip && inet_pton(AF_INET, bind_ip, &sa.sin_addr) != 1) {
        fprintf(stderr, "mprobe: bad address %s\n", bind_ip);
        exit(2);
    }
    if ((bind_ip || port) && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("mprobe: bind");
        exit(1);
    }
    return fd;
}

static struct sockaddr_in dst_addr(const struct opts *o)
{
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (!o->dst || inet_pton(AF_INET, o->dst, &d.sin_addr) != 1) {
        fprintf(stderr, "mprobe: --dst IP required\n");
        exit(2);
    }
    if (!allowed_dst(d.sin_addr)) {
        fprintf(stderr, "mprobe: %s is not a testbed address\n", o->dst);
        exit(2);
    }
    return d;
}

static uint32_t random_run(void)
{
    return (uint32_t)(now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 16)) | 1u;
}

static int cmd_send(const struct opts *o)
{
    struct sockaddr_in d = dst_addr(o);
    if (o->rate <= 0 || o->duration <= 0) {
        fprintf(stderr, "mprobe: --rate and --duration required\n");
        return 2;
    }
    uint64_t total64 = (uint64_t)(o->rate * o->duration + 0.5);
    if (total64 == 0 || total64 > MAX_TOTAL) {
        fprintf(stderr, "mprobe: rate x duration must be 1..%u packets\n", MAX_TOTAL);
        return 2;
    }
    uint32_t total = (uint32_t)total64;
    int fd = udp_socket(o->src, 0);
    uint8_t buf[MAX_SIZE];
    memset(buf, 0, sizeof(buf));
    struct probe_hdr h = {.magic = PROBE_MAGIC, .run = random_run(), .total = total};
    uint64_t period = 1000000000ull / (uint64_t)o->rate;
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    uint64_t sent = 0, errors = 0;
    int last_errno = 0;
    for (uint32_t i = 0; i < total && !g_stop; i++) {
        uint64_t due = t0 + (uint64_t)i * period;
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull),
                              .tv_nsec = (long)(due % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !g_stop)
            ;
        h.seq = i;
        h.sent_ns = now_ns(CLOCK_REALTIME);
        encode(buf, &h);
        if (sendto(fd, buf, (size_t)o->size, 0, (struct sockaddr *)&d, sizeof(d)) < 0) {
            errors++;
            last_errno = errno;
        } else {
            sent++;
        }
    }
    double secs = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    printf("{\"mode\":\"send\",\"run\":%" PRIu32 ",\"planned\":%" PRIu32 ",\"sent\":%" PRIu64
           ",\"send_errors\":%" PRIu64 ",\"last_error\":\"%s\",\"duration_s\":%.3f}\n",
           h.run, total, sent, errors, errors ? strerror(last_errno) : "", secs);
    close(fd);
    return 0;
}

struct rx_stats {
    bool have_run;
    uint32_t run, total;
    uint8_t *seen; /* bitmap over seq */
    uint64_t received, duplicates, reordered, foreign, bad;
    int64_t max_seq;
    uint64_t first_ns, last_ns; /* realtime of first/last arrival */
    uint64_t max_gap_ns;        /* longest interval between consecutive arrivals */
    int64_t gap_after_seq;      /* seq of the last packet before that interval */
    int64_t prev_seq;           /* seq of the previous arrival */
    double delay_sum_ms, delay_max_ms;
    int64_t first_seq;          /* seq of the first arrival */
    uint64_t tos[256];          /* arrivals per TOS octet (IP_RECVTOS) */
    uint64_t tos_first_ns[256]; /* realtime of the first arrival with that octet */
};

static void rx_account(struct rx_stats *s, const struct probe_hdr *h, uint64_t arr_ns, int tos)
{
    if (!s->have_run) {
        if (h->total == 0 || h->total > MAX_TOTAL) {
            s->bad++;
            return;
        }
        s->have_run = true;
        s->run = h->run;
        s->total = h->total;
        s->seen = calloc((s->total + 7) / 8, 1);
        if (!s->seen) {
            perror("mprobe: calloc");
            exit(1);
        }
    }
    if (h->run != s->run) {
        s->foreign++;
        return;
    }
    if (h->seq >= s->total) {
        s->bad++;
        return;
    }
    uint8_t bit = (uint8_t)(1u << (h->seq & 7));
    if (s->seen[h->seq >> 3] & bit) {
        s->duplicates++;
        return;
    }
    s->seen[h->seq >> 3] |= bit;
    if ((int64_t)h->seq < s->max_seq)
        s->reordered++;
    else
        s->max_seq = h->seq;
    if (tos >= 0 && s->tos[tos]++ == 0)
        s->tos_first_ns[tos] = arr_ns;
    if (s->received == 0) {
        s->first_ns = arr_ns;
        s->first_seq = h->seq;
    } else if (arr_ns - s->last_ns > s->max_gap_ns) {
        s->max_gap_ns = arr_ns - s->last_ns;
        s->gap_after_seq = s->prev_seq;
    }
    s->last_ns = arr_ns;
    s->prev_seq = h->seq;
    s->received++;
    double d = ((double)arr_ns - (double)h->sent_ns) / 1e6;
    s->delay_sum_ms += d;
    if (d > s->delay_max_ms)
        s->delay_max_ms = d;
}

/* {"0xb8":N,...} over the TOS octets seen (first: the realtime of each one's
 * first arrival instead of the count); at most 256 short items. */
static int tos_json(const struct rx_stats *s, bool first, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "{");
    for (int t = 0; t < 256 && n < cap; t++) {
        if (!s->tos[t])
            continue;
        if (first)
            n += (size_t)snprintf(out + n, cap - n, "%s\"0x%02x\":%.6f", n > 1 ? "," : "", t,
                                  (double)s->tos_first_ns[t] / 1e9);
        else
            n += (size_t)snprintf(out + n, cap - n, "%s\"0x%02x\":%" PRIu64, n > 1 ? "," : "", t,
                                  s->tos[t]);
    }
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n, "}");
    return n < cap ? 0 : -1;
}

static int write_rx_json(const struct rx_stats *s, const char *path)
{
    uint64_t expected = s->have_run ? s->total : 0;
    uint64_t lost = expected > s->received ? expected - s->received : 0;
    char tos[256 * 24], tos_first[256 * 32];
    if (tos_json(s, false, tos, sizeof(tos)) != 0)
        snprintf(tos, sizeof(tos), "null");
    if (tos_json(s, true, tos_first, sizeof(tos_first)) != 0)
        snprintf(tos_first, sizeof(tos_first), "null");
    char tmp[24576];
    int n = snprintf(
        tmp, sizeof(tmp),
        "{\"mode\":\"recv\",\"run\":%" PRIu32 ",\"expected\":%" PRIu64 ",\"received\":%" PRIu64
        ",\"lost\":%" PRIu64 ",\"max_seq\":%" PRId64 ",\"duplicates\":%" PRIu64
        ",\"reordered\":%" PRIu64 ",\"foreign\":%" PRIu64 ",\"malformed\":%" PRIu64
        ",\"max_gap_ms\":%.3f,\"gap_after_seq\":%" PRId64 ",\"first_seq\":%" PRId64
        ",\"first_ts\":%.6f,\"last_ts\":%.6f"
        ",\"delay_avg_ms\":%.3f,\"delay_max_ms\":%.3f,\"tos\":%s,\"tos_first_ts\":%s}\n",
        s->run, expected, s->received, lost, s->max_seq, s->duplicates, s->reordered, s->foreign,
        s->bad, (double)s->max_gap_ns / 1e6, s->gap_after_seq, s->first_seq,
        (double)s->first_ns / 1e9, (double)s->last_ns / 1e9,
        s->received ? s->delay_sum_ms / (double)s->received : 0.0, s->delay_max_ms, tos, tos_first);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        fprintf(stderr, "mprobe: result too long\n");
        return 1;
    }
    fputs(tmp, stdout);
    if (!path)
        return 0;
    char part[4096];
    snprintf(part, sizeof(part), "%s.part", path);
    FILE *f = fopen(part, "w");
    if (!f || fwrite(tmp, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0 ||
        rename(part, path) != 0) {
        perror("mprobe: writing the result");
        return 1;
    }
    return 0;
}

/* One datagram with the TOS octet it arrived with (-1 when the kernel gave none). */
static ssize_t recv_tos(int fd, uint8_t *buf, size_t cap, int *tos)
{
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
    ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT);
    *tos = -1;
    if (len < 0)
        return len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && c->cmsg_len >= CMSG_LEN(1))
            *tos = *(const uint8_t *)CMSG_DATA(c);
    }
    return len;
}

static int cmd_recv(const struct opts *o)
{
    if (!o->port) {
        fprintf(stderr, "mprobe: --port required\n");
        return 2;
    }
    int fd = udp_socket(o->bind, o->port);
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) < 0)
        perror("mprobe: IP_RECVTOS");
    struct rx_stats s = {.max_seq = -1, .gap_after_seq = -1, .prev_seq = -1, .first_seq = -1};
    uint64_t start = now_ns(CLOCK_MONOTONIC);
    uint64_t end = start + (uint64_t)(o->duration * 1e9);
    uint64_t done_at = 0; /* set once the run's last packet arrived */
    uint8_t buf[MAX_SIZE + 64];
    while (!g_stop) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        uint64_t stop = done_at && done_at < end ? done_at : end;
        if (now >= stop)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int)((stop - now) / 1000000ull) + 1;
        int r = poll(&p, 1, ms);
        if (r < 0 && errno != EINTR) {
            perror("mprobe: poll");
            break;
        }
        if (r <= 0)
            continue;
        for (;;) {
            int tos;
            ssize_t len = recv_tos(fd, buf, sizeof(buf), &tos);
            if (len < 0)
                break;
            uint64_t arr = now_ns(CLOCK_REALTIME);
            struct probe_hdr h;
            if (!decode(buf, (size_t)len, &h)) {
                s.bad++;
                continue;
            }
            rx_account(&s, &h, arr, tos);
            if (s.have_run && h.run == s.run && h.seq + 1 == s.total && !done_at)
                done_at = now_ns(CLOCK_MONOTONIC) + (uint64_t)o->linger_ms * 1000000ull;
        }
    }
    close(fd);
    int rc = write_rx_json(&s, o->out);
    free(s.seen);
    return rc;
}

static int cmd_echo(const struct opts *o)
{
    if (!o->port) {
        fprintf(stderr, "mprobe: --port required\n");
        return 2;
    }
    int fd = udp_socket(o->bind, o->port);
    uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)(o->duration * 1e9);
    uint64_t echoed = 0;
    uint8_t buf[MAX_SIZE + 64];
    while (!g_stop) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= end)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)((end - now) / 1000000ull) + 1) <= 0)
            continue;
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (len < 0)
            continue;
        if (sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&from, fl) >= 0)
            echoed++;
    }
    printf("{\"mode\":\"echo\",\"echoed\":%" PRIu64 "}\n", echoed);
    close(fd);
    return 0;
}

static int cmd_ping(const struct opts *o)
{
    struct sockaddr_in d = dst_addr(o);
    int fd = udp_socket(o->src, 0);
    struct probe_hdr h = {.magic = PROBE_MAGIC, .run = random_run(), .total = (uint32_t)o->count};
    uint8_t buf[MAX_SIZE + 64];
    int got = 0;
    double mn = 0, mx = 0, sum = 0;
    for (int i = 0; i < o->count && !g_stop; i++) {
        h.seq = (uint32_t)i;
        h.sent_ns = now_ns(CLOCK_REALTIME);
        memset(buf, 0, PROBE_HDR);
        encode(buf, &h);
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        if (sendto(fd, buf, PROBE_HDR, 0, (struct sockaddr *)&d, sizeof(d)) < 0) {
            usleep((useconds_t)o->timeout_ms * 1000);
            continue;
        }
        uint64_t deadline = t0 + (uint64_t)o->timeout_ms * 1000000ull;
        for (;;) {
            uint64_t now = now_ns(CLOCK_MONOTONIC);
            if (now >= deadline || g_stop)
                break;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
                continue;
            ssize_t len = recv(fd, buf, sizeof(buf), 0);
            struct probe_hdr r;
            if (len < 0 || !decode(buf, (size_t)len, &r) || r.run != h.run || r.seq != h.seq)
                continue;
            double rtt = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
            if (!got || rtt < mn)
                mn = rtt;
            if (rtt > mx)
                mx = rtt;
            sum += rtt;
            got++;
            break;
        }
    }
    printf("{\"mode\":\"ping\",\"sent\":%d,\"received\":%d,\"rtt_min_ms\":%.3f,\"rtt_avg_ms\":%.3f,"
           "\"rtt_max_ms\":%.3f}\n",
           o->count, got, mn, got ? sum / got : 0.0, mx);
    close(fd);
    return got > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *mode = argv[1];
    struct opts o = {.size = 64, .count = 3, .timeout_ms = 1000, .linger_ms = 500, .duration = 30};
    static const struct option lo[] = {{"dst", required_argument, NULL, 'd'},
                                       {"src", required_argument, NULL, 's'},
                                       {"bind", required_argument, NULL, 'b'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"rate", required_argument, NULL, 'r'},
                                       {"duration", required_argument, NULL, 'D'},
                                       {"size", required_argument, NULL, 'z'},
                                       {"count", required_argument, NULL, 'c'},
                                       {"timeout-ms", required_argument, NULL, 't'},
                                       {"linger", required_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.dst = optarg;
            break;
        case 's':
            o.src = optarg;
            break;
        case 'b':
            o.bind = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'p':
            o.port = parse_int(optarg, 1, 65535, "--port");
            break;
        case 'r':
            o.rate = parse_int(optarg, 1, MAX_RATE, "--rate");
            break;
        case 'D': {
            char *end;
            o.duration = strtod(optarg, &end);
            if (*end || !(o.duration > 0 && o.duration <= MAX_DURATION)) {
                fprintf(stderr, "mprobe: --duration must be in (0, %d] seconds\n", MAX_DURATION);
                return 2;
            }
            break;
        }
        case 'z':
            o.size = parse_int(optarg, PROBE_HDR, MAX_SIZE, "--size");
            break;
        case 'c':
            o.count = parse_int(optarg, 1, 10000, "--count");
            break;
        case 't':
            o.timeout_ms = parse_int(optarg, 1, 60000, "--timeout-ms");
            break;
        case 'l':
            o.linger_ms = parse_int(optarg, 0, 60000, "--linger");
            break;
        default:
            usage();
            return 2;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (!strcmp(mode, "send"))
        return cmd_send(&o);
    if (!strcmp(mode, "recv"))
        return cmd_recv(&o);
    if (!strcmp(mode, "echo"))
        return cmd_echo(&o);
    if (!strcmp(mode, "ping"))
        return cmd_ping(&o);
    usage();
    return 2;
}
