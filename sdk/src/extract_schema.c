/* The columns a source hands the host in extract_begin (ABI 1.2,
 * dld_extract_info.schema): the schema of an empty batch of the builder
 * the rows will go through, so it cannot differ from the batches'. */
#include <deltaload/deltaload.h>

int dld_extract_info_schema(const struct dld_extract_info *host_info, struct dld_batch_builder *b, struct dld_error *err)
{
    if (host_info == NULL || !DLD_HAS(host_info, struct dld_extract_info, schema) || host_info->schema == NULL)
        return DLD_OK;
    if (b == NULL || dld_batch_rows(b) != 0)
        return dld_error_set(err, DLD_ERR_FATAL, "the columns are taken from an empty batch builder");
    struct ArrowArray empty = {0};
    if (dld_batch_finish(b, host_info->schema, &empty) != DLD_OK)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    empty.release(&empty);
    return DLD_OK;
}
