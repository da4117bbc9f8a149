/* Struct-size discipline (abi.h "version skew"): copying structs whose two
 * sides were compiled for different ABI minors, and the common plugin entry. */
#include <string.h>

#include <deltaload/deltaload.h>

int dld_plugin_accept(const struct dld_host *host, const struct dld_plugin *descriptor, dld_plugin_init_fn init,
                      const struct dld_plugin **out)
{
    if (out == NULL)
        return DLD_ERR_CONFIG;
    *out = NULL;
    /* dld_host_usable refuses another major and an incomplete table */
    if (descriptor == NULL || !dld_host_usable(host))
        return DLD_ERR_UNSUPPORTED;
    if (init != NULL) {
        int rc = init(host);
        if (rc != DLD_OK)
            return rc < 0 ? rc : DLD_ERR_UNSUPPORTED;
    }
    *out = descriptor;
    return DLD_OK;
}

size_t dld_struct_copy(void *dst, size_t dst_size, const void *src)
{
    if (dst == NULL || dst_size < sizeof(uint32_t))
        return 0;
    size_t n = 0;
    if (src != NULL) {
        uint32_t src_size;
        memcpy(&src_size, src, sizeof src_size);
        n = src_size < dst_size ? src_size : dst_size;
        if (n < sizeof(uint32_t))
            n = 0;
        memmove(dst, src, n);
    }
    memset((char *)dst + n, 0, dst_size - n);
    uint32_t size = dst_size > UINT32_MAX ? UINT32_MAX : (uint32_t)dst_size;
    memcpy(dst, &size, sizeof size);
    return n;
}

/* The host-owned string members of each output struct, as offsets. */
#define S_STR(type, m) offsetof(type, m)
static const size_t s_info_strs[] = {S_STR(struct dld_extract_info, high), S_STR(struct dld_extract_info, query),
                                     S_STR(struct dld_extract_info, snapshot)};
static const size_t s_run_strs[] = {S_STR(struct dld_run, table), S_STR(struct dld_run, low),
                                    S_STR(struct dld_run, high),  S_STR(struct dld_run, error),
                                    S_STR(struct dld_run, owner), S_STR(struct dld_run, info_json)};
static const size_t s_wm_strs[] = {S_STR(struct dld_watermark, value)};
#undef S_STR

/* Frees the strings of src that the host's dst has no room for (all of them
 * when dst is NULL), copies the rest into dst as far as dst->struct_size
 * reaches, then zeroes src but its struct_size. */
static void s_put(const struct dld_host *host, void *dst, void *src, size_t src_size, const size_t *strs, size_t n)
{
    uint32_t dst_size = 0;
    if (dst != NULL)
        memcpy(&dst_size, dst, sizeof dst_size);
    for (size_t i = 0; i < n; i++) {
        if ((size_t)dst_size >= strs[i] + sizeof(char *))
            continue;
        char *s;
        memcpy(&s, (char *)src + strs[i], sizeof s);
        if (s != NULL && host != NULL)
            host->free(s);
    }
    if (dst != NULL)
        dld_struct_copy(dst, dst_size, src);
    uint32_t keep;
    memcpy(&keep, src, sizeof keep);
    memset(src, 0, src_size);
    memcpy(src, &keep, sizeof keep);
}

void dld_extract_info_put(const struct dld_host *host, struct dld_extract_info *dst, struct dld_extract_info *src)
{
    /* schema (1.2) is the host's own pointer, not an output: keep it */
    bool keep = dst != NULL && DLD_HAS(dst, struct dld_extract_info, schema);
    struct ArrowSchema *schema = keep ? dst->schema : NULL;
    s_put(host, dst, src, sizeof(*src), s_info_strs, sizeof s_info_strs / sizeof s_info_strs[0]);
    if (keep)
        dst->schema = schema;
}

void dld_run_put(const struct dld_host *host, struct dld_run *dst, struct dld_run *src)
{
    s_put(host, dst, src, sizeof(*src), s_run_strs, sizeof s_run_strs / sizeof s_run_strs[0]);
}

void dld_watermark_put(const struct dld_host *host, struct dld_watermark *dst, struct dld_watermark *src)
{
    s_put(host, dst, src, sizeof(*src), s_wm_strs, sizeof s_wm_strs / sizeof s_wm_strs[0]);
}

void dld_extract_info_clean_up(const struct dld_host *host, struct dld_extract_info *info)
{
    if (info == NULL)
        return;
    char **strs[] = {&info->high, &info->query, &info->snapshot};
    size_t ends[] = {DLD_MEMBER_END(struct dld_extract_info, high), DLD_MEMBER_END(struct dld_extract_info, query),
                     DLD_MEMBER_END(struct dld_extract_info, snapshot)};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (info->struct_size < ends[i])
            continue;
        if (*strs[i] != NULL)
            host->free(*strs[i]);
        *strs[i] = NULL;
    }
}
