/* RLE / bit-packing hybrid (Parquet Encodings.md):
 *   rle-run        := varint(count << 1) value-in-ceil(width/8)-bytes-LE
 *   bit-packed-run := varint(groups << 1 | 1) groups*width bytes, 8 values
 *                     per group packed LSB first
 * A run of 8 or more equal values is worth an RLE run; everything else is
 * gathered into bit-packed groups. Literal stretches must be whole groups
 * of 8, so values are borrowed from the front of a run to fill the last
 * group before the run starts; only the very last group may be padded. */
#include "rle.h"

#include <stdbool.h>
#include <string.h>

int dld_pq_bit_width(uint32_t max_value)
{
    int w = 1;
    while (w < 32 && (max_value >> w) != 0)
        w++;
    return w;
}

static int s_emit_rle(struct dld_pq_buf *out, uint32_t value, size_t count, int width)
{
    if (dld_pq_buf_reserve(out, 10 + 4))
        return -1;
    dld_pq_buf_put_uvarint(out, (uint64_t)count << 1);
    for (int b = 0; b < (width + 7) / 8; b++)
        dld_pq_buf_put_u8(out, (uint8_t)(value >> (8 * b)));
    return 0;
}

/* n need not be a multiple of 8: the last group is padded with zeros */
static int s_emit_packed(struct dld_pq_buf *out, const uint32_t *v, size_t n, int width)
{
    size_t groups = (n + 7) / 8;
    if (dld_pq_buf_reserve(out, 10 + groups * (size_t)width))
        return -1;
    dld_pq_buf_put_uvarint(out, (uint64_t)groups << 1 | 1);
    uint8_t *p = out->data + out->len;
    uint64_t acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < groups * 8; i++) {
        uint64_t x = i < n ? v[i] : 0;
        acc |= x << nbits;
        nbits += width;
        while (nbits >= 8) {
            *p++ = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    out->len = (size_t)(p - out->data);
    return 0;
}

int dld_pq_rle_encode(const uint32_t *v, size_t n, int width, struct dld_pq_buf *out)
{
    size_t i = 0, lit = 0;
    while (i < n) {
        uint32_t x = v[i];
        size_t j = i + 1;
        while (j < n && v[j] == x)
            j++;
        size_t run = j - i;
        if (run >= 8) {
            size_t pad = (8 - (i - lit) % 8) % 8;
            if (run - pad >= 8) {
                if (i + pad > lit && s_emit_packed(out, v + lit, i + pad - lit, width))
                    return -1;
                if (s_emit_rle(out, x, run - pad, width))
                    return -1;
                lit = j;
            }
        }
        i = j;
    }
    if (n > lit && s_emit_packed(out, v + lit, n - lit, width))
        return -1;
    return 0;
}

static int s_emit_bytes(struct dld_pq_buf *out, const uint8_t *bytes, size_t nbytes)
{
    if (dld_pq_buf_reserve(out, 10 + nbytes))
        return -1;
    dld_pq_buf_put_uvarint(out, (uint64_t)nbytes << 1 | 1);
    dld_pq_buf_append(out, bytes, nbytes);
    return 0;
}

int dld_pq_rle_encode_bitmap(const uint8_t *bits, size_t n, struct dld_pq_buf *out)
{
    size_t full = n / 8, tail = n % 8;
    uint8_t tail_byte = tail ? (uint8_t)(bits[full] & ((1u << tail) - 1)) : 0;
    bool tail_done = tail == 0;
    size_t b = 0, lit = 0;
    while (b < full) {
        uint8_t x = bits[b];
        if (x != 0 && x != 0xFF) {
            b++;
            continue;
        }
        size_t e = b + 1;
        while (e < full && bits[e] == x)
            e++;
        if (e - b >= 2) {
            size_t count = (e - b) * 8;
            if (e == full && !tail_done && tail_byte == (x & ((1u << tail) - 1))) {
                count += tail; /* the partial last byte continues the run */
                tail_done = true;
            }
            if (b > lit && s_emit_bytes(out, bits + lit, b - lit))
                return -1;
            if (s_emit_rle(out, x & 1, count, 1))
                return -1;
            lit = e;
        }
        b = e;
    }
    if (full > lit || !tail_done) {
        size_t nbytes = full - lit + (tail_done ? 0 : 1);
        if (dld_pq_buf_reserve(out, 10 + nbytes))
            return -1;
        dld_pq_buf_put_uvarint(out, (uint64_t)nbytes << 1 | 1);
        dld_pq_buf_append(out, bits + lit, full - lit);
        if (!tail_done)
            dld_pq_buf_put_u8(out, tail_byte);
    }
    return 0;
}

void dld_pq_bits_copy(uint8_t *dst, size_t dst_off, const uint8_t *src, size_t src_off, size_t n)
{
    /* byte-aligned on both sides: the common case for whole batches */
    if ((dst_off & 7) == 0 && (src_off & 7) == 0) {
        size_t nb = n / 8;
        memcpy(dst + dst_off / 8, src + src_off / 8, nb);
        for (size_t i = nb * 8; i < n; i++) {
            size_t s = src_off + i, d = dst_off + i;
            uint8_t bit = (src[s >> 3] >> (s & 7)) & 1;
            dst[d >> 3] = (uint8_t)((dst[d >> 3] & ~(1u << (d & 7))) | (bit << (d & 7)));
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t s = src_off + i, d = dst_off + i;
        uint8_t bit = (src[s >> 3] >> (s & 7)) & 1;
        dst[d >> 3] = (uint8_t)((dst[d >> 3] & ~(1u << (d & 7))) | (bit << (d & 7)));
    }
}
