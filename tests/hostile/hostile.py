#!/usr/bin/python3
"""hostile.py - mutated inputs through the programs, with the rules users trust
checked on every run (core.py says which). Four kinds of input:
  stream  record streams (streams.py)  zscore topk errstats errtree fpdiff
          recview txtembed-load, and rnencode on image records
  ckpt    checkpoints (ckpts.py)       ckptinfo, txtembed-load, rnencode
  image   JPEG and PNG files (images.py)  imgdecode
  tar     WebDataset shards (tars.py)  imgdecode
Every case is made from its seed alone (SEED/KIND/N), so a failure is rerun
by its seed and number; the failing case's folder is kept.

  hostile.py [--kinds stream,ckpt,image,tar] [--seed S] [--cases N | --seconds S]
             [--case N] [--bin DIR] [--keep DIR] [--known FILE]

--cases N: N cases per kind from seed S (the bounded run of make test);
--seconds S: cases until S seconds have passed, each kind in turn (make
hostile); --case N: that case alone (with --kinds and --seed: a rerun).
Prints one line per failure and a closing tally; exit 1 on a failure that
known-failures.txt does not list (those are counted as known).
Environment: RNENC_HOSTILE_WEIGHTS, a resnet50 checkpoint for rnencode's cases
(default build/fixtures/resnet50.pth when there; none: rnencode is not run
on images); checkpoints need torch. ASAN_OPTIONS and UBSAN_OPTIONS are set so that
a sanitizer's report is an exit status of its own.
"""
import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import core  # noqa: E402

KINDS = ["stream", "ckpt", "image", "tar"]


class Ctx:
    pass


def load_known(path):
    known = []
    if not path or not os.path.exists(path):
        return known
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        name, _, regex = line.partition("\t")
        if regex:
            known.append((name, re.compile(regex.strip())))
    return known


def module(kind):
    import importlib
    return importlib.import_module({"stream": "streams", "ckpt": "ckpts", "image": "images", "tar": "tars"}[kind])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--seed", default="1")
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--case", type=int, default=None)
    ap.add_argument("--bin", default=os.environ.get("BIN", "bin"))
    ap.add_argument("--keep", default=None, help="where failing cases go (default build/hostile-failures)")
    ap.add_argument("--known", default=os.path.join(HERE, "known-failures.txt"))
    ap.add_argument("--runs", type=int, default=3, help="runs per case (programs it goes through)")
    ap.add_argument("--rnencode", type=int, default=2, help="rnencode runs at most (each about 1 s)")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    kinds = [k for k in a.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            ap.error("unknown kind %s (%s)" % (k, ", ".join(KINDS)))
    root = os.path.dirname(os.path.dirname(HERE))
    bindir = os.path.abspath(a.bin)
    keepdir = os.path.abspath(a.keep or os.path.join(root, "build", "hostile-failures"))
    known = load_known(a.known)

    ctx = Ctx()
    ctx.root, ctx.bindir, ctx.testdata = root, bindir, os.path.join(root, "testdata")
    ctx.runs_per_case = a.runs
    ctx.rnencode_left = a.rnencode
    ctx.weights = os.environ.get("RNENC_HOSTILE_WEIGHTS") or None
    fixture = os.path.join(root, "build", "fixtures", "resnet50.pth")  # tests/fixtures.sh makes it
    if ctx.weights is None and os.path.exists(fixture):
        ctx.weights = fixture
    if "ckpt" in kinds:
        import importlib.util
        if importlib.util.find_spec("torch") is None:
            print("hostile: no torch for %s: checkpoints left out" % sys.executable)
            kinds.remove("ckpt")
    env = dict(os.environ)
    env.update(ASAN_OPTIONS="exitcode=%d:detect_leaks=0:allocator_may_return_null=1:abort_on_error=0" % core.SANITIZER_EXIT,
               UBSAN_OPTIONS="exitcode=%d:halt_on_error=1:print_stacktrace=1" % core.SANITIZER_EXIT,
               OMP_NUM_THREADS="1", LC_ALL="C")
    env.pop("RNENC_WEIGHTS", None)
    ctx.env = env
    work = tempfile.mkdtemp(prefix="hostile.", dir=os.environ.get("TMPDIR"))
    t0 = time.monotonic()
    tally = {"cases": 0, "runs": 0, "failed": 0, "known": 0, "suite": 0}
    seen_known = set()
    try:
        mods = {}
        for k in kinds:
            m = module(k)
            sd = os.path.join(work, "seeds-" + k)
            os.makedirs(sd)
            ctx.seeddir = sd
            m.make_seeds(sd, ctx)
            mods[k] = (m, sd)
        numbers = {k: 0 for k in kinds}
        if a.case is not None:
            plan = [(k, a.case) for k in kinds]
        elif a.seconds:
            plan = None
        else:
            plan = [(k, i) for i in range(a.cases) for k in kinds]
        step = 0
        while True:
            if plan is not None:
                if step >= len(plan):
                    break
                kind, i = plan[step]
            else:
                if time.monotonic() - t0 >= a.seconds:
                    break
                kind = kinds[step % len(kinds)]
                i = numbers[kind]
                numbers[kind] += 1
            step += 1
            m, sd = mods[kind]
            ctx.seeddir = sd
            folder = os.path.join(work, "case")
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            case = core.Case(kind, a.seed, i, folder)
            rng = random.Random("%s/%s/%d" % (a.seed, kind, i))
            try:
                m.build(case, rng, ctx)
            except Exception:  # noqa: BLE001 - a bug of the suite: say it, go on
                import traceback
                tally["suite"] += 1
                print("SUITE ERROR building %s seed=%s case=%d:\n%s" % (kind, a.seed, i, traceback.format_exc()), flush=True)
                continue
            prob, run = core.run_case(case, bindir, env, a.timeout)
            tally["cases"] += 1
            tally["runs"] += sum(1 for r in case.runs if r.rc is not None)
            if a.verbose:
                print("case %s seed=%s %d: %s: %s" % (kind, a.seed, i, "; ".join(case.what),
                      " | ".join("%s->%s" % (r.cmdline(), r.rc) for r in case.runs)), flush=True)
            if not prob:
                continue
            # rnencode's runs are rationed (--rnencode): the rerun gets one when the case had one
            rerun = "tests/hostile/hostile.py --kinds %s --seed %s --case %d --rnencode %d --bin %s" % (
                kind, a.seed, i, any(r.prog == "rnencode" for r in case.runs), a.bin)
            where = "%s (%s)" % (run.cmdline(), "; ".join(case.what)) if run else "; ".join(case.what)
            msg = "%s seed=%s case=%d: %s: %s" % (kind, a.seed, i, where, prob[0])
            k = next((n for n, rx in known if rx.search(msg)), None)
            if k:
                tally["known"] += 1
                if k not in seen_known:
                    print("known (%s): %s" % (k, msg[:400]), flush=True)
                seen_known.add(k)
                continue
            dst = core.keep(case, prob, run, keepdir, rerun)
            tally["failed"] += 1
            print("FAIL %s\n     kept in %s; rerun: %s" % (msg[:1000], dst, rerun), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("hostile: %d cases, %d runs, %d failed, %d known (%s) in %.0f s (seed %s, kinds %s)" % (
        tally["cases"], tally["runs"], tally["failed"], tally["known"], ", ".join(sorted(seen_known)) or "none",
        time.monotonic() - t0, a.seed, ",".join(kinds)))
    if tally["suite"]:
        print("hostile: %d cases could not be built (errors of the suite itself, above)" % tally["suite"])
    return 1 if tally["failed"] or tally["suite"] else 0


if __name__ == "__main__":
    sys.exit(main())
