/* sched-eventbridge: shared between the plugin (options, vtable) and the
 * wire code (requests to EventBridge Scheduler and EventBridge). */
#ifndef DLD_EB_INTERNAL_H
#define DLD_EB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <deltaload/aws.h>
#include <deltaload/schedule.h>
#include <deltaload/scheduler.h>
#include <deltaload/sdk.h>

#define EB_NAME "scheduler-eventbridge"

enum eb_target_kind { EB_TARGET_ARN = 0, EB_TARGET_ECS = 1, EB_TARGET_LAMBDA = 2 };

struct eb {
    const struct dld_host *host;
    const char *const *options; /* borrowed for open only */
    struct dld_schedule sched;
    int anchored;
    int64_t anchor_ms;
    bool rule_mode;
    int target_kind;
    char *expression, *timezone, *name, *group, *target_arn, *role_arn, *description, *state, *dlq_arn,
        *start_date, *end_date, *event_bus, *config_path, *ecs_task_definition, *ecs_subnets, *ecs_security_groups,
        *ecs_container, *ecs_launch_type, *profile, *region_opt, *endpoint_opt, *akid, *secret, *token, *ca_bundle;
    int64_t flexible_window_minutes, retry_attempts, retry_event_age_s, ecs_task_count, max_attempts;
    int64_t start_s, end_s; /* -1: not set */
    bool ecs_assign_public_ip, verify_tls;
    /* made on first use: next_fire needs no credentials */
    char *region, *endpoint;
    struct dld_aws_credentials_provider *creds;
    struct dld_aws_client *client;
};

int eb_oom(struct dld_error *err);
/* deploy/show/remove over the wire (eb_wire.c); result JSON malloc'ed */
int eb_deploy(struct eb *e, const cJSON *command, cJSON **result, struct dld_error *err);
int eb_show(struct eb *e, cJSON **result, struct dld_error *err);
int eb_remove(struct eb *e, cJSON **result, struct dld_error *err);
/* the input the target receives: {"deltaload": {"config": ..., "tables": [...]}} */
char *eb_input_json(const struct eb *e, const cJSON *command);

#endif
