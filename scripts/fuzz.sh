#!/usr/bin/env bash
# Run every fuzz target of the module (go test -fuzz) for $FUZZTIME each,
# one after the other; fail if any of them fails.
#
#   scripts/fuzz.sh                  every target, 30s each
#   FUZZTIME=10s scripts/fuzz.sh     shorter (CI); FUZZTIME=1000x runs 1000 inputs
#   scripts/fuzz.sh FuzzDropIn       only the targets named
#
# FUZZMINIMIZETIME (default 10s) bounds the shrinking of each new input:
# shrinking a large one can otherwise take the whole of FUZZTIME.
#
# A failing input is written to the package's testdata/fuzz/<target>/ and
# re-run by `go test ./pkg/...` from then on: fix the bug, or remove the file.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}

# Targets as "package target", from the test binaries themselves, so that a
# target behind a build tag or in a new package is neither missed nor guessed.
list=$($GO test -list '^Fuzz' ./...)
targets=()
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for n in "${names[@]}"; do
			targets+=("$second $n")
		done
		names=()
		;;
	esac
done <<<"$list"

if [ $# -gt 0 ]; then
	wanted=()
	for t in "${targets[@]}"; do
		for n in "$@"; do
			if [ "${t#* }" = "$n" ]; then wanted+=("$t"); fi
		done
	done
	targets=("${wanted[@]}")
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets${*:+ named $*}" >&2
	exit 1
fi

failed=()
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	echo "=== fuzz $name ($pkg) for $FUZZTIME"
	# -timeout 0: the fuzzing engine stops after -fuzztime by itself, and
	# gives up on any one input after 10s.
	out=$(mktemp)
	if ! $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -timeout 0 "$pkg" 2>&1 | tee "$out"; then
		# With a time budget, Go's fuzzing engine can fail with its own
		# "context deadline exceeded" when the budget ends while a worker is
		# busy: no input failed then, and none is written.
		if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
			echo "fuzz: $name: the engine stopped at its deadline with a worker busy; no failing input"
		else
			failed+=("$name")
		fi
	fi
	rm -f "$out"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets passed, $FUZZTIME each"
