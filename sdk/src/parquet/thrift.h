/* Internal: a Thrift compact-protocol encoder, just enough for Parquet's
 * page headers and file footer (structs, lists, i32/i64, bool, binary).
 * Out-of-memory is sticky: check `oom` once at the end. */
#ifndef DLD_PQ_THRIFT_H
#define DLD_PQ_THRIFT_H

#include <stdbool.h>
#include <stdint.h>

#include "pq_buf.h"

/* compact-protocol element types */
enum dld_pq_ttype {
    DLD_PQ_T_BOOL_TRUE = 1,
    DLD_PQ_T_BOOL_FALSE = 2,
    DLD_PQ_T_BYTE = 3,
    DLD_PQ_T_I16 = 4,
    DLD_PQ_T_I32 = 5,
    DLD_PQ_T_I64 = 6,
    DLD_PQ_T_DOUBLE = 7,
    DLD_PQ_T_BINARY = 8,
    DLD_PQ_T_LIST = 9,
    DLD_PQ_T_STRUCT = 12,
};

#define DLD_PQ_THRIFT_DEPTH 16

struct dld_pq_thrift {
    struct dld_pq_buf *out;
    int16_t last_fid[DLD_PQ_THRIFT_DEPTH]; /* per open struct: field ids are delta-encoded */
    int depth;
    bool oom;   /* an append failed */
    bool error; /* misuse (nesting too deep, unbalanced) */
};

void dld_pq_thrift_init(struct dld_pq_thrift *t, struct dld_pq_buf *out);

/* fields of the current struct */
void dld_pq_thrift_i32(struct dld_pq_thrift *t, int16_t fid, int32_t v);
void dld_pq_thrift_i64(struct dld_pq_thrift *t, int16_t fid, int64_t v);
void dld_pq_thrift_bool(struct dld_pq_thrift *t, int16_t fid, bool v);
void dld_pq_thrift_byte(struct dld_pq_thrift *t, int16_t fid, int8_t v); /* Thrift i8 */
void dld_pq_thrift_binary(struct dld_pq_thrift *t, int16_t fid, const void *p, size_t n);
void dld_pq_thrift_string(struct dld_pq_thrift *t, int16_t fid, const char *s);
/* opens a struct-typed field; close with struct_end */
void dld_pq_thrift_struct_begin(struct dld_pq_thrift *t, int16_t fid);
void dld_pq_thrift_struct_end(struct dld_pq_thrift *t);
/* a list field of n elements of elem_type; then write the elements with the
 * elem_* functions (struct elements: elem_struct_begin ... struct_end) */
void dld_pq_thrift_list_begin(struct dld_pq_thrift *t, int16_t fid, enum dld_pq_ttype elem_type, uint32_t n);
void dld_pq_thrift_elem_i32(struct dld_pq_thrift *t, int32_t v);
void dld_pq_thrift_elem_i64(struct dld_pq_thrift *t, int64_t v);
void dld_pq_thrift_elem_binary(struct dld_pq_thrift *t, const void *p, size_t n);
void dld_pq_thrift_elem_struct_begin(struct dld_pq_thrift *t);
/* the outermost struct: begin/end without a field header */
void dld_pq_thrift_message_begin(struct dld_pq_thrift *t);

#endif
