/*
 * Controller items: one table to load and how, with the attribute names of
 * the AWS pattern deltaload replaces. Parsing validates everything a plugin
 * will later rely on (identifiers, operator, required values).
 */
#ifndef DLD_CORE_ITEMS_H
#define DLD_CORE_ITEMS_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>

struct dld_item {
    cJSON *json;            /* the item as stored (owned) */
    char *item_json;        /* its text */
    char *name, *schema, *table, *column, *op, *start, *end, *prefix;
    bool active;
    int64_t lag_seconds;
    int schema_change;      /* enum dld_schema_policy; DLD_SCHEMA_UNSET: engine.schema_change */
    uint32_t mode;          /* DLD_MODE_DELTA for gte/between/commit, else DLD_MODE_FULL */
    struct dld_table t;     /* view for plugins; points into the strings above */
};

/* Parses and validates; obj is copied. */
int dld_item_parse(const cJSON *obj, struct dld_item *it, struct dld_error *err);
int dld_item_parse_text(const char *text, struct dld_item *it, struct dld_error *err);
void dld_item_clean_up(struct dld_item *it);

/* Attribute names accepted in an item (for `tables set` help and validation). */
extern const char *const dld_item_known_attributes[];

/* Strict checks (docs/configuration.md#controller-items). An attribute name
 * that is not known but differs from a known one only by case, or by one
 * edit (known names of 4+ letters), is an error naming both; *known says
 * whether it is one of dld_item_known_attributes. */
int dld_item_attribute_check(const char *key, bool *known, struct dld_error *err);
/* Attribute names, control characters in values, values without a
 * filtercolumn, and the lake path (no '.', '..', '\'); called by
 * dld_item_parse once the strings are read. */
int dld_item_strict(const cJSON *obj, struct dld_item *it, const char *active, const char *who,
                    struct dld_error *err);
/* true when a JSON text holds a \u0000 escape inside a string (cJSON would
 * cut the value there); *offset (if not NULL) is its byte offset. */
bool dld_json_has_nul(const char *text, size_t *offset);

#endif
