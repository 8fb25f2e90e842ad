# The README's examples, run as written: every ```sh block (except the study
# quick start, which tests/pipelines/test_study_quickstart.sh runs) in order,
# then the ```python block, in a folder laid out as the README assumes:
# photos/ with a few labelled sample images, the default weights folder
# holding random-weight checkpoints under the published names, data/ and
# testdata/ of the checkout.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_checkpoints
[ "${ASAN:-0}" = 1 ] && skip "README examples run the encoders: too slow under ASan"

mkdir -p photos weights
for f in n01440764_tench n01871265_tusker n02088364_beagle n02096051_Airedale; do
	cp "$ROOT/testdata/images/$f.JPEG" photos/
done
ln -s "$ROOT/data" data
ln -s "$ROOT/testdata" testdata
ln -s "$CKPT_DIR/resnet50.pth" weights/resnet50-0676ba61.pth
ln -s "$CKPT_DIR/clip-rn50.pt" weights/RN50.pt
export RNENC_WEIGHTS=$PWD/weights CKPT_DIR
# the default class table, from one template (80 x 1000 prompts take minutes)
echo 'a photo of a {}.' > one-template.txt
txtencode --templates one-template.txt > weights/classes-clip-rn50.mp || fail "default class table"

awk '/^<!-- study-quickstart/ { skipnext = 1; next }
     /^```sh$/ { if (!skipnext) on = 1; skipnext = 0; next }
     /^```/ { on = 0; next }
     on' "$ROOT/README.md" > examples.sh
[ "$(grep -c . examples.sh)" -ge 20 ] || fail "found only $(grep -c . examples.sh) example lines in README.md"
echo "running $(grep -c . examples.sh) example lines"
bash -eo pipefail -x examples.sh > examples.out 2> examples.err || {
	tail -n 30 examples.err; fail "a README example failed"; }
# spot checks of what the examples printed and wrote
grep -q '"type":"image"' examples.out || fail "recview printed no image record"
grep -Eq '^image +4$' examples.out || fail "recview --count did not count 4 images"
[ -s differ.jpg ] || fail "errstats --grid wrote no differ.jpg"
[ "$(ls npy | wc -l)" = 4 ] || fail "recview --npy wrote $(ls npy | wc -l) files, not 4"
grep -q 'top-1' examples.out || fail "no errstats/fpdiff report in the output"

awk '/^```python$/ { on = 1; next } /^```/ { on = 0 } on' "$ROOT/README.md" > snippet.py
[ -s embeddings.mp ] || fail "the examples made no embeddings.mp"
$PY snippet.py > snippet.out || fail "the README's Python snippet failed"
[ "$(wc -l < snippet.out)" = 4 ] && grep -q '(1024,)' snippet.out || { cat snippet.out; fail "Python snippet output"; }
exit 0
