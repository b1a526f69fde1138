/* Event loop: epoll for descriptors, a binary min-heap for timers. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct fd_watch {
    int fd;
    loop_fd_cb cb;
    void *arg;
    struct fd_watch *next; /* free list / deferred release */
};

struct loop {
    int epfd;
    bool stop;
    bool fake_time;
    uint64_t now_ms;
    struct loop_timer **heap; /* heap[0] is the earliest timer */
    size_t n_heap, cap_heap;
    struct fd_watch **fds; /* indexed by fd */
    size_t cap_fds;
    struct fd_watch *graveyard; /* watches deleted during dispatch, freed after */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->now_ms = mono_ms();
    return l;
}

static void bury_graveyard(struct loop *l)
{
    while (l->graveyard) {
        struct fd_watch *w = l->graveyard;
        l->graveyard = w->next;
        free(w);
    }
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->cap_fds; i++)
        free(l->fds[i]);
    free(l->fds);
    bury_graveyard(l);
    /* Timers are owned by their objects; just forget them. */
    for (size_t i = 0; i < l->n_heap; i++)
        l->heap[i]->heap_idx = 0;
    free(l->heap);
    close(l->epfd);
    free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= l->cap_fds) {
        size_t ncap = l->cap_fds ? l->cap_fds : 64;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        struct fd_watch **n = realloc(l->fds, ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        memset(n + l->cap_fds, 0, (ncap - l->cap_fds) * sizeof(*n));
        l->fds = n;
        l->cap_fds = ncap;
    }
    if (l->fds[fd])
        return -EEXIST;
    struct fd_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        free(w);
        return -e;
    }
    l->fds[fd] = w;
    return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    if (fd < 0 || (size_t)fd >= l->cap_fds || !l->fds[fd])
        return -ENOENT;
    struct epoll_event ev = {.events = events, .data.ptr = l->fds[fd]};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del_fd(struct loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->cap_fds || !l->fds[fd])
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    struct fd_watch *w = l->fds[fd];
    l->fds[fd] = NULL;
    /* An event for it may still be pending in this iteration's batch. */
    w->cb = NULL;
    w->next = l->graveyard;
    l->graveyard = w;
}

/* ---- timers: 1-based indices stored in heap_idx ---- */

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->heap_idx = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->due_ms <= t->due_ms)
            break;
        heap_set(l, i, l->heap[p]);
        i = p;
    }
    heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n_heap)
            break;
        if (c + 1 < l->n_heap && l->heap[c + 1]->due_ms < l->heap[c]->due_ms)
            c++;
        if (t->due_ms <= l->heap[c]->due_ms)
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
    t->arg = arg;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (!t->heap_idx)
        return;
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    l->n_heap--;
    if (i == l->n_heap)
        return;
    struct loop_timer *last = l->heap[l->n_heap];
    heap_set(l, i, last);
    heap_down(l, i);
    heap_up(l, last->heap_idx - 1);
}

void loop_timer_arm_at(struct loop *l, struct loop_timer *t, uint64_t due_ms)
{
    if (t->heap_idx) {
        size_t i = t->heap_idx - 1;
        uint64_t old = t->due_ms;
        t->due_ms = due_ms;
        if (due_ms < old)
            heap_up(l, i);
        else
            heap_down(l, i);
        return;
    }
    if (l->n_heap == l->cap_heap) {
        size_t ncap = l->cap_heap ? l->cap_heap * 2 : 64;
        struct loop_timer **n = realloc(l->heap, ncap * sizeof(*n));
        if (!n)
            abort(); /* a timer that silently never fires would lose state */
        l->heap = n;
        l->cap_heap = ncap;
    }
    t->due_ms = due_ms;
    heap_set(l, l->n_heap++, t);
    heap_up(l, l->n_heap - 1);
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ms_from_now)
{
    loop_timer_arm_at(l, t, loop_now_ms(l) + ms_from_now);
}

size_t loop_timer_count(const struct loop *l)
{
    return l->n_heap;
}

uint64_t loop_now_ms(struct loop *l)
{
    return l->now_ms;
}

uint64_t loop_now_ms_fresh(struct loop *l)
{
    if (!l->fake_time)
        l->now_ms = mono_ms();
    return l->now_ms;
}

void loop_set_fake_time(struct loop *l, uint64_t now_ms)
{
    l->fake_time = true;
    l->now_ms = now_ms;
}

static void fire_timers(struct loop *l)
{
    loop_now_ms_fresh(l);
    while (l->n_heap && l->heap[0]->due_ms <= l->now_ms) {
        struct loop_timer *t = l->heap[0];
        loop_timer_cancel(l, t);
        t->cb(l, t->arg); /* may re-arm t or free its owner */
    }
}

void loop_run_once(struct loop *l, int timeout_ms)
{
    fire_timers(l);
    int wait = timeout_ms;
    if (l->n_heap && !l->fake_time) {
        uint64_t d = l->heap[0]->due_ms > l->now_ms ? l->heap[0]->due_ms - l->now_ms : 0;
        if (wait < 0 || d < (uint64_t)wait)
            wait = (int)(d > 60000 ? 60000 : d);
    }
    struct epoll_event evs[64];
    int n = epoll_wait(l->epfd, evs, 64, wait);
    loop_now_ms_fresh(l);
    for (int i = 0; i < n; i++) {
        struct fd_watch *w = evs[i].data.ptr;
        if (w->cb)
            w->cb(l, w->fd, evs[i].events, w->arg);
    }
    bury_graveyard(l);
    fire_timers(l);
}

int loop_run(struct loop *l)
{
    l->stop = false;
    while (!l->stop)
        loop_run_once(l, -1);
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stop = true;
}
