/* cfo_cmdword.c -- words of a command line that a front end parses itself. */
#include "cfo_cmdword.h"

#include <stddef.h>
#include <string.h>

#include "cfo_cmdline.h"

bool cfo_cmdword_config(const char *prog, int argc, char **argv, int *i, const char **path)
{
    const char *a = argv[*i];
    if (strncmp(a, "--config=", 9) == 0) {
        *path = a + 9;
    } else if (strcmp(a, "--config") != 0) {
        return false;
    } else if (*i + 1 >= argc) {
        cfo_usage_error(prog, "%s needs a file", a);
        *path = NULL;
    } else {
        *path = argv[++*i];
    }
    return true;
}
