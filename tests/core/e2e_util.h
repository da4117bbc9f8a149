/* Helpers for the end-to-end suites: run the deltaload binary, build SQLite
 * sources, read the lake back (manifests + CSV files). Single-threaded. */
#ifndef DLD_E2E_UTIL_H
#define DLD_E2E_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Runs $DLD_BIN with args (NULL-terminated) in dir; stdout+stderr go to
 * <dir>/last.out. Returns the exit code, or 128+signal if killed. If
 * kill_after_ms > 0, sends SIGKILL after that long (if still running). */
int e2e_run(const char *dir, const char *const *args, int kill_after_ms);
/* Contents of <dir>/last.out (static buffer). */
const char *e2e_output(const char *dir);

/* Executes SQL on a SQLite file; aborts the test on error. */
void e2e_sql(const char *db, const char *sql);
/* First column of the first row as text (static buffer), "" if none. */
const char *e2e_sql_value(const char *db, const char *sql);

void e2e_write(const char *path, const char *text);
/* A whole file, NUL-terminated (malloc'ed), or NULL if it cannot be opened. */
char *e2e_slurp(const char *path);

struct cJSON;
/* "a|b\nc|d\n" as a JSON array of its non-empty lines ["a|b", "c|d"]. */
struct cJSON *e2e_lines_json(const char *text);

/* Rows of a lake table as "c1|c2|..." lines, sorted, from every CSV file
 * listed in a published manifest (aborted manifests are skipped; files of
 * other formats are only checked to exist). Also checks the lake's hygiene
 * and reports a problem (a file in the table folder that no published
 * manifest lists, staging leftovers, file missing, an aborted manifest that
 * lists files) in *problem (static buffer, "" when clean). Returns a
 * malloc'ed newline-joined text. */
char *e2e_lake_rows(const char *table_dir, int ncols, const char **problem);

/* What a reader that lists the folder sees: the rows of every LOAD*.csv file
 * in the table folder (not its _staging/ or _manifests/), same format. */
char *e2e_folder_rows(const char *table_dir);

/* Source rows (SELECT ... ORDER BY) as the same "c1|c2" sorted lines. */
char *e2e_source_rows(const char *db, const char *select);

#endif
