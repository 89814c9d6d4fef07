/* cfo_journal.c -- checksummed JSON entries in an append-only file; read
 * back with yajl_tree, written with yajl_gen.
 *
 * The file starts with JOURNAL_MAGIC. Each entry is a 12-byte header,
 * [u32 length][u32 crc32 of the body][u32 crc32 of those 8 bytes], then the
 * body, little endian. The header has a checksum of its own so that a
 * damaged length is told apart from an entry a crash cut short: only the
 * end of the file can be torn, and only a short or zero-filled end, or a
 * last entry whose body fails its checksum, is taken for one. */
#include "cfo_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cfo_coverage.h"
#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_util.h"

#define JOURNAL_MAX_ENTRY (256u << 20)
#define JOURNAL_MAGIC "CFOJRNL2"
#define JOURNAL_MAGIC_LEN 8
#define JOURNAL_HEAD 12
#define JOURNAL_TAIL_KEPT 4096 /* bytes of a task's output tail kept in the journal */

struct cfo_journal {
    char *path;
    int fd;
    cfo_journal_run run;
    bool has_run;
    yajl_val tasks; /* the run entry's task array (owned by run_doc) */
    yajl_val run_doc;
    yajl_val *commits; /* commit entries, in order */
    size_t ncommits, capcommits;
    /* Per task of the run: the last attempt given out and to whom (0, NULL:
     * none), from "given" entries. */
    uint32_t *given_attempt;
    char **given_worker;
    size_t ntasks;
};

static uint32_t crc32_of(const void *data, size_t len)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    uint32_t crc = 0xffffffffu;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool int_at(yajl_val obj, const char *key, long long *out)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
    if (v == NULL || !YAJL_IS_INTEGER(v))
        return false;
    *out = YAJL_GET_INTEGER(v);
    return true;
}

static void forget_given(cfo_journal *j)
{
    for (size_t i = 0; i < j->ntasks; i++)
        free(j->given_worker[i]);
    free(j->given_worker);
    free(j->given_attempt);
    j->given_worker = NULL;
    j->given_attempt = NULL;
    j->ntasks = 0;
}

static void forget_run(cfo_journal *j)
{
    forget_given(j);
    free(j->run.run_id);
    memset(&j->run, 0, sizeof j->run);
    yajl_tree_free(j->run_doc);
    j->run_doc = NULL;
    j->tasks = NULL;
    for (size_t i = 0; i < j->ncommits; i++)
        yajl_tree_free(j->commits[i]);
    j->ncommits = 0;
    j->has_run = false;
}

/* A task given out: {"task", "attempt", "worker"}. */
static bool take_given(cfo_journal *j, yajl_val doc)
{
    long long task, attempt;
    const char *worker = cfo_json_member_str(doc, "worker");
    bool ok = int_at(doc, "task", &task) && task >= 0 && (size_t)task < j->ntasks &&
              int_at(doc, "attempt", &attempt) && attempt >= 1 &&
              attempt <= CFO_RECORD_MAX_ATTEMPT && worker != NULL;
    if (!ok)
        return false; /* the caller frees doc */
    j->given_attempt[task] = (uint32_t)attempt;
    free(j->given_worker[task]);
    j->given_worker[task] = cfo_xstrdup(worker);
    yajl_tree_free(doc);
    return true;
}

/* Takes one parsed entry; returns false for one that makes no sense here. */
static bool take_entry(cfo_journal *j, yajl_val doc)
{
    const char *type = cfo_json_member_str(doc, "type");
    if (type == NULL)
        return false;
    if (strcmp(type, "run") == 0) {
        forget_run(j);
        long long started, budget;
        const char *id = cfo_json_member_str(doc, "run");
        const char *path[] = {"tasks", NULL};
        yajl_val tasks = yajl_tree_get(doc, path, yajl_t_array);
        if (id == NULL || tasks == NULL || !int_at(doc, "started", &started) ||
            !int_at(doc, "budget_ms", &budget))
            return false;
        j->run_doc = doc;
        j->tasks = tasks;
        j->run.run_id = cfo_xstrdup(id);
        j->run.started_wall_ms = started;
        j->run.budget_ms = budget;
        j->has_run = true;
        j->ntasks = YAJL_GET_ARRAY(tasks)->len;
        j->given_attempt = cfo_xcalloc(j->ntasks + 1, sizeof *j->given_attempt);
        j->given_worker = cfo_xcalloc(j->ntasks + 1, sizeof *j->given_worker);
        return true;
    }
    if (!j->has_run)
        return false;
    if (strcmp(type, "commit") == 0) {
        long long task;
        if (!int_at(doc, "task", &task) || task < 0 ||
            (size_t)task >= YAJL_GET_ARRAY(j->tasks)->len)
            return false;
        j->commits = cfo_grow(j->commits, &j->capcommits, j->ncommits + 1, sizeof *j->commits);
        j->commits[j->ncommits++] = doc;
        j->run.committed = j->ncommits;
        return true;
    }
    if (strcmp(type, "given") == 0)
        return take_given(j, doc);
    if (strcmp(type, "finished") == 0) {
        j->run.finished = true;
        yajl_tree_free(doc);
        return true;
    }
    return false;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* Where the entry at p (left bytes to the end) ends, 0 when it is the torn
 * end of a crash, or (size_t)-1 when it is damage. */
static size_t entry_end(const unsigned char *p, size_t left)
{
    if (left < JOURNAL_HEAD || all_zero(p, left))
        return 0;
    uint32_t len = get_u32(p), crc = get_u32(p + 4);
    if (crc32_of(p, 8) != get_u32(p + 8))
        return (size_t)-1;
    if (len == 0 || len > JOURNAL_MAX_ENTRY)
        return (size_t)-1;
    if (len > left - JOURNAL_HEAD)
        return 0; /* whole header, body cut short */
    if (crc32_of(p + JOURNAL_HEAD, len) != crc)
        return len == left - JOURNAL_HEAD ? 0 : (size_t)-1;
    return JOURNAL_HEAD + len;
}

/* Reads the entries of data[0..len) into j; *intact is where the torn end
 * begins (len when there is none). */
static cfo_err replay_bytes(cfo_journal *j, const unsigned char *data, size_t len, size_t *intact,
                            cfo_diag *d)
{
    *intact = 0;
    /* The first write cut short: nothing was ever committed. */
    if (len < JOURNAL_MAGIC_LEN && (memcmp(data, JOURNAL_MAGIC, len) == 0 || all_zero(data, len)))
        return CFO_OK;
    if (len < JOURNAL_MAGIC_LEN || memcmp(data, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0)
        return cfo_diag_set(d, CFO_EPARSE,
                            "journal %s is not a journal of this version of CFO (it may be "
                            "damaged, or written by an older one); it was left as it is",
                            j->path);
    size_t off = JOURNAL_MAGIC_LEN;
    while (off < len) {
        size_t n = entry_end(data + off, len - off);
        if (n == 0)
            break;
        if (n == (size_t)-1)
            return cfo_diag_set(d, CFO_EPARSE,
                                "journal %s is damaged at byte %zu (an entry fails its checksum "
                                "before the end); it was left as it is",
                                j->path, off);
        char *text = cfo_xstrndup((const char *)data + off + JOURNAL_HEAD, n - JOURNAL_HEAD);
        char err_text[128];
        yajl_val doc = yajl_tree_parse(text, err_text, sizeof err_text);
        free(text);
        if (doc == NULL || !take_entry(j, doc)) {
            /* Whole and checksummed but meaningless: not a torn write. */
            if (doc != NULL && doc != j->run_doc)
                yajl_tree_free(doc);
            return cfo_diag_set(d, CFO_EPARSE,
                                "journal %s: entry at byte %zu is not one this program wrote",
                                j->path, off);
        }
        off += n;
    }
    *intact = off;
    return CFO_OK;
}

/* Reads every whole entry; cuts the file after the last good one. */
static cfo_err replay(cfo_journal *j, cfo_diag *d)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_err err = cfo_read_file(j->path, (size_t)1 << 34, &b, d);
    if (err != CFO_OK) {
        cfo_buf_fini(&b);
        return err == CFO_ENOTFOUND ? CFO_OK : err;
    }
    size_t off = 0;
    err = replay_bytes(j, (const unsigned char *)b.data, b.len, &off, d);
    if (err == CFO_OK && off < b.len) {
        cfo_warn("journal %s: dropped a torn last entry (%zu bytes at byte %zu)", j->path,
                 b.len - off, off);
        if (truncate(j->path, (off_t)off) != 0)
            err =
                cfo_diag_set(d, CFO_EIO, "cannot repair journal %s: %s", j->path, strerror(errno));
    }
    cfo_buf_fini(&b);
    return err;
}

cfo_err cfo_journal_check(const void *data, size_t len, size_t *intact, size_t *committed,
                          cfo_diag *d)
{
    cfo_journal j = {.path = "(bytes)", .fd = -1};
    cfo_err err = replay_bytes(&j, data, len, intact, d);
    *committed = j.run.committed;
    forget_run(&j);
    free(j.commits);
    return err;
}

cfo_err cfo_journal_open(const char *dir, cfo_journal **out, cfo_diag *d)
{
    cfo_err err = cfo_mkdir_p(dir, d);
    if (err != CFO_OK)
        return err;
    cfo_journal *j = cfo_xcalloc(1, sizeof *j);
    j->path = cfo_xasprintf("%s/journal", dir);
    j->fd = -1;
    err = replay(j, d);
    if (err == CFO_OK) {
        j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (j->fd < 0)
            err = cfo_diag_set(d, CFO_EIO, "cannot open journal %s: %s", j->path, strerror(errno));
    }
    if (err != CFO_OK) {
        cfo_journal_close(&j);
        return err;
    }
    *out = j;
    return CFO_OK;
}

void cfo_journal_close(cfo_journal **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_journal *j = *self_p;
    forget_run(j);
    free(j->commits);
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
    *self_p = NULL;
}

const cfo_journal_run *cfo_journal_run_info(const cfo_journal *j)
{
    return j->has_run ? &j->run : NULL;
}

/* Appends one entry and, with sync, makes it durable. */
static cfo_err append_entry(cfo_journal *j, yajl_gen g, bool sync, cfo_diag *d)
{
    const unsigned char *body;
    size_t len;
    yajl_gen_get_buf(g, &body, &len);
    unsigned char head[JOURNAL_HEAD];
    put_u32(head, (uint32_t)len);
    put_u32(head + 4, crc32_of(body, len));
    put_u32(head + 8, crc32_of(head, 8));
    cfo_buf b;
    cfo_buf_init(&b);
    /* A journal begins with its magic (begin has emptied it). */
    struct stat st;
    if (fstat(j->fd, &st) == 0 && st.st_size == 0)
        cfo_buf_append(&b, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
    cfo_buf_append(&b, head, sizeof head);
    cfo_buf_append(&b, body, len);
    /* One write, so a crash leaves at worst one torn entry at the end. */
    size_t done = 0;
    cfo_err err = CFO_OK;
    while (done < b.len) {
        ssize_t w = write(j->fd, b.data + done, b.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = cfo_diag_set(d, CFO_EIO, "cannot write journal %s: %s", j->path,
                               w < 0 ? strerror(errno) : "short write");
            break;
        }
        done += (size_t)w;
    }
    if (err == CFO_OK && sync && fdatasync(j->fd) != 0)
        err = cfo_diag_set(d, CFO_EIO, "cannot sync journal %s: %s", j->path, strerror(errno));
    cfo_buf_fini(&b);
    return err;
}

static cfo_err append(cfo_journal *j, yajl_gen g, cfo_diag *d)
{
    return append_entry(j, g, true, d);
}

cfo_err cfo_journal_begin(cfo_journal *j, const char *run_id, int64_t started_wall_ms,
                          int64_t budget_ms, const cfo_taskset *ts, cfo_diag *d)
{
    forget_run(j);
    if (ftruncate(j->fd, 0) != 0)
        return cfo_diag_set(d, CFO_EIO, "cannot reset journal %s: %s", j->path, strerror(errno));
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    cfo_json_str(g, "type", "run");
    cfo_json_str(g, "run", run_id);
    cfo_json_int(g, "started", started_wall_ms);
    cfo_json_int(g, "budget_ms", budget_ms);
    yajl_gen_string(g, (const unsigned char *)"tasks", 5);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        yajl_gen_map_open(g);
        cfo_json_str(g, "fuzzer", t->fuzzer->name);
        cfo_json_str(g, "branch", t->branch);
        cfo_json_str(g, "commit", t->commit);
        cfo_json_str(g, "target", t->target);
        cfo_json_int(g, "timeout_ms", t->timeout_ms);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    cfo_err err = append(j, g, d);
    if (err == CFO_OK) {
        /* Keep the header in memory as if it had been read back. */
        const unsigned char *body;
        size_t len;
        yajl_gen_get_buf(g, &body, &len);
        char *text = cfo_xstrndup((const char *)body, len);
        yajl_val doc = yajl_tree_parse(text, NULL, 0);
        free(text);
        if (doc == NULL || !take_entry(j, doc))
            err = cfo_diag_set(d, CFO_EIO, "journal %s: cannot read back its run entry", j->path);
    }
    yajl_gen_free(g);
    return err;
}

/* The members of a commit entry that hold the outcome; outcome_of_entry
 * reads them back. */
static void gen_outcome(yajl_gen g, const cfo_outcome *o)
{
    cfo_json_str(g, "status", cfo_status_name(o->status));
    cfo_json_int(g, "count", o->count);
    cfo_json_int(g, "findings", o->findings);
    cfo_json_int(g, "duration_us", (long long)(o->duration * 1e6));
    cfo_json_int(g, "end", o->end_wall_ms);
    cfo_json_int(g, "exit_code", o->exit_code);
    cfo_json_int(g, "signal", o->term_signal);
    cfo_json_int(g, "attempt", o->attempt);
    if (o->has_usage) {
        cfo_json_int(g, "cpu_us", (long long)(o->cpu * 1e6));
        cfo_json_int(g, "max_rss_kb", o->max_rss_kb);
    }
    cfo_json_str(g, "crashes", o->crashes);
    cfo_json_str(g, "coverage", o->coverage);
    cfo_json_str(g, "summary", o->summary);
    cfo_json_str(g, "command", o->command);
    cfo_json_str(g, "worker", o->worker);
    cfo_json_str(g, "log", o->log_path);
    /* The tail only for people reading the report; its end is what matters. */
    const char *tail = o->tail ? o->tail : "";
    size_t n = strlen(tail);
    cfo_json_str(g, "tail", n > JOURNAL_TAIL_KEPT ? tail + n - JOURNAL_TAIL_KEPT : tail);
}

static char *dup_or_null(const char *s)
{
    return s ? cfo_xstrdup(s) : NULL;
}

/* The outcome a commit entry holds (gen_outcome's members), into an empty
 * o. What is missing reads as the commit's defaults; the findings list is
 * checked again, since the file may have been edited. */
static void outcome_of_entry(cfo_outcome *o, yajl_val e)
{
    long long v, rss;
    o->done = true;
    const char *status = cfo_json_member_str(e, "status");
    if (status == NULL || cfo_status_parse(status, &o->status) != 0)
        o->status = CFO_STATUS_ERROR;
    o->count = int_at(e, "count", &v) ? v : 0;
    o->findings = int_at(e, "findings", &v) ? v : 0;
    o->duration = int_at(e, "duration_us", &v) ? (double)v / 1e6 : 0;
    o->end_wall_ms = int_at(e, "end", &v) ? v : 0;
    o->exit_code = int_at(e, "exit_code", &v) ? (int)v : -1;
    o->term_signal = int_at(e, "signal", &v) ? (int)v : 0;
    o->attempt = int_at(e, "attempt", &v) ? (uint32_t)v : 1;
    if (int_at(e, "cpu_us", &v) && int_at(e, "max_rss_kb", &rss) && v >= 0 && rss >= 0) {
        o->has_usage = true;
        o->cpu = (double)v / 1e6;
        o->max_rss_kb = rss;
    }
    o->crashes = cfo_outcome_compact_crashes(cfo_json_member_str(e, "crashes"));
    o->coverage = cfo_coverage_compact(cfo_json_member_str(e, "coverage"));
    o->summary = dup_or_null(cfo_json_member_str(e, "summary"));
    o->command = dup_or_null(cfo_json_member_str(e, "command"));
    o->worker = dup_or_null(cfo_json_member_str(e, "worker"));
    o->log_path = dup_or_null(cfo_json_member_str(e, "log"));
    o->tail = cfo_xstrdup(cfo_json_member_str(e, "tail") ? cfo_json_member_str(e, "tail") : "");
}

cfo_err cfo_journal_commit(cfo_journal *j, size_t task, const cfo_outcome *o, cfo_diag *d)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    cfo_json_str(g, "type", "commit");
    cfo_json_int(g, "task", (long long)task);
    gen_outcome(g, o);
    yajl_gen_map_close(g);
    cfo_err err = append(j, g, d);
    yajl_gen_free(g);
    if (err == CFO_OK)
        j->run.committed++;
    return err;
}

cfo_err cfo_journal_give(cfo_journal *j, size_t task, uint32_t attempt, const char *worker,
                         cfo_diag *d)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    cfo_json_str(g, "type", "given");
    cfo_json_int(g, "task", (long long)task);
    cfo_json_int(g, "attempt", attempt);
    cfo_json_str(g, "worker", worker);
    yajl_gen_map_close(g);
    /* Not synced: lost, it only means a re-offered result is not believed
     * and the task runs again. */
    cfo_err err = append_entry(j, g, false, d);
    yajl_gen_free(g);
    return err;
}

bool cfo_journal_given(const cfo_journal *j, size_t task, uint32_t *attempt, const char **worker)
{
    if (task >= j->ntasks || j->given_attempt[task] == 0)
        return false;
    *attempt = j->given_attempt[task];
    *worker = j->given_worker[task];
    return true;
}

cfo_err cfo_journal_finish(cfo_journal *j, cfo_diag *d)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    cfo_json_str(g, "type", "finished");
    yajl_gen_map_close(g);
    cfo_err err = append(j, g, d);
    yajl_gen_free(g);
    if (err == CFO_OK)
        j->run.finished = true;
    return err;
}

cfo_err cfo_journal_restore(const cfo_journal *j, const cfo_config *config, cfo_taskset *ts,
                            cfo_outcome **outcomes, cfo_diag *d)
{
    if (!j->has_run)
        return cfo_diag_set(d, CFO_ENOTFOUND, "journal %s holds no run", j->path);
    yajl_val tasks = j->tasks;
    size_t n = YAJL_GET_ARRAY(tasks)->len;
    cfo_taskset_init(ts);
    ts->v = cfo_xcalloc(n ? n : 1, sizeof *ts->v);
    ts->cap = n ? n : 1;
    for (size_t i = 0; i < n; i++) {
        yajl_val t = YAJL_GET_ARRAY(tasks)->values[i];
        const char *fuzzer = cfo_json_member_str(t, "fuzzer"),
                   *branch = cfo_json_member_str(t, "branch");
        const char *commit = cfo_json_member_str(t, "commit"),
                   *target = cfo_json_member_str(t, "target");
        long long timeout;
        const cfo_fuzzer *f = fuzzer ? cfo_config_find(config, fuzzer) : NULL;
        if (f == NULL || branch == NULL || commit == NULL || target == NULL ||
            !int_at(t, "timeout_ms", &timeout)) {
            cfo_taskset_fini(ts);
            return cfo_diag_set(d, CFO_EINVAL,
                                "journal %s: task %zu names a fuzzer '%s' the configuration "
                                "does not have, or is incomplete",
                                j->path, i, fuzzer ? fuzzer : "?");
        }
        cfo_task *task = &ts->v[ts->n++];
        task->id = i;
        task->fuzzer = f;
        task->branch = cfo_xstrdup(branch);
        task->commit = cfo_xstrdup(commit);
        task->target = cfo_xstrdup(target);
        task->timeout_ms = timeout;
    }
    cfo_outcome *out = cfo_xcalloc(n ? n : 1, sizeof *out);
    for (size_t c = 0; c < j->ncommits; c++) {
        yajl_val e = j->commits[c];
        long long task = 0;
        int_at(e, "task", &task);
        cfo_outcome *o = &out[task];
        cfo_outcome_fini(o); /* a later commit of the same task wins */
        outcome_of_entry(o, e);
    }
    *outcomes = out;
    return CFO_OK;
}
