#!/usr/bin/env bash
# consumer-check: the README's library snippet, built and run as a user would.
#
# Tests/ConsumerPackage is a package that depends on this repository by path
# (`../..`), with the README's Package.swift and code. This script checks that
# the two README blocks marked `<!-- consumer-check: … -->` are exactly that
# package's Package.swift (bar the path) and main.swift, copies the working tree
# to a temporary folder that is not named `rankwise` (SwiftPM names a path
# dependency after its folder), then builds the consumer there and runs it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
swift=${SWIFT:-swift}
consumer=Tests/ConsumerPackage
start=$SECONDS

# The README block after the marker line `<!-- consumer-check: $1 -->`.
readme_block() {
    awk -v marker="<!-- consumer-check: $1 -->" '
        $0 == marker { found = 1; next }
        found && !inside && /^```/ { inside = 1; next }
        inside && /^```/ { exit }
        inside { print }' "$repo/README.md"
}

status=0
if ! diff -u <(readme_block Package.swift) \
        <(sed 's#path: "\.\./\.\."#path: "../rankwise"#' "$repo/$consumer/Package.swift") \
        --label README.md --label "$consumer/Package.swift"; then
    status=1
fi
if ! diff -u <(readme_block main.swift) "$repo/$consumer/Sources/App/main.swift" \
        --label README.md --label "$consumer/Sources/App/main.swift"; then
    status=1
fi
if [ "$status" != 0 ]; then
    echo "consumer-check: README.md and $consumer disagree (diff above); change both together." >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rankwise-consumer-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
clone="$tmp/Rankwise-clone"   # any name but "rankwise"
mkdir "$clone"
tar -C "$repo" --exclude=.git --exclude=.build --exclude='.build-*' --exclude='.build_*' \
    --exclude=bench-results --exclude=demo-output --exclude=Package.resolved -cf - . | tar -C "$clone" -xf -

echo "consumer-check: building $consumer against a copy of the repository in $clone"
# TMPDIR: SwiftPM leaves its lock files there; keep them in the folder we remove.
TMPDIR="$tmp" "$swift" build --package-path "$clone/$consumer"
echo "consumer-check: running it"
"$clone/$consumer/.build/debug/App"
echo "consumer-check: passed in $((SECONDS - start)) s"
