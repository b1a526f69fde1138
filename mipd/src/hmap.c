#include "hmap.h"

#include <stdlib.h>

static size_t slot(const struct hmap *m, uint64_t key)
{
    /* Fibonacci hashing spreads sequential addresses over the buckets. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (m->nb - 1);
}

void hmap_init(struct hmap *m)
{
    m->b = NULL;
    m->nb = 0;
    m->n = 0;
}

void hmap_free(struct hmap *m)
{
    free(m->b);
    hmap_init(m);
}

static void grow(struct hmap *m)
{
    size_t nb = m->nb ? m->nb * 2 : 64;
    struct hnode **b = calloc(nb, sizeof(*b));
    if (!b)
        abort(); /* losing an entry silently would corrupt agent state */
    struct hmap nm = {.b = b, .nb = nb, .n = m->n};
    for (size_t i = 0; i < m->nb; i++) {
        struct hnode *n = m->b[i];
        while (n) {
            struct hnode *next = n->next;
            size_t s = slot(&nm, n->key);
            n->next = b[s];
            b[s] = n;
            n = next;
        }
    }
    free(m->b);
    *m = nm;
}

void hmap_insert(struct hmap *m, struct hnode *n, uint64_t key)
{
    if (m->n + 1 > m->nb)
        grow(m);
    n->key = key;
    size_t s = slot(m, key);
    n->next = m->b[s];
    m->b[s] = n;
    m->n++;
}

void hmap_remove(struct hmap *m, struct hnode *n)
{
    if (!m->nb)
        return;
    struct hnode **pp = &m->b[slot(m, n->key)];
    while (*pp) {
        if (*pp == n) {
            *pp = n->next;
            n->next = NULL;
            m->n--;
            return;
        }
        pp = &(*pp)->next;
    }
}

struct hnode *hmap_first(const struct hmap *m, uint64_t key)
{
    if (!m->nb)
        return NULL;
    for (struct hnode *n = m->b[slot(m, key)]; n; n = n->next)
        if (n->key == key)
            return n;
    return NULL;
}

struct hnode *hmap_next_same(const struct hnode *n)
{
    for (struct hnode *x = n->next; x; x = x->next)
        if (x->key == n->key)
            return x;
    return NULL;
}

struct hnode *hmap_iter(const struct hmap *m, size_t *bucket, struct hnode *prev)
{
    if (prev && prev->next)
        return prev->next;
    size_t i = prev ? *bucket + 1 : *bucket;
    for (; i < m->nb; i++) {
        if (m->b[i]) {
            *bucket = i;
            return m->b[i];
        }
    }
    *bucket = m->nb;
    return NULL;
}

uint64_t hmap_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}
