/* One page, compressed and given its header: what a compression job does.
 * The body is compressed into the thread's scratch buffer, then header and
 * compressed body are copied next to each other into the pool's slabs
 * (cpool.h), so a row group's pages hold no more memory than their
 * compressed bytes, and no page allocates once the slabs are there. */
#include <stdlib.h>
#include <string.h>

#include "cpool.h"
#include "thrift.h"

enum { S_PAGE_DATA = 0, S_ENC_PLAIN = 0, S_ENC_RLE = 3 };

static int s_header(struct dld_pq_buf *hdr, const struct dld_pq_page_job *job, size_t compressed)
{
    struct dld_pq_thrift t;
    hdr->len = 0;
    dld_pq_thrift_init(&t, hdr);
    dld_pq_thrift_message_begin(&t);
    dld_pq_thrift_i32(&t, 1, job->page_type);
    dld_pq_thrift_i32(&t, 2, (int32_t)job->body.len);
    dld_pq_thrift_i32(&t, 3, (int32_t)compressed);
    if (job->page_type == S_PAGE_DATA) {
        dld_pq_thrift_struct_begin(&t, 5); /* DataPageHeader */
        dld_pq_thrift_i32(&t, 1, job->num_values);
        dld_pq_thrift_i32(&t, 2, job->encoding);
        dld_pq_thrift_i32(&t, 3, S_ENC_RLE); /* definition levels */
        dld_pq_thrift_i32(&t, 4, S_ENC_RLE); /* repetition levels (none: flat schema) */
        dld_pq_thrift_struct_end(&t);
    } else {
        dld_pq_thrift_struct_begin(&t, 7); /* DictionaryPageHeader */
        dld_pq_thrift_i32(&t, 1, job->num_values);
        dld_pq_thrift_i32(&t, 2, S_ENC_PLAIN);
        dld_pq_thrift_struct_end(&t);
    }
    dld_pq_thrift_struct_end(&t);
    return t.oom || t.error ? -1 : 0;
}

int dld_pq_page_encode(struct dld_pq_compressor *c, struct dld_pq_page_scratch *s, struct dld_pq_page_job *job)
{
    const uint8_t *payload = job->body.data;
    size_t plen = job->body.len;
    job->msg = NULL;
    if (c->codec != DLD_PQ_UNCOMPRESSED) {
        s->comp.len = 0;
        if (dld_pq_compress(c, job->body.data, job->body.len, &s->comp, &job->msg))
            return -1;
        payload = s->comp.data;
        plen = s->comp.len;
    }
    if (job->body.len > INT32_MAX || plen > INT32_MAX) {
        job->msg = "a page exceeds 2 GiB";
        return -1;
    }
    if (s_header(&s->hdr, job, plen)) {
        job->msg = "out of memory";
        return -1;
    }
    job->out = dld_pq_cpool_carve(job->pool, s->hdr.len + plen + 1); /* +1: an empty page still gets a pointer */
    if (!job->out) {
        job->msg = "out of memory";
        return -1;
    }
    memcpy(job->out, s->hdr.data, s->hdr.len);
    if (plen)
        memcpy(job->out + s->hdr.len, payload, plen);
    job->hdr_len = s->hdr.len;
    job->body_len = job->body.len;
    job->out_len = s->hdr.len + plen;
    return 0;
}

void dld_pq_page_scratch_clean_up(struct dld_pq_page_scratch *s)
{
    dld_pq_buf_clean_up(&s->comp);
    dld_pq_buf_clean_up(&s->hdr);
}
