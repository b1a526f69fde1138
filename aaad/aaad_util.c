/* aaad: counters, EVENT lines, cache dumps (see aaad.h). */
#include "aaad.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diam.h"
#include "mip4vpn_dict.h"
#include "vpn_cache.h"

uint64_t aaad_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void aaad_count_denial(struct aaad *ad, uint32_t rc)
{
    ad->cnt.ama_denied++;
    for (size_t i = 0; i < AAAD_MAX_CODES; i++) {
        if (ad->cnt.denied_code[i] == rc || ad->cnt.denied_code[i] == 0) {
            ad->cnt.denied_code[i] = rc;
            ad->cnt.denied_count[i]++;
            return;
        }
    }
    /* More distinct codes than slots: the last slot collects the rest as code 0. */
    ad->cnt.denied_code[AAAD_MAX_CODES - 1] = 0;
    ad->cnt.denied_count[AAAD_MAX_CODES - 1]++;
}

void aaad_dump_counters(const struct aaad *ad, FILE *out)
{
    bool first = true;
    fputc('[', out);
#define X(n)                                                                                       \
    fprintf(out, "%s{\"name\":\"" #n "\",\"value\":%llu}", first ? "" : ",",                       \
            (unsigned long long)ad->cnt.n);                                                        \
    first = false;
    AAAD_COUNTERS(X)
#undef X
    for (size_t i = 0; i < AAAD_MAX_CODES && ad->cnt.denied_count[i]; i++)
        fprintf(out, ",{\"name\":\"denied_%u\",\"value\":%llu}", ad->cnt.denied_code[i],
                (unsigned long long)ad->cnt.denied_count[i]);
    fputc(']', out);
}

/* Copies s into the line, white space and control characters as '_'. */
static size_t put_field(char *line, size_t n, size_t cap, const char *s)
{
    if (!s || !*s)
        s = "-";
    for (; *s && n + 1 < cap; s++)
        line[n++] = ((unsigned char)*s <= ' ' || *s == 0x7f) ? '_' : *s;
    return n;
}

void aaad_event(const char *node, const char *dir, const char *msg, const char *peer,
                const char *session, uint32_t code)
{
    char line[1024];
    size_t cap = sizeof(line) - 1; /* room for the newline */
    int k = snprintf(line, cap, "EVENT %llu ", (unsigned long long)aaad_now_ms());
    size_t n = (size_t)k;
    n = put_field(line, n, cap, node);
    n += (size_t)snprintf(line + n, cap - n, " %s %s peer=", dir, msg);
    if (n >= cap)
        n = cap - 1;
    n = put_field(line, n, cap, peer);
    if (n + 9 < cap) {
        memcpy(line + n, " session=", 9);
        n += 9;
    }
    n = put_field(line, n, cap, session);
    if (code && n < cap)
        n += (size_t)snprintf(line + n, cap - n, " code=%u", code);
    if (n >= cap)
        n = cap - 1;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

int aaad_add_msa(struct msg *m, uint32_t code, uint32_t spi_code, uint32_t spi, uint32_t alg,
                 int replay, const uint8_t *nonce, size_t nonce_len, const uint8_t *key,
                 size_t key_len)
{
    struct avp *g = NULL;
    int e = diam_add_group(m, code, 0, &g);
    if (e == 0 && spi_code)
        e = diam_add_u32(g, spi_code, 0, spi);
    if (e == 0)
        e = diam_add_u32(g, MIP4_AVP_ALGORITHM_TYPE, 0, alg);
    if (e == 0 && replay)
        e = diam_add_u32(g, MIP4_AVP_REPLAY_MODE, 0, (uint32_t)replay);
    if (e == 0 && nonce)
        e = diam_add_os(g, MIP4_AVP_NONCE, 0, nonce, nonce_len);
    if (e == 0 && key)
        e = diam_add_os(g, MIP4_AVP_SESSION_KEY, 0, key, key_len);
    return e;
}

void aaad_dump_cache_items(const struct vpn_cache *c, const char *set, time_t now, FILE *out,
                           bool *first)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    vpn_cache_dump_json(c, now, m);
    fclose(m);
    /* buf is "[{...},{...}]" of flat objects: copy it without the brackets and open each
     * top-level object with "set":SET. Strings are skipped as wholes (a '{' inside a NAI is
     * not an object). */
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (in_str) {
            fputc(ch, out);
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '[' && depth == 0) {
            depth = 1;
            continue;
        }
        if (ch == ']' && depth == 1) {
            depth = 0;
            continue;
        }
        if (depth == 1 && ch == ',')
            continue; /* separators between items: written below */
        if (ch == '{' && depth == 1) {
            if (!*first)
                fputc(',', out);
            *first = false;
            fputc('{', out);
            if (set) {
                fprintf(out, "\"set\":\"%s\"", set);
                if (i + 1 < len && buf[i + 1] != '}')
                    fputc(',', out);
            }
            depth = 2;
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
        if (ch == '"')
            in_str = true;
        fputc(ch, out);
    }
    free(buf);
}
