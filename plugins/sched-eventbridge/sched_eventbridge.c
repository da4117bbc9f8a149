/* scheduler-eventbridge: the schedule lives in AWS. `deltaload schedule
 * deploy|show|remove` create/update, read back and delete an EventBridge
 * Scheduler schedule (mode "scheduler", the default) or a classic EventBridge
 * rule with one target (mode "rule", what the replaced tooling used). The
 * schedule's target is an ECS task, a Lambda function, or any ARN given a
 * JSON input naming the config and the tables. next_fire answers from the
 * same expression and time zone with the SDK's evaluator, so `daemon` and
 * `plan` agree with what AWS will do. Wire code: eb_wire.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eb_internal.h"

int eb_oom(struct dld_error *err)
{
    return dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", EB_NAME);
}

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void s_free(struct eb *e)
{
    if (e == NULL)
        return;
    char **strs[] = {&e->expression, &e->timezone, &e->name, &e->group, &e->target_arn, &e->role_arn,
                     &e->description, &e->state, &e->dlq_arn, &e->start_date, &e->end_date, &e->event_bus,
                     &e->config_path, &e->ecs_task_definition, &e->ecs_subnets, &e->ecs_security_groups,
                     &e->ecs_container, &e->ecs_launch_type, &e->profile, &e->region_opt, &e->endpoint_opt,
                     &e->akid, &e->secret, &e->token, &e->ca_bundle, &e->region, &e->endpoint};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    if (e->client)
        dld_aws_client_destroy(e->client);
    if (e->creds)
        dld_aws_credentials_provider_destroy(e->creds);
    const struct dld_host *h = e->host;
    h->free(e);
}

/* "2030-01-01T00:00:00Z" (or +hh:mm) into epoch seconds; -1 if malformed */
static int64_t s_iso_s(const char *t)
{
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19)
        return -1;
    const char *p = t + n;
    int64_t off = 0;
    if (*p == 'Z' && p[1] == '\0') {
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
        if (*p == '-')
            off = -off;
    } else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    return dld_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
}

static bool s_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return false;
    return true;
}

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    *inst = NULL;
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_FATAL, "%s: the host function table is incomplete", EB_NAME);
    struct eb *e = host->alloc(sizeof(*e));
    if (e == NULL)
        return eb_oom(err);
    memset(e, 0, sizeof(*e));
    e->host = host;
#define OPT(field, key) e->field = s_dup(dld_opt_get(options, key))
    OPT(expression, "expression");
    OPT(timezone, "timezone");
    OPT(name, "name");
    OPT(group, "group");
    OPT(target_arn, "target_arn");
    OPT(role_arn, "role_arn");
    OPT(description, "description");
    OPT(state, "state");
    OPT(dlq_arn, "dead_letter_arn");
    OPT(start_date, "start_date");
    OPT(end_date, "end_date");
    OPT(event_bus, "event_bus");
    OPT(config_path, "config_path");
    OPT(ecs_task_definition, "ecs_task_definition");
    OPT(ecs_subnets, "ecs_subnets");
    OPT(ecs_security_groups, "ecs_security_groups");
    OPT(ecs_container, "ecs_container");
    OPT(ecs_launch_type, "ecs_launch_type");
    OPT(profile, "profile");
    OPT(region_opt, "region");
    OPT(endpoint_opt, "endpoint");
    OPT(akid, "access_key_id");
    OPT(secret, "secret_access_key");
    OPT(token, "session_token");
    OPT(ca_bundle, "ca_bundle");
#undef OPT
    const char *mode = dld_opt_get(options, "mode");
    e->rule_mode = mode != NULL && !strcmp(mode, "rule");
    e->flexible_window_minutes = dld_opt_int(options, "flexible_window_minutes", 0);
    e->retry_attempts = dld_opt_int(options, "retry_max_attempts", -1);
    e->retry_event_age_s = dld_opt_int(options, "retry_max_event_age_s", -1);
    e->ecs_task_count = dld_opt_int(options, "ecs_task_count", 1);
    e->max_attempts = dld_opt_int(options, "max_attempts", 5);
    e->ecs_assign_public_ip = dld_opt_bool(options, "ecs_assign_public_ip", false);
    e->verify_tls = dld_opt_bool(options, "verify_tls", true);
    e->start_s = e->end_s = -1;
    int rc = DLD_OK;
    if (e->name == NULL)
        e->name = s_dup("deltaload");
    if (e->group == NULL)
        e->group = s_dup("default");
    if (e->state == NULL)
        e->state = s_dup("ENABLED");
    if (e->ecs_container == NULL)
        e->ecs_container = s_dup("deltaload");
    if (e->name == NULL || e->group == NULL || e->state == NULL || e->ecs_container == NULL) {
        rc = eb_oom(err);
        goto done;
    }
    if (e->expression == NULL || e->expression[0] == '\0') {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "option 'expression' is required, e.g. rate(1 hour) or cron(0 2 * * ? *)");
        goto done;
    }
    if ((rc = dld_schedule_parse(&e->sched, e->expression, err)) != DLD_OK ||
        (rc = dld_schedule_set_timezone(&e->sched, e->timezone, err)) != DLD_OK) {
        dld_error_prefix(err, "option 'expression'");
        goto done;
    }
    if (!s_name_ok(e->name, 64) || !s_name_ok(e->group, 64)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "options 'name' and 'group': 1 to 64 characters of a-z A-Z 0-9 - _ . ('%s', '%s')",
                           e->name, e->group);
        goto done;
    }
    if (e->rule_mode) {
        /* classic rules evaluate in UTC and have no one-time form or dates */
        if (e->sched.kind == DLD_SCHEDULE_AT || strcmp(e->sched.tz, "UTC") != 0 || e->start_date || e->end_date ||
            e->flexible_window_minutes) {
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "mode 'rule': EventBridge rules run rate() and cron() in UTC only, without at(), "
                               "start_date, end_date or flexible_window_minutes; use mode 'scheduler' for those");
            goto done;
        }
    }
    if (e->start_date && (e->start_s = s_iso_s(e->start_date)) < 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "option 'start_date' '%s': expected 2030-01-01T00:00:00Z",
                           e->start_date);
        goto done;
    }
    if (e->end_date && (e->end_s = s_iso_s(e->end_date)) < 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "option 'end_date' '%s': expected 2030-01-01T00:00:00Z", e->end_date);
        goto done;
    }
    if (e->flexible_window_minutes < 0 || e->flexible_window_minutes > 1440 || e->retry_attempts > 185 ||
        (e->retry_event_age_s != -1 && (e->retry_event_age_s < 60 || e->retry_event_age_s > 86400)) ||
        e->ecs_task_count < 1 || e->ecs_task_count > 10 || e->max_attempts < 1 || e->max_attempts > 20) {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "flexible_window_minutes must be 0-1440, retry_max_attempts 0-185, "
                           "retry_max_event_age_s 60-86400, ecs_task_count 1-10, max_attempts 1-20");
        goto done;
    }
    if (e->target_arn) {
        if (strstr(e->target_arn, ":ecs:") != NULL)
            e->target_kind = EB_TARGET_ECS;
        else if (strstr(e->target_arn, ":lambda:") != NULL)
            e->target_kind = EB_TARGET_LAMBDA;
        if (e->target_kind == EB_TARGET_ECS && e->ecs_task_definition == NULL) {
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "target_arn is an ECS cluster: option 'ecs_task_definition' is required");
            goto done;
        }
    }
done:
    if (rc != DLD_OK) {
        dld_error_prefix(err, "%s", EB_NAME);
        s_free(e);
        return rc;
    }
    *inst = e;
    return DLD_OK;
}

static void s_close(void *inst)
{
    s_free(inst);
}

static int s_next_fire(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err)
{
    struct eb *e = inst;
    if (!e->anchored) {
        e->anchored = 1;
        e->anchor_ms = e->start_s >= 0 ? e->start_s * 1000 : after_ms;
    }
    int64_t from = after_ms;
    if (e->start_s >= 0 && from < e->start_s * 1000 - 1)
        from = e->start_s * 1000 - 1; /* nothing fires before StartDate */
    int ret = dld_schedule_next(&e->sched, e->anchor_ms, from, next_ms);
    if (ret < 0)
        return dld_error_set(err, ret, "%s: the schedule could not be evaluated", EB_NAME);
    if (ret == DLD_OK && e->end_s >= 0 && *next_ms > e->end_s * 1000)
        return DLD_DONE; /* past EndDate */
    return ret;
}

static int s_describe(void *inst, char **text, struct dld_error *err)
{
    struct eb *e = inst;
    char buf[700], d[512];
    dld_schedule_describe(&e->sched, d, sizeof d);
    snprintf(buf, sizeof buf, "%s; deployed as EventBridge %s '%s'%s%s", d,
             e->rule_mode ? "rule" : "Scheduler schedule", e->name, e->rule_mode ? "" : " in group ",
             e->rule_mode ? "" : e->group);
    *text = dld_host_strdup(e->host, buf);
    return *text ? DLD_OK : eb_oom(err);
}

/* JSON out at the host's allocator */
static int s_hand_over(struct eb *e, cJSON *result, char **out, struct dld_error *err)
{
    char *text = cJSON_PrintUnformatted(result);
    cJSON_Delete(result);
    if (text == NULL)
        return eb_oom(err);
    *out = dld_host_strdup(e->host, text);
    free(text);
    return *out ? DLD_OK : eb_oom(err);
}

static int s_deploy(void *inst, const char *command_json, char **result_json, struct dld_error *err)
{
    struct eb *e = inst;
    *result_json = NULL;
    cJSON *cmd = cJSON_Parse(command_json ? command_json : "{}");
    if (cmd == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "%s: deploy: the command is not JSON", EB_NAME);
    cJSON *result = NULL;
    int rc = eb_deploy(e, cmd, &result, err);
    cJSON_Delete(cmd);
    if (rc != DLD_OK) {
        cJSON_Delete(result);
        return rc;
    }
    return s_hand_over(e, result, result_json, err);
}

static int s_show(void *inst, char **result_json, struct dld_error *err)
{
    struct eb *e = inst;
    *result_json = NULL;
    cJSON *result = NULL;
    int rc = eb_show(e, &result, err);
    if (rc != DLD_OK) {
        cJSON_Delete(result);
        return rc;
    }
    return s_hand_over(e, result, result_json, err);
}

static int s_remove(void *inst, char **result_json, struct dld_error *err)
{
    struct eb *e = inst;
    *result_json = NULL;
    cJSON *result = NULL;
    int rc = eb_remove(e, &result, err);
    if (rc != DLD_OK) {
        cJSON_Delete(result);
        return rc;
    }
    return s_hand_over(e, result, result_json, err);
}

static const struct dld_scheduler_vtable s_vtable = {
    .struct_size = sizeof(struct dld_scheduler_vtable),
    .open = s_open,
    .close = s_close,
    .next_fire = s_next_fire,
    .deploy = s_deploy,
    .describe = s_describe,
    .show = s_show,
    .remove = s_remove,
};

static const struct dld_option s_options[] = {
    {"expression", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL,
     "Schedule expression: rate(N minute(s)|hour(s)|day(s)), cron(min hour day-of-month month day-of-week year) "
     "or at(yyyy-mm-ddThh:mm:ss) (scheduler mode only). Checked with the same rules as the local scheduler.",
     NULL},
    {"timezone", DLD_OPT_STRING, 0, "UTC", NULL,
     "ScheduleExpressionTimezone: an IANA name such as Europe/Berlin (or UTC). Rules (mode rule) are UTC only.",
     NULL},
    {"mode", DLD_OPT_STRING, 0, "scheduler", "scheduler|rule",
     "scheduler: an EventBridge Scheduler schedule; rule: a classic EventBridge rule with ScheduleExpression and "
     "one target (what the replaced tooling used).",
     NULL},
    {"name", DLD_OPT_STRING, 0, "deltaload", NULL, "Name of the schedule or rule (1-64 of a-z A-Z 0-9 - _ .).",
     NULL},
    {"group", DLD_OPT_STRING, 0, "default", NULL, "Schedule group (scheduler mode); it must exist.", NULL},
    {"target_arn", DLD_OPT_STRING, 0, NULL, NULL,
     "What the schedule invokes: an ECS cluster ARN (runs a task), a Lambda function ARN, or any target ARN "
     "(given a JSON input naming the config and the tables). Required for deploy.",
     NULL},
    {"role_arn", DLD_OPT_STRING, 0, NULL, NULL,
     "IAM role the schedule assumes to invoke the target (required in scheduler mode and for ECS rule targets).",
     NULL},
    {"description", DLD_OPT_STRING, 0, NULL, NULL, "Description stored with the schedule or rule.", NULL},
    {"state", DLD_OPT_STRING, 0, "ENABLED", "ENABLED|DISABLED", "Whether the schedule or rule fires.", NULL},
    {"flexible_window_minutes", DLD_OPT_INT, 0, "0", NULL,
     "Flexible time window in minutes (scheduler mode; 0 = OFF, up to 1440).", NULL},
    {"start_date", DLD_OPT_STRING, 0, NULL, NULL, "StartDate, e.g. 2030-01-01T00:00:00Z (scheduler mode).", NULL},
    {"end_date", DLD_OPT_STRING, 0, NULL, NULL, "EndDate, e.g. 2031-01-01T00:00:00Z (scheduler mode).", NULL},
    {"retry_max_attempts", DLD_OPT_INT, 0, NULL, NULL, "Target RetryPolicy MaximumRetryAttempts (0-185).", NULL},
    {"retry_max_event_age_s", DLD_OPT_INT, 0, NULL, NULL,
     "Target RetryPolicy MaximumEventAgeInSeconds (60-86400).", NULL},
    {"dead_letter_arn", DLD_OPT_STRING, 0, NULL, NULL, "SQS queue ARN for invocations that failed (DLQ).", NULL},
    {"event_bus", DLD_OPT_STRING, 0, NULL, NULL, "Event bus of the rule (mode rule); default the default bus.",
     NULL},
    {"config_path", DLD_OPT_STRING, 0, NULL, NULL,
     "Path of the deltaload config as the target sees it (in the container or function); default the path "
     "given to `deltaload schedule deploy`.",
     NULL},
    {"ecs_task_definition", DLD_OPT_STRING, 0, NULL, NULL, "ECS target: task definition ARN (or family:revision).",
     NULL},
    {"ecs_subnets", DLD_OPT_STRING, 0, NULL, NULL, "ECS target: comma-separated subnet ids (awsvpc).", NULL},
    {"ecs_security_groups", DLD_OPT_STRING, 0, NULL, NULL, "ECS target: comma-separated security group ids.",
     NULL},
    {"ecs_assign_public_ip", DLD_OPT_BOOL, 0, "false", NULL, "ECS target: AssignPublicIp ENABLED.", NULL},
    {"ecs_launch_type", DLD_OPT_STRING, 0, NULL, NULL, "ECS target: FARGATE, EC2 or EXTERNAL.", NULL},
    {"ecs_task_count", DLD_OPT_INT, 0, "1", NULL, "ECS target: tasks started per fire (1-10).", NULL},
    {"ecs_container", DLD_OPT_STRING, 0, "deltaload", NULL,
     "ECS target: the container whose command the override sets to deltaload's.", NULL},
    {"region", DLD_OPT_STRING, 0, NULL, NULL,
     "AWS region; default AWS_REGION, AWS_DEFAULT_REGION or the profile's region (us-east-1 when an endpoint is "
     "given and nothing else is).",
     NULL},
    {"endpoint", DLD_OPT_STRING, 0, NULL, NULL,
     "Endpoint URL for tests; default AWS_ENDPOINT_URL_SCHEDULER (mode rule: AWS_ENDPOINT_URL_EVENTBRIDGE), "
     "AWS_ENDPOINT_URL, the profile's endpoint_url, else https://scheduler.<region>.amazonaws.com "
     "(https://events.<region>.amazonaws.com).",
     NULL},
    {"profile", DLD_OPT_STRING, 0, NULL, NULL,
     "Profile of the shared AWS config/credentials files; default AWS_PROFILE or 'default'.", NULL},
    {"access_key_id", DLD_OPT_STRING, 0, NULL, NULL,
     "Static access key id (prefer the environment, a profile or a role).", NULL},
    {"secret_access_key", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "Static secret access key.", NULL},
    {"session_token", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "Session token for temporary static keys.",
     NULL},
    {"ca_bundle", DLD_OPT_STRING, 0, NULL, NULL, "CA bundle file for TLS verification (default: the system's).",
     NULL},
    {"verify_tls", DLD_OPT_BOOL, 0, "true", NULL, "Verify the server's TLS certificate. Leave on.", NULL},
    {"max_attempts", DLD_OPT_INT, 0, "5", NULL,
     "Attempts per request, the first included (throttling and 5xx are retried with backoff).", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SCHEDULER,
    .capabilities = DLD_CAP_REMOTE_SCHEDULE,
    .name = "eventbridge",
    .version = "0.1.0",
    .description = "Deploys the schedule to Amazon EventBridge Scheduler (or an EventBridge rule) targeting ECS, "
                   "Lambda or any ARN",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(sched_eventbridge, s_plugin);
