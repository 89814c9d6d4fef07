/* cfo_corpus.h -- fuzzing corpora kept in a blobdir, named by content. */
#ifndef CFO_CORPUS_H
#define CFO_CORPUS_H

#include <stddef.h>

#include "cfo_blobdir.h"
#include "cfo_error.h"
#include "cfo_util.h"

#define CFO_CORPUS_MAX_INPUT (1u << 20) /* bytes of one input; larger ones are skipped, counted */
#define CFO_CORPUS_MAX_FILES 100000

/* 40-hex SHA-1 of data, NUL-terminated in out[41]: the name
 * libFuzzer gives the inputs it writes. */
void cfo_content_name(const void *data, size_t len, char out[41]);
/* Appends the content names of the files cfo_list_files lists in dir (those
 * that cannot be read or are larger than CFO_CORPUS_MAX_INPUT left out), then
 * sorts out. */
void cfo_corpus_content_names(const char *dir, cfo_strv *out);
/* Copies the same files of from into the folder to under their content
 * names, but none whose name to has already; returns how many it copied. */
size_t cfo_corpus_import(const char *from, const char *to);

/* Hard-links into the folder to each file of from whose name is not in the
 * sorted had (a link appears whole, never half-written), adding each name
 * looked at to had and, when not NULL, to the sorted also; returns how
 * many it linked. */
size_t cfo_corpus_link_new(const char *from, const char *to, cfo_strv *had, cfo_strv *also);

/* present: already there (pull: in local_dir; push: remote, or a local
 * duplicate of content already counted); transferred: copied by this call;
 * skipped: larger than CFO_CORPUS_MAX_INPUT, or gone between listing and
 * reading. */
typedef struct cfo_corpus_stats {
    size_t present, transferred, skipped;
} cfo_corpus_stats;

/* Downloads every input of remote not already in local_dir (made if missing),
 * under its remote name. Remote names are those cfo_blobdir_list hands out,
 * so none can point outside local_dir. Each file appears complete or not at
 * all. More than CFO_CORPUS_MAX_FILES remote inputs: CFO_ELIMIT. */
cfo_err cfo_corpus_pull(cfo_blobdir *remote, const char *local_dir, cfo_corpus_stats *st,
                        cfo_diag *d);

/* Uploads every regular file of local_dir (hidden files and sub-folders
 * aside) whose content name remote lacks; files are named by content (their
 * local name is ignored: AFL++ names queue entries id:...). known (may be
 * NULL) is a sorted list of names already known to be remote, to skip a
 * listing; uploads never replace, so a stale known list costs nothing but a
 * refused upload. More than CFO_CORPUS_MAX_FILES local files: CFO_ELIMIT. */
cfo_err cfo_corpus_push(cfo_blobdir *remote, const char *local_dir, const cfo_strv *known,
                        cfo_corpus_stats *st, cfo_diag *d);
/* cfo_corpus_push that also appends to names (unsorted) the content name of
 * every local input it handled, uploaded or already there: what storage
 * holds of local_dir once it returns CFO_OK. */
cfo_err cfo_corpus_push_names(cfo_blobdir *remote, const char *local_dir, const cfo_strv *known,
                              cfo_corpus_stats *st, cfo_strv *names, cfo_diag *d);

#endif
