/* libFuzzer: the S3 XML decoder (dld_aws_xml_next / _text) and AWS error
 * bodies (XML and JSON) through dld_aws_error_from_response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/aws.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *xml = (const char *)data;
    static const char *const tags[] = {"Key", "Contents", "UploadId", "Code", "Message", "IsTruncated",
                                       "NextContinuationToken", "Upload", NULL};
    for (int t = 0; tags[t]; t++) {
        size_t pos = 0;
        const char *inner;
        size_t inner_len;
        for (int n = 0; n < 64 && dld_aws_xml_next(xml, size, tags[t], &pos, &inner, &inner_len); n++) {
            char *v = dld_aws_xml_text(inner, inner_len, "Key");
            free(v);
        }
        free(dld_aws_xml_text(xml, size, tags[t]));
    }
    char *body = malloc(size + 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    struct dld_aws_http_response resp = {.status = 400, .body = body, .body_len = size};
    struct dld_error err;
    dld_error_init(&err);
    dld_aws_error_from_response(&resp, "fuzz", &err);
    free(body);
    return 0;
}
