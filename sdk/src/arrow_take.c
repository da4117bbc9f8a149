/* Taking rows of a flat Arrow batch into a new batch (arrow_take.h).
 *
 * Flat columns only (what an Iceberg table holds: fixed-width values,
 * booleans, strings and binary): each column's values, validity bits and,
 * for strings, offsets and bytes are copied run by run into one block per
 * buffer. A caller with anything else (nested or dictionary columns) keeps
 * to the batch it has, e.g. writes it run by run through views. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

#include "arrow_take.h"

/* bytes per value of a fixed-width Arrow format; 0: booleans ("b"); -1:
 * 32-bit offsets ("u", "z"); -2: 64-bit offsets ("U", "Z"); -3: not taken */
static int s_width(const char *f)
{
    if (!f || !*f)
        return -3;
    if (f[1] == '\0') {
        switch (f[0]) {
        case 'b': return 0;
        case 'c': case 'C': return 1;
        case 's': case 'S': case 'e': return 2;
        case 'i': case 'I': case 'f': return 4;
        case 'l': case 'L': case 'g': return 8;
        case 'u': case 'z': return -1;
        case 'U': case 'Z': return -2;
        default: return -3;
        }
    }
    if (f[0] == 'd' && f[1] == ':') { /* "d:P,S" (128 bits) or "d:P,S,BITS" */
        const char *bits = strchr(f, ',');
        bits = bits ? strchr(bits + 1, ',') : NULL;
        int n = bits ? atoi(bits + 1) : 128;
        return n == 32 || n == 64 || n == 128 || n == 256 ? n / 8 : -3;
    }
    if (f[0] == 'w' && f[1] == ':')
        return atoi(f + 2) > 0 ? atoi(f + 2) : -3;
    if (f[0] == 't' && (f[1] == 'd' || f[1] == 't' || f[1] == 's' || f[1] == 'D'))
        return (f[1] == 'd' && f[2] == 'D') || (f[1] == 't' && (f[2] == 's' || f[2] == 'm')) ? 4 : 8;
    return -3;
}

/* arrow_take.h */
bool dld_arrow_takeable(const struct ArrowSchema *schema, const struct ArrowArray *batch)
{
    if (batch->null_count != 0 && batch->n_buffers > 0 && batch->buffers[0])
        return false; /* null struct rows */
    for (int64_t c = 0; c < schema->n_children; c++)
        if (s_width(schema->children[c]->format) == -3 || schema->children[c]->dictionary ||
            batch->children[c]->n_children != 0)
            return false;
    return true;
}

/* the taken batch's memory: one block per buffer */
struct s_taken {
    struct ArrowArray *kids, **kidp;
    const void **bufs; /* 3 per child */
    int64_t n;
};

static void s_taken_release(struct ArrowArray *a)
{
    struct s_taken *g = a->private_data;
    for (int64_t i = 0; g && g->bufs && i < 3 * g->n; i++) /* bufs NULL: its allocation failed */
        free((void *)g->bufs[i]);
    if (g) {
        free(g->bufs);
        free(g->kids);
        free(g->kidp);
        free(g);
    }
    free((void *)a->buffers);
    a->release = NULL;
}

static bool s_bit(const void *bits, int64_t i)
{
    return (((const uint8_t *)bits)[i >> 3] >> (i & 7)) & 1;
}

/* arrow_take.h */
int dld_arrow_take_runs(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        const struct dld_arrow_run *runs, int nruns, int64_t rows, struct ArrowArray *out,
                        struct dld_error *err)
{
    int64_t nc = schema->n_children;
    struct s_taken *g = calloc(1, sizeof(*g));
    const void **top = calloc(1, sizeof(*top));
    if (g) {
        g->kids = calloc((size_t)nc + 1, sizeof(*g->kids));
        g->kidp = calloc((size_t)nc + 1, sizeof(*g->kidp));
        g->bufs = calloc(3 * (size_t)nc + 1, sizeof(*g->bufs));
        g->n = nc;
    }
    *out = (struct ArrowArray){.length = rows, .n_buffers = 1, .n_children = nc, .buffers = top,
                               .children = g ? g->kidp : NULL, .release = s_taken_release, .private_data = g};
    bool ok = g && top && g->kids && g->kidp && g->bufs;
    for (int64_t c = 0; ok && c < nc; c++) {
        const struct ArrowArray *src = batch->children[c];
        struct ArrowArray *dst = &g->kids[c];
        const void **b = &g->bufs[3 * c];
        int w = s_width(schema->children[c]->format);
        int64_t base = batch->offset + src->offset; /* a row r of the batch is value base + r */
        bool nulls = src->null_count != 0 && src->n_buffers > 0 && src->buffers[0];
        *dst = (struct ArrowArray){.length = rows, .n_buffers = w < 0 ? 3 : 2, .buffers = b, .release = NULL};
        g->kidp[c] = dst;
        uint8_t *valid = nulls ? calloc((size_t)(rows + 7) / 8 + 1, 1) : NULL;
        ok = !nulls || valid;
        b[0] = valid;
        int64_t at = 0, null_count = 0;
        if (w >= 0) {
            size_t bytes = w ? (size_t)rows * (size_t)w : (size_t)(rows + 7) / 8;
            uint8_t *v = calloc(bytes + 1, 1), *from = (uint8_t *)src->buffers[1];
            ok = ok && v;
            b[1] = v;
            for (int k = 0; ok && k < nruns; k++)
                for (int64_t r = runs[k].start; r < runs[k].start + runs[k].n; r++, at++) {
                    if (w)
                        memcpy(v + (size_t)at * (size_t)w, from + (size_t)(base + r) * (size_t)w, (size_t)w);
                    else if (s_bit(from, base + r))
                        v[at >> 3] |= (uint8_t)(1u << (at & 7));
                }
        } else {
            bool wide = w == -2;
            size_t osz = wide ? 8 : 4, total = 0;
            const uint8_t *offs = src->buffers[1], *data = src->buffers[2];
#define S_OFF(i) (wide ? (uint64_t)((const int64_t *)offs)[i] : (uint64_t)(uint32_t)((const int32_t *)offs)[i])
            for (int k = 0; k < nruns; k++)
                for (int64_t r = runs[k].start; r < runs[k].start + runs[k].n; r++)
                    total += S_OFF(base + r + 1) - S_OFF(base + r);
            uint8_t *o = calloc((size_t)(rows + 1) * osz, 1), *d = malloc(total + 1);
            ok = ok && o && d;
            b[1] = o;
            b[2] = d;
            size_t pos = 0;
            for (int k = 0; ok && k < nruns; k++)
                for (int64_t r = runs[k].start; r < runs[k].start + runs[k].n; r++, at++) {
                    uint64_t lo = S_OFF(base + r), len = S_OFF(base + r + 1) - lo;
                    if (wide)
                        ((int64_t *)o)[at] = (int64_t)pos;
                    else
                        ((int32_t *)o)[at] = (int32_t)pos;
                    if (len)
                        memcpy(d + pos, data + lo, len);
                    pos += len;
                }
            if (ok && wide)
                ((int64_t *)o)[rows] = (int64_t)pos;
            else if (ok)
                ((int32_t *)o)[rows] = (int32_t)pos;
#undef S_OFF
        }
        at = 0;
        for (int k = 0; ok && nulls && k < nruns; k++)
            for (int64_t r = runs[k].start; r < runs[k].start + runs[k].n; r++, at++) {
                if (s_bit(src->buffers[0], base + r))
                    valid[at >> 3] |= (uint8_t)(1u << (at & 7));
                else
                    null_count++;
            }
        dst->null_count = null_count;
    }
    if (!ok) {
        if (g == NULL) {
            free(top);
            out->release = NULL;
        } else {
            s_taken_release(out);
        }
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    return DLD_OK;
}
