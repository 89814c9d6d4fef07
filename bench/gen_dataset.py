#!/usr/bin/env python3
"""Writes the merge benchmark's inputs: a dataset of NCOMMITS commits, each
tested on NBRANCHES branches against NTARGETS targets (1,000,000 records at
32 x 3 x 10,400), and a batch of new records from the next commit, as a run
that just finished would deliver them.

usage: gen_dataset.py DATASET NEW [--commits N] [--branches N] [--targets N] [--new N]

Half of the targets belong to a SUPERSEDE fuzzer, half to an ACCUMULATE one
(bench/merge.ini declares both); about 3% of the records are failures, so the
supersede rule has failures to remove, and the new commit pushes the oldest
one out of the window."""

import argparse
import hashlib
import random
import sys

BRANCHES = ("main", "staging", "plan", "release", "dev")
FUZZERS = ("INFRA_DRIFT", "PARSER")  # supersede, accumulate (bench/merge.ini)
BASE_MS = 1795000000000  # 2026-11-18


def _sha(i):
    return hashlib.sha1(b"commit-%d" % i).hexdigest()


def _time(ms):
    secs, frac = divmod(ms, 1000)
    # Only seconds and days change here; keeps the generator quick.
    days, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    mi, se = divmod(rem, 60)
    # 2026-11-18 is day 20775 since the epoch; the bench spans fewer than 12 days.
    day = 18 + days - 20775
    base = "2026-11-%02dT%02d:%02d:%02d" % (day, h, mi, se)
    return base + (".%03dZ" % frac if frac else "Z")  # as the C writer prints it


def _records(out, commit_idx, nbranches, ntargets, limit, rng, first):
    """Writes the records of one commit; returns how many were written."""
    sha = _sha(commit_idx)
    t0 = BASE_MS + commit_idx * 3600 * 1000
    n = 0
    for b in range(nbranches):
        branch = BRANCHES[b]
        run = "20261118T%06dZ-ci-%d-%04x" % (commit_idx, b, commit_idx * 7 + b)
        for t in range(ntargets):
            if n >= limit:
                return n
            fuzzer = FUZZERS[t & 1]
            target = "envs/svc-%05d/module" % t
            ok = rng.random() >= 0.03
            findings = 0 if ok else rng.randint(1, 9)
            dur = round(rng.uniform(0.05, 40.0), 3)
            ms = t0 + (t * 211) % 3_000_000 + b
            line = ('{"commit":"%s","fuzzer":"%s","ok":%s,"count":%d,"findings":%d,'
                    '"branch":"%s","target":"%s","duration":%r,'
                    '"command":"cfo-fuzz %s %s","status":"%s","time":"%s","run":"%s",'
                    '"worker":"worker-%02d","attempt":1}') % (
                sha, fuzzer, "true" if ok else "false", rng.randint(1, 400), findings,
                branch, target, dur, fuzzer, target, "pass" if ok else "fail", _time(ms),
                run, t % 16)
            out.write(line if first and n == 0 else ",\n" + line)
            n += 1
    return n


def generate(dataset, new, commits=32, branches=3, targets=10400, nnew=30000, seed=1):
    """Writes both files; returns (records in dataset, new records)."""
    rng = random.Random(seed)
    total = 0
    with open(dataset, "w") as f:
        f.write('{"version":1,"window":32,"records":[\n')
        for c in range(commits):
            total += _records(f, c, branches, targets, 1 << 62, rng, total == 0)
        f.write("\n]}\n")
    with open(new, "w") as f:
        f.write("[\n")
        per_branch = -(-nnew // branches)
        n = _records(f, commits, branches, min(targets, per_branch), nnew, rng, True)
        f.write("\n]\n")
    return total, n


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("new")
    ap.add_argument("--commits", type=int, default=32)
    ap.add_argument("--branches", type=int, default=3)
    ap.add_argument("--targets", type=int, default=10400)
    ap.add_argument("--new", dest="nnew", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    total, n = generate(a.dataset, a.new, a.commits, a.branches, a.targets, a.nnew, a.seed)
    print("%s: %d records; %s: %d records" % (a.dataset, total, a.new, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
