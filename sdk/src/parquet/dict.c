/* Open-addressing hash table with linear probing, kept under half full.
 * Fixed-width keys hash by one multiplication (Fibonacci hashing takes the
 * top bits, which spreads sequential ids well); strings by a word-at-a-time
 * multiply-xorshift mix. */
#include "dict.h"

#include <stdlib.h>
#include <string.h>

#define S_K1 0x9E3779B97F4A7C15ull
#define S_K2 0xC2B2AE3D27D4EB4Full

static int s_alloc_table(struct dld_pq_dict *d, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof(*slots));
    uint32_t *hashes = NULL;
    if (!slots)
        return -1;
    if (d->width == 0) {
        hashes = malloc(nslots * sizeof(*hashes));
        if (!hashes) {
            free(slots);
            return -1;
        }
    }
    free(d->slots);
    free(d->hashes);
    d->slots = slots;
    d->hashes = hashes;
    d->nslots = nslots;
    int bits = 0;
    while (((size_t)1 << bits) < nslots)
        bits++;
    d->shift = 64 - bits;
    return 0;
}

int dld_pq_dict_init(struct dld_pq_dict *d, int width)
{
    memset(d, 0, sizeof(*d));
    d->width = width;
    return s_alloc_table(d, 1024);
}

void dld_pq_dict_clean_up(struct dld_pq_dict *d)
{
    free(d->slots);
    free(d->hashes);
    free(d->offsets);
    dld_pq_buf_clean_up(&d->keys);
    memset(d, 0, sizeof(*d));
}

void dld_pq_dict_reset(struct dld_pq_dict *d)
{
    memset(d->slots, 0, d->nslots * sizeof(*d->slots));
    d->count = 0;
    d->keys.len = 0;
}

static inline uint64_t s_hash64(uint64_t x)
{
    return x * S_K1;
}

static inline uint64_t s_hash128(unsigned __int128 x)
{
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    return (lo ^ (hi * S_K2)) * S_K1;
}

static uint64_t s_hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = (uint64_t)n * S_K2;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * S_K1;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * S_K2;
    h ^= h >> 32;
    return h * S_K1;
}

/* rebuilds the table at twice the size; entries keep their indexes */
static int s_grow(struct dld_pq_dict *d)
{
    if (s_alloc_table(d, d->nslots * 2))
        return -1;
    size_t mask = d->nslots - 1;
    for (uint32_t i = 0; i < d->count; i++) {
        uint64_t h;
        switch (d->width) {
        case 4: {
            uint32_t k;
            memcpy(&k, d->keys.data + (size_t)i * 4, 4);
            h = s_hash64(k);
            break;
        }
        case 8: {
            uint64_t k;
            memcpy(&k, d->keys.data + (size_t)i * 8, 8);
            h = s_hash64(k);
            break;
        }
        case 16: {
            unsigned __int128 k;
            memcpy(&k, d->keys.data + (size_t)i * 16, 16);
            h = s_hash128(k);
            break;
        }
        default: {
            struct dld_pq_view v = dld_pq_dict_string(d, i);
            h = s_hash_bytes(v.ptr, v.len);
            break;
        }
        }
        size_t s = (size_t)(h >> d->shift);
        while (d->slots[s])
            s = (s + 1) & mask;
        d->slots[s] = i + 1;
        if (d->hashes)
            d->hashes[s] = (uint32_t)h;
    }
    return 0;
}

static inline int s_room(struct dld_pq_dict *d)
{
    if ((size_t)d->count * 2 + 2 > d->nslots)
        return s_grow(d);
    return 0;
}

/* one generic body per key width; the compiler turns memcpy/== into
 * plain loads and compares */
#define S_PUT_FIXED(NAME, T, HASH)                                                                  \
    int NAME(struct dld_pq_dict *d, const T *keys, size_t n, uint32_t *idx)                        \
    {                                                                                               \
        const T *entries = (const T *)(void *)d->keys.data;                                         \
        for (size_t i = 0; i < n; i++) {                                                            \
            T k = keys[i];                                                                          \
            size_t mask = d->nslots - 1;                                                            \
            size_t s = (size_t)(HASH(k) >> d->shift);                                               \
            uint32_t e;                                                                             \
            while ((e = d->slots[s]) != 0 && entries[e - 1] != k)                                   \
                s = (s + 1) & mask;                                                                 \
            if (e) {                                                                                \
                idx[i] = e - 1;                                                                     \
                continue;                                                                           \
            }                                                                                       \
            if (dld_pq_buf_append(&d->keys, &k, sizeof(k)))                                         \
                return -1;                                                                          \
            entries = (const T *)(void *)d->keys.data;                                              \
            d->slots[s] = ++d->count;                                                               \
            idx[i] = d->count - 1;                                                                  \
            if (s_room(d))                                                                          \
                return -1;                                                                          \
        }                                                                                           \
        return 0;                                                                                   \
    }

S_PUT_FIXED(dld_pq_dict_put32, uint32_t, s_hash64)
S_PUT_FIXED(dld_pq_dict_put64, uint64_t, s_hash64)
S_PUT_FIXED(dld_pq_dict_put128, unsigned __int128, s_hash128)

int dld_pq_dict_put_bytes(struct dld_pq_dict *d, const struct dld_pq_view *keys, size_t n, uint32_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = keys[i].ptr;
        uint32_t len = keys[i].len;
        uint64_t h = s_hash_bytes(p, len);
        uint32_t h32 = (uint32_t)h;
        size_t mask = d->nslots - 1;
        size_t s = (size_t)(h >> d->shift);
        uint32_t e;
        while ((e = d->slots[s]) != 0) {
            if (d->hashes[s] == h32) {
                struct dld_pq_view v = dld_pq_dict_string(d, e - 1);
                if (v.len == len && memcmp(v.ptr, p, len) == 0)
                    break;
            }
            s = (s + 1) & mask;
        }
        if (e) {
            idx[i] = e - 1;
            continue;
        }
        if (d->count == d->offsets_cap) {
            size_t cap = d->offsets_cap ? d->offsets_cap * 2 : 1024;
            size_t *o = realloc(d->offsets, cap * sizeof(*o));
            if (!o)
                return -1;
            d->offsets = o;
            d->offsets_cap = cap;
        }
        if (dld_pq_buf_reserve(&d->keys, 4 + (size_t)len))
            return -1;
        d->offsets[d->count] = d->keys.len;
        dld_pq_buf_put_le32(&d->keys, len);
        dld_pq_buf_append(&d->keys, p, len);
        d->slots[s] = ++d->count;
        d->hashes[s] = h32;
        idx[i] = d->count - 1;
        if (s_room(d))
            return -1;
    }
    return 0;
}
