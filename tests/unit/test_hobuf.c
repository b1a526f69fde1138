/*
 * Hand-off buffer queue logic (hobuf.h, struct hobq) with fake time: order
 * per home address, the packet / byte / total bounds, hold-time expiry,
 * flush and drop, and every counter.  The tun device side is exercised by
 * tests/kernel/test_hobuf_l2.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "hobuf.h"

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

/* An IPv4 datagram of len bytes to dst whose first payload byte is seq. */
static size_t mkpkt(uint8_t *buf, size_t len, struct in_addr dst, uint8_t seq)
{
    assert_true(len >= 21);
    memset(buf, 0, len);
    buf[0] = 0x45;
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    buf[8] = 64;
    buf[9] = 17;
    memcpy(buf + 16, &dst.s_addr, 4);
    buf[20] = seq;
    return len;
}

static bool push(struct hobq *q, struct in_addr dst, uint8_t seq, size_t len, uint64_t now,
                 enum hobuf_drop_reason *why)
{
    uint8_t buf[1500];
    return hobq_push(q, buf, mkpkt(buf, len, dst, seq), now, why);
}

/* Records what a flush re-injects. */
struct sink {
    uint8_t seq[256];
    struct in_addr dst[256];
    size_t n;
    int fail_from; /* emit fails for the n-th packet onwards (-1: never) */
};

static int emit(void *ctx, const uint8_t *pkt, size_t len)
{
    struct sink *s = ctx;
    assert_true(len >= 21);
    if (s->fail_from >= 0 && (int)s->n >= s->fail_from) {
        s->n++;
        return -EIO;
    }
    s->seq[s->n] = pkt[20];
    memcpy(&s->dst[s->n].s_addr, pkt + 16, 4);
    s->n++;
    return 0;
}

static struct hobuf_limits lim(uint32_t pkts, uint32_t bytes, uint32_t hold, uint64_t total)
{
    return (struct hobuf_limits){
        .max_pkts = pkts, .max_bytes = bytes, .hold_ms = hold, .total_bytes = total};
}

static void test_defaults(void **st)
{
    (void)st;
    struct hobuf_limits l;
    hobuf_limits_default(&l);
    assert_int_equal(l.max_pkts, 1000);
    assert_int_equal(l.max_bytes, 1024 * 1024);
    assert_int_equal(l.hold_ms, 2000);
    assert_true(l.total_bytes >= l.max_bytes);
    assert_string_equal(hobuf_drop_reason_name(HOBUF_DROP_OVERFLOW), "overflow");
    assert_string_equal(hobuf_drop_reason_name(HOBUF_DROP_EXPIRED), "expired");
    assert_string_equal(hobuf_drop_reason_name(HOBUF_DROP_NO_MN), "no_mn");
    assert_string_equal(hobuf_drop_reason_name(HOBUF_DROP_DISCARDED), "discarded");
    assert_string_equal(hobuf_drop_reason_name(HOBUF_DROP_TX), "tx_error");
    struct hobq *q = hobq_new(NULL); /* defaults */
    struct in_addr a = ip("10.10.0.100");
    assert_int_equal(hobq_hold(q, a, 0), 0);
    for (unsigned i = 0; i < 1000; i++)
        assert_true(push(q, a, (uint8_t)i, 100, i, NULL));
    enum hobuf_drop_reason why;
    assert_false(push(q, a, 0, 100, 1000, &why));
    assert_int_equal(why, HOBUF_DROP_OVERFLOW);
    hobq_free(q);
}

/* Packets of each address come out in arrival order, others untouched. */
static void test_order(void **st)
{
    (void)st;
    struct hobuf_limits l = lim(100, 100000, 1000, 1000000);
    struct hobq *q = hobq_new(&l);
    struct in_addr a = ip("10.10.0.100"), b = ip("10.10.0.101");
    assert_int_equal(hobq_hold(q, a, 5), 0);
    assert_int_equal(hobq_hold(q, a, 6), -EEXIST);
    assert_int_equal(hobq_hold(q, b, 7), 0);
    assert_true(hobq_holding(q, a));
    assert_true(hobq_holding(q, b));
    assert_false(hobq_holding(q, ip("10.10.0.102")));
    assert_int_equal(hobq_count(q), 2);
    for (uint8_t i = 0; i < 50; i++) {
        assert_true(push(q, a, i, 40 + i, 10 + i, NULL));
        if (i % 2)
            assert_true(push(q, b, (uint8_t)(100 + i), 60, 10 + i, NULL));
    }
    struct hobuf_stats s;
    uint64_t since;
    assert_int_equal(hobq_stats(q, a, &s, &since), 0);
    assert_int_equal(since, 5);
    assert_int_equal(s.held_pkts, 50);
    assert_int_equal(s.queued, 50);
    size_t bytes = 0;
    for (unsigned i = 0; i < 50; i++)
        bytes += 40 + i;
    assert_int_equal(s.held_bytes, bytes);
    assert_int_equal(hobq_stats(q, b, &s, NULL), 0);
    assert_int_equal(s.held_pkts, 25);
    struct hobuf_stats t;
    hobq_total(q, &t);
    assert_int_equal(t.held_pkts, 75);
    assert_int_equal(t.held_bytes, bytes + 25 * 60);

    struct sink k = {.fail_from = -1};
    struct hobuf_stats fin;
    assert_int_equal(hobq_flush(q, a, 100, emit, &k, &fin), 50);
    assert_int_equal(k.n, 50);
    for (unsigned i = 0; i < 50; i++) {
        assert_int_equal(k.seq[i], i);
        assert_int_equal(k.dst[i].s_addr, a.s_addr);
    }
    assert_int_equal(fin.flushed, 50);
    assert_int_equal(fin.held_pkts, 0);
    assert_int_equal(fin.held_bytes, 0);
    assert_false(hobq_holding(q, a));
    assert_int_equal(hobq_stats(q, a, &s, NULL), -ENOENT);
    assert_int_equal(hobq_flush(q, a, 100, emit, &k, NULL), -ENOENT);

    /* b is intact and in order. */
    memset(&k, 0, sizeof(k));
    k.fail_from = -1;
    assert_int_equal(hobq_flush(q, b, 100, emit, &k, NULL), 25);
    for (unsigned i = 0; i < 25; i++)
        assert_int_equal(k.seq[i], 100 + 2 * i + 1);
    hobq_total(q, &t);
    assert_int_equal(t.held_pkts, 0);
    assert_int_equal(t.held_bytes, 0);
    assert_int_equal(t.queued, 75);
    assert_int_equal(t.flushed, 75);
    assert_int_equal(hobq_count(q), 0);
    assert_int_equal(hobq_next_expiry(q), UINT64_MAX);
    hobq_free(q);
}

/* Per-address packet and byte bounds, and the total byte bound: tail drop. */
static void test_bounds(void **st)
{
    (void)st;
    enum hobuf_drop_reason why;
    struct hobuf_stats s, t;
    struct in_addr a = ip("10.10.0.100"), b = ip("10.10.0.101");

    /* Packet count. */
    struct hobuf_limits l = lim(3, 100000, 1000, 1000000);
    struct hobq *q = hobq_new(&l);
    assert_int_equal(hobq_hold(q, a, 0), 0);
    for (uint8_t i = 0; i < 5; i++) {
        why = HOBUF_DROP_REASONS;
        bool ok = push(q, a, i, 100, 1, &why);
        assert_true(ok == (i < 3));
        if (!ok)
            assert_int_equal(why, HOBUF_DROP_OVERFLOW);
    }
    struct sink k = {.fail_from = -1};
    assert_int_equal(hobq_flush(q, a, 2, emit, &k, &s), 3);
    assert_int_equal(s.dropped[HOBUF_DROP_OVERFLOW], 2);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(k.seq[i], i); /* the oldest are kept */
    hobq_free(q);

    /* Bytes per address: exactly at the bound is allowed. */
    l = lim(100, 250, 1000, 1000000);
    q = hobq_new(&l);
    assert_int_equal(hobq_hold(q, a, 0), 0);
    assert_true(push(q, a, 0, 100, 1, NULL));
    assert_true(push(q, a, 1, 150, 1, NULL)); /* 250 */
    assert_false(push(q, a, 2, 21, 1, &why));
    assert_int_equal(why, HOBUF_DROP_OVERFLOW);
    assert_int_equal(hobq_stats(q, a, &s, NULL), 0);
    assert_int_equal(s.held_bytes, 250);
    assert_int_equal(s.dropped[HOBUF_DROP_OVERFLOW], 1);
    hobq_free(q);

    /* Total bytes across addresses. */
    l = lim(100, 1000, 1000, 300);
    q = hobq_new(&l);
    assert_int_equal(hobq_hold(q, a, 0), 0);
    assert_int_equal(hobq_hold(q, b, 0), 0);
    assert_true(push(q, a, 0, 200, 1, NULL));
    assert_false(push(q, b, 0, 200, 1, &why)); /* 400 > 300 */
    assert_int_equal(why, HOBUF_DROP_OVERFLOW);
    assert_true(push(q, b, 1, 100, 1, NULL)); /* 300 */
    hobq_total(q, &t);
    assert_int_equal(t.held_bytes, 300);
    assert_int_equal(t.dropped[HOBUF_DROP_OVERFLOW], 1);
    assert_int_equal(hobq_stats(q, b, &s, NULL), 0);
    assert_int_equal(s.dropped[HOBUF_DROP_OVERFLOW], 1);
    /* Dropping a frees room for b. */
    assert_int_equal(hobq_drop(q, a, &s), 1);
    assert_int_equal(s.dropped[HOBUF_DROP_DISCARDED], 1);
    assert_true(push(q, b, 2, 200, 2, NULL));
    hobq_free(q);

    /* Zero bounds hold nothing. */
    l = lim(0, 0, 1000, 0);
    q = hobq_new(&l);
    assert_int_equal(hobq_hold(q, a, 0), 0);
    assert_false(push(q, a, 0, 21, 1, &why));
    assert_int_equal(why, HOBUF_DROP_OVERFLOW);
    hobq_free(q);
}

/* Packets held hold_ms are dropped, oldest first, whatever their address. */
static void test_expiry(void **st)
{
    (void)st;
    struct hobuf_limits l = lim(2, 100000, 100, 1000000);
    struct hobq *q = hobq_new(&l);
    struct in_addr a = ip("10.10.0.100"), b = ip("10.10.0.101");
    assert_int_equal(hobq_hold(q, a, 0), 0);
    assert_int_equal(hobq_hold(q, b, 0), 0);
    assert_int_equal(hobq_next_expiry(q), UINT64_MAX);
    assert_true(push(q, a, 0, 50, 1000, NULL));
    assert_true(push(q, b, 1, 50, 1020, NULL));
    assert_true(push(q, a, 2, 50, 1050, NULL));
    assert_int_equal(hobq_next_expiry(q), 1100);
    assert_int_equal(hobq_expire(q, 1099), 0);
    assert_int_equal(hobq_expire(q, 1100), 1); /* a#0 held exactly 100 ms */
    assert_int_equal(hobq_next_expiry(q), 1120);
    /* a is full again only until its old packets expire: a push expires first. */
    assert_true(push(q, a, 3, 50, 1100, NULL)); /* a: #2 #3 */
    enum hobuf_drop_reason why;
    assert_false(push(q, a, 4, 50, 1100, &why));
    assert_int_equal(why, HOBUF_DROP_OVERFLOW);
    assert_true(push(q, a, 5, 50, 1150, NULL)); /* #2 expired at 1150: a = #3 #5 */
    struct hobuf_stats s;
    assert_int_equal(hobq_stats(q, a, &s, NULL), 0);
    assert_int_equal(s.dropped[HOBUF_DROP_EXPIRED], 2);
    assert_int_equal(s.dropped[HOBUF_DROP_OVERFLOW], 1);
    assert_int_equal(s.held_pkts, 2);
    assert_int_equal(hobq_stats(q, b, &s, NULL), 0);
    assert_int_equal(s.dropped[HOBUF_DROP_EXPIRED], 1); /* b#1 went at 1120 */
    assert_int_equal(s.held_pkts, 0);
    assert_int_equal(hobq_next_expiry(q), 1200);

    /* A flush first drops what is due: #3 (1100) at 1210, keeps #5 (1150). */
    struct sink k = {.fail_from = -1};
    assert_int_equal(hobq_flush(q, a, 1210, emit, &k, &s), 1);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.seq[0], 5);
    assert_int_equal(s.dropped[HOBUF_DROP_EXPIRED], 3);
    assert_int_equal(s.queued, 4);
    assert_int_equal(s.flushed, 1);
    struct hobuf_stats t;
    hobq_total(q, &t);
    assert_int_equal(t.dropped[HOBUF_DROP_EXPIRED], 4);
    assert_int_equal(t.queued, 5);
    assert_int_equal(hobq_next_expiry(q), UINT64_MAX);
    hobq_free(q);
}

/* Packets for no held address, non-IPv4, truncated: counted in the total only. */
static void test_no_mn(void **st)
{
    (void)st;
    struct hobq *q = hobq_new(NULL);
    struct in_addr a = ip("10.10.0.100");
    enum hobuf_drop_reason why;
    assert_false(push(q, a, 0, 60, 0, &why)); /* nothing held yet */
    assert_int_equal(why, HOBUF_DROP_NO_MN);
    assert_int_equal(hobq_hold(q, a, 0), 0);
    assert_false(push(q, ip("10.10.0.7"), 0, 60, 0, &why));
    assert_int_equal(why, HOBUF_DROP_NO_MN);
    uint8_t v6[60] = {0x60};
    assert_false(hobq_push(q, v6, sizeof(v6), 0, &why));
    assert_int_equal(why, HOBUF_DROP_NO_MN);
    uint8_t shortp[19] = {0x45};
    assert_false(hobq_push(q, shortp, sizeof(shortp), 0, NULL));
    struct hobuf_stats t, s;
    hobq_total(q, &t);
    assert_int_equal(t.dropped[HOBUF_DROP_NO_MN], 4);
    assert_int_equal(t.queued, 0);
    assert_int_equal(hobq_stats(q, a, &s, NULL), 0);
    assert_int_equal(s.dropped[HOBUF_DROP_NO_MN], 0);
    hobq_free(q);
}

/* Failed re-injections and discarded buffers are counted. */
static void test_tx_error_and_drop(void **st)
{
    (void)st;
    struct hobq *q = hobq_new(NULL);
    struct in_addr a = ip("10.10.0.100"), b = ip("10.10.0.101");
    assert_int_equal(hobq_hold(q, a, 0), 0);
    assert_int_equal(hobq_hold(q, b, 0), 0);
    for (uint8_t i = 0; i < 10; i++) {
        assert_true(push(q, a, i, 30, 1, NULL));
        assert_true(push(q, b, i, 30, 1, NULL));
    }
    struct sink k = {.fail_from = 6};
    struct hobuf_stats s, t;
    assert_int_equal(hobq_flush(q, a, 2, emit, &k, &s), 6);
    assert_int_equal(k.n, 10); /* every packet was offered */
    assert_int_equal(s.flushed, 6);
    assert_int_equal(s.dropped[HOBUF_DROP_TX], 4);
    assert_int_equal(hobq_drop(q, b, &s), 10);
    assert_int_equal(s.dropped[HOBUF_DROP_DISCARDED], 10);
    assert_int_equal(s.held_pkts, 0);
    assert_int_equal(hobq_drop(q, b, NULL), -ENOENT);
    hobq_total(q, &t);
    assert_int_equal(t.queued, 20);
    assert_int_equal(t.flushed, 6);
    assert_int_equal(t.dropped[HOBUF_DROP_TX], 4);
    assert_int_equal(t.dropped[HOBUF_DROP_DISCARDED], 10);
    assert_int_equal(t.held_pkts, 0);
    /* An address can be held again after its hold ended. */
    assert_int_equal(hobq_hold(q, a, 3), 0);
    assert_int_equal(hobq_stats(q, a, &s, NULL), 0);
    assert_int_equal(s.queued, 0);
    hobq_free(q);
}

struct visit {
    unsigned n;
    uint64_t held;
};

static void visit(void *ctx, struct in_addr hoa, uint64_t since_ms, const struct hobuf_stats *st)
{
    (void)hoa;
    (void)since_ms;
    struct visit *v = ctx;
    v->n++;
    v->held += st->held_pkts;
}

/* Many addresses; freeing with packets still held releases everything (ASan). */
static void test_many_and_free(void **st)
{
    (void)st;
    struct hobq *q = hobq_new(NULL);
    char s[32];
    for (unsigned i = 0; i < 200; i++) {
        snprintf(s, sizeof(s), "10.10.%u.%u", i / 250, i % 250 + 1);
        assert_int_equal(hobq_hold(q, ip(s), i), 0);
        for (unsigned j = 0; j <= i % 5; j++)
            assert_true(push(q, ip(s), (uint8_t)j, 100, 1000 + j, NULL));
    }
    struct visit v = {0};
    hobq_foreach(q, visit, &v);
    assert_int_equal(v.n, 200);
    assert_int_equal(v.held, 40 * (1 + 2 + 3 + 4 + 5));
    assert_int_equal(hobq_count(q), 200);
    hobq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_order),
        cmocka_unit_test(test_bounds),        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_no_mn),         cmocka_unit_test(test_tx_error_and_drop),
        cmocka_unit_test(test_many_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
