/* Reading Arrow schemas: format strings → dld_column_spec (sdk.h). */
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

static int s_unit(char c, uint32_t *unit)
{
    switch (c) {
    case 's': *unit = DLD_UNIT_SECOND; return 0;
    case 'm': *unit = DLD_UNIT_MILLI; return 0;
    case 'u': *unit = DLD_UNIT_MICRO; return 0;
    case 'n': *unit = DLD_UNIT_NANO; return 0;
    default: return -1;
    }
}

int dld_arrow_column_spec(const struct ArrowSchema *child, struct dld_column_spec *spec, struct dld_error *err)
{
    const char *f = child->format;
    memset(spec, 0, sizeof(*spec));
    spec->name = child->name ? child->name : "";
    spec->nullable = (child->flags & ARROW_FLAG_NULLABLE) != 0;
    if (f == NULL)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s has no Arrow format", spec->name);
    if (f[0] != '\0' && f[1] == '\0') {
        switch (f[0]) {
        case 'b': spec->type = DLD_T_BOOL; return DLD_OK;
        case 'c': spec->type = DLD_T_INT8; return DLD_OK;
        case 's': spec->type = DLD_T_INT16; return DLD_OK;
        case 'i': spec->type = DLD_T_INT32; return DLD_OK;
        case 'l': spec->type = DLD_T_INT64; return DLD_OK;
        case 'f': spec->type = DLD_T_FLOAT32; return DLD_OK;
        case 'g': spec->type = DLD_T_FLOAT64; return DLD_OK;
        case 'u': spec->type = DLD_T_STRING; return DLD_OK;
        case 'z': spec->type = DLD_T_BINARY; return DLD_OK;
        default: break;
        }
    }
    if (f[0] == 'd' && f[1] == ':') {
        char *end;
        long p = strtol(f + 2, &end, 10);
        long s = (*end == ',') ? strtol(end + 1, &end, 10) : -1;
        /* a third field is the bit width; only 128 is supported */
        if (*end == ',' && strtol(end + 1, NULL, 10) != 128)
            s = -1;
        if (p < 1 || p > 38 || s < 0 || s > p)
            return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: unsupported decimal format %s", spec->name, f);
        spec->type = DLD_T_DECIMAL128;
        spec->precision = (int32_t)p;
        spec->scale = (int32_t)s;
        return DLD_OK;
    }
    if (!strcmp(f, "tdD")) {
        spec->type = DLD_T_DATE32;
        return DLD_OK;
    }
    if (f[0] == 't' && f[1] == 's' && f[2] && f[3] == ':' && s_unit(f[2], &spec->unit) == 0) {
        spec->type = DLD_T_TIMESTAMP;
        spec->tz = f[4] ? f + 4 : NULL;
        return DLD_OK;
    }
    if (f[0] == 't' && f[1] == 't' && f[2] && !f[3] && s_unit(f[2], &spec->unit) == 0) {
        spec->type = spec->unit <= DLD_UNIT_MILLI ? DLD_T_TIME32 : DLD_T_TIME64;
        return DLD_OK;
    }
    return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: unsupported Arrow format '%s'", spec->name, f);
}

/* ---- deep copy ------------------------------------------------------------------ */
struct s_copy_private {
    char *format, *name;
};

static void s_release_copy(struct ArrowSchema *s)
{
    for (int64_t i = 0; i < s->n_children; i++) {
        if (s->children[i]->release)
            s->children[i]->release(s->children[i]);
        free(s->children[i]);
    }
    free(s->children);
    struct s_copy_private *p = s->private_data;
    free(p->format);
    free(p->name);
    free(p);
    s->release = NULL;
}

int dld_arrow_schema_copy(const struct ArrowSchema *src, struct ArrowSchema *dst)
{
    memset(dst, 0, sizeof(*dst));
    struct s_copy_private *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return DLD_ERR_FATAL;
    p->format = strdup(src->format ? src->format : "");
    p->name = strdup(src->name ? src->name : "");
    dst->format = p->format;
    dst->name = p->name;
    dst->flags = src->flags;
    dst->private_data = p;
    dst->release = s_release_copy;
    if (src->n_children > 0) {
        dst->children = calloc((size_t)src->n_children, sizeof(*dst->children));
        if (dst->children == NULL)
            goto fail;
        for (int64_t i = 0; i < src->n_children; i++) {
            dst->children[i] = calloc(1, sizeof(struct ArrowSchema));
            if (dst->children[i] == NULL)
                goto fail;
            dst->n_children = i + 1;
            if (dld_arrow_schema_copy(src->children[i], dst->children[i]) != DLD_OK)
                goto fail;
        }
    }
    if (p->format == NULL || p->name == NULL)
        goto fail;
    return DLD_OK;
fail:
    s_release_copy(dst);
    return DLD_ERR_FATAL;
}
