/*
 * Iceberg partition transforms (sdk/src/iceberg_partition.h): the hash
 * vectors of the Iceberg spec's "Appendix B: 32-bit Hash Requirements", the
 * bucket and time transforms on Arrow columns, partition path names and the
 * parsing of "partition_by".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "iceberg_partition.h"

static void s_bytes(const char *hex, unsigned char *out, size_t *n)
{
    *n = strlen(hex) / 2;
    for (size_t i = 0; i < *n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

START_TEST(spec_hash_vectors)
{
    /* int and long hash alike */
    ck_assert_int_eq(dld_ice_hash_long(34), 2017239379);
    /* date 2017-11-16: day 17486 */
    ck_assert_int_eq(dld_ice_hash_long(17486), -653330422);
    /* time 22:31:08 in microseconds of the day */
    ck_assert_int_eq(dld_ice_hash_long(81068000000LL), -662762989);
    /* timestamp 2017-11-16T22:31:08 (and timestamptz 2017-11-16T14:31:08-08:00) in microseconds */
    ck_assert_int_eq(dld_ice_hash_long(1510871468000000LL), -2047944441);
    /* timestamp 2017-11-16T22:31:08.000001 */
    ck_assert_int_eq(dld_ice_hash_long(1510871468000001LL), -1207196810);
    /* string "iceberg" */
    ck_assert_int_eq((int32_t)dld_ice_murmur3_32("iceberg", 7, 0), 1210000089);
    /* fixed / binary 00 01 02 03 */
    unsigned char b[16];
    size_t n;
    s_bytes("00010203", b, &n);
    ck_assert_int_eq((int32_t)dld_ice_murmur3_32(b, n, 0), -188683207);
    /* uuid f79c3e09-677c-4bbd-a479-3f349cb785e7 (16 bytes, big-endian) */
    s_bytes("f79c3e09677c4bbda4793f349cb785e7", b, &n);
    ck_assert_int_eq((int32_t)dld_ice_murmur3_32(b, n, 0), 1488055340);
    /* decimal(9,2) 14.20: unscaled 1420 as Arrow's 16 little-endian bytes */
    unsigned char le[16] = {0};
    le[0] = 1420 & 0xff;
    le[1] = 1420 >> 8;
    ck_assert_int_eq(dld_ice_hash_decimal(le), -500754589);
    /* a negative decimal keeps one sign byte: -1 is ff */
    memset(le, 0xff, sizeof le);
    unsigned char ff = 0xff;
    ck_assert_int_eq(dld_ice_hash_decimal(le), (int32_t)dld_ice_murmur3_32(&ff, 1, 0));
    /* bucket: (hash & Integer.MAX_VALUE) % N */
    ck_assert_int_eq(dld_ice_bucket(2017239379, 16), 2017239379 % 16);
    ck_assert_int_eq(dld_ice_bucket(-653330422, 16), (int32_t)((uint32_t)-653330422 & 0x7fffffffu) % 16);
}
END_TEST

START_TEST(time_transforms_floor)
{
    ck_assert_int_eq(dld_ice_floor_div(-1, 86400000000LL), -1); /* 1969-12-31T23:59:59.999999 is day -1 */
    ck_assert_int_eq(dld_ice_floor_div(86400000000LL, 86400000000LL), 1);
    ck_assert_int_eq(dld_ice_months_from_days(0), 0);
    ck_assert_int_eq(dld_ice_months_from_days(-1), -1);      /* 1969-12 */
    ck_assert_int_eq(dld_ice_months_from_days(17486), 574); /* 2017-11: (2017-1970)*12 + 10 */
}
END_TEST

/* one-column Arrow arrays built by hand */
static struct ArrowSchema s_type(const char *format)
{
    return (struct ArrowSchema){.format = format, .name = "c"};
}

START_TEST(values_and_paths)
{
    struct dld_error err;
    dld_error_init(&err);
    struct dld_ice_partition_field *f = NULL;
    int n = 0;
    ck_assert_int_eq(dld_ice_partition_parse("{\"partition_by\": [\"day(ts)\", \"bucket( 4 , id)\", \"hour(ts)\", "
                                             "\"month(ts)\", \"year(ts)\", \"identity(region)\"]}",
                                             &f, &n, &err),
                     0);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(f[0].name, "ts_day");
    ck_assert_int_eq(f[1].transform, DLD_ICE_BUCKET);
    ck_assert_int_eq(f[1].n, 4);
    ck_assert_str_eq(f[1].source, "id");
    ck_assert_str_eq(f[1].name, "id_bucket");
    ck_assert_str_eq(f[5].name, "region");

    /* timestamps in microseconds: 2026-11-30T10:15:00Z, 1969-12-31T23:30:00Z, null */
    int64_t ts[3] = {1796033700000000LL, -1800000000LL, 0};
    uint8_t valid = 0x03;
    const void *tsb[2] = {&valid, ts};
    struct ArrowArray tsa = {.length = 3, .null_count = 1, .n_buffers = 2, .buffers = tsb};
    struct ArrowSchema tst = s_type("tsu:UTC");
    struct dld_ice_pvalue v;
    const char *want[5][3] = {{"ts_day=2026-11-30", "ts_day=1969-12-31", "ts_day=null"},
                              {NULL, NULL, NULL},
                              {"ts_hour=2026-11-30-10", "ts_hour=1969-12-31-23", "ts_hour=null"},
                              {"ts_month=2026-11", "ts_month=1969-12", "ts_month=null"},
                              {"ts_year=2026", "ts_year=1969", "ts_year=null"}};
    for (int k = 0; k < 5; k++) {
        if (k == 1)
            continue;
        for (int r = 0; r < 3; r++) {
            ck_assert_int_eq(dld_ice_partition_value(&f[k], &tst, &tsa, r, &v, &err), 0);
            char *p = dld_ice_partition_path(&f[k], &tst, &v);
            ck_assert_str_eq(p, want[k][r]);
            free(p);
        }
    }
    /* the same instant in nanoseconds, through a slice (offset 1) */
    int64_t tsn[2] = {0, 1796033700000000123LL};
    const void *tsnb[2] = {NULL, tsn};
    struct ArrowArray tsna = {.length = 1, .offset = 1, .n_buffers = 2, .buffers = tsnb};
    struct ArrowSchema tsnt = s_type("tsn:");
    ck_assert_int_eq(dld_ice_partition_value(&f[0], &tsnt, &tsna, 0, &v, &err), 0);
    ck_assert_int_eq(v.i, 20787); /* 2026-11-30 */

    /* bucket(4, id) of longs: the spec's hash, masked, mod 4 */
    int64_t ids[2] = {34, -7};
    const void *idb[2] = {NULL, ids};
    struct ArrowArray ida = {.length = 2, .n_buffers = 2, .buffers = idb};
    struct ArrowSchema idt = s_type("l");
    ck_assert_int_eq(dld_ice_partition_value(&f[1], &idt, &ida, 0, &v, &err), 0);
    ck_assert_int_eq(v.i, 2017239379 % 4);
    char *p = dld_ice_partition_path(&f[1], &idt, &v);
    ck_assert_str_eq(p, "id_bucket=3");
    free(p);
    ck_assert_int_eq(dld_ice_partition_value(&f[1], &idt, &ida, 1, &v, &err), 0);
    ck_assert_int_eq(v.i, dld_ice_bucket(dld_ice_hash_long(-7), 4));
    /* an int32 column hashes as the same long */
    int32_t id32[1] = {34};
    const void *id32b[2] = {NULL, id32};
    struct ArrowArray id32a = {.length = 1, .n_buffers = 2, .buffers = id32b};
    struct ArrowSchema id32t = s_type("i");
    ck_assert_int_eq(dld_ice_partition_value(&f[1], &id32t, &id32a, 0, &v, &err), 0);
    ck_assert_int_eq(v.i, 3);

    /* identity of a string: the value URL-encoded as Java's URLEncoder does */
    int32_t off[3] = {0, 7, 12};
    const char *data = "eu westa/b=c";
    const void *sb[3] = {NULL, off, data};
    struct ArrowArray sa = {.length = 2, .n_buffers = 3, .buffers = sb};
    struct ArrowSchema st = s_type("u");
    ck_assert_int_eq(dld_ice_partition_value(&f[5], &st, &sa, 0, &v, &err), 0);
    p = dld_ice_partition_path(&f[5], &st, &v);
    ck_assert_str_eq(p, "region=eu+west");
    free(p);
    ck_assert_int_eq(dld_ice_partition_value(&f[5], &st, &sa, 1, &v, &err), 0);
    p = dld_ice_partition_path(&f[5], &st, &v);
    ck_assert_str_eq(p, "region=a%2Fb%3Dc");
    free(p);
    /* bucket of a string hashes its UTF-8 bytes */
    struct dld_ice_partition_field bs = {.source = "c", .name = "c_bucket", .transform = DLD_ICE_BUCKET, .n = 1000};
    const char *ice = "iceberg";
    int32_t off2[2] = {0, 7};
    const void *sb2[3] = {NULL, off2, ice};
    struct ArrowArray sa2 = {.length = 1, .n_buffers = 3, .buffers = sb2};
    ck_assert_int_eq(dld_ice_partition_value(&bs, &st, &sa2, 0, &v, &err), 0);
    ck_assert_int_eq(v.i, 1210000089 % 1000);

    /* the spec's JSON */
    int32_t sources[6] = {3, 1, 3, 3, 3, 4};
    char *spec = dld_ice_partition_spec_json(f, 2, sources, 0);
    ck_assert_str_eq(spec, "{\"spec-id\":0,\"fields\":[{\"name\":\"ts_day\",\"transform\":\"day\",\"source-id\":3,"
                           "\"field-id\":1000},{\"name\":\"id_bucket\",\"transform\":\"bucket[4]\",\"source-id\":1,"
                           "\"field-id\":1001}]}");
    free(spec);

    /* the check against a load's schema */
    struct ArrowSchema c_id = {.format = "l", .name = "id"}, c_ts = {.format = "tsu:UTC", .name = "ts"},
                       c_region = {.format = "u", .name = "region"};
    struct ArrowSchema *kids[3] = {&c_id, &c_ts, &c_region};
    struct ArrowSchema row = {.format = "+s", .n_children = 3, .children = kids};
    int *cols = NULL;
    ck_assert_int_eq(dld_ice_partition_check(f, n, &row, &cols, &err), 0);
    ck_assert_int_eq(cols[0], 1);
    ck_assert_int_eq(cols[1], 0);
    ck_assert_int_eq(cols[5], 2);
    free(cols);
    c_region.format = "g"; /* identity of a double is not supported */
    ck_assert_int_eq(dld_ice_partition_check(f, n, &row, &cols, &err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "identity(region)"));
    c_id.format = "tdD";
    c_region.format = "u";
    struct dld_ice_partition_field hour_of_date = {.source = "id", .name = "id_hour", .transform = DLD_ICE_HOUR};
    ck_assert_int_eq(dld_ice_partition_check(&hour_of_date, 1, &row, &cols, &err), DLD_ERR_CONFIG);
    struct dld_ice_partition_field missing = {.source = "nope", .name = "nope", .transform = DLD_ICE_DAY};
    ck_assert_int_eq(dld_ice_partition_check(&missing, 1, &row, &cols, &err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "'nope' is not a column"));
    dld_ice_partition_free(f, n);
}
END_TEST

START_TEST(parse_refuses_malformed)
{
    const char *bad[] = {"{\"partition_by\": \"days(ts)\"}",       "{\"partition_by\": \"bucket(ts)\"}",
                         "{\"partition_by\": \"bucket(0, id)\"}",   "{\"partition_by\": \"day(ts\"}",
                         "{\"partition_by\": \"day()\"}",          "{\"partition_by\": []}",
                         "{\"partition_by\": 3}",                   "{\"partition_by\": [\"day(ts)\", \"day(ts)\"]}",
                         "{\"partition_by\": \"day(a,b)\"}",        "{\"partition_by\": \"day(ts) x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct dld_error err;
    dld_error_init(&err);
        struct dld_ice_partition_field *f = NULL;
        int n = 0;
        ck_assert_msg(dld_ice_partition_parse(bad[i], &f, &n, &err) == DLD_ERR_CONFIG, "%s", bad[i]);
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(strstr(err.message, "partition_by"));
    }
    struct dld_error err;
    dld_error_init(&err);
    struct dld_ice_partition_field *f = NULL;
    int n = 1;
    ck_assert_int_eq(dld_ice_partition_parse("{\"id\": 1}", &f, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(dld_ice_partition_parse("{\"partition_by\": \"year(d)\"}", &f, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(f[0].name, "d_year");
    dld_ice_partition_free(f, n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("iceberg_partition");
    TCase *tc = tcase_create("transforms");
    tcase_add_test(tc, spec_hash_vectors);
    tcase_add_test(tc, time_transforms_floor);
    tcase_add_test(tc, values_and_paths);
    tcase_add_test(tc, parse_refuses_malformed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
