/* main_crash.c -- cfo-crash: shows a crash bundle and replays it in a
 * checkout to tell whether the crash still happens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_blobdir.h"
#include "cfo_cmdline.h"
#include "cfo_engine.h"
#include "cfo_exec.h"
#include "cfo_json.h"
#include "cfo_log.h"

#define PROG "cfo-crash"
#define EXIT_REPRODUCED CFO_EXIT_OK
#define EXIT_NOT_REPRODUCED CFO_EXIT_FAIL
#define EXIT_ERROR CFO_EXIT_HARNESS
/* Largest bundle fetched from storage. */
#define BUNDLE_MAX ((uint64_t)256 << 20)
#define MANIFEST_MAX ((size_t)1 << 20)
#define TAR_TIMEOUT_MS 120000

static const char usage_text[] =
    "Usage: cfo-crash show BUNDLE\n"
    "       cfo-crash reproduce [--build] BUNDLE\n"
    "\n"
    "A bundle is the tarball cfo-fuzz stores for each new crash signature of a\n"
    "libfuzzer or afl fuzzer, at <corpus>/crashes/<FUZZER>/<target>/<sig_hash>.tar.gz:\n"
    "the minimized and original inputs, the sanitizer report, the exact command,\n"
    "the commit, the environment, reproduce.sh and manifest.json.\n"
    "\n"
    "  show        print the bundle's manifest.json\n"
    "  reproduce   run the bundle's reproduce.sh from the current directory, which\n"
    "              must be the root of a checkout of the commit (the target built,\n"
    "              or buildable with the fuzzer's build command, which reproduce.sh\n"
    "              runs when the target is missing), and compare the crash\n"
    "              signature with the bundle's (a hang reproduces when the input\n"
    "              hangs again, wherever the timer catches it)\n"
    "  --build     rebuild the target first even when it is present\n"
    "  BUNDLE      a file path, file://PATH or gs://BUCKET/OBJECT\n"
    "  -h, --help  show this help\n"
    "  --version   print the version\n"
    "\n"
    "Exit status of reproduce: 0 the crash reproduced (same signature), 1 it did\n"
    "not, 2 usage error, 3 error (bundle unreadable, target could not be built).\n"
    "show exits 0, 2 or 3.\n";

/* A local copy of the bundle: the path itself, or a download into dir. */
static char *local_bundle(const char *bundle, const char *dir, cfo_diag *d)
{
    bool remote = strncmp(bundle, "gs://", 5) == 0;
    if (!remote) {
        const char *p = strncmp(bundle, "file://", 7) == 0 ? bundle + 7 : bundle;
        if (access(p, R_OK) != 0) {
            cfo_diag_set(d, CFO_ENOTFOUND, "cannot read %s: %s", p, strerror(errno));
            return NULL;
        }
        return cfo_xstrdup(p);
    }
    const char *slash = strrchr(bundle, '/');
    char *folder = cfo_xstrndup(bundle, (size_t)(slash - bundle));
    char *dest = cfo_xasprintf("%s/bundle.tar.gz", dir);
    cfo_blobdir *b = NULL;
    cfo_err err = cfo_blobdir_open(folder, &b, d);
    if (err == CFO_OK)
        err = cfo_blobdir_get(b, slash + 1, dest, BUNDLE_MAX, d);
    cfo_blobdir_destroy(&b);
    free(folder);
    if (err != CFO_OK) {
        free(dest);
        return NULL;
    }
    return dest;
}

static cfo_err unpack(const char *tarball, const char *dir, cfo_diag *d)
{
    char *argv[] = {"tar", "-xzf", (char *)tarball, "-C", (char *)dir, NULL};
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err = cfo_exec_capture(argv, NULL, NULL, TAR_TIMEOUT_MS, 65536, &cap, d);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(d, CFO_EPARSE, "%s is not a bundle (tar: %s)", tarball,
                           cap.err ? cap.err : "failed");
    cfo_capture_fini(&cap);
    return err;
}

static char *manifest_string(yajl_val root, const char *key)
{
    const char *v = cfo_json_member_str(root, key);
    return v ? cfo_xstrdup(v) : NULL;
}

/* The bundle's finding again: its signature, or for a hang a hang again
 * (the stack of a hang is wherever the timer caught the loop). */
static bool same_as_bundle(const cfo_crash_report *got, const char *want)
{
    cfo_crash_report w;
    memset(&w, 0, sizeof w);
    snprintf(w.signature, sizeof w.signature, "%s", want);
    size_t colon = strcspn(want, ":");
    char kind[16];
    snprintf(kind, sizeof kind, "%.*s", (int)colon, want);
    if (cfo_crash_kind_parse(kind, &w.kind) != 0)
        w.kind = CFO_CRASH_CRASH;
    return cfo_engine_same_finding(&w, got);
}

/* Reads the unpacked bundle's manifest.json into m and its signature into
 * *signature; false, having said why, when it is missing, not JSON, or
 * names no signature. */
static bool load_manifest(const char *dir, cfo_buf *m, char **signature)
{
    cfo_diag d = {{0}};
    char *mpath = cfo_xasprintf("%s/manifest.json", dir);
    bool ok = false;
    yajl_val root = NULL;
    char err[128] = "";
    if (cfo_read_file(mpath, MANIFEST_MAX, m, &d) != CFO_OK)
        fprintf(stderr, PROG ": no manifest.json: %s\n", d.msg);
    else if (!cfo_json_depth_ok(m->data, m->len, 16) ||
             (root = yajl_tree_parse(m->data, err, sizeof err)) == NULL || !YAJL_IS_OBJECT(root))
        fprintf(stderr, PROG ": the bundle's manifest.json is not a JSON object%s%s\n",
                err[0] ? ": " : "", err);
    else if ((*signature = manifest_string(root, "signature")) == NULL)
        fprintf(stderr, PROG ": the bundle's manifest.json has no signature\n");
    else
        ok = true;
    yajl_tree_free(root);
    free(mpath);
    return ok;
}

static int reproduce(const char *dir, bool rebuild)
{
    cfo_diag d = {{0}};
    cfo_buf m;
    cfo_buf_init(&m);
    int rc = EXIT_ERROR;
    char *want = NULL, *script = NULL, *out = NULL;
    if (!load_manifest(dir, &m, &want))
        goto out;
    if (cfo_engine_preflight(&d) != CFO_OK) {
        fprintf(stderr, PROG ": %s\n", d.msg);
        goto out;
    }
    script = cfo_xasprintf("%s/reproduce.sh", dir);
    char *argv[] = {"sh", script, NULL};
    char *env[] = {rebuild ? "CFO_REBUILD=1" : "CFO_REBUILD=0", NULL};
    size_t len = 0;
    int code = 0;
    if (cfo_engine_exec(argv, NULL, env, 0, CFO_ENGINE_REPORT_CAP, &out, &len, &code, NULL, &d) !=
        CFO_OK) {
        fprintf(stderr, PROG ": %s\n", d.msg);
        goto out;
    }
    if (code == CFO_ENGINE_REPRO_SETUP_FAILED) {
        fputs(out, stderr);
        fprintf(stderr, PROG ": the replay could not be set up (see above)\n");
        goto out;
    }
    cfo_crash_report rep;
    if (cfo_engine_classify(out, len, code, &rep, &d) != CFO_OK) {
        printf("not reproduced: the input ran without a crash (exit status %d); expected %s\n",
               code, want);
        rc = EXIT_NOT_REPRODUCED;
    } else if (!same_as_bundle(&rep, want)) {
        fputs(out, stdout);
        printf("not reproduced: a different crash, %s; expected %s\n", rep.signature, want);
        rc = EXIT_NOT_REPRODUCED;
    } else {
        fputs(out, stdout);
        printf("reproduced: %s\n", want);
        if (strcmp(rep.signature, want) != 0)
            printf("(the hang was caught at %s)\n", rep.signature);
        rc = EXIT_REPRODUCED;
    }
out:
    free(want);
    free(script);
    free(out);
    cfo_buf_fini(&m);
    return rc;
}

int main(int argc, char **argv)
{
    cfo_log_init(PROG, CFO_LOG_WARN);
    const char *cmd = NULL, *bundle = NULL;
    bool rebuild = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cfo_cmdline_answers(PROG, a, usage_text)) {
            return CFO_EXIT_OK;
        } else if (strcmp(a, "--build") == 0) {
            rebuild = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cfo_usage_error(PROG, "unknown option '%s'", a);
        } else if (cmd == NULL) {
            cmd = a;
        } else if (bundle == NULL) {
            bundle = a;
        } else {
            return cfo_usage_error(PROG, "unexpected argument '%s'", a);
        }
    }
    if (cmd == NULL)
        return cfo_usage_error(PROG, "no command (show or reproduce)");
    if (strcmp(cmd, "show") != 0 && strcmp(cmd, "reproduce") != 0)
        return cfo_usage_error(PROG, "unknown command '%s' (show or reproduce)", cmd);
    if (bundle == NULL)
        return cfo_usage_error(PROG, "%s needs a BUNDLE", cmd);
    if (rebuild && strcmp(cmd, "reproduce") != 0)
        return cfo_usage_error(PROG, "--build goes with reproduce");

    cfo_diag d = {{0}};
    char *dir = cfo_make_temp_dir("cfo-crash", &d);
    if (dir == NULL) {
        fprintf(stderr, PROG ": %s\n", d.msg);
        return EXIT_ERROR;
    }
    int rc = EXIT_ERROR;
    char *local = local_bundle(bundle, dir, &d);
    if (local == NULL || unpack(local, dir, &d) != CFO_OK) {
        fprintf(stderr, PROG ": %s\n", d.msg);
    } else if (strcmp(cmd, "show") == 0) {
        cfo_buf m;
        cfo_buf_init(&m);
        char *signature = NULL;
        if (load_manifest(dir, &m, &signature)) {
            fwrite(m.data, 1, m.len, stdout);
            if (m.len > 0 && m.data[m.len - 1] != '\n')
                putchar('\n');
            rc = 0;
        }
        free(signature);
        cfo_buf_fini(&m);
    } else {
        rc = reproduce(dir, rebuild);
    }
    free(local);
    cfo_remove_tree(dir, NULL);
    free(dir);
    return rc;
}
