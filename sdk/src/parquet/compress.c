/* Page compression. Parquet's GZIP codec is the gzip container (RFC 1952),
 * so zlib is asked for a gzip wrapper (windowBits 15 + 16). */
#include "compress.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

int dld_pq_codec_from_name(const char *name, enum dld_pq_codec *out)
{
    if (!strcasecmp(name, "zstd"))
        *out = DLD_PQ_ZSTD;
    else if (!strcasecmp(name, "snappy"))
        *out = DLD_PQ_SNAPPY;
    else if (!strcasecmp(name, "gzip"))
        *out = DLD_PQ_GZIP;
    else if (!strcasecmp(name, "none") || !strcasecmp(name, "uncompressed"))
        *out = DLD_PQ_UNCOMPRESSED;
    else
        return -1;
    return 0;
}

const char *dld_pq_codec_name(enum dld_pq_codec codec)
{
    switch (codec) {
    case DLD_PQ_ZSTD: return "zstd";
    case DLD_PQ_SNAPPY: return "snappy";
    case DLD_PQ_GZIP: return "gzip";
    default: return "none";
    }
}

int dld_pq_codec_level_range(enum dld_pq_codec codec, int *lo, int *hi, int *dflt)
{
    switch (codec) {
    case DLD_PQ_ZSTD:
        /* 3 is zstd's own default and what DuckDB and Arrow use */
        *lo = ZSTD_minCLevel() < -7 ? -7 : ZSTD_minCLevel();
        *hi = ZSTD_maxCLevel();
        *dflt = 3;
        return 0;
    case DLD_PQ_GZIP:
        *lo = 1;
        *hi = 9;
        *dflt = 6;
        return 0;
    default:
        *lo = *hi = *dflt = 0;
        return -1; /* no levels */
    }
}

int dld_pq_compressor_init(struct dld_pq_compressor *c, enum dld_pq_codec codec, int level)
{
    memset(c, 0, sizeof(*c));
    c->codec = codec;
    c->level = level;
    if (codec == DLD_PQ_ZSTD) {
        ZSTD_CCtx *z = ZSTD_createCCtx();
        if (!z)
            return -1;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level))) {
            ZSTD_freeCCtx(z);
            return -1;
        }
        c->zstd = z;
    } else if (codec == DLD_PQ_GZIP) {
        z_stream *zs = calloc(1, sizeof(*zs));
        if (!zs)
            return -1;
        if (deflateInit2(zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(zs);
            return -1;
        }
        c->zlib = zs;
    }
    return 0;
}

void dld_pq_compressor_clean_up(struct dld_pq_compressor *c)
{
    if (c->zstd)
        ZSTD_freeCCtx(c->zstd);
    if (c->zlib) {
        deflateEnd(c->zlib);
        free(c->zlib);
    }
    memset(c, 0, sizeof(*c));
}

static int s_gzip(struct dld_pq_compressor *c, const void *src, size_t n, struct dld_pq_buf *out, const char **msg)
{
    z_stream *zs = c->zlib;
    if (deflateReset(zs) != Z_OK) {
        *msg = "gzip: deflateReset failed";
        return -1;
    }
    uLong bound = deflateBound(zs, (uLong)n) + 32;
    if (dld_pq_buf_reserve(out, bound)) {
        *msg = "out of memory";
        return -1;
    }
    zs->next_in = (Bytef *)(uintptr_t)src;
    zs->avail_in = (uInt)n;
    zs->next_out = out->data + out->len;
    zs->avail_out = (uInt)bound;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) {
        *msg = "gzip: deflate did not finish";
        return -1;
    }
    out->len += bound - zs->avail_out;
    return 0;
}

int dld_pq_compress(struct dld_pq_compressor *c, const void *src, size_t n, struct dld_pq_buf *out,
                    const char **msg)
{
    *msg = NULL;
    switch (c->codec) {
    case DLD_PQ_ZSTD: {
        size_t bound = ZSTD_compressBound(n);
        if (dld_pq_buf_reserve(out, bound)) {
            *msg = "out of memory";
            return -1;
        }
        size_t r = ZSTD_compress2(c->zstd, out->data + out->len, bound, src, n);
        if (ZSTD_isError(r)) {
            *msg = ZSTD_getErrorName(r);
            return -1;
        }
        out->len += r;
        return 0;
    }
    case DLD_PQ_SNAPPY: {
        size_t bound = snappy_max_compressed_length(n);
        if (dld_pq_buf_reserve(out, bound)) {
            *msg = "out of memory";
            return -1;
        }
        size_t len = bound;
        if (snappy_compress(src, n, (char *)out->data + out->len, &len) != SNAPPY_OK) {
            *msg = "snappy: compression failed";
            return -1;
        }
        out->len += len;
        return 0;
    }
    case DLD_PQ_GZIP:
        if (n > 0xFFFFFFFFu) {
            *msg = "gzip: page too large";
            return -1;
        }
        return s_gzip(c, src, n, out, msg);
    default:
        if (dld_pq_buf_append(out, src, n)) {
            *msg = "out of memory";
            return -1;
        }
        return 0;
    }
}
