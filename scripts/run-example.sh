#!/usr/bin/env bash
# Builds CFO and runs the main job on the embedded default: every registered
# fuzzer (the example's cfo.ini: CANARY and INFRA_DRIFT on main, staging and
# plan) against the bundled example repository, with the local file dataset,
# uploading the results; then shows the dataset.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR="$root/build" "$root/scripts/build.sh" || exit
example="$root/.cfo/example-repo"
if [ ! -d "$example/.git" ]; then
  rm -rf "$example"
  "$root/examples/make-example-repo.sh" "$example" || exit
fi
cd "$root"
"$root/build/bin/cfo" --repo "$example" --upload --save-logs .cfo/logs "$@"
status=$?
echo
"$root/build/bin/cfo-dataset" show file://.cfo/data.json
echo
"$root/build/bin/cfo-dataset" stats file://.cfo/data.json
echo "cfo exited with status $status (1: a critical fuzzer found drift, as the example plants on branch staging)"
exit $status
