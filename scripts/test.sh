#!/usr/bin/env bash
# Builds CFO and runs the whole test suite: lint, every unit and integration
# test with ctest, then the same suite again under ASan/UBSan.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

BUILD_DIR="$root/build" "$root/scripts/build.sh"
cmake --build "$root/build" --target lint
ctest --test-dir "$root/build" --output-on-failure --timeout 900 -j 2

BUILD_DIR="$root/build-asan" BUILD_TYPE=Debug "$root/scripts/build.sh" -DCFO_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure --timeout 900 -j 2
