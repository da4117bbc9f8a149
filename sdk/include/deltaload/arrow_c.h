/*
 * The Arrow C Data Interface: the frozen, header-only ABI for handing
 * columnar data between independently built components. Batches travel from
 * source to target as a struct-typed ArrowArray (one child per column) with
 * its ArrowSchema. The definitions are the ones fixed by the Arrow
 * specification; the ARROW_C_DATA_INTERFACE guard lets them coexist with
 * Arrow's own header.
 *
 * Ownership: the producer sets `release`; the consumer calls it once when
 * done (or moves the struct and marks the source released by setting
 * release = NULL). In deltaload a target *borrows* the batch for the
 * duration of load_write; the host releases it afterwards.
 */
#ifndef DELTALOAD_ARROW_C_H
#define DELTALOAD_ARROW_C_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifdef __cplusplus
}
#endif
#endif
