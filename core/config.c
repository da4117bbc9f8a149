/* Configuration: parsing, ${VAR} expansion, option validation. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "host.h"
#include "items.h"
#include "cmd_config.h"
#include "metrics.h"
#include "schema_track.h"

static char *s_read_file(const char *path, struct dld_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        dld_error_set(err, DLD_ERR_CONFIG, "cannot open config %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (len > DLD_CONFIG_MAX_BYTES) { /* `-c /dev/zero` must not read until the OOM killer */
            free(buf);
            fclose(f);
            dld_error_set(err, DLD_ERR_CONFIG, "config %s is larger than %d bytes", path, DLD_CONFIG_MAX_BYTES);
            return NULL;
        }
        if (len + 1 == cap) {
            char *tmp = realloc(buf, cap *= 2);
            if (tmp == NULL) {
                free(buf);
                buf = NULL;
            } else {
                buf = tmp;
            }
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* line:column of a byte offset, for parse errors */
static void s_position(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int s_expand_string(cJSON *node, const char *where, struct dld_error *err)
{
    const char *s = node->valuestring;
    if (strchr(s, '$') == NULL)
        return DLD_OK;
    size_t cap = strlen(s) + 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (const char *p = s; *p;) {
        const char *piece = p;
        size_t n = 1;
        char name[256];
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') { /* "$${" is a literal "${" */
            piece = "${";
            n = 2;
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            size_t nl = end ? (size_t)(end - p - 2) : 0;
            if (end == NULL || nl == 0 || nl >= sizeof name) {
                free(out);
                return dld_error_set(err, DLD_ERR_CONFIG, "%s: unterminated or empty ${...} reference", where);
            }
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            piece = getenv(name);
            if (piece == NULL) {
                free(out);
                return dld_error_set(err, DLD_ERR_CONFIG, "%s: environment variable %s is not set", where, name);
            }
            n = strlen(piece);
            p = end + 1;
        } else {
            p++;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *tmp = realloc(out, cap);
            if (tmp == NULL) {
                free(out);
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            }
            out = tmp;
        }
        memcpy(out + len, piece, n);
        len += n;
    }
    out[len] = '\0';
    cJSON_SetValuestring(node, out);
    free(out);
    return DLD_OK;
}

int dld_config_expand_env(cJSON *node, const char *where, struct dld_error *err)
{
    if (cJSON_IsString(node))
        return s_expand_string(node, where, err);
    for (cJSON *c = node->child; c; c = c->next) {
        char sub[512];
        if (c->string)
            snprintf(sub, sizeof sub, "%s.%s", where, c->string);
        else
            snprintf(sub, sizeof sub, "%s[]", where);
        int rc = dld_config_expand_env(c, sub, err);
        if (rc)
            return rc;
    }
    return DLD_OK;
}

static int s_int_member(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                        struct dld_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return DLD_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
        v->valuedouble > (double)max)
        return dld_error_set(err, DLD_ERR_CONFIG, "engine.%s must be an integer from %lld to %lld", key,
                             (long long)min, (long long)max);
    *out = (int64_t)v->valuedouble;
    return DLD_OK;
}

static int s_engine(const cJSON *e, struct dld_engine_conf *ec, struct dld_error *err)
{
    ec->parallelism = 4;
    ec->batch_rows = 65536;
    ec->lease_ttl_ms = 120000;
    ec->retries = 1;
    ec->retry_delay_ms = 1000;
    ec->schema_change = DLD_SCHEMA_FAIL;
    if (e == NULL)
        return DLD_OK;
    if (!cJSON_IsObject(e))
        return dld_error_set(err, DLD_ERR_CONFIG, "engine must be an object");
    static const char *known[] = {"parallelism",    "batch_rows",    "lease_ttl_seconds", "retries",
                                  "retry_delay_ms", "schema_change", NULL};
    for (const cJSON *c = e->child; c; c = c->next) {
        bool ok = false;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(c->string, known[i]) == 0;
        if (!ok)
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "engine: unknown key '%s' (valid: parallelism, batch_rows, lease_ttl_seconds, retries, "
                                 "retry_delay_ms, schema_change)",
                                 c->string);
    }
    int64_t v;
    int rc;
    v = ec->parallelism;
    if ((rc = s_int_member(e, "parallelism", 1, 64, &v, err)))
        return rc;
    ec->parallelism = (int)v;
    v = ec->batch_rows;
    if ((rc = s_int_member(e, "batch_rows", 1, 10000000, &v, err)))
        return rc;
    ec->batch_rows = (int)v;
    v = ec->lease_ttl_ms / 1000;
    if ((rc = s_int_member(e, "lease_ttl_seconds", 1, 86400 * 7, &v, err)))
        return rc;
    ec->lease_ttl_ms = v * 1000;
    v = ec->retries;
    if ((rc = s_int_member(e, "retries", 0, 10, &v, err)))
        return rc;
    ec->retries = (int)v;
    v = ec->retry_delay_ms;
    if ((rc = s_int_member(e, "retry_delay_ms", 0, 600000, &v, err)))
        return rc;
    ec->retry_delay_ms = v;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(e, "schema_change");
    if (sc && (rc = dld_schema_policy_parse(cJSON_GetStringValue(sc), "engine", &ec->schema_change, err)))
        return rc;
    return DLD_OK;
}

static int s_section(cJSON *root, uint32_t kind, struct dld_plugin_conf *pc, struct dld_error *err)
{
    const char *key = dld_kind_name(kind);
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, key);
    if (sec == NULL)
        return DLD_OK;
    if (!cJSON_IsObject(sec))
        return dld_error_set(err, DLD_ERR_CONFIG, "%s must be an object like {\"plugin\": \"NAME\", \"options\": {...}}", key);
    for (const cJSON *c = sec->child; c; c = c->next)
        if (strcmp(c->string, "plugin") && strcmp(c->string, "options"))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: unknown key '%s' (valid: plugin, options)", key, c->string);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(sec, "plugin");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "%s.plugin must be a non-empty string", key);
    for (const char *p = name->valuestring; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return dld_error_set(err, DLD_ERR_CONFIG, "%s.plugin '%s' may only hold letters, digits and '_'", key,
                                 name->valuestring);
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(sec, "options");
    if (opts && !cJSON_IsObject(opts))
        return dld_error_set(err, DLD_ERR_CONFIG, "%s.options must be an object", key);
    pc->present = true;
    pc->plugin = strdup(name->valuestring);
    pc->options = opts;
    return DLD_OK;
}

/* A state store kept in the source database would write into the source
 * (SQLite: switched to WAL, tables added): the `path` options of the two
 * sections may not name one file. */
static int s_check_state_path(struct dld_config *cfg, struct dld_error *err)
{
    const cJSON *sp = NULL, *tp = NULL;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(cfg->root, "source");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cfg->root, "state");
    if (cJSON_IsObject(src))
        sp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(src, "options"), "path");
    if (cJSON_IsObject(st))
        tp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "options"), "path");
    if (!cJSON_IsString(sp) || !cJSON_IsString(tp))
        return DLD_OK;
    struct stat a, b;
    bool same = !strcmp(sp->valuestring, tp->valuestring);
    if (!same && stat(sp->valuestring, &a) == 0 && stat(tp->valuestring, &b) == 0)
        same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    if (same)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s: state.options.path and source.options.path name the same file (%s): the state store "
                             "would write into the source database",
                             cfg->path, tp->valuestring);
    return DLD_OK;
}

/* The config's controller items, checked when the file is read (every
 * command, so a mistake is reported before anything runs): each item as
 * dld_item_parse checks it, and no targetTableName twice. */
static int s_check_items(struct dld_config *cfg, struct dld_error *err)
{
    int i = 0;
    for (const cJSON *t = cfg->tables ? cfg->tables->child : NULL; t; t = t->next, i++) {
        struct dld_item it;
        int rc = dld_item_parse(t, &it, err);
        if (rc) {
            dld_error_prefix(err, "%s: tables[%d]", cfg->path, i);
            return rc;
        }
        int j = 0;
        for (const cJSON *u = cfg->tables->child; u != t; u = u->next, j++) {
            const char *other = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "targetTableName"));
            if (other && !strcmp(other, it.name)) {
                rc = dld_error_set(err, DLD_ERR_CONFIG,
                                   "%s: tables[%d] and tables[%d] have the same targetTableName '%s' (one item per table)",
                                   cfg->path, j, i, it.name);
                break;
            }
        }
        dld_item_clean_up(&it);
        if (rc)
            return rc;
    }
    return DLD_OK;
}

int dld_config_load(const char *path, struct dld_config *cfg, struct dld_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = strdup(path);
    char *text = s_read_file(path, err);
    if (text == NULL)
        return DLD_ERR_CONFIG;
    size_t nul_at;
    if (dld_json_has_nul(text, &nul_at)) { /* cJSON would cut the string there */
        int line, col;
        s_position(text, text + nul_at, &line, &col);
        free(text);
        return dld_error_set(err, DLD_ERR_CONFIG, "%s:%d:%d: a string contains a NUL character (\\u0000)", path, line,
                             col);
    }
    const char *end = NULL;
    cfg->root = cJSON_ParseWithOpts(text, &end, 1);
    if (cfg->root == NULL) {
        int line, col;
        s_position(text, end ? end : cJSON_GetErrorPtr(), &line, &col);
        free(text);
        return dld_error_set(err, DLD_ERR_CONFIG, "%s:%d:%d: not valid JSON", path, line, col);
    }
    free(text);
    if (!cJSON_IsObject(cfg->root))
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the top level must be a JSON object", path);
    int irc = dld_config_includes(cfg->root, path, err); /* "include" (cmd_config.c) */
    if (irc)
        return irc;
    static const char *known[] = {"plugin_dirs", "source", "target", "state", "scheduler", "engine", "tables",
                                  "metrics", "notify", "include", NULL};
    for (const cJSON *c = cfg->root->child; c; c = c->next) {
        bool ok = false;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(c->string, known[i]) == 0;
        if (!ok)
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "%s: unknown top-level key '%s' (valid: plugin_dirs, source, target, state, scheduler, "
                                 "engine, tables, metrics, notify, include)",
                                 path, c->string);
    }
    int rc = dld_config_expand_env(cfg->root, "config", err);
    if (rc)
        return rc;
    const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(cfg->root, "plugin_dirs");
    if (dirs && !cJSON_IsArray(dirs))
        return dld_error_set(err, DLD_ERR_CONFIG, "plugin_dirs must be a list of directories");
    const char *const *defaults = dld_loader_default_dirs();
    size_t nd = 0, nf = (size_t)cJSON_GetArraySize(dirs);
    while (defaults[nd])
        nd++;
    cfg->plugin_dirs = calloc(nf + nd + 1, sizeof(char *));
    size_t k = 0;
    for (const cJSON *d = dirs ? dirs->child : NULL; d; d = d->next) {
        if (!cJSON_IsString(d))
            return dld_error_set(err, DLD_ERR_CONFIG, "plugin_dirs must hold strings");
        /* relative directories are relative to the config file */
        if (d->valuestring[0] != '/' && strchr(path, '/')) {
            const char *slash = strrchr(path, '/');
            if (asprintf(&cfg->plugin_dirs[k++], "%.*s/%s", (int)(slash - path), path, d->valuestring) < 0)
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        } else {
            cfg->plugin_dirs[k++] = strdup(d->valuestring);
        }
    }
    for (size_t i = 0; i < nd; i++)
        cfg->plugin_dirs[k++] = strdup(defaults[i]);
    for (uint32_t kind = DLD_KIND_SOURCE; kind <= DLD_KIND_SCHEDULER; kind++)
        if ((rc = s_section(cfg->root, kind, &cfg->kinds[kind], err)))
            return rc;
    if ((rc = s_engine(cJSON_GetObjectItemCaseSensitive(cfg->root, "engine"), &cfg->engine, err)))
        return rc;
    cfg->tables = cJSON_GetObjectItemCaseSensitive(cfg->root, "tables");
    if (cfg->tables && !cJSON_IsArray(cfg->tables))
        return dld_error_set(err, DLD_ERR_CONFIG, "tables must be a list of controller items");
    if ((rc = s_check_items(cfg, err)))
        return rc;
    if ((rc = s_check_state_path(cfg, err)))
        return rc;
    return dld_ops_conf_check(cfg->root, err); /* "metrics" and "notify" (metrics.c, notify.c) */
}

/* Secret options, and the passwords any option's conninfo or URI holds,
 * become the host's last line of redaction (host.c). */
static void s_register_secrets(const struct dld_plugin *desc, char *const *kv)
{
    for (size_t i = 0; kv && kv[i]; i += 2) {
        for (const struct dld_option *d = desc->options; d && d->name; d++)
            if (!strcmp(d->name, kv[i]) && (d->flags & DLD_OPTF_SECRET))
                dld_core_secret_add(kv[i + 1]);
        char **found = dld_redact_conninfo_secrets(kv[i + 1]);
        for (size_t k = 0; found && found[k]; k++)
            dld_core_secret_add(found[k]);
        dld_redact_list_free(found);
    }
}

int dld_config_plugin(struct dld_config *cfg, uint32_t kind, struct dld_error *err)
{
    struct dld_plugin_conf *pc = &cfg->kinds[kind];
    if (pc->is_loaded)
        return DLD_OK;
    if (!pc->present)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: no \"%s\" section; this command needs a %s plugin", cfg->path,
                             dld_kind_name(kind), dld_kind_name(kind));
    int rc = dld_loader_load(kind, pc->plugin, (const char *const *)cfg->plugin_dirs, &pc->loaded, err);
    if (rc)
        return rc;
    pc->is_loaded = true;
    char where[64];
    snprintf(where, sizeof where, "%s.options", dld_kind_name(kind));
    rc = dld_options_validate(&pc->loaded.desc, where, pc->options, &pc->kv, err);
    if (rc == DLD_OK)
        s_register_secrets(&pc->loaded.desc, pc->kv);
    if (rc == DLD_OK && kind == DLD_KIND_TARGET) {
        /* A target checks the ranges and combinations of its options in
         * open (the declared table holds types and choices only): open it
         * once here so a bad option is a configuration error (exit 3)
         * before any table starts, not a failure of every table. Targets
         * do no I/O in open beyond creating a local root folder. */
        void *inst = NULL;
        rc = pc->loaded.vt.target.open(dld_core_host(), (const char *const *)pc->kv, &inst, err);
        if (rc == DLD_OK)
            pc->loaded.vt.target.close(inst);
        else if (rc != DLD_ERR_CONFIG && rc != DLD_ERR_UNSUPPORTED)
            rc = DLD_OK; /* not about the options (out of memory, a busy disk): the tables report it */
        else
            dld_error_prefix(err, "%s (target plugin %s)", where, pc->plugin);
    }
    return rc;
}

void dld_kv_free(char **kv)
{
    for (size_t i = 0; kv && kv[i]; i++)
        free(kv[i]);
    free(kv);
}

void dld_config_clean_up(struct dld_config *cfg)
{
    for (int k = 0; k < 5; k++) {
        free(cfg->kinds[k].plugin);
        dld_kv_free(cfg->kinds[k].kv);
        if (cfg->kinds[k].is_loaded)
            dld_loader_unload(&cfg->kinds[k].loaded);
    }
    for (size_t i = 0; cfg->plugin_dirs && cfg->plugin_dirs[i]; i++)
        free(cfg->plugin_dirs[i]);
    free(cfg->plugin_dirs);
    cJSON_Delete(cfg->root);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}

static const char *s_type_name(uint32_t t)
{
    switch (t) {
    case DLD_OPT_STRING: return "a string";
    case DLD_OPT_INT: return "an integer";
    case DLD_OPT_BOOL: return "true or false";
    case DLD_OPT_DOUBLE: return "a number";
    default: return "any JSON value";
    }
}

/* Converts one JSON value to option text, checking its type. Strings are
 * accepted for numbers and booleans because ${VAR} always yields strings. */
static int s_option_text(const struct dld_option *o, const cJSON *v, const char *where, char **out,
                         struct dld_error *err)
{
    char buf[64];
    const char *text = NULL;
    bool ok = false;
    switch (o->type) {
    case DLD_OPT_STRING:
        ok = cJSON_IsString(v);
        text = ok ? v->valuestring : NULL;
        break;
    case DLD_OPT_INT:
        if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) <= 9.223372036854775808e18) {
            /* JSON numbers are doubles here: beyond 2^53 they are approximate,
             * and 9223372036854775807 reads as 2^63, i.e. the int64 maximum
             * (write a string for an exact large value) */
            long long n = v->valuedouble >= 9.223372036854775807e18    ? LLONG_MAX
                          : v->valuedouble <= -9.223372036854775808e18 ? LLONG_MIN
                                                                       : (long long)v->valuedouble;
            snprintf(buf, sizeof buf, "%lld", n);
            text = buf;
            ok = true;
        } else if (cJSON_IsString(v)) {
            char *end;
            errno = 0;
            strtoll(v->valuestring, &end, 10);
            ok = v->valuestring[0] && *end == '\0' && errno == 0;
            text = v->valuestring;
        }
        break;
    case DLD_OPT_DOUBLE:
        if (cJSON_IsNumber(v)) {
            snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
            text = buf;
            ok = true;
        } else if (cJSON_IsString(v)) {
            char *end;
            strtod(v->valuestring, &end);
            ok = v->valuestring[0] && *end == '\0';
            text = v->valuestring;
        }
        break;
    case DLD_OPT_BOOL:
        if (cJSON_IsBool(v)) {
            text = cJSON_IsTrue(v) ? "true" : "false";
            ok = true;
        } else if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false"))) {
            text = v->valuestring;
            ok = true;
        }
        break;
    case DLD_OPT_JSON: {
        char *s = cJSON_PrintUnformatted(v);
        if (s == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        *out = s;
        return DLD_OK;
    }
    }
    if (!ok)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s.%s must be %s", where, o->name, s_type_name(o->type));
    if (o->choices) {
        size_t n = strlen(text);
        bool found = false;
        for (const char *c = o->choices; *c;) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            found |= cl == n && strncmp(c, text, n) == 0;
            c += cl + (bar != NULL);
        }
        if (!found) {
            if (o->flags & DLD_OPTF_SECRET)
                return dld_error_set(err, DLD_ERR_CONFIG, "%s.%s must be one of %s", where, o->name, o->choices);
            return dld_error_set(err, DLD_ERR_CONFIG, "%s.%s is '%s'; it must be one of %s", where, o->name, text,
                                 o->choices);
        }
    }
    *out = strdup(text);
    return *out ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

int dld_options_validate(const struct dld_plugin *desc, const char *where, const cJSON *options, char ***kv_out,
                         struct dld_error *err)
{
    const struct dld_option *decl = desc->options;
    size_t ndecl = 0;
    while (decl && decl[ndecl].name)
        ndecl++;
    for (const cJSON *c = options ? options->child : NULL; c; c = c->next) {
        bool known = false;
        for (size_t i = 0; i < ndecl && !known; i++)
            known = strcmp(decl[i].name, c->string) == 0;
        if (!known) {
            char valid[1024] = "";
            size_t len = 0;
            for (size_t i = 0; i < ndecl && len < sizeof valid; i++)
                len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", decl[i].name);
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: unknown option '%s' for plugin %s (valid: %s)", where,
                                 c->string, desc->name, ndecl ? valid : "none");
        }
    }
    char **kv = calloc(2 * ndecl + 1, sizeof(char *));
    if (kv == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < ndecl; i++) {
        const struct dld_option *o = &decl[i];
        const cJSON *v = options ? cJSON_GetObjectItemCaseSensitive(options, o->name) : NULL;
        char *text = NULL;
        if (v && !cJSON_IsNull(v)) {
            int rc = s_option_text(o, v, where, &text, err);
            if (rc) {
                dld_kv_free(kv);
                return rc;
            }
        } else if (o->flags & DLD_OPTF_REQUIRED) {
            dld_kv_free(kv);
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: option '%s' is required by plugin %s (%s)", where, o->name,
                                 desc->name, o->help ? o->help : "no help");
        } else if (o->default_value) {
            text = strdup(o->default_value);
        } else {
            continue;
        }
        kv[k++] = strdup(o->name);
        kv[k++] = text;
    }
    *kv_out = kv;
    return DLD_OK;
}

cJSON *dld_options_redacted(const struct dld_plugin *desc, char *const *kv)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; kv && kv[i]; i += 2) {
        bool secret = false;
        for (const struct dld_option *d = desc->options; d && d->name; d++)
            if (strcmp(d->name, kv[i]) == 0)
                secret = (d->flags & DLD_OPTF_SECRET) != 0;
        cJSON_AddStringToObject(o, kv[i], secret ? "********" : kv[i + 1]);
    }
    return o;
}
