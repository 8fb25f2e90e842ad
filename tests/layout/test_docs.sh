#!/usr/bin/env bash
# The project's own documents are what the code cites: no citation of the SPEC.md
# that was never in the repository, and every doc/*.md a file names exists.
source "$ROOT/tests/lib.sh"
cd "$ROOT" || fail "cd $ROOT"
hits=$(git ls-files 2>/dev/null | grep -vE '^tests/layout/test_docs\.sh$' | xargs grep -nE 'SPEC\.md|SPEC section' 2>/dev/null)
[ -z "$hits" ] || fail "citations of SPEC.md (not in the repository; cite doc/): $hits"
for f in $(git ls-files | xargs grep -ohE 'doc/[a-z-]+\.md' 2>/dev/null | sort -u); do
	[ -s "$f" ] || fail "$f is cited but missing"
done
for f in records cli presets checkpoints; do [ -s "doc/$f.md" ] || fail "doc/$f.md missing"; done
exit 0
