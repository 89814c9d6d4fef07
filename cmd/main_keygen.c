/* main_keygen.c -- cfo-keygen: writes a CURVE key pair for a coordinator or a
 * worker. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cfo_cmdline.h"
#include "cfo_curve.h"
#include "cfo_log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cfo-keygen [--dir DIR] [--force] NAME\n"
                 "Writes a CURVE key pair: DIR/NAME.key, the secret key (mode 0600: give it only\n"
                 "to the program it names), and DIR/NAME.pub, the public key (give a worker's to\n"
                 "the coordinator's --allow-dir, the coordinator's to every worker's\n"
                 "--server-key).\n"
                 "\n"
                 "  --dir DIR   where to write them (default: .)\n"
                 "  --force     replace an existing pair\n"
                 "  --version   print the version\n"
                 "  --help      this text\n");
}

int main(int argc, char **argv)
{
    cfo_log_init("cfo-keygen", CFO_LOG_INFO);
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".";
    bool force = false;
    opterr = 0;
    for (;;) {
        int o = getopt_long(argc, argv, "+", opts, NULL);
        if (o == -1)
            break;
        switch (o) {
        case 'd':
            dir = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            usage(stdout);
            return CFO_EXIT_OK;
        case 'v':
            printf("cfo-keygen %s\n", cfo_version());
            return CFO_EXIT_OK;
        default:
            cfo_error("unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return CFO_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cfo_error("one key NAME is needed");
        usage(stderr);
        return CFO_EXIT_USAGE;
    }
    cfo_diag d = {{0}};
    cfo_err err = cfo_curve_keygen(dir, argv[optind], force, &d);
    if (err != CFO_OK) {
        cfo_error("%s", d.msg);
        return err == CFO_EINVAL ? CFO_EXIT_USAGE : CFO_EXIT_HARNESS;
    }
    printf("wrote %s/%s.key (secret) and %s/%s.pub (public)\n", dir, argv[optind], dir,
           argv[optind]);
    return CFO_EXIT_OK;
}
