/* The compression pool: a FIFO of page jobs, a few worker threads with a
 * compressor each, and the writer's thread, which runs queued jobs itself
 * whenever it would otherwise wait (a full queue, a fence). The queue is
 * bounded (two jobs per worker), so at most that many uncompressed pages
 * wait besides the ones being compressed. */
#include "cpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct s_worker {
    struct dld_pq_cpool *p;
    pthread_t thread;
    struct dld_pq_compressor comp;
    struct dld_pq_page_scratch scratch;
    uint64_t running; /* seq + 1 of the job in hand, 0 when idle (under mu) */
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
    int want;     /* workers asked for */
    int nworkers; /* workers running */
    bool started;
    struct s_worker *workers;
    /* the writer's thread compresses with these */
    struct dld_pq_compressor comp;
    struct dld_pq_page_scratch scratch;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    /* under mu */
    struct dld_pq_page_job *head, *tail;
    size_t qlen, qcap;
    bool stop;
    struct dld_pq_buf *spare; /* body buffers to lend */
    size_t nspare, spare_cap;
    struct s_slab *slabs;      /* in use, the current one first */
    struct s_slab *free_slabs; /* given back, to reuse */
    size_t carved;             /* outputs carved and not yet freed */
    /* writer's thread only */
    uint64_t seq, fence;
    struct dld_pq_page_job *free_jobs;
};

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
    p->workers = p->want ? calloc((size_t)p->want, sizeof(*p->workers)) : NULL;
    if (!p->spare || (p->want && !p->workers) || dld_pq_compressor_init(&p->comp, codec, level)) {
        free(p->spare);
        free(p->workers);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    return p;
}

/* ---- slabs ----------------------------------------------------------------------- */

uint8_t *dld_pq_cpool_carve(struct dld_pq_cpool *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    uint8_t *out = NULL;
    pthread_mutex_lock(&p->mu);
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
    pthread_mutex_unlock(&p->mu);
    return out;
}

/* a job's output is given back; the last one returns every slab (under mu) */
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
    pthread_mutex_lock(&p->mu);
    if (p->nspare > 0)
        j->body = p->spare[--p->nspare];
    pthread_mutex_unlock(&p->mu);
    j->body.len = 0;
    return j;
}

void dld_pq_cpool_job_free(struct dld_pq_cpool *p, struct dld_pq_page_job *job)
{
    if (!job)
        return;
    if (job->out) {
        pthread_mutex_lock(&p->mu);
        s_uncarve(p);
        pthread_mutex_unlock(&p->mu);
        job->out = NULL;
    }
    dld_pq_buf_clean_up(&job->body);
    job->next = p->free_jobs;
    p->free_jobs = job;
}

/* the job is done: its body buffer goes back to lend (under mu) */
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

/* runs the head of the queue in the writer's thread; called and returns with mu held */
static void s_help(struct dld_pq_cpool *p)
{
    struct dld_pq_page_job *j = s_pop(p);
    pthread_mutex_unlock(&p->mu);
    dld_pq_page_encode(&p->comp, &p->scratch, j);
    pthread_mutex_lock(&p->mu);
    s_retire(p, j);
}

/* ---- workers ---------------------------------------------------------------------- */

static void *s_worker_main(void *arg)
{
    struct s_worker *w = arg;
    struct dld_pq_cpool *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && !p->head)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        struct dld_pq_page_job *j = s_pop(p);
        w->running = j->seq + 1;
        pthread_mutex_unlock(&p->mu);
        dld_pq_page_encode(&w->comp, &w->scratch, j);
        pthread_mutex_lock(&p->mu);
        s_retire(p, j);
        w->running = 0;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Starts the workers; those that cannot start (no memory, no thread) are
 * simply not there: fewer threads, the same file. */
static void s_start(struct dld_pq_cpool *p)
{
    p->started = true;
    for (int i = 0; i < p->want; i++) {
        struct s_worker *w = &p->workers[p->nworkers];
        memset(w, 0, sizeof(*w));
        w->p = p;
        if (dld_pq_compressor_init(&w->comp, p->codec, p->level))
            break;
        if (pthread_create(&w->thread, NULL, s_worker_main, w)) {
            dld_pq_compressor_clean_up(&w->comp);
            break;
        }
        p->nworkers++;
    }
}

void dld_pq_cpool_stop(struct dld_pq_cpool *p)
{
    if (!p || p->nworkers == 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        pthread_join(p->workers[i].thread, NULL);
        dld_pq_compressor_clean_up(&p->workers[i].comp);
        dld_pq_page_scratch_clean_up(&p->workers[i].scratch);
    }
    p->nworkers = 0;
}

void dld_pq_cpool_destroy(struct dld_pq_cpool *p)
{
    if (!p)
        return;
    dld_pq_cpool_stop(p);
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
    free(p->workers);
    dld_pq_compressor_clean_up(&p->comp);
    dld_pq_page_scratch_clean_up(&p->scratch);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

/* ---- submit and wait ------------------------------------------------------------------ */

void dld_pq_cpool_submit(struct dld_pq_cpool *p, struct dld_pq_page_job *job)
{
    job->seq = p->seq++;
    job->next = NULL;
    if (!p->started && p->want > 0)
        s_start(p);
    pthread_mutex_lock(&p->mu);
    if (p->nworkers == 0 || p->stop) {
        pthread_mutex_unlock(&p->mu);
        dld_pq_page_encode(&p->comp, &p->scratch, job);
        pthread_mutex_lock(&p->mu);
        s_retire(p, job);
        pthread_mutex_unlock(&p->mu);
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
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

uint64_t dld_pq_cpool_next_seq(const struct dld_pq_cpool *p)
{
    return p->seq;
}

void dld_pq_cpool_wait_below(struct dld_pq_cpool *p, uint64_t fence)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* the queue is in seq order: its head is its oldest job */
        if (p->head && p->head->seq < fence) {
            s_help(p);
            continue;
        }
        bool busy = false;
        for (int i = 0; i < p->nworkers && !busy; i++)
            busy = p->workers[i].running != 0 && p->workers[i].running - 1 < fence;
        if (!busy)
            break;
        pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

uint64_t dld_pq_cpool_fence(struct dld_pq_cpool *p)
{
    uint64_t f = p->fence;
    dld_pq_cpool_wait_below(p, f);
    p->fence = p->seq;
    return f;
}
