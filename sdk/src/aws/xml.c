/* Just enough XML for S3 and STS responses: find an element by tag name,
 * decode the five predefined entities and numeric references. The
 * documents are small, flat and machine-written; a full parser would buy
 * nothing here. */
#include <stdlib.h>
#include <string.h>

#include "aws_internal.h"

/* finds "<tag>" or "<tag attr...>" (not "<tagX>") at or after pos */
static const char *s_find_open(const char *xml, size_t len, const char *tag, size_t pos, const char **content)
{
    size_t tl = strlen(tag);
    const char *end = xml + len;
    const char *p = xml + pos;
    while (p < end) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || (size_t)(end - p) < tl + 2)
            return NULL;
        if (memcmp(p + 1, tag, tl) == 0 && (p[1 + tl] == '>' || p[1 + tl] == ' ' || p[1 + tl] == '/')) {
            const char *gt = memchr(p, '>', (size_t)(end - p));
            if (!gt)
                return NULL;
            *content = gt + 1;
            return p;
        }
        p++;
    }
    return NULL;
}

bool dld_aws_xml_next(const char *xml, size_t len, const char *tag, size_t *pos, const char **inner,
                      size_t *inner_len)
{
    if (!xml)
        return false;
    const char *content;
    const char *open = s_find_open(xml, len, tag, *pos, &content);
    if (!open)
        return false;
    if (content[-2] == '/') { /* <tag/> */
        *inner = content;
        *inner_len = 0;
        *pos = (size_t)(content - xml);
        return true;
    }
    /* the matching close tag, counting nested elements of the same name */
    size_t tl = strlen(tag);
    const char *end = xml + len;
    const char *p = content;
    int depth = 1;
    while (p < end) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p)
            return false;
        /* length first: a '<' may be the buffer's last byte (found by tests/fuzz) */
        if ((size_t)(end - p) >= tl + 3 && p[1] == '/' && memcmp(p + 2, tag, tl) == 0 && p[2 + tl] == '>') {
            if (--depth == 0) {
                *inner = content;
                *inner_len = (size_t)(p - content);
                *pos = (size_t)(p + tl + 3 - xml);
                return true;
            }
        } else if ((size_t)(end - p) >= tl + 2 && memcmp(p + 1, tag, tl) == 0 &&
                   (p[1 + tl] == '>' || p[1 + tl] == ' ')) {
            depth++;
        }
        p++;
    }
    return false;
}

static size_t s_put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static char *s_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '&') {
            out[o++] = s[i];
            continue;
        }
        const char *semi = memchr(s + i, ';', len - i);
        size_t n = semi ? (size_t)(semi - (s + i)) + 1 : 0;
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;
        for (size_t k = 0; k < 5 && n; k++) {
            if (n == strlen(ents[k].ent) && memcmp(s + i, ents[k].ent, n) == 0) {
                out[o++] = ents[k].c;
                i += n - 1;
                done = true;
                break;
            }
        }
        if (!done && n > 3 && s[i + 1] == '#') {
            char *endp;
            unsigned long cp = (s[i + 2] == 'x' || s[i + 2] == 'X') ? strtoul(s + i + 3, &endp, 16)
                                                                     : strtoul(s + i + 2, &endp, 10);
            if (endp == s + i + n - 1 && cp > 0 && cp <= 0x10FFFF && n >= 4) {
                o += s_put_utf8(out + o, cp); /* at most 4 bytes for >= 4 input bytes */
                i += n - 1;
                done = true;
            }
        }
        if (!done)
            out[o++] = '&';
    }
    out[o] = '\0';
    return out;
}

char *dld_aws_xml_text(const char *xml, size_t len, const char *tag)
{
    size_t pos = 0;
    const char *inner;
    size_t n;
    if (!dld_aws_xml_next(xml, len, tag, &pos, &inner, &n))
        return NULL;
    return s_decode(inner, n);
}

char *dld_aws_xml_escape(const char *s)
{
    struct dld_aws_buf b = {0};
    dld_aws_buf_append(&b, "", 0);
    for (; s && *s; s++) {
        switch (*s) {
        case '&': dld_aws_buf_puts(&b, "&amp;"); break;
        case '<': dld_aws_buf_puts(&b, "&lt;"); break;
        case '>': dld_aws_buf_puts(&b, "&gt;"); break;
        case '"': dld_aws_buf_puts(&b, "&quot;"); break;
        case '\'': dld_aws_buf_puts(&b, "&apos;"); break;
        default: dld_aws_buf_putc(&b, *s);
        }
    }
    return dld_aws_buf_take(&b);
}
