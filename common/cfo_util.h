/* cfo_util.h -- allocation, growable buffers, string vectors, small parsers. */
#ifndef CFO_UTIL_H
#define CFO_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"

/* Allocation. Every input CFO reads is capped, so running out of memory is not
 * something the outside world can provoke; these print a message and abort
 * rather than thread ENOMEM through every caller. */
void *cfo_xmalloc(size_t n);
void *cfo_xcalloc(size_t n, size_t size);
void *cfo_xrealloc(void *p, size_t n);
char *cfo_xstrdup(const char *s);
/* Copies exactly n bytes of s (which may hold NULs) and adds a NUL. */
char *cfo_xstrndup(const char *s, size_t n);
char *cfo_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The array v of *cap elements of elem bytes, reallocated to hold at least
 * need when it holds fewer; *cap doubles (from 16), so appending one
 * element at a time costs amortized O(1). Returns v, moved or not:
 *   rs->v = cfo_grow(rs->v, &rs->cap, rs->n + 1, sizeof *rs->v); */
void *cfo_grow(void *v, size_t *cap, size_t need, size_t elem);
/* FNV-1a of len bytes at s, for hash tables. */
uint32_t cfo_hash_bytes(const char *s, size_t len);
/* Frees each of the n pointers (NULL ones too): a struct's owned members
 * in one statement, through cfo_free_all(a->x, a->y, ...). */
void cfo_free_many(void *const *ptrs, size_t n);
#define cfo_free_all(...)                                                                          \
    cfo_free_many((void *const[]){__VA_ARGS__},                                                    \
                  sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

/* Growable byte buffer; data is always NUL-terminated (not counted in len). */
typedef struct cfo_buf {
    char *data;
    size_t len;
    size_t cap;
} cfo_buf;

void cfo_buf_init(cfo_buf *b);
void cfo_buf_fini(cfo_buf *b);
void cfo_buf_reset(cfo_buf *b);
void cfo_buf_reserve(cfo_buf *b, size_t extra);
void cfo_buf_append(cfo_buf *b, const void *p, size_t n);
void cfo_buf_puts(cfo_buf *b, const char *s);
void cfo_buf_printf(cfo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free() it) and leaves b empty. */
char *cfo_buf_steal(cfo_buf *b);

/* NULL-terminated vector of owned strings (an argv). */
typedef struct cfo_strv {
    char **v;
    size_t n;
    size_t cap;
} cfo_strv;

void cfo_strv_init(cfo_strv *sv);
void cfo_strv_fini(cfo_strv *sv);
void cfo_strv_push(cfo_strv *sv, const char *s);
void cfo_strv_push_owned(cfo_strv *sv, char *s);
/* Appends copies of the NULL-terminated words. */
void cfo_strv_push_words(cfo_strv *sv, const char *const *words);
/* Appends copies of the words given: cfo_strv_pushl(&argv, "tar", "-xzf",
 * path). */
#define cfo_strv_pushl(sv, ...) cfo_strv_push_words((sv), (const char *const[]){__VA_ARGS__, NULL})
bool cfo_strv_contains(const cfo_strv *sv, const char *s);
/* strcmp for qsort and bsearch over an array of char *. */
int cfo_strp_cmp(const void *a, const void *b);
/* Sorts sv by strcmp. */
void cfo_strv_sort(cfo_strv *sv);
/* Whether sv (sorted; NULL: empty) holds s. */
bool cfo_strv_sorted_has(const cfo_strv *sv, const char *s);
/* Adds s to the sorted sv unless it holds it: insertion keeps it sorted
 * without a full sort per string. */
void cfo_strv_sorted_add(cfo_strv *sv, const char *s);
/* Splits s on ASCII white space into sv (appending). */
void cfo_strv_split_ws(cfo_strv *sv, const char *s);

/* Reads a whole file (at most max bytes) into out. */
cfo_err cfo_read_file(const char *path, size_t max, cfo_buf *out, cfo_diag *d);

/* Durations: "90s", "30m", "1h", "1h30m", "250ms", or a plain number of
 * seconds. Result in milliseconds, > 0. */
cfo_err cfo_parse_duration(const char *s, int64_t *out_ms, cfo_diag *d);
/* "2G", "512M", "64k", "1048576" (bytes; K/M/G/T are powers of 1024, an
 * optional trailing B or iB allowed) into KiB, at least 1 KiB, at most 1 PiB. */
cfo_err cfo_parse_size_kb(const char *s, int64_t *out_kb, cfo_diag *d);
/* "40%" (or "40") into 40; an integer in 1..100. */
cfo_err cfo_parse_percent(const char *s, int *out, cfo_diag *d);
/* "s" unless n is 1, for counted nouns: "%zu task%s", n, cfo_plural(n). */
const char *cfo_plural(size_t n);
/* Writes a duration as "1h02m03s" / "4.2s" style text. */
void cfo_format_duration(int64_t ms, char *out, size_t len);
/* Strict decimal integer in [min, max]. */
cfo_err cfo_parse_int(const char *s, int64_t min, int64_t max, int64_t *out, cfo_diag *d);
/* "true/false/yes/no/on/off/1/0". */
cfo_err cfo_parse_bool(const char *s, bool *out, cfo_diag *d);

/* Shell-quotes argv into one line that a POSIX shell splits back into argv. */
void cfo_shell_quote_argv(cfo_buf *out, char *const argv[]);

/* Makes a string safe as one path component ([A-Za-z0-9._-], '/' -> '__'). */
char *cfo_safe_name(const char *s);

/* mkdir -p with mode 0755. */
cfo_err cfo_mkdir_p(const char *path, cfo_diag *d);
/* Makes a new private folder $TMPDIR/<prefix>-XXXXXX (/tmp when TMPDIR is
 * unset or not absolute) and returns its path (free it), or NULL with d
 * saying why. */
char *cfo_make_temp_dir(const char *prefix, cfo_diag *d);
/* path made absolute against the current directory now, so that a later
 * chdir does not move what it names (free it); NULL with d saying why. */
char *cfo_abs_path(const char *path, cfo_diag *d);
/* The next entry of dh that is a regular file and not hidden (no leading
 * '.': neither "." nor ".." nor a writer's temporary file), symbolic links
 * not followed. NULL at the end (errno 0) or on a read error (errno set). */
struct dirent *cfo_dir_next_file(DIR *dh);
/* Appends the names of the regular files of dir (symbolic links followed),
 * hidden ones aside, sorted. Fails only when dir cannot be opened. */
cfo_err cfo_list_files(const char *dir, cfo_strv *out, cfo_diag *d);
/* rm -rf. */
cfo_err cfo_remove_tree(const char *path, cfo_diag *d);

/* Replaces every byte of s that is not part of valid UTF-8 (and every control
 * character but tab and newline) with '?', in place, so output captured from
 * a task is safe in JSON and XML. */
void cfo_utf8_sanitize(char *s);

/* Appends at most max bytes of s (NULL: nothing) escaped for XML and HTML
 * text and attribute values alike. Bytes that are not valid UTF-8, and the
 * control characters XML forbids, become '?', so that whatever a fuzzer put
 * into a name or its output cannot break the markup. */
void cfo_buf_put_markup(cfo_buf *b, const char *s, size_t max);
/* Appends fmt with each %s replaced by its argument escaped as by
 * cfo_buf_put_markup (NULL: nothing), %.Ns by at most N bytes of it; %% is a
 * '%'. There is no other conversion. */
void cfo_buf_markupf(cfo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The entity that stands for c in XML and HTML (&lt; &gt; &amp; &quot;
 * &#39;), or NULL when c stands for itself. */
const char *cfo_markup_entity(char c);

/* Whether JSON text nests arrays and objects at most max deep (brackets in
 * strings not counted). yajl_tree parses and frees by recursion, so outside
 * JSON is checked with this before it is handed to yajl_tree_parse. */
bool cfo_json_depth_ok(const char *json, size_t len, int max);

/* The absolute path of the executable name: name itself when it holds a
 * '/', else the first match in $PATH (free it); NULL when there is none. */
char *cfo_which(const char *name);

/* Number of online CPUs, at least 1. */
int cfo_cpu_count(void);

#endif
