/* Test-only Arrow builder (see pq_arrow.h). Aborts on allocation failure:
 * a test has nothing better to do. */
#include "pq_arrow.h"

#include <stdlib.h>
#include <string.h>

static void *s_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

static void s_noop_array(struct ArrowArray *a) { a->release = NULL; }
static void s_noop_schema(struct ArrowSchema *s) { s->release = NULL; }

static int s_width(const char *f, bool *large)
{
    *large = false;
    if (!strcmp(f, "b"))
        return -1;
    if (!strcmp(f, "c") || !strcmp(f, "C"))
        return 1;
    if (!strcmp(f, "s") || !strcmp(f, "S"))
        return 2;
    if (!strcmp(f, "i") || !strcmp(f, "I") || !strcmp(f, "f") || !strcmp(f, "tdD") || !strcmp(f, "tts") || !strcmp(f, "ttm"))
        return 4;
    if (f[0] == 'd')
        return 16;
    if (!strcmp(f, "u") || !strcmp(f, "z"))
        return 0;
    if (!strcmp(f, "U") || !strcmp(f, "Z")) {
        *large = true;
        return 0;
    }
    return 8; /* l L g ts* ttu ttn */
}

void tarr_init(struct tarr *c, const char *name, const char *format, bool nullable)
{
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->format = format;
    c->nullable = nullable;
    c->width = s_width(format, &c->large);
}

void tarr_clean_up(struct tarr *c)
{
    free(c->valid);
    free(c->data);
    free(c->bytes);
    memset(c, 0, sizeof(*c));
}

static void s_grow(struct tarr *c)
{
    if (c->len + 2 < c->cap)
        return;
    int64_t cap = c->cap ? c->cap * 2 : 64;
    c->valid = s_xrealloc(c->valid, (size_t)(cap + 7) / 8);
    memset(c->valid + (c->cap + 7) / 8, 0, (size_t)((cap + 7) / 8 - (c->cap + 7) / 8));
    size_t w = c->width > 0 ? (size_t)c->width : c->width == 0 ? (c->large ? 8 : 4) : 0;
    if (c->width == -1)
        c->data = s_xrealloc(c->data, (size_t)(cap + 7) / 8);
    else
        c->data = s_xrealloc(c->data, (size_t)(cap + 1) * w);
    if (c->width == -1)
        memset(c->data + (c->cap + 7) / 8, 0, (size_t)((cap + 7) / 8 - (c->cap + 7) / 8));
    if (c->width == 0 && c->cap == 0)
        memset(c->data, 0, w); /* offsets[0] = 0 */
    c->cap = cap;
}

static void s_offset(struct tarr *c)
{
    if (c->large) {
        int64_t o = (int64_t)c->nbytes;
        memcpy(c->data + (size_t)(c->len + 1) * 8, &o, 8);
    } else {
        int32_t o = (int32_t)c->nbytes;
        memcpy(c->data + (size_t)(c->len + 1) * 4, &o, 4);
    }
}

void tarr_null(struct tarr *c)
{
    s_grow(c);
    c->valid[c->len >> 3] &= (uint8_t)~(1u << (c->len & 7));
    if (c->width > 0)
        memset(c->data + (size_t)c->len * (size_t)c->width, 0xAB, (size_t)c->width); /* garbage under a null */
    else if (c->width == 0)
        s_offset(c);
    c->nulls++;
    c->len++;
}

static void s_valid(struct tarr *c)
{
    c->valid[c->len >> 3] |= (uint8_t)(1u << (c->len & 7));
}

void tarr_fixed(struct tarr *c, const void *v)
{
    s_grow(c);
    s_valid(c);
    memcpy(c->data + (size_t)c->len * (size_t)c->width, v, (size_t)c->width);
    c->len++;
}

void tarr_bool(struct tarr *c, bool v)
{
    s_grow(c);
    s_valid(c);
    if (v)
        c->data[c->len >> 3] |= (uint8_t)(1u << (c->len & 7));
    else
        c->data[c->len >> 3] &= (uint8_t)~(1u << (c->len & 7));
    c->len++;
}

void tarr_bytes(struct tarr *c, const void *p, size_t n)
{
    s_grow(c);
    s_valid(c);
    if (c->nbytes + n > c->bcap) {
        size_t cap = c->bcap ? c->bcap : 256;
        while (cap < c->nbytes + n)
            cap *= 2;
        c->bytes = s_xrealloc(c->bytes, cap);
        c->bcap = cap;
    }
    if (n)
        memcpy(c->bytes + c->nbytes, p, n);
    c->nbytes += n;
    s_offset(c);
    c->len++;
}

void tarr_seal(struct tarr *c)
{
    s_grow(c); /* an empty column still gets buffers */
    c->bufs[0] = c->no_validity ? NULL : c->valid;
    c->bufs[1] = c->data;
    c->bufs[2] = c->bytes ? c->bytes : (const void *)"";
    memset(&c->arr, 0, sizeof(c->arr));
    c->arr.length = c->len;
    c->arr.null_count = c->nulls;
    c->arr.n_buffers = c->width == 0 ? 3 : 2;
    c->arr.buffers = c->bufs;
    c->arr.release = s_noop_array;
    memset(&c->sch, 0, sizeof(c->sch));
    c->sch.format = c->format;
    c->sch.name = c->name;
    c->sch.flags = c->nullable ? ARROW_FLAG_NULLABLE : 0;
    c->sch.release = s_noop_schema;
}

void tbatch_init(struct tbatch *b, struct tarr *cols, size_t ncols)
{
    memset(b, 0, sizeof(*b));
    b->cols = cols;
    b->ncols = ncols;
    b->achildren = s_xrealloc(NULL, ncols * sizeof(*b->achildren));
    b->schildren = s_xrealloc(NULL, ncols * sizeof(*b->schildren));
}

void tbatch_seal(struct tbatch *b, int64_t offset, int64_t length)
{
    for (size_t i = 0; i < b->ncols; i++) {
        tarr_seal(&b->cols[i]);
        b->achildren[i] = &b->cols[i].arr;
        b->schildren[i] = &b->cols[i].sch;
    }
    memset(&b->arr, 0, sizeof(b->arr));
    static const void *no_bufs[1] = { NULL };
    b->arr.length = length;
    b->arr.offset = offset;
    b->arr.n_buffers = 1;
    b->arr.buffers = no_bufs;
    b->arr.n_children = (int64_t)b->ncols;
    b->arr.children = b->achildren;
    b->arr.release = s_noop_array;
    memset(&b->sch, 0, sizeof(b->sch));
    b->sch.format = "+s";
    b->sch.name = "";
    b->sch.n_children = (int64_t)b->ncols;
    b->sch.children = b->schildren;
    b->sch.release = s_noop_schema;
}

void tbatch_clean_up(struct tbatch *b)
{
    free(b->achildren);
    free(b->schildren);
    memset(b, 0, sizeof(*b));
}
