/*
 * Diameter glue: libfdcore start-up and the hand-off of everything its
 * threads deliver to the daemon's event loop (DESIGN §4).  See diam.h.
 */
#include "diam.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"
#include "mip4vpn_dict.h"
#include "vpn_avp.h"

/* Base protocol AVP codes (RFC 6733 §4.5). */
#define AVP_SESSION_ID 263
#define AVP_ORIGIN_HOST 264
#define AVP_RESULT_CODE 268
#define AVP_ERROR_MESSAGE 281
#define AVP_DESTINATION_REALM 283
#define AVP_DESTINATION_HOST 293
#define AVP_AUTH_APPLICATION_ID 258
#define DIAMETER_UNABLE_TO_DELIVER 3002

struct event {
    struct event *next;
    void (*fn)(void *arg);
    void *arg;
};

struct handler {
    struct diam *d;
    uint32_t cmd;
    diam_req_cb cb;
    void *ctx;
    struct disp_hdl *hdl;
    struct handler *next;
};

/* One request in flight: freeDiameter calls exactly one of the answer and
 * the expiry callbacks; the loop callback then runs once. */
struct inflight {
    struct diam *d;
    diam_ans_cb cb;
    void *arg;
    struct msg *ans;
    char why[160];
};

struct delivered {
    struct handler *h;
    struct msg *req;
};

struct diam {
    struct loop *loop;
    int efd;
    pthread_mutex_t mu;
    struct event *head, *tail;
    struct handler *handlers;
    struct fd_rt_fwd_hdl *fwd_hdl;
    diam_fwd_cb fwd_cb;
    void *fwd_ctx;
    struct dict_object *app;
    struct fd_hook_hdl *sent_hook;
    struct diam_counters cnt; /* updated with __atomic builtins */
};

static struct diam *g_diam; /* libfdcore is a process singleton */

#define CNT_INC(d, f) __atomic_add_fetch(&(d)->cnt.f, 1, __ATOMIC_RELAXED)

/* ---- event queue ---------------------------------------------------------- */

int diam_post(struct diam *d, void (*fn)(void *arg), void *arg)
{
    struct event *e = malloc(sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->next = NULL;
    e->fn = fn;
    e->arg = arg;
    pthread_mutex_lock(&d->mu);
    if (d->tail)
        d->tail->next = e;
    else
        d->head = e;
    d->tail = e;
    pthread_mutex_unlock(&d->mu);
    uint64_t one = 1;
    if (write(d->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

static void drain(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)l;
    (void)ev;
    struct diam *d = arg;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&d->mu);
    struct event *e = d->head;
    d->head = d->tail = NULL;
    pthread_mutex_unlock(&d->mu);
    while (e) {
        struct event *next = e->next;
        e->fn(e->arg);
        free(e);
        e = next;
    }
}

/* ---- dictionary lookups (cached: hot path of every message) --------------- */

#define IETF_CACHE 1024
static struct dict_object *ietf_cache[IETF_CACHE];
static struct dict_object *ours_cache[MIP4VPN_AVP_LAST_CODE - MIP4VPN_AVP_FIRST_CODE + 1];

struct dict_object *diam_avp_dict(uint32_t code, uint32_t vendor)
{
    struct dict_object **slot = NULL;
    if (vendor == 0 && code < IETF_CACHE)
        slot = &ietf_cache[code];
    else if (vendor != 0 && code >= MIP4VPN_AVP_FIRST_CODE && code <= MIP4VPN_AVP_LAST_CODE)
        slot = &ours_cache[code - MIP4VPN_AVP_FIRST_CODE];
    if (slot) {
        struct dict_object *o = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (o)
            return o;
    }
    struct dict_avp_request req = {.avp_vendor = vendor, .avp_code = code};
    struct dict_object *o = NULL;
    if (fd_dict_search(fd_g_config->cnf_dict, DICT_AVP, AVP_BY_CODE_AND_VENDOR, &req, &o, ENOENT))
        return NULL;
    if (slot)
        __atomic_store_n(slot, o, __ATOMIC_RELEASE);
    return o;
}

/* ---- start / stop ------------------------------------------------------- */

static int on_request(struct msg **m, struct avp *avp, struct session *sess, void *opaque,
                      enum disp_action *act);
static int on_forward(void *cbdata, struct msg **m);
static void on_sent(enum fd_hook_type type, struct msg *m, struct peer_hdr *peer, void *other,
                    struct fd_hook_permsgdata *pmd, void *regdata);

/* freeDiameter's log lines go to ours (stderr, one write per line). */
static void fd_logger(int level, const char *fmt, va_list ap)
{
    enum log_level l = level >= FD_LOG_ERROR    ? LOG_LVL_WARN
                       : level >= FD_LOG_NOTICE ? LOG_LVL_INFO
                                                : LOG_LVL_DEBUG;
    char buf[900];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    log_msg(l, "freeDiameter: %s", buf);
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct diam *diam_start(struct loop *loop, const char *fd_conf, uint32_t vendor_id, char *err,
                        size_t errlen)
{
    if (g_diam) {
        fail(err, errlen, "Diameter is already running in this process");
        return NULL;
    }
    if (access(fd_conf, R_OK) != 0) {
        fail(err, errlen, "%s: %s", fd_conf, strerror(errno));
        return NULL;
    }
    struct diam *d = calloc(1, sizeof(*d));
    if (!d) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    d->loop = loop;
    pthread_mutex_init(&d->mu, NULL);
    d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->efd < 0 || loop_add_fd(loop, d->efd, EPOLLIN, drain, d) < 0) {
        fail(err, errlen, "eventfd: %s", strerror(errno));
        goto fail_fd;
    }
    fd_log_handler_register(fd_logger);
    int rc = fd_core_initialize();
    if (rc) {
        fail(err, errlen, "freeDiameter initialisation failed (%s)", strerror(rc));
        goto fail_fd;
    }
    rc = fd_core_parseconf(fd_conf);
    if (rc) {
        fail(err, errlen, "%s: freeDiameter rejected the configuration (%s; its log says where)",
             fd_conf, strerror(rc));
        goto fail_core;
    }
    rc = mip4vpn_dict_init(vendor_id);
    if (rc) {
        fail(err, errlen, "dictionary registration failed (%s)", strerror(rc));
        goto fail_core;
    }
    application_id_t app_id = MIP4_APPLICATION_ID;
    if (fd_dict_search(fd_g_config->cnf_dict, DICT_APPLICATION, APPLICATION_BY_ID, &app_id, &d->app,
                       ENOENT) ||
        fd_disp_app_support(d->app, NULL, 1, 0)) {
        fail(err, errlen, "cannot declare support of application 2 (RFC 4004)");
        goto fail_core;
    }
    if (fd_hook_register(HOOK_MASK(HOOK_MESSAGE_SENT), on_sent, NULL, NULL, &d->sent_hook)) {
        fail(err, errlen, "cannot register the message-sent hook");
        goto fail_core;
    }
    rc = fd_core_start();
    if (rc) {
        fail(err, errlen, "freeDiameter did not start (%s)", strerror(rc));
        goto fail_core;
    }
    rc = fd_core_waitstartcomplete();
    if (rc) {
        fail(err, errlen, "freeDiameter start did not complete (%s)", strerror(rc));
        goto fail_core;
    }
    g_diam = d;
    return d;
fail_core:
    fd_core_shutdown();
    fd_core_wait_shutdown_complete();
fail_fd:
    if (d->efd >= 0) {
        loop_del_fd(loop, d->efd);
        close(d->efd);
    }
    pthread_mutex_destroy(&d->mu);
    free(d);
    return NULL;
}

void diam_stop(struct diam *d)
{
    if (!d)
        return;
    if (d->fwd_hdl) {
        void *cbdata = NULL;
        fd_rt_fwd_unregister(d->fwd_hdl, &cbdata);
    }
    for (struct handler *h = d->handlers; h; h = h->next) {
        void *opaque = NULL;
        fd_disp_unregister(&h->hdl, &opaque);
    }
    if (d->sent_hook)
        fd_hook_unregister(d->sent_hook);
    fd_core_shutdown();
    fd_core_wait_shutdown_complete();
    /* Whatever the threads queued and the loop did not run: drop it.  The
     * events own messages we cannot interpret here, so they leak only in
     * the sense of not being processed; free what we can recognise. */
    pthread_mutex_lock(&d->mu);
    struct event *e = d->head;
    d->head = d->tail = NULL;
    pthread_mutex_unlock(&d->mu);
    while (e) {
        struct event *next = e->next;
        e->fn(e->arg); /* callbacks see the loop still alive; they answer into a stopped core */
        free(e);
        e = next;
    }
    while (d->handlers) {
        struct handler *h = d->handlers;
        d->handlers = h->next;
        free(h);
    }
    loop_del_fd(d->loop, d->efd);
    close(d->efd);
    pthread_mutex_destroy(&d->mu);
    g_diam = NULL;
    free(d);
}

const char *diam_identity(const struct diam *d)
{
    (void)d;
    return (const char *)fd_g_config->cnf_diamid;
}

const char *diam_realm(const struct diam *d)
{
    (void)d;
    return (const char *)fd_g_config->cnf_diamrlm;
}

void diam_get_counters(const struct diam *d, struct diam_counters *out)
{
    const uint64_t *src = (const uint64_t *)&d->cnt;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* ---- requests we serve -------------------------------------------------- */

static void deliver_request(void *arg)
{
    struct delivered *dv = arg;
    dv->h->cb(dv->h->ctx, dv->req);
    free(dv);
}

/* freeDiameter dispatch thread: take the request and hand it to the loop. */
static int on_request(struct msg **m, struct avp *avp, struct session *sess, void *opaque,
                      enum disp_action *act)
{
    (void)avp;
    (void)sess;
    struct handler *h = opaque;
    struct msg_hdr *hdr = NULL;
    *act = DISP_ACT_CONT;
    if (fd_msg_hdr(*m, &hdr) || !(hdr->msg_flags & CMD_FLAG_REQUEST))
        return 0; /* answers to our requests come through diam_send's callback */
    struct delivered *dv = malloc(sizeof(*dv));
    if (!dv)
        return ENOMEM; /* freeDiameter answers UNABLE_TO_COMPLY */
    dv->h = h;
    dv->req = *m;
    if (diam_post(h->d, deliver_request, dv) < 0) {
        free(dv);
        return ENOMEM;
    }
    CNT_INC(h->d, req_rx);
    *m = NULL;
    return 0;
}

int diam_on_request(struct diam *d, uint32_t cmd_code, diam_req_cb cb, void *ctx)
{
    struct dict_object *cmd = NULL;
    struct handler *h = calloc(1, sizeof(*h));
    if (!h)
        return ENOMEM;
    /* By code and the R flag: base-protocol commands (STR) exist only once. */
    if (fd_dict_search(fd_g_config->cnf_dict, DICT_COMMAND, CMD_BY_CODE_R, &cmd_code, &cmd,
                       ENOENT)) {
        free(h);
        return ENOENT;
    }
    h->d = d;
    h->cmd = cmd_code;
    h->cb = cb;
    h->ctx = ctx;
    struct disp_when when = {.app = d->app, .command = cmd};
    int rc = fd_disp_register(on_request, DISP_HOW_CC, &when, h, &h->hdl);
    if (rc) {
        free(h);
        return rc;
    }
    h->next = d->handlers;
    d->handlers = h;
    return 0;
}

int diam_new_answer(struct msg *req, struct msg **ans)
{
    struct msg *m = req;
    int rc = fd_msg_new_answer_from_req(fd_g_config->cnf_dict, &m, 0);
    if (rc)
        return rc;
    rc = fd_msg_add_origin(m, 0);
    if (rc == 0)
        rc = diam_add_u32(m, AVP_AUTH_APPLICATION_ID, 0, MIP4_APPLICATION_ID);
    if (rc) {
        fd_msg_free(m);
        return rc;
    }
    *ans = m;
    return 0;
}

int diam_set_result(struct msg *ans, uint32_t result_code, const char *error_message)
{
    struct msg_hdr *hdr = NULL;
    int rc = diam_add_u32(ans, AVP_RESULT_CODE, 0, result_code);
    if (rc == 0 && error_message && *error_message)
        rc = diam_add_str(ans, AVP_ERROR_MESSAGE, 0, error_message);
    /* RFC 6733 §7.1: protocol errors (3xxx) carry the E bit. */
    if (rc == 0 && result_code >= 3000 && result_code < 4000 && fd_msg_hdr(ans, &hdr) == 0)
        hdr->msg_flags |= CMD_FLAG_ERROR;
    return rc;
}

int diam_answer(struct diam *d, struct msg **ans)
{
    int rc = fd_msg_send(ans, NULL, NULL);
    if (rc) {
        CNT_INC(d, send_errors);
        if (*ans)
            diam_msg_free(*ans);
        *ans = NULL;
        return rc;
    }
    CNT_INC(d, ans_tx);
    return 0;
}

/* ---- requests we send --------------------------------------------------- */

static void deliver_answer(void *arg)
{
    struct inflight *f = arg;
    f->cb(f->arg, f->ans, f->ans ? NULL : f->why);
    free(f);
}

static void on_answer(void *data, struct msg **m)
{
    struct inflight *f = data;
    f->ans = *m;
    *m = NULL;
    CNT_INC(f->d, ans_rx);
    /* A locally generated error (no route, peer down) is an answer too:
     * its Result-Code (3002 ...) tells the caller why. */
    if (diam_post(f->d, deliver_answer, f) < 0) {
        diam_msg_free(f->ans);
        free(f);
    }
}

static void on_expire(void *data, DiamId_t peer, size_t peerlen, struct msg **m)
{
    struct inflight *f = data;
    CNT_INC(f->d, timeouts);
    f->ans = NULL;
    snprintf(f->why, sizeof(f->why), "no answer from %.*s before the timeout",
             peer ? (int)peerlen : 3, peer ? (const char *)peer : "any");
    if (*m) {
        vpn_avp_wipe_keys(*m);
        fd_msg_free(*m);
        *m = NULL;
    }
    if (diam_post(f->d, deliver_answer, f) < 0)
        free(f);
}

int diam_send(struct diam *d, struct msg **req, uint32_t timeout_ms, diam_ans_cb cb, void *arg)
{
    struct inflight *f = calloc(1, sizeof(*f));
    if (!f) {
        diam_msg_free(*req);
        *req = NULL;
        return ENOMEM;
    }
    f->d = d;
    f->cb = cb;
    f->arg = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = fd_msg_send_timeout(req, on_answer, f, on_expire, &ts);
    if (rc) {
        CNT_INC(d, send_errors);
        if (*req)
            diam_msg_free(*req);
        *req = NULL;
        free(f);
        return rc;
    }
    CNT_INC(d, req_tx);
    return 0;
}

static char g_session_tag[16];

static void make_session_tag(void)
{
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)getpid() ^ (uint32_t)time(NULL);
    snprintf(g_session_tag, sizeof(g_session_tag), "mip4-%08x", r);
}

int diam_new_request(uint32_t cmd_code, const char *session_id, struct msg **req)
{
    struct dict_object *cmd = NULL;
    if (fd_dict_search(fd_g_config->cnf_dict, DICT_COMMAND, CMD_BY_CODE_R, &cmd_code, &cmd, ENOENT))
        return ENOENT;
    struct msg *m = NULL;
    int rc = fd_msg_new(cmd, MSGFL_ALLOC_ETEID, &m);
    if (rc)
        return rc;
    struct msg_hdr *hdr = NULL;
    if (fd_msg_hdr(m, &hdr) == 0)
        hdr->msg_appl = MIP4_APPLICATION_ID;
    if (session_id) {
        struct avp *a = NULL;
        union avp_value v = {.os = {.data = (uint8_t *)session_id, .len = strlen(session_id)}};
        struct dict_object *o = diam_avp_dict(AVP_SESSION_ID, 0);
        rc = !o ? ENOENT : fd_msg_avp_new(o, 0, &a);
        if (rc == 0)
            rc = fd_msg_avp_setvalue(a, &v);
        if (rc == 0)
            rc = fd_msg_avp_add(m, MSG_BRW_FIRST_CHILD, a);
        else if (a)
            fd_msg_free(a);
    } else {
        /* freeDiameter's Session-Id is <identity>;<start time>;<counter>: two
         * processes with one identity started in the same second would
         * collide, so the optional part carries a per-process random tag. */
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, make_session_tag);
        rc = fd_msg_new_session(m, (os0_t)g_session_tag, strlen(g_session_tag));
    }
    if (rc == 0)
        rc = fd_msg_add_origin(m, 0);
    if (rc == 0)
        rc = diam_add_u32(m, AVP_AUTH_APPLICATION_ID, 0, MIP4_APPLICATION_ID);
    if (rc) {
        fd_msg_free(m);
        return rc;
    }
    *req = m;
    return 0;
}

/* ---- proxying ------------------------------------------------------------ */

static int on_forward(void *cbdata, struct msg **m)
{
    struct diam *d = cbdata;
    struct msg_hdr *hdr = NULL;
    if (!*m || fd_msg_hdr(*m, &hdr) || hdr->msg_appl != MIP4_APPLICATION_ID)
        return 0;
    bool is_req = hdr->msg_flags & CMD_FLAG_REQUEST;
    /* A relay does not interpret what it forwards: resolve the AVPs so the
     * callback can read values (the message is forwarded unchanged). */
    struct fd_pei pei;
    if (d->fwd_cb && fd_msg_parse_dict(*m, fd_g_config->cnf_dict, &pei) != 0) {
        log_warn("forwarded %s %u does not parse against our dictionary; passed on unread",
                 is_req ? "request" : "answer", hdr->msg_code);
        return 0;
    }
    if (is_req)
        CNT_INC(d, fwd_req);
    else
        CNT_INC(d, fwd_ans);
    if (d->fwd_cb)
        d->fwd_cb(d->fwd_ctx, *m, is_req, hdr->msg_code);
    return 0;
}

int diam_on_forward(struct diam *d, diam_fwd_cb cb, void *ctx)
{
    if (d->fwd_hdl)
        return EALREADY;
    d->fwd_cb = cb;
    d->fwd_ctx = ctx;
    return fd_rt_fwd_register(on_forward, d, RT_FWD_ALL, &d->fwd_hdl);
}

/* ---- AVP helpers --------------------------------------------------------- */

static int add_value(void *parent, uint32_t code, uint32_t vendor, union avp_value *v,
                     struct avp **out)
{
    struct dict_object *o = diam_avp_dict(code, vendor);
    if (!o)
        return ENOENT;
    struct avp *a = NULL;
    int rc = fd_msg_avp_new(o, 0, &a);
    if (rc)
        return rc;
    if (v)
        rc = fd_msg_avp_setvalue(a, v);
    if (rc == 0)
        rc = fd_msg_avp_add(parent, MSG_BRW_LAST_CHILD, a);
    if (rc) {
        fd_msg_free(a);
        return rc;
    }
    if (out)
        *out = a;
    return 0;
}

int diam_add_u32(void *parent, uint32_t code, uint32_t vendor, uint32_t v)
{
    union avp_value val = {.u32 = v};
    return add_value(parent, code, vendor, &val, NULL);
}

int diam_add_os(void *parent, uint32_t code, uint32_t vendor, const void *p, size_t len)
{
    union avp_value val = {.os = {.data = (uint8_t *)p, .len = len}};
    return add_value(parent, code, vendor, &val, NULL);
}

int diam_add_str(void *parent, uint32_t code, uint32_t vendor, const char *s)
{
    return diam_add_os(parent, code, vendor, s, strlen(s));
}

int diam_add_addr(void *parent, uint32_t code, uint32_t vendor, struct in_addr a)
{
    /* RFC 6733 §4.3.1 Address: 2-octet family (1 = IPv4) then the address. */
    uint8_t buf[6] = {0, 1};
    memcpy(buf + 2, &a, 4);
    return diam_add_os(parent, code, vendor, buf, sizeof(buf));
}

int diam_add_group(void *parent, uint32_t code, uint32_t vendor, struct avp **grp)
{
    return add_value(parent, code, vendor, NULL, grp);
}

int diam_add_dest(struct msg *m, const char *realm, const char *host)
{
    int rc = 0;
    if (host && *host)
        rc = diam_add_str(m, AVP_DESTINATION_HOST, 0, host);
    if (rc == 0 && realm && *realm)
        rc = diam_add_str(m, AVP_DESTINATION_REALM, 0, realm);
    return rc;
}

int diam_get_avp(void *parent, uint32_t code, uint32_t vendor, struct avp **out)
{
    struct avp *a = NULL;
    if (fd_msg_browse(parent, MSG_BRW_FIRST_CHILD, &a, NULL))
        return EINVAL;
    while (a) {
        struct avp_hdr *h = NULL;
        if (fd_msg_avp_hdr(a, &h) == 0 && h->avp_code == code &&
            (vendor == 0 ? !(h->avp_flags & AVP_FLAG_VENDOR)
                         : (h->avp_flags & AVP_FLAG_VENDOR) && h->avp_vendor == vendor)) {
            *out = a;
            return 0;
        }
        if (fd_msg_browse(a, MSG_BRW_NEXT, &a, NULL))
            return EINVAL;
    }
    return ENOENT;
}

static int get_value(void *parent, uint32_t code, uint32_t vendor, union avp_value **v)
{
    struct avp *a = NULL;
    int rc = diam_get_avp(parent, code, vendor, &a);
    if (rc)
        return rc;
    struct avp_hdr *h = NULL;
    if (fd_msg_avp_hdr(a, &h) || !h->avp_value)
        return EINVAL;
    *v = h->avp_value;
    return 0;
}

int diam_get_u32(void *parent, uint32_t code, uint32_t vendor, uint32_t *out)
{
    union avp_value *v = NULL;
    int rc = get_value(parent, code, vendor, &v);
    if (rc == 0)
        *out = v->u32;
    return rc;
}

int diam_get_os(void *parent, uint32_t code, uint32_t vendor, const uint8_t **p, size_t *len)
{
    union avp_value *v = NULL;
    int rc = get_value(parent, code, vendor, &v);
    if (rc == 0) {
        *p = v->os.data;
        *len = v->os.len;
    }
    return rc;
}

int diam_get_addr(void *parent, uint32_t code, uint32_t vendor, struct in_addr *out)
{
    const uint8_t *p;
    size_t len;
    int rc = diam_get_os(parent, code, vendor, &p, &len);
    if (rc)
        return rc;
    if (len != 6 || p[0] != 0 || p[1] != 1)
        return EINVAL; /* only IPv4 here */
    memcpy(out, p + 2, 4);
    return 0;
}

int diam_get_str(void *parent, uint32_t code, uint32_t vendor, char *buf, size_t buflen)
{
    const uint8_t *p;
    size_t len;
    int rc = diam_get_os(parent, code, vendor, &p, &len);
    if (rc)
        return rc;
    if (len + 1 > buflen)
        return ENOSPC;
    memcpy(buf, p, len);
    buf[len] = 0;
    return 0;
}

int diam_session_id(struct msg *m, char *buf, size_t buflen)
{
    return diam_get_str(m, AVP_SESSION_ID, 0, buf, buflen);
}

uint32_t diam_result_code(struct msg *ans)
{
    uint32_t rc = 0;
    if (diam_get_u32(ans, AVP_RESULT_CODE, 0, &rc))
        return 0;
    return rc;
}

uint32_t diam_cmd_code(struct msg *m)
{
    struct msg_hdr *hdr = NULL;
    return fd_msg_hdr(m, &hdr) ? 0 : hdr->msg_code;
}

/* RFC 4004 MSAs carry MIP-Session-Key (343): wipe it in each of them. */
static void wipe_session_keys(struct msg *m)
{
    static const uint32_t msas[] = {MIP4_AVP_MN_TO_FA_MSA, MIP4_AVP_FA_TO_MN_MSA,
                                    MIP4_AVP_FA_TO_HA_MSA, MIP4_AVP_HA_TO_FA_MSA,
                                    MIP4_AVP_MN_TO_HA_MSA, MIP4_AVP_HA_TO_MN_MSA};
    struct avp *a = NULL;
    if (fd_msg_browse(m, MSG_BRW_FIRST_CHILD, &a, NULL))
        return;
    for (; a; fd_msg_browse(a, MSG_BRW_NEXT, &a, NULL) ? (void)(a = NULL) : (void)0) {
        struct avp_hdr *h = NULL;
        if (fd_msg_avp_hdr(a, &h) || (h->avp_flags & AVP_FLAG_VENDOR))
            continue;
        bool msa = false;
        for (size_t i = 0; i < sizeof(msas) / sizeof(msas[0]); i++)
            msa |= h->avp_code == msas[i];
        if (!msa)
            continue;
        struct avp *k = NULL;
        union avp_value *v = NULL;
        if (diam_get_avp(a, MIP4_AVP_SESSION_KEY, 0, &k) == 0 && fd_msg_avp_hdr(k, &h) == 0 &&
            (v = h->avp_value) && v->os.data)
            OPENSSL_cleanse(v->os.data, v->os.len);
    }
}

static void wipe_keys(struct msg *m)
{
    vpn_avp_wipe_keys(m);
    wipe_session_keys(m);
}

void diam_msg_free(struct msg *m)
{
    if (!m)
        return;
    wipe_keys(m);
    /* An answer frees the request it answers with it: wipe that one too. */
    struct msg *q = NULL;
    if (fd_msg_answ_getq(m, &q) == 0 && q)
        wipe_keys(q);
    fd_msg_free(m);
}

/* freeDiameter frees an answer once it is sent: wipe the key AVPs of the
 * answers we send (AMA, HAA) first.  Requests stay queued until answered
 * (a failover re-sends them), so they are wiped when their answer is freed. */
static void on_sent(enum fd_hook_type type, struct msg *m, struct peer_hdr *peer, void *other,
                    struct fd_hook_permsgdata *pmd, void *regdata)
{
    (void)type;
    (void)peer;
    (void)other;
    (void)pmd;
    (void)regdata;
    struct msg_hdr *hdr = NULL;
    if (m && fd_msg_hdr(m, &hdr) == 0 && !(hdr->msg_flags & CMD_FLAG_REQUEST) &&
        hdr->msg_appl == MIP4_APPLICATION_ID)
        wipe_keys(m);
}
