/* Internal: page compression with the Debian libraries (libzstd, snappy,
 * zlib). One compressor per writer, reused for every page. */
#ifndef DLD_PQ_COMPRESS_H
#define DLD_PQ_COMPRESS_H

#include <stddef.h>

#include "pq_buf.h"

/* values are Parquet's CompressionCodec enum */
enum dld_pq_codec {
    DLD_PQ_UNCOMPRESSED = 0,
    DLD_PQ_SNAPPY = 1,
    DLD_PQ_GZIP = 2,
    DLD_PQ_ZSTD = 6,
};

struct dld_pq_compressor {
    enum dld_pq_codec codec;
    int level;
    void *zstd;  /* ZSTD_CCtx * */
    void *zlib;  /* z_stream * */
};

/* codec name: "zstd", "snappy", "gzip", "none" (or "uncompressed");
 * -1 for anything else */
int dld_pq_codec_from_name(const char *name, enum dld_pq_codec *out);
const char *dld_pq_codec_name(enum dld_pq_codec codec);
/* the default level when none is given, and the accepted range */
int dld_pq_codec_level_range(enum dld_pq_codec codec, int *lo, int *hi, int *dflt);

int dld_pq_compressor_init(struct dld_pq_compressor *c, enum dld_pq_codec codec, int level);
void dld_pq_compressor_clean_up(struct dld_pq_compressor *c);
/* Appends the compressed form of src to out. 0, or -1 with a reason in msg. */
int dld_pq_compress(struct dld_pq_compressor *c, const void *src, size_t n, struct dld_pq_buf *out,
                    const char **msg);

#endif
