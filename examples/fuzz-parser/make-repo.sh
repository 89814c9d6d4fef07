#!/bin/sh
# make-repo.sh -- makes a git repository of the fuzz-parser example that CFO
# can fuzz: the example committed on main, build outputs ignored.
#
# Usage: make-repo.sh DEST   (DEST must not exist or be empty)
# Needs git. The targets are built later, by CFO running ./build.sh.
set -eu

usage() {
    echo "usage: $0 DEST" >&2
    exit 2
}
die() {
    echo "make-repo.sh: $*" >&2
    exit 1
}

[ $# -eq 1 ] || usage
case "$1" in -* | "") usage ;; esac
dest=$1
src=$(cd "$(dirname "$0")" && pwd)

command -v git >/dev/null 2>&1 || die "git not found"

if [ -e "$dest" ]; then
    [ -d "$dest" ] || die "$dest exists and is not a directory"
    [ -z "$(ls -A "$dest")" ] || die "$dest is not empty; refusing to overwrite it"
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# Only the sources: a build or a fuzzing session in the example folder itself
# must not leak into the repository.
(cd "$src" && tar -cf - --exclude=./out --exclude=./.cfo .) | (cd "$dest" && tar -xf -)

cd "$dest"
git init -q -b main .
git config user.name "CFO example"
git config user.email "cfo-example@example.invalid"
git config commit.gpgsign false
git add -A
git commit -q -m "RECF reader with fuzz targets"

echo "example repository ready in $dest (branch: main)"
