/* The compression pool. Each writer has its own queue of page jobs (a
 * FIFO, bounded: two jobs per thread it asked for), its own slabs and
 * spare buffers; the worker threads that compress them are shared by every
 * writer of the process (every table a target loads at once).
 *
 * Shared workers: created lazily by the first submit of a writer that wants
 * workers, counted by the writers registered (each pool from new to
 * destroy), stopped and joined when the last one is destroyed. Their number
 * is the largest `threads` any registered writer asked for (the first
 * writer's default min(CPUs, 4) usually): a writer asking for more starts the
 * missing ones; none is stopped before the last writer goes.
 *
 * Fairness: a free worker takes the head of the NEXT writer's queue after
 * the one it served last (round-robin over the writers with queued jobs),
 * so a small table's pages wait behind at most one page of each other
 * writer, never behind a big table's whole backlog. Within one writer the
 * jobs still run in submission order (its queue is a FIFO), which is what
 * wait_below relies on.
 *
 * Memory: a writer has at most qcap jobs queued (2 per thread it asked for)
 * plus one per worker running; when its queue is full its own thread
 * compresses its oldest queued job instead of waiting, so a big table
 * cannot fill the pool with its pages.
 *
 * Locking: ONE process-wide mutex (g.mu) guards the workers, the ring of
 * registered pools and, in every pool, the queue, spare buffers, slabs,
 * `stop` and the workers' `running` marks. It is held only for list
 * operations, never while compressing. A pool's seq, fence and free_jobs
 * are touched by its writer's thread only. A job belongs to the worker that
 * popped it until that worker clears its `running` mark (under g.mu), then
 * to its column again: wait_below waits for exactly that. */
#include "cpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* compressors a worker keeps, one per (codec, level) in use */
#define S_COMPS 4

struct s_worker {
    pthread_t thread;
    struct dld_pq_compressor comp[S_COMPS];
    bool comp_ok[S_COMPS];
    int comp_next; /* the slot to replace on a miss */
    struct dld_pq_page_scratch scratch;
    /* under g.mu */
    struct dld_pq_cpool *running_pool; /* pool of the job in hand, NULL when idle */
    uint64_t running;                  /* its seq */
    bool stop;
    struct s_worker *next;
};

/* a chunk that jobs' outputs are carved from */
struct s_slab {
    uint8_t *data;
    size_t used, cap;
    struct s_slab *next;
};

#define S_SLAB (4u << 20)

struct dld_pq_cpool {
    enum dld_pq_codec codec;
    int level;
    int want; /* workers asked for; 0: none, pages compressed at submit */
    /* the writer's thread compresses with these */
    struct dld_pq_compressor comp;
    struct dld_pq_page_scratch scratch;
    /* under g.mu */
    struct dld_pq_page_job *head, *tail;
    size_t qlen, qcap;
    bool stop;
    struct dld_pq_buf *spare; /* body buffers to lend */
    size_t nspare, spare_cap;
    struct s_slab *slabs;      /* in use, the current one first */
    struct s_slab *free_slabs; /* given back, to reuse */
    size_t carved;             /* outputs carved and not yet freed */
    struct dld_pq_cpool *prev, *next; /* the ring of registered pools */
    /* writer's thread only */
    uint64_t seq, fence;
    struct dld_pq_page_job *free_jobs;
};

/* the process-wide part (see the top of the file) */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct s_worker *workers;
    int nworkers;
    int refs;                   /* pools registered */
    struct dld_pq_cpool *ring;  /* registered pools, circular */
    struct dld_pq_cpool *last;  /* the pool served last (NULL: start at ring) */
    bool hold;                  /* tests: workers take nothing */
    uint64_t picks;             /* jobs taken by workers so far */
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, NULL, NULL, false, 0};

struct dld_pq_cpool *dld_pq_cpool_new(enum dld_pq_codec codec, int level, int threads)
{
    struct dld_pq_cpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->codec = codec;
    p->level = level;
    p->want = threads > 1 && codec != DLD_PQ_UNCOMPRESSED ? threads : 0;
    p->qcap = 2 * (size_t)p->want;
    p->spare_cap = p->qcap + (size_t)p->want + 2;
    p->spare = calloc(p->spare_cap, sizeof(*p->spare));
    if (!p->spare || dld_pq_compressor_init(&p->comp, codec, level)) {
        free(p->spare);
        free(p);
        return NULL;
    }
    pthread_mutex_lock(&g.mu);
    g.refs++;
    if (g.ring) {
        p->next = g.ring;
        p->prev = g.ring->prev;
        p->prev->next = p;
        g.ring->prev = p;
    } else {
        g.ring = p->next = p->prev = p;
    }
    pthread_mutex_unlock(&g.mu);
    return p;
}

/* ---- slabs ----------------------------------------------------------------------- */

uint8_t *dld_pq_cpool_carve(struct dld_pq_cpool *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    uint8_t *out = NULL;
    pthread_mutex_lock(&g.mu);
    struct s_slab *s = p->slabs;
    if (!s || s->cap - s->used < n) {
        /* a free slab large enough, else a new one */
        struct s_slab **pp = &p->free_slabs;
        while (*pp && (*pp)->cap < n)
            pp = &(*pp)->next;
        s = *pp;
        if (s) {
            *pp = s->next;
        } else if ((s = malloc(sizeof(*s))) != NULL) {
            s->cap = n > S_SLAB ? n : S_SLAB;
            if ((s->data = malloc(s->cap)) == NULL) {
                free(s);
                s = NULL;
            }
        }
        if (s) {
            s->used = 0;
            s->next = p->slabs;
            p->slabs = s;
        }
    }
    if (s) {
        out = s->data + s->used;
        s->used += n;
        p->carved++;
    }
    pthread_mutex_unlock(&g.mu);
    return out;
}

/* a job's output is given back; the last one returns every slab (under g.mu) */
static void s_uncarve(struct dld_pq_cpool *p)
{
    if (--p->carved > 0)
        return;
    while (p->slabs) {
        struct s_slab *s = p->slabs;
        p->slabs = s->next;
        s->next = p->free_slabs;
        p->free_slabs = s;
    }
}

static void s_slabs_free(struct s_slab *s)
{
    while (s) {
        struct s_slab *n = s->next;
        free(s->data);
        free(s);
        s = n;
    }
}

/* ---- jobs ------------------------------------------------------------------------ */

struct dld_pq_page_job *dld_pq_cpool_job_new(struct dld_pq_cpool *p)
{
    struct dld_pq_page_job *j = p->free_jobs;
    if (j)
        p->free_jobs = j->next;
    else if ((j = malloc(sizeof(*j))) == NULL)
        return NULL;
    memset(j, 0, sizeof(*j));
    j->pool = p;
    j->pick = UINT64_MAX;
    pthread_mutex_lock(&g.mu);
    if (p->nspare > 0)
        j->body = p->spare[--p->nspare];
    pthread_mutex_unlock(&g.mu);
    j->body.len = 0;
    return j;
}

void dld_pq_cpool_job_free(struct dld_pq_cpool *p, struct dld_pq_page_job *job)
{
    if (!job)
        return;
    if (job->out) {
        pthread_mutex_lock(&g.mu);
        s_uncarve(p);
        pthread_mutex_unlock(&g.mu);
        job->out = NULL;
    }
    dld_pq_buf_clean_up(&job->body);
    job->next = p->free_jobs;
    p->free_jobs = job;
}

/* the job is done: its body buffer goes back to lend (under g.mu) */
static void s_retire(struct dld_pq_cpool *p, struct dld_pq_page_job *j)
{
    if (p->nspare < p->spare_cap && j->body.data)
        p->spare[p->nspare++] = j->body;
    else
        dld_pq_buf_clean_up(&j->body);
    memset(&j->body, 0, sizeof(j->body));
}

static struct dld_pq_page_job *s_pop(struct dld_pq_cpool *p)
{
    struct dld_pq_page_job *j = p->head;
    p->head = j->next;
    if (!p->head)
        p->tail = NULL;
    p->qlen--;
    j->next = NULL;
    return j;
}

/* runs the head of p's queue in the writer's thread; called and returns with g.mu held */
static void s_help(struct dld_pq_cpool *p)
{
    struct dld_pq_page_job *j = s_pop(p);
    pthread_mutex_unlock(&g.mu);
    dld_pq_page_encode(&p->comp, &p->scratch, j);
    pthread_mutex_lock(&g.mu);
    s_retire(p, j);
}

/* ---- workers ---------------------------------------------------------------------- */

/* the next pool after the one served last that has a job queued (under g.mu) */
static struct dld_pq_cpool *s_next_pool(void)
{
    if (!g.ring)
        return NULL;
    struct dld_pq_cpool *start = g.last ? g.last->next : g.ring, *p = start;
    do {
        if (p->head)
            return g.last = p;
        p = p->next;
    } while (p != start);
    return NULL;
}

/* the worker's compressor for the job's codec and level; NULL if none can be set up */
static struct dld_pq_compressor *s_comp(struct s_worker *w, const struct dld_pq_cpool *p)
{
    for (int i = 0; i < S_COMPS; i++)
        if (w->comp_ok[i] && w->comp[i].codec == p->codec && w->comp[i].level == p->level)
            return &w->comp[i];
    int i = w->comp_next;
    w->comp_next = (i + 1) % S_COMPS;
    if (w->comp_ok[i])
        dld_pq_compressor_clean_up(&w->comp[i]);
    w->comp_ok[i] = dld_pq_compressor_init(&w->comp[i], p->codec, p->level) == 0;
    return w->comp_ok[i] ? &w->comp[i] : NULL;
}

static void *s_worker_main(void *arg)
{
    struct s_worker *w = arg;
    pthread_mutex_lock(&g.mu);
    for (;;) {
        struct dld_pq_cpool *p = NULL;
        while (!w->stop && (g.hold || (p = s_next_pool()) == NULL))
            pthread_cond_wait(&g.work, &g.mu);
        if (w->stop)
            break;
        struct dld_pq_page_job *j = s_pop(p);
        j->pick = g.picks++;
        w->running_pool = p;
        w->running = j->seq;
        pthread_mutex_unlock(&g.mu);
        struct dld_pq_compressor *c = s_comp(w, p);
        if (c)
            dld_pq_page_encode(c, &w->scratch, j);
        else
            j->msg = "out of memory setting up a compressor";
        pthread_mutex_lock(&g.mu);
        s_retire(p, j);
        w->running_pool = NULL;
        pthread_cond_broadcast(&g.done);
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

/* Starts workers until there are `want` (under g.mu); those that cannot
 * start (no memory, no thread) are simply not there: fewer threads, the
 * same file. */
static void s_start(int want)
{
    while (g.nworkers < want) {
        struct s_worker *w = calloc(1, sizeof(*w));
        if (!w)
            return;
        if (pthread_create(&w->thread, NULL, s_worker_main, w)) {
            free(w);
            return;
        }
        w->next = g.workers;
        g.workers = w;
        g.nworkers++;
    }
}

/* is a worker compressing one of p's jobs with seq < fence? (under g.mu) */
static bool s_running_below(const struct dld_pq_cpool *p, uint64_t fence)
{
    for (const struct s_worker *w = g.workers; w; w = w->next)
        if (w->running_pool == p && w->running < fence)
            return true;
    return false;
}

void dld_pq_cpool_stop(struct dld_pq_cpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&g.mu);
    p->stop = true;
    /* jobs still queued are not run (they stay the columns' to free) */
    while (p->head)
        s_pop(p);
    while (s_running_below(p, UINT64_MAX))
        pthread_cond_wait(&g.done, &g.mu);
    pthread_mutex_unlock(&g.mu);
}

void dld_pq_cpool_destroy(struct dld_pq_cpool *p)
{
    if (!p)
        return;
    dld_pq_cpool_stop(p);
    pthread_mutex_lock(&g.mu);
    if (g.last == p)
        g.last = p->prev != p ? p->prev : NULL;
    if (p->next == p) {
        g.ring = NULL;
    } else {
        p->prev->next = p->next;
        p->next->prev = p->prev;
        if (g.ring == p)
            g.ring = p->next;
    }
    /* the last writer takes the workers with it; a writer registering
     * meanwhile starts new ones (these are no longer in g.workers) */
    struct s_worker *gone = NULL;
    if (--g.refs == 0) {
        gone = g.workers;
        g.workers = NULL;
        g.nworkers = 0;
        for (struct s_worker *w = gone; w; w = w->next)
            w->stop = true;
        pthread_cond_broadcast(&g.work);
    }
    pthread_mutex_unlock(&g.mu);
    while (gone) {
        struct s_worker *w = gone;
        gone = w->next;
        pthread_join(w->thread, NULL);
        for (int i = 0; i < S_COMPS; i++)
            if (w->comp_ok[i])
                dld_pq_compressor_clean_up(&w->comp[i]);
        dld_pq_page_scratch_clean_up(&w->scratch);
        free(w);
    }
    while (p->free_jobs) {
        struct dld_pq_page_job *j = p->free_jobs;
        p->free_jobs = j->next;
        free(j);
    }
    for (size_t i = 0; i < p->nspare; i++)
        dld_pq_buf_clean_up(&p->spare[i]);
    free(p->spare);
    s_slabs_free(p->slabs);
    s_slabs_free(p->free_slabs);
    dld_pq_compressor_clean_up(&p->comp);
    dld_pq_page_scratch_clean_up(&p->scratch);
    free(p);
}

/* ---- submit and wait ------------------------------------------------------------------ */

void dld_pq_cpool_submit(struct dld_pq_cpool *p, struct dld_pq_page_job *job)
{
    job->seq = p->seq++;
    job->next = NULL;
    pthread_mutex_lock(&g.mu);
    if (p->want > 0 && !p->stop)
        s_start(p->want);
    if (p->want == 0 || g.nworkers == 0 || p->stop) {
        pthread_mutex_unlock(&g.mu);
        dld_pq_page_encode(&p->comp, &p->scratch, job);
        pthread_mutex_lock(&g.mu);
        s_retire(p, job);
        pthread_mutex_unlock(&g.mu);
        return;
    }
    while (p->qlen >= p->qcap)
        s_help(p); /* the workers are behind: lend a hand rather than wait */
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->qlen++;
    pthread_cond_signal(&g.work);
    pthread_mutex_unlock(&g.mu);
}

uint64_t dld_pq_cpool_next_seq(const struct dld_pq_cpool *p)
{
    return p->seq;
}

void dld_pq_cpool_wait_below(struct dld_pq_cpool *p, uint64_t fence)
{
    pthread_mutex_lock(&g.mu);
    for (;;) {
        /* the queue is in seq order: its head is its oldest job */
        if (p->head && p->head->seq < fence) {
            s_help(p);
            continue;
        }
        if (!s_running_below(p, fence))
            break;
        pthread_cond_wait(&g.done, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);
}

uint64_t dld_pq_cpool_fence(struct dld_pq_cpool *p)
{
    uint64_t f = p->fence;
    dld_pq_cpool_wait_below(p, f);
    p->fence = p->seq;
    return f;
}

/* ---- tests ------------------------------------------------------------------------- */

void dld_pq_cpool_debug_hold(bool hold)
{
    pthread_mutex_lock(&g.mu);
    g.hold = hold;
    pthread_cond_broadcast(&g.work);
    pthread_mutex_unlock(&g.mu);
}

int dld_pq_cpool_debug_workers(void)
{
    pthread_mutex_lock(&g.mu);
    int n = g.nworkers;
    pthread_mutex_unlock(&g.mu);
    return n;
}

uint64_t dld_pq_cpool_debug_picks(void)
{
    pthread_mutex_lock(&g.mu);
    uint64_t n = g.picks;
    pthread_mutex_unlock(&g.mu);
    return n;
}
