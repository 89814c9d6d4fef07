#!/bin/sh
# github-issues.sh -- a notify_command for CFO that keeps one GitHub issue per
# finding: an issue is opened for an opened finding, commented on and
# reopened when it regresses, and commented on and closed when it is fixed.
# Issues are found again by the finding's id, written into the issue body as
# <!-- cfo-finding: ID --> and labelled "cfo-finding", so the same finding is
# never filed twice, whichever run reports it.
#
# cfo.ini:  [cfo]
#           notify_command = examples/notify/github-issues.sh
#
# Reads CFO's events on stdin, one JSON object a line:
#   {"event": "opened" | "fixed" | "regressed", "finding": {...}}
# Env: GITHUB_TOKEN (required), GITHUB_REPOSITORY (owner/name, required),
#      GITHUB_API_URL (default https://api.github.com).
# Needs curl and jq. Exit status: 0 when every event was handled, 1 when one
# was not (the others still are), 2 for a usage error.
set -u

api=${GITHUB_API_URL:-https://api.github.com}
repo=${GITHUB_REPOSITORY:-}
token=${GITHUB_TOKEN:-}
label=cfo-finding

die_usage() {
    echo "github-issues.sh: $*" >&2
    exit 2
}
[ -n "$token" ] || die_usage "GITHUB_TOKEN is not set"
case "$repo" in
*/*) ;;
*) die_usage "GITHUB_REPOSITORY must be owner/name, not '$repo'" ;;
esac
command -v curl >/dev/null 2>&1 || die_usage "curl not found"
command -v jq >/dev/null 2>&1 || die_usage "jq not found"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# gh METHOD PATH [BODY-FILE]: one API call; the response body goes to
# $tmp/out, and the call fails unless the status is 2xx.
gh() {
    set -- "$1" "$2" "${3:-}"
    if [ -n "$3" ]; then
        code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -X "$1" \
            -H "Authorization: Bearer $token" -H "Accept: application/vnd.github+json" \
            -H "Content-Type: application/json" --data-binary "@$3" "$api$2") || return 1
    else
        code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -X "$1" \
            -H "Authorization: Bearer $token" -H "Accept: application/vnd.github+json" \
            "$api$2") || return 1
    fi
    case "$code" in
    2??) return 0 ;;
    esac
    echo "github-issues.sh: $1 $2: HTTP $code: $(head -c 300 "$tmp/out")" >&2
    return 1
}

# issue_of ID: prints the number and state of the issue that carries the
# finding's marker ("12 open"), or nothing.
issue_of() {
    page=1
    while :; do
        gh GET "/repos/$repo/issues?state=all&labels=$label&per_page=100&page=$page" || return 1
        found=$(jq -r --arg m "<!-- cfo-finding: $1 -->" \
            '[.[] | select(.pull_request == null) | select((.body // "") | contains($m))]
             | sort_by(.number) | first | if . then "\(.number) \(.state)" else "" end' "$tmp/out") ||
            return 1
        if [ -n "$found" ]; then
            echo "$found"
            return 0
        fi
        [ "$(jq 'length' "$tmp/out")" -lt 100 ] && return 0
        page=$((page + 1))
    done
}

# describe FINDING-FILE: the markdown that says what the finding is.
describe() {
    jq -r '"**\(.title)** (`\(.fuzzer)`, target `\(.target)`, kind \(.kind))\n\n" +
        "- first seen: `\(.first.commit[0:12])` on `\(.first.branch)` at \(.first.time)\n" +
        "- last seen: `\(.last.commit[0:12])` on `\(.last.branch)` at \(.last.time)\n" +
        (if .fixed then "- fixed: `\(.fixed.commit[0:12])` on `\(.fixed.branch)` (last bad `\(.fixed.last_bad[0:12])`)\n" else "" end) +
        "- branches: " + ([.branches | to_entries[] | "`\(.key)` \(.value)"] | join(", ")) + "\n" +
        (if .regressed > 0 then "- regressed \(.regressed) time(s)\n" else "" end) +
        (if .bundle then "\nReproduce: `cfo-crash reproduce \(.bundle)`\n" else "\nReproduce from the worktree root: `cfo-fuzz \(.fuzzer) \(.target)`\n" end)' "$1"
}

comment() { # NUMBER TEXT-FILE
    jq -Rs '{body: .}' "$2" >"$tmp/req" && gh POST "/repos/$repo/issues/$1/comments" "$tmp/req"
}

set_state() { # NUMBER open|closed
    jq -n --arg s "$2" '{state: $s}' >"$tmp/req" && gh PATCH "/repos/$repo/issues/$1" "$tmp/req"
}

open_issue() { # FINDING-FILE ID
    { describe "$1"; printf '\n<!-- cfo-finding: %s -->\n' "$2"; } >"$tmp/body"
    jq -n --rawfile body "$tmp/body" --arg l "$label" --slurpfile f "$1" \
        '{title: ("CFO: " + $f[0].title), body: $body, labels: [$l]}' >"$tmp/req" &&
        gh POST "/repos/$repo/issues" "$tmp/req" &&
        echo "github-issues.sh: opened issue #$(jq -r .number "$tmp/out") for $2"
}

handle() { # EVENT FINDING-FILE
    id=$(jq -r .id "$2") || return 1
    existing=$(issue_of "$id") || return 1
    number=${existing% *}
    state=${existing#* }
    case "$1" in
    opened | regressed)
        if [ -z "$existing" ]; then
            open_issue "$2" "$id"
            return
        fi
        if [ "$1" = regressed ] || [ "$state" = closed ]; then
            { printf 'Regressed: seen again.\n\n'; describe "$2"; } >"$tmp/text"
            comment "$number" "$tmp/text" || return 1
            [ "$state" = open ] || set_state "$number" open || return 1
            echo "github-issues.sh: issue #$number: $id regressed"
        fi
        ;;
    fixed)
        [ -n "$existing" ] || return 0 # never filed: nothing to close
        { printf 'Fixed.\n\n'; describe "$2"; } >"$tmp/text"
        comment "$number" "$tmp/text" || return 1
        [ "$state" = closed ] || set_state "$number" closed || return 1
        echo "github-issues.sh: issue #$number: $id fixed, closed"
        ;;
    *)
        echo "github-issues.sh: unknown event '$1'; skipped" >&2
        ;;
    esac
}

rc=0
while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    printf '%s\n' "$line" >"$tmp/line"
    if ! event=$(jq -er .event "$tmp/line" 2>/dev/null) ||
        ! jq -e '.finding | objects' "$tmp/line" >"$tmp/finding" 2>/dev/null; then
        echo "github-issues.sh: not an event: $(head -c 200 "$tmp/line")" >&2
        rc=1
        continue
    fi
    handle "$event" "$tmp/finding" || rc=1
done
exit "$rc"
