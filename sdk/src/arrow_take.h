/* Internal: taking rows of a flat Arrow batch into a new batch
 * (arrow_take.c; the core layer, so any layer may use it).
 *
 * The lake layer's partition_by (lake_partition.c) copies a partition's
 * rows scattered over a batch into one batch of their own, written with
 * one writer call instead of one per run of rows. */
#ifndef DLD_ARROW_TAKE_H
#define DLD_ARROW_TAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <deltaload/arrow_c.h>
#include <deltaload/sdk.h>

/* rows [start, start + n) of a batch, counted from the batch's offset */
struct dld_arrow_run {
    int64_t start, n;
};

/* true when dld_arrow_take_runs can copy every column of batch (a struct
 * array of schema): fixed-width values, booleans, strings and binary (32-
 * or 64-bit offsets), none dictionary-encoded or nested, and no null rows
 * of the struct itself */
bool dld_arrow_takeable(const struct ArrowSchema *schema, const struct ArrowArray *batch);

/* The rows of runs[0 .. nruns), in that order, copied into *out: a struct
 * array of `rows` rows (the sum of the runs' n) with no offset, that owns
 * its buffers (out->release frees them; its children have no release of
 * their own). The batch's and its columns' offsets are honoured. batch
 * passed dld_arrow_takeable. DLD_ERR_FATAL when out of memory (*out then
 * needs no release). */
int dld_arrow_take_runs(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        const struct dld_arrow_run *runs, int nruns, int64_t rows, struct ArrowArray *out,
                        struct dld_error *err);

#endif
