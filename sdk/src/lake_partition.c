/*
 * partition_by (docs/iceberg.md, "Partitioning"): the lake layer's routing
 * of a batch's rows to one data file per partition value, under
 * data/<field>=<value>/.../ (lake.c owns the load, its files and the
 * publish; this file decides which file a row goes to).
 *
 * Why it is built this way:
 * - A row's partition values are encoded into a byte key (s_part_key) and
 *   looked up in an open-addressing hash table of the load's partitions
 *   (s_part_find); the lookup is skipped while consecutive rows keep the
 *   same key, so a sorted source costs one lookup per run.
 * - Bounded open writers: each open file holds a format writer's buffers
 *   (and, on S3, a multipart part buffer), and a load may meet thousands
 *   of partition values. At most max_open_partitions files are open; a row
 *   of one more partition first closes the least recently used one (LRU,
 *   s_part_write). A closed file is complete and published with the load;
 *   a later row of its partition starts a new file.
 * - A batch is cut into runs of consecutive rows of one partition, grouped
 *   by partition (dld_lake_write_partitioned), so a batch opens each
 *   partition's file at most once: the LRU never closes a file between two
 *   runs of one partition in a batch.
 * - Gather: a partition whose rows are scattered over the batch (bucket(N,
 *   id) over rows in id order: runs of one row) is copied into one batch of
 *   its rows (dld_arrow_take_runs, arrow_take.h) and written with one
 *   writer call instead of one per run.
 * - Folder names are Iceberg's "name=value" made URI-safe and bounded in
 *   length (s_part_segment), so no value can leave data/.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <deltaload/sdk.h>

#include "arrow_take.h"
#include "iceberg_internal.h"
#include "iceberg_partition.h"
#include "lake_internal.h"

#define S_PART_SEGMENT_MAX 128 /* bytes of a partition folder name ("field=value", encoded) */

static uint64_t s_fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static bool s_kbuf_put(struct dld_lake_load *l, size_t *len, const void *p, size_t n)
{
    if (*len + n > l->kcap) {
        size_t cap = l->kcap ? l->kcap : 64;
        while (cap < *len + n)
            cap *= 2;
        unsigned char *k = realloc(l->kbuf, cap);
        if (k == NULL)
            return false;
        l->kbuf = k;
        l->kcap = cap;
    }
    memcpy(l->kbuf + *len, p, n);
    *len += n;
    return true;
}

/* field k is the identity of a string column: its value is the bytes */
static bool s_part_is_string(const struct dld_lake_load *l, int k)
{
    const char *fmt = l->schema.children[l->pcols[k]]->format;
    return l->pfields[k].transform == DLD_ICE_IDENTITY && (fmt[0] == 'u' || fmt[0] == 'U') && fmt[1] == '\0';
}

/* The partition values of one row encoded into l->kbuf (*len bytes): per
 * field a tag (0 null, 1 a number, 2 bytes), then the number or the
 * length and the bytes. `row` counts from the batch's offset. */
static int s_part_key(struct dld_lake_load *l, const struct ArrowArray *batch, int64_t row, size_t *len,
                      struct dld_error *err)
{
    *len = 0;
    for (int k = 0; k < l->npf; k++) {
        int c = l->pcols[k];
        struct dld_ice_pvalue v;
        int rc = dld_ice_partition_value(&l->pfields[k], l->schema.children[c], batch->children[c],
                                         batch->offset + row, &v, err);
        if (rc)
            return rc;
        unsigned char tag = v.is_null ? 0 : s_part_is_string(l, k) ? 2 : 1;
        uint64_t vlen = v.len;
        bool ok = s_kbuf_put(l, len, &tag, 1);
        if (tag == 1)
            ok = ok && s_kbuf_put(l, len, &v.i, sizeof v.i);
        else if (tag == 2)
            ok = ok && s_kbuf_put(l, len, &vlen, sizeof vlen) && (!v.len || s_kbuf_put(l, len, v.bytes, v.len));
        if (!ok)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    return DLD_OK;
}

/* The folder name of a partition value, from Iceberg's "name=value"
 * (dld_ice_partition_path: name and value URL-encoded as Java's writer
 * does, [A-Za-z0-9.*_+%=-] only) with its escapes made URI-safe: '%' is
 * written '~' ('~' itself is always escaped, so this stays unambiguous),
 * '+' (a space) "~20" and '*' "~2A". The file paths in the manifests are
 * then URIs with nothing to decode: a reader that decodes and one that
 * does not find the same file, locally and on S3. A name longer than
 * S_PART_SEGMENT_MAX bytes (long string values) keeps its first bytes
 * (never cutting an escape) and ends with '-' and 16 hex digits of a
 * hash of the whole, so distinct values keep distinct folders. The result
 * has no '/' and is never "." or "..": a value cannot leave data/.
 * malloc'ed; frees seg. */
static char *s_part_segment(char *seg)
{
    if (seg == NULL)
        return NULL;
    size_t n = strlen(seg), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += seg[i] == '+' || seg[i] == '*' ? 2 : 0;
    char *out = malloc(n + extra + 1);
    if (out == NULL) {
        free(seg);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (seg[i] == '+' || seg[i] == '*') {
            memcpy(out + o, seg[i] == '+' ? "~20" : "~2A", 3);
            o += 3;
        } else {
            out[o++] = seg[i] == '%' ? '~' : seg[i];
        }
    }
    out[o] = '\0';
    free(seg);
    if (o > S_PART_SEGMENT_MAX) {
        size_t cut = S_PART_SEGMENT_MAX - 17;
        if (out[cut - 1] == '~')
            cut -= 1;
        else if (out[cut - 2] == '~')
            cut -= 2;
        snprintf(out + cut, 18, "-%016" PRIx64, s_fnv((const unsigned char *)out, o));
    }
    return out;
}

/* A new partition for row `row` (whose key is in l->kbuf): its folder and
 * its values for the manifests. */
static struct dld_lake_part *s_part_new(struct dld_lake_load *l, const struct ArrowArray *batch, int64_t row, size_t klen,
                                 struct dld_error *err)
{
    struct dld_lake_part *p = calloc(1, sizeof(*p));
    cJSON *vals = cJSON_CreateArray();
    struct dld_ice_buf dir = {0};
    bool ok = p && vals && (p->key = malloc(klen ? klen : 1)) != NULL;
    if (ok) {
        memcpy(p->key, l->kbuf, klen);
        p->klen = klen;
    }
    dld_ice_buf_put(&dir, DLD_LAKE_PARTITIONED_DIR, strlen(DLD_LAKE_PARTITIONED_DIR));
    for (int k = 0; ok && k < l->npf; k++) {
        int c = l->pcols[k];
        struct dld_ice_pvalue v;
        if (dld_ice_partition_value(&l->pfields[k], l->schema.children[c], batch->children[c], batch->offset + row,
                                    &v, err) != DLD_OK) {
            ok = false;
            break;
        }
        char *seg = s_part_segment(dld_ice_partition_path(&l->pfields[k], l->schema.children[c], &v));
        ok = seg != NULL;
        if (ok) {
            dld_ice_buf_put(&dir, seg, strlen(seg));
            dld_ice_buf_put(&dir, "/", 1);
        }
        free(seg);
        char num[24];
        cJSON *item = NULL;
        if (v.is_null) {
            item = cJSON_CreateNull();
        } else if (s_part_is_string(l, k)) {
            char *str = malloc(v.len + 1);
            if (str) {
                if (v.len)
                    memcpy(str, v.bytes, v.len);
                str[v.len] = '\0';
                item = cJSON_CreateString(str);
                free(str);
            }
        } else {
            snprintf(num, sizeof num, "%" PRId64, v.i);
            item = cJSON_CreateString(num);
        }
        ok = ok && item && cJSON_AddItemToArray(vals, item);
        if (!ok)
            cJSON_Delete(item);
    }
    dld_ice_buf_put(&dir, "", 1);
    ok = ok && !dir.oom && (p->values = cJSON_PrintUnformatted(vals)) != NULL;
    cJSON_Delete(vals);
    if (ok) {
        p->dir = dir.p;
        return p;
    }
    free(dir.p);
    if (p) {
        free(p->key);
        free(p->values);
        free(p);
    }
    if (err == NULL || !err->code)
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return NULL;
}

/* The partition of the key in l->kbuf (klen bytes), found or added. */
static int s_part_find(struct dld_lake_load *l, const struct ArrowArray *batch, int64_t row, size_t klen,
                       struct dld_lake_part **out, struct dld_error *err)
{
    uint64_t h = s_fnv(l->kbuf, klen);
    if (l->ptab_cap) {
        for (size_t i = h & (size_t)(l->ptab_cap - 1);; i = (i + 1) & (size_t)(l->ptab_cap - 1)) {
            int at = l->ptab[i];
            if (at < 0)
                break;
            if (l->parts[at]->klen == klen && memcmp(l->parts[at]->key, l->kbuf, klen) == 0) {
                *out = l->parts[at];
                return DLD_OK;
            }
        }
    }
    if (2 * (l->nparts + 1) > l->ptab_cap) { /* at most half full */
        int cap = l->ptab_cap ? 2 * l->ptab_cap : 64;
        int *t = malloc((size_t)cap * sizeof(*t));
        struct dld_lake_part **v = realloc(l->parts, (size_t)cap * sizeof(*v));
        if (v)
            l->parts = v;
        if (t == NULL || v == NULL) {
            free(t);
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        for (int i = 0; i < cap; i++)
            t[i] = -1;
        for (int k = 0; k < l->nparts; k++) {
            size_t i = s_fnv(l->parts[k]->key, l->parts[k]->klen) & (size_t)(cap - 1);
            while (t[i] >= 0)
                i = (i + 1) & (size_t)(cap - 1);
            t[i] = k;
        }
        free(l->ptab);
        l->ptab = t;
        l->ptab_cap = cap;
    }
    struct dld_lake_part *p = s_part_new(l, batch, row, klen, err);
    if (p == NULL)
        return err && err->code ? err->code : DLD_ERR_FATAL;
    size_t i = h & (size_t)(l->ptab_cap - 1);
    while (l->ptab[i] >= 0)
        i = (i + 1) & (size_t)(l->ptab_cap - 1);
    l->ptab[i] = l->nparts;
    l->parts[l->nparts++] = p;
    *out = p;
    return DLD_OK;
}

/* Closes p's open file (if any). */
static int s_part_close(struct dld_lake_load *l, struct dld_lake_part *p, struct dld_error *err)
{
    if (p->out == NULL)
        return DLD_OK;
    int rc = dld_lake_close_file(l, p->out, p, err);
    if (rc)
        return rc;
    free(p->out);
    p->out = NULL;
    l->nopen--;
    return DLD_OK;
}

/* Writes a run of rows of one partition, first closing the least recently
 * used partition's file when max_open_partitions files are open. */
static int s_part_write(struct dld_lake_load *l, struct dld_lake_part *p, const struct ArrowArray *batch, int64_t start,
                        int64_t count, struct dld_error *err)
{
    int rc;
    p->used = ++l->tick;
    if (p->out == NULL) {
        if (l->nopen >= l->max_open) {
            struct dld_lake_part *lru = NULL;
            for (int k = 0; k < l->nparts; k++)
                if (l->parts[k]->out && l->parts[k] != p && (!lru || l->parts[k]->used < lru->used))
                    lru = l->parts[k];
            if (lru && (rc = s_part_close(l, lru, err)))
                return rc;
        }
        if ((p->out = calloc(1, sizeof(*p->out))) == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        l->nopen++;
    }
    rc = dld_lake_write_rows(l, p->out, p, batch, start, count, err);
    /* a file that rolled at max_file_size leaves no writer: the next row of
     * the partition opens the next file, which counts against the bound again */
    if (rc == DLD_OK && p->out->writer == NULL) {
        free(p->out);
        p->out = NULL;
        l->nopen--;
    }
    return rc;
}

static int s_run_push(struct dld_lake_load *l, struct dld_lake_part *p, int64_t start, int64_t n, struct dld_error *err)
{
    if (l->nruns == l->runs_cap) {
        int cap = l->runs_cap ? 2 * l->runs_cap : 64;
        struct dld_lake_run *v = realloc(l->runs, (size_t)cap * sizeof(*v));
        if (v == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        l->runs = v;
        l->runs_cap = cap;
    }
    if (p->gen != l->gen) { /* its first run in this batch */
        p->gen = l->gen;
        p->slot = l->nslots++;
        p->nruns = 0;
    }
    p->nruns++;
    l->runs[l->nruns++] = (struct dld_lake_run){p, start, n};
    return DLD_OK;
}

/* Gathering: a partition whose rows are scattered over a batch
 * (bucket(N, id) over rows in id order: runs of one row) is written as one
 * batch of copies of its rows rather than run by run: one writer call
 * instead of one per run. Flat columns only (arrow_take.h: what an Iceberg
 * table holds); anything else is written run by run. */

/* A batch's rows go to their partitions' files as runs of consecutive
 * rows with the same partition value, grouped by partition (in the order
 * the partitions first appear in the batch, each partition's runs in row
 * order): a batch opens each partition's file at most once, so the least
 * recently used file is closed only between partitions, never between two
 * runs of one partition within a batch. */
/* lake_internal.h */
int dld_lake_write_partitioned(struct dld_lake_load *l, const struct ArrowArray *batch, struct dld_error *err)
{
    int rc;
    struct dld_lake_part *cur = NULL;
    int64_t run = 0;
    l->gen++;
    l->nruns = l->nslots = 0;
    for (int64_t r = 0; r < batch->length; r++) {
        size_t klen;
        if ((rc = s_part_key(l, batch, r, &klen, err)))
            return rc;
        if (cur && cur->klen == klen && memcmp(cur->key, l->kbuf, klen) == 0)
            continue; /* the run goes on */
        struct dld_lake_part *p = NULL;
        if ((rc = s_part_find(l, batch, r, klen, &p, err)))
            return rc;
        if (cur && (rc = s_run_push(l, cur, run, r - run, err)))
            return rc;
        cur = p;
        run = r;
    }
    if (cur && (rc = s_run_push(l, cur, run, batch->length - run, err)))
        return rc;
    if (l->nslots == 1) /* the whole batch in one partition */
        return s_part_write(l, cur, batch, 0, batch->length, err);
    /* a stable counting sort of the runs by their partition's slot */
    int *first = calloc((size_t)l->nslots + 1, sizeof(*first));
    struct dld_lake_run *sorted = malloc((size_t)l->nruns * sizeof(*sorted));
    struct dld_arrow_run *rows_of = malloc((size_t)l->nruns * sizeof(*rows_of)); /* sorted's rows, to gather */
    if (first == NULL || sorted == NULL || rows_of == NULL) {
        free(first);
        free(sorted);
        free(rows_of);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    for (int i = 0; i < l->nruns; i++)
        first[l->runs[i].part->slot + 1] = l->runs[i].part->nruns;
    for (int k = 0; k < l->nslots; k++)
        first[k + 1] += first[k];
    for (int i = 0; i < l->nruns; i++) {
        int at = first[l->runs[i].part->slot]++;
        sorted[at] = l->runs[i];
        rows_of[at] = (struct dld_arrow_run){l->runs[i].start, l->runs[i].n};
    }
    /* a partition with one run: written in place; with several: gathered
     * into one batch when the columns allow (dld_arrow_take_runs), else run
     * by run */
    bool gather = dld_arrow_takeable(&l->schema, batch);
    rc = DLD_OK;
    for (int i = 0; i < l->nruns && rc == DLD_OK;) {
        struct dld_lake_part *p = sorted[i].part;
        int n = p->nruns;
        if (n == 1 || !gather) {
            for (int k = 0; k < n && rc == DLD_OK; k++)
                rc = s_part_write(l, p, batch, sorted[i + k].start, sorted[i + k].n, err);
        } else {
            int64_t rows = 0;
            for (int k = 0; k < n; k++)
                rows += sorted[i + k].n;
            struct ArrowArray part;
            if ((rc = dld_arrow_take_runs(&l->schema, batch, &rows_of[i], n, rows, &part, err)) == DLD_OK) {
                rc = s_part_write(l, p, &part, 0, rows, err);
                part.release(&part);
            }
        }
        i += n;
    }
    free(first);
    free(sorted);
    free(rows_of);
    return rc;
}

/* lake_internal.h */
int dld_lake_parts_close(struct dld_lake_load *l, struct dld_error *err)
{
    int rc = DLD_OK;
    for (int k = 0; rc == DLD_OK && k < l->nparts; k++)
        rc = s_part_close(l, l->parts[k], err);
    return rc;
}

/* lake_internal.h */
void dld_lake_parts_free(struct dld_lake_load *l)
{
    for (int k = 0; k < l->nparts; k++) {
        struct dld_lake_part *p = l->parts[k];
        if (p->out) {
            dld_format_writer_destroy(p->out->writer);
            if (p->out->file)
                l->st.file_abandon(l->st.ctx, p->out->file);
            free(p->out->name);
            free(p->out);
        }
        free(p->key);
        free(p->dir);
        free(p->values);
        free(p);
    }
    free(l->parts);
    free(l->runs);
    free(l->ptab);
    free(l->kbuf);
}
