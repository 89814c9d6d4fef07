/* cfo_record.c -- SeedRecord helpers, the interning pool and record sets. */
#include "cfo_record.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_coverage.h"
#include "cfo_names.h"
#include "cfo_util.h"

static const char *const status_names[CFO_STATUS_COUNT] = {
    [CFO_STATUS_PASS] = "pass",           [CFO_STATUS_FAIL] = "fail",
    [CFO_STATUS_TIMEOUT] = "timeout",     [CFO_STATUS_ERROR] = "error",
    [CFO_STATUS_CANCELLED] = "cancelled", [CFO_STATUS_OOM] = "oom"};

const char *cfo_status_name(cfo_status s)
{
    return cfo_name_of(status_names, CFO_STATUS_COUNT, (int)s, "unknown");
}

int cfo_status_parse(const char *name, cfo_status *out)
{
    int i = cfo_name_find(status_names, CFO_STATUS_COUNT, name);
    if (i >= 0)
        *out = (cfo_status)i;
    return i >= 0 ? 0 : -1;
}

/* Strings are stored in large arena chunks; the hash table holds pointers. */
typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    char data[];
} pool_chunk;

struct cfo_strpool {
    const char **slots; /* open addressing, linear probing */
    uint32_t *hashes;
    size_t nslots, count;
    pool_chunk *chunks;
};

cfo_strpool *cfo_strpool_new(void)
{
    cfo_strpool *p = cfo_xcalloc(1, sizeof *p);
    p->nslots = 64;
    p->slots = cfo_xcalloc(p->nslots, sizeof *p->slots);
    p->hashes = cfo_xcalloc(p->nslots, sizeof *p->hashes);
    return p;
}

void cfo_strpool_destroy(cfo_strpool **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_strpool *p = *self_p;
    for (pool_chunk *c = p->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(p->slots);
    free(p->hashes);
    free(p);
    *self_p = NULL;
}

static char *pool_store(cfo_strpool *p, const char *s, size_t len)
{
    if (p->chunks == NULL || p->chunks->cap - p->chunks->used < len + 1) {
        size_t cap = len + 1 > 65536 ? len + 1 : 65536;
        pool_chunk *c = cfo_xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = p->chunks;
        p->chunks = c;
    }
    char *dst = p->chunks->data + p->chunks->used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    p->chunks->used += len + 1;
    return dst;
}

static void pool_grow(cfo_strpool *p)
{
    size_t n = p->nslots * 2;
    const char **slots = cfo_xcalloc(n, sizeof *slots);
    uint32_t *hashes = cfo_xcalloc(n, sizeof *hashes);
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->slots[i] == NULL)
            continue;
        size_t j = p->hashes[i] & (n - 1);
        while (slots[j] != NULL)
            j = (j + 1) & (n - 1);
        slots[j] = p->slots[i];
        hashes[j] = p->hashes[i];
    }
    free(p->slots);
    free(p->hashes);
    p->slots = slots;
    p->hashes = hashes;
    p->nslots = n;
}

const char *cfo_strpool_intern(cfo_strpool *p, const char *s, size_t len)
{
    uint32_t h = cfo_hash_bytes(s, len);
    size_t mask = p->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const char *cur = p->slots[i];
        if (cur == NULL) {
            if ((p->count + 1) * 4 > p->nslots * 3) {
                pool_grow(p);
                return cfo_strpool_intern(p, s, len);
            }
            char *copy = pool_store(p, s, len);
            p->slots[i] = copy;
            p->hashes[i] = h;
            p->count++;
            return copy;
        }
        if (p->hashes[i] == h && strncmp(cur, s, len) == 0 && cur[len] == '\0')
            return cur;
    }
}

const char *cfo_strpool_intern_cstr(cfo_strpool *p, const char *s)
{
    return s == NULL ? NULL : cfo_strpool_intern(p, s, strlen(s));
}

cfo_recset *cfo_recset_new(void)
{
    cfo_recset *rs = cfo_xcalloc(1, sizeof *rs);
    rs->pool = cfo_strpool_new();
    return rs;
}

void cfo_recset_destroy(cfo_recset **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_recset *rs = *self_p;
    free(rs->v);
    cfo_strpool_destroy(&rs->pool);
    free(rs);
    *self_p = NULL;
}

void cfo_recset_add(cfo_recset *rs, const cfo_record *r)
{
    rs->v = cfo_grow(rs->v, &rs->cap, rs->n + 1, sizeof *rs->v);
    cfo_record *dst = &rs->v[rs->n++];
    *dst = *r;
    dst->commit = cfo_strpool_intern_cstr(rs->pool, r->commit);
    dst->fuzzer = cfo_strpool_intern_cstr(rs->pool, r->fuzzer);
    dst->branch = cfo_strpool_intern_cstr(rs->pool, r->branch);
    dst->target = cfo_strpool_intern_cstr(rs->pool, r->target);
    dst->command = cfo_strpool_intern_cstr(rs->pool, r->command);
    dst->run = cfo_strpool_intern_cstr(rs->pool, r->run);
    dst->worker = cfo_strpool_intern_cstr(rs->pool, r->worker);
    dst->crashes = cfo_strpool_intern_cstr(rs->pool, r->crashes);
    dst->coverage = cfo_strpool_intern_cstr(rs->pool, r->coverage);
}

void cfo_recset_add_all(cfo_recset *rs, const cfo_recset *other)
{
    for (size_t i = 0; i < other->n; i++)
        cfo_recset_add(rs, &other->v[i]);
}

void cfo_recset_clear(cfo_recset *rs)
{
    rs->n = 0;
}

int cfo_strcmp0(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (a == NULL)
        return -1;
    if (b == NULL)
        return 1;
    return strcmp(a, b);
}

#define CMP_NUM(x, y)                                                                              \
    do {                                                                                           \
        if ((x) != (y))                                                                            \
            return (x) < (y) ? -1 : 1;                                                             \
    } while (0)
#define CMP_STR(x, y)                                                                              \
    do {                                                                                           \
        int c_ = cfo_strcmp0((x), (y));                                                            \
        if (c_ != 0)                                                                               \
            return c_;                                                                             \
    } while (0)

int cfo_record_cmp_all(const cfo_record *a, const cfo_record *b)
{
    int64_t ta = a->has_time ? a->time_ms : INT64_MIN;
    int64_t tb = b->has_time ? b->time_ms : INT64_MIN;
    CMP_NUM(ta, tb);
    CMP_STR(a->fuzzer, b->fuzzer);
    CMP_STR(a->branch, b->branch);
    CMP_STR(a->target, b->target);
    CMP_STR(a->commit, b->commit);
    CMP_NUM(a->attempt, b->attempt);
    CMP_STR(a->run, b->run);
    CMP_NUM(a->ok, b->ok);
    CMP_NUM(a->status, b->status);
    CMP_NUM(a->count, b->count);
    CMP_NUM(a->findings, b->findings);
    CMP_NUM(a->duration, b->duration);
    CMP_STR(a->command, b->command);
    CMP_STR(a->worker, b->worker);
    CMP_NUM(a->has_usage, b->has_usage);
    if (a->has_usage) {
        CMP_NUM(a->cpu, b->cpu);
        CMP_NUM(a->max_rss_kb, b->max_rss_kb);
    }
    CMP_STR(a->crashes, b->crashes);
    CMP_STR(a->coverage, b->coverage);
    return 0;
}

static bool is_hex_sha(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return false;
    return n == 40 || n == 64;
}

cfo_err cfo_record_validate(const cfo_record *r, cfo_diag *d)
{
    struct {
        const char *name, *value;
    } req[] = {{"commit", r->commit},
               {"fuzzer", r->fuzzer},
               {"branch", r->branch},
               {"target", r->target},
               {"command", r->command}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        if (req[i].value == NULL || (req[i].value[0] == '\0' && strcmp(req[i].name, "target")))
            return cfo_diag_set(d, CFO_EINVAL, "field '%s' is missing or empty", req[i].name);
    }
    const char *strings[] = {r->commit, r->fuzzer, r->branch,  r->target,  r->command,
                             r->run,    r->worker, r->crashes, r->coverage};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strings[i] != NULL && strlen(strings[i]) > CFO_RECORD_MAX_STRING)
            return cfo_diag_set(d, CFO_EINVAL, "a field is longer than %d bytes",
                                CFO_RECORD_MAX_STRING);
    /* The dataset writes times as YYYY-MM-DDThh:mm:ss.sssZ: years 1970-9999. */
    if (r->has_time && (r->time_ms < 0 || r->time_ms > CFO_RECORD_MAX_TIME_MS))
        return cfo_diag_set(d, CFO_EINVAL, "time %lld ms is not a time of years 1970 to 9999",
                            (long long)r->time_ms);
    if (!is_hex_sha(r->commit))
        return cfo_diag_set(d, CFO_EINVAL, "commit '%.80s' is not a 40- or 64-digit hex sha",
                            r->commit);
    if (r->count < 0 || r->findings < 0)
        return cfo_diag_set(d, CFO_EINVAL, "count and findings must not be negative");
    if (!isfinite(r->duration) || r->duration < 0)
        return cfo_diag_set(d, CFO_EINVAL, "duration must be a finite number >= 0");
    if (r->attempt > CFO_RECORD_MAX_ATTEMPT)
        return cfo_diag_set(d, CFO_EINVAL, "attempt %u out of range", r->attempt);
    if (r->has_usage && (!isfinite(r->cpu) || r->cpu < 0 || r->max_rss_kb < 0))
        return cfo_diag_set(d, CFO_EINVAL, "cpu and max_rss_kb must be numbers >= 0");
    cfo_coverage cov;
    if (r->coverage != NULL && cfo_coverage_parse(r->coverage, &cov, d) != CFO_OK)
        return CFO_EINVAL;
    if (r->ok != (r->status == CFO_STATUS_PASS))
        return cfo_diag_set(d, CFO_EINVAL, "ok=%s contradicts status '%s'",
                            r->ok ? "true" : "false", cfo_status_name(r->status));
    return CFO_OK;
}
