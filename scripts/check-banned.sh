#!/bin/sh
# Fails when the sources use a function the house style bans (unbounded copies).
cd "$(dirname "$0")/.."
if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok)\s*\(' src/*.c src/*/*.c src/*/*.h; then
	echo "banned function used (see docs/design.md: use snprintf, memcpy with a length)" >&2
	exit 1
fi
exit 0
