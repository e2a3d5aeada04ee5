#!/bin/sh
# Runs one libFuzzer target: first every input of regress/NAME (crashes found
# before, kept as regression tests), then SECONDS of fuzzing from a copy of
# corpus/NAME.
set -e
bin=$1 dir=$2 name=$3 secs=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$dir/regress/$name" ] && [ -n "$(ls -A "$dir/regress/$name")" ]; then
	"$bin" "$dir/regress/$name"/*
fi
[ -d "$dir/corpus/$name" ] && cp -r "$dir/corpus/$name/." "$work/"
"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$work"
