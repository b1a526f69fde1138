#include "agent.h"

#include <arpa/inet.h>
#include <time.h>

#include "mip_proto.h"

uint64_t agent_ntp_now(void)
{
    return mip_ntp_now();
}

void agent_dump_counters(const struct agent *a, FILE *out)
{
    fputc('[', out);
    agent_dump_counter_items(a, out);
    fputc(']', out);
}

void agent_dump_counter_items(const struct agent *a, FILE *out)
{
    bool first = true;
#define X(n)                                                                                       \
    fprintf(out, "%s{\"name\":\"" #n "\",\"value\":%llu}", first ? "" : ",",                       \
            (unsigned long long)a->cnt.n);                                                         \
    first = false;
    AGENT_COUNTERS(X)
#undef X
    for (int c = 0; c < 256; c++)
        if (a->cnt.denied_by_code[c])
            fprintf(out, ",{\"name\":\"denied_code_%d\",\"value\":%llu}", c,
                    (unsigned long long)a->cnt.denied_by_code[c]);
}

static void event_str(FILE *out, const char *s)
{
    /* One token: the merge script splits on spaces. */
    if (!s || !*s) {
        fputc('-', out);
        return;
    }
    for (; *s; s++)
        fputc((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ? '_' : *s, out);
}

void agent_event(const struct agent *a, const char *dir, const char *msg, const char *peer,
                 const char *session, int code)
{
    FILE *out = a->event_out ? a->event_out : stderr;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(out, "EVENT %lld ", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    event_str(out, a->identity);
    fprintf(out, " %s %s peer=", dir, msg);
    event_str(out, peer);
    fputs(" session=", out);
    event_str(out, session);
    if (code >= 0)
        fprintf(out, " code=%d", code);
    fputc('\n', out);
    fflush(out);
}

void agent_event_ip(const struct agent *a, const char *dir, const char *msg, struct in_addr peer,
                    const char *session, int code)
{
    char p[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer, p, sizeof(p));
    agent_event(a, dir, msg, p, session, code);
}

time_t agent_now_s(struct agent *a)
{
    return (time_t)(loop_now_ms(a->loop) / 1000);
}
