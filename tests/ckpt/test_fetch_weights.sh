#!/usr/bin/env bash
# pipelines/fetch-weights: offline it fails with one line naming what to fetch and
# where; a mirror table (file:// URLs) exercises download, sha256 check, the
# .bad rename of a wrong file and --check, all without the network.
source "$ROOT/tests/lib.sh"
fw=$ROOT/pipelines/fetch-weights
command -v curl >/dev/null || skip "curl not installed"
# no network: a proxy that refuses connections
export https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
unset RNENC_WEIGHTS
export XDG_CACHE_HOME=$T/xdg
expect_exit 2 "$fw" clip-rn50
expect_empty_stdout
[ "$(wc -l <err)" = 1 ] || { cat err; fail "offline: more than one line"; }
expect_stderr "^fetch-weights: cannot download \(offline\?\): fetch https://openaipublic\.azureedge\.net/clip/models/afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50\.pt and put the file\(s\) in $T/xdg/rnencode/weights "
[ -z "$(ls -A "$T/xdg/rnencode/weights")" ] || fail "offline run left files behind"
RNENC_WEIGHTS=$T/env expect_exit 2 "$fw"
expect_stderr "resnet50-0676ba61\.pth .*resnet50-11ad3fa6\.pth .*RN50\.pt and put the file\(s\) in $T/env "
# the other CLIP ResNets by name, OpenAI's and open_clip's; all of them with `all`
expect_exit 2 "$fw" RN50-quickgelu/yfcc15m clip-rn50x64
expect_stderr "fetch https://github\.com/mlfoundations/open_clip/releases/download/v0\.2-weights/rn50-quickgelu-yfcc15m-455df137\.pt https://openaipublic\.azureedge\.net/clip/models/be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c/RN50x64\.pt and put"
[ "$("$fw" --sha256 all | wc -l)" = 25 ] && [ "$("$fw" --sha256 | wc -l)" = 3 ] || fail "--sha256: $("$fw" --sha256 all)"

# a mirror: one good entry, one whose sha256 is wrong
printf 'weights bytes\n' >src.bin
sum=$(sha256sum src.bin | cut -d' ' -f1)
printf '# mirror\nW.pt file://%s %s w\nX.pt file://%s %s x\n' "$T/src.bin" "$sum" "$T/src.bin" "${sum:0:8}ffff" >table
expect_exit 0 "$fw" --dir "$T/m" --table table w
cmp -s src.bin m/W.pt || fail "W.pt not installed"
expect_exit 2 "$fw" --dir "$T/m" --table table x
expect_stderr "sha256 $sum does not match ${sum:0:8}ffff"
[ ! -e m/X.pt ] && [ -z "$(ls -A m | grep part)" ] || fail "a download with the wrong sha256 was kept"
expect_exit 0 "$fw" --dir "$T/m" --table table --check w
expect_stderr "m/W\.pt: ok"
echo tampered >m/W.pt
expect_exit 2 "$fw" --dir "$T/m" --table table --check w
expect_stderr "W\.pt: sha256 .* does not match"
expect_exit 0 "$fw" --dir "$T/m" --table table w     # moved aside once the published one arrived
cmp -s src.bin m/W.pt && [ -e m/W.pt.bad ] || fail "tampered W.pt not replaced"
expect_stderr "m/W\.pt: was not the published file: moved to .*W\.pt\.bad"
# offline (the mirror gone), a placed file that is not the published one stays as it is
rm -f m/W.pt.bad
echo "my own weights" >m/W.pt
printf 'W.pt file://%s/gone.bin %s w\n' "$T" "$sum" >table2
expect_exit 2 "$fw" --dir "$T/m" --table table2 w
[ "$(cat m/W.pt)" = "my own weights" ] && [ ! -e m/W.pt.bad ] || fail "offline, a placed W.pt was renamed or changed: $(ls m)"
expect_stderr "W\.pt: not the published file: fetching the published one; yours stays"
expect_exit 2 "$fw" --dir "$T/m" nosuchmodel
expect_stderr "unknown model 'nosuchmodel'"
# the default is the three files of the study; `all` is every model rnencode knows,
# each file, hash and preset model/models.c's (rnencode's default weights), and open_clip's
# published files (NAME/TAG), each model/clip_keys.c's (txtencode's), at CLIP's 224 px
expect_exit 0 "$fw" --sha256
[ "$(wc -l <out)" = 3 ] || fail "default: $(cat out)"
expect_exit 0 "$fw" --sha256 all
[ "$(wc -l <out)" = 25 ] || fail "all: $(wc -l <out) files"
while read -r name url sum model preset; do
	[[ $name = \#* || -z $name ]] && continue
	src=$ROOT/model/models.c
	[[ $model = */* ]] && src=$ROOT/model/clip_keys.c
	[ "${url##*/}" = "$name" ] && grep -qF "\"$name\"" "$src" && grep -qF "\"$sum\"" "$src" ||
		fail "$model: $name $sum is not ${src#$ROOT/}'s"
	# the preset is in the file's entry (its line or the next)
	if [[ $model = */* ]]; then
		[ "$preset" = clip ] || fail "$model: preset '$preset', expected clip"
	else
		grep -A1 -F "\"$name\"" "$src" | grep -qF "\"$preset\"" || fail "$model: preset '$preset' is not models.c's"
	fi
	echo "$model $name $preset" >>listed
done < <(sed -n "/^builtin_table()/,/^EOF$/p" "$fw" | sed '1,2d;$d')
# --list: model, file and preset, for make study and encode-shard
expect_exit 0 "$fw" --list
cmp -s out listed || fail "--list: $(diff out listed)"
expect_exit 0 "$fw" --list clip-rn50x4 resnext101_64x4d
[ "$(cat out)" = "clip-rn50x4 RN50x4.pt clip-288
resnext101_64x4d resnext101_64x4d-173b62eb.pth imagenet-v2" ] || fail "--list MODEL: $(cat out)"
exit 0
