/* Thrift compact protocol, write side only. Field headers carry the delta
 * from the previous field id of the same struct when it fits in 4 bits,
 * integers are zigzag varints, and each struct ends with a 0 byte. */
#include "thrift.h"

#include <string.h>

void dld_pq_thrift_init(struct dld_pq_thrift *t, struct dld_pq_buf *out)
{
    memset(t, 0, sizeof(*t));
    t->out = out;
    t->depth = -1;
}

static bool s_room(struct dld_pq_thrift *t, size_t n)
{
    if (t->oom)
        return false;
    if (dld_pq_buf_reserve(t->out, n)) {
        t->oom = true;
        return false;
    }
    return true;
}

static uint64_t s_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void s_field_header(struct dld_pq_thrift *t, int16_t fid, uint8_t type)
{
    if (t->depth < 0) {
        t->error = true;
        return;
    }
    if (!s_room(t, 4))
        return;
    int delta = fid - t->last_fid[t->depth];
    if (delta > 0 && delta <= 15) {
        dld_pq_buf_put_u8(t->out, (uint8_t)(delta << 4 | type));
    } else {
        dld_pq_buf_put_u8(t->out, type);
        dld_pq_buf_put_uvarint(t->out, s_zigzag64(fid));
    }
    t->last_fid[t->depth] = fid;
}

void dld_pq_thrift_elem_i32(struct dld_pq_thrift *t, int32_t v)
{
    if (s_room(t, 5))
        dld_pq_buf_put_uvarint(t->out, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void dld_pq_thrift_elem_i64(struct dld_pq_thrift *t, int64_t v)
{
    if (s_room(t, 10))
        dld_pq_buf_put_uvarint(t->out, s_zigzag64(v));
}

void dld_pq_thrift_elem_binary(struct dld_pq_thrift *t, const void *p, size_t n)
{
    if (!s_room(t, 10 + n))
        return;
    dld_pq_buf_put_uvarint(t->out, n);
    if (n)
        memcpy(t->out->data + t->out->len, p, n);
    t->out->len += n;
}

void dld_pq_thrift_i32(struct dld_pq_thrift *t, int16_t fid, int32_t v)
{
    s_field_header(t, fid, DLD_PQ_T_I32);
    dld_pq_thrift_elem_i32(t, v);
}

void dld_pq_thrift_i64(struct dld_pq_thrift *t, int16_t fid, int64_t v)
{
    s_field_header(t, fid, DLD_PQ_T_I64);
    dld_pq_thrift_elem_i64(t, v);
}

void dld_pq_thrift_bool(struct dld_pq_thrift *t, int16_t fid, bool v)
{
    /* a bool field's value lives in the header's type nibble */
    s_field_header(t, fid, v ? DLD_PQ_T_BOOL_TRUE : DLD_PQ_T_BOOL_FALSE);
}

void dld_pq_thrift_byte(struct dld_pq_thrift *t, int16_t fid, int8_t v)
{
    s_field_header(t, fid, DLD_PQ_T_BYTE);
    if (s_room(t, 1))
        dld_pq_buf_put_u8(t->out, (uint8_t)v); /* a raw byte, not a varint */
}

void dld_pq_thrift_binary(struct dld_pq_thrift *t, int16_t fid, const void *p, size_t n)
{
    s_field_header(t, fid, DLD_PQ_T_BINARY);
    dld_pq_thrift_elem_binary(t, p, n);
}

void dld_pq_thrift_string(struct dld_pq_thrift *t, int16_t fid, const char *s)
{
    dld_pq_thrift_binary(t, fid, s, strlen(s));
}

static void s_push(struct dld_pq_thrift *t)
{
    if (t->depth + 1 >= DLD_PQ_THRIFT_DEPTH) {
        t->error = true;
        return;
    }
    t->last_fid[++t->depth] = 0;
}

void dld_pq_thrift_message_begin(struct dld_pq_thrift *t)
{
    s_push(t);
}

void dld_pq_thrift_struct_begin(struct dld_pq_thrift *t, int16_t fid)
{
    s_field_header(t, fid, DLD_PQ_T_STRUCT);
    s_push(t);
}

void dld_pq_thrift_elem_struct_begin(struct dld_pq_thrift *t)
{
    s_push(t);
}

void dld_pq_thrift_struct_end(struct dld_pq_thrift *t)
{
    if (t->depth < 0) {
        t->error = true;
        return;
    }
    if (s_room(t, 1))
        dld_pq_buf_put_u8(t->out, 0); /* field stop */
    t->depth--;
}

void dld_pq_thrift_list_begin(struct dld_pq_thrift *t, int16_t fid, enum dld_pq_ttype elem_type, uint32_t n)
{
    s_field_header(t, fid, DLD_PQ_T_LIST);
    if (!s_room(t, 6))
        return;
    if (n < 15) {
        dld_pq_buf_put_u8(t->out, (uint8_t)(n << 4 | elem_type));
    } else {
        dld_pq_buf_put_u8(t->out, (uint8_t)(0xF0 | elem_type));
        dld_pq_buf_put_uvarint(t->out, n);
    }
}
