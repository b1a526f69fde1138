/* Event loop timers: ordering, re-arming, cancelling, many timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "loop.h"

struct rec {
    struct loop_timer t;
    int id;
    int *order;
    int *n;
};

static void fired(struct loop *l, void *arg)
{
    (void)l;
    struct rec *r = arg;
    r->order[(*r->n)++] = r->id;
}

static void test_order_and_cancel(void **st)
{
    (void)st;
    struct loop *l = loop_new();
    loop_set_fake_time(l, 0);
    int order[8], n = 0;
    struct rec r[5];
    uint64_t due[5] = {50, 10, 30, 20, 40};
    for (int i = 0; i < 5; i++) {
        r[i] = (struct rec){.id = i, .order = order, .n = &n};
        loop_timer_init(&r[i].t, fired, &r[i]);
        loop_timer_arm(l, &r[i].t, due[i]);
    }
    loop_timer_cancel(l, &r[2].t);        /* 30 never fires */
    loop_timer_arm(l, &r[0].t, 5);        /* 50 -> 5: earlier */
    assert_int_equal(loop_timer_count(l), 4);
    loop_set_fake_time(l, 25);
    loop_run_once(l, 0);
    assert_int_equal(n, 3);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 3);
    loop_set_fake_time(l, 100);
    loop_run_once(l, 0);
    assert_int_equal(n, 4);
    assert_int_equal(order[3], 4);
    assert_false(loop_timer_armed(&r[2].t));
    loop_free(l);
}

static void test_many_timers(void **st)
{
    (void)st;
    enum { N = 100000 };
    struct loop *l = loop_new();
    loop_set_fake_time(l, 0);
    struct rec *r = calloc(N, sizeof(*r));
    int *order = calloc(N, sizeof(int)), n = 0;
    srand(7);
    for (int i = 0; i < N; i++) {
        r[i] = (struct rec){.id = i, .order = order, .n = &n};
        loop_timer_init(&r[i].t, fired, &r[i]);
        loop_timer_arm(l, &r[i].t, 1 + (uint64_t)(rand() % 100000));
    }
    for (int i = 0; i < N; i += 2)
        loop_timer_cancel(l, &r[i].t);
    assert_int_equal(loop_timer_count(l), N / 2);
    loop_set_fake_time(l, 200000);
    loop_run_once(l, 0);
    assert_int_equal(n, N / 2);
    for (int i = 1; i < n; i++)
        assert_true(r[order[i - 1]].t.due_ms <= r[order[i]].t.due_ms);
    free(order);
    free(r);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_cancel),
        cmocka_unit_test(test_many_timers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
