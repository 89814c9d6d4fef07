#!/usr/bin/env python3
"""The dataset merge in Python with its C-accelerated json module: the
baseline `cfo-dataset merge` is measured against, and the oracle its output is
checked against (tests/integration/test_merge_oracle.py).

usage: merge_baseline.py --into PATH [--config FILE] [--window N] FILE...

Same rules, in the same order, with the same tie-breaking as the C merge
(DESIGN.md "Merge rules"): cancelled records dropped; 1 dedup (the smallest
copy by the full record order survives); 2 newest per (fuzzer, branch, target,
commit) by strategy, newest = largest time, then attempt, then run, then the
full record order; 3 supersede; 4 window (a commit's recency is its newest
record's time, ties to the larger sha); 5 order by every field, time first.
Fuzzers the configuration does not name are ACCUMULATE.
"""

import argparse
import configparser
import json
import os
import sys

DEFAULT_WINDOW = 32
NO_TIME = -(2 ** 63)  # a record without a time sorts before every other
STATUSES = ("pass", "fail", "timeout", "error", "cancelled", "oom")
STATUS_INDEX = {s: i for i, s in enumerate(STATUSES)}
CANCELLED = STATUS_INDEX["cancelled"]
SUPERSEDE, ACCUMULATE = "supersede", "accumulate"
KIND_MERGE = {"canary": ACCUMULATE, "infra_drift": SUPERSEDE, "exec": SUPERSEDE}
BUILTIN = {"CANARY": ACCUMULATE, "INFRA_DRIFT": SUPERSEDE}

# A record is a tuple whose natural order is the full record order of the C
# implementation; optional strings are (present, value) so that absent sorts
# first, as a NULL does there.
T, FUZZER, BRANCH, TARGET, COMMIT, ATTEMPT, RUN, OK, STATUS, COUNT, FINDINGS, DURATION, \
    COMMAND, WORKER, USAGE, CRASHES = range(16)
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _digits(s, i, n):
    part = s[i:i + n]
    if len(part) != n or not part.isdigit() or not part.isascii():
        raise ValueError("bad time " + s)
    return int(part)


_day_ms = {}


def parse_time(s):
    """Milliseconds since the epoch, as the C parser reads it."""
    # The canonical form (what every writer produces) takes the quick way.
    if len(s) == 24 and s.isascii() and s[10] == "T" and s[19] == "." and s[23] == "Z" \
            and s[13] == ":" and s[16] == ":":
        day = _day_ms.get(s[:10])
        if day is None:
            day = _day_ms[s[:10]] = _parse_time(s[:10] + "T00:00:00Z")
        h, mi, se, ms = int(s[11:13]), int(s[14:16]), int(s[17:19]), int(s[20:23])
        if h <= 23 and mi <= 59 and se <= 60 and s[11:23].replace(":", "").replace(".", "") \
                .isdigit():
            return day + ((h * 60 + mi) * 60 + se) * 1000 + ms
    return _parse_time(s)


def _parse_time(s):
    y = _digits(s, 0, 4)
    if s[4:5] != "-" or s[7:8] != "-" or s[10:11] not in ("T", "t", " ") or s[13:14] != ":" \
            or s[16:17] != ":":
        raise ValueError("bad time " + s)
    mo, d = _digits(s, 5, 2), _digits(s, 8, 2)
    h, mi, se = _digits(s, 11, 2), _digits(s, 14, 2), _digits(s, 17, 2)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and se <= 60):
        raise ValueError("bad time " + s)
    i, ms = 19, 0
    if s[i:i + 1] == ".":
        i += 1
        j = i
        while j < len(s) and s[j].isdigit() and s[j].isascii():
            j += 1
        frac = s[i:j]
        if not 1 <= len(frac) <= 9:
            raise ValueError("bad time " + s)
        ms = int((frac + "00")[:3])
        i = j
    rest = s[i:]
    if rest not in ("Z", "z", "+00:00"):
        raise ValueError("bad time " + s)
    yy = y - (mo <= 2)
    era = (yy if yy >= 0 else yy - 399) // 400
    yoe = yy - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 86400) + h * 3600 + mi * 60 + se) * 1000 + ms


def format_time(ms):
    secs, frac = divmod(ms, 1000)
    days, rem = divmod(secs, 86400)
    # civil from days (Howard Hinnant), the inverse of parse_time
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    h, rem = divmod(rem, 3600)
    mi, se = divmod(rem, 60)
    base = "%04d-%02d-%02dT%02d:%02d:%02d" % (y, m, d, h, mi, se)
    return base + (".%03dZ" % frac if frac else "Z")


def _opt(v):
    return (False, "") if v is None else (True, v)


def from_json(o, time_cache):
    """A parsed JSON record as a tuple (absent and null optional fields alike)."""
    ok = o["ok"]
    status = o.get("status")
    status = STATUS_INDEX[status] if status is not None else (0 if ok else 1)
    t = o.get("time")
    if t is None:
        t = NO_TIME
    else:
        ms = time_cache.get(t)
        if ms is None:
            ms = time_cache[t] = parse_time(t)
        t = ms
    return (t, o["fuzzer"], o["branch"], o["target"], o["commit"], o.get("attempt") or 0,
            _opt(o.get("run")), ok, status, o["count"], o.get("findings") or 0,
            float(o["duration"]), o["command"], _opt(o.get("worker")), _usage(o),
            _opt(None if o.get("crashes") is None else _compact(o["crashes"])))


def _usage(o):
    """(present, cpu, max_rss_kb): kept only when both are given, as in C."""
    cpu, rss = o.get("cpu"), o.get("max_rss_kb")
    if cpu is None or rss is None:
        return (False, 0.0, 0)
    return (True, float(cpu), rss)


def to_json(r):
    o = {"commit": r[COMMIT], "fuzzer": r[FUZZER], "ok": r[OK], "count": r[COUNT],
         "findings": r[FINDINGS], "branch": r[BRANCH], "target": r[TARGET],
         "duration": r[DURATION], "command": r[COMMAND], "status": STATUSES[r[STATUS]]}
    d = r[DURATION]
    if d.is_integer() and abs(d) < 1e15:
        o["duration"] = int(d)  # as the C writer prints it
    if r[T] != NO_TIME:
        o["time"] = format_time(r[T])
    if r[RUN][0]:
        o["run"] = r[RUN][1]
    if r[WORKER][0]:
        o["worker"] = r[WORKER][1]
    if r[ATTEMPT]:
        o["attempt"] = r[ATTEMPT]
    if r[USAGE][0]:
        cpu = r[USAGE][1]
        o["cpu"] = int(cpu) if cpu.is_integer() and abs(cpu) < 1e15 else cpu
        o["max_rss_kb"] = r[USAGE][2]
    if r[CRASHES][0]:
        o["crashes"] = json.loads(r[CRASHES][1])
    return o


def _newness(r):
    return (r[T], r[ATTEMPT], r[RUN], r)


def merge(records, strategies, window, stats=None):
    """Merges record tuples; strategies maps fuzzer -> SUPERSEDE/ACCUMULATE.
    stats, when given, is filled with what each rule removed."""
    st = stats if stats is not None else {}
    recs = [r for r in records if r[STATUS] != CANCELLED]
    st["cancelled"] = len(records) - len(recs)

    # 1 dedup: of the copies of one result, the smallest in full order stays.
    best = {}
    for r in recs:
        if r[RUN][0]:
            key = (r[FUZZER], r[BRANCH], r[TARGET], r[COMMIT], r[RUN], r[ATTEMPT])
        else:
            key = r
        cur = best.get(key)
        if cur is None or r < cur:
            best[key] = r
    st["dedup"] = len(recs) - len(best)
    recs = list(best.values())

    # 2 newest per key
    groups = {}
    for r in recs:
        groups.setdefault((r[FUZZER], r[BRANCH], r[TARGET], r[COMMIT]), []).append(r)
    kept = []
    for key, g in groups.items():
        if strategies.get(key[0], ACCUMULATE) == SUPERSEDE:
            kept.append(max(g, key=_newness) if len(g) > 1 else g[0])
        else:
            passes = [r for r in g if r[OK]]
            if passes:
                kept.append(max(passes, key=_newness))
            kept.extend(r for r in g if not r[OK])
    st["newest"] = len(recs) - len(kept)
    recs = kept

    # 3 supersede: a pass removes older failures of its target on any commit.
    last_pass = {}
    for r in recs:
        if r[OK] and strategies.get(r[FUZZER], ACCUMULATE) == SUPERSEDE:
            k = (r[FUZZER], r[BRANCH], r[TARGET])
            if r[T] > last_pass.get(k, NO_TIME - 1):
                last_pass[k] = r[T]
    kept = []
    for r in recs:
        if not r[OK]:
            lp = last_pass.get((r[FUZZER], r[BRANCH], r[TARGET]))
            if lp is not None and r[T] < lp:
                continue
        kept.append(r)
    st["supersede"] = len(recs) - len(kept)
    recs = kept

    # 4 window
    newest = {}
    for r in recs:
        c = r[COMMIT]
        if r[T] > newest.get(c, NO_TIME - 1):
            newest[c] = r[T]
    st["window"] = 0
    st["window_tie"] = False
    if len(newest) > window:
        ranked = sorted(newest.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        st["window_tie"] = ranked[window - 1][1] == ranked[window][1]
        keep = set(c for c, _ in ranked[:window])
        kept = [r for r in recs if r[COMMIT] in keep]
        st["window"] = len(recs) - len(kept)
        recs = kept

    # 5 order
    recs.sort()
    return recs


def load_strategies(path):
    """fuzzer -> strategy, and the configured window (or None), from a cfo.ini."""
    if path is None:
        return dict(BUILTIN), None
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None,
                                   strict=False)
    cp.optionxform = str
    with open(path) as f:
        cp.read_file(f)
    strategies, window = {}, None
    for sec in cp.sections():
        if sec == "cfo":
            if cp.has_option(sec, "window"):
                window = int(cp.get(sec, "window"))
            continue
        if sec.startswith("fuzzer "):
            name = sec[len("fuzzer "):].strip().strip('"')
            kind = cp.get(sec, "kind").strip()
            strategies[name] = cp.get(sec, "merge", fallback=KIND_MERGE[kind]).strip()
    if not strategies:
        strategies = dict(BUILTIN)
    return strategies, window


def read_records(path, time_cache):
    """(records, window) of a dataset document or a bare array of records."""
    with open(path, "rb") as f:
        doc = json.load(f)
    if isinstance(doc, list):
        return [from_json(o, time_cache) for o in doc], 0
    return [from_json(o, time_cache) for o in doc["records"]], doc.get("window") or 0


def write_dataset(path, records, window):
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    body = ",\n".join([dumps(to_json(r)) for r in records])
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write('{"version":1,"window":%d,"records":[\n' % window)
        if body:
            f.write(body)
            f.write("\n")
        f.write("]}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--into", required=True, help="the dataset file to write")
    ap.add_argument("--config")
    ap.add_argument("--window", type=int)
    ap.add_argument("--stats", action="store_true", help="print what each rule removed")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args(argv)
    into = a.into[len("file://"):] if a.into.startswith("file://") else a.into
    config = a.config
    if config is None and os.path.exists("cfo.ini"):
        config = "cfo.ini"
    strategies, cfg_window = load_strategies(config)
    cache = {}
    new = []
    for p in a.files:
        new.extend(read_records(p, cache)[0])
    old, ds_window = read_records(into, cache) if os.path.exists(into) else ([], 0)
    window = a.window or cfg_window or ds_window or DEFAULT_WINDOW
    stats = {}
    out = merge(old + new, strategies, window, stats)
    write_dataset(into, out, window)
    print("merged %d new records into %s: %d before, %d after" % (
        len(new), a.into, len(old), len(out)))
    if a.stats:
        print(json.dumps(stats, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
