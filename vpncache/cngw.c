/* CN-GW table as a unibit binary trie: see cngw.h. */
#include "cngw.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *child[2];
    struct cngw_entry *entry; /* NULL: no prefix ends here */
};

struct cngw_table {
    struct node root;
    size_t count;
};

struct cngw_table *cngw_new(void)
{
    return calloc(1, sizeof(struct cngw_table));
}

static void free_node(struct node *n)
{
    /* depth is at most 32, so recursion is bounded */
    for (int i = 0; i < 2; i++)
        if (n->child[i]) {
            free_node(n->child[i]);
            free(n->child[i]);
        }
    free(n->entry);
}

void cngw_free(struct cngw_table *t)
{
    if (!t)
        return;
    free_node(&t->root);
    free(t);
}

size_t cngw_count(const struct cngw_table *t)
{
    return t->count;
}

static unsigned bit(uint32_t a, unsigned i)
{
    return (a >> (31 - i)) & 1u;
}

bool cngw_add(struct cngw_table *t, const struct cngw_entry *e, char *err, size_t errlen)
{
    char pb[20];
    if (e->prefix.len > 32) {
        if (err)
            snprintf(err, errlen, "CN-GW: prefix length %u > 32", e->prefix.len);
        return false;
    }
    uint32_t a = ntohl(e->prefix.addr.s_addr);
    if (e->prefix.len < 32 && (a & (0xffffffffu >> e->prefix.len))) {
        if (err)
            snprintf(err, errlen, "CN-GW: %s has host bits set", vpn_prefix_str(&e->prefix, pb));
        return false;
    }
    if (e->gw.s_addr == 0) {
        if (err)
            snprintf(err, errlen, "CN-GW: %s: gateway 0.0.0.0", vpn_prefix_str(&e->prefix, pb));
        return false;
    }
    if (e->type != VPN_GW_STATIC && e->type != VPN_GW_DYNAMIC) {
        if (err)
            snprintf(err, errlen, "CN-GW: %s: unknown gateway type %d",
                     vpn_prefix_str(&e->prefix, pb), (int)e->type);
        return false;
    }
    struct node *n = &t->root;
    for (unsigned i = 0; i < e->prefix.len; i++) {
        unsigned b = bit(a, i);
        if (!n->child[b] && !(n->child[b] = calloc(1, sizeof(struct node)))) {
            if (err)
                snprintf(err, errlen, "CN-GW: out of memory");
            return false; /* empty nodes left behind are harmless */
        }
        n = n->child[b];
    }
    if (!n->entry) {
        if (!(n->entry = malloc(sizeof(*n->entry)))) {
            if (err)
                snprintf(err, errlen, "CN-GW: out of memory");
            return false;
        }
        t->count++;
    }
    *n->entry = *e;
    return true;
}

/* Removes along the path and prunes nodes left empty; returns whether the
 * node n itself became empty (so the parent can free it). */
static bool remove_rec(struct node *n, uint32_t a, unsigned depth, unsigned len, bool *found)
{
    if (depth == len) {
        if (n->entry) {
            free(n->entry);
            n->entry = NULL;
            *found = true;
        }
    } else {
        unsigned b = bit(a, depth);
        struct node *c = n->child[b];
        if (!c)
            return false;
        if (remove_rec(c, a, depth + 1, len, found)) {
            free(c);
            n->child[b] = NULL;
        }
    }
    return !n->entry && !n->child[0] && !n->child[1];
}

bool cngw_remove(struct cngw_table *t, struct vpn_prefix p)
{
    if (p.len > 32)
        return false;
    bool found = false;
    (void)remove_rec(&t->root, ntohl(p.addr.s_addr), 0, p.len, &found);
    if (found)
        t->count--;
    return found;
}

const struct cngw_entry *cngw_get(const struct cngw_table *t, struct vpn_prefix p)
{
    if (p.len > 32)
        return NULL;
    uint32_t a = ntohl(p.addr.s_addr);
    const struct node *n = &t->root;
    for (unsigned i = 0; n && i < p.len; i++)
        n = n->child[bit(a, i)];
    return n ? n->entry : NULL;
}

const struct cngw_entry *cngw_lookup_prefix(const struct cngw_table *t, struct vpn_prefix p)
{
    if (p.len > 32)
        return NULL;
    uint32_t a = ntohl(p.addr.s_addr);
    const struct node *n = &t->root;
    const struct cngw_entry *best = n->entry;
    for (unsigned i = 0; i < p.len; i++) {
        n = n->child[bit(a, i)];
        if (!n)
            break;
        if (n->entry)
            best = n->entry;
    }
    return best;
}

const struct cngw_entry *cngw_lookup(const struct cngw_table *t, struct in_addr addr)
{
    struct vpn_prefix p = {addr, 32};
    return cngw_lookup_prefix(t, p);
}

static void walk(const struct node *n, cngw_cb cb, void *arg)
{
    if (n->entry)
        cb(n->entry, arg);
    for (int i = 0; i < 2; i++)
        if (n->child[i])
            walk(n->child[i], cb, arg);
}

void cngw_foreach(const struct cngw_table *t, cngw_cb cb, void *arg)
{
    walk(&t->root, cb, arg);
}
