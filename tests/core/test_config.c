/* Config files, option validation against a plugin's declared table, and
 * controller item validation: each bad input gets its own clear error. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "items.h"

static char s_tmp[] = "/tmp/dld-config-XXXXXX";

static int s_load_text(const char *text, struct dld_config *cfg, struct dld_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "%s/c.json", s_tmp);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    dld_error_init(err);
    return dld_config_load(path, cfg, err);
}

#define EXPECT_CONFIG_ERROR(text, needle)                                                       \
    do {                                                                                        \
        struct dld_config cfg_;                                                                 \
        struct dld_error err_;                                                                  \
        ck_assert_int_eq(s_load_text(text, &cfg_, &err_), DLD_ERR_CONFIG);                      \
        ck_assert_msg(strstr(err_.message, needle), "lacks '%s': %s", needle, err_.message);   \
        dld_config_clean_up(&cfg_);                                                             \
    } while (0)

START_TEST(config_structure_errors)
{
    EXPECT_CONFIG_ERROR("{\"source\": {\"plugin\": \"x\",}\n", ":1:");
    EXPECT_CONFIG_ERROR("{\n  \"source\": \n  [}\n", ":3:");
    EXPECT_CONFIG_ERROR("[]", "the top level must be a JSON object");
    EXPECT_CONFIG_ERROR("{\"sources\": {}}", "unknown top-level key 'sources' (valid: plugin_dirs, source,");
    EXPECT_CONFIG_ERROR("{\"source\": {\"name\": \"x\"}}", "source: unknown key 'name' (valid: plugin, options)");
    EXPECT_CONFIG_ERROR("{\"source\": {\"plugin\": \"../x\"}}", "may only hold letters, digits and '_'");
    EXPECT_CONFIG_ERROR("{\"engine\": {\"parallelism\": 0}}", "engine.parallelism must be an integer from 1 to 64");
    EXPECT_CONFIG_ERROR("{\"engine\": {\"threads\": 2}}", "engine: unknown key 'threads'");
    EXPECT_CONFIG_ERROR("{\"tables\": {}}", "tables must be a list");
    EXPECT_CONFIG_ERROR("{\"source\": {\"plugin\": \"x\", \"options\": {\"p\": \"${DLD_SURELY_UNSET_VAR}\"}}}",
                        "config.source.options.p: environment variable DLD_SURELY_UNSET_VAR is not set");
}
END_TEST

START_TEST(env_expansion)
{
    setenv("DLD_TEST_SECRET", "s3cr3t", 1);
    struct dld_config cfg;
    struct dld_error err;
    ck_assert_int_eq(s_load_text("{\"source\": {\"plugin\": \"x\", \"options\": {\"a\": \"pre-${DLD_TEST_SECRET}-post\","
                                 " \"b\": \"$${NOT_EXPANDED}\"}}}",
                                 &cfg, &err),
                     DLD_OK);
    const cJSON *o = cfg.kinds[DLD_KIND_SOURCE].options;
    ck_assert_str_eq(cJSON_GetObjectItem(o, "a")->valuestring, "pre-s3cr3t-post");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "b")->valuestring, "${NOT_EXPANDED}");
    dld_config_clean_up(&cfg);
}
END_TEST

static struct dld_loaded s_good;

static int s_validate(const char *json, char ***kv, struct dld_error *err)
{
    cJSON *o = cJSON_Parse(json);
    dld_error_init(err);
    int rc = dld_options_validate(&s_good.desc, "source.options", o, kv, err);
    cJSON_Delete(o);
    return rc;
}

START_TEST(options_against_declared_table)
{
    const char *dirs[] = {getenv("DLD_TEST_PLUGIN_DIR"), NULL};
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_loader_load(DLD_KIND_SOURCE, "good", dirs, &s_good, &err), DLD_OK);
    char **kv = NULL;
    ck_assert_int_eq(s_validate("{\"path\": \"/x\", \"colour\": 1}", &kv, &err), DLD_ERR_CONFIG);
    ck_assert_str_eq(err.message,
                     "source.options: unknown option 'colour' for plugin good (valid: path, password, count, mode, flag)");
    ck_assert_int_eq(s_validate("{}", &kv, &err), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "option 'path' is required by plugin good"), "%s", err.message);
    ck_assert_int_eq(s_validate("{\"path\": 5}", &kv, &err), DLD_ERR_CONFIG);
    ck_assert_str_eq(err.message, "source.options.path must be a string");
    ck_assert_int_eq(s_validate("{\"path\": \"p\", \"count\": 1.5}", &kv, &err), DLD_ERR_CONFIG);
    ck_assert_str_eq(err.message, "source.options.count must be an integer");
    ck_assert_int_eq(s_validate("{\"path\": \"p\", \"flag\": \"yes\"}", &kv, &err), DLD_ERR_CONFIG);
    ck_assert_str_eq(err.message, "source.options.flag must be true or false");
    ck_assert_int_eq(s_validate("{\"path\": \"p\", \"mode\": \"warp\"}", &kv, &err), DLD_ERR_CONFIG);
    ck_assert_str_eq(err.message, "source.options.mode is 'warp'; it must be one of fast|slow");
    /* strings are accepted for typed options: ${VAR} always yields strings */
    ck_assert_int_eq(s_validate("{\"path\": \"p\", \"count\": \"42\", \"password\": \"hunter2\"}", &kv, &err), DLD_OK);
    ck_assert_str_eq(dld_opt_get((const char *const *)kv, "count"), "42");
    ck_assert_str_eq(dld_opt_get((const char *const *)kv, "mode"), "fast"); /* default filled */
    cJSON *red = dld_options_redacted(&s_good.desc, kv);
    char *text = cJSON_PrintUnformatted(red);
    ck_assert_msg(strstr(text, "hunter2") == NULL, "secret printed: %s", text);
    ck_assert_msg(strstr(text, "\"password\":\"********\""), "%s", text);
    free(text);
    cJSON_Delete(red);
    dld_kv_free(kv);
    dld_loader_unload(&s_good);
}
END_TEST

static int s_item(const char *json, struct dld_item *it, struct dld_error *err)
{
    dld_error_init(err);
    return dld_item_parse_text(json, it, err);
}

#define EXPECT_ITEM_ERROR(json, needle)                                                        \
    do {                                                                                       \
        struct dld_item it_;                                                                   \
        struct dld_error err_;                                                                 \
        ck_assert_int_eq(s_item(json, &it_, &err_), DLD_ERR_CONFIG);                           \
        ck_assert_msg(strstr(err_.message, needle), "lacks '%s': %s", needle, err_.message);  \
    } while (0)

START_TEST(item_validation)
{
    EXPECT_ITEM_ERROR("{\"sourceTable\": \"t\"}", "no targetTableName");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\"}", "sourceTable is required");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"a/b\", \"sourceTable\": \"t\"}", "may not contain '/'");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"..\", \"sourceTable\": \"t\"}", "may not contain '/' or be '.' or '..'");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\\u0001\"}", "control character");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filtercolumn\": \"\"}", "filtercolumn is empty");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filteroperator\": \"gte\"}",
                      "filteroperator gte needs a filtercolumn");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filtercolumn\": \"c\", \"filteroperator\": \"eq\"}",
                      "filteroperator eq needs a startvalue");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filtercolumn\": \"c\", \"filteroperator\": "
                      "\"between\", \"startvalue\": 1}",
                      "filteroperator between needs an endvalue");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"activeflag\": \"maybe\"}",
                      "activeflag must be Y or N");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"lag\": -5}", "lag must be");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"ouputs3Prefix\": \"a\", \"outputPrefix\": \"b\"}",
                      "disagree");
    char longname[300];
    memset(longname, 'a', 200);
    longname[200] = '\0';
    char json[512];
    snprintf(json, sizeof json, "{\"targetTableName\": \"x\", \"sourceTable\": \"%s\"}", longname);
    EXPECT_ITEM_ERROR(json, "limited to 128");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"\xff\xfe\"}", "not valid UTF-8");
}
END_TEST

START_TEST(item_normalisation)
{
    struct dld_item it;
    struct dld_error err;
    /* the AWS pattern's own item, typo included; numbers become text; ste is lte */
    ck_assert_int_eq(s_item("{\"targetTableName\": \"orders\", \"sourceSchema\": \"dwh\", \"sourceTable\": \"orders_rds\","
                            " \"filtercolumn\": \"row_id\", \"filteroperator\": \"STE\", \"startvalue\": 100,"
                            " \"activeflag\": \"y\", \"ouputs3Prefix\": \"s3prefix/raw\","
                            " \"replication_task_settings\": \"{}\", \"someOtherAttr\": 1}",
                            &it, &err),
                     DLD_OK);
    ck_assert_str_eq(it.op, "lte");
    ck_assert_str_eq(it.start, "100");
    ck_assert_str_eq(it.prefix, "s3prefix/raw");
    ck_assert_int_eq(it.mode, DLD_MODE_FULL);
    ck_assert(it.active);
    ck_assert_msg(strstr(it.item_json, "someOtherAttr") && strstr(it.item_json, "replication_task_settings"), "%s",
                  it.item_json);
    dld_item_clean_up(&it);
    /* a quoted, mixed-case, injection-looking name is an identifier like any other: kept verbatim */
    ck_assert_int_eq(s_item("{\"targetTableName\": \"x\", \"sourceTable\": \"Orders\\\"; DROP TABLE t; --\","
                            " \"filtercolumn\": \"Row Id\", \"outputPrefix\": \"p\"}",
                            &it, &err),
                     DLD_OK);
    ck_assert_str_eq(it.table, "Orders\"; DROP TABLE t; --");
    ck_assert_str_eq(it.op, "gte");
    ck_assert_int_eq(it.mode, DLD_MODE_DELTA);
    ck_assert_str_eq(it.prefix, "p");
    dld_item_clean_up(&it);
}
END_TEST

/* issue 17: "filteroperator": "commit", windows over the source's commit clock */
START_TEST(item_commit_operator)
{
    struct dld_item it;
    struct dld_error err;
    ck_assert_int_eq(s_item("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filteroperator\": \"Commit\"}",
                            &it, &err),
                     DLD_OK);
    ck_assert_str_eq(it.op, "commit");
    ck_assert_int_eq(it.mode, DLD_MODE_DELTA);
    ck_assert_ptr_null(it.t.filter_column);
    ck_assert_str_eq(it.t.filter_operator, "commit");
    dld_item_clean_up(&it);
    /* a startvalue is a horizon to start from (and where the DynamoDB store mirrors the watermark) */
    ck_assert_int_eq(s_item("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filteroperator\": \"commit\","
                            " \"startvalue\": 12884902614}",
                            &it, &err),
                     DLD_OK);
    ck_assert_str_eq(it.t.start_value, "12884902614");
    dld_item_clean_up(&it);
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filteroperator\": \"commit\","
                      " \"filtercolumn\": \"id\"}",
                      "filteroperator commit follows the source's commit order and takes no filtercolumn");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filteroperator\": \"commit\","
                      " \"lag\": 60}",
                      "takes no lag");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filteroperator\": \"commit\","
                      " \"endvalue\": 5}",
                      "endvalue");
    EXPECT_ITEM_ERROR("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"filtercolumn\": \"c\","
                      " \"filteroperator\": \"comit\"}",
                      "between, notbetween, commit)");
}
END_TEST

int main(void)
{
    if (mkdtemp(s_tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, config_structure_errors);
    tcase_add_test(tc, env_expansion);
    tcase_add_test(tc, options_against_declared_table);
    tcase_add_test(tc, item_validation);
    tcase_add_test(tc, item_normalisation);
    tcase_add_test(tc, item_commit_operator);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_tmp);
    if (system(cmd) != 0)
        return 1;
    return failed ? 1 : 0;
}
