/* libFuzzer: AWS JSON documents: credentials (IMDS, container endpoint,
 * credential_process) and JSON error bodies (DynamoDB's __type). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    struct dld_aws_credentials c = {0};
    struct dld_error err;
    dld_error_init(&err);
    if (dld_aws_credentials_from_json(json, size, "fuzz", &c, &err) == DLD_OK)
        dld_aws_credentials_clean_up(&c);
    struct dld_aws_header h = {.name = "content-type", .value = "application/x-amz-json-1.0"};
    struct dld_aws_http_response resp = {.status = 400, .headers = &h, .nheaders = 1, .body = json, .body_len = size};
    dld_error_init(&err);
    dld_aws_error_from_response(&resp, "fuzz", &err);
    free(json);
    return 0;
}
