#!/usr/bin/env bash
# Runs every Go fuzz target of the repository for FUZZTIME each (default
# 5s). A crasher is written to the package's testdata/fuzz/ by go test: keep
# it, it becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-5s}
n=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "== $dir $target ($FUZZTIME)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "./$dir" 2>&1 | tail -2
    n=$((n + 1))
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' pkg | sort)
echo "fuzzed $n targets"
