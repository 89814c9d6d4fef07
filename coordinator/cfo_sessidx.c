/* cfo_sessidx.c -- a routing id to session table. */
#include "cfo_sessidx.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_util.h"

void cfo_sessidx_init(cfo_sessidx *ix, size_t max_sessions)
{
    size_t cap = 16;
    while (cap < 4 * max_sessions)
        cap *= 2;
    ix->cap = cap;
    ix->used = 0;
    ix->hash = cfo_xcalloc(cap, sizeof *ix->hash);
    ix->session = cfo_xcalloc(cap, sizeof *ix->session);
    for (size_t i = 0; i < cap; i++)
        ix->session[i] = -1;
}

void cfo_sessidx_fini(cfo_sessidx *ix)
{
    free(ix->hash);
    free(ix->session);
    memset(ix, 0, sizeof *ix);
}

/* FNV-1a over the socket's number and the id's bytes. */
uint64_t cfo_sessidx_hash(int sock, const unsigned char *rid, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (uint64_t)(unsigned)sock) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ rid[i]) * 1099511628211ull;
    return h;
}

int cfo_sessidx_find(const cfo_sessidx *ix, int sock, const unsigned char *rid, size_t len,
                     cfo_sessidx_match_fn match, void *arg)
{
    uint64_t h = cfo_sessidx_hash(sock, rid, len);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        if (ix->session[i] < 0)
            return -1;
        if (ix->hash[i] == h && match(arg, ix->session[i], sock, rid, len))
            return ix->session[i];
    }
}

static void insert(cfo_sessidx *ix, uint64_t h, int w)
{
    size_t i = h & (ix->cap - 1);
    while (ix->session[i] >= 0)
        i = (i + 1) & (ix->cap - 1);
    ix->hash[i] = h;
    ix->session[i] = w;
    ix->used++;
}

void cfo_sessidx_put(cfo_sessidx *ix, int w, int sock, const unsigned char *rid, size_t len,
                     int nsessions, cfo_sessidx_live_fn live, void *arg)
{
    /* Kept at most half full, so a probe ends soon at an empty entry. */
    if (2 * (ix->used + 1) > ix->cap) {
        for (size_t i = 0; i < ix->cap; i++)
            ix->session[i] = -1;
        ix->used = 0;
        for (int k = 0; k < nsessions; k++) {
            int ks;
            const unsigned char *krid;
            size_t klen;
            if (k != w && live(arg, k, &ks, &krid, &klen))
                insert(ix, cfo_sessidx_hash(ks, krid, klen), k);
        }
    }
    insert(ix, cfo_sessidx_hash(sock, rid, len), w);
}
