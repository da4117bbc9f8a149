/* source-postgres suite: the plugin dlopen'ed from $DLD_PLUGIN_DIR, driven
 * through its vtable against the cluster of the pg_server fixture. */
#include <stdio.h>
#include <stdlib.h>

#include "pg_test.h"

const struct dld_plugin *pgt_plugin;

int main(void)
{
    void *so = dld_test_plugin_load("source", "postgres", &pgt_plugin);
    if (!so) {
        fprintf(stderr, "cannot load dld-source-postgres.so from $DLD_PLUGIN_DIR\n");
        return 1;
    }
    pgt_vt = pgt_plugin->vtable;
    SRunner *sr = srunner_create(pgt_suite_conn());
    srunner_add_suite(sr, pgt_suite_types());
    srunner_add_suite(sr, pgt_suite_window());
    srunner_add_suite(sr, pgt_suite_commit());
    srunner_add_suite(sr, pgt_suite_split());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    dld_test_plugin_unload(so);
    return failed ? 1 : 0;
}
