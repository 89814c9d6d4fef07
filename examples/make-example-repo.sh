#!/bin/sh
# make-example-repo.sh -- builds examples/terraform into a git repository
# whose branches CFO can test: every root module applied and its state
# committed on main, one module drifting on staging, a harmless change on plan.
#
# Usage: make-example-repo.sh DEST   (DEST must not exist or be empty)
# Needs git and terraform (or $TERRAFORM); works offline, since terraform_data
# is built into terraform.
set -eu

usage() {
    echo "usage: $0 DEST" >&2
    exit 2
}
die() {
    echo "make-example-repo.sh: $*" >&2
    exit 1
}

[ $# -eq 1 ] || usage
case "$1" in -*) usage ;; esac
dest=$1
src=$(cd "$(dirname "$0")/terraform" && pwd)
terraform=${TERRAFORM:-terraform}

command -v git >/dev/null 2>&1 || die "git not found"
"$terraform" version >/dev/null 2>&1 || die "'$terraform version' failed: is terraform installed?"

if [ -e "$dest" ]; then
    [ -d "$dest" ] || die "$dest exists and is not a directory"
    [ -z "$(ls -A "$dest")" ] || die "$dest is not empty; refusing to overwrite it"
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# Terraform's working data and plugin cache stay out of the repository.
work=$(mktemp -d "${TMPDIR:-/tmp}/cfo-example-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export TF_PLUGIN_CACHE_DIR="${TF_PLUGIN_CACHE_DIR:-$work/plugins}"
mkdir -p "$TF_PLUGIN_CACHE_DIR"

cp -R "$src/." "$dest/"
cd "$dest"

git init -q -b main .
git config user.name "CFO example"
git config user.email "cfo-example@example.invalid"
git config commit.gpgsign false

# Root modules: directories with *.tf outside modules/ and hidden directories.
modules=$(find . -name '*.tf' -not -path '*/modules/*' -not -path '*/.*/*' \
    -exec dirname {} \; | sed 's|^\./||' | sort -u)
[ -n "$modules" ] || die "no root modules under $src"

for m in $modules; do
    echo "deploying $m"
    data="$work/data/$(echo "$m" | tr / _)"
    (
        cd "$m"
        TF_DATA_DIR="$data" "$terraform" init -input=false -no-color >/dev/null
        TF_DATA_DIR="$data" "$terraform" apply -input=false -no-color -auto-approve >/dev/null
    ) || die "terraform apply failed in $m"
done

git add -A
git commit -q -m "deploy"

# staging: the application's configuration changes in code, not in state.
git branch plan
git checkout -q -b staging
sed 's/log_level = "info"/log_level = "debug"/' envs/prod/app/main.tf >"$work/app.tf"
cmp -s envs/prod/app/main.tf "$work/app.tf" && die "envs/prod/app/main.tf has no log_level to change"
cat "$work/app.tf" >envs/prod/app/main.tf
git commit -q -am "change app config"

# plan: a change that touches no module.
git checkout -q plan
printf '\nRuns of CFO against this repository use the plan branch.\n' >>README.md
git commit -q -am "docs: mention the plan branch"

git checkout -q main
echo "example repository ready in $dest (branches: main staging plan)"
