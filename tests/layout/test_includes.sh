# The include rule of doc/architecture.md: common/ is one folder per concern,
# each with one public header G/G.h (and at most a private G/internal.h);
# util includes nothing of ours; stream, image, ckpt and text include util
# only; eval includes util and stream; an internal.h is included only from
# its own folder (and fuzz/, whose targets reach into the parsers); model/,
# gpu/ and cmd/ include any public header. A second check shows the checker
# catches a forbidden include.
source "$ROOT/tests/lib.sh"

# check_tree DIR: prints each violation as "FILE: message"; exit 1 if any
check_tree() {
	local dir=$1 bad=0 f g inc ig
	cd "$dir" || return 2
	for g in common/*/; do
		g=${g%/}; g=${g#common/}
		[ -f "common/$g/$g.h" ] || { echo "common/$g: no common/$g/$g.h"; bad=1; }
		for f in common/$g/*.h; do
			case ${f##*/} in "$g.h" | internal.h) ;; *) echo "$f: a second public header in common/$g"; bad=1 ;; esac
		done
	done
	while IFS= read -r f; do
		while IFS= read -r inc; do
			case $inc in
			*/internal.h)
				ig=${inc%%/*}
				case $f in common/"$ig"/* | fuzz/*) ;; *) echo "$f: includes $inc, private to common/$ig"; bad=1 ;; esac
				;;
			esac
			case $f in common/*) ;; *) continue ;; esac
			g=${f#common/}; g=${g%%/*}
			case $inc in
			*/*) ig=${inc%%/*} ;;
			*) echo "$f: includes \"$inc\": name it by its folder (util/util.h)"; bad=1; continue ;;
			esac
			[ "$ig" = "$g" ] && continue
			case "$g:$ig" in
			util:*) echo "$f: util includes $inc: util includes nothing of ours"; bad=1 ;;
			stream:util | image:util | ckpt:util | text:util | eval:util | eval:stream) ;;
			*) echo "$f: common/$g includes $inc, which its rule forbids"; bad=1 ;;
			esac
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done < <(find common cmd model gpu fuzz bench tests/unit -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cc' \) 2>/dev/null | sort)
	return $bad
}

(check_tree "$ROOT") >report.txt || { cat report.txt; fail "the include rule is broken (above)"; }
[ -s report.txt ] && { cat report.txt; fail "the checker printed lines but passed"; }

# the checker itself: a copy of common/ with forbidden includes added
mkdir tree
cp -r "$ROOT/common" tree/
echo '#include "stream/stream.h"' >>tree/common/image/tar.c
echo '#include "eval/eval.h"' >>tree/common/util/map.c
echo '#include "diag.h"' >>tree/common/ckpt/zip.c
mkdir tree/cmd && echo '#include "ckpt/internal.h"' >tree/cmd/x.c
touch tree/common/text/bpe.h
(check_tree "$PWD/tree") >report.txt && fail "a tree with forbidden includes passed"
for want in 'common/image/tar.c: common/image includes stream/stream.h' 'common/util/map.c: util includes eval/eval.h' \
	'common/ckpt/zip.c: includes "diag.h"' 'cmd/x.c: includes ckpt/internal.h, private to common/ckpt' \
	'common/text/bpe.h: a second public header'; do
	grep -qF "$want" report.txt || { cat report.txt; fail "the checker missed: $want"; }
done
exit 0
