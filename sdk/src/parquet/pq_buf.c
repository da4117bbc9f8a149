/* Growable byte buffer for the Parquet writer. */
#include "pq_buf.h"

#include <stdlib.h>

int dld_pq_buf_grow(struct dld_pq_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return -1; /* overflow */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

void dld_pq_buf_clean_up(struct dld_pq_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
