/*
 * The daemon's event loop: one thread owns all agent state (DESIGN §4).  File
 * descriptors are watched with epoll; timers live in a binary min-heap and are
 * embedded in the objects they belong to (no allocation per timer), so a
 * million bindings cost a million heap slots and O(log n) per re-arm.
 */
#ifndef MIPD_LOOP_H
#define MIPD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_cb)(struct loop *l, void *arg);

struct loop_timer {
    uint64_t due_ms;  /* monotonic ms */
    size_t heap_idx;  /* position in the heap + 1; 0 = not armed */
    loop_timer_cb cb;
    void *arg;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* events: EPOLLIN/EPOLLOUT bits.  The callback runs on the loop thread. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
void loop_del_fd(struct loop *l, int fd);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg);
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ms_from_now);
void loop_timer_arm_at(struct loop *l, struct loop_timer *t, uint64_t due_ms);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_idx != 0;
}
size_t loop_timer_count(const struct loop *l);

/* Monotonic clock in ms (cached per iteration; loop_now_ms_fresh re-reads). */
uint64_t loop_now_ms(struct loop *l);
uint64_t loop_now_ms_fresh(struct loop *l);

/* Runs until loop_stop; returns 0.  Fires due timers, then waits for fds. */
int loop_run(struct loop *l);
/* Runs one iteration waiting at most timeout_ms (tests). */
void loop_run_once(struct loop *l, int timeout_ms);
void loop_stop(struct loop *l);

/* Unit tests may drive time themselves: when set, loop_now_ms returns the
 * value given and loop_run_once fires timers due at that time. */
void loop_set_fake_time(struct loop *l, uint64_t now_ms);

#endif
