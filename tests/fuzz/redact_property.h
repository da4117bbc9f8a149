/* The property the redaction must keep, shared by the `item` fuzz target
 * and the unit test in tests/core/test_reliability.c.
 *
 * "A secret found in the text never survives dld_redact_dup" is too strict
 * as a plain strstr when a secret itself contains '*': masking one value
 * writes "********", and the mask next to text that was never secret can
 * spell a secret again (`pSECRETrd=****` masked gives `pSECRETrd=********`,
 * which contains the extracted "secret" `RETrd=****`). No original text
 * survives in that case: dld_redact replaces every occurrence of each
 * secret, and each later step only removes text and writes masks, so an
 * occurrence left at the end must have been made, in part, by a mask.
 *
 * The exact property is therefore: every occurrence of a secret in the
 * redacted text overlaps a mask, i.e. contains a '*' that lies in a run of
 * at least strlen("********") stars. A secret without '*' may never occur
 * at all; one with '*' may occur only across a mask. Returns the offset of
 * the first occurrence that breaks it, or -1. */
#ifndef DLD_TEST_REDACT_PROPERTY_H
#define DLD_TEST_REDACT_PROPERTY_H

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#define DLD_TEST_REDACT_MASK_LEN 8

static inline ssize_t dld_test_redact_leak(const char *red, const char *secret)
{
    size_t n = strlen(secret);
    if (n == 0)
        return -1;
    for (const char *hit = strstr(red, secret); hit != NULL; hit = strstr(hit + 1, secret)) {
        bool masked = false;
        for (size_t j = 0; j < n && !masked; j++) {
            if (hit[j] != '*')
                continue;
            const char *a = hit + j, *b = hit + j;
            while (a > red && a[-1] == '*')
                a--;
            while (*b == '*')
                b++;
            masked = b - a >= DLD_TEST_REDACT_MASK_LEN;
        }
        if (!masked)
            return hit - red;
    }
    return -1;
}

#endif
