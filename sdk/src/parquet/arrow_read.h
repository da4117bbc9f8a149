/* Internal: reading the non-null values of an Arrow column slice into
 * Parquet physical values (unit and width conversions included). */
#ifndef DLD_PQ_ARROW_READ_H
#define DLD_PQ_ARROW_READ_H

#include <stddef.h>
#include <stdint.h>

#include <deltaload/abi.h>
#include <deltaload/arrow_c.h>

#include "dict.h"
#include "schema.h"

/* Reads rows [start, start+n) of a (start counts from a->offset).
 * Values land in `out`, typed by d->src: uint8 0/1 (bool), int32 (8-32 bit
 * integers, date, time32), int64 (64-bit integers, timestamps, time64),
 * float, double, __int128 (decimal), or in `views` (strings, binaries).
 * Byte-array reading stops after the row that brings the bytes read to
 * byte_cap. *rows gets the rows consumed, *k the values stored. */
int dld_pq_read_values(const struct dld_pq_coldesc *d, const struct ArrowArray *a, int64_t start, int64_t n,
                       size_t byte_cap, void *out, struct dld_pq_view *views, int64_t *rows, size_t *k,
                       struct dld_error *err);

/* true when the slice may hold nulls (a validity buffer is present) */
static inline const uint8_t *dld_pq_validity(const struct ArrowArray *a)
{
    return a->null_count == 0 || a->n_buffers < 1 ? NULL : (const uint8_t *)a->buffers[0];
}

#endif
