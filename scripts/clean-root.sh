#!/usr/bin/env bash
# Checks that the README's two commands work on a fresh Debian bookworm machine.
#
# It builds a minimal Debian bookworm root (debootstrap --variant=minbase, plus
# git to clone with), clones this repository into it, and runs, inside a
# chroot with a clean environment, exactly what the README tells a new user to
# run:
#
#   ./scripts/run-example.sh   # must exit 1: the example plants drift on purpose
#   ./scripts/test.sh          # must exit 0
#
# Every other package has to come from scripts/deps.sh, so a tool that is only
# present on a developer's or CI's image (llvm-symbolizer was one) makes this
# check fail instead of slipping through. Terraform is not packaged by Debian:
# the host's `terraform`, when there is one, is copied into the root's
# /usr/local/bin, as a user would put it on PATH.
#
# What is checked is the committed HEAD of the checkout this script lives in
# (a `git clone` of it): uncommitted changes are NOT included.
#
# Needs root (debootstrap, chroot, mounts) and access to the Debian archive.
# The root's /proc, /sys, /dev, /dev/pts, /dev/shm and /run are mounted for the
# test suite and always unmounted on exit; the root is removed unless --keep.
# shellcheck disable=SC2317  # cleanup and its helpers run from the EXIT trap
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/clean-root.sh [--keep] [--dir DIR] [--cache DIR] [--refresh-cache]

Builds a fresh minimal Debian bookworm root, clones this repository's
committed HEAD into it (/src/cfo) and runs the README's two commands there
in a chroot: ./scripts/run-example.sh (must exit 1, as README.md documents)
then ./scripts/test.sh (must exit 0). Exits 0 when both do as documented.

  --keep           keep the root afterwards (it is removed by default)
  --dir DIR        build the root in DIR (must not exist or be empty);
                   default: a new folder under ${TMPDIR:-/var/tmp}
  --cache DIR      bootstrap the base root once into DIR and copy it for each
                   run (default: $CFO_CLEAN_ROOT_CACHE; no cache when unset)
  --refresh-cache  bootstrap the cached base root again
  -h, --help       show this help

Environment:
  CFO_CLEAN_ROOT_CACHE   same as --cache, e.g. /var/tmp/cfo-bookworm-base
  CFO_CLEAN_ROOT_MIRROR  Debian mirror (default http://deb.debian.org/debian)

Needs root. Uncommitted changes are not tested: commit first.
EOF
}

keep=0
dir=""
cache=${CFO_CLEAN_ROOT_CACHE:-}
refresh=0
mirror=${CFO_CLEAN_ROOT_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# README.md: "It exits 1, as it should: the example plants drift in one
# module on branch `staging`, and INFRA_DRIFT is a critical fuzzer."
example_status=1

while (($# > 0)); do
  case $1 in
    --keep) keep=1 ;;
    --dir) dir=${2:?--dir needs a folder}; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    --cache) cache=${2:?--cache needs a folder}; shift ;;
    --cache=*) cache=${1#--cache=} ;;
    --refresh-cache) refresh=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "clean-root: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "clean-root: $*" >&2; }
die() { say "error: $*"; exit 2; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts)"

start=$SECONDS
root=""
made_root=0
partial_cache=""
gitconfig=""
mounts=()   # mount points inside the root, in the order they were mounted

# Processes whose root directory is inside the chroot (left behind by the
# suite, e.g. a daemon a package started): only those, by pid.
chroot_pids() {
  local p link
  for p in /proc/[0-9]*; do
    link=$(readlink "$p/root" 2>/dev/null) || continue
    case $link in "$root"|"$root"/*) echo "${p#/proc/}" ;; esac
  done
}

mounted_under() {  # prints the mount points at or under $1, deepest last
  awk -v r="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == r || index(m, r "/") == 1) print m }' \
    /proc/self/mountinfo
}

unmount_all() {
  local i m pids left
  pids=$(chroot_pids)
  if [ -n "$pids" ]; then
    say "stopping processes left in the root: $(echo "$pids" | tr '\n' ' ')"
    # shellcheck disable=SC2086  # one pid a word
    kill -TERM $pids 2>/dev/null || true
    sleep 2
    pids=$(chroot_pids)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    sleep 1
  fi
  # Mounts the suite made itself (e.g. network namespaces under /run/netns)
  # go first, deepest first, then ours in reverse order.
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[i]}
    while read -r sub; do
      [ "$sub" = "$m" ] && continue
      umount "$sub" 2>/dev/null || umount -l "$sub" 2>/dev/null || true
    done < <(mounted_under "$m" | tac)
    if mountpoint -q "$m"; then
      umount "$m" 2>/dev/null || umount -l "$m" || say "warning: could not unmount $m"
    fi
  done
  mounts=()
  left=$(mounted_under "$root" | tac)
  if [ -n "$left" ]; then
    while read -r m; do umount -l "$m" 2>/dev/null || true; done <<<"$left"
  fi
}

cleanup() {
  local status=$?
  set +e
  if [ -n "$root" ]; then
    unmount_all
    if [ -n "$(mounted_under "$root")" ]; then
      say "warning: something is still mounted under $root; not removing it:"
      mounted_under "$root" >&2
    elif ((keep)); then
      say "kept the root: $root (enter it with: chroot $root /bin/bash; nothing is mounted now)"
    elif ((made_root)); then
      rm -rf --one-file-system "$root"
    fi
  fi
  [ -z "$partial_cache" ] || rm -rf --one-file-system "$partial_cache"
  [ -z "$gitconfig" ] || rm -f "$gitconfig"
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

repo=$(cd "$(dirname "$0")/.." && pwd)
# Root reading a checkout another user owns (sudo ./scripts/clean-root.sh):
# git refuses such a repository unless it is named safe, and a local clone
# only takes that from the global configuration.
gitconfig=$(mktemp)
printf '[safe]\n\tdirectory = %s\n\tdirectory = %s/.git\n' "$repo" "$repo" >"$gitconfig"
export GIT_CONFIG_GLOBAL=$gitconfig
head=$(git -C "$repo" rev-parse HEAD) || die "$repo is not a git checkout"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  say "note: $repo has uncommitted changes; they are not part of this check"
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# The base root: minbase, and git to clone with. Nothing else.
bootstrap() {
  say "debootstrap --variant=minbase $suite into $1 (from $mirror)"
  debootstrap --variant=minbase --include=git "$suite" "$1" "$mirror" >"$1.debootstrap.log" 2>&1 || {
    tail -n 30 "$1.debootstrap.log" >&2
    die "debootstrap failed (whole log: $1.debootstrap.log)"
  }
  rm -f "$1.debootstrap.log"
  # debootstrap leaves the package cache full; a fresh machine's apt starts empty.
  rm -f "$1"/var/cache/apt/archives/*.deb
  date -u +%FT%TZ >"$1/.cfo-clean-root-base"
}

# The root of this run.
if [ -z "$dir" ]; then
  tmp=${TMPDIR:-/var/tmp}
  dir=$(mktemp -d "$tmp/cfo-clean-root.XXXXXX")
  made_root=1
elif [ -e "$dir" ]; then
  if [ ! -d "$dir" ] || [ -n "$(ls -A "$dir")" ]; then
    die "$dir exists and is not an empty folder"
  fi
  made_root=1
else
  mkdir -p "$dir"
  made_root=1
fi
root=$(cd "$dir" && pwd -P)
[ "$root" != / ] || die "refusing to use / as the root"
chmod 755 "$root"  # mktemp makes it 0700; a machine's / is 0755

if [ -n "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cache=$(cd "$(dirname "$cache")" && pwd -P)/$(basename "$cache")
  exec 9>"$cache.lock"
  flock 9
  if ((refresh)) || [ ! -f "$cache/.cfo-clean-root-base" ]; then
    partial_cache="$cache.new.$$"
    rm -rf --one-file-system "$partial_cache"
    mkdir -p "$partial_cache"
    bootstrap "$partial_cache"
    rm -rf --one-file-system "$cache"
    mv "$partial_cache" "$cache"
    partial_cache=""
  else
    say "using the cached base root $cache (bootstrapped $(cat "$cache/.cfo-clean-root-base"))"
  fi
  say "copying it to $root"
  cp -a "$cache/." "$root/"
  exec 9>&-
else
  bootstrap "$root"
fi
rm -f "$root/.cfo-clean-root-base"
base_done=$SECONDS
say "base root ready in $((base_done - start))s"

# No daemon a package installs starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap writes no /etc/hosts; the installer (or a container runtime) does.
if [ ! -e "$root/etc/hosts" ]; then
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
fi

# Terraform is not packaged by Debian: a user puts it on PATH.
if tf=$(command -v terraform 2>/dev/null); then
  install -m 0755 "$tf" "$root/usr/local/bin/terraform"
  say "copied $tf into the root's /usr/local/bin"
else
  say "note: no terraform on this machine's PATH; scripts/deps.sh will stop for lack of it"
fi

# The committed HEAD, as a new user's clone.
git clone -q --no-hardlinks "$repo" "$root/src/cfo"
if [ "$(git -C "$root/src/cfo" rev-parse HEAD)" != "$head" ]; then
  git -C "$root/src/cfo" checkout -q --detach "$head"
fi
say "cloned $repo at $(git -C "$repo" log -1 --format='%h %s' "$head")"

# What a test suite finds on a booted machine.
mnt() {  # mnt TARGET MOUNT-ARGS...
  local target=$root$1
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounts+=("$target")
}
# The root is a mount point of its own, as a machine's / is: `ip netns exec`
# and `ip -n` make / a slave mount in their new mount namespace, which fails
# on a plain directory. Private, so nothing mounted in it shows elsewhere.
mount --bind "$root" "$root"
mounts+=("$root")
mount --make-private "$root"
mnt /proc -t proc proc
mnt /sys -t sysfs sysfs
mnt /dev --bind /dev
mnt /dev/pts --bind /dev/pts
mnt /dev/shm -t tmpfs -o mode=1777,nosuid,nodev shm
mnt /run -t tmpfs -o mode=755,nosuid,nodev run
mkdir -m 1777 "$root/run/lock"
# /tmp stays the root's own folder, on disk, as on an installed bookworm.
chmod 1777 "$root/tmp"

# Runs a command line in the clone, in a clean environment. In the background
# and waited for, so that a signal reaches the trap at once (cleanup stops
# what runs in the root) instead of after the command.
in_root() {
  chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb CI=true \
    /bin/bash -c "cd /src/cfo && $1" </dev/null &
  wait $!
}

set +e
say "running ./scripts/run-example.sh in the root (must exit $example_status)"
t0=$SECONDS
in_root ./scripts/run-example.sh
example_rc=$?
example_time=$((SECONDS - t0))
say "./scripts/run-example.sh exited $example_rc after ${example_time}s"

say "running ./scripts/test.sh in the root (must exit 0)"
t0=$SECONDS
in_root ./scripts/test.sh
test_rc=$?
test_time=$((SECONDS - t0))
say "./scripts/test.sh exited $test_rc after ${test_time}s"
set -e

# A test that skips for want of a tool passes ctest quietly: list the skips
# ctest's logs hold, so that a missing tool shows even when nothing failed.
# And name the tests that failed, per build.
skips=0
failed_tests=""
for b in build build-asan; do
  log=$root/src/cfo/$b/Testing/Temporary/LastTest.log
  [ -f "$log" ] || continue
  while IFS= read -r line; do
    say "skip in $b: $line"
    skips=$((skips + 1))
  done < <(awk '/^[0-9]+\/[0-9]+ Testing: /{t=$3}
                /^skipped|\.\.\. skipped ["'\'']/{print t ": " $0}' "$log")
  names=$(awk '/^[0-9]+\/[0-9]+ Testing: /{t=$3} /^Test Failed/{print t}' "$log" | sort | paste -sd, -)
  [ -z "$names" ] || failed_tests+="${failed_tests:+; }failed in $b: $names"
done

failed=()
if ((example_rc != example_status)); then
  failed+=("./scripts/run-example.sh exited $example_rc, not $example_status")
elif [ ! -s "$root/src/cfo/.cfo/data.json" ]; then
  # It exits 1 too when the build fails: the run it documents writes the dataset.
  failed+=("./scripts/run-example.sh exited $example_rc but wrote no .cfo/data.json: it stopped before cfo ran")
fi
((test_rc == 0)) || failed+=("./scripts/test.sh exited $test_rc, not 0${failed_tests:+ ($failed_tests)}")

total=$((SECONDS - start))
short=$(git -C "$repo" rev-parse --short "$head")
if ((${#failed[@]} == 0)); then
  note=""
  ((skips == 0)) || note=", with $skips skip(s) listed above"
  say "PASS: on a fresh Debian $suite root, commit $short: ./scripts/run-example.sh exited $example_status as documented and ./scripts/test.sh passed$note (${total}s)"
  exit 0
fi
what=${failed[0]}
for f in "${failed[@]:1}"; do what+="; $f"; done
say "FAIL: on a fresh Debian $suite root, commit $short: $what (${total}s)"
exit 1
