/*
 * Notifications after a cycle (docs/operations.md): the config's optional
 * "notify" list, each entry an SNS topic, a webhook or a command, with a
 * filter (failures only by default, every load, or some tables) and an
 * option to send one summary per cycle instead of one message per load.
 * A failed notification is logged and never fails the load; each send is
 * bounded by its entry's timeout. Webhook URLs are never printed.
 */
#ifndef DLD_CORE_NOTIFY_H
#define DLD_CORE_NOTIFY_H

#include <cjson/cJSON.h>

#include "config.h"

struct dld_table_result;

/* Checks the shape of the "notify" list (absent is fine). */
int dld_notify_conf(const cJSON *root, struct dld_error *err);
/* Sends what the cycle's results call for. Returns how many notifications
 * failed (already logged). */
int dld_notify_cycle(struct dld_config *cfg, const struct dld_table_result *res, int n);
/* "scheme://host[:port]/…" with everything after the host (path, query,
 * user info) replaced by "/…": what may be printed of a URL. malloc'ed. */
char *dld_notify_redact_url(const char *url);

#endif
