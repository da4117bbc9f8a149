/* Internal to the Parquet writer: a growable byte buffer.
 * Hot loops reserve once and then write without checks. */
#ifndef DLD_PQ_BUF_H
#define DLD_PQ_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dld_pq_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* Makes room for `extra` more bytes; 0 on success, -1 when out of memory. */
int dld_pq_buf_grow(struct dld_pq_buf *b, size_t extra);
void dld_pq_buf_clean_up(struct dld_pq_buf *b);

static inline int dld_pq_buf_reserve(struct dld_pq_buf *b, size_t extra)
{
    return b->cap - b->len >= extra ? 0 : dld_pq_buf_grow(b, extra);
}

static inline int dld_pq_buf_append(struct dld_pq_buf *b, const void *p, size_t n)
{
    if (dld_pq_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* the unchecked writers below assume a prior reserve */
static inline void dld_pq_buf_put_u8(struct dld_pq_buf *b, uint8_t v)
{
    b->data[b->len++] = v;
}

static inline void dld_pq_buf_put_le32(struct dld_pq_buf *b, uint32_t v)
{
    uint8_t *p = b->data + b->len;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    b->len += 4;
}

static inline void dld_pq_buf_put_uvarint(struct dld_pq_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

#endif
