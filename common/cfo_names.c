/* cfo_names.c -- the names of enum values, from tables indexed by the value. */
#include "cfo_names.h"

#include <string.h>

const char *cfo_name_of(const char *const *names, size_t n, int v, const char *fallback)
{
    if (v < 0 || (size_t)v >= n || names[v] == NULL)
        return fallback;
    return names[v];
}

int cfo_name_find(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++)
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}
