/*
 * A growing text buffer for building statements and messages. An allocation
 * failure is remembered instead of reported at every call, so builders can
 * append freely and check once when they take the text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ora_internal.h"

void dld_ora_buf_init(struct dld_ora_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void dld_ora_buf_clean_up(struct dld_ora_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static bool s_reserve(struct dld_ora_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void dld_ora_buf_addn(struct dld_ora_buf *b, const char *s, size_t n)
{
    if (!s_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dld_ora_buf_add(struct dld_ora_buf *b, const char *s)
{
    dld_ora_buf_addn(b, s, strlen(s));
}

void dld_ora_buf_printf(struct dld_ora_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !s_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *dld_ora_buf_take(struct dld_ora_buf *b)
{
    if (b->failed || !s_reserve(b, 0)) {
        dld_ora_buf_clean_up(b);
        return NULL;
    }
    char *s = b->data;
    memset(b, 0, sizeof(*b));
    return s;
}
