/* fuzz_dataset.c -- libFuzzer target for the dataset parser, which reads a
 * document from storage that any writer of the bucket may have touched.
 *
 * Input: one byte that seeds the chunk sizes, then the document. The document
 * is parsed whole (cfo_dataset_parse) and fed to the incremental parser in
 * chunks of 1 to 64 bytes; both must agree. A document that parses must write
 * and parse back to the same records. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_dataset.h"
#include "cfo_findings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what, const cfo_diag *d)
{
    fprintf(stderr, "fuzz_dataset: %s: %s\n", what, d ? d->msg : "");
    abort();
}

static void check_same(const char *what, const cfo_recset *a, const cfo_recset *b)
{
    if (a->n != b->n) {
        fprintf(stderr, "fuzz_dataset: %s: %zu records against %zu\n", what, a->n, b->n);
        abort();
    }
    for (size_t i = 0; i < a->n; i++)
        if (cfo_record_cmp_all(&a->v[i], &b->v[i]) != 0) {
            fprintf(stderr, "fuzz_dataset: %s: record %zu differs\n", what, i);
            abort();
        }
}

/* The same bytes through the incremental parser, in chunks drawn from seed. */
static cfo_err parse_chunked(const uint8_t *doc, size_t len, uint8_t seed, cfo_recset *into,
                             cfo_dataset_meta *meta, cfo_buf *findings, cfo_buf *strategies,
                             cfo_diag *d)
{
    cfo_dataset_parser *p = cfo_dataset_parser_new("fuzz.json", into);
    cfo_dataset_parser_capture(p, findings, strategies);
    uint32_t state = 0x9e3779b9u ^ seed;
    cfo_err err = CFO_OK;
    size_t off = 0;
    while (err == CFO_OK && off < len) {
        state = state * 1664525u + 1013904223u;
        size_t n = 1 + (state >> 24) % 64;
        if (n > len - off)
            n = len - off;
        /* Each chunk in its own allocation, so the parser cannot read past
         * what it was given without ASan seeing it. */
        uint8_t *chunk = cfo_xmalloc(n);
        memcpy(chunk, doc + off, n);
        err = cfo_dataset_parser_feed(p, chunk, n, d);
        free(chunk);
        off += n;
    }
    if (err == CFO_OK)
        err = cfo_dataset_parser_finish(p, meta, d);
    cfo_dataset_parser_destroy(&p);
    return err;
}

/* The same document parsed with "findings" and "strategies" copied out: the
 * records agree with a plain parse; it may fail only where a plain parse
 * does or over those two members; what it copies reads as findings and
 * strategies or is refused with a reason. */
static void check_capture(const uint8_t *doc, size_t len, uint8_t seed, cfo_err plain,
                          const cfo_recset *whole)
{
    cfo_recset *rs = cfo_recset_new();
    cfo_buf f, st;
    cfo_buf_init(&f);
    cfo_buf_init(&st);
    cfo_dataset_meta m = {0};
    cfo_diag d = {{0}};
    cfo_err e = parse_chunked(doc, len, seed, rs, &m, &f, &st, &d);
    if (e == CFO_OK && plain != CFO_OK)
        check_failed("capturing accepts what a plain parse refuses", &d);
    if (e != CFO_OK && plain == CFO_OK && strstr(d.msg, "findings") == NULL &&
        strstr(d.msg, "strategies") == NULL && strstr(d.msg, "nested") == NULL)
        check_failed("capturing refuses a document for another reason", &d);
    if (e == CFO_OK) {
        check_same("plain against capturing", whole, rs);
        cfo_findings fs;
        cfo_findings_init(&fs);
        cfo_diag fd = {{0}};
        if (f.len > 0 && cfo_findings_parse(f.data, f.len, "fuzz.json", &fs, &fd) != CFO_OK &&
            fd.msg[0] == '\0')
            check_failed("findings refused without a reason", &fd);
        cfo_findings_fini(&fs);
        cfo_strategies strat;
        cfo_strategies_init(&strat);
        if (st.len > 0 &&
            cfo_strategies_parse(st.data, st.len, "fuzz.json", &strat, &fd) != CFO_OK &&
            fd.msg[0] == '\0')
            check_failed("strategies refused without a reason", &fd);
        cfo_strategies_fini(&strat);
    }
    cfo_buf_fini(&f);
    cfo_buf_fini(&st);
    cfo_recset_destroy(&rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t seed = data[0];
    size_t len = size - 1;
    uint8_t *doc = cfo_xmalloc(len ? len : 1);
    if (len)
        memcpy(doc, data + 1, len);

    cfo_recset *whole = cfo_recset_new(), *chunked = cfo_recset_new();
    cfo_dataset_meta m1 = {0}, m2 = {0};
    cfo_diag d1 = {{0}}, d2 = {{0}};
    cfo_err e1 = cfo_dataset_parse(doc, len, "fuzz.json", whole, &m1, &d1);
    cfo_err e2 = parse_chunked(doc, len, seed, chunked, &m2, NULL, NULL, &d2);
    if (e1 != e2) {
        fprintf(stderr, "fuzz_dataset: whole parse gave %d (%s), chunked %d (%s)\n", (int)e1,
                d1.msg, (int)e2, d2.msg);
        abort();
    }
    if (e1 != CFO_OK && (d1.msg[0] == '\0' || d2.msg[0] == '\0'))
        check_failed("a rejected document has no reason", NULL);
    if (e1 == CFO_OK) {
        check_same("whole against chunked", whole, chunked);
        if (m1.version != m2.version || m1.window != m2.window || m1.nrecords != m2.nrecords ||
            m1.nrecords != whole->n)
            check_failed("whole and chunked parses disagree on the document", NULL);

        cfo_buf out;
        cfo_buf_init(&out);
        cfo_dataset_write(whole, m1.window, &out);
        cfo_recset *back = cfo_recset_new();
        cfo_dataset_meta m3 = {0};
        cfo_diag d3 = {{0}};
        if (cfo_dataset_parse(out.data, out.len, "written.json", back, &m3, &d3) != CFO_OK)
            check_failed("a written dataset does not parse", &d3);
        check_same("parse(write(records))", whole, back);
        if (m3.window != m1.window)
            check_failed("the window changed in a round trip", NULL);
        cfo_recset_destroy(&back);
        cfo_buf_fini(&out);
    }
    check_capture(doc, len, seed, e1, whole);
    cfo_recset_destroy(&whole);
    cfo_recset_destroy(&chunked);
    free(doc);
    return 0;
}
