/* AWS error responses → dld error codes. S3 and STS answer in XML, the
 * JSON protocols (DynamoDB, EventBridge) with {"__type": ..., "message": ...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws_internal.h"

static bool s_in(const char *code, const char *const *list)
{
    for (; code && *list; list++)
        if (!strcmp(code, *list))
            return true;
    return false;
}

static const char *const s_throttling[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException", NULL};
static const char *const s_auth[] = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException",
    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidToken",
    "MissingAuthenticationToken", "IncompleteSignature", "InvalidSignatureException", "AuthFailure",
    "InvalidIdentityToken", "NotAuthorized", NULL};
static const char *const s_conflict[] = {"ConditionalCheckFailedException", "PreconditionFailed",
                                         "TransactionConflictException", "OperationAborted",
                                         "ConditionalRequestConflict", NULL};
static const char *const s_not_found[] = {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "ResourceNotFoundException",
                                          "NotFound", NULL};
static const char *const s_transient[] = {"InternalError", "InternalFailure", "ServiceUnavailable", "RequestTimeout",
                                          "RequestTimeoutException", "InternalServerError", "IDPCommunicationError",
                                          "ServiceUnavailableException", NULL};
static const char *const s_config[] = {"ValidationException", "InvalidArgument", "InvalidBucketName",
                                       "InvalidRequest", "KMS.NotFoundException", "InvalidStorageClass",
                                       "MalformedXML", "EntityTooSmall", "EntityTooLarge", NULL};

int dld_aws_error_code(int http_status, const char *aws_code)
{
    if (s_in(aws_code, s_throttling) || http_status == 429)
        return DLD_ERR_THROTTLED;
    if (s_in(aws_code, s_auth))
        return DLD_ERR_AUTH;
    if (s_in(aws_code, s_conflict))
        return DLD_ERR_CONFLICT;
    if (s_in(aws_code, s_not_found))
        return DLD_ERR_NOT_FOUND;
    if (s_in(aws_code, s_transient))
        return DLD_ERR_RETRY;
    if (s_in(aws_code, s_config))
        return DLD_ERR_CONFIG;
    if (aws_code && !strcmp(aws_code, "NotImplemented"))
        return DLD_ERR_UNSUPPORTED;
    switch (http_status) {
    case 401:
    case 403:
        return DLD_ERR_AUTH;
    case 404:
        return DLD_ERR_NOT_FOUND;
    case 409:
    case 412:
        return DLD_ERR_CONFLICT;
    case 501:
        return DLD_ERR_UNSUPPORTED;
    case 500:
    case 502:
    case 503:
    case 504:
        return DLD_ERR_RETRY;
    default:
        return http_status >= 500 ? DLD_ERR_RETRY : DLD_ERR_FATAL;
    }
}

static const char *s_status_code(int status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 412: return "PreconditionFailed";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 501: return "NotImplemented";
    case 503: return "ServiceUnavailable";
    default: return NULL;
    }
}

int dld_aws_error_from_response(const struct dld_aws_http_response *resp, const char *what, struct dld_error *err)
{
    char *code = NULL, *message = NULL, *request_id = NULL;
    const char *body = resp->body;
    size_t len = resp->body_len;
    if (body && len && body[0] == '{') {
        cJSON *j = cJSON_ParseWithLength(body, len);
        if (j) {
            cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
            if (!cJSON_IsString(t))
                t = cJSON_GetObjectItemCaseSensitive(j, "code");
            if (cJSON_IsString(t)) {
                const char *hash = strrchr(t->valuestring, '#');
                code = strdup(hash ? hash + 1 : t->valuestring);
            }
            cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
            if (!cJSON_IsString(m))
                m = cJSON_GetObjectItemCaseSensitive(j, "Message");
            if (cJSON_IsString(m))
                message = strdup(m->valuestring);
            cJSON_Delete(j);
        }
    } else if (body && len) {
        code = dld_aws_xml_text(body, len, "Code");
        message = dld_aws_xml_text(body, len, "Message");
        request_id = dld_aws_xml_text(body, len, "RequestId");
    }
    if (!code) {
        const char *h = dld_aws_http_response_header(resp, "x-amzn-errortype");
        if (h) {
            size_t n = strcspn(h, ":");
            code = dld_aws_strndup(h, n);
        } else if (s_status_code(resp->status)) {
            code = strdup(s_status_code(resp->status));
        }
    }
    if (!request_id) {
        const char *h = dld_aws_http_response_header(resp, "x-amz-request-id");
        if (!h)
            h = dld_aws_http_response_header(resp, "x-amzn-requestid");
        request_id = dld_aws_strdup(h);
    }
    int rc = dld_aws_error_code(resp->status, code);
    dld_error_set(err, rc, "%s: HTTP %d %s%s%s%s%s%s", what, resp->status, code ? code : "(no error code)",
                  message ? ": " : "", message ? message : "", request_id ? " (request id " : "",
                  request_id ? request_id : "", request_id ? ")" : "");
    dld_error_upstream(err, resp->status, code, request_id);
    free(code);
    free(message);
    free(request_id);
    return rc;
}
