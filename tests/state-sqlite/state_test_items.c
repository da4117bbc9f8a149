/* Controller items: round trip verbatim, listing, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "state_test.h"

/* an item as the replaced AWS pattern writes it, typo and all, with
 * non-ASCII text both raw and escaped */
static const char s_item[] =
    "{\"targetTableName\":\"commandes_été\",\"sourceSchema\":\"ventes\",\"sourceTable\":\"Überweisung\","
    "\"filtercolumn\":\"updated_at\",\"filteroperator\":\"gte\",\"startvalue\":\"2024-01-01\","
    "\"activeflag\":\"Y\",\"ouputs3Prefix\":\"lake/raw/日本\",\"note\":\"\\u00e9\\ud83d\\ude00 😀\","
    "\"replication_task_settings\":{\"TargetMetadata\":{\"ParallelLoadThreads\":4}}}";

START_TEST(item_round_trip)
{
    struct dld_error e = state_test_err();
    ck_assert_int_eq(vt->item_put(inst, "commandes_été", s_item, &e), DLD_OK);
    char *got = NULL;
    ck_assert_int_eq(vt->item_get(inst, "commandes_été", &got, &e), DLD_OK);
    ck_assert_str_eq(got, s_item); /* byte for byte, attribute order kept */
    cJSON *j = cJSON_Parse(got);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "ouputs3Prefix")->valuestring, "lake/raw/日本");
    cJSON_Delete(j);
    free(got);

    /* overwrite */
    ck_assert_int_eq(vt->item_put(inst, "commandes_été", "{\"targetTableName\":\"commandes_été\",\"activeflag\":\"N\"}", &e),
                     DLD_OK);
    ck_assert_int_eq(vt->item_get(inst, "commandes_été", &got, &e), DLD_OK);
    ck_assert_str_eq(got, "{\"targetTableName\":\"commandes_été\",\"activeflag\":\"N\"}");
    free(got);
}
END_TEST

START_TEST(item_list_in_name_order)
{
    struct dld_error e = state_test_err();
    char *list = NULL;
    ck_assert_int_eq(vt->item_list(inst, &list, &e), DLD_OK);
    ck_assert_str_eq(list, "[]");
    free(list);

    const char *names[] = {"zeta", "alpha", "mid", "Alpha"};
    char buf[128];
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof(buf), "{\"targetTableName\":\"%s\",\"n\":%d}", names[i], i);
        ck_assert_int_eq(vt->item_put(inst, names[i], buf, &e), DLD_OK);
    }
    ck_assert_int_eq(vt->item_put(inst, "unicode", s_item, &e), DLD_OK);
    ck_assert_int_eq(vt->item_list(inst, &list, &e), DLD_OK);
    cJSON *arr = cJSON_Parse(list);
    ck_assert_msg(cJSON_IsArray(arr), "not an array: %s", list);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 5);
    /* by name, byte order (BINARY collation): Alpha alpha mid unicode zeta */
    const char *want[] = {"Alpha", "alpha", "mid", "commandes_été", "zeta"};
    for (int i = 0; i < 5; i++) {
        cJSON *it = cJSON_GetArrayItem(arr, i);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(it, "targetTableName")->valuestring, want[i]);
    }
    ck_assert_ptr_nonnull(strstr(list, s_item)); /* embedded verbatim */
    cJSON_Delete(arr);
    free(list);
}
END_TEST

START_TEST(item_errors)
{
    struct dld_error e = state_test_err();
    char *got = (char *)"sentinel";
    ck_assert_int_eq(vt->item_get(inst, "missing", &got, &e), DLD_ERR_NOT_FOUND);
    ck_assert_ptr_null(got);
    ck_assert_ptr_nonnull(strstr(e.message, "missing"));
    e = state_test_err();
    ck_assert_int_eq(vt->item_delete(inst, "missing", &e), DLD_ERR_NOT_FOUND);
    e = state_test_err();
    ck_assert_int_eq(vt->item_put(inst, "x", "{not json", &e), DLD_ERR_CONFIG);
    e = state_test_err();
    ck_assert_int_eq(vt->item_put(inst, "x", "[1,2]", &e), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "not a JSON object"));
    e = state_test_err();
    ck_assert_int_eq(vt->item_put(inst, "", "{}", &e), DLD_ERR_CONFIG);

    ck_assert_int_eq(vt->item_put(inst, "x", "{}", &e), DLD_OK);
    ck_assert_int_eq(vt->item_delete(inst, "x", &e), DLD_OK);
    ck_assert_int_eq(vt->item_get(inst, "x", &got, &e), DLD_ERR_NOT_FOUND);
}
END_TEST

/* Quotes, semicolons and SQL comments in a name are data: bound, never
 * spliced. Every kind of record keyed by table name is written and read back. */
START_TEST(hostile_table_name)
{
    static const char name[] = "x'); DROP TABLE runs; --\"; DELETE FROM items WHERE '1'='1";
    struct dld_error e = state_test_err();
    ck_assert_int_eq(vt->item_put(inst, "bystander", "{\"targetTableName\":\"bystander\"}", &e), DLD_OK);
    ck_assert_int_eq(vt->item_put(inst, name, "{\"targetTableName\":\"x'); DROP TABLE runs; --\"}", &e), DLD_OK);
    int64_t tok = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, name, "o'wner\"; --", 60000, &tok, &e), DLD_OK);
    struct dld_run r = state_test_run(name, 7, DLD_RUN_PLANNED, "a'b", "c;d", 100);
    r.info_json = (char *)"{\"query\":\"SELECT * FROM \\\"t\\\" WHERE c > ?\"}";
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, tok, &e), DLD_OK);

    struct dld_run last = {.struct_size = sizeof(last)};
    ck_assert_int_eq(vt->run_last(inst, name, &last, &e), DLD_OK);
    ck_assert_str_eq(last.table, name);
    ck_assert_str_eq(last.low, "a'b");
    ck_assert_str_eq(last.high, "c;d");
    ck_assert_str_eq(last.info_json, r.info_json);
    dld_run_clean_up(dld_test_host(), &last);
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(vt->watermark_get(inst, name, &wm, &e), DLD_OK);
    ck_assert_str_eq(wm.value, "c;d");
    dld_watermark_clean_up(dld_test_host(), &wm);

    char *hist = NULL;
    ck_assert_int_eq(vt->history(inst, name, 10, &hist, &e), DLD_OK);
    cJSON *arr = cJSON_Parse(hist);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 1);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "table")->valuestring, name);
    cJSON_Delete(arr);
    free(hist);

    char *list = NULL;
    ck_assert_int_eq(vt->item_list(inst, &list, &e), DLD_OK);
    arr = cJSON_Parse(list);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2); /* the bystander is still there */
    cJSON_Delete(arr);
    free(list);
    ck_assert_int_eq(vt->lease_release(inst, name, tok, &e), DLD_OK);
}
END_TEST

void state_test_add_items(TCase *tc)
{
    tcase_add_test(tc, item_round_trip);
    tcase_add_test(tc, item_list_in_name_order);
    tcase_add_test(tc, item_errors);
    tcase_add_test(tc, hostile_table_name);
}
