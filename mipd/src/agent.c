#include "agent.h"

#include "mip_proto.h"

uint64_t agent_ntp_now(void)
{
    return mip_ntp_now();
}

void agent_dump_counters(const struct agent *a, FILE *out)
{
    bool first = true;
    fputc('[', out);
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
    fputc(']', out);
}
