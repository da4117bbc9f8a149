/* Helpers for the target-s3 suites: the test servers' state (start.sh),
 * proxy control, reading objects back, test batches. */
#ifndef DLD_S3_TEST_UTIL_H
#define DLD_S3_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/aws.h>
#include <deltaload/sdk.h>

struct s3t_servers {
    char endpoint[128]; /* the verifying proxy */
    char data[512];     /* s3rver's directory */
    char akid[64];
    char secret[128];
    char creds[128];    /* stand-in IMDS / container / STS endpoint ("" if absent) */
};
/* reads $DLD_S3_STATE/servers.json; false (and prints why) if absent */
bool s3t_servers(struct s3t_servers *out);
/* proxy control: POST/DELETE/GET on /__proxy/<what>; returns the body (malloc) */
char *s3t_proxy(const struct s3t_servers *s, const char *method, const char *what, const char *json);
/* a number from the proxy's stats ("requests", "rejected", "faults",
 * "byOp.UploadPart", "openUploads" (count), "faultsPending") */
int64_t s3t_stat(const struct s3t_servers *s, const char *name);

/* signed GET/HEAD through the proxy with the SDK client; returns the HTTP
 * status, body in *body (malloc) */
int s3t_get(const struct s3t_servers *s, const char *bucket, const char *key, char **body, size_t *len);
/* keys under prefix, newline-separated (malloc) */
char *s3t_list(const struct s3t_servers *s, const char *bucket, const char *prefix);

/* n rows (id, name, amount) starting at id first */
void s3t_batch(int64_t first, int64_t n, struct ArrowSchema *schema, struct ArrowArray *array);
/* the bytes the CSV writer makes of those batches, for comparison */
char *s3t_expected_csv(int64_t total, int64_t batch, size_t *len);

#endif
