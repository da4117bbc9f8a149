/*
 * The configuration file (JSON): plugin_dirs, source, target, state,
 * scheduler, engine, tables. See docs/configuration.md.
 * Not thread-safe; loaded once before any worker starts.
 */
#ifndef DLD_CORE_CONFIG_H
#define DLD_CORE_CONFIG_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "loader.h"

struct dld_plugin_conf {
    bool present;            /* the section exists in the file */
    char *plugin;            /* plugin name */
    const cJSON *options;    /* the section's options object (owned by the config) */
    char **kv;               /* validated key/value pairs with defaults, NULL-terminated */
    struct dld_loaded loaded;
    bool is_loaded;
};

struct dld_engine_conf {
    int parallelism;         /* tables loaded at once */
    int batch_rows;          /* rows per Arrow batch asked of the source */
    int64_t lease_ttl_ms;    /* a lease not renewed for this long may be taken over */
    int retries;             /* extra attempts of a window after a retryable error */
    int64_t retry_delay_ms;  /* wait before the first retry; n-th retry waits n times as long */
    int schema_change;       /* enum dld_schema_policy: the default of items without schema_change */
};

struct dld_config {
    char *path;
    cJSON *root;
    char **plugin_dirs;      /* NULL-terminated: the file's plugin_dirs, then the defaults */
    struct dld_plugin_conf kinds[5]; /* indexed by enum dld_kind */
    const cJSON *tables;     /* array of controller items, or NULL */
    struct dld_engine_conf engine;
};

/* A config file larger than this is refused (read no further). */
#define DLD_CONFIG_MAX_BYTES (16 * 1024 * 1024)
/* Reads and checks the file's structure; replaces ${VAR} from the environment.
 * The "tables" items are parsed (dld_item_parse) and must have distinct names. */
int dld_config_load(const char *path, struct dld_config *cfg, struct dld_error *err);
/* Loads the plugin of `kind` and validates its options. */
int dld_config_plugin(struct dld_config *cfg, uint32_t kind, struct dld_error *err);
void dld_config_clean_up(struct dld_config *cfg);

/* Validates a JSON options object against a plugin's declared table and
 * builds the key/value array (malloc'ed; free with dld_kv_free). */
int dld_options_validate(const struct dld_plugin *desc, const char *where, const cJSON *options, char ***kv,
                         struct dld_error *err);
void dld_kv_free(char **kv);
/* options as a JSON object with secret values replaced by "********" */
cJSON *dld_options_redacted(const struct dld_plugin *desc, char *const *kv);

/* ${VAR} substitution in every string of a JSON tree ("$${" escapes). */
int dld_config_expand_env(cJSON *node, const char *where, struct dld_error *err);

#endif
