/* cfo_sessidx.h -- finds a worker's session by its routing id in constant
 * time: the coordinator looks one up for every message it receives, and a
 * scan of a thousand sessions per message was the scheduler's largest cost
 * at a thousand workers (bench/results.md). */
#ifndef CFO_SESSIDX_H
#define CFO_SESSIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open addressing over hashes of (socket, routing id); an entry names a
 * session index. Entries are never removed one by one: the caller checks
 * each candidate against the session itself, so an entry for a session
 * that ended, or whose slot now holds another worker, is passed over, and
 * the table is rebuilt from the live sessions when it fills. */
typedef struct cfo_sessidx {
    uint64_t *hash;
    int *session; /* -1: empty */
    size_t cap;   /* a power of two */
    size_t used;
} cfo_sessidx;

/* Whether session w is the one with this socket and routing id. */
typedef bool (*cfo_sessidx_match_fn)(void *arg, int w, int sock, const unsigned char *rid,
                                     size_t len);

void cfo_sessidx_init(cfo_sessidx *ix, size_t max_sessions);
void cfo_sessidx_fini(cfo_sessidx *ix);

uint64_t cfo_sessidx_hash(int sock, const unsigned char *rid, size_t len);

/* The session with this socket and routing id, or -1. */
int cfo_sessidx_find(const cfo_sessidx *ix, int sock, const unsigned char *rid, size_t len,
                     cfo_sessidx_match_fn match, void *arg);

/* Notes that session w has this socket and routing id. When the table is
 * full, it is emptied first and every live session is put back through
 * live(arg, k, &sock, &rid, &len) for k < nsessions (false: not live). */
typedef bool (*cfo_sessidx_live_fn)(void *arg, int k, int *sock, const unsigned char **rid,
                                    size_t *len);
void cfo_sessidx_put(cfo_sessidx *ix, int w, int sock, const unsigned char *rid, size_t len,
                     int nsessions, cfo_sessidx_live_fn live, void *arg);

#endif
