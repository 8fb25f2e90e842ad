#!/usr/bin/env bash
# The OpenMP wait policy rnencode runs with, as its header's omp_wait_policy
# says: PASSIVE unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT (then
# theirs, "default" being libgomp's spin-then-sleep). Passive stays the default
# for a file on stdin too: spinning threads lost up to 3x whenever anything else
# shared the cores (README, "Threads"). Read from the environment the process
# was started with, so that it fails if the re-exec did not happen.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_checkpoints
W=$CKPT_DIR/family/tv-basic.pth
[ -s "$W" ] || fail "no $W"
head_of() { recview -t header out | grep -o '"omp_wait_policy":"[a-z]*"'; }
run() { env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@" rnencode --device cpu --weights "$W" --threads 2 --batch 2 \
	<"$CKPT_DIR/family/tv-basic.mp"; }

expect_exit 0 run
[ "$(head_of)" = '"omp_wait_policy":"passive"' ] || fail "stdin a file, nothing set: $(head_of)"
cat "$CKPT_DIR/family/tv-basic.mp" | expect_exit 0 env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT rnencode --device cpu \
	--weights "$W" --threads 2 --batch 2
[ "$(head_of)" = '"omp_wait_policy":"passive"' ] || fail "stdin a pipe, nothing set: $(head_of)"
expect_exit 0 run OMP_WAIT_POLICY=active
[ "$(head_of)" = '"omp_wait_policy":"active"' ] || fail "OMP_WAIT_POLICY=active: $(head_of)"
expect_exit 0 run 'OMP_WAIT_POLICY= Passive '
[ "$(head_of)" = '"omp_wait_policy":"passive"' ] || fail "OMP_WAIT_POLICY=' Passive ': $(head_of)"
expect_exit 0 run GOMP_SPINCOUNT=1000
[ "$(head_of)" = '"omp_wait_policy":"default"' ] || fail "GOMP_SPINCOUNT alone: $(head_of)"
expect_exit 0 run OMP_WAIT_POLICY=sometimes
[ "$(head_of)" = '"omp_wait_policy":"default"' ] || fail "OMP_WAIT_POLICY=sometimes (libgomp ignores it): $(head_of)"
exit 0
