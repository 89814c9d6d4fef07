/* cfo_names.h -- the names of enum values, kept in tables indexed by the
 * value: one lookup and one reverse lookup for every such table. */
#ifndef CFO_NAMES_H
#define CFO_NAMES_H

#include <stddef.h>

/* The number of entries of an array (not of a pointer). */
#define CFO_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* names[v] when 0 <= v < n and that entry is set, else fallback. */
const char *cfo_name_of(const char *const *names, size_t n, int v, const char *fallback);

/* The index of name in names[0..n) (unset entries skipped), or -1 when it
 * is not there or name is NULL. */
int cfo_name_find(const char *const *names, size_t n, const char *name);

#endif
