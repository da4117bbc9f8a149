/* `deltaload config check` and the config's "include" list (cmd_config.c). */
#ifndef DLD_CORE_CMD_CONFIG_H
#define DLD_CORE_CMD_CONFIG_H

#include <cjson/cJSON.h>
#include <deltaload/abi.h>

/* Merges the files root["include"] names (relative to the directory of
 * `path`, the file root was read from) under root, then removes the key.
 * Precedence: root's own values win over every include, a later include
 * over an earlier one; objects are merged key by key, anything else (lists
 * included) is replaced whole. Included files may include others (8 deep). */
int dld_config_includes(cJSON *root, const char *path, struct dld_error *err);

#endif
