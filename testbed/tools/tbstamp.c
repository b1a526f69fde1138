/*
 * tbstamp: prefixes every line of its standard input with the wall-clock time it was read,
 * "SECONDS.MICROSECONDS ", and writes it to standard output at once (one write per line).
 *
 *   freeDiameterd -c relay.conf 2>&1 | tbstamp >relay.log
 *
 * The testbed uses it for the stock freeDiameterd relay, whose own log time has one-second
 * resolution, so that the relay's messages merge with the daemons' EVENT lines (epoch ms).
 * A line read is stamped when it is read: the stamp is at or after the moment the relay
 * wrote it (the scenarios' sequence checks allow for that, lib/aaa.sh).
 * Exit status 0 at end of input, 1 on a read or write error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: tbstamp <in >out (prefixes each line with epoch seconds.us)\n");
        return 2;
    }
    char *line = NULL, *out = NULL;
    size_t cap = 0, outcap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        size_t need = (size_t)n + 32;
        if (need > outcap) {
            char *o = realloc(out, need);
            if (!o) {
                fprintf(stderr, "tbstamp: out of memory\n");
                return 1;
            }
            out = o;
            outcap = need;
        }
        int k = snprintf(out, outcap, "%lld.%06ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000);
        memcpy(out + k, line, (size_t)n);
        size_t len = (size_t)k + (size_t)n;
        if (out[len - 1] != '\n')
            out[len++] = '\n';
        if (write_all(out, len) < 0) {
            fprintf(stderr, "tbstamp: write: %s\n", strerror(errno));
            return 1;
        }
    }
    free(line);
    free(out);
    if (ferror(stdin)) {
        fprintf(stderr, "tbstamp: read: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
