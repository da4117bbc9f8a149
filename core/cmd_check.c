/*
 * `deltaload plugins check FILE.so [--options JSON] [--json]`: the
 * conformance kit. Loads the file the way `run` does (probe in a child
 * process, ABI and option-table checks, the host's contract wrappers) and
 * runs the contract tests of its kind against it, in a scratch directory:
 *
 *   target     publish; publish repeated after a lost response; discard of
 *              a published load refused; discard after a partial write;
 *              discard idempotent; publish after a discard refused; an
 *              unknown load is not published; manifest_list (1.1)
 *   state      items round trip; lease conflicts (another owner, the same
 *              owner); fencing tokens on run_record/watermark_set; lease
 *              expiry and takeover with a larger token; run_last; run_commit
 *              moves the watermark; runs_unfinished in load order, only
 *              unfinished; runs_history newest first
 *   scheduler  fire times strictly after the instant asked, monotonic
 *   source     (sqlite only: the kit builds a scratch table) windows with
 *              ties on the bound, the first window inclusive, an empty
 *              fixed window (one empty batch), between capped at endvalue
 *              and nothing past it, lag refused on a non-time column,
 *              every full-mode operator
 *
 * Options: the JSON object given (validated against the plugin's table);
 * a declared option named `path` that is not given is set to a file in the
 * scratch directory. Prints a PASS/FAIL/SKIP table; exits 0 when nothing
 * failed, 1 when a test failed, 3 when the plugin is refused at load.
 */
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <deltaload/lake.h>
#include <sqlite3.h>

#include "cli.h"
#include "config.h"
#include "contract.h"
#include "host.h"
#include "loader.h"

static const char s_usage[] =
    "usage: deltaload plugins check FILE.so [--options JSON] [--json]\n"
    "           [--scratch-sqlite | --table NAME --filter-column COL [--schema S]]   (sources)\n"
    "Runs the plugin contract tests of the file's kind against it (the conformance kit) in a scratch\n"
    "directory and prints a PASS/FAIL table. Exit 0: every test passed; 1: a test failed; 3: the\n"
    "plugin was refused at load. A declared `path` option not given is set to a scratch file.\n"
    "--scratch-sqlite: the source reads SQLite files through `path`; its tests run on a scratch table\n"
    "(automatic for the sqlite source). --table/--filter-column: any source, on a table of yours whose\n"
    "filter column is a 64-bit integer (the kit reads it whole first).\n"
    "See docs/plugin-authoring.md (\"The conformance kit\").\n";

struct k_ctx {
    const struct dld_loaded *p;
    char **kv;
    char scratch[PATH_MAX];
    int pass, fail, skip;
    cJSON *results;
    bool json;
    bool scratch_sqlite; /* --scratch-sqlite */
    const char *table, *column, *schema; /* --table, --filter-column, --schema */
};

__attribute__((format(printf, 4, 5))) static void k_res(struct k_ctx *k, const char *test, int status,
                                                         const char *fmt, ...)
{
    static const char *names[] = {"PASS", "FAIL", "SKIP"};
    char detail[1200] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    status == 0 ? k->pass++ : status == 1 ? k->fail++ : k->skip++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "test", test);
    cJSON_AddStringToObject(o, "result", names[status]);
    cJSON_AddStringToObject(o, "detail", detail);
    cJSON_AddItemToArray(k->results, o);
}

/* FAIL with the reason and leave the test function */
#define REQUIRE(k, test, cond, ...)           \
    do {                                      \
        if (!(cond)) {                        \
            k_res((k), (test), 1, __VA_ARGS__); \
            goto out;                         \
        }                                     \
    } while (0)

static const struct dld_host *H(void) { return dld_core_host(); }

/* ---- target ---------------------------------------------------------------------- */
static struct dld_table s_table(const char *name)
{
    return (struct dld_table){.struct_size = sizeof(struct dld_table),
                              .target_table_name = name,
                              .source_schema = "main",
                              .source_table = name,
                              .output_prefix = "kit",
                              .active = 1,
                              .item_json = "{}"};
}

static int s_batch(int64_t first, int n, struct ArrowSchema *schema, struct ArrowArray *batch)
{
    struct dld_column_spec cols[] = {{.name = "id", .type = DLD_T_INT64, .nullable = false},
                                     {.name = "val", .type = DLD_T_STRING, .nullable = true}};
    struct dld_batch_builder *b = dld_batch_builder_new(cols, 2);
    if (b == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof v, "v%lld", (long long)(first + i));
        dld_batch_append_int(b, 0, first + i);
        dld_batch_append_bytes(b, 1, v, (size_t)len);
        dld_batch_end_row(b);
    }
    int rc = dld_batch_finish(b, schema, batch);
    dld_batch_builder_destroy(b);
    return rc;
}

struct k_load {
    struct dld_load load;
    char uid[17];
};

static void s_new_load(struct k_load *l, const struct dld_table *t, int64_t id)
{
    struct dld_error e;
    dld_error_init(&e);
    if (dld_lake_new_uid(l->uid, &e) != DLD_OK)
        snprintf(l->uid, sizeof l->uid, "%016llx", (unsigned long long)(dld_core_now_ms() * 1000 + id));
    l->load = (struct dld_load){.struct_size = sizeof(struct dld_load),
                                .table = t,
                                .load_id = id,
                                .mode = DLD_MODE_DELTA,
                                .low = "0",
                                .low_inclusive = 1,
                                .high = "100",
                                .started_ms = dld_core_now_ms(),
                                .load_uid = l->uid,
                                .lease_token = 1};
}

/* begin + n batches (+ finish when finish) on a new handle */
static int s_write(const struct dld_target_vtable *vt, void *inst, const struct dld_load *load, int batches, bool finish,
                   void **handle, struct dld_error *err)
{
    int rc = vt->load_begin(inst, load, handle, err);
    for (int i = 0; rc == DLD_OK && i < batches; i++) {
        struct ArrowSchema s = {0};
        struct ArrowArray a = {0};
        if (s_batch(1 + 10 * i, 10, &s, &a) != 0)
            return dld_error_set(err, DLD_ERR_FATAL, "the kit could not build a batch");
        rc = vt->load_write(*handle, &s, &a, err);
        dld_arrow_release(&s, &a);
    }
    if (rc == DLD_OK && finish) {
        struct dld_load_stats st = {.struct_size = sizeof st};
        rc = vt->load_finish(*handle, &st, err);
        if (rc == DLD_OK && (st.files < 1 || (st.rows != 0 && st.rows != 10 * batches)))
            rc = dld_error_set(err, DLD_ERR_FATAL, "load_finish reported %lld files, %lld rows for %d rows written",
                               (long long)st.files, (long long)st.rows, 10 * batches);
    }
    return rc;
}

static int s_published(const struct dld_target_vtable *vt, void *inst, const struct dld_load *load, int *pub,
                       struct dld_error *err)
{
    *pub = -1;
    return vt->load_is_published(inst, load, pub, err);
}

static void k_target(struct k_ctx *k)
{
    const struct dld_target_vtable *vt = &k->p->vt.target;
    void *inst = NULL, *inst2 = NULL, *h = NULL;
    struct dld_error e;
    dld_error_init(&e);
    struct dld_table t = s_table("kit_orders");
    struct k_load l1, l2, l3, l9;
    s_new_load(&l1, &t, 1);
    s_new_load(&l2, &t, 2);
    s_new_load(&l3, &t, 3);
    s_new_load(&l9, &t, 9);
    int rc = vt->open(H(), (const char *const *)k->kv, &inst, &e), pub;
    REQUIRE(k, "open", rc == DLD_OK, "%s", e.message);
    rc = vt->open(H(), (const char *const *)k->kv, &inst2, &e);
    REQUIRE(k, "open", rc == DLD_OK, "a second instance: %s", e.message);
    k_res(k, "open", 0, "two instances on the same options");

    rc = s_write(vt, inst, &l1.load, 3, true, &h, &e);
    if (rc == DLD_OK)
        rc = vt->load_publish(h, &e);
    if (rc == DLD_OK)
        rc = s_published(vt, inst2, &l1.load, &pub, &e);
    if (rc == DLD_OK && pub != 1)
        rc = dld_error_set(&e, DLD_ERR_FATAL, "load_is_published from another instance says %d after publish", pub);
    k_res(k, "write, finish, publish; seen published by another instance", rc != DLD_OK, "%s", rc ? e.message : "");
    if (h && rc == DLD_OK) {
        dld_error_init(&e);
        rc = vt->load_publish(h, &e);
        k_res(k, "publish repeated after a lost response succeeds", rc != DLD_OK,
              rc ? "the second load_publish of the same load returned %s: %s" : "", dld_code_name(rc), e.message);
    } else {
        k_res(k, "publish repeated after a lost response succeeds", 2, "publish failed");
    }
    if (h)
        vt->load_free(h);
    h = NULL;
    dld_error_init(&e);
    rc = vt->load_discard(inst2, &l1.load, &e);
    int rc2 = s_published(vt, inst2, &l1.load, &pub, &e);
    k_res(k, "discard of a published load refused, nothing removed", !(rc == DLD_ERR_CONFLICT && rc2 == DLD_OK && pub == 1),
          "load_discard returned %s (want DLD_ERR_CONFLICT); published afterwards: %d", dld_code_name(rc), pub);

    /* a partial write: begin, one batch, no finish (the process died) */
    dld_error_init(&e);
    rc = s_write(vt, inst, &l2.load, 1, false, &h, &e);
    if (h)
        vt->load_free(h);
    h = NULL;
    if (rc == DLD_OK)
        rc = vt->load_discard(inst2, &l2.load, &e);
    if (rc == DLD_OK)
        rc = s_published(vt, inst2, &l2.load, &pub, &e);
    if (rc == DLD_OK && pub != 0)
        rc = dld_error_set(&e, DLD_ERR_FATAL, "load_is_published says %d after the discard", pub);
    k_res(k, "discard after a partial write", rc != DLD_OK, "%s", rc ? e.message : "");
    dld_error_init(&e);
    rc = vt->load_discard(inst, &l2.load, &e);
    k_res(k, "discard repeated (idempotent)", rc != DLD_OK, "%s", rc ? e.message : "");

    /* a stalled holder: staged, discarded by another process, then publishes */
    dld_error_init(&e);
    rc = s_write(vt, inst, &l3.load, 2, true, &h, &e);
    if (rc == DLD_OK)
        rc = vt->load_discard(inst2, &l3.load, &e);
    if (rc == DLD_OK) {
        rc = vt->load_publish(h, &e);
        rc2 = s_published(vt, inst2, &l3.load, &pub, &e);
        k_res(k, "publish after a discard refused", !(rc == DLD_ERR_CONFLICT && rc2 == DLD_OK && pub == 0),
              "load_publish returned %s (want DLD_ERR_CONFLICT); published afterwards: %d", dld_code_name(rc), pub);
    } else {
        k_res(k, "publish after a discard refused", 1, "setting up: %s", e.message);
    }
    if (h)
        vt->load_free(h);
    h = NULL;
    dld_error_init(&e);
    rc = s_published(vt, inst, &l9.load, &pub, &e);
    k_res(k, "a load never written is not published", !(rc == DLD_OK && pub == 0), "returned %s, published %d: %s",
          dld_code_name(rc), pub, e.message);
    if (vt->manifest_list) {
        char *json = NULL;
        dld_error_init(&e);
        rc = vt->manifest_list(inst, &t, &json, &e);
        cJSON *arr = rc == DLD_OK ? cJSON_Parse(json) : NULL;
        H()->free(json);
        int n = 0, published = 0, sorted = 1;
        double last = -1;
        for (const cJSON *m = cJSON_IsArray(arr) ? arr->child : NULL; m; m = m->next, n++) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "load_id");
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "status"));
            sorted &= cJSON_IsNumber(id) && id->valuedouble >= last;
            last = cJSON_IsNumber(id) ? id->valuedouble : last;
            published += st && !strcmp(st, "published");
        }
        k_res(k, "manifest_list: every manifest, sorted by load id", !(rc == DLD_OK && cJSON_IsArray(arr) && n >= 3 &&
                                                                        published == 1 && sorted),
              "%s: %d manifests, %d published (want >= 3 and 1), sorted %d", rc ? e.message : "", n, published, sorted);
        cJSON_Delete(arr);
    } else {
        k_res(k, "manifest_list: every manifest, sorted by load id", 2, "not implemented (optional, ABI 1.1)");
    }
out:
    if (inst)
        vt->close(inst);
    if (inst2)
        vt->close(inst2);
}

/* ---- state ------------------------------------------------------------------------ */
struct k_runs {
    int64_t ids[64];
    uint32_t status[64];
    int n;
};
static int s_collect(void *ctx, const struct dld_run *r)
{
    struct k_runs *rs = ctx;
    if (rs->n < 64) {
        rs->ids[rs->n] = r->load_id;
        rs->status[rs->n++] = r->status;
    }
    return 0;
}

static struct dld_run s_run(const char *table, int64_t id, uint32_t status, const char *high)
{
    return (struct dld_run){.struct_size = sizeof(struct dld_run),
                            .table = (char *)table,
                            .load_id = id,
                            .mode = DLD_MODE_DELTA,
                            .status = status,
                            .low = (char *)"0",
                            .low_inclusive = 1,
                            .high = (char *)high,
                            .started_ms = dld_core_now_ms() + id,
                            .ended_ms = dld_core_now_ms() + id,
                            .owner = (char *)"kit:1",
                            .info_json = (char *)"{\"load_uid\":\"0123456789abcdef\"}"};
}

static void k_state(struct k_ctx *k)
{
    const struct dld_state_vtable *vt = &k->p->vt.state;
    void *inst = NULL;
    struct dld_error e;
    dld_error_init(&e);
    int rc = vt->open(H(), (const char *const *)k->kv, &inst, &e);
    REQUIRE(k, "open", rc == DLD_OK, "%s", e.message);
    if (vt->setup) {
        char *report = NULL;
        rc = vt->setup(inst, 1, &report, &e);
        H()->free(report);
        REQUIRE(k, "setup", rc == DLD_OK, "%s", e.message);
    }
    k_res(k, "open", 0, NULL);
    const char *T = "kit_t", *T2 = "kit_t2";
    char *json = NULL;
    rc = vt->item_put(inst, T, "{\"targetTableName\":\"kit_t\",\"sourceTable\":\"t\",\"kitAttribute\":\"kept\"}", &e);
    if (rc == DLD_OK)
        rc = vt->item_get(inst, T, &json, &e);
    bool kept = rc == DLD_OK && json && strstr(json, "kitAttribute") && strstr(json, "kept");
    H()->free(json);
    json = NULL;
    if (rc == DLD_OK)
        rc = vt->item_list(inst, &json, &e);
    bool listed = rc == DLD_OK && json && strstr(json, "kit_t");
    H()->free(json);
    json = NULL;
    int rc_del = rc == DLD_OK ? vt->item_delete(inst, T, &e) : rc;
    int rc_gone = rc_del == DLD_OK ? vt->item_get(inst, T, &json, &e) : DLD_OK;
    H()->free(json);
    json = NULL;
    k_res(k, "items: put, get (attributes kept), list, delete", !(rc == DLD_OK && kept && listed && rc_del == DLD_OK &&
                                                                 rc_gone == DLD_ERR_NOT_FOUND),
          "rc %s, attributes kept %d, listed %d, delete %s, get after delete %s (want DLD_ERR_NOT_FOUND) %s",
          dld_code_name(rc), kept, listed, dld_code_name(rc_del), dld_code_name(rc_gone), e.message);

    dld_error_init(&e);
    int64_t t1 = 0, tx = 0;
    rc = vt->lease_acquire(inst, T, "kit:A", 60000, &t1, &e);
    REQUIRE(k, "leases: another owner and the same owner refused while held", rc == DLD_OK, "%s", e.message);
    int rc_b = vt->lease_acquire(inst, T, "kit:B", 60000, &tx, &e);
    int rc_a = vt->lease_acquire(inst, T, "kit:A", 60000, &tx, &e);
    int rc_r = vt->lease_renew(inst, T, t1, 60000, &e);
    k_res(k, "leases: another owner and the same owner refused while held",
          !(rc_b == DLD_ERR_CONFLICT && rc_a == DLD_ERR_CONFLICT && rc_r == DLD_OK),
          "another owner: %s, the same owner: %s (want DLD_ERR_CONFLICT twice); renew: %s", dld_code_name(rc_b),
          dld_code_name(rc_a), dld_code_name(rc_r));

    dld_error_init(&e);
    struct dld_run r1 = s_run(T, 1, DLD_RUN_PLANNED, "10");
    rc = vt->run_record(inst, &r1, t1, &e);
    int rc_wrong = vt->run_record(inst, &r1, t1 + 1000, &e);
    int rc_wm = vt->watermark_set(inst, T, "5", t1 + 1000, &e);
    int rc_cm = vt->run_commit(inst, &r1, 1, t1 + 1000, &e);
    k_res(k, "fencing: a token that is not the lease's is refused",
          !(rc == DLD_OK && rc_wrong == DLD_ERR_CONFLICT && rc_wm == DLD_ERR_CONFLICT && rc_cm == DLD_ERR_CONFLICT),
          "run_record with the token: %s; with another token: run_record %s, watermark_set %s, run_commit %s (want "
          "DLD_ERR_CONFLICT)",
          dld_code_name(rc), dld_code_name(rc_wrong), dld_code_name(rc_wm), dld_code_name(rc_cm));

    dld_error_init(&e);
    struct dld_watermark wm = {.struct_size = sizeof wm};
    rc = vt->run_commit(inst, &r1, 1, t1, &e);
    if (rc == DLD_OK)
        rc = vt->watermark_get(inst, T, &wm, &e);
    k_res(k, "run_commit moves the watermark to the run's high mark",
          !(rc == DLD_OK && wm.value && !strcmp(wm.value, "10")), "%s watermark %s", rc ? e.message : "",
          wm.value ? wm.value : "(none)");
    dld_watermark_clean_up(H(), &wm);

    dld_error_init(&e);
    struct dld_run r2 = s_run(T, 2, DLD_RUN_STAGED, "20"), r3 = s_run(T, 3, DLD_RUN_PLANNED, "30");
    rc = vt->run_record(inst, &r3, t1, &e);
    if (rc == DLD_OK)
        rc = vt->run_record(inst, &r2, t1, &e);
    struct dld_run last = {.struct_size = sizeof last};
    if (rc == DLD_OK)
        rc = vt->run_last(inst, T, &last, &e);
    k_res(k, "run_last: the run with the highest load id", !(rc == DLD_OK && last.load_id == 3),
          "%s load %lld (want 3)", rc ? e.message : "", (long long)last.load_id);
    dld_run_clean_up(H(), &last);
    if (vt->runs_unfinished) {
        struct k_runs rs = {0};
        dld_error_init(&e);
        rc = vt->runs_unfinished(inst, T, s_collect, &rs, &e);
        k_res(k, "runs_unfinished: the unfinished runs, in load order",
              !(rc == DLD_OK && rs.n == 2 && rs.ids[0] == 2 && rs.ids[1] == 3), "%s %d runs: %lld, %lld (want 2, 3)",
              rc ? e.message : "", rs.n, (long long)(rs.n > 0 ? rs.ids[0] : 0), (long long)(rs.n > 1 ? rs.ids[1] : 0));
    } else {
        k_res(k, "runs_unfinished: the unfinished runs, in load order", 2, "not implemented (optional, ABI 1.1)");
    }
    if (vt->runs_history) {
        struct k_runs rs = {0};
        dld_error_init(&e);
        rc = vt->runs_history(inst, T, 0, s_collect, &rs, &e);
        k_res(k, "runs_history: newest first",
              !(rc == DLD_OK && rs.n == 3 && rs.ids[0] == 3 && rs.ids[1] == 2 && rs.ids[2] == 1),
              "%s %d runs (want 3, 2, 1)", rc ? e.message : "", rs.n);
    } else {
        k_res(k, "runs_history: newest first", 2, "not implemented (optional, ABI 1.1)");
    }
    dld_error_init(&e);
    rc = vt->lease_release(inst, T, t1, &e);
    int64_t t3 = 0;
    if (rc == DLD_OK)
        rc = vt->lease_acquire(inst, T, "kit:B", 60000, &t3, &e);
    k_res(k, "lease released: another owner takes it with a larger token", !(rc == DLD_OK && t3 > t1),
          "%s token %lld after %lld", rc ? e.message : "", (long long)t3, (long long)t1);

    /* expiry: a short lease, then another owner */
    dld_error_init(&e);
    int64_t a = 0, b = 0;
    rc = vt->lease_acquire(inst, T2, "kit:A", 300, &a, &e);
    if (rc == DLD_OK)
        usleep(700 * 1000);
    if (rc == DLD_OK)
        rc = vt->lease_acquire(inst, T2, "kit:B", 60000, &b, &e);
    int rc_old = vt->lease_renew(inst, T2, a, 60000, &e);
    struct dld_run ro = s_run(T2, 1, DLD_RUN_PLANNED, "1");
    int rc_oldrec = vt->run_record(inst, &ro, a, &e);
    k_res(k, "lease expiry: taken over with a larger token; the old token is fenced",
          !(rc == DLD_OK && b > a && rc_old == DLD_ERR_CONFLICT && rc_oldrec == DLD_ERR_CONFLICT),
          "takeover %s, token %lld after %lld; renew with the old token %s, run_record with it %s (want "
          "DLD_ERR_CONFLICT)",
          dld_code_name(rc), (long long)b, (long long)a, dld_code_name(rc_old), dld_code_name(rc_oldrec));
out:
    if (inst)
        vt->close(inst);
}

/* ---- scheduler -------------------------------------------------------------------- */
static void k_scheduler(struct k_ctx *k)
{
    const struct dld_scheduler_vtable *vt = &k->p->vt.scheduler;
    void *inst = NULL;
    struct dld_error e;
    dld_error_init(&e);
    int rc = vt->open(H(), (const char *const *)k->kv, &inst, &e);
    REQUIRE(k, "open", rc == DLD_OK, "%s (give the schedule with --options)", e.message);
    k_res(k, "open", 0, NULL);
    int64_t base = dld_core_now_ms(), prev_next = INT64_MIN, prev_after = 0;
    int asked = 0, done = 0;
    char bad[1400] = "";
    /* instants: now, exact minute and hour boundaries, 1 ms around them, odd offsets */
    int64_t offs[] = {0, 1, 59999, 60000, 60001, 3599999, 3600000, 3600001, 86399999, 86400000, 7 * 86400000LL + 12345};
    int64_t minute = base - base % 60000;
    for (size_t i = 0; i < sizeof offs / sizeof offs[0] && !bad[0]; i++) {
        int64_t after = minute + offs[i], next = 0;
        dld_error_init(&e);
        rc = vt->next_fire(inst, after, &next, &e);
        asked++;
        if (rc == DLD_DONE) {
            done++;
            continue;
        }
        if (rc != DLD_OK)
            snprintf(bad, sizeof bad, "next_fire(%lld): %s", (long long)after, e.message);
        else if (next <= after)
            snprintf(bad, sizeof bad, "next_fire(%lld) = %lld, not after it", (long long)after, (long long)next);
        else if (prev_next != INT64_MIN && after >= prev_after && next < prev_next)
            snprintf(bad, sizeof bad, "not monotonic: next_fire(%lld) = %lld before next_fire(%lld) = %lld",
                     (long long)after, (long long)next, (long long)prev_after, (long long)prev_next);
        prev_after = after;
        prev_next = next;
    }
    k_res(k, "fire times strictly after the instant asked, monotonic", bad[0] != 0, "%s", bad[0] ? bad : "");
    /* following the fire times: each one after the previous */
    int64_t at = base;
    bad[0] = '\0';
    for (int i = 0; i < 20 && !bad[0]; i++) {
        int64_t next = 0;
        dld_error_init(&e);
        rc = vt->next_fire(inst, at, &next, &e);
        if (rc == DLD_DONE)
            break;
        if (rc != DLD_OK)
            snprintf(bad, sizeof bad, "next_fire(%lld): %s", (long long)at, e.message);
        else if (next <= at)
            snprintf(bad, sizeof bad, "next_fire(%lld) = %lld", (long long)at, (long long)next);
        at = next;
    }
    k_res(k, "20 fire times in a row, each after the previous", bad[0] != 0, "%s", bad);
    if (vt->describe) {
        char *text = NULL;
        dld_error_init(&e);
        rc = vt->describe(inst, &text, &e);
        k_res(k, "describe: one line of text", !(rc == DLD_OK && text && text[0] && !strchr(text, '\n')), "%s %s",
              rc ? e.message : "", text ? text : "(none)");
        H()->free(text);
    }
out:
    if (inst)
        vt->close(inst);
}

/* ---- source (sqlite: the kit builds a scratch table) ------------------------------- */
struct k_window {
    int rc;
    char *high;
    int64_t rows, batches;
    char why[1100];
};

static void s_extract(const struct dld_source_vtable *vt, void *inst, const struct dld_table *t, uint32_t mode,
                      const char *low, int inclusive, const char *high, struct k_window *w)
{
    memset(w, 0, sizeof *w);
    struct dld_error e;
    dld_error_init(&e);
    struct dld_extract_request req = {.struct_size = sizeof req, .table = t, .mode = mode, .low = low,
                                      .low_inclusive = inclusive, .high = high, .batch_rows = 7};
    struct dld_extract_info info = {.struct_size = sizeof info};
    void *cur = NULL;
    w->rc = vt->extract_begin(inst, &req, &info, &cur, &e);
    if (w->rc == DLD_OK) {
        for (;;) {
            struct ArrowSchema s = {0};
            struct ArrowArray a = {0};
            int rc = vt->extract_next(cur, &s, &a, &e);
            if (rc == DLD_DONE)
                break;
            if (rc != DLD_OK) {
                w->rc = rc;
                dld_arrow_release(&s, &a);
                break;
            }
            w->rows += a.length;
            w->batches++;
            dld_arrow_release(&s, &a);
        }
    }
    if (cur)
        vt->extract_end(cur);
    w->high = info.high ? strdup(info.high) : NULL;
    dld_extract_info_clean_up(H(), &info);
    snprintf(w->why, sizeof w->why, "%s", e.message);
}

static int64_t s_count(sqlite3 *db, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM kit_t WHERE %s", where);
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void k_source(struct k_ctx *k)
{
    const struct dld_source_vtable *vt = &k->p->vt.source;
    if (strcmp(k->p->desc.name, "sqlite") != 0 && !k->scratch_sqlite) {
        k_res(k, "source contract tests", 2,
              "the kit builds its scratch table only in a SQLite file (the sqlite source, or a source given "
              "--scratch-sqlite that reads SQLite files named by its `path` option); for any other source name a "
              "table of yours with --table NAME --filter-column COL (a 64-bit integer column)");
        return;
    }
    const char *path = dld_opt_get((const char *const *)k->kv, "path");
    sqlite3 *db = NULL;
    if (path == NULL || sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS kit_t(id INTEGER PRIMARY KEY, seq INTEGER, ts TEXT, val TEXT);"
                     "DELETE FROM kit_t;"
                     "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) "
                     "INSERT INTO kit_t SELECT i, i / 2, strftime('%Y-%m-%d %H:%M:%S', 1700000000 + i * 60, "
                     "'unixepoch'), CASE WHEN i % 9 = 0 THEN NULL ELSE 'v' || i END FROM c;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        k_res(k, "scratch table", 1, "could not build it in %s: %s", path ? path : "(no path option)",
              db ? sqlite3_errmsg(db) : "");
        sqlite3_close(db);
        return;
    }
    void *inst = NULL;
    struct dld_error e;
    dld_error_init(&e);
    int rc = vt->open(H(), (const char *const *)k->kv, &inst, &e);
    REQUIRE(k, "open", rc == DLD_OK, "%s", e.message);
    k_res(k, "open", 0, NULL);
    struct dld_table t = s_table("kit_t");
    t.filter_column = "seq";
    t.filter_operator = "gte";
    t.start_value = "3";
    struct k_window w;
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "3", 1, NULL, &w);
    k_res(k, "first window [startvalue, max] inclusive, high mark captured",
          !(w.rc == DLD_OK && w.high && !strcmp(w.high, "50") && w.rows == s_count(db, "seq >= 3")),
          "rc %s, high %s (want 50), %lld rows (want %lld) %s", dld_code_name(w.rc), w.high ? w.high : "NULL",
          (long long)w.rows, (long long)s_count(db, "seq >= 3"), w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "10", 0, "20", &w);
    k_res(k, "window (10, 20] with ties on both bounds", !(w.rc == DLD_OK && w.rows == s_count(db, "seq > 10 AND seq <= 20")),
          "rc %s, %lld rows (want %lld) %s", dld_code_name(w.rc), (long long)w.rows,
          (long long)s_count(db, "seq > 10 AND seq <= 20"), w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "50", 0, NULL, &w);
    k_res(k, "nothing above the watermark: no high mark", !(w.rc == DLD_OK && w.high == NULL && w.rows == 0),
          "rc %s, high %s (want NULL), %lld rows %s", dld_code_name(w.rc), w.high ? w.high : "NULL", (long long)w.rows,
          w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "60", 0, "70", &w);
    k_res(k, "an empty fixed window: one empty batch", !(w.rc == DLD_OK && w.rows == 0 && w.batches == 1),
          "rc %s, %lld batches (want 1), %lld rows %s", dld_code_name(w.rc), (long long)w.batches, (long long)w.rows,
          w.why);
    free(w.high);
    t.filter_operator = "between";
    t.end_value = "25";
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "3", 1, NULL, &w);
    k_res(k, "between: the high mark capped at endvalue",
          !(w.rc == DLD_OK && w.high && !strcmp(w.high, "25") && w.rows == s_count(db, "seq BETWEEN 3 AND 25")),
          "rc %s, high %s (want 25), %lld rows (want %lld) %s", dld_code_name(w.rc), w.high ? w.high : "NULL",
          (long long)w.rows, (long long)s_count(db, "seq BETWEEN 3 AND 25"), w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "25", 0, NULL, &w);
    k_res(k, "between: nothing past endvalue", !(w.rc == DLD_OK && w.high == NULL && w.rows == 0),
          "rc %s, high %s (want NULL) %s", dld_code_name(w.rc), w.high ? w.high : "NULL", w.why);
    free(w.high);
    t.filter_operator = "gte";
    t.end_value = NULL;
    t.lag_seconds = 60;
    s_extract(vt, inst, &t, DLD_MODE_DELTA, "3", 1, NULL, &w);
    k_res(k, "lag refused on a column that is not a time", w.rc != DLD_ERR_CONFIG, "rc %s (want DLD_ERR_CONFIG) %s",
          dld_code_name(w.rc), w.why);
    free(w.high);
    t.lag_seconds = 0;
    static const struct {
        const char *op, *start, *end, *where;
    } full[] = {
        {"eq", "10", NULL, "seq = 10"},
        {"noteq", "10", NULL, "seq <> 10"},
        {"lte", "10", NULL, "seq <= 10"},
        {"ste", "10", NULL, "seq <= 10"},
        {"null", NULL, NULL, "val IS NULL"},
        {"notnull", NULL, NULL, "val IS NOT NULL"},
        {"notbetween", "10", "20", "seq NOT BETWEEN 10 AND 20"},
        {NULL, NULL, NULL, "1"},
    };
    char bad[1200] = "";
    for (size_t i = 0; i < sizeof full / sizeof full[0] && !bad[0]; i++) {
        t.filter_column = full[i].op == NULL ? NULL : !strcmp(full[i].op, "null") || !strcmp(full[i].op, "notnull") ? "val" : "seq";
        t.filter_operator = full[i].op;
        t.start_value = full[i].start;
        t.end_value = full[i].end;
        s_extract(vt, inst, &t, DLD_MODE_FULL, NULL, 0, NULL, &w);
        int64_t want = s_count(db, full[i].where);
        if (w.rc != DLD_OK || w.rows != want)
            snprintf(bad, sizeof bad, "%s: rc %s, %lld rows (want %lld) %.900s", full[i].op ? full[i].op : "no filter",
                     dld_code_name(w.rc), (long long)w.rows, (long long)want, w.why);
        free(w.high);
    }
    k_res(k, "full mode: every operator and no filter column", bad[0] != 0, "%s", bad);
out:
    if (inst)
        vt->close(inst);
    sqlite3_close(db);
}


/* Any source, on a table of the author's (--table, --filter-column with an
 * integer column): the kit learns the values from a first full read. */
static int s_int_values(const struct ArrowSchema *s, const struct ArrowArray *a, const char *col, int64_t **vals,
                        int64_t *n, int64_t *cap)
{
    for (int64_t c = 0; c < s->n_children; c++) {
        if (!s->children[c]->name || strcmp(s->children[c]->name, col))
            continue;
        if (strcmp(s->children[c]->format, "l"))
            return -1; /* not int64 */
        const struct ArrowArray *ch = a->children[c];
        const int64_t *v = ch->buffers[1];
        const uint8_t *valid = ch->null_count ? ch->buffers[0] : NULL;
        for (int64_t i = 0; i < ch->length; i++) {
            int64_t k = i + ch->offset;
            if (valid && !(valid[k / 8] & (1u << (k % 8))))
                continue;
            if (*n == *cap) {
                int64_t nc = *cap ? *cap * 2 : 1024;
                int64_t *g = realloc(*vals, (size_t)nc * sizeof(int64_t));
                if (g == NULL)
                    return -2;
                *vals = g;
                *cap = nc;
            }
            (*vals)[(*n)++] = v[i + ch->offset];
        }
        return 0;
    }
    return -1;
}

static void k_source_generic(struct k_ctx *k, const char *table, const char *col, const char *schema)
{
    const struct dld_source_vtable *vt = &k->p->vt.source;
    void *inst = NULL;
    struct dld_error e;
    dld_error_init(&e);
    int64_t *vals = NULL, nv = 0, capv = 0;
    int rc = vt->open(H(), (const char *const *)k->kv, &inst, &e);
    REQUIRE(k, "open", rc == DLD_OK, "%s", e.message);
    k_res(k, "open", 0, NULL);
    struct dld_table t = s_table(table);
    t.source_schema = schema ? schema : "";
    t.filter_column = col;
    t.filter_operator = "gte";
    /* every value of the column, from a full read */
    struct dld_extract_request req = {.struct_size = sizeof req, .table = &t, .mode = DLD_MODE_FULL, .batch_rows = 1000};
    struct dld_extract_info info = {.struct_size = sizeof info};
    void *cur = NULL;
    t.filter_column = NULL;
    t.filter_operator = NULL;
    rc = vt->extract_begin(inst, &req, &info, &cur, &e);
    int vrc = 0;
    while (rc == DLD_OK) {
        struct ArrowSchema sch = {0};
        struct ArrowArray arr = {0};
        rc = vt->extract_next(cur, &sch, &arr, &e);
        if (rc == DLD_OK && vrc == 0)
            vrc = s_int_values(&sch, &arr, col, &vals, &nv, &capv);
        dld_arrow_release(&sch, &arr);
    }
    if (cur)
        vt->extract_end(cur);
    dld_extract_info_clean_up(H(), &info);
    t.filter_column = col;
    t.filter_operator = "gte";
    REQUIRE(k, "full read of the table", rc == DLD_DONE && vrc == 0 && nv > 0, "%s%s%s",
            rc != DLD_DONE ? e.message : "", vrc ? "the filter column is not a 64-bit integer column of the batches" : "",
            rc == DLD_DONE && vrc == 0 && nv == 0 ? "the table has no rows with a filter value" : "");
    int64_t max = vals[0], min = vals[0];
    for (int64_t i = 0; i < nv; i++)
        max = vals[i] > max ? vals[i] : max, min = vals[i] < min ? vals[i] : min;
    int64_t mid = min + (max - min) / 2, n_le_mid = 0, n_eq_mid = 0, n_gt_min = 0;
    for (int64_t i = 0; i < nv; i++)
        n_le_mid += vals[i] <= mid, n_eq_mid += vals[i] == mid, n_gt_min += vals[i] > min;
    k_res(k, "full read of the table", 0, NULL);
    char smin[32], smax[32], smid[32];
    snprintf(smin, sizeof smin, "%lld", (long long)min);
    snprintf(smax, sizeof smax, "%lld", (long long)max);
    snprintf(smid, sizeof smid, "%lld", (long long)mid);
    struct k_window w;
    s_extract(vt, inst, &t, DLD_MODE_DELTA, NULL, 0, NULL, &w);
    k_res(k, "first window: the high mark is the maximum", !(w.rc == DLD_OK && w.high && !strcmp(w.high, smax) && w.rows == nv),
          "rc %s, high %s (want %s), %lld rows (want %lld) %s", dld_code_name(w.rc), w.high ? w.high : "NULL", smax,
          (long long)w.rows, (long long)nv, w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, smin, 0, NULL, &w);
    k_res(k, "window above the minimum: ties on the bound left out", !(w.rc == DLD_OK && w.rows == n_gt_min),
          "rc %s, %lld rows (want %lld) %s", dld_code_name(w.rc), (long long)w.rows, (long long)n_gt_min, w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, smax, 0, NULL, &w);
    k_res(k, "nothing above the watermark: no high mark", !(w.rc == DLD_OK && w.high == NULL && w.rows == 0),
          "rc %s, high %s (want NULL), %lld rows %s", dld_code_name(w.rc), w.high ? w.high : "NULL", (long long)w.rows,
          w.why);
    free(w.high);
    s_extract(vt, inst, &t, DLD_MODE_DELTA, smax, 0, smax, &w);
    k_res(k, "an empty fixed window: one empty batch", !(w.rc == DLD_OK && w.rows == 0 && w.batches == 1),
          "rc %s, %lld batches (want 1), %lld rows %s", dld_code_name(w.rc), (long long)w.batches, (long long)w.rows,
          w.why);
    free(w.high);
    t.filter_operator = "between";
    t.end_value = smid;
    s_extract(vt, inst, &t, DLD_MODE_DELTA, NULL, 0, NULL, &w);
    k_res(k, "between: the high mark capped at endvalue",
          !(w.rc == DLD_OK && w.high && dld_contract_compare(w.high, smid) <= 0 && w.rows == n_le_mid),
          "rc %s, high %s (endvalue %s), %lld rows (want %lld) %s", dld_code_name(w.rc), w.high ? w.high : "NULL", smid,
          (long long)w.rows, (long long)n_le_mid, w.why);
    free(w.high);
    t.filter_operator = "gte";
    t.end_value = NULL;
    t.lag_seconds = 60;
    s_extract(vt, inst, &t, DLD_MODE_DELTA, NULL, 0, NULL, &w);
    k_res(k, "lag refused on a column that is not a time", w.rc != DLD_ERR_CONFIG, "rc %s (want DLD_ERR_CONFIG) %s",
          dld_code_name(w.rc), w.why);
    free(w.high);
    t.lag_seconds = 0;
    t.filter_operator = "eq";
    t.start_value = smid;
    s_extract(vt, inst, &t, DLD_MODE_FULL, NULL, 0, NULL, &w);
    int64_t want_eq = n_eq_mid;
    k_res(k, "full mode eq", !(w.rc == DLD_OK && w.rows == want_eq), "rc %s, %lld rows (want %lld) %s",
          dld_code_name(w.rc), (long long)w.rows, (long long)want_eq, w.why);
    free(w.high);
    t.filter_operator = "lte";
    s_extract(vt, inst, &t, DLD_MODE_FULL, NULL, 0, NULL, &w);
    k_res(k, "full mode lte", !(w.rc == DLD_OK && w.rows == n_le_mid), "rc %s, %lld rows (want %lld) %s",
          dld_code_name(w.rc), (long long)w.rows, (long long)n_le_mid, w.why);
    free(w.high);
out:
    free(vals);
    if (inst)
        vt->close(inst);
}

/* ---- the command ------------------------------------------------------------------ */
static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void s_rmtree(const char *dir)
{
    if (strstr(dir, "/dld-check-") == NULL) /* only the kit's own scratch folder */
        return;
    if (nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "deltaload: could not remove %s\n", dir);
}

int dld_cmd_plugins_check(struct dld_cli *cli)
{
    /* argv: plugins check FILE [--options JSON] */
    if (dld_cli_help_requested(cli->argc, cli->argv, s_usage))
        return DLD_EXIT_OK;
    const char *file = NULL, *opts_text = "{}";
    bool scratch_sqlite = false;
    const char *table = NULL, *column = NULL, *schema = NULL;
    for (int i = 2; i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], "--scratch-sqlite"))
            scratch_sqlite = true;
        else if (!strcmp(cli->argv[i], "--table") && i + 1 < cli->argc)
            table = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--filter-column") && i + 1 < cli->argc)
            column = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--schema") && i + 1 < cli->argc)
            schema = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--options") && i + 1 < cli->argc)
            opts_text = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--json"))
            cli->json = true;
        else if (cli->argv[i][0] != '-' && file == NULL)
            file = cli->argv[i];
        else {
            fputs(s_usage, stderr);
            return DLD_EXIT_USAGE;
        }
    }
    if (file == NULL) {
        fputs(s_usage, stderr);
        return DLD_EXIT_USAGE;
    }
    const char *base = strrchr(file, '/');
    int kind = 0;
    char name[128];
    if (dld_loader_parse_file_name(base ? base + 1 : file, &kind, name, sizeof name) != 0) {
        fprintf(stderr, "deltaload: %s: a plugin file is named dld-<kind>-<name>.so\n", file);
        return DLD_EXIT_USAGE;
    }
    char path[PATH_MAX];
    if (realpath(file, path) == NULL) {
        fprintf(stderr, "deltaload: %s: no such file\n", file);
        return DLD_EXIT_USAGE;
    }
    cJSON *opts = cJSON_Parse(opts_text);
    if (!cJSON_IsObject(opts)) {
        cJSON_Delete(opts);
        fprintf(stderr, "deltaload: --options: not a JSON object\n");
        return DLD_EXIT_USAGE;
    }
    struct dld_error err;
    dld_error_init(&err);
    struct dld_loaded p;
    memset(&p, 0, sizeof p);
    int rc = dld_loader_probe(path, (uint32_t)kind, name, &err);
    if (rc == DLD_OK)
        rc = dld_loader_load_file(path, (uint32_t)kind, name, &p, &err);
    if (rc != DLD_OK) {
        cJSON_Delete(opts);
        return dld_cli_fail(rc, &err);
    }
    dld_contract_wrap(&p);
    struct k_ctx k = {.p = &p, .results = cJSON_CreateArray(), .json = cli->json, .scratch_sqlite = scratch_sqlite,
                      .table = table, .column = column, .schema = schema};
    const char *tmp = getenv("TMPDIR");
    snprintf(k.scratch, sizeof k.scratch, "%s/dld-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(k.scratch) == NULL) {
        cJSON_Delete(opts);
        cJSON_Delete(k.results);
        dld_loader_unload(&p);
        fprintf(stderr, "deltaload: cannot create a scratch directory\n");
        return DLD_EXIT_RUNTIME;
    }
    /* a declared `path` option not given: a scratch file or folder */
    for (const struct dld_option *o = p.desc.options; o && o->name; o++)
        if (!strcmp(o->name, "path") && !cJSON_GetObjectItemCaseSensitive(opts, "path")) {
            char sp[PATH_MAX + 32];
            snprintf(sp, sizeof sp, "%s/%s", k.scratch,
                     kind == DLD_KIND_TARGET ? "lake" : kind == DLD_KIND_STATE ? "state.db" : "source.db");
            cJSON_AddStringToObject(opts, "path", sp);
        }
    rc = dld_options_validate(&p.desc, "--options", opts, &k.kv, &err);
    cJSON_Delete(opts);
    if (rc != DLD_OK) {
        cJSON_Delete(k.results);
        dld_loader_unload(&p);
        s_rmtree(k.scratch);
        return dld_cli_fail(rc, &err);
    }
    switch (kind) {
    case DLD_KIND_TARGET: k_target(&k); break;
    case DLD_KIND_STATE: k_state(&k); break;
    case DLD_KIND_SCHEDULER: k_scheduler(&k); break;
    default:
        if (table && column)
            k_source_generic(&k, table, column, schema);
        else
            k_source(&k);
        break;
    }
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "plugin", p.desc.name);
        cJSON_AddStringToObject(o, "kind", dld_kind_name((uint32_t)kind));
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddNumberToObject(o, "passed", k.pass);
        cJSON_AddNumberToObject(o, "failed", k.fail);
        cJSON_AddNumberToObject(o, "skipped", k.skip);
        cJSON_AddItemToObject(o, "tests", k.results);
        k.results = NULL;
        dld_cli_print_json(o);
    } else {
        printf("%s plugin %s (%s)\n", dld_kind_name((uint32_t)kind), p.desc.name, path);
        for (const cJSON *r = k.results->child; r; r = r->next) {
            const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(r, "detail"));
            const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(r, "result"));
            printf("  %-4s  %s%s%s\n", res, cJSON_GetStringValue(cJSON_GetObjectItem(r, "test")),
                   d && d[0] && strcmp(res, "PASS") ? "\n        " : "", d && strcmp(res, "PASS") ? d : "");
        }
        printf("%d passed, %d failed, %d skipped\n", k.pass, k.fail, k.skip);
    }
    cJSON_Delete(k.results);
    dld_kv_free(k.kv);
    dld_loader_unload(&p);
    if (getenv("DLD_KEEP_TMP") == NULL)
        s_rmtree(k.scratch);
    return k.fail ? DLD_EXIT_FAILED : DLD_EXIT_OK;
}
