/* Control socket: request parsing, answers, several clients, large answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "loop.h"

#define BIG_ITEMS 150000 /* ~6 MB answer */

struct fixture {
    char dir[64];
    char path[128];
    struct loop *loop;
    struct ctl *ctl;
    int calls;
    char last_cmd[64];
};

static int handler(void *arg, const char *cmd, const char *args_json, FILE *out, const char **err)
{
    struct fixture *fx = arg;
    fx->calls++;
    snprintf(fx->last_cmd, sizeof(fx->last_cmd), "%s", cmd);
    if (strcmp(cmd, "echo") == 0) {
        fprintf(out, ",\"args\":%s", args_json ? args_json : "null");
        return 0;
    }
    if (strcmp(cmd, "items") == 0) {
        fputs(",\"items\":[{\"name\":\"a\",\"n\":1},{\"name\":\"b\",\"n\":2}]", out);
        return 0;
    }
    if (strcmp(cmd, "big") == 0) {
        fputs(",\"items\":[", out);
        for (int i = 0; i < BIG_ITEMS; i++)
            fprintf(out, "%s{\"i\":%d,\"pad\":\"xxxxxxxxxxxx\"}", i ? "," : "", i);
        fputs("]", out);
        return 0;
    }
    if (strcmp(cmd, "fail") == 0) {
        fputs(",\"partial\":1", out); /* discarded */
        *err = "it failed";
        return -1;
    }
    *err = "unknown command";
    return -1;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ctl.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/ctl.sock", fx->dir);
    fx->loop = loop_new();
    assert_non_null(fx->loop);
    fx->ctl = ctl_open(fx->loop, fx->path, handler, fx);
    assert_non_null(fx->ctl);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    ctl_close(fx->ctl);
    struct stat st;
    assert_int_equal(lstat(fx->path, &st), -1); /* unlinked */
    loop_free(fx->loop);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
    assert_true(strlen(path) < sizeof(sa->sun_path));
    memcpy(sa->sun_path, path, strlen(path) + 1);
}

static int client_connect(struct fixture *fx)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    set_sun_path(&sa, fx->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Writes everything, running the loop while the socket is full.  Returns
 * false if the server closed the connection. */
static bool client_send(struct fixture *fx, int fd, const char *s, size_t len)
{
    size_t off = 0;
    int spins = 0;
    while (off < len) {
        ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            loop_run_once(fx->loop, 10);
            assert_true(++spins < 1000);
        } else {
            return false;
        }
    }
    return true;
}

static void client_send_str(struct fixture *fx, int fd, const char *s)
{
    assert_true(client_send(fx, fd, s, strlen(s)));
}

/* Reads one answer line (without the newline), running the loop meanwhile;
 * NULL when the server closed without one.  The caller frees it. */
static char *client_recv_line(struct fixture *fx, int fd)
{
    static char pending[1 << 16]; /* bytes read past a newline, per test */
    static size_t npending;
    static int pending_fd = -1;
    if (pending_fd != fd)
        npending = 0;
    pending_fd = fd;

    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    memcpy(buf, pending, npending);
    len = npending;
    npending = 0;
    int idle = 0;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            size_t rest = len - (size_t)(nl - buf) - 1;
            assert_true(rest <= sizeof(pending));
            memcpy(pending, nl + 1, rest);
            npending = rest;
            *nl = '\0';
            return buf;
        }
        if (cap - len < 65536) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n > 0) {
            len += (size_t)n;
            idle = 0;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            free(buf);
            return NULL;
        } else {
            loop_run_once(fx->loop, 10);
            assert_true(++idle < 500);
        }
    }
}

static void expect_answer(struct fixture *fx, int fd, const char *want)
{
    char *got = client_recv_line(fx, fd);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void roundtrip(struct fixture *fx, const char *req, const char *want)
{
    int fd = client_connect(fx);
    client_send_str(fx, fd, req);
    expect_answer(fx, fd, want);
    close(fd);
}

/* Runs the loop until the server has noticed that fd's peer closed. */
static void expect_closed(struct fixture *fx, int fd)
{
    char c;
    for (int i = 0; i < 500; i++) {
        ssize_t n = recv(fd, &c, 1, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return;
        assert_true(n < 0);
        loop_run_once(fx->loop, 10);
    }
    fail_msg("server did not close the connection");
}

static void test_good_requests(void **state)
{
    struct fixture *fx = *state;
    roundtrip(fx, "{\"cmd\":\"items\"}\n",
              "{\"ok\":true,\"cmd\":\"items\",\"items\":[{\"name\":\"a\",\"n\":1},"
              "{\"name\":\"b\",\"n\":2}]}");
    assert_string_equal(fx->last_cmd, "items");
    /* Whitespace, CRLF, escaped member names, other members ignored. */
    roundtrip(fx, " { \"x\" : [1, {\"y\": null}], \"\\u0063md\" : \"ech\\u006f\" } \r\n",
              "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    roundtrip(fx, "{\"cmd\":\"echo\",\"args\":null}\n",
              "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    /* Several requests on one connection, one of them pipelined. */
    int fd = client_connect(fx);
    client_send_str(fx, fd, "{\"cmd\":\"items\"}\n\n{\"cmd\":\"echo\"}\n");
    expect_answer(fx, fd,
                  "{\"ok\":true,\"cmd\":\"items\",\"items\":[{\"name\":\"a\",\"n\":1},"
                  "{\"name\":\"b\",\"n\":2}]}");
    expect_answer(fx, fd, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    client_send_str(fx, fd, "{\"cmd\":\"echo\"}\n");
    expect_answer(fx, fd, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    close(fd);
    /* A last request without newline before the client shuts down writing. */
    fd = client_connect(fx);
    client_send_str(fx, fd, "{\"cmd\":\"echo\"}");
    shutdown(fd, SHUT_WR);
    expect_answer(fx, fd, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    expect_closed(fx, fd);
    close(fd);
}

static void test_args_passthrough(void **state)
{
    struct fixture *fx = *state;
    roundtrip(fx, "{\"cmd\":\"echo\",\"args\":{\"nai\":\"a@b\",\"n\":[1,2.5e3,-0.1],\"o\":{}}}\n",
              "{\"ok\":true,\"cmd\":\"echo\",\"args\":{\"nai\":\"a@b\",\"n\":[1,2.5e3,-0.1],"
              "\"o\":{}}}");
    roundtrip(fx, "{\"args\":{ \"s\" : \"\\\"}\\u00e9\" },\"cmd\":\"echo\"}\n",
              "{\"ok\":true,\"cmd\":\"echo\",\"args\":{ \"s\" : \"\\\"}\\u00e9\" }}");
    roundtrip(fx, "{\"cmd\":\"echo\",\"args\":{}}\n", "{\"ok\":true,\"cmd\":\"echo\",\"args\":{}}");
}

static void test_malformed(void **state)
{
    struct fixture *fx = *state;
    static const char *bad[] = {
        "nope",
        "[\"cmd\",\"echo\"]",
        "{\"cmd\":\"echo\"",
        "{\"cmd\":\"echo\",}",
        "{\"cmd\":echo}",
        "{\"cmd\":1}",
        "{\"cmd\":\"echo\",\"args\":[1]}",
        "{\"cmd\":\"echo\",\"args\":\"x\"}",
        "{\"args\":{}}",
        "{}",
        "{\"cmd\":\"echo\"} x",
        "{\"cmd\":\"echo\"}{}",
        "{\"cmd\":\"ec\tho\"}",
        "{\"cmd\":\"ech\\q\"}",
        "{\"cmd\":\"\\ud800\"}",
        "{\"cmd\":\"\\udc00x\"}",
        "{\"cmd\":\"\\u12\"}",
        "{\"cmd\":\"a\\u0000b\"}",
        "{\"cmd\":\"\xc3\x28\"}",
        "{\"cmd\":\"\xed\xa0\x80\"}",
        "{\"cmd\":\"echo\",\"cmd\":\"items\"}",
        "{\"cmd\":\"echo\",\"x\":01}",
        "{\"cmd\":\"echo\",\"x\":1.}",
        "{\"cmd\":\"echo\",\"x\":-}",
        "{\"cmd\":\"echo\",\"x\":1e}",
        "{\"cmd\":\"echo\",\"x\":+1}",
        "{\"cmd\":\"echo\",\"x\":tru}",
        "{\"cmd\":\"echo\",\"x\":nul}",
        "{\"cmd\":\"echo\",\"x\":[1,]}",
        "{\"cmd\":\"echo\",\"x\":{\"a\"}}",
        "{\"cmd\":\"echo\",\"x\":{1:2}}",
        "{\"cmd\":\"echo\" \"x\":1}",
        "{'cmd':'echo'}",
    };
    int fd = client_connect(fx);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        client_send_str(fx, fd, bad[i]);
        client_send_str(fx, fd, "\n");
        char *got = client_recv_line(fx, fd);
        assert_non_null(got);
        if (strncmp(got, "{\"ok\":false,\"error\":\"malformed request: ", 40) != 0)
            fail_msg("request %zu (%s) got %s", i, bad[i], got);
        free(got);
    }
    /* Deep nesting is refused without recursing forever. */
    char deep[4096];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "{\"cmd\":\"echo\",\"x\":");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    deep[n++] = '\n';
    assert_true(client_send(fx, fd, deep, n));
    expect_answer(fx, fd,
                  "{\"ok\":false,\"error\":\"malformed request: nesting too deep (at byte 81)\"}");
    /* The connection still works; the handler was never called. */
    assert_int_equal(fx->calls, 0);
    client_send_str(fx, fd, "{\"cmd\":\"echo\"}\n");
    expect_answer(fx, fd, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    close(fd);
}

static void test_handler_errors(void **state)
{
    struct fixture *fx = *state;
    roundtrip(fx, "{\"cmd\":\"frobnicate\"}\n",
              "{\"ok\":false,\"cmd\":\"frobnicate\",\"error\":\"unknown command\"}");
    roundtrip(fx, "{\"cmd\":\"fail\"}\n",
              "{\"ok\":false,\"cmd\":\"fail\",\"error\":\"it failed\"}");
    roundtrip(fx, "{\"cmd\":\"x\\\"\\n\"}\n",
              "{\"ok\":false,\"cmd\":\"x\\\"\\n\",\"error\":\"unknown command\"}");
}

static void test_too_long(void **state)
{
    struct fixture *fx = *state;
    size_t len = 70000;
    char *req = malloc(len);
    assert_non_null(req);
    memset(req, ' ', len);
    memcpy(req, "{\"cmd\":\"echo\",\"args\":{\"pad\":\"", 29);
    int fd = client_connect(fx);
    /* The server answers and closes once 64 KiB arrived without newline;
     * the rest of the send may then fail. */
    client_send(fx, fd, req, len);
    expect_answer(fx, fd, "{\"ok\":false,\"error\":\"request too long\"}");
    expect_closed(fx, fd);
    close(fd);
    free(req);
    assert_int_equal(fx->calls, 0);
    /* Exactly at the limit is fine. */
    len = 64 * 1024 + 1;
    req = malloc(len);
    assert_non_null(req);
    memset(req, ' ', len);
    memcpy(req, "{\"cmd\":\"echo\"}", 14);
    req[len - 1] = '\n';
    fd = client_connect(fx);
    assert_true(client_send(fx, fd, req, len));
    expect_answer(fx, fd, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    close(fd);
    free(req);
}

static void test_two_clients(void **state)
{
    struct fixture *fx = *state;
    int a = client_connect(fx);
    int b = client_connect(fx);
    client_send_str(fx, a, "{\"cmd\":\"ec");
    for (int i = 0; i < 5; i++)
        loop_run_once(fx->loop, 1);
    client_send_str(fx, b, "{\"cmd\":\"items\"}\n");
    expect_answer(fx, b,
                  "{\"ok\":true,\"cmd\":\"items\",\"items\":[{\"name\":\"a\",\"n\":1},"
                  "{\"name\":\"b\",\"n\":2}]}");
    client_send_str(fx, a, "ho\",\"args\":{\"who\":\"a\"}}\n");
    expect_answer(fx, a, "{\"ok\":true,\"cmd\":\"echo\",\"args\":{\"who\":\"a\"}}");
    client_send_str(fx, b, "{\"cmd\":\"echo\"}\n");
    expect_answer(fx, b, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    close(a);
    close(b);
}

static void test_large_answer(void **state)
{
    struct fixture *fx = *state;
    int big = client_connect(fx);
    client_send_str(fx, big, "{\"cmd\":\"big\"}\n");
    for (int i = 0; i < 5; i++)
        loop_run_once(fx->loop, 1);
    /* While the big answer waits for its reader, others are served. */
    roundtrip(fx, "{\"cmd\":\"echo\"}\n", "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    char *got = client_recv_line(fx, big);
    assert_non_null(got);
    size_t len = strlen(got);
    assert_true(len > 4 * 1024 * 1024);
    assert_memory_equal(got, "{\"ok\":true,\"cmd\":\"big\",\"items\":[{\"i\":0,", 37);
    char tail[64];
    snprintf(tail, sizeof(tail), "{\"i\":%d,\"pad\":\"xxxxxxxxxxxx\"}]}", BIG_ITEMS - 1);
    assert_string_equal(got + len - strlen(tail), tail);
    free(got);
    /* The same connection goes on. */
    client_send_str(fx, big, "{\"cmd\":\"echo\"}\n");
    expect_answer(fx, big, "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    close(big);
}

static void test_disconnect_mid_answer(void **state)
{
    struct fixture *fx = *state;
    int fd = client_connect(fx);
    client_send_str(fx, fd, "{\"cmd\":\"big\"}\n{\"cmd\":\"big\"}\n");
    for (int i = 0; i < 5; i++)
        loop_run_once(fx->loop, 1);
    char buf[1000];
    assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
    close(fd);
    for (int i = 0; i < 10; i++)
        loop_run_once(fx->loop, 1);
    /* Another one goes away before its request was even handled. */
    fd = client_connect(fx);
    client_send_str(fx, fd, "{\"cmd\":\"big\"}\n");
    close(fd);
    for (int i = 0; i < 10; i++)
        loop_run_once(fx->loop, 1);
    roundtrip(fx, "{\"cmd\":\"echo\"}\n", "{\"ok\":true,\"cmd\":\"echo\",\"args\":null}");
    /* A client with its answer pending when the ctl closes is freed too
     * (teardown's ctl_close; ASan reports any leak). */
    fd = client_connect(fx);
    client_send_str(fx, fd, "{\"cmd\":\"big\"}\n");
    for (int i = 0; i < 5; i++)
        loop_run_once(fx->loop, 1);
    close(fd);
}

static void test_socket_file(void **state)
{
    struct fixture *fx = *state;
    struct stat st;
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    /* A second instance on a live socket is refused. */
    struct ctl *c2 = ctl_open(fx->loop, fx->path, handler, fx);
    assert_null(c2);
    assert_int_equal(errno, EADDRINUSE);

    /* A stale socket file (nobody listening) is replaced. */
    char stale[160];
    snprintf(stale, sizeof(stale), "%s/stale.sock", fx->dir);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    set_sun_path(&sa, stale);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    c2 = ctl_open(fx->loop, stale, handler, fx);
    assert_non_null(c2);
    ctl_close(c2);
    assert_int_equal(lstat(stale, &st), -1);

    /* Any other file is left alone. */
    int f = open(stale, O_CREAT | O_WRONLY, 0600);
    assert_true(f >= 0);
    close(f);
    assert_null(ctl_open(fx->loop, stale, handler, fx));
    assert_int_equal(lstat(stale, &st), 0);
    unlink(stale);
}

static void test_json_str(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    ctl_json_str(f, "a\"b\\c/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9 \xf0\x9f\x98\x80");
    fputc(' ', f);
    ctl_json_str(f, "bad \xc3 \xff \xed\xa0\x80 end");
    fputc(' ', f);
    ctl_json_str(f, "");
    fputc(' ', f);
    ctl_json_str(f, NULL);
    fclose(f);
    assert_string_equal(buf, "\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f \xc3\xa9 "
                             "\xf0\x9f\x98\x80\" "
                             "\"bad \\ufffd \\ufffd \\ufffd\\ufffd\\ufffd end\" \"\" null");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_passthrough, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_mid_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
        cmocka_unit_test(test_json_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
