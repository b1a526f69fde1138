/*
 * Intrusive chained hash map keyed by a 64-bit value (an IPv4 address, or a
 * hash of a string whose owner compares the string itself).  Several entries
 * may share a key.  Grows by doubling; O(1) average lookups whatever the size.
 */
#ifndef MIPD_HMAP_H
#define MIPD_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
    struct hnode *next;
    uint64_t key;
};

struct hmap {
    struct hnode **b;
    size_t nb; /* power of two */
    size_t n;
};

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m); /* frees buckets, not entries */
void hmap_insert(struct hmap *m, struct hnode *n, uint64_t key);
void hmap_remove(struct hmap *m, struct hnode *n);
/* First node with the key, then hmap_next_same for the following ones. */
struct hnode *hmap_first(const struct hmap *m, uint64_t key);
struct hnode *hmap_next_same(const struct hnode *n);
/* Iteration over everything: i is a cursor, start with 0 and node NULL. */
struct hnode *hmap_iter(const struct hmap *m, size_t *bucket, struct hnode *prev);

uint64_t hmap_hash_str(const char *s);

#define hmap_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
