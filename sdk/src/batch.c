/*
 * Arrow batch builder (sdk.h): sources append values row by row; finish
 * hands the buffers over to a struct-typed ArrowArray; nothing is copied.
 *
 * Memory is reused across batches: the array's release gives its buffers
 * back to a small spare list shared with the builder (under a mutex: the
 * array is usually released on another thread), and the builder starts each
 * batch with spare buffers at least as large as the previous batch needed,
 * so in steady state a batch neither allocates nor regrows (no realloc
 * copies, no fresh pages to fault in). The list keeps a few batches' worth
 * at most; the rest is freed. The validity bitmap is only built once a
 * column gets its first null (Arrow needs none without nulls).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

struct s_buf {
    uint8_t *data;
    size_t len, cap;
};

/* spare buffers, shared by a builder and the arrays it handed over; freed
 * with the last of them */
struct s_spares {
    pthread_mutex_t mu;
    int refs;
    size_t n, max;
    struct s_buf *items; /* len unused */
};

struct s_col {
    struct dld_column_spec spec;
    char *name;          /* owned copy */
    char *tz;            /* owned copy */
    char format[32];
    size_t width;        /* bytes per value for fixed-width types; 0 for bool and var-width */
    struct s_buf validity; /* empty until the first null: every value so far is valid */
    struct s_buf values; /* fixed-width values, bool bits, or var-width bytes */
    struct s_buf offsets;/* int32 offsets for string/binary */
    size_t want[3];      /* sizes the previous batch needed: validity, values, offsets */
    int64_t nulls;
    int64_t count;       /* values appended */
    size_t *filled;      /* the builder's count of columns appended in the open row */
};

struct dld_batch_builder {
    size_t ncols;
    int64_t rows;
    size_t filled; /* columns appended in the open row (one value each at most) */
    struct s_col *cols;
    struct s_spares *spares;
};

static void s_spares_unref(struct s_spares *sp)
{
    if (sp == NULL)
        return;
    pthread_mutex_lock(&sp->mu);
    int refs = --sp->refs;
    pthread_mutex_unlock(&sp->mu);
    if (refs > 0)
        return;
    for (size_t i = 0; i < sp->n; i++)
        free(sp->items[i].data);
    free(sp->items);
    pthread_mutex_destroy(&sp->mu);
    free(sp);
}

/* a buffer back to the spare list (or freed when the list is full) */
static void s_spares_put(struct s_spares *sp, void *data, size_t cap)
{
    if (data == NULL)
        return;
    pthread_mutex_lock(&sp->mu);
    if (sp->n < sp->max && cap > 0) {
        sp->items[sp->n++] = (struct s_buf){ .data = data, .cap = cap };
        data = NULL;
    } else if (sp->n > 0 && cap > 0) {
        /* full: keep the larger buffers (the next batch wants sizes like
         * the last one's), free the smallest */
        size_t small = 0;
        for (size_t i = 1; i < sp->n; i++)
            if (sp->items[i].cap < sp->items[small].cap)
                small = i;
        if (sp->items[small].cap < cap) {
            void *old = sp->items[small].data;
            sp->items[small] = (struct s_buf){ .data = data, .cap = cap };
            data = old;
        }
    }
    pthread_mutex_unlock(&sp->mu);
    free(data);
}

/* the smallest spare of at least `want` bytes, else a new one; an empty
 * buffer when want is 0 or memory is short (it then grows as it fills) */
static struct s_buf s_spares_get(struct s_spares *sp, size_t want)
{
    struct s_buf b = { 0 };
    if (want == 0)
        return b;
    pthread_mutex_lock(&sp->mu);
    size_t best = sp->n;
    for (size_t i = 0; i < sp->n; i++)
        if (sp->items[i].cap >= want && (best == sp->n || sp->items[i].cap < sp->items[best].cap))
            best = i;
    if (best < sp->n) {
        b = sp->items[best];
        sp->items[best] = sp->items[--sp->n];
    }
    pthread_mutex_unlock(&sp->mu);
    if (b.data == NULL && (b.data = malloc(want)) != NULL)
        b.cap = want;
    b.len = 0;
    return b;
}

static int s_grow(struct s_buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int s_reserve(struct s_buf *b, size_t extra)
{
    return b->len + extra <= b->cap ? 0 : s_grow(b, extra);
}

static size_t s_type_width(uint32_t type)
{
    switch (type) {
    case DLD_T_INT8: return 1;
    case DLD_T_INT16: return 2;
    case DLD_T_INT32: case DLD_T_DATE32: case DLD_T_FLOAT32: case DLD_T_TIME32: return 4;
    case DLD_T_INT64: case DLD_T_FLOAT64: case DLD_T_TIMESTAMP: case DLD_T_TIME64: return 8;
    case DLD_T_DECIMAL128: return 16;
    default: return 0;
    }
}

static int s_format(const struct dld_column_spec *c, char *out, size_t cap)
{
    static const char units[] = {'s', 'm', 'u', 'n'};
    if (c->unit > DLD_UNIT_NANO)
        return -1;
    switch (c->type) {
    case DLD_T_BOOL: snprintf(out, cap, "b"); break;
    case DLD_T_INT8: snprintf(out, cap, "c"); break;
    case DLD_T_INT16: snprintf(out, cap, "s"); break;
    case DLD_T_INT32: snprintf(out, cap, "i"); break;
    case DLD_T_INT64: snprintf(out, cap, "l"); break;
    case DLD_T_FLOAT32: snprintf(out, cap, "f"); break;
    case DLD_T_FLOAT64: snprintf(out, cap, "g"); break;
    case DLD_T_STRING: snprintf(out, cap, "u"); break;
    case DLD_T_BINARY: snprintf(out, cap, "z"); break;
    case DLD_T_DECIMAL128:
        if (c->precision < 1 || c->precision > 38 || c->scale < 0 || c->scale > c->precision)
            return -1;
        snprintf(out, cap, "d:%d,%d", c->precision, c->scale);
        break;
    case DLD_T_DATE32: snprintf(out, cap, "tdD"); break;
    case DLD_T_TIMESTAMP: snprintf(out, cap, "ts%c:%s", units[c->unit], c->tz ? c->tz : ""); break;
    case DLD_T_TIME32:
        if (c->unit > DLD_UNIT_MILLI) return -1;
        snprintf(out, cap, "tt%c", units[c->unit]);
        break;
    case DLD_T_TIME64:
        if (c->unit < DLD_UNIT_MICRO) return -1;
        snprintf(out, cap, "tt%c", units[c->unit]);
        break;
    default: return -1;
    }
    return 0;
}

/* what the next batch starts with: the previous one's size and an eighth */
static size_t s_hint(size_t len)
{
    return len ? len + len / 8 + 64 : 0;
}

static void s_col_reset(struct s_spares *sp, struct s_col *c)
{
    c->validity = s_spares_get(sp, s_hint(c->want[0]));
    c->values = s_spares_get(sp, s_hint(c->want[1]));
    c->offsets = s_spares_get(sp, s_hint(c->want[2]));
    c->nulls = 0;
    c->count = 0;
    if (c->spec.type == DLD_T_STRING || c->spec.type == DLD_T_BINARY) {
        if (s_reserve(&c->offsets, 4) == 0) {
            memset(c->offsets.data, 0, 4);
            c->offsets.len = 4;
        }
    }
}

struct dld_batch_builder *dld_batch_builder_new(const struct dld_column_spec *cols, size_t ncols)
{
    struct dld_batch_builder *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->cols = calloc(ncols ? ncols : 1, sizeof(*b->cols));
    if (b->cols == NULL) {
        free(b);
        return NULL;
    }
    b->ncols = ncols;
    b->spares = calloc(1, sizeof(*b->spares));
    if (b->spares == NULL) {
        free(b->cols);
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->spares->mu, NULL);
    b->spares->refs = 1;
    /* One batch's buffers (three a column): a source hands over a batch
     * while it builds the next, so a released batch's buffers are what the
     * next reset needs. More spares only held memory that a steady
     * pipeline never reuses (up to three idle batches per load). */
    b->spares->max = 3 * (ncols ? ncols : 1);
    b->spares->items = calloc(b->spares->max, sizeof(*b->spares->items));
    if (b->spares->items == NULL) {
        s_spares_unref(b->spares);
        free(b->cols);
        free(b);
        return NULL;
    }
    for (size_t i = 0; i < ncols; i++) {
        struct s_col *c = &b->cols[i];
        c->spec = cols[i];
        c->filled = &b->filled;
        c->name = strdup(cols[i].name ? cols[i].name : "");
        c->tz = cols[i].tz ? strdup(cols[i].tz) : NULL;
        c->spec.name = c->name;
        c->spec.tz = c->tz;
        c->width = s_type_width(c->spec.type);
        if (c->name == NULL || s_format(&c->spec, c->format, sizeof(c->format)) != 0) {
            b->ncols = i + 1;
            dld_batch_builder_destroy(b);
            return NULL;
        }
        s_col_reset(b->spares, c);
    }
    return b;
}

void dld_batch_builder_destroy(struct dld_batch_builder *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->ncols; i++) {
        free(b->cols[i].validity.data);
        free(b->cols[i].values.data);
        free(b->cols[i].offsets.data);
        free(b->cols[i].name);
        free(b->cols[i].tz);
    }
    s_spares_unref(b->spares);
    free(b->cols);
    free(b);
}

size_t dld_batch_columns(const struct dld_batch_builder *b) { return b->ncols; }
int64_t dld_batch_rows(const struct dld_batch_builder *b) { return b->rows; }

size_t dld_batch_bytes(const struct dld_batch_builder *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncols; i++)
        n += b->cols[i].values.len + b->cols[i].offsets.len + b->cols[i].validity.len;
    return n;
}

/* Appends a validity bit. While the column has no null, no bitmap is kept. */
static inline int s_set_valid(struct s_col *c, bool valid)
{
    int64_t i = c->count;
    if (c->nulls == 0 && valid)
        return 0;
    if (c->nulls == 0) {
        /* the first null: the bitmap of every value so far, all valid */
        size_t bytes = (size_t)(i / 8) + 1;
        if (s_reserve(&c->validity, bytes + 64))
            return -1;
        memset(c->validity.data, 0xFF, bytes);
        c->validity.len = bytes;
    } else if ((i & 7) == 0) {
        if (s_reserve(&c->validity, 1))
            return -1;
        c->validity.data[c->validity.len++] = 0;
    }
    if (valid)
        c->validity.data[i >> 3] |= (uint8_t)(1u << (i & 7));
    else {
        c->validity.data[i >> 3] &= (uint8_t)~(1u << (i & 7));
        c->nulls++;
    }
    return 0;
}

static struct s_col *s_col_for(struct dld_batch_builder *b, size_t col)
{
    if (col >= b->ncols)
        return NULL;
    struct s_col *c = &b->cols[col];
    return c->count == b->rows ? c : NULL; /* one value per row */
}

/* n is a constant at every call: the copy is inlined */
static inline __attribute__((always_inline)) int s_append_fixed(struct s_col *c, const void *v, size_t n)
{
    if (s_reserve(&c->values, n) || s_set_valid(c, v != NULL))
        return DLD_ERR_FATAL;
    if (v)
        memcpy(c->values.data + c->values.len, v, n);
    else
        memset(c->values.data + c->values.len, 0, n);
    c->values.len += n;
    c->count++;
    ++*c->filled;
    return DLD_OK;
}

/* Bool and var-width columns append a placeholder value first (a false bit,
 * an empty string), then the value is marked null. */
static int s_unset_last_valid(struct s_col *c)
{
    int64_t i = c->count - 1;
    if (c->nulls == 0) {
        size_t bytes = (size_t)(i / 8) + 1;
        if (s_reserve(&c->validity, bytes + 64))
            return DLD_ERR_FATAL;
        memset(c->validity.data, 0xFF, bytes);
        c->validity.len = bytes;
    }
    c->validity.data[i >> 3] &= (uint8_t)~(1u << (i & 7));
    c->nulls++;
    return DLD_OK;
}

int dld_batch_append_null(struct dld_batch_builder *b, size_t col)
{
    struct s_col *c = s_col_for(b, col);
    if (c == NULL)
        return DLD_ERR_FATAL;
    if (c->spec.type == DLD_T_BOOL)
        return dld_batch_append_bool(b, col, false) == DLD_OK ? s_unset_last_valid(c) : DLD_ERR_FATAL;
    if (c->spec.type == DLD_T_STRING || c->spec.type == DLD_T_BINARY)
        return dld_batch_append_bytes(b, col, "", 0) == DLD_OK ? s_unset_last_valid(c) : DLD_ERR_FATAL;
    return s_append_fixed(c, NULL, c->width);
}

int dld_batch_append_bool(struct dld_batch_builder *b, size_t col, bool v)
{
    struct s_col *c = s_col_for(b, col);
    if (c == NULL || c->spec.type != DLD_T_BOOL)
        return DLD_ERR_FATAL;
    int64_t i = c->count;
    if ((i & 7) == 0) {
        if (s_reserve(&c->values, 1))
            return DLD_ERR_FATAL;
        c->values.data[c->values.len++] = 0;
    }
    if (s_set_valid(c, true))
        return DLD_ERR_FATAL;
    if (v)
        c->values.data[i >> 3] |= (uint8_t)(1u << (i & 7));
    c->count++;
    ++*c->filled;
    return DLD_OK;
}

int dld_batch_append_int(struct dld_batch_builder *b, size_t col, int64_t v)
{
    struct s_col *c = s_col_for(b, col);
    if (c == NULL)
        return DLD_ERR_FATAL;
    switch (c->spec.type) {
    case DLD_T_INT8: { int8_t x = (int8_t)v; return s_append_fixed(c, &x, 1); }
    case DLD_T_INT16: { int16_t x = (int16_t)v; return s_append_fixed(c, &x, 2); }
    case DLD_T_INT32: case DLD_T_DATE32: case DLD_T_TIME32: { int32_t x = (int32_t)v; return s_append_fixed(c, &x, 4); }
    case DLD_T_INT64: case DLD_T_TIMESTAMP: case DLD_T_TIME64: return s_append_fixed(c, &v, 8);
    default: return DLD_ERR_FATAL;
    }
}

int dld_batch_append_double(struct dld_batch_builder *b, size_t col, double v)
{
    struct s_col *c = s_col_for(b, col);
    if (c == NULL)
        return DLD_ERR_FATAL;
    if (c->spec.type == DLD_T_FLOAT32) {
        float f = (float)v;
        return s_append_fixed(c, &f, 4);
    }
    return c->spec.type == DLD_T_FLOAT64 ? s_append_fixed(c, &v, 8) : DLD_ERR_FATAL;
}

int dld_batch_append_decimal(struct dld_batch_builder *b, size_t col, __int128 unscaled)
{
    struct s_col *c = s_col_for(b, col);
    if (c == NULL || c->spec.type != DLD_T_DECIMAL128)
        return DLD_ERR_FATAL;
    return s_append_fixed(c, &unscaled, 16);
}

int dld_batch_append_bytes(struct dld_batch_builder *b, size_t col, const void *data, size_t len)
{
    struct s_col *c = s_col_for(b, col);
    if (c == NULL || (c->spec.type != DLD_T_STRING && c->spec.type != DLD_T_BINARY))
        return DLD_ERR_FATAL;
    /* int32 offsets: a batch holds at most 2 GiB of variable-width data */
    if (c->values.len + len > INT32_MAX)
        return DLD_ERR_FATAL;
    if (s_reserve(&c->values, len) || s_reserve(&c->offsets, 4) || s_set_valid(c, true))
        return DLD_ERR_FATAL;
    if (len)
        memcpy(c->values.data + c->values.len, data, len);
    c->values.len += len;
    int32_t end = (int32_t)c->values.len;
    memcpy(c->offsets.data + c->offsets.len, &end, 4);
    c->offsets.len += 4;
    c->count++;
    ++*c->filled;
    return DLD_OK;
}

int dld_batch_end_row(struct dld_batch_builder *b)
{
    /* a column takes one value a row at most (s_col_for): ncols values
     * mean every column has its value */
    if (b->filled != b->ncols)
        return DLD_ERR_FATAL;
    b->filled = 0;
    b->rows++;
    return DLD_OK;
}

/* ---- handing buffers over to Arrow structs ------------------------------------ */
struct s_array_private {
    void *bufs[3];
    size_t caps[3];
    const void *buffer_ptrs[3];
    struct s_spares *spares; /* where the buffers go back (children only) */
};

static void s_release_child_array(struct ArrowArray *a)
{
    struct s_array_private *p = a->private_data;
    for (int i = 0; i < 3; i++)
        s_spares_put(p->spares, p->bufs[i], p->caps[i]);
    s_spares_unref(p->spares);
    free(p);
    a->release = NULL;
}

static void s_release_struct_array(struct ArrowArray *a)
{
    for (int64_t i = 0; i < a->n_children; i++) {
        struct ArrowArray *ch = a->children[i];
        if (ch->release)
            ch->release(ch);
        free(ch);
    }
    free(a->children);
    free(a->private_data);
    a->release = NULL;
}

struct s_schema_private {
    char *format;
    char *name;
};

static void s_release_child_schema(struct ArrowSchema *s)
{
    struct s_schema_private *p = s->private_data;
    free(p->format);
    free(p->name);
    free(p);
    s->release = NULL;
}

static void s_release_struct_schema(struct ArrowSchema *s)
{
    for (int64_t i = 0; i < s->n_children; i++) {
        struct ArrowSchema *ch = s->children[i];
        if (ch->release)
            ch->release(ch);
        free(ch);
    }
    free(s->children);
    s->release = NULL;
}

static int s_fill_schema(struct dld_batch_builder *b, struct ArrowSchema *schema)
{
    memset(schema, 0, sizeof(*schema));
    schema->format = "+s";
    schema->name = "";
    schema->n_children = (int64_t)b->ncols;
    schema->children = calloc(b->ncols ? b->ncols : 1, sizeof(*schema->children));
    schema->release = s_release_struct_schema;
    if (schema->children == NULL)
        return -1;
    for (size_t i = 0; i < b->ncols; i++) {
        struct ArrowSchema *ch = calloc(1, sizeof(*ch));
        struct s_schema_private *p = calloc(1, sizeof(*p));
        if (ch == NULL || p == NULL) {
            free(ch);
            free(p);
            schema->n_children = (int64_t)i;
            return -1;
        }
        p->format = strdup(b->cols[i].format);
        p->name = strdup(b->cols[i].name);
        ch->format = p->format;
        ch->name = p->name;
        ch->flags = b->cols[i].spec.nullable ? ARROW_FLAG_NULLABLE : 0;
        ch->private_data = p;
        ch->release = s_release_child_schema;
        schema->children[i] = ch;
        if (p->format == NULL || p->name == NULL) {
            schema->n_children = (int64_t)i + 1;
            return -1;
        }
    }
    return 0;
}

static int s_fill_child(struct s_spares *sp, struct s_col *c, int64_t rows, struct ArrowArray *ch)
{
    struct s_array_private *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    memset(ch, 0, sizeof(*ch));
    ch->length = rows;
    ch->null_count = c->nulls;
    ch->private_data = p;
    ch->release = s_release_child_array;
    ch->buffers = p->buffer_ptrs;
    pthread_mutex_lock(&sp->mu);
    sp->refs++;
    pthread_mutex_unlock(&sp->mu);
    p->spares = sp;
    c->want[0] = c->validity.len;
    c->want[1] = c->values.len;
    c->want[2] = c->offsets.len;
    /* ownership of the buffers moves to the array */
    p->bufs[0] = c->validity.data;
    p->caps[0] = c->validity.cap;
    if (c->spec.type == DLD_T_STRING || c->spec.type == DLD_T_BINARY) {
        p->bufs[1] = c->offsets.data;
        p->caps[1] = c->offsets.cap;
        p->bufs[2] = c->values.data;
        p->caps[2] = c->values.cap;
        ch->n_buffers = 3;
        /* a zero-length data buffer still needs a non-NULL pointer */
        if (p->bufs[2] == NULL)
            p->bufs[2] = malloc(1);
    } else {
        p->bufs[1] = c->values.data;
        p->caps[1] = c->values.cap;
        ch->n_buffers = 2;
        if (p->bufs[1] == NULL)
            p->bufs[1] = malloc(1);
    }
    p->buffer_ptrs[0] = c->nulls ? p->bufs[0] : NULL;
    p->buffer_ptrs[1] = p->bufs[1];
    p->buffer_ptrs[2] = p->bufs[2];
    s_col_reset(sp, c);
    return 0;
}

int dld_batch_finish(struct dld_batch_builder *b, struct ArrowSchema *schema, struct ArrowArray *array)
{
    if (s_fill_schema(b, schema) != 0) {
        schema->release(schema);
        return DLD_ERR_FATAL;
    }
    memset(array, 0, sizeof(*array));
    array->length = b->rows;
    array->n_buffers = 1;
    array->n_children = 0;
    struct s_array_private *sp = calloc(1, sizeof(*sp));
    array->children = calloc(b->ncols ? b->ncols : 1, sizeof(*array->children));
    array->private_data = sp;
    array->release = s_release_struct_array;
    if (sp == NULL || array->children == NULL)
        goto fail;
    array->buffers = sp->buffer_ptrs; /* struct arrays have only a (NULL) validity buffer */
    for (size_t i = 0; i < b->ncols; i++) {
        struct ArrowArray *ch = calloc(1, sizeof(*ch));
        if (ch == NULL || s_fill_child(b->spares, &b->cols[i], b->rows, ch) != 0) {
            free(ch);
            goto fail;
        }
        array->children[i] = ch;
        array->n_children = (int64_t)i + 1;
    }
    b->rows = 0;
    b->filled = 0;
    return DLD_OK;
fail:
    array->release(array);
    schema->release(schema);
    return DLD_ERR_FATAL;
}

void dld_arrow_release(struct ArrowSchema *schema, struct ArrowArray *array)
{
    if (array && array->release)
        array->release(array);
    if (schema && schema->release)
        schema->release(schema);
}
