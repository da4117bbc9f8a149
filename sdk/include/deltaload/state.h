/*
 * State store plugins: controller items, leases, watermarks and the run
 * history that makes every load recoverable.
 *
 * Items are JSON objects (text) keyed by targetTableName; their attributes
 * are the controller item's (see table.h). A store keeps them so that an
 * item written by the replaced AWS pattern reads back unchanged.
 *
 * Fencing: lease_acquire returns a token that increases with every
 * acquisition of a table's lease. It refuses (DLD_ERR_CONFLICT) while any
 * owner, the caller included, holds an unexpired lease: an owner
 * (host:pid:random) never retakes a lease it does not remember holding. run_record, run_commit and watermark_set
 * succeed only while that token is still the table's current lease
 * (DLD_ERR_CONFLICT otherwise), so a process that lost its lease (it stalled
 * past the TTL and another took over) cannot move the table's state.
 *
 * Strings returned through `char **` and inside output structs are
 * host->alloc'ed; the host frees them (dld_run_clean_up in sdk.h).
 *
 * The host checks (core/contract.c): run_last answers with a run of the
 * table asked about (load_id >= 1, a known status); runs_unfinished hands
 * over runs of that table that are not final; item_get, item_list and
 * history return a text with DLD_OK. The conformance kit also tests
 * fencing, lease conflicts (the same owner included), expiry and takeover
 * with a larger token, and the order of runs_unfinished/runs_history.
 */
#ifndef DELTALOAD_STATE_H
#define DELTALOAD_STATE_H

#include "abi.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each transition of a load, recorded before the next one starts. */
enum dld_run_status {
    DLD_RUN_PLANNED = 1,   /* window fixed; rows may be being read and files written */
    DLD_RUN_STAGED = 2,    /* files complete on the target, not yet visible */
    DLD_RUN_PUBLISHED = 3, /* files and manifest visible; watermark not yet moved */
    DLD_RUN_COMMITTED = 4, /* watermark moved (delta) and statistics final: done */
    DLD_RUN_FAILED = 5,    /* error recorded, files removed, watermark unchanged */
    DLD_RUN_ABORTED = 6,   /* a dead attempt found and cleaned up by recovery */
    DLD_RUN_NOOP = 7,      /* nothing new in the source: no files, nothing moved */
};

struct dld_run {
    uint32_t struct_size;
    char *table;          /* targetTableName */
    int64_t load_id;
    uint32_t mode;        /* enum dld_mode */
    uint32_t status;      /* enum dld_run_status */
    char *low;            /* window; NULL = unbounded */
    int32_t low_inclusive;
    char *high;
    int64_t rows, bytes, files;
    int64_t started_ms, ended_ms;
    char *error;          /* last error message, NULL if none */
    char *owner;          /* host:pid of the process that ran it */
    char *info_json;      /* query, snapshot and other details as a JSON object, or NULL.
                           * From ABI 1.1 it carries "load_uid", the load's identity on
                           * the target (target.h): a store keeps info_json verbatim. */
};

struct dld_watermark {
    uint32_t struct_size;
    char *value;          /* NULL: never committed (the item's startvalue applies, inclusive) */
    int64_t load_id;      /* load that set it, 0 if set by reset */
    int64_t updated_ms;
};

struct dld_state_vtable {
    uint32_t struct_size;
    int (*open)(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err);
    void (*close)(void *inst);

    /* controller items */
    int (*item_put)(void *inst, const char *name, const char *item_json, struct dld_error *err);
    int (*item_get)(void *inst, const char *name, char **item_json, struct dld_error *err);
    /* every item (all pages), as one JSON array text */
    int (*item_list)(void *inst, char **items_json, struct dld_error *err);
    int (*item_delete)(void *inst, const char *name, struct dld_error *err);

    /* leases: DLD_ERR_CONFLICT while another owner holds an unexpired lease */
    int (*lease_acquire)(void *inst, const char *table, const char *owner, int64_t ttl_ms, int64_t *token,
                         struct dld_error *err);
    int (*lease_renew)(void *inst, const char *table, int64_t token, int64_t ttl_ms, struct dld_error *err);
    int (*lease_release)(void *inst, const char *table, int64_t token, struct dld_error *err);

    /* watermarks; DLD_ERR_NOT_FOUND-free: an unknown table reads value NULL */
    int (*watermark_get)(void *inst, const char *table, struct dld_watermark *out, struct dld_error *err);
    /* operator reset: value NULL clears it (the item's startvalue applies again) */
    int (*watermark_set)(void *inst, const char *table, const char *value, int64_t token, struct dld_error *err);

    /* runs: insert or update by (table, load_id), fenced by the lease token */
    int (*run_record)(void *inst, const struct dld_run *run, int64_t token, struct dld_error *err);
    /* the run with the highest load_id of a table; DLD_ERR_NOT_FOUND if none */
    int (*run_last)(void *inst, const char *table, struct dld_run *out, struct dld_error *err);
    /* atomically: run becomes COMMITTED with its statistics and, when
     * advance is non-zero, the watermark becomes run->high */
    int (*run_commit)(void *inst, const struct dld_run *run, int32_t advance, int64_t token, struct dld_error *err);
    /* newest first; table NULL = all tables; as a JSON array text */
    int (*history)(void *inst, const char *table, int32_t limit, char **runs_json, struct dld_error *err);
    /* ---- ABI 1.1, optional (the host checks struct_size and NULL) ---- */
    /* The runs of a table that are not final (planned, staged, published),
     * in load_id order, handed one by one to `each` (an iterator, not an
     * array: struct dld_run may grow, and each record carries its own
     * struct_size). The run and its strings are borrowed for the call; the
     * host copies what it keeps. `each` returns non-zero to stop, which is
     * then returned. Without this member the host reads the whole history. */
    int (*runs_unfinished)(void *inst, const char *table, int (*each)(void *ctx, const struct dld_run *run), void *ctx,
                           struct dld_error *err);
    /* Runs newest first (started_ms, then load_id, descending), of one table
     * or of all (table NULL), at most limit (0: no limit), handed to `each`
     * as runs_unfinished does: typed records the core formats itself, so
     * every store answers `status` and `history` identically. Without it the
     * host parses history's JSON. */
    int (*runs_history)(void *inst, const char *table, int32_t limit,
                        int (*each)(void *ctx, const struct dld_run *run), void *ctx, struct dld_error *err);
    /* `deltaload state init`: create what the store needs (tables, indexes)
     * when create is non-zero and it is missing, else only check it; either
     * way *report (host->alloc'ed) says what exists, what was created and
     * what is wrong. DLD_ERR_CONFIG when something exists but is wrong. */
    int (*setup)(void *inst, int32_t create, char **report, struct dld_error *err);
    /* ---- ABI 1.2, optional ---- */
    /* Ends a dead holder's lease at once instead of after its TTL. The store
     * reads the table's current lease; when one is held it calls
     * dead(ctx, owner) (the host's own liveness test: the store never
     * interprets owner strings) and, if that returns non-zero, sets the
     * lease's expiry to the past with a conditional write on exactly the
     * owner and token it read, so a lease taken meanwhile is untouched. The
     * token does not change: lease_acquire then takes the lease over with a
     * new one, as after an expiry. DLD_OK: the lease was ended;
     * DLD_ERR_CONFLICT: no lease, a live holder, or the lease changed
     * meanwhile. The host calls it only after lease_acquire refused; without
     * the member a dead holder's lease lasts its TTL. */
    int (*lease_break)(void *inst, const char *table, int (*dead)(void *ctx, const char *owner), void *ctx,
                       struct dld_error *err);
};

#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_state_vtable, open, 8);
DLD_PIN(struct dld_state_vtable, item_put, 24);
DLD_PIN(struct dld_state_vtable, lease_acquire, 56);
DLD_PIN(struct dld_state_vtable, history, 120);
DLD_PIN(struct dld_state_vtable, runs_unfinished, 128);
DLD_PIN(struct dld_state_vtable, runs_history, 136);
DLD_PIN(struct dld_state_vtable, setup, 144);
DLD_PIN(struct dld_state_vtable, lease_break, 152);
DLD_PIN(struct dld_run, load_id, 16);
#endif

#ifdef __cplusplus
}
#endif
#endif
