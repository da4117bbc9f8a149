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
 *   source     on the kit's fixture table (cmd_check_source.c): windows
 *              with ties on the bounds, empty windows, between at endvalue,
 *              lag, every operator, types round-tripped, cancellation
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

#include "cli.h"
#include "cmd_check.h"
#include "config.h"
#include "contract.h"
#include "host.h"
#include "loader.h"

static const char s_usage[] =
    "usage: deltaload plugins check FILE.so [--options JSON] [--json]\n"
    "           [--scratch-sqlite | --table NAME [--schema S] [--slow-table VIEW] [--filter-column COL]]\n"
    "       deltaload plugins check --fixture sqlite|postgres|oracle [--table NAME]\n"
    "Runs the plugin contract tests of the file's kind against it (the conformance kit) in a scratch\n"
    "directory and prints a PASS/FAIL table. Exit 0: every test passed; 1: a test failed; 3: the\n"
    "plugin was refused at load. A declared `path` option not given is set to a scratch file.\n"
    "Sources run on the kit's fixture table (windows, ties, operators, types, cancellation):\n"
    "  --fixture DIALECT  print it as SQL (table kit_t, or --table NAME) to create it on your server;\n"
    "  --table NAME [--schema S]  the fixture table you created; the source reaches it with --options;\n"
    "  --slow-table NAME  a view of the fixture whose reads block (e.g. one calling pg_sleep(5)): the\n"
    "                     kit interrupts extract_begin and extract_next while they wait on it;\n"
    "  --scratch-sqlite   the kit creates it in the SQLite file of `path` (automatic for sqlite);\n"
    "  --table NAME --filter-column COL  a table of yours instead (window tests only, COL a 64-bit\n"
    "                     integer column the kit reads whole first).\n"
    "See docs/plugin-authoring.md (\"The conformance kit\").\n";

#define k_res dld_kit_result

void dld_kit_result(struct k_ctx *k, const char *test, int status, const char *fmt, ...)
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

    /* pagination: more items than a page of a store that pages (give it a
     * small page with --options), each listed once */
    dld_error_init(&e);
    rc = DLD_OK;
    for (int i = 0; i < 25 && rc == DLD_OK; i++) {
        char name[32], item[96];
        snprintf(name, sizeof name, "kit_p%02d", i);
        snprintf(item, sizeof item, "{\"targetTableName\":\"%s\",\"sourceTable\":\"p\"}", name);
        rc = vt->item_put(inst, name, item, &e);
    }
    json = NULL;
    if (rc == DLD_OK)
        rc = vt->item_list(inst, &json, &e);
    int seen[25] = {0}, others = 0;
    cJSON *list = rc == DLD_OK && json ? cJSON_Parse(json) : NULL;
    H()->free(json);
    json = NULL;
    for (const cJSON *it = cJSON_IsArray(list) ? list->child : NULL; it; it = it->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "targetTableName"));
        int i = -1;
        if (n && sscanf(n, "kit_p%d", &i) == 1 && i >= 0 && i < 25)
            seen[i]++;
        else
            others++;
    }
    int once = 0;
    for (int i = 0; i < 25; i++)
        once += seen[i] == 1;
    k_res(k, "items: 25 listed once each (pagination)", !(rc == DLD_OK && cJSON_IsArray(list) && once == 25),
          "rc %s, %d of 25 listed exactly once (%d other items) %s", dld_code_name(rc), once, others,
          rc ? e.message : "");
    cJSON_Delete(list);
    for (int i = 0; i < 25; i++) {
        char name[32];
        snprintf(name, sizeof name, "kit_p%02d", i);
        vt->item_delete(inst, name, &e);
    }

    /* the leases below are on tables with an item, as the engine's are (a
     * store may keep a table's lease on its item: dynamodb) */
    dld_error_init(&e);
    rc = vt->item_put(inst, T, "{\"targetTableName\":\"kit_t\",\"sourceTable\":\"t\"}", &e);
    if (rc == DLD_OK)
        rc = vt->item_put(inst, T2, "{\"targetTableName\":\"kit_t2\",\"sourceTable\":\"t2\"}", &e);
    REQUIRE(k, "items for the lease tests", rc == DLD_OK, "%s", e.message);
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
    const char *file = NULL, *opts_text = "{}", *fixture = NULL;
    bool scratch_sqlite = false;
    const char *table = NULL, *column = NULL, *schema = NULL, *slow_table = NULL;
    for (int i = 2; i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], "--scratch-sqlite"))
            scratch_sqlite = true;
        else if (!strcmp(cli->argv[i], "--table") && i + 1 < cli->argc)
            table = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--filter-column") && i + 1 < cli->argc)
            column = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--schema") && i + 1 < cli->argc)
            schema = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--slow-table") && i + 1 < cli->argc)
            slow_table = cli->argv[++i];
        else if (!strcmp(cli->argv[i], "--fixture") && i + 1 < cli->argc)
            fixture = cli->argv[++i];
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
    if (fixture && file == NULL)
        return dld_kit_print_fixture(fixture, table ? table : "kit_t");
    if (file == NULL || fixture) {
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
                      .table = table, .column = column, .schema = schema, .slow_table = slow_table};
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
        dld_kit_source(&k);
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
