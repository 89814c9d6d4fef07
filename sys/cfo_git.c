/* cfo_git.c -- git run as a child process (argv, never a shell). */
#include "cfo_git.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_exec.h"
#include "cfo_log.h"
#include "cfo_util.h"

#define GIT_TIMEOUT_MS (10 * 60 * 1000)
#define GIT_MAX_OUT (1 << 20)

/* Runs git with argv in dir. On success *out (if non-NULL) is its stdout with
 * trailing white space cut; *status is git's exit status. */
static cfo_err git(const char *dir, char *const argv[], int *status, char **out, cfo_diag *d)
{
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err = cfo_exec_capture(argv, dir, NULL, GIT_TIMEOUT_MS, GIT_MAX_OUT, &cap, d);
    if (err != CFO_OK) {
        cfo_capture_fini(&cap);
        return err;
    }
    *status = cap.exit_code;
    if (cap.exit_code != 0) {
        char *e = cap.err ? cap.err : "";
        size_t n = strlen(e);
        while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
            e[--n] = '\0';
        cfo_diag_set(d, CFO_ECHILD, "git %s: %s", argv[1], e);
    }
    if (out != NULL) {
        size_t n = cap.out_len;
        while (n > 0 && (cap.out[n - 1] == '\n' || cap.out[n - 1] == ' ' || cap.out[n - 1] == '\r'))
            n--;
        *out = cfo_xstrndup(cap.out ? cap.out : "", n);
    }
    cfo_capture_fini(&cap);
    return CFO_OK;
}

cfo_err cfo_git_toplevel(const char *path, char **out, cfo_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cfo_diag_set(d, CFO_EINVAL, "%s is not a directory", path);
    char *argv[] = {"git", "rev-parse", "--show-toplevel", NULL};
    int status;
    char *top = NULL;
    cfo_err err = git(path, argv, &status, &top, d);
    if (err != CFO_OK)
        return err;
    if (status != 0 || top[0] == '\0') {
        free(top);
        return cfo_diag_set(d, CFO_EINVAL, "%s is not a git repository", path);
    }
    *out = top;
    return CFO_OK;
}

cfo_err cfo_git_current_branch(const char *top, char **out, cfo_diag *d)
{
    char *argv[] = {"git", "symbolic-ref", "--quiet", "--short", "HEAD", NULL};
    int status;
    char *name = NULL;
    cfo_err err = git(top, argv, &status, &name, d);
    if (err != CFO_OK)
        return err;
    if (status != 0) {
        free(name);
        name = cfo_xstrdup("HEAD");
    }
    *out = name;
    return CFO_OK;
}

cfo_err cfo_git_resolve_branch(const char *top, const char *branch, char **sha, cfo_diag *d)
{
    if (branch[0] == '-' || branch[0] == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "invalid branch name '%s'", branch);
    const char *prefixes[] = {"refs/heads/", "refs/remotes/origin/", ""};
    for (size_t i = 0; i < 3; i++) {
        /* A bare name is only tried for HEAD (a detached checkout). */
        if (prefixes[i][0] == '\0' && strcmp(branch, "HEAD") != 0)
            continue;
        char *ref = cfo_xasprintf("%s%s^{commit}", prefixes[i], branch);
        char *argv[] = {"git", "rev-parse", "--verify", "--quiet", ref, NULL};
        int status;
        char *out = NULL;
        cfo_err err = git(top, argv, &status, &out, d);
        free(ref);
        if (err != CFO_OK)
            return err;
        if (status == 0 && strlen(out) >= 40) {
            *sha = out;
            return CFO_OK;
        }
        free(out);
    }
    return cfo_diag_set(d, CFO_ENOTFOUND, "branch '%s' does not exist in %s", branch, top);
}

/* The first line of path, trailing white space cut (free it); NULL when it
 * cannot be read. */
static char *first_line(const char *path)
{
    cfo_buf b;
    cfo_buf_init(&b);
    if (cfo_read_file(path, 4096, &b, NULL) != CFO_OK) {
        cfo_buf_fini(&b);
        return NULL;
    }
    size_t n = strcspn(b.data, "\n");
    while (n > 0 && (b.data[n - 1] == ' ' || b.data[n - 1] == '\r'))
        n--;
    char *line = cfo_xstrndup(b.data, n);
    cfo_buf_fini(&b);
    return line;
}

/* Whether dir is a worktree checked out at sha. Read from the files git
 * keeps (dir/.git names the worktree's git folder, whose HEAD of a detached
 * worktree is the sha), not by running git: this is asked for every task. */
static bool worktree_at(const char *dir, const char *sha)
{
    char *gitfile = cfo_xasprintf("%s/.git", dir);
    char *link = first_line(gitfile);
    free(gitfile);
    if (link == NULL || strncmp(link, "gitdir: ", 8) != 0) {
        free(link);
        return false;
    }
    const char *gitdir = link + 8;
    char *head_path = gitdir[0] == '/' ? cfo_xasprintf("%s/HEAD", gitdir)
                                       : cfo_xasprintf("%s/%s/HEAD", dir, gitdir);
    char *head = first_line(head_path);
    bool same = head != NULL && strcmp(head, sha) == 0;
    free(head);
    free(head_path);
    free(link);
    return same;
}

/* Worktrees of one repository are made one at a time, also across processes
 * (workers sharing a clone): git's own bookkeeping under .git/worktrees is not
 * safe against concurrent `worktree add` and `prune`. Returns the locked fd. */
static int lock_worktrees(const char *top, cfo_diag *d)
{
    char *argv[] = {"git", "rev-parse", "--git-common-dir", NULL};
    int status;
    char *common = NULL;
    if (git(top, argv, &status, &common, d) != CFO_OK || status != 0) {
        free(common);
        return -1;
    }
    char *path = common[0] == '/' ? cfo_xasprintf("%s/cfo-worktree.lock", common)
                                  : cfo_xasprintf("%s/%s/cfo-worktree.lock", top, common);
    free(common);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        cfo_diag_set(d, CFO_EIO, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            cfo_diag_set(d, CFO_EIO, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
    }
    free(path);
    return fd;
}

static cfo_err make_worktree(const char *top, const char *sha, const char *dir, cfo_diag *d);

cfo_err cfo_git_worktree(const char *top, const char *sha, const char *dir, cfo_diag *d)
{
    if (worktree_at(dir, sha))
        return CFO_OK;
    int lock = lock_worktrees(top, d);
    if (lock < 0)
        return CFO_EIO;
    cfo_err err = make_worktree(top, sha, dir, d);
    close(lock);
    return err;
}

static cfo_err make_worktree(const char *top, const char *sha, const char *dir, cfo_diag *d)
{
    /* Another process may have made it while we waited for the lock. */
    if (worktree_at(dir, sha))
        return CFO_OK;
    /* Whatever is there is stale (an interrupted earlier run): start over. */
    if (access(dir, F_OK) == 0) {
        cfo_warn("replacing stale worktree %s", dir);
        cfo_err err = cfo_remove_tree(dir, d);
        if (err != CFO_OK)
            return err;
    }
    int status;
    char *prune[] = {"git", "worktree", "prune", NULL};
    cfo_err err = git(top, prune, &status, NULL, d);
    if (err != CFO_OK)
        return err;
    char *add[] = {"git", "worktree", "add", "--detach", "--force", (char *)dir, (char *)sha, NULL};
    err = git(top, add, &status, NULL, d);
    if (err != CFO_OK)
        return err;
    if (status != 0)
        return CFO_ECHILD;
    return CFO_OK;
}

/* Holds on a worktree are flock(2) locks on its folder: shared by each task
 * that uses it, exclusive (and never waited for) by whoever removes it, so
 * holders need no shared state, across threads as across processes, and a
 * holder that dies lets go. */
static int hold_open(const char *dir, const char *sha)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat held, now;
    /* Removed, or replaced, before the lock was ours: it holds nothing. */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 || fstat(fd, &held) != 0 || stat(dir, &now) != 0 ||
        held.st_dev != now.st_dev || held.st_ino != now.st_ino || !worktree_at(dir, sha)) {
        close(fd);
        return -1;
    }
    return fd;
}

cfo_err cfo_git_worktree_use(const char *top, const char *sha, const char *dir, int *hold,
                             cfo_diag *d)
{
    *hold = hold_open(dir, sha);
    if (*hold >= 0)
        return CFO_OK;
    /* Made, or made again, under the lock every remover takes: none can come
     * between the worktree and the hold. */
    int lock = lock_worktrees(top, d);
    if (lock < 0)
        return CFO_EIO;
    cfo_err err = make_worktree(top, sha, dir, d);
    if (err == CFO_OK && (*hold = hold_open(dir, sha)) < 0)
        err = cfo_diag_set(d, CFO_EIO, "cannot hold the worktree %s: %s", dir, strerror(errno));
    close(lock);
    return err;
}

void cfo_git_worktree_release(int *hold)
{
    if (*hold >= 0)
        close(*hold);
    *hold = -1;
}

/* Removes the worktree at dir; the caller holds the worktree lock. */
static cfo_err remove_locked(const char *top, const char *dir, cfo_diag *d)
{
    int status;
    char *remove[] = {"git", "worktree", "remove", "--force", (char *)dir, NULL};
    cfo_err err = git(top, remove, &status, NULL, d);
    /* Not a worktree git knows (any more): the folder itself goes. */
    if (err == CFO_OK && status != 0)
        err = cfo_remove_tree(dir, d);
    return err;
}

static cfo_err prune_locked(const char *top, cfo_diag *d)
{
    int status;
    char *prune[] = {"git", "worktree", "prune", NULL};
    return git(top, prune, &status, NULL, d);
}

cfo_err cfo_git_worktree_remove(const char *top, const char *dir, cfo_diag *d)
{
    int lock = lock_worktrees(top, d);
    if (lock < 0)
        return CFO_EIO;
    cfo_err err = remove_locked(top, dir, d);
    if (err == CFO_OK)
        err = prune_locked(top, d);
    close(lock);
    return err;
}

static bool is_sha(const char *name)
{
    return strlen(name) == 40 && strspn(name, "0123456789abcdef") == 40;
}

/* Removes dir unless someone holds it; the caller holds the worktree lock. */
static bool retire_one(const char *top, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false; /* gone already */
    bool gone = false;
    cfo_diag d = {{0}};
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        cfo_debug("worktree %s is in use: kept", dir);
    else if (remove_locked(top, dir, &d) != CFO_OK)
        cfo_warn("could not remove the old worktree %s: %s", dir, d.msg);
    else
        gone = true;
    close(fd);
    return gone;
}

cfo_err cfo_git_worktrees_retire(const char *top, const char *workdir, const cfo_strv *keep,
                                 size_t *removed, cfo_diag *d)
{
    if (removed != NULL)
        *removed = 0;
    DIR *dh = opendir(workdir);
    if (dh == NULL)
        return CFO_OK; /* no folder, no worktree */
    cfo_strv old;
    cfo_strv_init(&old);
    for (struct dirent *e; (e = readdir(dh)) != NULL;)
        if (is_sha(e->d_name) && !cfo_strv_contains(keep, e->d_name))
            cfo_strv_push(&old, e->d_name);
    closedir(dh);
    cfo_err err = CFO_OK;
    int lock = old.n > 0 ? lock_worktrees(top, d) : -1;
    if (old.n > 0 && lock < 0)
        err = CFO_EIO;
    size_t n = 0;
    for (size_t i = 0; i < old.n && lock >= 0; i++) {
        char *dir = cfo_xasprintf("%s/%s", workdir, old.v[i]);
        n += retire_one(top, dir);
        free(dir);
    }
    cfo_diag pd = {{0}};
    if (n > 0 && prune_locked(top, &pd) != CFO_OK)
        cfo_warn("git worktree prune: %s", pd.msg);
    if (lock >= 0)
        close(lock);
    cfo_strv_fini(&old);
    if (removed != NULL)
        *removed = n;
    return err;
}

cfo_err cfo_git_export(const char *top, const char *sha, const char *dir, cfo_diag *d)
{
    char *tar = cfo_xasprintf("%s/.cfo-export.tar", dir);
    char *archive[] = {"git", "archive", "--format=tar", "-o", tar, (char *)sha, NULL};
    int status;
    cfo_err err = git(top, archive, &status, NULL, d);
    if (err == CFO_OK && status != 0)
        err = CFO_ECHILD;
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    char *untar[] = {"tar", "-xf", tar, "-C", (char *)dir, NULL};
    if (err == CFO_OK)
        err = cfo_exec_capture(untar, NULL, NULL, GIT_TIMEOUT_MS, GIT_MAX_OUT, &cap, d);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "tar -xf %s: %s", tar, cap.err ? cap.err : "failed");
    cfo_capture_fini(&cap);
    unlink(tar);
    free(tar);
    return err;
}

cfo_err cfo_git_fetch(const char *top, const char *sha, cfo_diag *d)
{
    char *argv[] = {"git", "fetch", "--quiet", "origin", (char *)sha, NULL};
    int status;
    cfo_err err = git(top, argv, &status, NULL, d);
    if (err == CFO_OK && status != 0)
        err = CFO_ECHILD;
    return err;
}

/* --- history order -------------------------------------------------------- */

/* The history walk prints every commit since the oldest asked for, which on
 * a busy repository is many more than the window holds. */
#define GIT_ORDER_MAX_OUT (64u << 20)

static bool is_full_sha(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && strchr("0123456789abcdef", s[n]) != NULL)
        n++;
    return n == 40 && s[n] == '\0';
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs git with the lines of input as its standard input (argv ends in
 * --stdin); *out is its stdout. */
static cfo_err git_stdin(const char *top, char *const argv[], const char *input, char **out,
                         cfo_diag *d)
{
    const char *tmpdir = getenv("TMPDIR");
    char *path = cfo_xasprintf("%s/cfo-git-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        cfo_err err = cfo_diag_set(d, CFO_EIO, "cannot create %s: %s", path, strerror(errno));
        free(path);
        return err;
    }
    size_t len = strlen(input);
    bool written = write(fd, input, len) == (ssize_t)len;
    close(fd);
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err = written ? cfo_exec_capture_in(argv, top, path, NULL, GIT_TIMEOUT_MS,
                                                GIT_ORDER_MAX_OUT, &cap, d)
                          : cfo_diag_set(d, CFO_EIO, "cannot write %s", path);
    unlink(path);
    free(path);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "git %s: %s", argv[1], cap.err ? cap.err : "failed");
    if (err == CFO_OK && cap.out_len >= GIT_ORDER_MAX_OUT)
        err = cfo_diag_set(d, CFO_ELIMIT, "git %s: more history than CFO reads", argv[1]);
    if (err == CFO_OK)
        *out = cfo_xstrndup(cap.out ? cap.out : "", cap.out_len);
    cfo_capture_fini(&cap);
    return err;
}

/* Commit time and parents of the asked commits the repository has: lines
 * "SHA TIME PARENT...", in *known (sorted by sha) and the oldest time. */
static cfo_err known_commits(const char *top, const char *input, cfo_git_commit **known,
                             size_t *nknown, int64_t *oldest, cfo_diag *d)
{
    char *argv[] = {
        "git",     "log", "--no-walk=unsorted", "--ignore-missing", "--format=%H %ct %P",
        "--stdin", NULL};
    char *text = NULL;
    cfo_err err = git_stdin(top, argv, input, &text, d);
    if (err != CFO_OK)
        return err;
    size_t cap = 16, n = 0;
    cfo_git_commit *v = cfo_xcalloc(cap, sizeof *v);
    *oldest = INT64_MAX;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char sha[41];
        long long when;
        int used = 0;
        if (sscanf(line, "%40s %lld %n", sha, &when, &used) < 2 || !is_full_sha(sha))
            continue;
        if (n == cap)
            v = cfo_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (cfo_git_commit){.sha = cfo_xstrdup(sha), .parents = cfo_xstrdup(line + used)};
        if (when < *oldest)
            *oldest = when;
    }
    free(text);
    qsort(v, n, sizeof *v, str_ptr_cmp);
    *known = v;
    *nknown = n;
    return CFO_OK;
}

cfo_err cfo_git_history_order(const char *top, const char *const *shas, size_t n,
                              cfo_git_commit **out, size_t *nout, cfo_diag *d)
{
    *out = NULL;
    *nout = 0;
    cfo_buf input;
    cfo_buf_init(&input);
    for (size_t i = 0; i < n; i++)
        if (shas[i] != NULL && is_full_sha(shas[i]))
            cfo_buf_printf(&input, "%s\n", shas[i]);
    cfo_git_commit *known = NULL;
    size_t nknown = 0;
    int64_t oldest = 0;
    cfo_err err = known_commits(top, input.data ? input.data : "", &known, &nknown, &oldest, d);
    if (err != CFO_OK || nknown == 0) {
        cfo_buf_fini(&input);
        cfo_git_commits_free(&known, nknown);
        return err;
    }
    /* The walk from the asked commits down to the oldest of them, newest
     * first; what it prints that was not asked for is passed over. */
    char *since = cfo_xasprintf("--max-age=%lld", (long long)oldest);
    char *argv[] = {"git", "rev-list", "--date-order", since, "--stdin", NULL};
    char *text = NULL;
    err = git_stdin(top, argv, input.data, &text, d);
    free(since);
    cfo_buf_fini(&input);
    cfo_git_commit *v = cfo_xcalloc(nknown + 1, sizeof *v);
    bool *taken = cfo_xcalloc(nknown + 1, sizeof *taken);
    size_t k = nknown;
    for (char *save = NULL, *line = err == CFO_OK ? strtok_r(text, "\n", &save) : NULL;
         line != NULL && k > 0; line = strtok_r(NULL, "\n", &save)) {
        cfo_git_commit key = {.sha = line};
        cfo_git_commit *hit = bsearch(&key, known, nknown, sizeof *known, str_ptr_cmp);
        if (hit != NULL && !taken[hit - known]) {
            taken[hit - known] = true;
            v[--k] = (cfo_git_commit){cfo_xstrdup(hit->sha), cfo_xstrdup(hit->parents)};
        }
    }
    free(text);
    free(taken);
    cfo_git_commits_free(&known, nknown);
    if (err == CFO_OK && k != 0)
        err = cfo_diag_set(d, CFO_EINVAL, "git rev-list left out %zu of the commits", k);
    if (err != CFO_OK) {
        cfo_git_commits_free(&v, nknown);
        return err;
    }
    *out = v;
    *nout = nknown;
    return CFO_OK;
}

void cfo_git_commits_free(cfo_git_commit **v_p, size_t n)
{
    if (v_p == NULL || *v_p == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free((*v_p)[i].sha);
        free((*v_p)[i].parents);
    }
    free(*v_p);
    *v_p = NULL;
}
