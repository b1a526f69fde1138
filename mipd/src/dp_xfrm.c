/*
 * IPsec SAs and policies over NETLINK_XFRM (DESIGN §8), for the netlink
 * backend.  Messages are built with libnl's message API (struct
 * xfrm_usersa_info / xfrm_userpolicy_info + attributes) rather than
 * libnl-xfrm (one ack round-trip per object, leaks, unwiped keys), and sent
 * in batches: up to DP_XFRM_CHUNK messages per sendmsg (one iovec each), then
 * all their acks are read and matched by sequence number.
 *
 * Key bytes exist only in the caller's buffer and in the message being built;
 * every message is wiped (OPENSSL_cleanse) before it is freed.  NETLINK_CAP_ACK
 * keeps the kernel from echoing a failed request (keys included) in its error.
 *
 * Lifetimes: byte and packet limits XFRM_INF, time limits 0 (none).
 * Idempotency: an add that fails with EEXIST (leftover of an earlier run) is
 * retried once as delete + add, so the kernel holds exactly our object;
 * removing an object that is already gone (ESRCH/ENOENT) counts as success.
 */
#include "dp_backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include <openssl/crypto.h>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define DP_XFRM_CHUNK 128        /* messages per sendmsg / ack round */
#define DP_XFRM_ACK_TIMEOUT 5000 /* ms */

struct dp_xfrm_sock {
    int fd;
    uint32_t seq;
};

void dp_xfrm_sock_free(struct dp_xfrm_sock *xs)
{
    if (!xs)
        return;
    if (xs->fd >= 0)
        close(xs->fd);
    free(xs);
}

static int sock_open(struct dp_xfrm_sock **out)
{
    struct dp_xfrm_sock *xs = calloc(1, sizeof(*xs));
    if (!xs)
        return -ENOMEM;
    xs->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
    if (xs->fd < 0) {
        int e = errno;
        free(xs);
        fprintf(stderr, "dp_xfrm: socket(NETLINK_XFRM): %s\n", strerror(e));
        return -e;
    }
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int one = 1, rcv = 1 << 20;
    if (bind(xs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        dp_xfrm_sock_free(xs);
        return -e;
    }
    (void)setsockopt(xs->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    (void)setsockopt(xs->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    xs->seq = 1;
    *out = xs;
    return 0;
}

/* ---- message building ------------------------------------------------------ */

static void lft_infinite(struct xfrm_lifetime_cfg *l)
{
    memset(l, 0, sizeof(*l));
    l->soft_byte_limit = XFRM_INF;
    l->hard_byte_limit = XFRM_INF;
    l->soft_packet_limit = XFRM_INF;
    l->hard_packet_limit = XFRM_INF;
}

/* Attribute type 0 = none.  Key bytes go straight into the message. */
static int put_alg(struct nl_msg *m, int type, const struct dp_xfrm_alg *a)
{
    if (!a->name[0])
        return 0;
    size_t hdr;
    switch (type) {
    case XFRMA_ALG_AEAD:
        hdr = sizeof(struct xfrm_algo_aead);
        break;
    case XFRMA_ALG_AUTH_TRUNC:
        hdr = sizeof(struct xfrm_algo_auth);
        break;
    default:
        hdr = sizeof(struct xfrm_algo);
    }
    struct nlattr *at = nla_reserve(m, type, (int)(hdr + a->key_len));
    if (!at)
        return -ENOMEM;
    char *p = nla_data(at);
    memset(p, 0, hdr);
    /* All three start with alg_name[64] then alg_key_len (bits). */
    struct xfrm_algo *x = (struct xfrm_algo *)p;
    snprintf(x->alg_name, sizeof(x->alg_name), "%s", a->name);
    x->alg_key_len = a->key_len * 8;
    if (type == XFRMA_ALG_AEAD)
        ((struct xfrm_algo_aead *)p)->alg_icv_len = a->icv_bits;
    else if (type == XFRMA_ALG_AUTH_TRUNC)
        ((struct xfrm_algo_auth *)p)->alg_trunc_len = a->icv_bits;
    if (a->key_len)
        memcpy(p + hdr, a->key, a->key_len);
    return 0;
}

static void policy_sel(struct xfrm_selector *s, const struct dp_xfrm_policy *p)
{
    memset(s, 0, sizeof(*s));
    s->family = AF_INET;
    s->saddr.a4 = p->src.s_addr;
    s->daddr.a4 = p->dst.s_addr;
    s->prefixlen_s = p->src_plen;
    s->prefixlen_d = p->dst_plen;
}

static struct nl_msg *build(const struct dp_xfrm_kop *k, uint32_t seq)
{
    int type, flags = NLM_F_REQUEST | NLM_F_ACK;
    if (k->kind == DP_OBJ_XFRM_STATE)
        type = k->add ? XFRM_MSG_NEWSA : XFRM_MSG_DELSA;
    else
        type = k->add ? XFRM_MSG_NEWPOLICY : XFRM_MSG_DELPOLICY;
    if (k->add)
        flags |= NLM_F_CREATE | NLM_F_EXCL;
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    if (!m)
        return NULL;
    nlmsg_hdr(m)->nlmsg_seq = seq;
    int r = 0;
    if (k->kind == DP_OBJ_XFRM_STATE && k->add) {
        const struct dp_xfrm_state *sa = k->sa;
        struct xfrm_usersa_info info;
        memset(&info, 0, sizeof(info));
        info.sel.family = AF_INET;
        info.id.daddr.a4 = sa->dst.s_addr;
        info.id.spi = htonl(sa->spi);
        info.id.proto = sa->proto;
        info.saddr.a4 = sa->src.s_addr;
        lft_infinite(&info.lft);
        info.reqid = sa->reqid;
        info.family = AF_INET;
        info.mode = XFRM_MODE_TUNNEL;
        info.replay_window = 32;
        r = nlmsg_append(m, &info, sizeof(info), NLMSG_ALIGNTO);
        if (r == 0)
            r = put_alg(m, XFRMA_ALG_CRYPT, &sa->enc);
        if (r == 0)
            r = put_alg(m, sa->auth.icv_bits ? XFRMA_ALG_AUTH_TRUNC : XFRMA_ALG_AUTH, &sa->auth);
        if (r == 0)
            r = put_alg(m, XFRMA_ALG_AEAD, &sa->aead);
    } else if (k->kind == DP_OBJ_XFRM_STATE) {
        struct xfrm_usersa_id id;
        memset(&id, 0, sizeof(id));
        id.daddr.a4 = k->sa->dst.s_addr;
        id.spi = htonl(k->sa->spi);
        id.family = AF_INET;
        id.proto = k->sa->proto;
        r = nlmsg_append(m, &id, sizeof(id), NLMSG_ALIGNTO);
    } else if (k->add) {
        const struct dp_xfrm_policy *p = k->pol;
        struct xfrm_userpolicy_info info;
        memset(&info, 0, sizeof(info));
        policy_sel(&info.sel, p);
        lft_infinite(&info.lft);
        info.priority = p->priority;
        info.dir = p->dir;
        info.action = XFRM_POLICY_ALLOW;
        info.share = XFRM_SHARE_ANY;
        struct xfrm_user_tmpl t;
        memset(&t, 0, sizeof(t));
        t.id.daddr.a4 = p->tmpl_dst.s_addr;
        t.id.spi = htonl(p->spi);
        t.id.proto = p->proto;
        t.family = AF_INET;
        t.saddr.a4 = p->tmpl_src.s_addr;
        t.reqid = p->reqid;
        t.mode = XFRM_MODE_TUNNEL;
        t.aalgos = t.ealgos = t.calgos = ~0u;
        r = nlmsg_append(m, &info, sizeof(info), NLMSG_ALIGNTO);
        if (r == 0)
            r = nla_put(m, XFRMA_TMPL, sizeof(t), &t);
    } else {
        struct xfrm_userpolicy_id id;
        memset(&id, 0, sizeof(id));
        policy_sel(&id.sel, k->pol);
        id.dir = k->pol->dir;
        r = nlmsg_append(m, &id, sizeof(id), NLMSG_ALIGNTO);
    }
    if (r < 0) {
        OPENSSL_cleanse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

static void wipe_free(struct nl_msg *m)
{
    if (!m)
        return;
    OPENSSL_cleanse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
    nlmsg_free(m);
}

/* ---- sending and acks ------------------------------------------------------ */

/* Sends ops[0..n) (n <= DP_XFRM_CHUNK) in one sendmsg and collects the acks. */
static int send_chunk(struct dp_xfrm_sock *xs, struct dp_xfrm_kop *ops, size_t n)
{
    struct nl_msg *msgs[DP_XFRM_CHUNK];
    struct iovec iov[DP_XFRM_CHUNK];
    bool acked[DP_XFRM_CHUNK];
    uint32_t base = xs->seq;
    xs->seq += (uint32_t)n;
    size_t nsent = 0;
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        msgs[i] = build(&ops[i], base + (uint32_t)i);
        acked[i] = false;
        if (!msgs[i]) {
            ops[i].result = -ENOMEM;
            acked[i] = true;
            iov[i].iov_base = NULL;
            iov[i].iov_len = 0;
            continue;
        }
        iov[i].iov_base = nlmsg_hdr(msgs[i]);
        iov[i].iov_len = nlmsg_hdr(msgs[i])->nlmsg_len;
        nsent++;
    }
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct msghdr mh = {
        .msg_name = &kernel, .msg_namelen = sizeof(kernel), .msg_iov = iov, .msg_iovlen = n};
    if (nsent && sendmsg(xs->fd, &mh, 0) < 0) {
        ret = -errno;
        nsent = 0;
    }
    for (size_t i = 0; i < n; i++)
        wipe_free(msgs[i]);
    if (ret < 0) {
        for (size_t i = 0; i < n; i++)
            if (!acked[i])
                ops[i].result = ret;
        return 0;
    }
    static char buf[65536] __attribute__((aligned(8)));
    size_t left = nsent;
    while (left) {
        struct pollfd pfd = {.fd = xs->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, DP_XFRM_ACK_TIMEOUT);
        if (pr <= 0) {
            ret = pr == 0 ? -ETIMEDOUT : -errno;
            break;
        }
        ssize_t len = recv(xs->fd, buf, sizeof(buf), 0);
        if (len < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            ret = -errno; /* ENOBUFS: acks lost */
            break;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq - base >= n)
                continue;
            size_t i = h->nlmsg_seq - base;
            if (acked[i])
                continue;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            ops[i].result = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ? e->error : -EIO;
            acked[i] = true;
            left--;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!acked[i])
            ops[i].result = ret < 0 ? ret : -EIO;
    return 0;
}

static void send_all(struct dp_xfrm_sock *xs, struct dp_xfrm_kop *ops, size_t n)
{
    for (size_t off = 0; off < n; off += DP_XFRM_CHUNK)
        send_chunk(xs, ops + off, n - off < DP_XFRM_CHUNK ? n - off : DP_XFRM_CHUNK);
    for (size_t i = 0; i < n; i++)
        if (!ops[i].add && (ops[i].result == -ESRCH || ops[i].result == -ENOENT))
            ops[i].result = 0; /* already gone: goal state holds */
}

int dp_xfrm_sock_batch(struct dp_xfrm_sock **xsp, struct dp_xfrm_kop *ops, size_t n)
{
    if (!*xsp) {
        int r = sock_open(xsp);
        if (r < 0)
            return r;
    }
    struct dp_xfrm_sock *xs = *xsp;
    send_all(xs, ops, n);
    /* Leftovers: delete + add once more. */
    size_t nex = 0;
    for (size_t i = 0; i < n; i++)
        nex += ops[i].add && ops[i].result == -EEXIST;
    if (nex) {
        struct dp_xfrm_kop *re = calloc(2 * nex, sizeof(*re));
        if (re) {
            size_t j = 0;
            for (size_t i = 0; i < n; i++) {
                if (!(ops[i].add && ops[i].result == -EEXIST))
                    continue;
                re[j] = ops[i];
                re[j].add = false;
                re[j + 1] = ops[i];
                j += 2;
            }
            send_all(xs, re, 2 * nex);
            j = 0;
            for (size_t i = 0; i < n; i++) {
                if (!(ops[i].add && ops[i].result == -EEXIST))
                    continue;
                ops[i].result = re[j + 1].result;
                j += 2;
            }
            free(re);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (ops[i].result < 0) {
            char d[256];
            dp_xfrm_kop_describe(&ops[i], d, sizeof(d));
            fprintf(stderr, "dp_xfrm: %s: %s\n", d, strerror(-ops[i].result));
        }
    return 0;
}
