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
    uint32_t mode;          /* DLD_MODE_DELTA for gte/between, else DLD_MODE_FULL */
    struct dld_table t;     /* view for plugins; points into the strings above */
};

/* Parses and validates; obj is copied. */
int dld_item_parse(const cJSON *obj, struct dld_item *it, struct dld_error *err);
int dld_item_parse_text(const char *text, struct dld_item *it, struct dld_error *err);
void dld_item_clean_up(struct dld_item *it);

/* Attribute names accepted in an item (for `tables set` help and validation). */
extern const char *const dld_item_known_attributes[];

#endif
