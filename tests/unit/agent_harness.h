/* Test harness for the agent logic: recorder dataplane, fake clocks, and a
 * transmit hook that keeps every datagram the agent sends. */
#ifndef TEST_AGENT_HARNESS_H
#define TEST_AGENT_HARNESS_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "mip_proto.h"

#define H_MAX_TX 64

struct h_tx {
    struct pkt_addr to;
    uint8_t buf[MIP_MAX_MSG];
    size_t len;
};

struct harness {
    struct mipd_config cfg;
    struct agent a;
    struct h_tx tx[H_MAX_TX];
    unsigned n_tx;
    struct h_tx icmp[H_MAX_TX];
    unsigned n_icmp;
    int tx_fail; /* next tx returns this error if nonzero */
};

static uint64_t h_ntp_value;
static inline uint64_t h_ntp_now(void)
{
    return h_ntp_value << 32;
}

static inline int h_tx_fn(void *ctx, const struct pkt_addr *to, const uint8_t *buf, size_t len)
{
    struct harness *h = ctx;
    if (h->tx_fail) {
        int e = h->tx_fail;
        h->tx_fail = 0;
        return e;
    }
    assert_true(h->n_tx < H_MAX_TX);
    struct h_tx *t = &h->tx[h->n_tx++];
    t->to = *to;
    memcpy(t->buf, buf, len);
    t->len = len;
    return 0;
}

static inline int h_icmp_fn(void *ctx, size_t link, const uint8_t *buf, size_t len)
{
    struct harness *h = ctx;
    assert_true(h->n_icmp < H_MAX_TX);
    struct h_tx *t = &h->icmp[h->n_icmp++];
    t->to.ifindex = (int)link;
    memcpy(t->buf, buf, len);
    t->len = len;
    return 0;
}

static inline struct harness *h_new(const char *conf, enum mipd_role role)
{
    struct harness *h = calloc(1, sizeof(*h));
    char err[256];
    if (config_load_string(&h->cfg, conf, "test.conf", role, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    h->a.cfg = &h->cfg;
    h->a.loop = loop_new();
    loop_set_fake_time(h->a.loop, 1000000);
    h->a.dp = dp_new_recorder();
    h->a.tx = h_tx_fn;
    h->a.tx_ctx = h;
    h_ntp_value = 3900000000ull;
    h->a.ntp_now = h_ntp_now;
    return h;
}

static inline void h_free(struct harness *h)
{
    if (h->a.ha)
        ha_fini(&h->a);
    if (h->a.fa)
        fa_fini(&h->a);
    if (h->a.pcn)
        pcn_fini(&h->a);
    /* Everything the agent installed must be gone once it has shut down. */
    assert_int_equal(dp_count(h->a.dp, -1), 0);
    dp_free(h->a.dp);
    loop_free(h->a.loop);
    config_free(&h->cfg);
    free(h);
}

static inline void h_advance(struct harness *h, uint64_t ms)
{
    loop_set_fake_time(h->a.loop, loop_now_ms(h->a.loop) + ms);
    h_ntp_value += ms / 1000;
    loop_run_once(h->a.loop, 0);
}

static inline struct in_addr h_ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static const uint8_t h_key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

/* Builds a registration request as an MN would. */
struct h_rrq {
    const char *nai;
    const char *hoa, *ha, *coa;
    uint16_t lifetime;
    uint8_t flags;
    uint64_t ident;
    const uint8_t *key; /* NULL: no MN-HA auth */
    size_t keylen;
    uint32_t spi;
    const uint8_t *challenge;
    size_t challen;
};

static inline size_t h_build_rrq(const struct h_rrq *r, uint8_t *buf, size_t cap)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = r->flags;
    rq.lifetime = r->lifetime;
    rq.home_addr = h_ip(r->hoa);
    rq.home_agent = h_ip(r->ha);
    rq.care_of_addr = h_ip(r->coa);
    rq.identification = r->ident;
    mip_put_reg_request(&w, &rq);
    if (r->nai)
        mip_put_nai(&w, r->nai, strlen(r->nai));
    if (r->challenge)
        mip_put_challenge(&w, r->challenge, r->challen);
    if (r->key)
        mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, r->spi ? r->spi : 256, r->key, r->keylen);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static inline uint64_t h_ident(unsigned low)
{
    return h_ntp_value << 32 | low;
}

/* Decodes the i-th transmitted datagram as a reply. */
static inline struct mip_reg_reply h_reply(struct harness *h, unsigned i)
{
    assert_true(i < h->n_tx);
    struct mip_reg_reply rp;
    size_t off;
    assert_int_equal(mip_get_reg_reply(h->tx[i].buf, h->tx[i].len, &rp, &off), MIP_OK);
    return rp;
}

#endif
