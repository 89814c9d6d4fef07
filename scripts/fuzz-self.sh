#!/usr/bin/env bash
# Fuzzes every decoder of outside bytes in CFO (fuzz_tests/libfuzzer/fuzz_*.c)
# for SECONDS each (default 60), one after the other, with scripts/fuzz-one.sh:
#   scripts/fuzz-self.sh [SECONDS]
# Exits 0 when no target found anything, 1 when one did (its input is under
# .cfo/fuzz-findings/NAME/), 2 when a target could not be built or run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: $0 [SECONDS]" >&2
  exit 2
}
"$root/scripts/deps.sh"

names=()
for src in "$root"/fuzz_tests/libfuzzer/fuzz_*.c; do
  n=$(basename "$src" .c)
  names+=("${n#fuzz_}")
done
echo "fuzz-self: fuzzing ${names[*]} for ${seconds}s each" >&2

found=() failed=()
for n in "${names[@]}"; do
  set +e
  CFO_FUZZ_SECONDS=$seconds "$root/scripts/fuzz-one.sh" "$n"
  rc=$?
  set -e
  case $rc in
  0) ;;
  1) found+=("$n") ;;
  *) failed+=("$n") ;;
  esac
done

if ((${#found[@]} > 0)); then
  echo "fuzz-self: findings in: ${found[*]} (inputs under $root/.cfo/fuzz-findings/)" >&2
  exit 1
fi
if ((${#failed[@]} > 0)); then
  echo "fuzz-self: could not fuzz: ${failed[*]}" >&2
  exit 2
fi
echo "fuzz-self: no finding in ${names[*]}" >&2
