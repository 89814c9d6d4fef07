/* cfo_git.h -- the git operations CFO needs: resolve refs, make worktrees. */
#ifndef CFO_GIT_H
#define CFO_GIT_H

#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_util.h"

/* The top-level directory of the repository containing path (absolute).
 * CFO_EINVAL with "PATH is not a git repository" otherwise. */
cfo_err cfo_git_toplevel(const char *path, char **out, cfo_diag *d);
/* The checked-out branch's short name, or "HEAD" when detached. */
cfo_err cfo_git_current_branch(const char *top, char **out, cfo_diag *d);
/* The full sha of a branch (refs/heads/NAME, then refs/remotes/origin/NAME).
 * CFO_ENOTFOUND when neither exists. */
cfo_err cfo_git_resolve_branch(const char *top, const char *branch, char **sha, cfo_diag *d);
/* Makes dir a detached worktree of top at sha, or reuses it when it already is
 * one at that sha. The parent of dir must exist. */
cfo_err cfo_git_worktree(const char *top, const char *sha, const char *dir, cfo_diag *d);

/* cfo_git_worktree, and a hold on it: *hold (an fd, close-on-exec) keeps
 * every cfo_git_worktrees_retire, in this process or another, from removing
 * dir until cfo_git_worktree_release. A worktree that is already there and
 * at sha costs no git process. */
cfo_err cfo_git_worktree_use(const char *top, const char *sha, const char *dir, int *hold,
                             cfo_diag *d);
/* Ends a hold (accepts -1) and sets *hold to -1. */
void cfo_git_worktree_release(int *hold);

/* Removes the worktree at dir (git worktree remove --force, or the folder
 * when git does not know it), then prunes git's records of worktrees. */
cfo_err cfo_git_worktree_remove(const char *top, const char *dir, cfo_diag *d);

/* Removes every worktree of workdir (a folder named by a full sha) whose
 * commit is not in keep and that nobody holds, then prunes git's records.
 * A folder that cannot be removed is warned about and left. Sets *removed
 * (may be NULL) to how many went; fails only when the worktrees of top
 * cannot be locked. */
cfo_err cfo_git_worktrees_retire(const char *top, const char *workdir, const cfo_strv *keep,
                                 size_t *removed, cfo_diag *d);

/* Writes the files of commit sha into the existing folder dir, without
 * registering a worktree in top (what a dry run looks at). */
cfo_err cfo_git_export(const char *top, const char *sha, const char *dir, cfo_diag *d);

/* Fetches a commit the clone lacks from its remote "origin". */
cfo_err cfo_git_fetch(const char *top, const char *sha, cfo_diag *d);

/* A commit as git history places it. */
typedef struct cfo_git_commit {
    char *sha;     /* full sha */
    char *parents; /* its parents' full shas, space-separated; "" for a root */
} cfo_git_commit;

/* Of the n full shas, those the repository at top has, in history order,
 * oldest first: no commit before its parents, otherwise by commit time (git
 * rev-list --date-order). Shas it lacks (rewritten, collected, from another
 * clone) are left out. *out (free it with cfo_git_commits_free) may hold
 * fewer than n commits, or none. */
cfo_err cfo_git_history_order(const char *top, const char *const *shas, size_t n,
                              cfo_git_commit **out, size_t *nout, cfo_diag *d);
void cfo_git_commits_free(cfo_git_commit **v_p, size_t n);

#endif
