#!/usr/bin/env bash
# Builds CFO and runs the main job on the embedded default: every registered
# fuzzer of a bundled example repository, with the local file dataset
# .cfo/data.json, uploading the results; then shows the dataset.
#
# With terraform (or tofu) on PATH, the example is the Terraform repository
# (examples/terraform: CANARY and INFRA_DRIFT on main, staging and plan; it
# exits 1, as it should: branch staging has drift planted). Without either,
# it says so and runs the engine example instead (examples/fuzz-parser:
# CANARY and libFuzzer with clang from Debian; it exits 1 too: the parser has
# a crash planted).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The script picks its example by what is installed; terraform is not a
# build dependency.
CFO_DEPS_SKIP_TERRAFORM=1 BUILD_DIR="$root/build" "$root/scripts/build.sh" || exit
dataset="file://$root/.cfo/data.json"

if command -v terraform >/dev/null 2>&1 || command -v tofu >/dev/null 2>&1; then
  example="$root/.cfo/example-repo"
  make_repo="$root/examples/make-example-repo.sh"
  args=()
  planted="a critical fuzzer found drift, as the example plants on branch staging"
else
  echo "cfo: neither terraform nor tofu is on PATH, so the drift example cannot run (install HashiCorp's Terraform or OpenTofu); running the engine example instead"
  example="$root/.cfo/example-parser"
  make_repo="$root/examples/fuzz-parser/make-repo.sh"
  args=(--fuzzer CANARY --fuzzer LIBFUZZER)
  planted="libFuzzer found the crash the example plants in its parser"
fi
if [ ! -d "$example/.git" ]; then
  rm -rf "$example"
  "$make_repo" "$example" || exit
fi
cd "$root"
"$root/build/bin/cfo" --repo "$example" --dataset "$dataset" --upload --save-logs .cfo/logs \
  "${args[@]}" "$@"
status=$?
echo
"$root/build/bin/cfo-dataset" show "$dataset"
echo
"$root/build/bin/cfo-dataset" stats "$dataset"
echo "cfo exited with status $status (1: $planted)"
exit $status
