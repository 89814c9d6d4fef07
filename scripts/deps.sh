#!/usr/bin/env bash
# Installs the Debian packages CFO needs to build, run and test, when missing.
# Every other script calls this first, so a fresh Debian machine needs nothing
# installed by hand.
#
# CFO_DEPS=run installs only what building CFO and running its fuzzer kinds
# need (the GitHub Action and the CircleCI job, on a user's repository), not
# the tools of CFO's own test suite; CFO_DEPS=all (the default) installs both.
set -euo pipefail

run_packages=(
  build-essential cmake pkg-config git
  libzmq3-dev libmsgpack-dev libcurl4-openssl-dev libcmocka-dev
  libyajl-dev libinih-dev libssl-dev procps
  # examples/notify/github-issues.sh, the notify_command that files issues.
  curl jq
  # cfo-coordinator --metrics serves Prometheus text format with it.
  libmicrohttpd-dev
  # The coverage-guided engines CFO drives: libFuzzer and its runtime come
  # with clang (only a recommendation of it, so named); llvm gives
  # llvm-symbolizer, which signs sanitizer reports by their frames, and
  # llvm-profdata and llvm-cov for coverage; AFL++ (afl-fuzz,
  # afl-clang-fast, afl-cmin, afl-tmin).
  clang libclang-rt-14-dev llvm afl++
  # Go's native fuzzing (go test -fuzz), the gofuzz kind.
  golang-go
)

test_packages=(
  python3 cppcheck clang-format
  docker-compose python3-yaml
  # The hostile-peer tests speak the wire protocol with an encoder of their
  # own, not CFO's.
  python3-zmq python3-msgpack
  # SARIF output is checked against a JSON schema of SARIF 2.1.0 (tests/).
  python3-jsonschema
  # The HTML report's test renders it in headless Chromium and checks the
  # screenshot; the fonts give the page's text the same metrics everywhere.
  chromium fonts-dejavu-core
  # bench/run.py's baselines and peak-memory readings.
  parallel time
  # `ip netns`: the several-machines test (test_netns) runs in network
  # namespaces; without `ip` it skips.
  iproute2
  # promtool checks what /metrics serves (test_metrics).
  prometheus
  # The Debian package: manual pages from --help, and the clean bookworm
  # root its test installs it into (test_package).
  help2man debootstrap
)

case "${CFO_DEPS:-all}" in
  all) packages=("${run_packages[@]}" "${test_packages[@]}") ;;
  run) packages=("${run_packages[@]}") ;;
  *)
    echo "cfo: CFO_DEPS is '$CFO_DEPS'; it is 'all' (the default) or 'run'" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "cfo: these Debian packages are missing and installing them needs root or sudo:" >&2
      echo "  ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "cfo: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Terraform is not packaged by Debian. INFRA_DRIFT and its tests use the
# `terraform` on PATH (or `tofu`, selected with `terraform = tofu`).
# CFO_DEPS_SKIP_TERRAFORM=1 skips this check where nothing runs INFRA_DRIFT
# (the container image's build stage).
if [ -z "${CFO_DEPS_SKIP_TERRAFORM:-}" ] && ! command -v terraform >/dev/null 2>&1 &&
   ! command -v tofu >/dev/null 2>&1; then
  echo "cfo: error: neither terraform nor tofu is on PATH; INFRA_DRIFT needs one of them" >&2
  echo "cfo: (Debian does not package Terraform: install HashiCorp's release or OpenTofu)" >&2
  exit 1
fi
