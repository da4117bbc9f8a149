/* Test-only Arrow C Data builder: a column per struct, written by hand so
 * the Parquet tests do not depend on the SDK's own batch builder, and can
 * make layouts it never makes (unsigned types, 64-bit offsets, offsets,
 * columns without a validity buffer). */
#ifndef PQ_ARROW_H
#define PQ_ARROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/arrow_c.h>

struct tarr {
    const char *name;
    const char *format;
    bool nullable;
    int width;     /* bytes per value; 0 = variable (strings), -1 = bits (bool) */
    bool large;    /* 64-bit offsets */
    bool no_validity; /* leave buffers[0] NULL (column has no nulls) */
    int64_t len, cap, nulls;
    uint8_t *valid;
    uint8_t *data;
    uint8_t *bytes;
    size_t nbytes, bcap;
    const void *bufs[3];
    struct ArrowArray arr;
    struct ArrowSchema sch;
};

void tarr_init(struct tarr *c, const char *name, const char *format, bool nullable);
void tarr_clean_up(struct tarr *c);
void tarr_null(struct tarr *c);
void tarr_fixed(struct tarr *c, const void *v); /* width bytes */
void tarr_bool(struct tarr *c, bool v);
void tarr_bytes(struct tarr *c, const void *p, size_t n);
/* fills c->arr / c->sch from what was appended */
void tarr_seal(struct tarr *c);

struct tbatch {
    size_t ncols;
    struct tarr *cols;
    struct ArrowArray **achildren;
    struct ArrowSchema **schildren;
    struct ArrowArray arr;
    struct ArrowSchema sch;
};

void tbatch_init(struct tbatch *b, struct tarr *cols, size_t ncols);
/* seals every column; offset/length select the struct rows */
void tbatch_seal(struct tbatch *b, int64_t offset, int64_t length);
void tbatch_clean_up(struct tbatch *b);

#endif
