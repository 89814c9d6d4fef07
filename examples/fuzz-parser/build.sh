#!/bin/sh
# build.sh -- builds every fuzz target (fuzz/fuzz_*.c) for each engine whose
# compiler is present:
#   out/libfuzzer/<target>   clang: libFuzzer + ASan + UBSan
#   out/afl/<target>         afl-clang-fast: AFL++'s libAFLDriver + ASan + UBSan
#   out/afl/<target>.dict    the constants the target compares input against,
#                            for afl-fuzz -x (AFL_LLVM_DICT2FILE)
# With CFO_SANITIZER=coverage (CFO's coverage build, as OSS-Fuzz's
# SANITIZER=coverage) it builds only
#   out/coverage/<target>    clang: libFuzzer + $CFO_COVERAGE_FLAGS
#                            (-fprofile-instr-generate -fcoverage-mapping)
# Up-to-date outputs are kept. A missing compiler skips its engine; the script
# fails when nothing could be built or a compiler rejects the code.
# Env: CC (default clang), AFL_CC (default afl-clang-fast), CFLAGS (appended),
# CFO_SANITIZER and CFO_COVERAGE_FLAGS (set by CFO for its coverage build).
set -eu

cd "$(dirname "$0")"
root=$(pwd)
cc=${CC:-clang}
afl_cc=${AFL_CC:-afl-clang-fast}
extra=${CFLAGS:-}

common="-g -O1 -Isrc"
san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

targets=$(find fuzz -maxdepth 1 -name 'fuzz_*.c' | sed 's|^fuzz/||; s|\.c$||' | sort)
if [ -z "$targets" ]; then
    echo "build.sh: no fuzz targets (fuzz/fuzz_*.c)" >&2
    exit 1
fi

built=0
skipped=""

# up_to_date OUT TARGET: OUT exists and nothing it is made from is newer.
up_to_date() {
    [ -x "$1" ] || return 1
    [ -z "$(find src "fuzz/$2.c" build.sh -newer "$1" 2>/dev/null)" ]
}

# compile FLAVOUR COMPILER TARGET [VAR=VALUE...] -- links out/.tmp/FLAVOUR-TARGET
# with the variables in its environment. Outputs are moved into place only
# when complete, so an interrupted build leaves neither a file that looks up
# to date nor a stray file where target discovery looks.
compile() {
    flavour=$1 compiler=$2 target=$3
    shift 3
    mkdir -p "out/$flavour" out/.tmp
    # shellcheck disable=SC2086 # flag lists are split on purpose
    env "$@" "$compiler" $common $san $extra -o "out/.tmp/$flavour-$target" \
        src/*.c "fuzz/$target.c"
}

# build_each FLAVOUR: every target with $cc into out/FLAVOUR/, but those up
# to date.
build_each() {
    for t in $targets; do
        out=out/$1/$t
        if up_to_date "$out" "$t"; then
            echo "up to date: $out"
        else
            compile "$1" "$cc" "$t"
            mv -f "out/.tmp/$1-$t" "$out"
            echo "built: $out"
        fi
        built=$((built + 1))
    done
}

if [ "${CFO_SANITIZER:-}" = coverage ]; then
    # No sanitizer: coverage replays the corpus, it does not look for bugs.
    san="-fsanitize=fuzzer ${CFO_COVERAGE_FLAGS:--fprofile-instr-generate -fcoverage-mapping}"
    command -v "$cc" >/dev/null 2>&1 || {
        echo "build.sh: the coverage build needs $cc" >&2
        exit 1
    }
    build_each coverage
    exit 0
fi

if command -v "$cc" >/dev/null 2>&1; then
    build_each libfuzzer
else
    skipped="$skipped libfuzzer ($cc not found)"
fi

if command -v "$afl_cc" >/dev/null 2>&1; then
    for t in $targets; do
        out=out/afl/$t
        if up_to_date "$out" "$t" && [ -f "$out.dict" ]; then
            echo "up to date: $out"
        else
            # AFL++ 4.04c's cmplog does not solve the parser's four-byte tag
            # here; a dictionary of the compared constants does, in seconds.
            # The compiler appends to the dictionary, hence the fresh file.
            dict=$root/out/.tmp/afl-$t.dict
            rm -f "$dict"
            compile afl "$afl_cc" "$t" AFL_QUIET=1 AFL_LLVM_DICT2FILE="$dict"
            touch "$dict"
            mv -f "$dict" "$out.dict"
            mv -f "out/.tmp/afl-$t" "$out"
            echo "built: $out"
        fi
        built=$((built + 1))
    done
else
    skipped="$skipped afl ($afl_cc not found)"
fi

if [ -n "$skipped" ]; then
    echo "build.sh: skipped:$skipped" >&2
fi
if [ "$built" -eq 0 ]; then
    echo "build.sh: nothing could be built" >&2
    exit 1
fi
