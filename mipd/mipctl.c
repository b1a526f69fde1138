/*
 * mipctl: command-line client of mipd's control socket (JSON lines, see
 * src/ctl.h).  Sends one request, reads one answer line and prints it as a
 * table (answers with an "items" array), as "key: value" lines, or raw.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/mipd.sock"
#define ANSWER_TIMEOUT_S 120

enum {
    EXIT_REFUSED = 1, /* the daemon answered {"ok":false} */
    EXIT_COMM = 2,    /* cannot connect, or no valid answer */
    EXIT_USAGE = 64,
};

static const char *prog = "mipctl";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [-s SOCKET] [--json] COMMAND [key=value ...]\n"
            "Query a running mipd through its control socket.\n"
            "\n"
            "Options:\n"
            "  -s, --socket SOCKET  control socket path (default " DEFAULT_SOCKET ")\n"
            "  -j, --json           print the daemon's JSON answer as is\n"
            "  -h, --help           show this help\n"
            "\n"
            "Commands:\n"
            "  bindings   mobility bindings of the home agent (mobile node, care-of\n"
            "             address, lifetime left, tunnel, AAA session)\n"
            "  visitors   visitor list of the foreign agent\n"
            "  handoff    hand-off buffer of the foreign agent: per held home address\n"
            "             and in total, packets held / queued / flushed / dropped\n"
            "  vpn        VPN information cache (FA, HA in AAA mode, PCN): one row per\n"
            "             profile; never key material\n"
            "  vpn-kernel per VPN session: the SAs, policies, DSCP marks and IP-in-IP\n"
            "             paths it installed (and the default SAs); never keys\n"
            "  kernel     state programmed into the kernel (tunnels, routes, rules, SAs,\n"
            "             policies, DSCP classes and marks)\n"
            "  counters   message and error counters\n"
            "  status     role (ha, fa, pcn), identity, uptime and table sizes\n"
            "\n"
            "key=value arguments are passed to the command in its \"args\" object\n"
            "(values made only of digits are sent as numbers), e.g.\n"
            "  %s bindings nai=alice@example.org\n"
            "\n"
            "Exit status: 0 success, 1 the daemon refused the command, 2 the daemon\n"
            "could not be reached or gave no valid answer, 64 usage error.\n",
            prog, prog);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Builds the request line (with its newline); exits on bad arguments. */
static char *build_request(const char *cmd, int argc, char **argv)
{
    json_t *req = json_object();
    json_t *args = json_object();
    if (!req || !args) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_COMM);
    }
    json_object_set_new(req, "cmd", json_string(cmd));
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "%s: argument '%s' is not key=value\n", prog, argv[i]);
            exit(EXIT_USAGE);
        }
        char *key = strndup(argv[i], (size_t)(eq - argv[i]));
        const char *val = eq + 1;
        json_t *v = NULL;
        if (all_digits(val)) {
            errno = 0;
            char *end;
            long long n = strtoll(val, &end, 10);
            if (errno == 0 && *end == '\0')
                v = json_integer(n);
        }
        if (!v)
            v = json_string(val);
        if (!key || !v || json_object_set_new(args, key, v) != 0) {
            fprintf(stderr, "%s: bad argument '%s' (not UTF-8?)\n", prog, argv[i]);
            exit(EXIT_USAGE);
        }
        free(key);
    }
    if (json_object_size(args) > 0)
        json_object_set(req, "args", args);
    json_decref(args);
    char *line = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(req);
    if (!line) {
        fprintf(stderr, "%s: cannot encode the request (command not UTF-8?)\n", prog);
        exit(EXIT_USAGE);
    }
    size_t len = strlen(line);
    char *withnl = malloc(len + 2);
    if (!withnl) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_COMM);
    }
    memcpy(withnl, line, len);
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    free(line);
    return withnl;
}

static int connect_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "%s: socket path too long: %s\n", prog, path);
        exit(EXIT_COMM);
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        fprintf(stderr, "%s: cannot connect to %s: %s%s\n", prog, path, strerror(e),
                e == ENOENT || e == ECONNREFUSED ? " (is mipd running? see -s)" : "");
        exit(EXIT_COMM);
    }
    struct timeval tv = {.tv_sec = ANSWER_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const char *path, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "%s: sending to %s: %s\n", prog, path, strerror(errno));
            exit(EXIT_COMM);
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Reads up to the first newline; returns the line without it. */
static char *recv_line(int fd, const char *path, size_t *len_out)
{
    size_t cap = 0, len = 0;
    char *buf = NULL;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            char *n = realloc(buf, cap);
            if (!n) {
                fprintf(stderr, "%s: out of memory\n", prog);
                exit(EXIT_COMM);
            }
            buf = n;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const char *why =
                errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno);
            fprintf(stderr, "%s: reading the answer from %s: %s\n", prog, path, why);
            exit(EXIT_COMM);
        }
        if (n == 0) {
            fprintf(stderr, "%s: %s closed the connection without %s answer\n", prog, path,
                    len ? "a complete" : "an");
            exit(EXIT_COMM);
        }
        char *nl = memchr(buf + len, '\n', (size_t)n); /* only new bytes can hold it */
        len += (size_t)n;
        if (nl) {
            len = (size_t)(nl - buf);
            break;
        }
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* Display text of a scalar; NULL for containers (printed as JSON). */
static char *scalar_text(const json_t *v)
{
    char *s = NULL;
    int r = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = strdup(json_string_value(v));
        break;
    case JSON_INTEGER:
        r = asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        r = asprintf(&s, "%.15g", json_real_value(v));
        break;
    case JSON_TRUE:
        s = strdup("true");
        break;
    case JSON_FALSE:
        s = strdup("false");
        break;
    case JSON_NULL:
        s = strdup("-");
        break;
    default:
        s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        break;
    }
    if (r < 0)
        s = NULL;
    if (!s) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_COMM);
    }
    return s;
}

/* Display width: counts UTF-8 code points, not bytes. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void print_padded(const char *s, size_t width, bool last)
{
    fputs(s, stdout);
    if (last)
        return;
    for (size_t w = text_width(s); w < width + 2; w++)
        putchar(' ');
}

static void print_table(json_t *items)
{
    size_t rows = json_array_size(items);
    json_t *first = rows ? json_array_get(items, 0) : NULL;
    if (!first) {
        puts("(none)");
        return;
    }
    if (!json_is_object(first)) {
        /* Not objects: one value per line. */
        for (size_t i = 0; i < rows; i++) {
            char *t = scalar_text(json_array_get(items, i));
            puts(t);
            free(t);
        }
        return;
    }
    /* Columns: the union of the items' keys, in order of first appearance
     * (listings such as "kernel" mix kinds of objects). */
    size_t maxcols = 0;
    for (size_t r = 0; r < rows; r++)
        maxcols += json_object_size(json_array_get(items, r));
    if (maxcols == 0)
        return;
    const char **keys = calloc(maxcols, sizeof(*keys));
    if (!keys) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_COMM);
    }
    size_t ncols = 0, c;
    const char *key;
    json_t *val;
    for (size_t r = 0; r < rows; r++) {
        json_object_foreach(json_array_get(items, r), key, val)
        {
            (void)val;
            for (c = 0; c < ncols && strcmp(keys[c], key); c++)
                ;
            if (c == ncols)
                keys[ncols++] = key;
        }
    }
    size_t *width = calloc(ncols, sizeof(*width));
    char **cells = calloc((rows + 1) * ncols, sizeof(*cells));
    if (!width || !cells) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_COMM);
    }
    for (c = 0; c < ncols; c++) {
        char *h = strdup(keys[c]);
        if (!h) {
            fprintf(stderr, "%s: out of memory\n", prog);
            exit(EXIT_COMM);
        }
        for (char *p = h; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        cells[c] = h;
    }
    for (size_t r = 0; r < rows; r++) {
        json_t *item = json_array_get(items, r);
        for (c = 0; c < ncols; c++) {
            json_t *v = json_is_object(item) ? json_object_get(item, keys[c]) : NULL;
            cells[(r + 1) * ncols + c] = v ? scalar_text(v) : strdup("-");
        }
    }
    for (size_t i = 0; i < (rows + 1) * ncols; i++) {
        if (!cells[i]) {
            fprintf(stderr, "%s: out of memory\n", prog);
            exit(EXIT_COMM);
        }
        size_t w = text_width(cells[i]);
        if (w > width[i % ncols])
            width[i % ncols] = w;
    }
    for (size_t r = 0; r <= rows; r++) {
        for (c = 0; c < ncols; c++)
            print_padded(cells[r * ncols + c], width[c], c + 1 == ncols);
        putchar('\n');
    }
    for (size_t i = 0; i < (rows + 1) * ncols; i++)
        free(cells[i]);
    free(cells);
    free(width);
    free(keys);
}

static int print_answer(json_t *ans)
{
    json_t *items = json_object_get(ans, "items");
    if (json_is_array(items))
        print_table(items);
    const char *key;
    json_t *val;
    json_object_foreach(ans, key, val)
    {
        if (!strcmp(key, "ok") || !strcmp(key, "cmd") ||
            (!strcmp(key, "items") && val == items && json_is_array(items)))
            continue;
        char *t = scalar_text(val);
        printf("%s: %s\n", key, t);
        free(t);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_SOCKET;
    bool raw = false;
    int o;
    while ((o = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            path = optarg;
            break;
        case 'j':
            raw = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    char *req = build_request(cmd, argc - optind - 1, argv + optind + 1);

    int fd = connect_socket(path);
    send_all(fd, path, req, strlen(req));
    free(req);
    size_t len;
    char *line = recv_line(fd, path, &len);
    close(fd);

    json_error_t jerr;
    json_t *ans = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!ans || !json_is_object(ans)) {
        fprintf(stderr, "%s: invalid answer from %s: %s\n", prog, path,
                ans ? "not a JSON object" : jerr.text);
        if (raw)
            puts(line);
        free(line);
        json_decref(ans);
        return EXIT_COMM;
    }
    json_t *ok = json_object_get(ans, "ok");
    int rc;
    if (!json_is_true(ok)) {
        const char *err = json_string_value(json_object_get(ans, "error"));
        if (raw)
            puts(line);
        fprintf(stderr, "%s: %s: %s\n", prog, cmd, err ? err : "command failed");
        rc = EXIT_REFUSED;
    } else if (raw) {
        puts(line);
        rc = 0;
    } else {
        rc = print_answer(ans);
    }
    json_decref(ans);
    free(line);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: writing output: %s\n", prog, strerror(errno));
        return EXIT_COMM;
    }
    return rc;
}
