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
#include <stdint.h>
#include <stdio.h>

#define DP_IFNAMSIZ 16

enum dp_obj_kind {
    DP_OBJ_TUNNEL,   /* IP-in-IP link: local -> remote */
    DP_OBJ_ROUTE,    /* dst/plen via ifindex (table) */
    DP_OBJ_RULE,     /* from src/plen [iif] lookup table, priority */
    DP_OBJ_PROXY_ARP /* proxy neighbour entry for addr on ifindex */
};

/* One kernel object as the shadow knows it. */
struct dp_obj {
    enum dp_obj_kind kind;
    char ifname[DP_IFNAMSIZ]; /* tunnel name; route/proxy device; rule iif ("" = any) */
    int ifindex;              /* kernel index of ifname once known */
    struct in_addr a;         /* tunnel local | route dst | rule src | proxy addr */
    struct in_addr b;         /* tunnel remote | route gateway (0 = none) */
    uint8_t plen;             /* route dst / rule src prefix length */
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

int dp_proxy_arp_get(struct dataplane *dp, const char *ifname, struct in_addr addr);
int dp_proxy_arp_put(struct dataplane *dp, const char *ifname, struct in_addr addr);

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

#endif
