#!/usr/bin/env python3
"""peers.py - the CPU engines users pick instead of rnencode and txtencode (ONNX
Runtime, OpenVINO), run beside them for bench/cpu-peers.sh and bench/txtencode-peers.sh.
Runs with build/bench-venv's python (bench/peers/setup), which also sees Debian's
torch 1.13: tests/py/rnencode_ref.py crops the images with it. The ONNX files come
from bench/peers/export.py.

  vision --model M --weights W --onnx F --rnencode BIN [--threads T] [--batches B..]
         [--rounds R] [--engines E..] [--json OUT]
      images/s of each engine at each batch size on the same float32 crops; see
      bench/cpu-peers.sh for what is timed and compared. Prints one line per engine
      and batch; --json writes every figure.
  table VISION.json...
      the table of bench/cpu-peers.sh from vision's --json files: rnencode FP32's
      images/s, each peer as a ratio, and whether the goals are met.
  text --ids IDS --full-ids ALL --templates T --onnx F [--threads N] [--batch B]
       [--npad P] [--rounds R] [--bf16] TXTENCODE...
      the prompts IDS (txtencode --tokenize: K classes x T templates, class-major)
      encoded into CLIP's zero-shot table by the command TXTENCODE... (its stats
      record's encode_seconds) and by ONNX Runtime on the text tower (batches of B
      padded to their longest prompt, then the table as CLIP's notebook builds it,
      timed here; and the first P prompts padded to 77 as clip.tokenize does), R
      rounds in turn, each one's best; checks the tables agree (txtencode_ref.py
      compare's tolerance) and the two paddings too; extrapolates to the prompts
      ALL: txtencode by its trie rows, ONNX Runtime trimmed by token positions,
      padded to 77 by prompts (a fixed cost each). --bf16: TXTENCODE...
      --precision bf16 too, in each round, its table checked against ONNX
      Runtime's with txtencode_ref.py's bf16 bounds (and required to differ
      by more than FP32's), its time a ratio to both.
  profile-rn OUT --log ERR
      rnencode's time by oneDNN primitive from its ONEDNN_VERBOSE=1 lines (warm-up
      batch left out) in ERR, its stderr, and its stats record in OUT, its stdout:
      the rest is its plain-C steps.
  profile-ov --onnx F --batch B [--threads T] [--precision f32|bf16] [--iters K]
      OpenVINO's per-layer times (PERF_COUNT), summed by layer type and listed for
      the slowest layers.
"""
import argparse
import glob
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "py"))

PRESET = {"resnet50": "imagenet", "clip-rn50": "clip"}
# Tolerances of the output check, on rnencode_ref.py compare's measure
# |out - ref| / (|ref| + rms(ref's row)) against rnencode's FP32 output:
# FP32 as the parity tests hold rnencode to PyTorch; FP16 as they hold --fp16;
# BF16 (7 stored mantissa bits, 3 fewer than FP16) 8x FP16's; INT8 as
# tests/rnencode/test_int8.sh holds it on these random-weight fixtures (measured
# up to 1.10: the scheme's own error, as PyTorch's simulation of it shows).
RTOL = {"fp32": 1e-4, "fp16": 3e-2, "bf16": 2.4e-1, "int8": 1.6}


# ---------------------------------------------------------------- checks

def class_scores(out):
    """Top-1 needs classes: logits have them; for [N,1024] embeddings, rnencode_ref
    compare's stand-in, cosine similarity with 1000 fixed random class vectors."""
    out = out.astype(np.float64)
    if out.shape[1] != 1024:
        return out
    cls = np.random.default_rng(5).standard_normal((1000, 1024))
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)) @ cls.T


def measure(out, ref):
    out = out.astype(np.float64)
    ref = ref.astype(np.float64)
    rms = np.sqrt((ref ** 2).mean(axis=1, keepdims=True))
    same = class_scores(out).argmax(1) == class_scores(ref).argmax(1)
    return {"ratio": float((np.abs(out - ref) / (np.abs(ref) + rms)).max()),
            "maxdiff": float(np.abs(out - ref).max()), "maxref": float(np.abs(ref).max()),
            "top1": int(same.sum()), "n": len(same)}


# ---------------------------------------------------------------- engines

class RnEncode:
    """rnencode as a process per round: its stats record's batch_min_s (the batch
    time inside the encoder, first batch left out as warm-up). active: with
    OMP_WAIT_POLICY=ACTIVE (its --help's setting for cores nothing else uses:
    the threads spin between layers, as ONNX Runtime's and OpenVINO's do by
    default) instead of the PASSIVE it sets itself."""

    def __init__(self, a, precision, precision_flag, active=False):
        self.name = "rnencode-" + ("active-" if active else "") + precision
        self.precision = precision
        self.env = dict(os.environ, OMP_WAIT_POLICY="ACTIVE") if active else None
        self.args = [a.rnencode, "--device", "cpu", "--model", a.model, "--weights", a.weights,
                     "--threads", str(a.threads)]
        if precision_flag:
            self.args += ["--precision", precision]
        elif precision == "fp16":
            self.args.append("--fp16")
        elif precision != "fp32":
            raise SystemExit(f"peers.py: rnencode has no --precision for {precision}")
        self.stream = None
        self.note = None  # rnencode's note on how it computes (bf16 without bf16 instructions)
        self.calibration = None

    def prepare(self, x, stream):
        self.stream = stream
        if self.precision == "int8" and self.calibration is None:
            # INT8 needs activation scales: calibrated once, on the first batch
            # size's crops (the images every batch size repeats; the file lives
            # in the run's temporary folder), then loaded by every timed run
            self.calibration = os.path.join(os.path.dirname(stream), "int8-calibration.mp")
            with open(stream, "rb") as f:
                p = subprocess.run(self.args + ["--batch", "8", "--calibrate", stream, "--save-calibration",
                                                self.calibration], stdin=f, capture_output=True)
            if p.returncode != 0:
                raise SystemExit(f"peers.py: {self.name}: calibrating: exit {p.returncode}: "
                                 f"{p.stderr.decode(errors='replace').strip()}")
            self.args += ["--calibration", self.calibration]

    def round(self, x, batch):
        with open(self.stream, "rb") as f:
            p = subprocess.run(self.args + ["--batch", str(batch)], stdin=f, capture_output=True, env=self.env)
        if p.returncode != 0:
            raise SystemExit(f"peers.py: {' '.join(self.args)}: exit {p.returncode}: "
                             f"{p.stderr.decode(errors='replace').strip()}")
        for ln in p.stderr.decode(errors="replace").splitlines():
            if "--precision " + self.precision + ":" in ln:
                self.note = ln.split(": ", 1)[-1]
        outs, stats = [], None
        up = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)
        up.feed(p.stdout)
        for r in up:
            if r.get("type") in ("logits", "embedding"):
                t = r["tensor"]
                outs.append(np.frombuffer(t["data"], t["dtype"]).reshape(t["shape"]))
            elif r.get("type") == "stats":
                stats = r
        if len(outs) != len(x) or stats is None or stats["timed_batches"] < 1:
            raise SystemExit(f"peers.py: {self.name}: {len(outs)} outputs for {len(x)} images")
        return stats["batch_min_s"], np.stack(outs).astype(np.float32)

    def close(self):
        pass


class Python:
    """An engine run in this process: one untimed batch first each round, as
    rnencode's warm-up, then each timed batch on its own clock."""

    def round(self, x, batch):
        outs, best = [], None
        for s in range(0, len(x), batch):
            xb = x[s:s + batch]
            t = time.perf_counter()
            y = self.infer(xb)
            d = time.perf_counter() - t
            outs.append(y)
            if s > 0:
                best = d if best is None or d < best else best
        return best, np.concatenate(outs)

    def close(self):
        pass


class Ort(Python):
    def __init__(self, a):
        import onnxruntime as ort
        self.name = "ort-fp32"
        self.precision = "fp32"
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0].name

    def prepare(self, x, stream):
        pass

    def infer(self, xb):
        return self.sess.run(None, {self.inp: xb})[0]


class OpenVino(Python):
    """Compiled per batch size with a static input shape (OpenVINO's fastest CPU
    path), LATENCY hint, one stream, INFERENCE_NUM_THREADS threads."""

    def __init__(self, a, precision):
        import openvino as ov
        self.name = "ov-" + precision
        self.precision = precision
        self.core = ov.Core()
        self.a = a
        self.ov_precision = {"fp32": "f32", "bf16": "bf16"}[precision]
        self.compiled = None
        self.actual = None

    def prepare(self, x, stream):
        model = self.core.read_model(self.a.onnx)
        model.reshape({0: list(x[:self.a.cur_batch].shape)})
        self.compiled = self.core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": self.a.threads,
            "INFERENCE_PRECISION_HINT": self.ov_precision,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        })
        self.actual = self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        self.req = self.compiled.create_infer_request()

    def infer(self, xb):
        self.req.infer({0: xb}, share_inputs=True)
        return self.req.get_output_tensor(0).data.copy()

    def close(self):
        self.req = None
        self.compiled = None


def rnencode_precisions(binary):
    """What this rnencode can run: --precision P where its --help lists it, else
    FP32 and --fp16."""
    h = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    if "--precision" not in h:
        return ["fp32", "fp16"], False
    block = h[h.index("--precision"):]
    block = block[:block.find("\n  -", 1) if "\n  -" in block[1:] else len(block)]
    return [p for p in ("fp32", "fp16", "bf16", "int8") if p in block], True


def write_stream(path, x, preset):
    with open(path, "wb") as f:
        f.write(msgpack.packb({"type": "header", "producer": "peers.py", "version": "bench",
                               "argv": sys.argv, "preset": preset}))
        for i, im in enumerate(x):
            f.write(msgpack.packb({"type": "image", "id": f"{i:04d}", "path": f"crop-{i}", "label": -1,
                                   "preset": preset, "tensor": {"dtype": "float32", "shape": list(im.shape),
                                                                "data": im.tobytes()}}))


def crops(preset, n):
    """n float32 normalized crops: testdata's JPEGs as rnencode_ref.py crops them,
    over again when n is more than there are."""
    import rnencode_ref as ref
    ref.torch_modules()
    files = sorted(glob.glob(os.path.join(ROOT, "testdata", "images", "*.JPEG")))[:n]
    one = [ref.normalize(ref.crop_u8(f, preset), preset).numpy() for f in files]
    return np.ascontiguousarray(np.stack([one[i % len(one)] for i in range(n)]), dtype=np.float32)


def timed_batches(batch, images):
    """Timed batches per round: about `images` images, at least 2 batches."""
    return max(2, -(-images // batch))


def cmd_vision(a):
    import openvino as ov
    precisions, flag = rnencode_precisions(a.rnencode)
    want = a.engines or (["rnencode-fp32", "rnencode-active-fp32"] + [f"rnencode-{p}" for p in precisions if p != "fp32"]
                         + ["ort-fp32", "ov-fp32", "ov-bf16"])
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    engines, notes = [], []
    for e in want:
        kind, prec = e.rsplit("-", 1)
        if kind == "rnencode":
            if prec not in precisions:
                notes.append(f"{e}: this rnencode has no {prec}")
                continue
            engines.append(RnEncode(a, prec, flag))
        elif kind == "rnencode-active" and prec == "fp32":
            engines.append(RnEncode(a, prec, flag, active=True))
        elif kind == "ort" and prec == "fp32":
            engines.append(Ort(a))
        elif kind == "ov" and prec in ("fp32", "bf16"):
            if prec == "bf16" and "BF16" not in caps:
                notes.append(f"{e}: OpenVINO's CPU plugin has no BF16 here (capabilities {' '.join(caps)};"
                             " no avx512_bf16/AMX): it would run FP32")
                continue
            engines.append(OpenVino(a, prec))
        else:
            raise SystemExit(f"peers.py: unknown engine {e}")
    if engines[0].name != "rnencode-fp32":
        raise SystemExit("peers.py: the engines must begin with rnencode-fp32 (the reference)")
    res = {"model": a.model, "threads": a.threads, "rounds": a.rounds, "notes": notes, "rows": []}
    preset = PRESET[a.model]
    with tempfile.TemporaryDirectory(prefix="cpu-peers.") as tmp:
        for batch in a.batches:
            k = timed_batches(batch, a.images)
            x = crops(preset, batch * (k + 1))
            stream = os.path.join(tmp, "in.mp")
            write_stream(stream, x, preset)
            a.cur_batch = batch
            for e in engines:
                e.prepare(x, stream)
            times = {e.name: [] for e in engines}
            outs = {}
            for _ in range(a.rounds):  # A B C D A B C D ...: load changes hit every engine alike
                for e in engines:
                    t, y = e.round(x, batch)
                    times[e.name].append(t)
                    outs[e.name] = y
            for e in engines:
                e.close()
            ref = outs["rnencode-fp32"]
            for e in engines:
                t = times[e.name]
                row = {"batch": batch, "engine": e.name, "precision": e.precision,
                       "timed_batches": k, "round_best_s": t,
                       "img_s": batch / min(t), "img_s_median": batch / float(np.median(t))}
                if getattr(e, "actual", None):
                    row["ov_inference_precision"] = e.actual
                if getattr(e, "note", None):
                    row["note"] = e.note
                if e.name != "rnencode-fp32":
                    row.update(measure(outs[e.name], ref))
                    row["rtol"] = RTOL[e.precision]
                    row["ok"] = row["ratio"] <= row["rtol"]
                res["rows"].append(row)
                print(line(row), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if all(r.get("ok", True) for r in res["rows"]) else 1


def line(r):
    s = (f"{r['engine']:<14} b{r['batch']:<3} {r['img_s']:8.2f} img/s best"
         f" ({r['img_s_median']:.2f} median of {len(r['round_best_s'])} round bests, {r['timed_batches']}"
         " timed batches a round)")
    if "ratio" in r:
        s += (f"; vs rnencode-fp32: max ratio {r['ratio']:.2g} (tol {r['rtol']:g}), max |diff|"
              f" {r['maxdiff']:.2g} of max |ref| {r['maxref']:.2g}, top-1 {r['top1']}/{r['n']}"
              f"{'' if r['ok'] else ' OUT OF TOLERANCE'}")
    if "ov_inference_precision" in r:
        s += f" [OpenVINO ran {r['ov_inference_precision']}]"
    if "note" in r:
        s += f" [{r['note']}]"
    return s


def cmd_table(a):
    """The issue's table from vision --json files: rnencode FP32's images/s and each
    peer as a ratio to it; then the goals."""
    import onnxruntime as ort
    import openvino as ov
    ovv = ov.get_version().split("-")[0]
    res = [json.load(open(f)) for f in a.json]
    extra = sorted({r["precision"] for x in res for r in x["rows"]
                    if r["engine"].startswith("rnencode-") and r["precision"] not in ("fp32", "fp16")})
    cols = ["model, batch", "rnencode FP32", f"vs ONNX Runtime {ort.__version__}", f"vs OpenVINO {ovv} FP32",
            "OMP_WAIT_POLICY=ACTIVE vs the faster peer",
            "OpenVINO BF16", "rnencode --fp16"] + [f"rnencode {p}" for p in extra]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    fp32_ok, bf16_ok, bf16_seen, missing = True, True, False, []
    active_ok, active_seen = True, False
    bf16x_ok, bf16x_seen, fp16_ok, fp16_seen, emulated = True, False, True, False, False
    int8_ok, int8_seen = True, False
    for x in res:
        for b in sorted({r["batch"] for r in x["rows"]}):
            e = {r["engine"]: r["img_s"] for r in x["rows"] if r["batch"] == b}
            notes = {r["engine"]: r.get("note") for r in x["rows"] if r["batch"] == b}
            rn = e["rnencode-fp32"]

            def ratio(v, fmt="{:.2f}x"):
                return fmt.format(v) if v else "n/a"
            cells = [f"{x['model']} b{b}", f"{rn:.1f} img/s",
                     ratio(rn / e["ort-fp32"] if "ort-fp32" in e else None),
                     ratio(rn / e["ov-fp32"] if "ov-fp32" in e else None),
                     ratio(e["rnencode-active-fp32"] / max(e[k] for k in ("ort-fp32", "ov-fp32") if k in e)
                           if "rnencode-active-fp32" in e and ("ort-fp32" in e or "ov-fp32" in e) else None),
                     ratio(e["ov-bf16"] / rn if "ov-bf16" in e else None, "{:.2f}x rnencode FP32"),
                     ratio(e["rnencode-fp16"] / rn if "rnencode-fp16" in e else None, "{:.2f}x of its FP32")]
            for p in extra:
                v = e.get(f"rnencode-{p}")
                c = ratio(v / rn if v else None, "{:.2f}x of its FP32")
                if p == "bf16" and v and "ov-bf16" in e:
                    c += f", {v / e['ov-bf16']:.2f}x OpenVINO BF16"
                if notes.get(f"rnencode-{p}"):
                    c += " (emulated: no bf16 instructions)" if p == "bf16" else " (see note)"
                cells.append(c)
            print("| " + " | ".join(cells) + " |")
            peers = [e[k] for k in ("ort-fp32", "ov-fp32") if k in e]
            if len(peers) < 2:
                missing.append(f"{x['model']} b{b}: FP32 peers")
            elif rn < max(peers):
                fp32_ok = False
            if len(peers) == 2 and "rnencode-active-fp32" in e:
                active_seen = True
                active_ok = active_ok and max(rn, e["rnencode-active-fp32"]) >= max(peers)
            if b in (1, 8):
                native = "rnencode-bf16" in e and not notes.get("rnencode-bf16")
                emulated = emulated or ("rnencode-bf16" in e and not native)
                if native and "ov-bf16" in e:
                    bf16_seen = True
                    bf16_ok = bf16_ok and e["rnencode-bf16"] >= e["ov-bf16"]
                if native:
                    bf16x_seen = True
                    bf16x_ok = bf16x_ok and e["rnencode-bf16"] >= 1.9 * rn
                if "rnencode-fp16" in e:
                    fp16_seen = True
                    fp16_ok = fp16_ok and e["rnencode-fp16"] >= rn
            if b == 8 and "rnencode-int8" in e:
                int8_seen = True
                int8_ok = int8_ok and e["rnencode-int8"] >= 2.5 * rn
    print()
    for x in res:
        for n in x["notes"]:
            print(f"note: {x['model']}: {n}")
    covered = {(x["model"], r["batch"]) for x in res for r in x["rows"]}
    for m in PRESET:
        missing += [f"{m} b{b}" for b in (1, 8, 32) if (m, b) not in covered]
    print("goal FP32 >= 1.0x the faster of ONNX Runtime and OpenVINO, both models at batch 1, 8, 32: "
          + ("missed" if not fp32_ok else "met" if not missing else
             "met where measured; not measured: " + ", ".join(missing)))
    print("the same with OMP_WAIT_POLICY=ACTIVE (rnencode --help; the better of the two waits each): "
          + (("met" if active_ok else "missed") if active_seen else "not measured"))
    print("goal BF16 >= 1.0x OpenVINO BF16 at batch 1 and 8: "
          + (("met" if bf16_ok else "missed") if bf16_seen else
             "not measured (needs rnencode bf16 and OpenVINO BF16 on this CPU)"))
    print("goal BF16 >= 1.9x rnencode FP32 at batch 1 and 8: "
          + (("met" if bf16x_ok else "missed") if bf16x_seen else
             "not measured (" + ("rnencode's bf16 ran emulated: no bf16 instructions on this CPU)"
                                 if emulated else "no rnencode bf16 rows)")))
    print("goal rnencode --fp16 >= 1.0x its FP32 at batch 1 and 8: "
          + (("met" if fp16_ok else "missed") if fp16_seen else "not measured"))
    vnni = any(f in open("/proc/cpuinfo").read().split() for f in ("avx512_vnni", "avx_vnni"))
    print("goal INT8 >= 2.5x rnencode FP32 at batch 8 (a VNNI machine's goal; VNNI here: "
          + ("yes" if vnni else "no") + "): " + (("met" if int8_ok else "missed") if int8_seen else "not measured"))
    return 0


# ---------------------------------------------------------------- text

def cmd_text(a):
    """txtencode against ONNX Runtime on the text tower, interleaved rounds, each
    engine's best; the check; the 1000 x 80 extrapolation."""
    import onnxruntime as ort
    import txtencode_ref as tr
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
    rows = tr.read_ids(a.ids)
    k = len(rows) // a.templates

    def run(rows, trim):
        out = []
        for s in range(0, len(rows), a.batch):
            chunk = rows[s:s + a.batch]
            out.append(sess.run(None, {"text": tr.pad(chunk, max(map(len, chunk)) if trim else 77).numpy()})[0])
        return np.concatenate(out)

    def tokens(rows):  # positions ONNX Runtime computes, each batch padded to its longest
        return sum(len(rows[s:s + a.batch]) * max(map(len, rows[s:s + a.batch]))
                   for s in range(0, len(rows), a.batch))

    def trie_rows(rows):  # what txtencode computes: distinct token prefixes
        return len({tuple(r[:i]) for r in rows for i in range(1, len(r) + 1)})

    def txtencode(cmd):  # its table, stats record and header's device
        p = subprocess.run(cmd, capture_output=True)
        if p.returncode != 0:
            raise SystemExit(f"peers.py: {' '.join(cmd)}: exit {p.returncode}: "
                             f"{p.stderr.decode(errors='replace').strip()}")
        recs = list(msgpack.Unpacker(io.BytesIO(p.stdout), raw=False, max_buffer_size=1 << 30))
        return (tr.tensor([r for r in recs if r.get("type") == "classes"][0]["tensor"]),
                [r for r in recs if r.get("type") == "stats"][-1], recs[0].get("device", "?"))

    run(rows[:a.batch], True)  # warm-up: ONNX Runtime's first run allocates
    npad = min(a.npad, len(rows))
    best = {"txtencode": None, "bf16": None, "trim": None, "pad77": None}
    for _ in range(a.rounds):  # txtencode, its bf16, ONNX Runtime trimmed, padded to 77, again ...
        got, st, _ = txtencode(a.txtencode)
        if a.bf16:
            got16, st16, dev16 = txtencode(a.txtencode + ["--precision", "bf16"])
            best["bf16"] = min(best["bf16"] or st16["encode_seconds"], st16["encode_seconds"])
        t = time.perf_counter()
        emb = run(rows, True)
        table = tr.table(emb, k)
        s_trim = time.perf_counter() - t
        t = time.perf_counter()
        emb77 = run(rows[:npad], False)
        s_pad = time.perf_counter() - t
        for key, v in (("txtencode", st["encode_seconds"]), ("trim", s_trim), ("pad77", s_pad)):
            best[key] = v if best[key] is None else min(best[key], v)
    ok = tr.compare(got, table, "txtencode's table vs ONNX Runtime's (padded to the longest)")
    ok &= tr.compare(emb77, emb[:npad], f"ONNX Runtime padded to 77 vs to the longest, {npad} prompts")
    if a.bf16:  # txtencode_ref.py's bf16 bounds (elements, cosine), on the class vectors
        err = np.abs(got16.astype(np.float64) - table).max() / np.abs(table).max()
        cos = np.sum(got16.astype(np.float64) * table, axis=1).min()
        print(f"txtencode bf16's table vs ONNX Runtime's (FP32): max |diff| {err:.3g} of max|ref|,"
              f" class vectors' cosine min {cos:.6f}")
        ok &= bool(tr.RTOL < err <= tr.BF16_RTOL and cos >= tr.BF16_COS)
    full = tr.read_ids(a.full_ids)
    rows_sub, rows_full = st["rows"], trie_rows(full)
    tok_sub, tok_full = tokens(rows), tokens(full)
    ours = best["txtencode"]
    print(f"{k} classes x {a.templates} templates = {len(rows)} prompts, threads {a.threads},"
          f" best of {a.rounds} interleaved rounds (seconds to the table, model loaded):")
    print(f"  txtencode {ours:.1f} s ({rows_sub} trie rows)")
    if a.bf16:
        print(f"  txtencode --precision bf16 {best['bf16']:.1f} s: {ours / best['bf16']:.2f}x the speed of its FP32,"
              f" {best['trim'] / best['bf16']:.2f}x that of ONNX Runtime trimmed ({dev16})")
    print(f"  ONNX Runtime, each batch of {a.batch} padded to its longest prompt: {best['trim']:.1f} s"
          f" ({tok_sub} token positions) = txtencode {best['trim'] / ours:.2f}x faster")
    print(f"  ONNX Runtime padded to 77 (clip.tokenize), first {npad} prompts: {best['pad77']:.1f} s,"
          f" {len(rows)} prompts ~{best['pad77'] * len(rows) / npad:.0f} s"
          f" = txtencode {best['pad77'] * len(rows) / npad / ours:.1f}x faster")
    n = len(full)
    f_ours = ours * rows_full / rows_sub
    f_trim = best["trim"] * tok_full / tok_sub
    f_pad = best["pad77"] * n / npad
    print(f"{n} prompts (the full classifier), extrapolated: txtencode ~{f_ours:.0f} s (x {rows_full}/{rows_sub}"
          f" trie rows) | ONNX Runtime trimmed ~{f_trim:.0f} s (x {tok_full}/{tok_sub} token positions)"
          f" = {f_trim / f_ours:.2f}x | padded to 77 ~{f_pad:.0f} s (x prompts) = {f_pad / f_ours:.1f}x")
    if a.bf16:
        print(f"  txtencode bf16 ~{best['bf16'] * rows_full / rows_sub:.0f} s (extrapolated the same way)")
    return 0 if ok else 1


# ---------------------------------------------------------------- profile

def cmd_profile_ov(a):
    import openvino as ov
    core = ov.Core()
    model = core.read_model(a.onnx)
    shape = [a.batch] + list(model.input(0).get_partial_shape().to_string().strip("[]").split(","))[1:]
    model.reshape({0: [int(d) for d in shape]})
    c = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": a.threads, "PERF_COUNT": True,
                                           "INFERENCE_PRECISION_HINT": {"fp32": "f32"}.get(a.precision, a.precision),
                                           "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
    req = c.create_infer_request()
    x = np.random.default_rng(0).standard_normal([int(d) for d in shape]).astype(np.float32)
    req.infer({0: x})
    best, prof = None, None
    for _ in range(a.iters):
        t = time.perf_counter()
        req.infer({0: x})
        d = time.perf_counter() - t
        if best is None or d < best:
            best, prof = d, [(p.node_name, p.node_type, p.exec_type, p.real_time.total_seconds())
                             for p in req.profiling_info]
    total = sum(p[3] for p in prof)
    print(f"OpenVINO {a.precision} b{a.batch}: best {best * 1e3:.1f} ms ({a.batch / best:.2f} img/s),"
          f" layers sum {total * 1e3:.1f} ms")
    by = {}
    for name, typ, ex, s in prof:
        key = f"{typ} [{ex}]"
        n, t = by.get(key, (0, 0.0))
        by[key] = (n + 1, t + s)
    for key, (n, t) in sorted(by.items(), key=lambda kv: -kv[1][1])[:12]:
        print(f"  {t * 1e3:8.2f} ms {100 * t / total:5.1f}%  {n:3d} x {key}")
    print("  slowest layers:")
    for name, typ, ex, s in sorted(prof, key=lambda p: -p[3])[:8]:
        print(f"  {s * 1e3:8.2f} ms  {typ} [{ex}] {name}")
    return 0


def conv_flops(prob):
    """2 x MACs of a convolution from oneDNN's verbose problem string
    (mb1_ic64oc64_ih56oh56kh1..._iw56ow56kw1...; g groups when present)."""
    import re
    v = {k: int(n) for k, n in re.findall(r"([a-z]+)(\d+)", prob)}
    return 2.0 * v.get("mb", 1) * v["ic"] * v["oc"] * v["oh"] * v["ow"] * v.get("kh", 1) * v.get("kw", 1) / v.get("g", 1)


def cmd_profile_rn(a):
    """rnencode's oneDNN primitives from its ONEDNN_VERBOSE=1 output: the batches
    after the first (warm-up), summed by primitive and implementation; the batch
    time from its stats record; the rest (plain-C steps: input, attention pool,
    FC head, FP16 conversions; and waits between primitives) by difference."""
    import re
    # oneDNN 2.6 prints to stdout; rnencode points its stdout at stderr (the
    # records go through a descriptor of their own), so the lines are in LOG
    verbose = re.compile(rb"(?:dnnl|onednn)_verbose,[^\n]*\n")
    lines = [m.group().decode().rstrip().split(",") for m in verbose.finditer(open(a.log, "rb").read())]
    lines = [ln for ln in lines if ln[1] == "exec"]
    st = [r for r in msgpack.Unpacker(open(a.out, "rb"), raw=False)
          if isinstance(r, dict) and r.get("type") == "stats"][-1]
    nb = st["batches"]
    # the first batch also runs one-off weight reorders: find the period of the
    # calls (lines less their times) over the last nb - 1 batches
    sig = [",".join(ln[:-1]) for ln in lines]
    per = next((p for p in range(1, len(sig) // (nb - 1) + 1)
                if sig[len(sig) - (nb - 1) * p:] == sig[-p:] * (nb - 1)), None)
    if nb < 2 or per is None:
        raise SystemExit(f"peers.py: {len(lines)} oneDNN calls for {nb} batches: no repeating batch")
    lines = lines[len(lines) - (nb - 1) * per - per:]  # one batch before the timed ones, skipped below
    by, tot, flops = {}, 0.0, {}
    for ln in lines[per:]:
        prim, impl, t = ln[3], ln[4], float(ln[-1]) / 1e3
        key = f"{prim} [{impl}]"
        n, s = by.get(key, (0, 0.0))
        by[key] = (n + 1, s + t)
        tot += t
        if prim == "convolution":
            f, s2 = flops.get(key, (0.0, 0.0))
            flops[key] = (f + conv_flops(ln[-2]), s2 + t)
    k = nb - 1
    batch = st["batch_mean_s"]
    print(f"rnencode {st['precision']} b{st['batch']}: batch mean {batch * 1e3:.1f} ms, min"
          f" {st['batch_min_s'] * 1e3:.1f} ms ({k} timed batches); oneDNN primitives {tot / k * 1e3:.1f} ms a"
          f" batch ({per} calls); the rest {(batch - tot / k) * 1e3:.1f} ms")
    for key, (n, s) in sorted(by.items(), key=lambda kv: -kv[1][1])[:12]:
        g = f", {flops[key][0] / flops[key][1] / 1e9:.0f} GFLOP/s" if key in flops else ""
        print(f"  {s / k * 1e3:8.2f} ms {100 * s / k / batch:5.1f}%  {n // k:3d} x {key}{g}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("vision")
    s.add_argument("--model", choices=sorted(PRESET), required=True)
    s.add_argument("--weights", required=True)
    s.add_argument("--onnx", required=True)
    s.add_argument("--rnencode", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--images", type=int, default=16, help="timed images per round (at least 2 batches)")
    s.add_argument("--engines", nargs="*")
    s.add_argument("--json")
    s = sub.add_parser("table")
    s.add_argument("json", nargs="+")
    s = sub.add_parser("text")
    s.add_argument("--ids", required=True)
    s.add_argument("--full-ids", required=True)
    s.add_argument("--templates", type=int, required=True)
    s.add_argument("--onnx", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch", type=int, default=256)
    s.add_argument("--npad", type=int, default=256)
    s.add_argument("--rounds", type=int, default=2)
    s.add_argument("--bf16", action="store_true", help="also txtencode --precision bf16 in each round")
    s.add_argument("txtencode", nargs=argparse.REMAINDER)
    s = sub.add_parser("profile-rn")
    s.add_argument("--log", required=True, help="rnencode's stderr (ONEDNN_VERBOSE=1's lines)")
    s.add_argument("out")
    s = sub.add_parser("profile-ov")
    s.add_argument("--onnx", required=True)
    s.add_argument("--batch", type=int, default=1)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--precision", default="fp32")
    s.add_argument("--iters", type=int, default=5)
    a = p.parse_args()
    return {"vision": cmd_vision, "table": cmd_table, "text": cmd_text, "profile-rn": cmd_profile_rn, "profile-ov": cmd_profile_ov}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
