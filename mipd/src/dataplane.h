/*
 * The dataplane: everything an agent asks of the kernel goes through here
 * (DESIGN §4, §8).  Two layers:
 *
 *   - a backend (struct dp_backend_ops): performs single kernel operations.
 *     Implementations: netlink (real kernel, dp_netlink.c) and an in-memory
 *     recorder (dp_recorder.c) used by unit tests of the agent logic.
 *   - the shadow (struct dataplane): keeps what was installed, reference
 *     counts shared objects (one IP-in-IP tunnel per peer serves many
 *     bindings), and can remove everything it installed (SIGTERM, tests).
 *
 * Agents only call the dp_* functions below; they never touch netlink.
 */
#ifndef MIPD_DATAPLANE_H
#define MIPD_DATAPLANE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DP_IFNAMSIZ 16

struct dp_xfrm_kop;
struct dp_mark_kop;

enum dp_obj_kind {
    DP_OBJ_TUNNEL,       /* IP-in-IP link: local -> remote */
    DP_OBJ_ROUTE,        /* dst/plen via ifindex (table) */
    DP_OBJ_RULE,         /* from src/plen [iif] lookup table, priority */
    DP_OBJ_PROXY_ARP,    /* proxy neighbour entry for addr on ifindex */
    DP_OBJ_XFRM_STATE,   /* IPsec SA (tunnel mode): a src, b dst, table spi, plen proto */
    DP_OBJ_XFRM_POLICY,  /* IPsec policy: a/plen src selector, b dst selector; table
                           (dst plen | dir << 8), priority */
    DP_OBJ_UDP_REDIRECT, /* netfilter nat PREROUTING REDIRECT of UDP to a/plen port table
                           to ourselves (the PCN's interception of BUs, DESIGN §7) */
    DP_OBJ_MARK_CLASS,   /* DSCP class `table`: ipset hash:net,net "mipd_dscp_<table>" (name in
                            ifname) + its mangle FORWARD rule; refs = marks of the class */
    DP_OBJ_MARK          /* DSCP mark: packets a/plen -> b/dplen get DSCP `table` (an element
                            of the class's set, DESIGN §8) */
};
#define DP_OBJ_KINDS (DP_OBJ_MARK + 1)

/* One kernel object as the shadow knows it. */
struct dp_obj {
    enum dp_obj_kind kind;
    char ifname[DP_IFNAMSIZ]; /* tunnel name; route/proxy device; rule iif ("" = any);
                                 mark class: set name */
    int ifindex;              /* kernel index of ifname once known */
    struct in_addr a;         /* tunnel local | route dst | rule src | proxy addr | mark src */
    struct in_addr b;         /* tunnel remote | route gateway (0 = none) | rule dst | mark dst */
    uint8_t plen;             /* route dst / rule src / mark src prefix length */
    uint8_t dplen;            /* rule dst / mark dst prefix length (rule: 0 = any) */
    uint32_t table;           /* route table / rule lookup table (0 = main) */
    uint32_t priority;        /* rule priority */
    unsigned refs;            /* bindings that need this object */
};

struct dp_backend_ops {
    /* Creates (and sets up) an IP-in-IP tunnel; returns its ifindex or -errno. */
    int (*tunnel_add)(void *be, const char *name, struct in_addr local, struct in_addr remote);
    int (*tunnel_del)(void *be, const char *name);
    int (*route_add)(void *be, const struct dp_obj *o);
    int (*route_del)(void *be, const struct dp_obj *o);
    int (*rule_add)(void *be, const struct dp_obj *o);
    int (*rule_del)(void *be, const struct dp_obj *o);
    int (*proxy_arp_add)(void *be, const struct dp_obj *o);
    int (*proxy_arp_del)(void *be, const struct dp_obj *o);
    /* Sends a gratuitous ARP for addr on the interface (RFC 5944 §4.6). */
    int (*garp_send)(void *be, const char *ifname, struct in_addr addr);
    /* Writes /proc/sys/net/ipv4/conf/<ifname>/<key> (ifname "all"/"default" allowed). */
    int (*sysctl_set)(void *be, const char *ifname, const char *key, const char *value);
    /* Resolves an interface name; -errno if it does not exist. */
    int (*ifindex)(void *be, const char *ifname);
    void (*destroy)(void *be);
    /* Performs n xfrm operations (struct dp_xfrm_kop, dp_backend.h), batched;
     * sets each op's result.  Returns 0, or -errno if nothing could be sent. */
    int (*xfrm_batch)(void *be, struct dp_xfrm_kop *ops, size_t n);
    /* Redirects UDP datagrams forwarded to o->a/o->plen port o->table to the
     * local socket of that port (and removes that redirection). */
    int (*udp_redirect_add)(void *be, const struct dp_obj *o);
    int (*udp_redirect_del)(void *be, const struct dp_obj *o);
    /* DSCP marking (DESIGN §8): creates the class's set and its fixed rule /
     * removes both (called on the first / after the last mark of the class). */
    int (*mark_class_add)(void *be, uint8_t dscp);
    int (*mark_class_del)(void *be, uint8_t dscp);
    /* Adds / removes n marks (set elements, struct dp_mark_kop, dp_backend.h),
     * batched; sets each op's result.  Returns 0, or -errno if nothing could
     * be sent. */
    int (*mark_batch)(void *be, struct dp_mark_kop *ops, size_t n);
};

struct dataplane;

/* Backends. */
struct dataplane *dp_new_netlink(void);
struct dataplane *dp_new_recorder(void);
/* The recorder's log of backend calls, one line each ("tunnel_add mip0 1.2.3.4>5.6.7.8" ...). */
const char *dp_recorder_log(struct dataplane *dp);
void dp_recorder_clear_log(struct dataplane *dp);
/* Makes the next backend call of the recorder fail with -err (fault injection). */
void dp_recorder_fail_next(struct dataplane *dp, int err);

void dp_free(struct dataplane *dp); /* does not remove objects: call dp_flush first */

/* Shadowed, reference-counted operations.  Each *_get takes a reference and
 * installs the object on the first one; each *_put drops one and removes the
 * object with the last.  Return 0 or -errno (nothing is recorded on failure). */

/* Tunnel towards remote from local; its name is derived from remote
 * ("mip" + hex address) and written to name_out. Returns ifindex or -errno. */
int dp_tunnel_get(struct dataplane *dp, struct in_addr local, struct in_addr remote,
                  char name_out[DP_IFNAMSIZ]);
int dp_tunnel_put(struct dataplane *dp, struct in_addr local, struct in_addr remote);

int dp_route_get(struct dataplane *dp, struct in_addr dst, uint8_t plen, const char *ifname,
                 struct in_addr gw, uint32_t table);
int dp_route_put(struct dataplane *dp, struct in_addr dst, uint8_t plen, const char *ifname,
                 struct in_addr gw, uint32_t table);

int dp_rule_get(struct dataplane *dp, struct in_addr src, uint8_t plen, const char *iif,
                uint32_t table, uint32_t priority);
int dp_rule_put(struct dataplane *dp, struct in_addr src, uint8_t plen, const char *iif,
                uint32_t table, uint32_t priority);
/* A rule selecting the source AND the destination (the IP-in-IP path of an
 * encapsulation-only VPN profile, DESIGN §8); dplen 0 = any destination. */
int dp_rule2_get(struct dataplane *dp, struct in_addr src, uint8_t splen, struct in_addr dst,
                 uint8_t dplen, const char *iif, uint32_t table, uint32_t priority);
int dp_rule2_put(struct dataplane *dp, struct in_addr src, uint8_t splen, struct in_addr dst,
                 uint8_t dplen, const char *iif, uint32_t table, uint32_t priority);

int dp_proxy_arp_get(struct dataplane *dp, const char *ifname, struct in_addr addr);
int dp_proxy_arp_put(struct dataplane *dp, const char *ifname, struct in_addr addr);

/* Datagrams to UDP port `port` of any address in dst/plen that this node
 * forwards are delivered to its own socket of that port instead (the PCN
 * takes the BUs addressed to the correspondents it serves). */
int dp_udp_redirect_get(struct dataplane *dp, struct in_addr dst, uint8_t plen, uint16_t port);
int dp_udp_redirect_put(struct dataplane *dp, struct in_addr dst, uint8_t plen, uint16_t port);

/* Not shadowed: one-shot actions. */
int dp_garp(struct dataplane *dp, const char *ifname, struct in_addr addr);
int dp_sysctl(struct dataplane *dp, const char *ifname, const char *key, const char *value);
int dp_ifindex(struct dataplane *dp, const char *ifname);

/* Removes every object still installed (reverse order of installation). */
void dp_flush(struct dataplane *dp);
/* Number of installed objects (of one kind, or all with kind < 0). */
unsigned dp_count(const struct dataplane *dp, int kind);
/* Iteration over the shadow, in installation order. */
const struct dp_obj *dp_obj_at(const struct dataplane *dp, unsigned i);
/* Writes the shadow as a JSON array to f. */
void dp_dump_json(const struct dataplane *dp, FILE *f);

/* ---- IPsec (DESIGN §8): XFRM tunnel-mode SAs and policies ------------------
 *
 * Same shadow, same get/put reference counting as the objects above.  The
 * full description of each SA / policy is kept beside its dp_obj (see
 * dp_obj_xfrm_state / dp_obj_xfrm_policy), except key bytes: the caller's key
 * buffers are read while the kernel message is built and never copied into
 * the shadow; message buffers that held keys are wiped (OPENSSL_cleanse).
 * Lifetimes are always set to infinity (zero limits expire the SA).
 * Identity: an SA is (dst, spi, proto), a policy (selector, dir) as in the
 * kernel; a get with the same identity but other parameters fails -EEXIST. */

enum dp_xfrm_proto { DP_XFRM_ESP = 50, DP_XFRM_AH = 51 };
enum dp_xfrm_dir { DP_XFRM_DIR_IN = 0, DP_XFRM_DIR_OUT = 1, DP_XFRM_DIR_FWD = 2 };

#define DP_XFRM_ALG_NAMSIZ 64
#define DP_XFRM_KEY_MAX 128 /* bytes */

struct dp_xfrm_alg {
    char name[DP_XFRM_ALG_NAMSIZ]; /* kernel crypto name ("cbc(aes)"); "" = none */
    unsigned key_len;              /* bytes */
    unsigned icv_bits;             /* aead ICV / auth truncation (bits); 0 = kernel default */
    const uint8_t *key;            /* caller's buffer; NULL in the shadow's copy */
};

struct dp_xfrm_state {
    struct in_addr src, dst; /* tunnel endpoints (outer header) */
    uint8_t proto;           /* DP_XFRM_ESP | DP_XFRM_AH */
    uint32_t spi;            /* host byte order */
    uint32_t reqid;
    struct dp_xfrm_alg enc, auth, aead; /* esp: enc+auth or aead; ah: auth */
};

struct dp_xfrm_policy {
    struct in_addr src, dst; /* selector (inner header) */
    uint8_t src_plen, dst_plen;
    uint8_t dir; /* enum dp_xfrm_dir */
    uint32_t priority;
    /* template: tunnel mode, required */
    struct in_addr tmpl_src, tmpl_dst;
    uint8_t proto; /* DP_XFRM_ESP | DP_XFRM_AH */
    uint32_t spi;  /* 0 = any SA with these endpoints (and reqid) */
    uint32_t reqid;
};

int dp_xfrm_state_get(struct dataplane *dp, const struct dp_xfrm_state *sa);
/* Only dst, spi and proto are used. */
int dp_xfrm_state_put(struct dataplane *dp, const struct dp_xfrm_state *sa);
int dp_xfrm_policy_get(struct dataplane *dp, const struct dp_xfrm_policy *pol);
/* Only the selector and dir are used. */
int dp_xfrm_policy_put(struct dataplane *dp, const struct dp_xfrm_policy *pol);

/* Batch: many gets/puts, the kernel messages sent together (several netlink
 * messages per sendmsg, acks collected afterwards).  Ops are applied in order;
 * each gets its own result (0 / -errno, shadow unchanged for failed ones).
 * Within one batch an object installed or removed by an earlier op cannot be
 * removed or installed again (-EBUSY).  Returns the number of failed ops. */
enum dp_xfrm_op_kind {
    DP_XFRM_STATE_GET,
    DP_XFRM_STATE_PUT,
    DP_XFRM_POLICY_GET,
    DP_XFRM_POLICY_PUT
};
struct dp_xfrm_op {
    enum dp_xfrm_op_kind op;
    const struct dp_xfrm_state *sa;   /* *_STATE_* */
    const struct dp_xfrm_policy *pol; /* *_POLICY_* */
    int result;                       /* out */
};
unsigned dp_xfrm_many(struct dataplane *dp, struct dp_xfrm_op *ops, size_t n);

/* ---- DSCP marking (DESIGN §8, seed [0060]) -----------------------------------
 *
 * A mark: forwarded packets src/src_plen -> dst/dst_plen get the DSCP class
 * dscp (1..63).  In the kernel: an element of the hash:net,net set of the
 * class (one set and one fixed mangle FORWARD rule per class in use, created
 * with the class's first mark and removed after its last).  Identity: the
 * whole triple; reference-counted like every shadow object.  A /0 side is
 * held as two /1 elements (hash:net,net has no /0). */
struct dp_mark {
    struct in_addr src, dst;
    uint8_t src_plen, dst_plen;
    uint8_t dscp;
};

int dp_mark_get(struct dataplane *dp, const struct dp_mark *m);
int dp_mark_put(struct dataplane *dp, const struct dp_mark *m);

/* Batch as dp_xfrm_many: the set elements of all ops are sent together
 * (libipset aggregates them into few netlink messages).  Same rules: ops in
 * order, own result each, -EBUSY for an object touched twice in one batch.
 * Returns the number of failed ops. */
enum dp_mark_op_kind { DP_MARK_GET, DP_MARK_PUT };
struct dp_mark_op {
    enum dp_mark_op_kind op;
    const struct dp_mark *mark;
    int result; /* out */
};
unsigned dp_mark_many(struct dataplane *dp, struct dp_mark_op *ops, size_t n);

/* "mipd_dscp_<dscp>" */
#define DP_MARK_SET_NAMSIZ 16
void dp_mark_set_name(uint8_t dscp, char name[DP_MARK_SET_NAMSIZ]);

/* Description of a shadow object returned by dp_obj_at (NULL if o is of
 * another kind).  Keys are not available (key pointers are NULL). */
const struct dp_xfrm_state *dp_obj_xfrm_state(const struct dp_obj *o);
const struct dp_xfrm_policy *dp_obj_xfrm_policy(const struct dp_obj *o);

#endif
