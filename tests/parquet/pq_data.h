/* Test data for the Parquet suite: one column of every type a source can
 * produce, edge values first, then pseudo-random rows; and the canonical
 * text of each value for the expectations file the readers compare with. */
#ifndef PQ_DATA_H
#define PQ_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "pq_arrow.h"

enum tkind { K_BOOL, K_INT, K_UINT, K_F32, K_F64, K_STR, K_BIN, K_DEC, K_DATE, K_TS, K_TIME };

struct tspec {
    const char *name;
    const char *format;
    bool nullable;
    enum tkind kind;
    int bits;      /* integers */
    int p, s;      /* decimals */
    int unit;      /* time/timestamp: 0 s, 1 ms, 2 us, 3 ns */
    bool utc;
};

union tval {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    __int128 q;
    struct {
        const uint8_t *p;
        size_t n;
    } s;
};

extern const struct tspec pq_all_types[];
extern const size_t pq_all_types_n;

/* rows 0..PQ_EDGE_ROWS-1 hold the edge values (row 0 is all NULL) */
#define PQ_EDGE_ROWS 12

/* Value of column c (index ci) at row; false for NULL. Strings point into
 * buf (at least 256 bytes) or static text. */
bool pq_gen(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf);
void pq_append(struct tarr *a, const struct tspec *c, bool nonnull, const union tval *v);
/* canonical JSON of a value as stored in the file (timestamps in the
 * file's unit: ts_millis is the writer option) */
cJSON *pq_json_value(const struct tspec *c, bool nonnull, const union tval *v, bool ts_millis);
/* "int8", "uint64", "decimal(38,10)", "timestamp[ms,utc]", "time[ns]" ... */
const char *pq_type_name(const struct tspec *c, bool ts_millis, char *buf, size_t cap);

#endif
