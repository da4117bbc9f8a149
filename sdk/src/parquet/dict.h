/* Internal: the dictionary of one column chunk (RLE_DICTIONARY encoding).
 * Keys are fixed-width bit patterns (4, 8 or 16 bytes: floats by their
 * bits, so -0.0/+0.0 and NaN payloads stay distinct) or byte strings.
 * Entries keep their insertion order, which is their index. */
#ifndef DLD_PQ_DICT_H
#define DLD_PQ_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "pq_buf.h"

struct dld_pq_view {
    const uint8_t *ptr;
    uint32_t len;
};

struct dld_pq_dict {
    int width;            /* 4, 8, 16, or 0 for byte strings */
    uint32_t *slots;      /* 0 empty, else entry index + 1 */
    uint32_t *hashes;     /* byte strings: a hash per slot, to skip most memcmp */
    size_t nslots;        /* power of two */
    int shift;            /* 64 - log2(nslots) */
    uint32_t count;
    struct dld_pq_buf keys; /* fixed: count*width raw keys; strings: PLAIN (len32 + bytes) */
    size_t *offsets;      /* strings: where entry i starts in keys */
    size_t offsets_cap;
};

int dld_pq_dict_init(struct dld_pq_dict *d, int width);
void dld_pq_dict_clean_up(struct dld_pq_dict *d);
/* forgets every entry, keeps the memory */
void dld_pq_dict_reset(struct dld_pq_dict *d);

/* Look up or add each key, writing its index to idx. -1 when out of memory. */
int dld_pq_dict_put32(struct dld_pq_dict *d, const uint32_t *keys, size_t n, uint32_t *idx);
int dld_pq_dict_put64(struct dld_pq_dict *d, const uint64_t *keys, size_t n, uint32_t *idx);
int dld_pq_dict_put128(struct dld_pq_dict *d, const unsigned __int128 *keys, size_t n, uint32_t *idx);
int dld_pq_dict_put_bytes(struct dld_pq_dict *d, const struct dld_pq_view *keys, size_t n, uint32_t *idx);

/* entry i of a string dictionary */
static inline struct dld_pq_view dld_pq_dict_string(const struct dld_pq_dict *d, uint32_t i)
{
    const uint8_t *p = d->keys.data + d->offsets[i];
    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    struct dld_pq_view v = { p + 4, len };
    return v;
}

#endif
