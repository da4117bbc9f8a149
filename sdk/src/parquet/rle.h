/* Internal: the RLE / bit-packing hybrid encoding of Parquet (definition
 * levels and dictionary indices), and bit helpers. */
#ifndef DLD_PQ_RLE_H
#define DLD_PQ_RLE_H

#include <stddef.h>
#include <stdint.h>

#include "pq_buf.h"

/* bits needed for values 0..max_value (at least 1) */
int dld_pq_bit_width(uint32_t max_value);

/* Appends n values of bit_width bits (1..32) as hybrid runs, no length
 * prefix. 0 or -1 when out of memory. */
int dld_pq_rle_encode(const uint32_t *v, size_t n, int bit_width, struct dld_pq_buf *out);

/* The same for n one-bit levels held as an LSB-first bitmap starting at
 * bit 0: a run of set or clear bytes becomes an RLE run, anything else is
 * copied as bit-packed groups (a bitmap already is the packed form). */
int dld_pq_rle_encode_bitmap(const uint8_t *bits, size_t n, struct dld_pq_buf *out);

/* Copies n bits from src (starting at bit src_off) to dst (starting at bit
 * dst_off); dst must have room. Bits of dst beyond dst_off+n in the last
 * byte are left as they were or cleared, never read. */
void dld_pq_bits_copy(uint8_t *dst, size_t dst_off, const uint8_t *src, size_t src_off, size_t n);

#endif
