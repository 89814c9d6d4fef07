#!/usr/bin/env bash
# The steps of CFO's GitHub Action (action.yml) and CircleCI job
# (deploy/circleci/config.yml), run on a user's repository from a checkout of
# CFO that is not that repository:
#
#   action-run.sh deps    the Debian packages, through scripts/deps.sh
#   action-run.sh build   CFO built from this checkout into CFO_BUILD_DIR
#   action-run.sh run     cfo on CFO_REPOSITORY with the CFO_* settings below
#
# Settings (environment; empty means cfo's own default):
#   CFO_DEPENDENCIES  run (default: what building CFO and its fuzzer kinds
#                     need), all (also CFO's test tools), none (skip)
#   CFO_BUILD_DIR     where CFO is built (default: build/ in this checkout);
#                     a folder already configured keeps its configuration
#   CFO_REPOSITORY    the repository to test (default: $GITHUB_WORKSPACE, else
#                     $CIRCLE_WORKING_DIRECTORY, else the current folder)
#   CFO_COMMAND       cfo (default) runs the fuzzers; none only puts CFO's
#                     programs on the job's PATH (for cfo-coordinator and
#                     cfo-worker steps of the job's own)
#   CFO_FUZZERS       fuzzer names, white-space separated (--fuzzer each)
#   CFO_BUDGET, CFO_TASK_TIMEOUT, CFO_DATASET, CFO_CONCURRENCY, CFO_CONFIG,
#   CFO_CHANGED_SINCE, CFO_REPORT, CFO_JUNIT, CFO_SARIF, CFO_SAVE_LOGS
#                     the options of the same name
#   CFO_UPLOAD, CFO_ALLOW_INCOMPLETE   true or false
#   CFO_ARGS          more options for cfo, split at white space
#
# `run` exits with cfo's status (0 pass, 1 a critical fuzzer failed, 2 usage,
# 3 harness, 4 incomplete), so the CI step fails with the run. cfo writes
# the GitHub step summary itself when GITHUB_STEP_SUMMARY is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CFO_BUILD_DIR:-$root/build}

die() {
  echo "cfo: $*" >&2
  exit 2
}

is_true() {
  case "${1:-false}" in
    true | True | TRUE | 1 | yes) return 0 ;;
    false | False | FALSE | 0 | no | "") return 1 ;;
    *) die "'$1' is neither true nor false" ;;
  esac
}

# Lines KEY=VALUE for the CI: GitHub reads $GITHUB_ENV, $GITHUB_PATH and
# $GITHUB_OUTPUT; CircleCI sources $BASH_ENV before each later step.
export_path() {
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$1" >>"$GITHUB_PATH"
  fi
  if [ -n "${BASH_ENV:-}" ] && [ -z "${GITHUB_ACTIONS:-}" ]; then
    # $PATH is expanded when a later step sources the line, not now.
    # shellcheck disable=SC2016
    printf 'export PATH=%q:"$PATH"\n' "$1" >>"$BASH_ENV"
  fi
}

set_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$1=$2" >>"$GITHUB_OUTPUT"
  fi
}

deps() {
  case "${CFO_DEPENDENCIES:-run}" in
    none) echo "cfo: dependencies: skipped" ;;
    # Terraform is not a Debian package; cfo's preflight names it, and how
    # to get it, when a configured fuzzer needs it.
    run | all) CFO_DEPS=${CFO_DEPENDENCIES:-run} CFO_DEPS_SKIP_TERRAFORM=1 "$root/scripts/deps.sh" ;;
    *) die "dependencies is '$CFO_DEPENDENCIES'; it is run, all or none" ;;
  esac
}

build() {
  # An existing build keeps its type and options (a rebuild from scratch
  # costs minutes); a new one is a release build of the programs only.
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" -j "$(nproc)" --target programs
  "$build/bin/cfo" --version
  export_path "$build/bin"
  set_output bin-dir "$build/bin"
}

# A checkout made by another user (the runner's, in a container job) is
# refused by git as of dubious ownership; CI owns the whole machine, so the
# repository is declared safe for this job's git.
trust_repository() {
  local repo=$1
  if ! git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 &&
    git -C "$repo" rev-parse --git-dir 2>&1 | grep -q "dubious ownership"; then
    git config --global --add safe.directory "$repo"
  fi
}

run_cfo() {
  local repo=${CFO_REPOSITORY:-${GITHUB_WORKSPACE:-${CIRCLE_WORKING_DIRECTORY:-$PWD}}}
  case "${CFO_COMMAND:-cfo}" in
    none)
      export_path "$build/bin"
      return 0
      ;;
    cfo) ;;
    *) die "command is '$CFO_COMMAND'; it is cfo or none" ;;
  esac
  [ -x "$build/bin/cfo" ] || die "$build/bin/cfo is not built: run the build step first"
  trust_repository "$repo"
  local args=(--repo "$repo")
  local name opt
  for name in ${CFO_FUZZERS:-}; do
    args+=(--fuzzer "$name")
  done
  for opt in budget:BUDGET task-timeout:TASK_TIMEOUT dataset:DATASET concurrency:CONCURRENCY \
    config:CONFIG changed-since:CHANGED_SINCE report:REPORT junit:JUNIT sarif:SARIF; do
    local var="CFO_${opt#*:}"
    if [ -n "${!var:-}" ]; then
      args+=("--${opt%%:*}" "${!var}")
    fi
  done
  for opt in REPORT JUNIT SARIF; do
    local var="CFO_$opt"
    if [ -n "${!var:-}" ]; then
      mkdir -p "$(dirname "${!var}")"
    fi
  done
  if [ -n "${CFO_SAVE_LOGS:-}" ]; then
    args+=("--save-logs" "$CFO_SAVE_LOGS")
  fi
  if is_true "${CFO_UPLOAD:-false}"; then
    args+=(--upload)
  fi
  if is_true "${CFO_ALLOW_INCOMPLETE:-false}"; then
    args+=(--allow-incomplete)
  fi
  local extra=()
  read -r -a extra <<<"${CFO_ARGS:-}"
  args+=("${extra[@]}")
  echo "cfo: $build/bin/cfo ${args[*]}"
  local status=0
  "$build/bin/cfo" "${args[@]}" || status=$?
  set_output exit-code "$status"
  return "$status"
}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
  run) run_cfo ;;
  *)
    echo "usage: $0 deps|build|run (settings in CFO_* variables: see the script's head)" >&2
    exit 2
    ;;
esac
