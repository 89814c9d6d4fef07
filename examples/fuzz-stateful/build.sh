#!/bin/sh
# build.sh -- builds the session target for AFL++ in persistent mode
# (afl-clang-fast with libAFLDriver, ASan): out/afl/fuzz_session.
set -eu
cd "$(dirname "$0")"
afl_cc=${AFL_CC:-afl-clang-fast}
out=out/afl/fuzz_session
if [ -x "$out" ] && [ -z "$(find session.c build.sh -newer "$out")" ]; then
    echo "up to date: $out"
    exit 0
fi
mkdir -p out/afl out/.tmp
AFL_QUIET=1 "$afl_cc" -g -O1 -fsanitize=fuzzer,address -o out/.tmp/fuzz_session session.c
mv -f out/.tmp/fuzz_session "$out"
echo "built: $out"
