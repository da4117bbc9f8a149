/* Arrow → Parquet physical values. Each layout has its own loop so the
 * common no-null case runs without a branch per row. Conversions that can
 * overflow (seconds → milliseconds) and decimals beyond their declared
 * precision are refused rather than written wrong. */
#include "arrow_read.h"

#include <string.h>

#include <deltaload/sdk.h>

#define S_VALID(bm, i) ((bm) == NULL || ((bm)[(i) >> 3] >> ((i) & 7) & 1))

/* integer layouts narrower than 64 bits, widened into int32 */
#define S_READ_I32(T)                                                                                             \
    do {                                                                                                          \
        const T *src = (const T *)a->buffers[1];                                                                  \
        int32_t *dst = out;                                                                                       \
        for (int64_t i = base; i < base + n; i++)                                                                 \
            if (S_VALID(bm, i))                                                                                   \
                dst[m++] = (int32_t)src[i];                                                                       \
    } while (0)

static int s_scale32(const struct dld_pq_coldesc *d, int32_t *v, size_t m, struct dld_error *err)
{
    for (size_t i = 0; i < m; i++)
        if (__builtin_mul_overflow(v[i], (int32_t)d->mul, &v[i]))
            return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: value out of range after unit conversion", d->name);
    return DLD_OK;
}

static int s_scale64(const struct dld_pq_coldesc *d, int64_t *v, size_t m, struct dld_error *err)
{
    if (d->mul > 1) {
        for (size_t i = 0; i < m; i++)
            if (__builtin_mul_overflow(v[i], d->mul, &v[i]))
                return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                     "column %s: timestamp out of range after conversion to milliseconds", d->name);
    } else if (d->div > 1) {
        /* floor, not truncation: 1 us before the epoch is -1 ms, not 0 */
        for (size_t i = 0; i < m; i++) {
            int64_t q = v[i] / d->div;
            if (v[i] % d->div < 0)
                q--;
            v[i] = q;
        }
    }
    return DLD_OK;
}

static int s_read_bytes(const struct dld_pq_coldesc *d, const struct ArrowArray *a, const uint8_t *bm, int64_t base,
                        int64_t n, size_t cap, struct dld_pq_view *views, int64_t *rows, size_t *k,
                        struct dld_error *err)
{
    const uint8_t *data = a->buffers[2];
    size_t total = 0, m = 0;
    int64_t i = base;
    bool wide = d->src == DLD_PQ_SRC_BIN64;
    while (i < base + n) {
        if (S_VALID(bm, i)) {
            int64_t lo, hi;
            if (wide) {
                lo = ((const int64_t *)a->buffers[1])[i];
                hi = ((const int64_t *)a->buffers[1])[i + 1];
            } else {
                lo = ((const int32_t *)a->buffers[1])[i];
                hi = ((const int32_t *)a->buffers[1])[i + 1];
            }
            if (hi < lo)
                return dld_error_set(err, DLD_ERR_FATAL, "column %s: malformed Arrow offsets", d->name);
            if (hi - lo > INT32_MAX)
                return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: a value of %lld bytes exceeds Parquet's 2 GiB limit",
                                     d->name, (long long)(hi - lo));
            if (hi > lo && data == NULL)
                return dld_error_set(err, DLD_ERR_FATAL, "column %s: Arrow data buffer missing", d->name);
            views[m].ptr = data ? data + lo : (const uint8_t *)"";
            views[m].len = (uint32_t)(hi - lo);
            total += (size_t)(hi - lo);
            m++;
        }
        i++;
        if (total >= cap)
            break;
    }
    *rows = i - base;
    *k = m;
    return DLD_OK;
}

int dld_pq_read_values(const struct dld_pq_coldesc *d, const struct ArrowArray *a, int64_t start, int64_t n,
                       size_t byte_cap, void *out, struct dld_pq_view *views, int64_t *rows, size_t *k,
                       struct dld_error *err)
{
    const uint8_t *bm = dld_pq_validity(a);
    int64_t base = a->offset + start;
    size_t m = 0;
    *rows = n;
    if (n > 0 && (a->n_buffers < 2 || a->buffers[1] == NULL))
        return dld_error_set(err, DLD_ERR_FATAL, "column %s: Arrow value buffer missing", d->name);
    switch (d->src) {
    case DLD_PQ_SRC_BOOL: {
        const uint8_t *src = a->buffers[1];
        uint8_t *dst = out;
        for (int64_t i = base; i < base + n; i++)
            if (S_VALID(bm, i))
                dst[m++] = src[i >> 3] >> (i & 7) & 1;
        break;
    }
    case DLD_PQ_SRC_I8: S_READ_I32(int8_t); break;
    case DLD_PQ_SRC_U8: S_READ_I32(uint8_t); break;
    case DLD_PQ_SRC_I16: S_READ_I32(int16_t); break;
    case DLD_PQ_SRC_U16: S_READ_I32(uint16_t); break;
    case DLD_PQ_SRC_I32:
    case DLD_PQ_SRC_U32: /* unsigned keeps its bits; only the statistics order differs */
        if (bm == NULL) {
            memcpy(out, (const int32_t *)a->buffers[1] + base, (size_t)n * 4);
            m = (size_t)n;
        } else {
            S_READ_I32(int32_t);
        }
        if (d->mul > 1 && s_scale32(d, out, m, err))
            return err->code;
        break;
    case DLD_PQ_SRC_I64:
    case DLD_PQ_SRC_U64:
        if (bm == NULL) {
            memcpy(out, (const int64_t *)a->buffers[1] + base, (size_t)n * 8);
            m = (size_t)n;
        } else {
            const int64_t *src = a->buffers[1];
            int64_t *dst = out;
            for (int64_t i = base; i < base + n; i++)
                if (S_VALID(bm, i))
                    dst[m++] = src[i];
        }
        if (s_scale64(d, out, m, err))
            return err->code;
        break;
    case DLD_PQ_SRC_F32:
    case DLD_PQ_SRC_F64: {
        size_t w = d->src == DLD_PQ_SRC_F32 ? 4 : 8;
        const uint8_t *src = (const uint8_t *)a->buffers[1];
        uint8_t *dst = out;
        if (bm == NULL) {
            memcpy(dst, src + (size_t)base * w, (size_t)n * w);
            m = (size_t)n;
        } else {
            for (int64_t i = base; i < base + n; i++)
                if (S_VALID(bm, i))
                    memcpy(dst + w * m++, src + (size_t)i * w, w);
        }
        break;
    }
    case DLD_PQ_SRC_DEC128: {
        const uint8_t *src = a->buffers[1];
        __int128 *dst = out;
        for (int64_t i = base; i < base + n; i++) {
            if (!S_VALID(bm, i))
                continue;
            __int128 v;
            memcpy(&v, src + (size_t)i * 16, 16); /* little-endian two's complement */
            if (v > d->dec_limit || v < -d->dec_limit) {
                char text[64];
                dld_decimal_format(v, d->scale, text);
                return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: %s does not fit decimal(%d,%d)", d->name,
                                     text, d->precision, d->scale);
            }
            dst[m++] = v;
        }
        break;
    }
    case DLD_PQ_SRC_BIN32:
    case DLD_PQ_SRC_BIN64:
        return s_read_bytes(d, a, bm, base, n, byte_cap, views, rows, k, err);
    }
    *k = m;
    return DLD_OK;
}
