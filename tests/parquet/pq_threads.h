/* The Parquet writer's compression threads: the file must not depend on
 * how many there are. */
#ifndef PQ_THREADS_H
#define PQ_THREADS_H

#include <check.h>

TCase *pq_threads_tcase(void);

#endif
