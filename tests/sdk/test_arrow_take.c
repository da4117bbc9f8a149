/* Taking rows of a flat Arrow batch by runs (sdk/src/arrow_take.h): every
 * taken row equals its source row (values, nulls, string bytes) for
 * int32, int64, decimal128, bool, utf8 and large utf8, whatever the
 * batch's and its columns' offsets; columns it cannot take are refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

#include "arrow_take.h"

#define ROWS 10

/* the source: column 0 int32 (null every third row), 1 int64, 2
 * decimal128, 3 bool (null at row 7), 4 utf8 (null at 5, "" at 4) */
static void s_source(struct ArrowSchema *schema, struct ArrowArray *batch)
{
    struct dld_column_spec cols[] = {
        {.name = "i", .type = DLD_T_INT32, .nullable = true},
        {.name = "l", .type = DLD_T_INT64},
        {.name = "d", .type = DLD_T_DECIMAL128, .precision = 20, .scale = 2, .nullable = true},
        {.name = "b", .type = DLD_T_BOOL, .nullable = true},
        {.name = "s", .type = DLD_T_STRING, .nullable = true},
    };
    struct dld_batch_builder *b = dld_batch_builder_new(cols, 5);
    ck_assert_ptr_nonnull(b);
    for (int r = 0; r < ROWS; r++) {
        ck_assert_int_eq(r % 3 == 0 ? dld_batch_append_null(b, 0) : dld_batch_append_int(b, 0, -7 * r), DLD_OK);
        ck_assert_int_eq(dld_batch_append_int(b, 1, (int64_t)r * 1000000000000LL + 1), DLD_OK);
        ck_assert_int_eq(dld_batch_append_decimal(b, 2, (__int128)r * -123456789012345LL), DLD_OK);
        ck_assert_int_eq(r == 7 ? dld_batch_append_null(b, 3) : dld_batch_append_bool(b, 3, r % 2 == 1), DLD_OK);
        char s[32];
        int n = snprintf(s, sizeof s, "row-%d-%.*s", r, r, "xxxxxxxxxx");
        if (r == 4)
            n = 0;
        ck_assert_int_eq(r == 5 ? dld_batch_append_null(b, 4) : dld_batch_append_bytes(b, 4, s, (size_t)n), DLD_OK);
        ck_assert_int_eq(dld_batch_end_row(b), DLD_OK);
    }
    ck_assert_int_eq(dld_batch_finish(b, schema, batch), DLD_OK);
    dld_batch_builder_destroy(b);
}

static bool s_bit(const void *bits, int64_t i)
{
    return (((const uint8_t *)bits)[i >> 3] >> (i & 7)) & 1;
}

/* value index of row r of column c of a struct array (both offsets) */
static int64_t s_at(const struct ArrowArray *a, int64_t c, int64_t r)
{
    return a->offset + a->children[c]->offset + r;
}

static bool s_null(const struct ArrowArray *a, int64_t c, int64_t r)
{
    const struct ArrowArray *col = a->children[c];
    return col->null_count != 0 && col->buffers[0] && !s_bit(col->buffers[0], s_at(a, c, r));
}

/* row `got_row` of column c of got equals row `want_row` of want */
static void s_same(const struct ArrowSchema *schema, int64_t c, const struct ArrowArray *got, int64_t got_row,
                   const struct ArrowArray *want, int64_t want_row)
{
    const char *f = schema->children[c]->format;
    const struct ArrowArray *g = got->children[c], *w = want->children[c];
    int64_t gi = s_at(got, c, got_row), wi = s_at(want, c, want_row);
    ck_assert_msg(s_null(got, c, got_row) == s_null(want, c, want_row), "column %s row %lld: null differs", f,
                  (long long)got_row);
    if (s_null(want, c, want_row))
        return;
    if (strcmp(f, "b") == 0) {
        ck_assert_int_eq(s_bit(g->buffers[1], gi), s_bit(w->buffers[1], wi));
    } else if (strcmp(f, "u") == 0 || strcmp(f, "U") == 0) {
        int64_t glo, ghi, wlo, whi;
        if (f[0] == 'u') {
            const int32_t *go = g->buffers[1], *wo = w->buffers[1];
            glo = go[gi], ghi = go[gi + 1], wlo = wo[wi], whi = wo[wi + 1];
        } else {
            const int64_t *go = g->buffers[1], *wo = w->buffers[1];
            glo = go[gi], ghi = go[gi + 1], wlo = wo[wi], whi = wo[wi + 1];
        }
        ck_assert_int_eq(ghi - glo, whi - wlo);
        ck_assert(memcmp((const char *)g->buffers[2] + glo, (const char *)w->buffers[2] + wlo, (size_t)(ghi - glo)) ==
                  0);
    } else {
        size_t width = f[0] == 'i' ? 4 : f[0] == 'l' ? 8 : 16; /* "d:..." is 128-bit */
        ck_assert(memcmp((const uint8_t *)g->buffers[1] + (size_t)gi * width,
                         (const uint8_t *)w->buffers[1] + (size_t)wi * width, width) == 0);
    }
}

/* takes runs of `from` and checks the result row by row against `src`
 * (from's row r is src's row r + shift) */
static void s_check_take(const struct ArrowSchema *schema, const struct ArrowArray *from, const struct ArrowArray *src,
                         int64_t shift)
{
    /* rows out of order, a run of one, a run at the batch's end */
    const struct dld_arrow_run runs[] = {{7 - shift, 2}, {1 - shift, 1}, {3 - shift, 3}, {9 - shift, 1}};
    const int64_t want[] = {7, 8, 1, 3, 4, 5, 9};
    const int64_t n = (int64_t)(sizeof want / sizeof want[0]);
    ck_assert(dld_arrow_takeable(schema, from));
    struct ArrowArray out;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_arrow_take_runs(schema, from, runs, 4, n, &out, &err), DLD_OK);
    ck_assert_int_eq(out.length, n);
    ck_assert_int_eq(out.offset, 0);
    ck_assert_int_eq(out.n_children, schema->n_children);
    ck_assert_ptr_nonnull(out.release);
    for (int64_t c = 0; c < schema->n_children; c++) {
        int64_t nulls = 0;
        for (int64_t r = 0; r < n; r++) {
            s_same(schema, c, &out, r, src, want[r]);
            nulls += s_null(src, c, want[r]);
        }
        ck_assert_int_eq(out.children[c]->length, n);
        ck_assert_int_eq(out.children[c]->null_count, nulls);
    }
    out.release(&out);
    ck_assert_ptr_null(out.release);
}

START_TEST(test_take_runs)
{
    struct ArrowSchema schema;
    struct ArrowArray batch;
    s_source(&schema, &batch);
    /* the batch as built, then the same rows seen through a struct offset */
    s_check_take(&schema, &batch, &batch, 0);
    struct ArrowArray view = batch;
    view.offset = 1;
    view.length = ROWS - 1;
    view.release = NULL;
    s_check_take(&schema, &view, &batch, 1);
    /* and through offsets on the columns instead */
    struct ArrowArray kids[5], *kidp[5];
    for (int c = 0; c < 5; c++) {
        kids[c] = *batch.children[c];
        kids[c].offset += 1;
        kids[c].length -= 1;
        kids[c].release = NULL;
        kidp[c] = &kids[c];
    }
    struct ArrowArray shifted = view;
    shifted.offset = 0;
    shifted.children = kidp;
    s_check_take(&schema, &shifted, &batch, 1);
    dld_arrow_release(&schema, &batch);
}
END_TEST

/* large utf8 (64-bit offsets), built by hand: "a", "bb", null, "", "cccc" */
START_TEST(test_take_large_utf8)
{
    static const int64_t offs[] = {0, 1, 3, 3, 3, 7};
    static const char data[] = "abbcccc";
    static const uint8_t valid[] = {0x1b}; /* rows 0, 1, 3, 4 */
    const void *cbufs[] = {valid, offs, data}, *sbufs[] = {NULL};
    struct ArrowArray col = {.length = 5, .null_count = 1, .n_buffers = 3, .buffers = cbufs}, *colp = &col;
    struct ArrowArray batch = {.length = 5, .n_buffers = 1, .n_children = 1, .buffers = sbufs, .children = &colp};
    struct ArrowSchema cs = {.format = "U", .name = "s", .flags = ARROW_FLAG_NULLABLE}, *csp = &cs;
    struct ArrowSchema schema = {.format = "+s", .n_children = 1, .children = &csp};
    const struct dld_arrow_run runs[] = {{4, 1}, {0, 3}};
    const int64_t want[] = {4, 0, 1, 2};
    ck_assert(dld_arrow_takeable(&schema, &batch));
    struct ArrowArray out;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_arrow_take_runs(&schema, &batch, runs, 2, 4, &out, &err), DLD_OK);
    ck_assert_int_eq(out.children[0]->null_count, 1);
    const int64_t *o = out.children[0]->buffers[1];
    ck_assert_int_eq(o[4], 4 + 1 + 2); /* "cccc" "a" "bb" and the null */
    for (int64_t r = 0; r < 4; r++)
        s_same(&schema, 0, &out, r, &batch, want[r]);
    out.release(&out);
}
END_TEST

/* what it cannot copy: a nested column, a dictionary, null struct rows */
START_TEST(test_not_takeable)
{
    struct ArrowSchema schema;
    struct ArrowArray batch;
    s_source(&schema, &batch);
    ck_assert(dld_arrow_takeable(&schema, &batch));
    const char *format = schema.children[1]->format;
    schema.children[1]->format = "+l";
    ck_assert(!dld_arrow_takeable(&schema, &batch));
    schema.children[1]->format = format;
    struct ArrowSchema dict = {.format = "u"};
    schema.children[4]->dictionary = &dict;
    ck_assert(!dld_arrow_takeable(&schema, &batch));
    schema.children[4]->dictionary = NULL;
    static const uint8_t valid[] = {0xfe, 0x03};
    const void *bufs[] = {valid};
    struct ArrowArray nulls = batch;
    nulls.null_count = 1;
    nulls.buffers = bufs;
    ck_assert(!dld_arrow_takeable(&schema, &nulls));
    dld_arrow_release(&schema, &batch);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arrow_take");
    TCase *tc = tcase_create("take");
    tcase_add_test(tc, test_take_runs);
    tcase_add_test(tc, test_take_large_utf8);
    tcase_add_test(tc, test_not_takeable);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
