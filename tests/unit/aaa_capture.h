/* A capturing implementation of the agent's AAA interface (src/agent.h):
 * keeps every AMR, STR and HAA the agent hands it, so tests drive the FA and
 * HA in AAA mode without freeDiameter.  Also captures the EVENT log. */
#ifndef TEST_AAA_CAPTURE_H
#define TEST_AAA_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_harness.h"

#define CAP_MAX 32

struct cap_amr {
    uint64_t id;
    char sid[256];
    bool had_sid; /* the FA asked for an existing session */
    char nai[MIPD_NAI_MAX];
    char realm[MIPD_NAI_MAX];
    uint8_t req[MIP_MAX_MSG];
    size_t req_len;
    uint32_t mn_aaa_spi, auth_input_len, authenticator_len, authenticator_off;
    uint8_t chal[64];
    size_t chal_len;
    uint32_t fv;
    struct in_addr hoa, ha;
    uint32_t timeout_ms;
    bool has_prev_fa;
    struct in_addr prev_fa;
    uint32_t service_update;
};

struct cap_str {
    uint32_t cause;
    char sid[256];
    char nai[MIPD_NAI_MAX];
    char realm[MIPD_NAI_MAX];
};

struct cap_haa {
    uint64_t id;
    uint32_t rc;
    bool has_reply;
    uint8_t reply[MIP_MAX_MSG];
    size_t reply_len;
    struct in_addr ha, hoa;
    bool has_fa_ha_spi;
    uint32_t fa_ha_spi;
    bool has_prev_fa;
    struct in_addr prev_fa;
};

struct aaa_capture {
    struct cap_amr amr[CAP_MAX];
    unsigned n_amr;
    struct cap_str str[CAP_MAX];
    unsigned n_str;
    struct cap_haa haa[CAP_MAX];
    unsigned n_haa;
    int fail_next; /* the next send returns this (negative errno) */
    unsigned next_sid;
    char *events;
    size_t events_len;
    FILE *event_out;
};

static inline int cap_send_amr(void *ctx, const struct aaa_amr *m, char *sid, size_t sidlen)
{
    struct aaa_capture *c = ctx;
    if (c->fail_next) {
        int e = c->fail_next;
        c->fail_next = 0;
        return e;
    }
    assert_true(c->n_amr < CAP_MAX);
    struct cap_amr *r = &c->amr[c->n_amr++];
    memset(r, 0, sizeof(*r));
    r->id = m->id;
    r->had_sid = m->session_id != NULL;
    if (m->session_id)
        snprintf(r->sid, sizeof(r->sid), "%s", m->session_id);
    else
        snprintf(r->sid, sizeof(r->sid), "fa1.visit-a.example;1;%u", ++c->next_sid);
    snprintf(sid, sidlen, "%s", r->sid);
    snprintf(r->nai, sizeof(r->nai), "%s", m->nai);
    snprintf(r->realm, sizeof(r->realm), "%s", m->realm ? m->realm : "");
    assert_true(m->reg_req_len <= sizeof(r->req));
    memcpy(r->req, m->reg_req, m->reg_req_len);
    r->req_len = m->reg_req_len;
    r->mn_aaa_spi = m->mn_aaa_spi;
    r->auth_input_len = m->auth_input_len;
    r->authenticator_len = m->authenticator_len;
    r->authenticator_off = m->authenticator_off;
    if (m->challenge) {
        memcpy(r->chal, m->challenge, m->challenge_len);
        r->chal_len = m->challenge_len;
    }
    r->fv = m->feature_vector;
    r->hoa = m->hoa;
    r->ha = m->ha;
    r->timeout_ms = m->timeout_ms;
    r->has_prev_fa = m->has_prev_fa;
    r->prev_fa = m->prev_fa;
    r->service_update = m->service_update;
    return 0;
}

static inline int cap_send_str(void *ctx, const char *sid, const char *nai, const char *realm,
                               uint32_t cause)
{
    struct aaa_capture *c = ctx;
    assert_true(c->n_str < CAP_MAX);
    struct cap_str *s = &c->str[c->n_str++];
    s->cause = cause;
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    snprintf(s->nai, sizeof(s->nai), "%s", nai ? nai : "");
    snprintf(s->realm, sizeof(s->realm), "%s", realm ? realm : "");
    return 0;
}

static inline int cap_answer_har(void *ctx, uint64_t id, const struct aaa_haa *h)
{
    struct aaa_capture *c = ctx;
    assert_true(c->n_haa < CAP_MAX);
    struct cap_haa *r = &c->haa[c->n_haa++];
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->rc = h->result_code;
    if (h->reg_reply) {
        r->has_reply = true;
        memcpy(r->reply, h->reg_reply, h->reg_reply_len);
        r->reply_len = h->reg_reply_len;
    }
    r->ha = h->ha;
    r->hoa = h->hoa;
    r->has_fa_ha_spi = h->has_fa_ha_spi;
    r->fa_ha_spi = h->fa_ha_spi;
    r->has_prev_fa = h->has_prev_fa;
    r->prev_fa = h->prev_fa;
    return 0;
}

static const struct agent_aaa_ops cap_ops = {
    .send_amr = cap_send_amr,
    .send_str = cap_send_str,
    .answer_har = cap_answer_har,
};

static inline struct aaa_capture *cap_attach(struct harness *h, const char *identity)
{
    struct aaa_capture *c = calloc(1, sizeof(*c));
    c->event_out = open_memstream(&c->events, &c->events_len);
    h->a.aaa = &cap_ops;
    h->a.aaa_ctx = c;
    h->a.identity = identity;
    h->a.event_out = c->event_out;
    return c;
}

/* Whether the event log has a line containing all of the given words. */
static inline bool cap_has_event(struct aaa_capture *c, const char *a1, const char *a2,
                                 const char *a3)
{
    fflush(c->event_out);
    const char *p = c->events;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)n, p);
        if (strstr(line, a1) && (!a2 || strstr(line, a2)) && (!a3 || strstr(line, a3)))
            return true;
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

static inline void cap_free(struct aaa_capture *c)
{
    fclose(c->event_out);
    free(c->events);
    free(c);
}

#endif
