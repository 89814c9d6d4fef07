#!/bin/sh
# record.sh -- rebuilds bugs.c with libFuzzer and the AFL++ driver and records
# the sanitizer reports that tests/test_triage.c reads from tests/triage/.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$src")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
flags="-g -O1 -fdebug-prefix-map=$src=/src/demo"
# Compiled from inside src/ so that UBSan's file names are relative too.
(cd "$src" && clang-14 $flags -fsanitize=fuzzer,address,undefined bugs.c -o "$work/bugs")
(cd "$src" && afl-clang-fast $flags -fsanitize=fuzzer,address bugs.c -o "$work/bugs_afl" 2>/dev/null)
put() { printf '%s' "$2" > "$1"; }
put a1 '!A12345678'; put a2 '!Aabcdefghijklmnopqrstuvwxyz'
put b1 '!B123'; put b2 '!Bxyzxyzxyzxyz'
put h '!H'; put m '!M'; put r '!R'; put l '!L'; put u '!Uzz'; put n '!N'
put s '!S'; put x '!X'
run() { name=$1; shift; "$@" > "$out/$name.txt" 2>&1 || true; }
run asan_heap_read_site1_a ./bugs a1
run asan_heap_read_site1_b ./bugs a2
run asan_heap_write_site2_a ./bugs b1
run asan_heap_write_site2_b ./bugs b2
run libfuzzer_timeout ./bugs -timeout=1 h
run libfuzzer_oom_malloc ./bugs -malloc_limit_mb=64 m
run libfuzzer_oom_rss ./bugs -rss_limit_mb=300 r
run lsan_leak ./bugs l
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 run ubsan_overflow ./bugs u
run asan_segv_null ./bugs n
run asan_stack_overflow ./bugs s
run libfuzzer_deadly_signal ./bugs x
ASAN_OPTIONS=handle_abort=1 run asan_abrt ./bugs x
# Without a symbolizer the frames are only module+offset.
ASAN_OPTIONS=symbolize=0 run nosym_heap_read_site1 ./bugs a1
ASAN_OPTIONS=symbolize=0 run nosym_heap_write_site2 ./bugs b1
run afl_heap_read_site1 ./bugs_afl a2
run afl_heap_write_site2 ./bugs_afl b1
# A fuzzing run that finds the overflow on its own from a seed.
mkdir corpus && put corpus/seed '!Cq'
run libfuzzer_fuzzing_run ./bugs -seed=1 -max_total_time=60 corpus
# One planted bug (json_string reads past its input) reached at nesting
# depths 1, 2 and 4, by libFuzzer and by the AFL++ driver.
put j1 '!J"abc'; put j2 '!J["abc'; put j4 '!J[{["abc'
run libfuzzer_json_depth1 ./bugs j1
run libfuzzer_json_depth4 ./bugs j4
run afl_json_depth2 ./bugs_afl j2
run afl_json_depth4 ./bugs_afl j4
