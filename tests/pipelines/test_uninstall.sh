#!/usr/bin/env bash
# make uninstall removes the folders install made when they are left empty, and no
# other: with DATADIR a shared folder (/p/share), other packages' empty folders stay.
source "$ROOT/tests/lib.sh"
D=$PWD/d
mkdir -p "$D/p/share/other" "$D/p/share/doc/x" "$D/p/share/man/man1" "$D/p/share/bash-completion/completions" ||
	fail "mkdir"
cp -r "$ROOT/data/." "$D/p/share/" || fail "copying data"
make -s -C "$ROOT" uninstall DESTDIR="$D" PREFIX=/p DATADIR=/p/share >out 2>err || fail "make uninstall: $(cat err)"
expect_empty_stdout
[ ! -s err ] || fail "make uninstall wrote to stderr: $(cat err)"
for d in other doc/x; do
	[ -d "$D/p/share/$d" ] || fail "make uninstall removed another package's empty folder share/$d"
done
[ ! -e "$D/p/share/clip" ] || fail "make uninstall left data's folder clip"
[ ! -e "$D/p/share/man/man1" ] || fail "make uninstall left the empty man1"
[ -z "$(find "$D" -type f)" ] || fail "make uninstall left files: $(find "$D" -type f | head -3)"
exit 0
