#!/usr/bin/env bash
# Fuzzes one of CFO's own decoders with libFuzzer for a bounded time:
#   scripts/fuzz-one.sh NAME      (NAME: one of fuzz_tests/libfuzzer/fuzz_NAME.c)
# Builds build-fuzz/ (clang, ASan/UBSan, CFO_LIBFUZZER=ON) when needed, then
# runs bin/fuzz_NAME for CFO_FUZZ_SECONDS (default 60) seconds over the corpus
# fuzz_tests/corpus/NAME. New inputs go to a scratch directory, never into the
# repository; a crashing input is kept under .cfo/fuzz-findings/NAME/.
# Exit status, as CFO's exec fuzzers expect: 0 no finding, 1 a finding (crash,
# leak, timeout, out of memory), anything else an error.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "fuzz-one: $*" >&2; }
die() {
  say "error: $*"
  exit 2
}

known=()
for src in "$root"/fuzz_tests/libfuzzer/fuzz_*.c; do
  n=$(basename "$src" .c)
  known+=("${n#fuzz_}")
done
[ $# -eq 1 ] || die "usage: $0 NAME (one of: ${known[*]})"
name=$1
if ! [[ $name =~ ^[a-z0-9_]+$ ]] || [ ! -f "$root/fuzz_tests/libfuzzer/fuzz_$name.c" ]; then
  die "no fuzz target '$name' (known: ${known[*]})"
fi
seconds=${CFO_FUZZ_SECONDS:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "CFO_FUZZ_SECONDS must be a positive number of seconds, not '$seconds'"
build=${CFO_FUZZ_BUILD_DIR:-$root/build-fuzz}
command -v clang >/dev/null 2>&1 || die "clang is not installed (scripts/deps.sh installs it)"
command -v flock >/dev/null 2>&1 || die "flock is not installed (util-linux)"

# Tasks of one commit share the build; the lock keeps them from building it
# at the same time. The build's output is shown only when it fails.
mkdir -p "$(dirname "$build")"
exec 9>"$build.lock"
flock 9
buildlog=$(mktemp "${TMPDIR:-/tmp}/cfo-fuzz-build.XXXXXX")
if [ ! -f "$build/CMakeCache.txt" ]; then
  say "configuring $build (clang, CFO_SANITIZE=ON, CFO_LIBFUZZER=ON)"
  if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DCFO_SANITIZE=ON -DCFO_LIBFUZZER=ON >"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    rm -f "$buildlog"
    die "configuring $build failed"
  fi
fi
say "building fuzz_$name in $build"
if ! cmake --build "$build" --target "fuzz_$name" -j "$(nproc)" >"$buildlog" 2>&1; then
  tail -n 40 "$buildlog" >&2
  rm -f "$buildlog"
  die "building fuzz_$name failed"
fi
rm -f "$buildlog"
flock -u 9
exec 9>&-

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cfo-fuzz-$name.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/corpus"
log=$scratch/fuzz.log
findings=${CFO_FUZZ_FINDINGS_DIR:-$root/.cfo/fuzz-findings/$name}
mkdir -p "$findings"
before=$(find "$findings" -maxdepth 1 -type f | wc -l)

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmd=("$build/bin/fuzz_$name" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048
  -print_final_stats=1 -artifact_prefix="$findings/" "$scratch/corpus"
  "$root/fuzz_tests/corpus/$name")
say "running for ${seconds}s: ${cmd[*]}"
set +e
"${cmd[@]}" 2>&1 | tee "$log" >&2
rc=${PIPESTATUS[0]}
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
after=$(find "$findings" -maxdepth 1 -type f | wc -l)
found=$((after - before))

verdict=2
if [ "$found" -gt 0 ]; then
  summary="fuzz_$name: $found finding(s) in ${execs:-?} executions; inputs in $findings"
  verdict=1
elif [ "$rc" -eq 0 ]; then
  summary="fuzz_$name: no finding in ${execs:-?} executions over ${seconds}s (coverage ${cov:-?})"
  verdict=0
else
  summary="fuzz_$name: the fuzzer exited with status $rc without a finding"
fi
say "$summary"
if [[ ${CFO_RESULT_FD:-} =~ ^[0-9]+$ ]]; then
  printf '{"count": %d, "findings": %d, "summary": "%s"}\n' "${execs:-0}" "$found" \
    "${summary//\"/\'}" >&"$CFO_RESULT_FD" || true
fi
exit "$verdict"
