/* One object streamed from a format writer to S3. Bytes collect in a
 * part-sized buffer; a file that never fills one part goes up as a single
 * PutObject. Otherwise the first full part opens a multipart upload and
 * each full part is handed to a small pool of threads that send parts in
 * parallel. The writer blocks while `concurrency` parts are in flight, so
 * memory stays at (concurrency + 1) parts whatever the file size. Part
 * buffers are recycled rather than freed and allocated again: a fresh 8 MiB
 * malloc is a new mapping the kernel zero-fills page by page, about 2000
 * page faults per part on the writer's critical path. On any failure the
 * multipart upload is aborted, so no parts linger (where the store
 * implements AbortMultipartUpload).
 *
 * The first part is hashed (SHA-256, for the signature) by a thread that
 * follows the writer through the buffer, rather than in a second pass once
 * the buffer is complete: a file that stays one PutObject, the common case,
 * then starts going out almost as soon as the writer finishes (bench/s3:
 * copying 116 MB then hashing it took ~0.14 s before the first byte was
 * sent, while curl starts at once). Later parts are hashed by their sender
 * threads, off the writer's path. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "s3_internal.h"

#define S_HASH_STEP ((size_t)1 << 20)

struct s_job {
    int part;
    char *data;
    size_t len;
    char hash[65]; /* hex SHA-256 of data, or "" for the sender to compute */
    struct s_job *next;
};

struct s3_upload {
    struct s3_ctx *s3;
    char *key;
    char *content_type;
    char *buf;
    size_t len;
    size_t part_size;
    uint64_t bytes;

    /* the first part's hasher: hashes u->buf[0, hash_avail) as it grows */
    pthread_mutex_t hlock;
    pthread_cond_t hcond;
    pthread_t hasher;
    bool hasher_on;
    size_t hash_avail;   /* bytes the writer has published to the hasher */
    bool hash_end;       /* no more bytes: finish the digest */
    char first_hash[65]; /* hex, or "" if hashing failed */

    char *upload_id;
    int nparts;      /* parts handed out so far */
    char **etags;    /* [part - 1] */
    int etags_cap;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct s_job *head, *tail;
    int in_flight;   /* queued + being sent */
    pthread_t *threads;
    int nthreads;
    char **spare;    /* sent part buffers kept for reuse (at most nthreads) */
    int nspare;
    bool stop;
    int failed;      /* first error code of a part, 0 if none */
    struct dld_error part_err;
    bool finished;
};

static void s_record_failure(struct s3_upload *u, int rc, const struct dld_error *err)
{
    if (!u->failed) {
        u->failed = rc;
        u->part_err = *err;
    }
}

static void *s_worker(void *arg)
{
    struct s3_upload *u = arg;
    pthread_mutex_lock(&u->lock);
    for (;;) {
        while (!u->head && !u->stop)
            pthread_cond_wait(&u->cond, &u->lock);
        if (!u->head)
            break;
        struct s_job *j = u->head;
        u->head = j->next;
        if (!u->head)
            u->tail = NULL;
        bool skip = u->failed != 0;
        pthread_mutex_unlock(&u->lock);

        char *etag = NULL;
        int rc = DLD_OK;
        struct dld_error err = {.struct_size = sizeof(err)};
        if (!skip)
            rc = s3_mpu_upload_part(u->s3, u->key, u->upload_id, j->part, j->data, j->len, j->hash[0] ? j->hash : NULL,
                                    &etag, &err);

        pthread_mutex_lock(&u->lock);
        if (u->spare && u->nspare < u->nthreads)
            u->spare[u->nspare++] = j->data;
        else
            free(j->data);
        if (rc != DLD_OK)
            s_record_failure(u, rc, &err);
        else if (etag)
            u->etags[j->part - 1] = etag;
        free(j);
        u->in_flight--;
        pthread_cond_broadcast(&u->cond);
    }
    pthread_mutex_unlock(&u->lock);
    return NULL;
}

static void s_hex(const unsigned char *md, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

static void *s_hasher(void *arg)
{
    struct s3_upload *u = arg;
    const char *buf = u->buf; /* the first part's buffer stays put until the digest is done */
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    bool ok = sha && EVP_DigestInit_ex(sha, EVP_sha256(), NULL) == 1;
    size_t done = 0;
    pthread_mutex_lock(&u->hlock);
    for (;;) {
        while (done == u->hash_avail && !u->hash_end)
            pthread_cond_wait(&u->hcond, &u->hlock);
        size_t to = u->hash_avail;
        bool end = u->hash_end;
        pthread_mutex_unlock(&u->hlock);
        /* bytes below hash_avail are no longer written to */
        if (ok && to > done)
            ok = EVP_DigestUpdate(sha, buf + done, to - done) == 1;
        done = to;
        pthread_mutex_lock(&u->hlock);
        if (end && done == u->hash_avail)
            break;
    }
    pthread_mutex_unlock(&u->hlock);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[65] = "";
    if (ok && EVP_DigestFinal_ex(sha, md, &n) == 1 && n == 32)
        s_hex(md, hex);
    EVP_MD_CTX_free(sha);
    memcpy(u->first_hash, hex, sizeof(hex)); /* read after pthread_join */
    return NULL;
}

/* hands the hasher the bytes written so far */
static void s_hash_publish(struct s3_upload *u, bool end)
{
    pthread_mutex_lock(&u->hlock);
    u->hash_avail = u->len;
    u->hash_end = end;
    pthread_cond_signal(&u->hcond);
    pthread_mutex_unlock(&u->hlock);
}

/* ends the first part's hash: hex into out, or "" if it failed (the
 * request then hashes the body itself) */
static void s_hash_done(struct s3_upload *u, char out[65])
{
    out[0] = '\0';
    if (!u->hasher_on)
        return;
    s_hash_publish(u, true);
    pthread_join(u->hasher, NULL);
    u->hasher_on = false;
    memcpy(out, u->first_hash, 65);
}

struct s3_upload *s3_upload_new(struct s3_ctx *s3, const char *key, const char *content_type, struct dld_error *err)
{
    struct s3_upload *u = calloc(1, sizeof(*u));
    if (!u) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    u->s3 = s3;
    u->key = strdup(key);
    u->content_type = strdup(content_type);
    u->part_size = (size_t)s3->part_size;
    u->buf = malloc(u->part_size);
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    pthread_mutex_init(&u->hlock, NULL);
    pthread_cond_init(&u->hcond, NULL);
    if (!u->key || !u->content_type || !u->buf) {
        s3_upload_destroy(u);
        dld_error_set(err, DLD_ERR_FATAL, "out of memory (part buffer of %zu bytes)", (size_t)s3->part_size);
        return NULL;
    }
    /* with UNSIGNED-PAYLOAD nothing is hashed at all; without a hasher
     * thread the request hashes the body itself */
    if (!s3->unsigned_payload)
        u->hasher_on = pthread_create(&u->hasher, NULL, s_hasher, u) == 0;
    return u;
}

static int s_start_multipart(struct s3_upload *u, struct dld_error *err)
{
    int rc = s3_mpu_create(u->s3, u->key, u->content_type, &u->upload_id, err);
    if (rc)
        return rc;
    int n = u->s3->concurrency > 0 ? u->s3->concurrency : 1;
    u->threads = calloc((size_t)n, sizeof(pthread_t));
    u->spare = calloc((size_t)n, sizeof(char *));
    if (!u->threads || !u->spare)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int i = 0; i < n; i++) {
        if (pthread_create(&u->threads[i], NULL, s_worker, u) != 0) {
            if (i == 0)
                return dld_error_set(err, DLD_ERR_FATAL, "cannot start an upload thread");
            break;
        }
        u->nthreads++;
    }
    return DLD_OK;
}

/* hands the current buffer to the pool as the next part */
static int s_queue_part(struct s3_upload *u, struct dld_error *err)
{
    if (u->nparts >= 10000)
        return dld_error_set(err, DLD_ERR_CONFIG, "s3://%s/%s needs more than 10000 parts: raise part_size",
                             u->s3->bucket, u->key);
    if (u->nparts == u->etags_cap) {
        int cap = u->etags_cap ? u->etags_cap * 2 : 16;
        char **p = realloc(u->etags, (size_t)cap * sizeof(char *));
        if (!p)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        memset(p + u->etags_cap, 0, (size_t)(cap - u->etags_cap) * sizeof(char *));
        u->etags = p;
        u->etags_cap = cap;
    }
    struct s_job *j = calloc(1, sizeof(*j));
    if (!j)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    pthread_mutex_lock(&u->lock);
    /* bounded memory: wait for a free slot before taking another buffer, so
     * at most concurrency + 1 part buffers exist */
    while (u->in_flight >= u->nthreads && !u->failed)
        pthread_cond_wait(&u->cond, &u->lock);
    int failed = u->failed;
    char *fresh = NULL;
    if (!failed && u->nspare)
        fresh = u->spare[--u->nspare];
    pthread_mutex_unlock(&u->lock);
    if (failed) {
        free(j);
        *err = u->part_err;
        return failed;
    }
    if (!fresh && !(fresh = malloc(u->part_size))) {
        free(j);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    j->part = ++u->nparts;
    s_hash_done(u, j->hash);
    j->data = u->buf;
    j->len = u->len;
    u->buf = fresh;
    u->len = 0;
    /* only this thread adds to in_flight: the slot is still free */
    pthread_mutex_lock(&u->lock);
    if (u->tail)
        u->tail->next = j;
    else
        u->head = j;
    u->tail = j;
    u->in_flight++;
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
    return DLD_OK;
}

static int s_sink_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    struct s3_upload *u = ctx;
    const char *p = data;
    while (len) {
        size_t room = u->part_size - u->len;
        size_t n = len < room ? len : room;
        memcpy(u->buf + u->len, p, n);
        u->len += n;
        /* wake the hasher per MiB, not per write */
        if (u->hasher_on && u->len - u->hash_avail >= S_HASH_STEP)
            s_hash_publish(u, false);
        u->bytes += n;
        p += n;
        len -= n;
        if (u->len == u->part_size) {
            int rc = DLD_OK;
            if (!u->upload_id)
                rc = s_start_multipart(u, err);
            if (!rc)
                rc = s_queue_part(u, err);
            if (rc)
                return rc;
        }
    }
    return DLD_OK;
}

struct dld_sink s3_upload_sink(struct s3_upload *u)
{
    return (struct dld_sink){.ctx = u, .write = s_sink_write};
}

static void s_stop_workers(struct s3_upload *u)
{
    pthread_mutex_lock(&u->lock);
    u->stop = true;
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
    for (int i = 0; i < u->nthreads; i++)
        pthread_join(u->threads[i], NULL);
    u->nthreads = 0;
}

static void s_abort(struct s3_upload *u)
{
    if (!u->upload_id)
        return;
    struct dld_error err = {.struct_size = sizeof(err)};
    int rc = s3_mpu_abort(u->s3, u->key, u->upload_id, &err);
    if (rc == DLD_ERR_UNSUPPORTED)
        dld_log(u->s3->host, DLD_LOG_WARN, S3_PLUGIN, "the store does not implement AbortMultipartUpload: parts "
                "of s3://%s/%s stay until a lifecycle rule removes them", u->s3->bucket, u->key);
    else if (rc)
        dld_log(u->s3->host, DLD_LOG_WARN, S3_PLUGIN, "%s", err.message);
    free(u->upload_id);
    u->upload_id = NULL;
}

int s3_upload_finish(struct s3_upload *u, struct dld_error *err)
{
    int rc;
    if (u->finished)
        return DLD_OK;
    if (!u->upload_id) {
        char hash[65];
        s_hash_done(u, hash);
        rc = s3_put_object(u->s3, u->key, u->buf, u->len, u->content_type, hash[0] ? hash : NULL, err);
        u->finished = rc == DLD_OK;
        return rc;
    }
    rc = DLD_OK;
    if (u->len > 0)
        rc = s_queue_part(u, err);
    /* wait for every part in flight, then stop the pool */
    pthread_mutex_lock(&u->lock);
    while (u->in_flight > 0)
        pthread_cond_wait(&u->cond, &u->lock);
    int failed = u->failed;
    pthread_mutex_unlock(&u->lock);
    s_stop_workers(u);
    if (!rc && failed) {
        *err = u->part_err;
        rc = failed;
    }
    if (!rc)
        rc = s3_mpu_complete(u->s3, u->key, u->upload_id, u->etags, u->nparts, err);
    if (rc) {
        s_abort(u);
        return rc;
    }
    free(u->upload_id);
    u->upload_id = NULL;
    u->finished = true;
    return DLD_OK;
}

void s3_upload_destroy(struct s3_upload *u)
{
    if (!u)
        return;
    if (u->nthreads) {
        /* unfinished: drop what is queued, let the senders return */
        pthread_mutex_lock(&u->lock);
        if (!u->failed) {
            u->failed = DLD_ERR_FATAL;
            snprintf(u->part_err.message, sizeof(u->part_err.message), "upload abandoned");
        }
        pthread_mutex_unlock(&u->lock);
        s_stop_workers(u);
    }
    if (!u->finished)
        s_abort(u);
    char unused[65];
    s_hash_done(u, unused); /* stops the hasher if the first part never ended */
    for (struct s_job *j = u->head; j;) {
        struct s_job *n = j->next;
        free(j->data);
        free(j);
        j = n;
    }
    for (int i = 0; i < u->nspare; i++)
        free(u->spare[i]);
    free(u->spare);
    for (int i = 0; i < u->etags_cap; i++)
        free(u->etags[i]);
    free(u->etags);
    free(u->threads);
    free(u->buf);
    free(u->key);
    free(u->content_type);
    free(u->upload_id);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->cond);
    pthread_mutex_destroy(&u->hlock);
    pthread_cond_destroy(&u->hcond);
    free(u);
}

uint64_t s3_upload_bytes(const struct s3_upload *u)
{
    return u->bytes;
}

int s3_upload_parts(const struct s3_upload *u)
{
    return u->nparts;
}
