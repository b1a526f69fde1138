/*
 * Control socket: a UNIX stream socket speaking JSON lines (see ctl.h).
 *
 * Every client has an input buffer (one request line at most, capped at
 * CTL_MAX_LINE bytes) and an output buffer holding the answer being sent.
 * Requests are handled one at a time per client: while an answer is still
 * being written the client is only watched for EPOLLOUT, so a client that
 * pipelines requests without reading the answers gets back-pressure from its
 * own socket rather than growing our memory.
 */
#include "ctl.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_LINE (64 * 1024) /* request bytes before the newline */
#define CTL_MAX_CLIENTS 64
#define CTL_MAX_DEPTH 64 /* JSON nesting */
#define CTL_READ_CHUNK 4096

struct ctl_client {
    struct ctl *ctl;
    int fd;
    uint32_t events; /* what the loop currently watches */
    char *in;        /* received bytes not yet consumed */
    size_t in_len, in_cap;
    char *out; /* answer being written, NULL when none */
    size_t out_len, out_off;
    bool eof;     /* peer shut down its sending side */
    bool closing; /* close once the pending answer is written */
    struct ctl_client *prev, *next;
};

struct ctl {
    struct loop *loop;
    int fd;
    char *path;
    dev_t dev; /* identity of the socket file we bound, for ctl_close */
    ino_t ino;
    ctl_handler handler;
    void *arg;
    struct ctl_client *clients;
    size_t n_clients;
};

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0
 * when it is malformed: overlong forms, surrogates and code points above
 * U+10FFFF are rejected (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static size_t utf8_put(char *dst, uint32_t cp)
{
    unsigned char *d = (unsigned char *)dst;
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xc0 | (cp >> 6));
        d[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xe0 | (cp >> 12));
        d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char)(0xf0 | (cp >> 18));
    d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ------------------------------------------------------ JSON (RFC 8259) */

void ctl_json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    fputc('"', out);
    while (n > 0) {
        unsigned char c = *p;
        size_t len = 1;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\u%04x", c);
            } else if (c < 0x80) {
                fputc(c, out);
            } else {
                len = utf8_seq_len(p, n);
                if (len == 0) {
                    /* Not UTF-8: the answer must stay valid JSON. */
                    fputs("\\ufffd", out);
                    len = 1;
                } else {
                    fwrite(p, 1, len, out);
                }
            }
        }
        p += len;
        n -= len;
    }
    fputc('"', out);
}

/* A strict scanner over one request line: validates the whole text and
 * extracts the members the control protocol uses. */
struct jscan {
    const char *start, *p, *end;
    const char *why; /* first error */
};

static bool jfail(struct jscan *s, const char *why)
{
    if (!s->why)
        s->why = why;
    return false;
}

static void jws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool jhex4(struct jscan *s, uint32_t *v)
{
    if (s->end - s->p < 4)
        return jfail(s, "truncated \\u escape");
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->p[i]);
        if (h < 0)
            return jfail(s, "bad \\u escape");
        x = (x << 4) | (uint32_t)h;
    }
    s->p += 4;
    *v = x;
    return true;
}

/* Scans a string at s->p (on its opening quote).  When dec is not NULL the
 * decoded UTF-8 is stored there (it needs as many bytes as the raw text
 * plus one) and NUL-terminated; *has_nul reports an escaped U+0000. */
static bool jstring(struct jscan *s, char *dec, size_t *dec_len, bool *has_nul)
{
    size_t o = 0;
    if (has_nul)
        *has_nul = false;
    s->p++; /* opening quote */
    for (;;) {
        if (s->p >= s->end)
            return jfail(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20)
            return jfail(s, "control character in string");
        if (c != '\\') {
            size_t len = utf8_seq_len((const unsigned char *)s->p, (size_t)(s->end - s->p));
            if (len == 0)
                return jfail(s, "invalid UTF-8 in string");
            if (dec)
                memcpy(dec + o, s->p, len);
            o += len;
            s->p += len;
            continue;
        }
        s->p++;
        if (s->p >= s->end)
            return jfail(s, "unterminated string");
        char e = *s->p++;
        uint32_t cp;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            cp = (unsigned char)e;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (!jhex4(s, &cp))
                return false;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return jfail(s, "lone surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return jfail(s, "lone surrogate in \\u escape");
                s->p += 2;
                if (!jhex4(s, &lo))
                    return false;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return jfail(s, "lone surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            break;
        default:
            return jfail(s, "bad escape in string");
        }
        if (cp == 0 && has_nul)
            *has_nul = true;
        if (dec)
            o += utf8_put(dec + o, cp);
        else
            o += 4;
    }
    if (dec)
        dec[o] = '\0';
    if (dec_len)
        *dec_len = o;
    return true;
}

static bool jdigits(struct jscan *s)
{
    const char *b = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b;
}

static bool jnumber(struct jscan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!jdigits(s)) {
        return jfail(s, "bad number");
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!jdigits(s))
            return jfail(s, "bad number");
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!jdigits(s))
            return jfail(s, "bad number");
    }
    if (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.'))
        return jfail(s, "bad number");
    return true;
}

static bool jliteral(struct jscan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return jfail(s, "invalid literal");
    s->p += n;
    return true;
}

static bool jvalue(struct jscan *s, int depth);

/* Object or array at s->p (on its opening bracket). */
static bool jcontainer(struct jscan *s, int depth)
{
    if (depth >= CTL_MAX_DEPTH)
        return jfail(s, "nesting too deep");
    bool obj = *s->p == '{';
    char close = obj ? '}' : ']';
    s->p++;
    jws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (obj) {
            if (s->p >= s->end || *s->p != '"')
                return jfail(s, s->p >= s->end ? "unexpected end" : "expected member name");
            if (!jstring(s, NULL, NULL, NULL))
                return false;
            jws(s);
            if (s->p >= s->end || *s->p != ':')
                return jfail(s, "expected ':'");
            s->p++;
        }
        if (!jvalue(s, depth + 1))
            return false;
        jws(s);
        if (s->p >= s->end)
            return jfail(s, "unexpected end");
        if (*s->p == close) {
            s->p++;
            return true;
        }
        if (*s->p != ',')
            return jfail(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        s->p++;
        jws(s);
    }
}

static bool jvalue(struct jscan *s, int depth)
{
    jws(s);
    if (s->p >= s->end)
        return jfail(s, "unexpected end");
    switch (*s->p) {
    case '{':
    case '[':
        return jcontainer(s, depth);
    case '"':
        return jstring(s, NULL, NULL, NULL);
    case 't':
        return jliteral(s, "true");
    case 'f':
        return jliteral(s, "false");
    case 'n':
        return jliteral(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return jnumber(s);
        return jfail(s, "unexpected character");
    }
}

struct request {
    char *cmd;  /* decoded, malloc'd */
    char *args; /* raw object text, malloc'd, or NULL */
};

static void request_free(struct request *r)
{
    free(r->cmd);
    free(r->args);
    r->cmd = r->args = NULL;
}

/* Decodes the member name at s->p into a fresh buffer. */
static char *jkey(struct jscan *s)
{
    const char *b = s->p;
    if (!jstring(s, NULL, NULL, NULL))
        return NULL;
    char *key = malloc((size_t)(s->p - b) + 1);
    if (!key) {
        jfail(s, "out of memory");
        return NULL;
    }
    s->p = b;
    jstring(s, key, NULL, NULL);
    return key;
}

/* Parses one request line; on failure returns false with s->why set. */
static bool parse_request(struct jscan *s, struct request *r)
{
    memset(r, 0, sizeof(*r));
    bool have_args = false;
    jws(s);
    if (s->p >= s->end || *s->p != '{')
        return jfail(s, "not a JSON object");
    s->p++;
    jws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
    } else {
        for (;;) {
            if (s->p >= s->end || *s->p != '"')
                return jfail(s, s->p >= s->end ? "unexpected end" : "expected member name");
            char *key = jkey(s);
            if (!key)
                return false;
            bool is_cmd = strcmp(key, "cmd") == 0;
            bool is_args = strcmp(key, "args") == 0;
            free(key);
            jws(s);
            if (s->p >= s->end || *s->p != ':')
                return jfail(s, "expected ':'");
            s->p++;
            jws(s);
            const char *vb = s->p;
            if (is_cmd) {
                if (r->cmd)
                    return jfail(s, "duplicate \"cmd\"");
                if (s->p >= s->end || *s->p != '"')
                    return jfail(s, "\"cmd\" is not a string");
                if (!jstring(s, NULL, NULL, NULL))
                    return false;
                r->cmd = malloc((size_t)(s->p - vb) + 1);
                if (!r->cmd)
                    return jfail(s, "out of memory");
                s->p = vb;
                bool nul;
                jstring(s, r->cmd, NULL, &nul);
                if (nul)
                    return jfail(s, "\"cmd\" contains U+0000");
            } else if (is_args) {
                if (have_args)
                    return jfail(s, "duplicate \"args\"");
                have_args = true;
                if (s->p < s->end && *s->p == '{') {
                    if (!jvalue(s, 1))
                        return false;
                    r->args = strndup(vb, (size_t)(s->p - vb));
                    if (!r->args)
                        return jfail(s, "out of memory");
                } else if (s->p < s->end && *s->p == 'n') {
                    if (!jliteral(s, "null"))
                        return false;
                } else {
                    return jfail(s, "\"args\" is not an object");
                }
            } else if (!jvalue(s, 1)) {
                return false;
            }
            jws(s);
            if (s->p >= s->end)
                return jfail(s, "unexpected end");
            if (*s->p == '}') {
                s->p++;
                break;
            }
            if (*s->p != ',')
                return jfail(s, "expected ',' or '}'");
            s->p++;
            jws(s);
        }
    }
    jws(s);
    if (s->p != s->end)
        return jfail(s, "trailing characters after the object");
    if (!r->cmd)
        return jfail(s, "missing \"cmd\"");
    return true;
}

/* ------------------------------------------------------------- clients */

static void client_free(struct ctl_client *cl)
{
    struct ctl *c = cl->ctl;
    loop_del_fd(c->loop, cl->fd);
    close(cl->fd);
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        c->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    c->n_clients--;
    free(cl->in);
    free(cl->out);
    free(cl);
}

/* Takes ownership of buf (len bytes) as the client's pending answer. */
static void client_set_answer(struct ctl_client *cl, char *buf, size_t len)
{
    free(cl->out);
    cl->out = buf;
    cl->out_len = len;
    cl->out_off = 0;
}

/* An {"ok":false} answer; cmd may be NULL. */
static void client_error(struct ctl_client *cl, const char *cmd, const char *fmt, const char *why,
                         size_t at)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, why, at);
    fputs("{\"ok\":false", f);
    if (cmd) {
        fputs(",\"cmd\":", f);
        ctl_json_str(f, cmd);
    }
    fputs(",\"error\":", f);
    ctl_json_str(f, msg);
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return;
    }
    client_set_answer(cl, buf, len);
}

static void client_handle_line(struct ctl_client *cl, const char *line, size_t len)
{
    struct jscan s = {.start = line, .p = line, .end = line + len};
    struct request r;
    if (!parse_request(&s, &r)) {
        client_error(cl, NULL, "malformed request: %s (at byte %zu)", s.why,
                     (size_t)(s.p - s.start));
        request_free(&r);
        return;
    }
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) {
        client_error(cl, r.cmd, "%s", "out of memory", 0);
        request_free(&r);
        return;
    }
    fputs("{\"ok\":true,\"cmd\":", f);
    ctl_json_str(f, r.cmd);
    const char *err = NULL;
    int rc = cl->ctl->handler(cl->ctl->arg, r.cmd, r.args, f, &err);
    fputs("}\n", f);
    bool io_err = ferror(f) != 0;
    if (fclose(f) != 0)
        io_err = true;
    if (rc != 0 || io_err) {
        free(buf);
        client_error(cl, r.cmd, "%s", rc != 0 ? (err ? err : "command failed") : "out of memory",
                     0);
    } else {
        client_set_answer(cl, buf, blen);
    }
    request_free(&r);
}

static void client_watch(struct ctl_client *cl, uint32_t events)
{
    if (cl->events == events)
        return;
    if (loop_mod_fd(cl->ctl->loop, cl->fd, events) == 0)
        cl->events = events;
}

/* Writes what it can of the pending answer: 1 = all written, 0 = would
 * block, -1 = the peer is gone. */
static int client_flush(struct ctl_client *cl)
{
    while (cl->out_off < cl->out_len) {
        ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            cl->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    free(cl->out);
    cl->out = NULL;
    cl->out_len = cl->out_off = 0;
    return 1;
}

/* Reads into the input buffer: 1 = got bytes or EOF, 0 = would block,
 * -1 = error. */
static int client_read(struct ctl_client *cl)
{
    size_t room_max = CTL_MAX_LINE + 1 - cl->in_len; /* in_len <= CTL_MAX_LINE here */
    size_t want = room_max < CTL_READ_CHUNK ? room_max : CTL_READ_CHUNK;
    if (cl->in_cap - cl->in_len < want) {
        size_t ncap = cl->in_cap ? cl->in_cap : CTL_READ_CHUNK;
        while (ncap - cl->in_len < want)
            ncap *= 2;
        if (ncap > CTL_MAX_LINE + 1)
            ncap = CTL_MAX_LINE + 1;
        char *n = realloc(cl->in, ncap);
        if (!n)
            return -1;
        cl->in = n;
        cl->in_cap = ncap;
    }
    for (;;) {
        ssize_t n = recv(cl->fd, cl->in + cl->in_len, cl->in_cap - cl->in_len, MSG_DONTWAIT);
        if (n > 0) {
            cl->in_len += (size_t)n;
            return 1;
        }
        if (n == 0) {
            cl->eof = true;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

/* Makes all the progress possible without blocking; may free cl. */
static void client_pump(struct ctl_client *cl)
{
    for (;;) {
        if (cl->out) {
            int r = client_flush(cl);
            if (r < 0) {
                client_free(cl);
                return;
            }
            if (r == 0) {
                client_watch(cl, EPOLLOUT);
                return;
            }
        }
        if (cl->closing) {
            client_free(cl);
            return;
        }
        char *nl = cl->in_len ? memchr(cl->in, '\n', cl->in_len) : NULL;
        if (nl || (cl->eof && cl->in_len > 0 && cl->in_len <= CTL_MAX_LINE)) {
            /* A last request without its newline before EOF counts too. */
            size_t len = nl ? (size_t)(nl - cl->in) : cl->in_len;
            size_t used = nl ? len + 1 : len;
            bool blank = true;
            for (size_t i = 0; i < len && blank; i++)
                blank = cl->in[i] == ' ' || cl->in[i] == '\t' || cl->in[i] == '\r';
            if (!blank)
                client_handle_line(cl, cl->in, len);
            memmove(cl->in, cl->in + used, cl->in_len - used);
            cl->in_len -= used;
            continue;
        }
        if (cl->in_len > CTL_MAX_LINE) {
            cl->in_len = 0;
            cl->closing = true;
            client_error(cl, NULL, "%s", "request too long", 0);
            continue;
        }
        if (cl->eof) {
            client_free(cl);
            return;
        }
        int r = client_read(cl);
        if (r < 0) {
            client_free(cl);
            return;
        }
        if (r == 0) {
            client_watch(cl, EPOLLIN);
            return;
        }
    }
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events; /* errors and hang-ups surface through recv/send */
    client_pump(arg);
}

static void accept_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
    struct ctl *c = arg;
    (void)events;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of descriptors: retried on next event */
        }
        if (c->n_clients >= CTL_MAX_CLIENTS) {
            static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";
            ssize_t n = send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(cfd);
            continue;
        }
        struct ctl_client *cl = calloc(1, sizeof(*cl));
        if (!cl) {
            close(cfd);
            continue;
        }
        cl->ctl = c;
        cl->fd = cfd;
        cl->events = EPOLLIN;
        if (loop_add_fd(l, cfd, EPOLLIN, client_cb, cl) < 0) {
            close(cfd);
            free(cl);
            continue;
        }
        cl->next = c->clients;
        if (c->clients)
            c->clients->prev = cl;
        c->clients = cl;
        c->n_clients++;
    }
}

/* -------------------------------------------------------------- socket */

/* A socket file nobody listens on is left over from a previous run and may
 * be replaced; a live one or any other kind of file is refused. */
static int remove_stale(const struct sockaddr_un *sa)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    int e = errno;
    close(fd);
    if (r == 0) {
        errno = EADDRINUSE; /* another daemon is serving it */
        return -1;
    }
    if (e != ECONNREFUSED && e != ENOENT) {
        errno = e;
        return -1;
    }
    if (unlink(sa->sun_path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

struct ctl *ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int r, e;
    if (!l || !path || !h || !*path) {
        errno = EINVAL;
        return NULL;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    struct ctl *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = l;
    c->handler = h;
    c->arg = arg;
    c->fd = -1;
    c->path = strdup(path);
    if (!c->path)
        goto fail;
    if (remove_stale(&sa) < 0)
        goto fail;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto fail;
    /* Never visible with wider permissions than 0660, even briefly. */
    mode_t old = umask(0117);
    r = bind(c->fd, (const struct sockaddr *)&sa, sizeof(sa));
    e = errno;
    umask(old);
    if (r < 0) {
        errno = e;
        goto fail;
    }
    if (chmod(path, 0660) < 0 || stat(path, &st) < 0) {
        e = errno;
        unlink(path);
        errno = e;
        goto fail;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    r = listen(c->fd, 16) < 0 ? -errno : loop_add_fd(l, c->fd, EPOLLIN, accept_cb, c);
    if (r < 0) {
        unlink(path);
        e = -r;
        errno = e;
        goto fail;
    }
    return c;
fail:
    e = errno;
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c);
    errno = e;
    return NULL;
}

void ctl_close(struct ctl *c)
{
    if (!c)
        return;
    while (c->clients)
        client_free(c->clients);
    loop_del_fd(c->loop, c->fd);
    close(c->fd);
    /* Only remove the file if it is still ours (not a successor's). */
    struct stat st;
    if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
        unlink(c->path);
    free(c->path);
    free(c);
}
