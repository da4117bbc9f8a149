/* Leases: conflict, expiry, takeover, fencing, and processes contending. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "state_test.h"

START_TEST(lease_conflict_expiry_takeover)
{
    struct dld_error e = state_test_err();
    dld_test_clock_set(1700000000000);
    int64_t a1 = 0, a2 = 0, b = 0, tok = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-a:1", 30000, &a1, &e), DLD_OK);
    ck_assert_int_gt(a1, 0);

    /* another owner is refused, told who holds it and until when */
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-b:2", 30000, &b, &e), DLD_ERR_CONFLICT);
    ck_assert_int_eq(b, 0);
    ck_assert_msg(strstr(e.message, "host-a:1") && strstr(e.message, "2023-11-14T22:13:50.000Z"), "%s", e.message);
    ck_assert_int_eq(e.retryable, 0);

    /* the same owner is refused too: an owner never retakes an unexpired
     * lease it does not remember holding (it would run beside the holder) */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-a:1", 30000, &a2, &e), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(e.message, "(this process)"), "%s", e.message);
    /* once released it gets a new, larger token, and a1 is no longer the lease */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_release(inst, "orders", a1, &e), DLD_OK);
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-a:1", 30000, &a2, &e), DLD_OK);
    ck_assert_int_gt(a2, a1);
    ck_assert_int_eq(vt->lease_renew(inst, "orders", a1, 30000, &e), DLD_ERR_CONFLICT);

    /* at the expiry instant the lease still holds; one ms later it is free */
    dld_test_clock_advance(30000);
    e = state_test_err();
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-b:2", 30000, &b, &e), DLD_ERR_CONFLICT);
    dld_test_clock_advance(1);
    e = state_test_err();
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-b:2", 30000, &b, &e), DLD_OK);
    ck_assert_int_gt(b, a2);

    /* other tables are independent */
    ck_assert_int_eq(vt->lease_acquire(inst, "customers", "host-a:1", 30000, &tok, &e), DLD_OK);
    ck_assert_int_eq(tok, 1);

    /* bad arguments */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-b:2", 0, &tok, &e), DLD_ERR_CONFIG);
}
END_TEST

/* lease_break (ABI 1.2): the host's test decides; only the exact holder's
 * lease ends, at once, and a new acquisition takes a new token. */
static int s_dead_is(void *ctx, const char *owner) { return strcmp(owner, (const char *)ctx) == 0; }

START_TEST(lease_break_dead_holder)
{
    struct dld_error e = state_test_err();
    dld_test_clock_set(1700000000000);
    int64_t a = 0, b = 0;
    ck_assert_ptr_nonnull(vt->lease_break);
    ck_assert_int_eq(vt->lease_break(inst, "orders", s_dead_is, "host-a:1", &e), DLD_ERR_CONFLICT); /* no lease */
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-a:1", 30000, &a, &e), DLD_OK);
    /* a live holder (the test says no) keeps its lease */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_break(inst, "orders", s_dead_is, "host-z:9", &e), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(e.message, "host-a:1"), "%s", e.message);
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-b:2", 30000, &b, &e), DLD_ERR_CONFLICT);
    /* a dead one loses it at once, well inside its TTL */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_break(inst, "orders", s_dead_is, "host-a:1", &e), DLD_OK);
    e = state_test_err();
    ck_assert_int_eq(vt->lease_acquire(inst, "orders", "host-b:2", 30000, &b, &e), DLD_OK);
    ck_assert_int_gt(b, a);
    /* the old token is fenced off; the new holder is not touched by a
     * test that names the old one */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_renew(inst, "orders", a, 30000, &e), DLD_ERR_CONFLICT);
    ck_assert_int_eq(vt->lease_break(inst, "orders", s_dead_is, "host-a:1", &e), DLD_ERR_CONFLICT);
    e = state_test_err();
    ck_assert_int_eq(vt->lease_renew(inst, "orders", b, 30000, &e), DLD_OK);
}
END_TEST

/* A process that stalled past its TTL and was taken over can no longer
 * move the table's state with its old token. */
START_TEST(fencing_after_takeover)
{
    struct dld_error e = state_test_err();
    dld_test_clock_set(1700000000000);
    int64_t old = 0, cur = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "slow", 1000, &old, &e), DLD_OK);
    struct dld_run r = state_test_run("t", 1, DLD_RUN_PLANNED, NULL, "10", 1700000000000);
    ck_assert_int_eq(vt->run_record(inst, &r, old, &e), DLD_OK);

    dld_test_clock_advance(5000);
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "fast", 1000, &cur, &e), DLD_OK);

    e = state_test_err();
    r.status = DLD_RUN_STAGED;
    ck_assert_int_eq(vt->run_record(inst, &r, old, &e), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(e.message, "taken over") && strstr(e.message, "fast"), "%s", e.message);
    e = state_test_err();
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, old, &e), DLD_ERR_CONFLICT);
    e = state_test_err();
    ck_assert_int_eq(vt->watermark_set(inst, "t", "999", old, &e), DLD_ERR_CONFLICT);
    e = state_test_err();
    ck_assert_int_eq(vt->lease_renew(inst, "t", old, 1000, &e), DLD_ERR_CONFLICT);
    e = state_test_err();
    ck_assert_int_eq(vt->lease_release(inst, "t", old, &e), DLD_ERR_CONFLICT);

    /* nothing moved: run still PLANNED, no watermark, lease still "fast" */
    struct dld_run last = {.struct_size = sizeof(last)};
    ck_assert_int_eq(vt->run_last(inst, "t", &last, &e), DLD_OK);
    ck_assert_uint_eq(last.status, DLD_RUN_PLANNED);
    dld_run_clean_up(dld_test_host(), &last);
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_ptr_null(wm.value);
    int64_t tmp;
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "third", 1000, &tmp, &e), DLD_ERR_CONFLICT);

    /* the new holder can act */
    e = state_test_err();
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, cur, &e), DLD_OK);
}
END_TEST

START_TEST(expired_token_refused_until_renewed)
{
    struct dld_error e = state_test_err();
    dld_test_clock_set(1700000000000);
    int64_t tok = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "me", 1000, &tok, &e), DLD_OK);
    dld_test_clock_advance(800);
    ck_assert_int_eq(vt->lease_renew(inst, "t", tok, 1000, &e), DLD_OK);
    dld_test_clock_advance(800); /* 1600 after acquisition: alive thanks to the renewal */
    int64_t other;
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "you", 1000, &other, &e), DLD_ERR_CONFLICT);
    struct dld_run r = state_test_run("t", 1, DLD_RUN_PLANNED, NULL, "1", 1);
    e = state_test_err();
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);

    dld_test_clock_advance(5000); /* expired, nobody took over */
    e = state_test_err();
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(e.message, "expired"), "%s", e.message);
    /* the token still proves nobody else took it: renewing revives it */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_renew(inst, "t", tok, 1000, &e), DLD_OK);
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);
}
END_TEST

START_TEST(release_keeps_token_counter)
{
    struct dld_error e = state_test_err();
    int64_t t1 = 0, t2 = 0, t3 = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "a", 60000, &t1, &e), DLD_OK);
    ck_assert_int_eq(vt->lease_release(inst, "t", t1, &e), DLD_OK);
    /* released: the old token cannot write or release again */
    struct dld_run r = state_test_run("t", 1, DLD_RUN_PLANNED, NULL, "1", 1);
    ck_assert_int_eq(vt->run_record(inst, &r, t1, &e), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(e.message, "no lease"), "%s", e.message);
    ck_assert_int_eq(vt->lease_release(inst, "t", t1, &e), DLD_ERR_CONFLICT);
    /* anyone may take it now, with a never-used token */
    e = state_test_err();
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "b", 60000, &t2, &e), DLD_OK);
    ck_assert_int_gt(t2, t1);
    ck_assert_int_eq(vt->lease_release(inst, "t", t2, &e), DLD_OK);
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "a", 60000, &t3, &e), DLD_OK);
    ck_assert_int_gt(t3, t2);
}
END_TEST

/* A separate connection holds the write lock: a call that cannot get it
 * within busy_timeout_ms fails as retryable with SQLite's code. */
START_TEST(busy_is_retryable)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    void *quick = state_test_open("50");
    struct dld_error e = state_test_err();
    int64_t tok = 0;
    ck_assert_int_eq(vt->lease_acquire(quick, "t", "a", 60000, &tok, &e), DLD_ERR_RETRY);
    ck_assert_int_ne(e.retryable, 0);
    ck_assert_str_eq(e.upstream_code, "SQLITE_BUSY");
    /* reads still work under WAL while a writer holds the lock */
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    e = state_test_err();
    ck_assert_int_eq(vt->watermark_get(quick, "t", &wm, &e), DLD_OK);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    ck_assert_int_eq(vt->lease_acquire(quick, "t", "a", 60000, &tok, &e), DLD_OK);
    vt->close(quick);
}
END_TEST

#define NPROC 6

/* Forks NPROC children that each open their own instance, wait for the
 * start signal, then run `body`; returns each child's exit code. */
static void s_race(void (*body)(int idx, int out_fd), int *codes, int out_fd)
{
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0) /* EOF when the parent closes: all start together */
                _exit(90);
            body(i, out_fd);
            _exit(91);
        }
    }
    close(go[0]);
    usleep(100 * 1000);
    close(go[1]);
    for (int i = 0; i < NPROC; i++) {
        int st = 0;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
}

static void s_contend_body(int idx, int out_fd)
{
    (void)out_fd;
    const char *opts[] = {"path", db_path, "busy_timeout_ms", "20000", NULL};
    struct dld_error e;
    dld_error_init(&e);
    void *mine = NULL;
    if (vt->open(dld_test_host(), opts, &mine, &e) != DLD_OK)
        _exit(3);
    char owner[32];
    snprintf(owner, sizeof(owner), "proc-%d", idx);
    int64_t tok = 0;
    int rc = vt->lease_acquire(mine, "contended", owner, 60000, &tok, &e);
    vt->close(mine);
    _exit(rc == DLD_OK ? 0 : rc == DLD_ERR_CONFLICT ? 1 : 2);
}

START_TEST(processes_contend_one_wins)
{
    int codes[NPROC];
    s_race(s_contend_body, codes, -1);
    int wins = 0, losses = 0;
    for (int i = 0; i < NPROC; i++) {
        ck_assert_msg(codes[i] == 0 || codes[i] == 1, "child %d exited %d", i, codes[i]);
        wins += codes[i] == 0;
        losses += codes[i] == 1;
    }
    ck_assert_int_eq(wins, 1);
    ck_assert_int_eq(losses, NPROC - 1);
    /* and the parent sees that one winner as the holder */
    struct dld_error e = state_test_err();
    int64_t tok;
    ck_assert_int_eq(vt->lease_acquire(inst, "contended", "parent", 60000, &tok, &e), DLD_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(e.message, "proc-"));
}
END_TEST

#define ROUNDS 20

static void s_tokens_body(int idx, int out_fd)
{
    (void)idx;
    const char *opts[] = {"path", db_path, "busy_timeout_ms", "20000", NULL};
    struct dld_error e;
    dld_error_init(&e);
    void *mine = NULL;
    if (vt->open(dld_test_host(), opts, &mine, &e) != DLD_OK)
        _exit(3);
    for (int k = 0; k < ROUNDS; k++) {
        int64_t tok = 0;
        /* one shared owner name: an unexpired lease is refused even to its
         * own owner, so each process takes turns (acquire, release) and
         * every successful acquisition must get a fresh token */
        int rc, tries = 0;
        while ((rc = vt->lease_acquire(mine, "shared", "same-owner", 60000, &tok, &e)) == DLD_ERR_CONFLICT &&
               tries++ < 100000)
            usleep(200);
        if (rc != DLD_OK)
            _exit(2);
        if (write(out_fd, &tok, sizeof(tok)) != (ssize_t)sizeof(tok))
            _exit(4);
        if (vt->lease_release(mine, "shared", tok, &e) != DLD_OK)
            _exit(5);
    }
    vt->close(mine);
    _exit(0);
}

static int s_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

START_TEST(processes_never_share_a_token)
{
    char tok_file[600];
    snprintf(tok_file, sizeof(tok_file), "%s.tokens", db_path);
    FILE *f = fopen(tok_file, "w+");
    ck_assert_ptr_nonnull(f);
    int codes[NPROC];
    s_race(s_tokens_body, codes, fileno(f));
    for (int i = 0; i < NPROC; i++)
        ck_assert_msg(codes[i] == 0, "child %d exited %d", i, codes[i]);
    int64_t toks[NPROC * ROUNDS];
    rewind(f);
    ck_assert_uint_eq(fread(toks, sizeof(int64_t), NPROC * ROUNDS, f), NPROC * ROUNDS);
    fclose(f);
    qsort(toks, NPROC * ROUNDS, sizeof(int64_t), s_cmp64);
    for (int i = 0; i < NPROC * ROUNDS; i++)
        ck_assert_int_eq(toks[i], i + 1); /* 1..N: all distinct, none skipped */
}
END_TEST

void state_test_add_leases(TCase *tc)
{
    tcase_add_test(tc, lease_conflict_expiry_takeover);
    tcase_add_test(tc, lease_break_dead_holder);
    tcase_add_test(tc, fencing_after_takeover);
    tcase_add_test(tc, expired_token_refused_until_renewed);
    tcase_add_test(tc, release_keeps_token_counter);
    tcase_add_test(tc, busy_is_retryable);
    tcase_add_test(tc, processes_contend_one_wins);
    tcase_add_test(tc, processes_never_share_a_token);
}
