/*
 * merge_key upserts for table_format iceberg (iceberg_delete.h): the
 * equality-delete file of a load's keys, and position deletes for the
 * versions of a key the load itself supersedes.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <deltaload/format.h>
#include <deltaload/iceberg.h>
#include <deltaload/sdk.h>

#include "iceberg_delete.h"
#include "iceberg_internal.h"

/* the reserved field ids of a position-delete file (Iceberg spec) */
#define S_ID_FILE_PATH 2147483546
#define S_ID_POS 2147483545
#define S_POS_BATCH 65536
#define S_CHUNK 32 /* rows whose hash table slots are prefetched together */

void dld_ice_merge_key_free(char **keys, int n)
{
    for (int i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

int dld_ice_merge_key(const char *item_json, char ***keys, int *n, struct dld_error *err)
{
    *keys = NULL;
    *n = 0;
    cJSON *item = item_json ? cJSON_Parse(item_json) : NULL;
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(item, "merge_key");
    int rc = DLD_OK;
    if (mk == NULL || cJSON_IsNull(mk)) {
        cJSON_Delete(item);
        return DLD_OK;
    }
    int cnt = cJSON_IsString(mk) ? 1 : cJSON_IsArray(mk) ? cJSON_GetArraySize(mk) : 0;
    char **v = cnt > 0 ? calloc((size_t)cnt, sizeof(*v)) : NULL;
    if (cnt <= 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "merge_key must be a column name or a non-empty array of column names");
    } else if (v == NULL) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else if (cJSON_IsString(mk)) {
        if ((v[0] = strdup(mk->valuestring)) == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else {
        int i = 0;
        const cJSON *k;
        cJSON_ArrayForEach(k, mk)
        {
            if (rc == DLD_OK && (!cJSON_IsString(k) || !*k->valuestring))
                rc = dld_error_set(err, DLD_ERR_CONFIG, "merge_key must be a column name or a non-empty array of column "
                                                        "names");
            else if (rc == DLD_OK && (v[i] = strdup(k->valuestring)) == NULL)
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            i++;
        }
    }
    cJSON_Delete(item);
    if (rc) {
        dld_ice_merge_key_free(v, cnt);
        return rc;
    }
    *keys = v;
    *n = cnt;
    return DLD_OK;
}

/* ---- the key map ------------------------------------------------------------------------ */

struct s_ent {
    uint64_t hash;
    size_t koff, foff;
    uint32_t klen, flen;
    int32_t file;  /* -1: empty slot */
    int64_t pos;
};

struct s_pos {
    int32_t file;
    int64_t pos;
};

static void s_add_be(struct dld_ice_buf *b, uint64_t v)
{
    unsigned char o[8];
    for (int i = 0; i < 8; i++)
        o[i] = (unsigned char)(v >> (56 - 8 * i));
    dld_ice_buf_put(b, o, 8);
}

/* How a key or filter column's values are encoded (s_encode), decided once
 * per load from its Arrow format. */
enum s_kind { K_NONE, K_BOOL, K_I8, K_U8, K_I16, K_U16, K_I32, K_U32, K_I64, K_U64, K_F32, K_F64, K_DEC, K_STR32, K_STR64 };

static enum s_kind s_kind_of(const struct ArrowSchema *s)
{
    const char *f = s->format ? s->format : "";
    static const struct {
        const char *f;
        enum s_kind k;
    } map[] = {{"b", K_BOOL}, {"c", K_I8},    {"C", K_U8},    {"s", K_I16},   {"S", K_U16},   {"i", K_I32},
               {"tdD", K_I32}, {"tts", K_I32}, {"ttm", K_I32}, {"I", K_U32},   {"l", K_I64},   {"tdm", K_I64},
               {"ttu", K_I64}, {"ttn", K_I64}, {"L", K_U64},   {"f", K_F32},   {"g", K_F64},   {"u", K_STR32},
               {"z", K_STR32}, {"U", K_STR64}, {"Z", K_STR64}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(f, map[i].f))
            return map[i].k;
    if (!strncmp(f, "ts", 2))
        return K_I64;
    if (!strncmp(f, "d:", 2))
        return K_DEC;
    return K_NONE;
}

struct dld_ice_upsert {
    const struct dld_lake_storage *st;
    const char *dir, *uid;
    int64_t load_id;
    const char *const *wopts;
    const struct ArrowSchema *schema;
    int nkeys, fcol;
    int *kcol;
    enum s_kind *kkind, fkind;
    int32_t *kids;
    /* key → the version kept so far */
    struct s_ent *tab;
    size_t cap, count;
    struct dld_ice_buf arena, tmp, chunk;
    /* rows superseded inside the load */
    struct s_pos *dead;
    size_t ndead, dcap;
    /* the equality-delete file */
    bool equality;
    struct ArrowSchema kschema;
    struct ArrowSchema **kptrs;
    struct ArrowArray **karr;
    char **eqmeta;
    void *file;
    struct dld_sink sink; /* the writer borrows it: it must not move (u is on the heap) */
    struct dld_format_writer *w;
    char *names[2];
    struct dld_iceberg_delete del[2];
    int ndel;
};

/* an empty table of cap slots */
static struct s_ent *s_table(size_t cap)
{
    struct s_ent *t = malloc(cap * sizeof(*t));
    for (size_t i = 0; t && i < cap; i++)
        t[i] = (struct s_ent){.file = -1};
    return t;
}

static void s_borrowed_release(struct ArrowSchema *s)
{
    s->release = NULL; /* the children belong to the load's schema */
}

static const char *s_name(const struct ArrowSchema *c)
{
    return c && c->name ? c->name : "";
}

int dld_ice_upsert_new(const struct dld_lake_storage *st, const char *dir, int64_t load_id, const char *uid,
                       const struct ArrowSchema *schema, const int32_t *ids, char **keys, int nkeys,
                       const char *filter_column, int equality, const char *const *wopts, struct dld_ice_upsert **out,
                       struct dld_error *err)
{
    *out = NULL;
    struct dld_ice_upsert *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    u->st = st;
    u->dir = dir;
    u->uid = uid;
    u->load_id = load_id;
    u->wopts = wopts;
    u->schema = schema;
    u->nkeys = nkeys;
    u->fcol = -1;
    u->equality = equality != 0;
    u->kcol = calloc((size_t)nkeys, sizeof(*u->kcol));
    u->kkind = calloc((size_t)nkeys, sizeof(*u->kkind));
    u->kids = calloc((size_t)nkeys, sizeof(*u->kids));
    u->kptrs = calloc((size_t)nkeys, sizeof(*u->kptrs));
    u->karr = calloc((size_t)nkeys, sizeof(*u->karr));
    u->cap = 1024;
    u->tab = s_table(u->cap);
    if (!u->kcol || !u->kkind || !u->kids || !u->kptrs || !u->karr || !u->tab) {
        dld_ice_upsert_free(u);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    for (int k = 0; k < nkeys; k++) {
        int64_t found = -1;
        for (int64_t i = 0; i < schema->n_children && found < 0; i++)
            if (!strcmp(s_name(schema->children[i]), keys[k]))
                found = i;
        if (found < 0) {
            dld_ice_upsert_free(u);
            return dld_error_set(err, DLD_ERR_CONFIG, "merge_key column '%s' is not a column of the load", keys[k]);
        }
        u->kcol[k] = (int)found;
        u->kids[k] = ids[found];
        u->kptrs[k] = schema->children[found];
        if ((u->kkind[k] = s_kind_of(u->kptrs[k])) == K_NONE) {
            dld_error_set(err, DLD_ERR_UNSUPPORTED, "merge_key column '%s' (Arrow type '%s') cannot be a key", keys[k],
                          u->kptrs[k]->format ? u->kptrs[k]->format : "");
            dld_ice_upsert_free(u);
            return DLD_ERR_UNSUPPORTED;
        }
    }
    for (int64_t i = 0; filter_column && i < schema->n_children; i++)
        if (!strcmp(s_name(schema->children[i]), filter_column))
            u->fcol = (int)i;
    /* a filter column of a type without an order here: the last version read wins */
    if (u->fcol >= 0 && (u->fkind = s_kind_of(schema->children[u->fcol])) == K_NONE)
        u->fcol = -1;
    u->kschema = (struct ArrowSchema){.format = "+s", .name = "", .n_children = nkeys, .children = u->kptrs,
                                      .release = s_borrowed_release};
    char idlist[256] = "";
    for (int k = 0; k < nkeys; k++) {
        size_t l = strlen(idlist);
        snprintf(idlist + l, sizeof idlist - l, "%s%d", k ? "," : "", (int)u->kids[k]);
    }
    const char *kv[] = {"delete-type", "equality", "delete-field-ids", idlist, NULL, NULL};
    u->eqmeta = calloc(5, sizeof(char *));
    for (int i = 0; u->eqmeta && i < 4; i++)
        if ((u->eqmeta[i] = strdup(kv[i])) == NULL) {
            dld_ice_upsert_free(u);
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
    if (u->eqmeta == NULL) {
        dld_ice_upsert_free(u);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    *out = u;
    return DLD_OK;
}

/* Appends an encoding of one value whose byte order is the value order
 * (memcmp, shorter first on a common prefix): big-endian with the sign bit
 * flipped for signed integers and decimals, the IEEE trick for floats, the
 * bytes themselves for strings and binary. */
static void s_encode(struct dld_ice_buf *b, enum s_kind k, const struct ArrowArray *a, int64_t row)
{
    int64_t i = a->offset + row;
    const void *d = a->n_buffers > 1 ? a->buffers[1] : NULL;
    const uint64_t flip = UINT64_C(1) << 63;
    switch (k) {
    case K_BOOL: {
        unsigned char v = (((const uint8_t *)d)[i >> 3] >> (i & 7)) & 1;
        dld_ice_buf_put(b, &v, 1);
        break;
    }
    case K_I8: s_add_be(b, (uint64_t)(int64_t)((const int8_t *)d)[i] ^ flip); break;
    case K_U8: s_add_be(b, ((const uint8_t *)d)[i]); break;
    case K_I16: s_add_be(b, (uint64_t)(int64_t)((const int16_t *)d)[i] ^ flip); break;
    case K_U16: s_add_be(b, ((const uint16_t *)d)[i]); break;
    case K_I32: s_add_be(b, (uint64_t)(int64_t)((const int32_t *)d)[i] ^ flip); break;
    case K_U32: s_add_be(b, ((const uint32_t *)d)[i]); break;
    case K_I64: s_add_be(b, (uint64_t)((const int64_t *)d)[i] ^ flip); break;
    case K_U64: s_add_be(b, ((const uint64_t *)d)[i]); break;
    case K_F32:
    case K_F64: {
        double v = k == K_F32 ? (double)((const float *)d)[i] : ((const double *)d)[i];
        uint64_t bits;
        memcpy(&bits, &v, 8);
        s_add_be(b, (bits & flip) ? ~bits : bits | flip);
        break;
    }
    case K_DEC: {
        uint64_t lo, hi;
        memcpy(&lo, (const char *)d + 16 * i, 8);
        memcpy(&hi, (const char *)d + 16 * i + 8, 8);
        s_add_be(b, hi ^ flip);
        s_add_be(b, lo);
        break;
    }
    case K_STR32: {
        const int32_t *off = d;
        dld_ice_buf_put(b, (const char *)a->buffers[2] + off[i], (size_t)(off[i + 1] - off[i]));
        break;
    }
    case K_STR64: {
        const int64_t *off = d;
        dld_ice_buf_put(b, (const char *)a->buffers[2] + off[i], (size_t)(off[i + 1] - off[i]));
        break;
    }
    case K_NONE:
        break;
    }
}

static uint64_t s_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    /* FNV's low bits vary little between keys that differ in their last
     * bytes (sequential ids): mix them (splitmix64's finalizer), or linear
     * probing on h & (cap - 1) walks long runs */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

static int s_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

static bool s_dead(struct dld_ice_upsert *u, int32_t file, int64_t pos)
{
    if (u->ndead == u->dcap) {
        size_t cap = u->dcap ? u->dcap * 2 : 64;
        struct s_pos *p = realloc(u->dead, cap * sizeof(*p));
        if (p == NULL)
            return false;
        u->dead = p;
        u->dcap = cap;
    }
    u->dead[u->ndead++] = (struct s_pos){file, pos};
    return true;
}

static bool s_grow(struct dld_ice_upsert *u)
{
    size_t cap = u->cap * 2;
    struct s_ent *t = s_table(cap);
    if (t == NULL)
        return false;
    for (size_t i = 0; i < u->cap; i++) {
        if (u->tab[i].file < 0)
            continue;
        size_t j = u->tab[i].hash & (cap - 1);
        while (t[j].file >= 0)
            j = (j + 1) & (cap - 1);
        t[j] = u->tab[i];
    }
    free(u->tab);
    u->tab = t;
    u->cap = cap;
    return true;
}

/* the key and filter value of one row into u->tmp: [key][filter] */
static int s_row(struct dld_ice_upsert *u, const struct ArrowArray *batch, int64_t r, size_t *klen,
                 struct dld_error *err)
{
    u->tmp.n = 0;
    for (int k = 0; k < u->nkeys; k++) {
        const struct ArrowArray *c = batch->children[u->kcol[k]];
        if (dld_arrow_is_null(c, r))
            return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                 "load %" PRId64 ": merge_key column '%s' is null in a row: upsert keys cannot be null",
                                 u->load_id, s_name(u->kptrs[k]));
        size_t at = u->tmp.n;
        uint32_t len = 0;
        dld_ice_buf_put(&u->tmp, &len, 4);
        s_encode(&u->tmp, u->kkind[k], c, r);
        len = (uint32_t)(u->tmp.n - at - 4); /* length-prefixed: ("ab","c") differs from ("a","bc") */
        if (!u->tmp.oom)
            memcpy(u->tmp.p + at, &len, 4);
    }
    *klen = u->tmp.n;
    if (u->fcol >= 0) {
        const struct ArrowArray *c = batch->children[u->fcol];
        unsigned char present = dld_arrow_is_null(c, r) ? 0 : 1; /* null sorts first */
        dld_ice_buf_put(&u->tmp, &present, 1);
        if (present)
            s_encode(&u->tmp, u->fkind, c, r);
    }
    return u->tmp.oom ? dld_error_set(err, DLD_ERR_FATAL, "out of memory") : DLD_OK;
}

static int s_eq_open(struct dld_ice_upsert *u, struct dld_error *err)
{
    if (asprintf(&u->names[0], "LOAD%08" PRId64 "-%s-d0001.parquet", u->load_id, u->uid) < 0) {
        u->names[0] = NULL;
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    memset(&u->sink, 0, sizeof(u->sink));
    int rc = u->st->file_open(u->st->ctx, u->dir, u->names[0], "application/vnd.apache.parquet", &u->file, &u->sink,
                              err);
    if (rc)
        return rc;
    u->w = dld_format_writer_new("parquet", u->wopts, &u->kschema, &u->sink, (const char *const *)u->eqmeta, err);
    if (u->w == NULL) {
        u->st->file_abandon(u->st->ctx, u->file);
        u->file = NULL;
        return err && err->code ? err->code : DLD_ERR_FATAL;
    }
    return DLD_OK;
}

/* One row's key: kept as the version to keep, or recorded as superseded
 * (or the version it supersedes is). */
static int s_place(struct dld_ice_upsert *u, const char *key, size_t klen, const char *filt, size_t flen, uint64_t h,
                   int file_index, int64_t pos, struct dld_error *err)
{
    size_t i = h & (u->cap - 1);
    while (u->tab[i].file >= 0 &&
           !(u->tab[i].hash == h && u->tab[i].klen == klen && !memcmp(u->arena.p + u->tab[i].koff, key, klen)))
        i = (i + 1) & (u->cap - 1);
    struct s_ent *e = &u->tab[i];
    if (e->file < 0) {
        e->hash = h;
        e->koff = u->arena.n;
        e->klen = (uint32_t)klen;
        dld_ice_buf_put(&u->arena, key, klen);
        e->foff = u->arena.n;
        e->flen = (uint32_t)flen;
        dld_ice_buf_put(&u->arena, filt, flen);
        e->file = file_index;
        e->pos = pos;
        /* at most 70 % full: 5 M keys fit in 8 M slots */
        if (++u->count * 10 > u->cap * 7 && !s_grow(u))
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else if (s_cmp(filt, flen, u->arena.p + e->foff, e->flen) >= 0) {
        /* a newer version (or an equal filter value read later): it wins */
        if (!s_dead(u, e->file, e->pos))
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        e->foff = u->arena.n;
        e->flen = (uint32_t)flen;
        dld_ice_buf_put(&u->arena, filt, flen);
        e->file = file_index;
        e->pos = pos;
    } else if (!s_dead(u, file_index, pos)) {
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    return u->arena.oom ? dld_error_set(err, DLD_ERR_FATAL, "out of memory") : DLD_OK;
}

int dld_ice_upsert_rows(struct dld_ice_upsert *u, const struct ArrowArray *batch, int file_index, int64_t first_row,
                        struct dld_error *err)
{
    int rc;
    /* Rows go by chunks: the keys of a chunk are encoded and hashed first and
     * their slots prefetched, so that the cache misses of a table of
     * millions of keys overlap instead of stalling row after row. */
    struct {
        size_t off, klen, flen;
        uint64_t h;
    } rows[S_CHUNK];
    for (int64_t j0 = 0; j0 < batch->length; j0 += S_CHUNK) {
        int n = batch->length - j0 < S_CHUNK ? (int)(batch->length - j0) : S_CHUNK;
        u->chunk.n = 0;
        for (int t = 0; t < n; t++) {
            size_t klen = 0;
            if ((rc = s_row(u, batch, batch->offset + j0 + t, &klen, err)))
                return rc;
            rows[t].off = u->chunk.n;
            rows[t].klen = klen;
            rows[t].flen = u->tmp.n - klen;
            dld_ice_buf_put(&u->chunk, u->tmp.p, u->tmp.n);
            rows[t].h = s_hash(u->tmp.p, klen);
            __builtin_prefetch(&u->tab[rows[t].h & (u->cap - 1)]);
        }
        if (u->chunk.oom)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        for (int t = 0; t < n; t++) {
            const char *key = u->chunk.p + rows[t].off, *filt = key + rows[t].klen;
            size_t klen = rows[t].klen, flen = rows[t].flen;
            uint64_t h = rows[t].h;
            int64_t j = j0 + t;
            if ((rc = s_place(u, key, klen, filt, flen, h, file_index, first_row + j, err)))
                return rc;
        }
    }
    if (!u->equality || batch->length == 0)
        return DLD_OK;
    if (u->w == NULL && (rc = s_eq_open(u, err)))
        return rc;
    /* the key columns of the batch: a view sharing the batch's buffers */
    for (int k = 0; k < u->nkeys; k++)
        u->karr[k] = batch->children[u->kcol[k]];
    struct ArrowArray view = *batch;
    view.n_children = u->nkeys;
    view.children = u->karr;
    view.release = NULL;
    view.private_data = NULL;
    return dld_format_writer_write(u->w, &view, err);
}

static int s_pos_cmp(const void *a, const void *b)
{
    const struct s_pos *x = a, *y = b;
    return x->file != y->file ? (x->file < y->file ? -1 : 1) : x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0;
}

/* The position-delete file: (file_path, pos) of every superseded row,
 * sorted by file_path then pos as the spec asks (the data file names sort
 * like their indexes). */
static int s_write_positions(struct dld_ice_upsert *u, const char *location, const struct dld_lake_file *data,
                             int ndata, struct dld_error *err)
{
    qsort(u->dead, u->ndead, sizeof(*u->dead), s_pos_cmp);
    if (asprintf(&u->names[1], "LOAD%08" PRId64 "-%s-d0002.parquet", u->load_id, u->uid) < 0) {
        u->names[1] = NULL;
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    const struct dld_column_spec cols[] = {{.name = "file_path", .type = DLD_T_STRING},
                                           {.name = "pos", .type = DLD_T_INT64}};
    struct dld_batch_builder *bb = dld_batch_builder_new(cols, 2);
    if (bb == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    const int32_t ids[] = {S_ID_FILE_PATH, S_ID_POS};
    const char *const meta[] = {"delete-type", "position", NULL, NULL};
    struct ArrowSchema schema = {0}, with_ids = {0};
    struct ArrowArray array = {0};
    struct dld_sink sink = {0};
    void *file = NULL;
    struct dld_format_writer *w = NULL;
    int rc = u->st->file_open(u->st->ctx, u->dir, u->names[1], "application/vnd.apache.parquet", &file, &sink, err);
    char *path = NULL;
    for (size_t i = 0; rc == DLD_OK && i < u->ndead; i++) {
        int32_t f = u->dead[i].file;
        if (f < 0 || f >= ndata) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "load %" PRId64 ": a superseded row of data file %d of %d",
                               u->load_id, (int)f + 1, ndata);
            break;
        }
        free(path);
        if (asprintf(&path, "%s/%s", location, data[f].name) < 0) {
            path = NULL;
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        if (dld_batch_append_bytes(bb, 0, path, strlen(path)) || dld_batch_append_int(bb, 1, u->dead[i].pos) ||
            dld_batch_end_row(bb)) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        if (dld_batch_rows(bb) < S_POS_BATCH && i + 1 < u->ndead)
            continue;
        if (dld_batch_finish(bb, &schema, &array)) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        if (w == NULL) {
            if ((rc = dld_iceberg_arrow_with_ids(&schema, ids, &with_ids, err)) == DLD_OK &&
                (w = dld_format_writer_new("parquet", u->wopts, &with_ids, &sink, meta, err)) ==
                    NULL)
                rc = err && err->code ? err->code : DLD_ERR_FATAL;
        }
        if (rc == DLD_OK)
            rc = dld_format_writer_write(w, &array, err);
        dld_arrow_release(&schema, &array);
    }
    free(path);
    if (rc == DLD_OK && w)
        rc = dld_format_writer_finish(w, err);
    int64_t rows = w ? dld_format_writer_rows(w) : 0, bytes = 0;
    dld_format_writer_destroy(w);
    if (with_ids.release)
        with_ids.release(&with_ids);
    dld_batch_builder_destroy(bb);
    if (file) {
        if (rc)
            u->st->file_abandon(u->st->ctx, file);
        else
            rc = u->st->file_close(u->st->ctx, file, &bytes, err);
    }
    if (rc == DLD_OK)
        u->del[u->ndel++] = (struct dld_iceberg_delete){.name = u->names[1], .rows = rows, .bytes = bytes, .content = 1};
    return rc;
}

int dld_ice_upsert_finish(struct dld_ice_upsert *u, const char *location, const struct dld_lake_file *data, int ndata,
                          struct dld_error *err)
{
    int rc = DLD_OK;
    if (u->w) {
        rc = dld_format_writer_finish(u->w, err);
        int64_t rows = dld_format_writer_rows(u->w), bytes = 0;
        dld_format_writer_destroy(u->w);
        u->w = NULL;
        void *file = u->file;
        u->file = NULL;
        if (rc)
            u->st->file_abandon(u->st->ctx, file);
        else
            rc = u->st->file_close(u->st->ctx, file, &bytes, err);
        if (rc)
            return rc;
        u->del[u->ndel++] = (struct dld_iceberg_delete){.name = u->names[0], .rows = rows, .bytes = bytes,
                                                        .content = 2, .equality_ids = u->kids,
                                                        .n_equality_ids = u->nkeys};
    }
    if (u->ndead > 0)
        rc = s_write_positions(u, location, data, ndata, err);
    return rc;
}

const struct dld_iceberg_delete *dld_ice_upsert_deletes(const struct dld_ice_upsert *u, int *n)
{
    *n = u ? u->ndel : 0;
    return u ? u->del : NULL;
}

void dld_ice_upsert_free(struct dld_ice_upsert *u)
{
    if (u == NULL)
        return;
    dld_format_writer_destroy(u->w);
    if (u->file)
        u->st->file_abandon(u->st->ctx, u->file);
    free(u->kcol);
    free(u->kkind);
    free(u->kids);
    free(u->kptrs);
    free(u->karr);
    free(u->tab);
    free(u->arena.p);
    free(u->tmp.p);
    free(u->chunk.p);
    free(u->dead);
    for (int i = 0; u->eqmeta && u->eqmeta[i]; i++)
        free(u->eqmeta[i]);
    free(u->eqmeta);
    free(u->names[0]);
    free(u->names[1]);
    free(u);
}
