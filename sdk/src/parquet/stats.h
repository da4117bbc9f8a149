/* Internal: column chunk statistics (min_value, max_value, null_count,
 * nan_count) in each type's sort order (parquet.thrift ColumnOrder). */
#ifndef DLD_PQ_STATS_H
#define DLD_PQ_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "dict.h"
#include "pq_buf.h"
#include "schema.h"

/* longest byte-array min/max kept; longer ones are shortened to a bound
 * (min: a prefix; max: a prefix with its last byte raised) */
#define DLD_PQ_STATS_MAX_BYTES 64

struct dld_pq_stats {
    int64_t null_count;
    int64_t nan_count;
    bool has; /* at least one non-null, non-NaN value seen */
    union {
        int64_t i;
        uint64_t u;
        double d;
        __int128 q;
    } min, max;
    struct dld_pq_buf bmin, bmax; /* byte arrays */
};

/* the encoded form for the footer */
struct dld_pq_stats_out {
    bool has_min, has_max, min_exact, max_exact, has_nan_count;
    int64_t null_count, nan_count;
    struct dld_pq_buf min, max; /* PLAIN-encoded, byte arrays without the length */
};

void dld_pq_stats_reset(struct dld_pq_stats *s);
void dld_pq_stats_clean_up(struct dld_pq_stats *s);

void dld_pq_stats_i32(struct dld_pq_stats *s, const int32_t *v, size_t n, bool unsigned_order);
void dld_pq_stats_i64(struct dld_pq_stats *s, const int64_t *v, size_t n, bool unsigned_order);
void dld_pq_stats_f32(struct dld_pq_stats *s, const float *v, size_t n);
void dld_pq_stats_f64(struct dld_pq_stats *s, const double *v, size_t n);
void dld_pq_stats_i128(struct dld_pq_stats *s, const __int128 *v, size_t n);
void dld_pq_stats_bool(struct dld_pq_stats *s, const uint8_t *v, size_t n);
int dld_pq_stats_bytes(struct dld_pq_stats *s, const struct dld_pq_view *v, size_t n);

/* Encodes s for a column described by d into out (whose buffers it
 * reuses). -1 when out of memory. */
int dld_pq_stats_encode(const struct dld_pq_stats *s, const struct dld_pq_coldesc *d, struct dld_pq_stats_out *out);
void dld_pq_stats_out_clean_up(struct dld_pq_stats_out *out);

#endif
