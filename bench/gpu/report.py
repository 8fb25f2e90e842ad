#!/usr/bin/env python3
"""report.py - results of the GPU benchmark and device checks (numpy-free).

  report.py stats OUT.mp --model M --precision P --batch B [--extra JSON]
      one JSON line from rnencode's `stats` record in OUT.mp (impl "rnencode";
      images_per_s = batch / per-batch GPU time, wall_images_per_s = the whole
      process, records in to records out); --extra: an object's keys added
  report.py table RESULTS.jsonl
      the side-by-side table: rnencode vs PyTorch eager (and torch.compile when
      measured), same card, same run, as ratios
  report.py family FAMILY.jsonl
      bench/gpu/family.sh's table: one row per model, precision and batch in
      the order run, rnencode vs PyTorch eager, peak memory of both, and what
      failed or was not run
  report.py final --info INFO.json --bench RESULTS.jsonl [--parity P.jsonl]
                  [--tests TESTS.tsv] [--family FAMILY.jsonl] --md OUT.md --json OUT.json
      the results file of tests/gpu/device-check.sh: card, date, commit,
      tests, parity figures, the benchmark with ratios, the issue's goals
      (resnet50 and clip-rn50 only), and family.sh's table when it ran

Fractions of the card's peak use the FLOPs of one image (ResNet-50 8.2 GFLOP,
CLIP RN50 12.2) and the vendor's dense peaks (FP16 tensor cores; FP32 without
tensor cores) for the cards named below; other cards get no fraction.
"""
import argparse
import json
import sys

import msgpack

GFLOP = {"resnet50": 8.2, "clip-rn50": 12.2}
# name substring -> (dense FP16 tensor TFLOP/s, FP32 TFLOP/s), datasheet figures
PEAKS = [("H200", (989.0, 67.0)), ("H100 NVL", (835.0, 60.0)), ("H100 PCIe", (756.0, 51.0)),
         ("H100", (989.0, 67.0)), ("A100", (312.0, 19.5))]
GOALS_IPS = {"resnet50": 30000, "clip-rn50": 20000}


def peak_for(card):
    for k, v in PEAKS:
        if k in card:
            return v
    return None


def cmd_stats(a):
    st = None
    with open(a.out, "rb") as f:
        for r in msgpack.Unpacker(f, raw=False):
            if r.get("type") == "stats":
                st = r
    if st is None or not st.get("timed_batches"):
        print(json.dumps({"impl": "rnencode", "model": a.model, "precision": a.precision, "batch": a.batch,
                          "error": "no stats record with timed batches", **a.extra}))
        return 1
    print(json.dumps({
        "impl": "rnencode", "model": a.model, "precision": a.precision, "batch": a.batch,
        "batches": st["timed_batches"], "batch_mean_s": st["batch_mean_s"], "batch_std_s": st["batch_std_s"],
        "image_mean_s": st["image_mean_s"], "image_std_s": st["image_std_s"],
        "images_per_s": a.batch / st["batch_mean_s"], "wall_images_per_s": st["images_per_s"],
        "images": st["images"], "seconds": st["seconds"], "peak_bytes": st["peak_memory_bytes"],
        "weight_bytes": st["weight_bytes"], "activation_bytes": st["activation_bytes"],
        "device": st["device"], **a.extra}))
    return 0


def load_jsonl(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:  # a line cut off when a step was killed: the rest still counts
                    print(f"report.py: {path}: skipping a broken line: {line[:80]}", file=sys.stderr)
    except FileNotFoundError:
        pass
    return rows


def grid(rows):
    g = {}
    for r in rows:
        if "error" not in r:
            g[(r["impl"], r["model"], r["precision"], r["batch"])] = r
    return g


def table_lines(rows, card=""):
    g = grid(rows)
    peaks = peak_for(card)
    keys = sorted({k[1:] for k in g}, key=lambda k: (k[0], k[1], k[2]))
    out = ["| model | precision | batch | rnencode images/s | ms/batch (mean +- std) | PyTorch eager images/s "
           "| ratio | torch.compile | peak MiB ours / eager | % of peak |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for m, p, b in keys:
        o, e, c = g.get(("rnencode", m, p, b)), g.get(("torch-eager", m, p, b)), g.get(("torch-compile", m, p, b))
        ours = f"{o['images_per_s']:.0f}" if o else "-"
        ms = f"{o['batch_mean_s'] * 1e3:.3f} +- {o['batch_std_s'] * 1e3:.3f}" if o else "-"
        eag = f"{e['images_per_s']:.0f}" if e else "-"
        ratio = f"{o['images_per_s'] / e['images_per_s']:.2f}x" if o and e else "-"
        comp = f"{c['images_per_s']:.0f} ({o['images_per_s'] / c['images_per_s']:.2f}x)" if o and c else "-"
        mem = (f"{o['peak_bytes'] / 2**20:.0f} / {e['peak_bytes'] / 2**20:.0f}" if o and e else
               f"{o['peak_bytes'] / 2**20:.0f} / -" if o else "-")
        frac = "-"
        if o and peaks:
            tf = o["images_per_s"] * GFLOP[m] / 1e3
            # BF16's dense tensor-core peak is FP16's on these cards
            frac = f"{100 * tf / (peaks[0] if p in ('fp16', 'bf16') else peaks[1]):.1f}%"
        out.append(f"| {m} | {p} | {b} | {ours} | {ms} | {eag} | {ratio} | {comp} | {mem} | {frac} |")
    return out


def cmd_table(a):
    print("\n".join(table_lines(load_jsonl(a.results), a.card)))
    return 0


def ips(r):
    """images/s: whole numbers, but not a 0 for a slow run (the mock's CPU stand-in)"""
    v = r["images_per_s"]
    return f"{v:.0f}" if v >= 10 else f"{v:.2g}"


def mib(r):
    return f"{r['peak_bytes'] / 2**20:.0f}" if r and r.get("peak_bytes") is not None else "-"


def family_lines(rows):
    """bench/gpu/family.sh's rows, one table row per model, precision and batch in
    the order they ran; a line with "error" (a side that failed, a model not run)
    becomes the row's note."""
    order, cells = [], {}
    for r in rows:
        k = (r.get("model", "?"), r.get("precision", "?"), r.get("batch", "?"))
        if k not in cells:
            order.append(k)
            cells[k] = {"notes": []}
        if "error" in r:
            cells[k]["notes"].append(f"{r.get('impl', '?')}: {r['error']}")
        elif r.get("impl") in ("rnencode", "torch-eager"):
            cells[k][r["impl"]] = r
    out = ["| model | input | precision | batch | rnencode images/s | PyTorch eager images/s | ratio "
           "| peak MiB rnencode / PyTorch | note |",
           "|---|---|---|---|---|---|---|---|---|"]
    for k in order:
        c = cells[k]
        o, e = c.get("rnencode"), c.get("torch-eager")
        notes = list(c["notes"])
        if o and o.get("makers"):
            n = o["makers"]
            notes.append(f"{n} background job{'s' if n > 1 else ''} (checkpoints, crops) on the CPU meanwhile")
        if e and e.get("device") == "cpu":
            notes.append("PyTorch on the CPU")
        ratio = f"{o['images_per_s'] / e['images_per_s']:.2f}x" if o and e else "-"
        note = "; ".join(n.replace("|", "/").replace("\n", " ") for n in notes)
        cols = [k[0], str(o.get("input", "-")) if o else "-", k[1], str(k[2]),
                ips(o) if o else "-", ips(e) if e else "-",
                ratio, f"{mib(o)} / {mib(e)}", note]
        out.append("| " + " | ".join(cols) + " |")
    return out


def cmd_family(a):
    print("\n".join(family_lines(load_jsonl(a.results))))
    return 0


def goals(rows):
    g = grid(rows)
    res = []

    def ips(impl, m, p, b):
        r = g.get((impl, m, p, b))
        return r["images_per_s"] if r else None

    worst, pairs = None, 0
    for (impl, m, p, b), r in g.items():
        if impl != "rnencode" or p not in ("fp16", "fp32"):  # the goal's precisions; bf16 is reported beside
            continue
        e = ips("torch-eager", m, p, b)
        if e:
            pairs += 1
            x = r["images_per_s"] / e
            worst = x if worst is None or x < worst else worst
    # "every": met only when all 12 configurations (2 models x 2 precisions x 3 batches) have both sides
    res.append(("at least 2x PyTorch eager at every batch size and precision",
                f"worst ratio {worst:.2f}x over {pairs} of 12 configurations" if worst else "not measured",
                bool(worst and worst >= 2 and pairs >= 12)))
    for m, goal in GOALS_IPS.items():
        v = ips("rnencode", m, "fp16", 256)
        res.append((f"{m} FP16 at least {goal} images/s (batch 256)", f"{v:.0f}" if v else "not measured",
                    bool(v and v >= goal)))
    for m in GFLOP:
        r = g.get(("rnencode", m, "fp16", 1))
        res.append((f"{m} batch-1 FP16 latency under 1 ms",
                    f"{r['batch_mean_s'] * 1e3:.3f} ms" if r else "not measured",
                    bool(r and r["batch_mean_s"] < 1e-3)))
    for m in GFLOP:
        a, b = g.get(("rnencode", m, "fp16", 256)), g.get(("rnencode", m, "fp32", 256))
        if a and b:
            x = a["peak_bytes"] / b["peak_bytes"]
            res.append((f"{m} FP16 peak memory about half of FP32 (batch 256)", f"{x:.2f} of FP32",
                        0.4 <= x <= 0.6))
        else:
            res.append((f"{m} FP16 peak memory about half of FP32 (batch 256)", "not measured", False))
    return res


def cmd_final(a):
    info = json.load(open(a.info))
    bench = load_jsonl(a.bench)
    parity = load_jsonl(a.parity) if a.parity else []
    tests = []
    if a.tests:
        with open(a.tests) as f:
            tests = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    card = info.get("card", "")
    md = [f"# rnencode CUDA backend on {card}", "",
          f"- date: {info.get('date')}", f"- commit: {info.get('commit')}",
          f"- card: {card}; driver {info.get('driver')}; CUDA {info.get('cuda')}",
          f"- libraries: {info.get('libraries')}",
          f"- PyTorch peer: {info.get('torch')}",
          f"- rnencode binary: {info.get('binary')}", "",
          "Images/s here are batch size / mean per-batch GPU time (CUDA events, warm-up excluded;",
          "for rnencode: input conversion, network and outputs back in host memory, the input",
          "copy overlapping the previous batch; for PyTorch: normalize, model, float outputs, the",
          "crops already on the GPU). Same card, same run, same random-weight checkpoints.", "",
          "## Tests", ""]
    md += [f"- {t[0]}: {t[1]}" + (f" ({t[2]})" if len(t) > 2 and t[2] else "") for t in tests] or ["- none ran"]
    md += ["", "## Parity", "", "| comparison | rows | worst / tolerance | rtol | max rel. L2 | top-1 flips | ok |",
           "|---|---|---|---|---|---|---|"]
    for p in parity:
        md.append(f"| {p['name']} | {p['rows']} | {p.get('max_ratio', float('nan')):.3g} | {p['rtol']:g} | "
                  f"{p.get('max_rel_l2', float('nan')):.3g} | {p.get('top1_flips', '-')} | "
                  f"{'yes' if p['ok'] else 'NO'} |")
    md += ["", "## Benchmark", ""] + table_lines(bench, card)
    md += ["", "End to end (rnencode reading records from a file, writing records):", ""]
    for r in bench:
        if r.get("impl") == "rnencode" and "wall_images_per_s" in r:
            md.append(f"- {r['model']} {r['precision']} batch {r['batch']}: {r['wall_images_per_s']:.0f} images/s "
                      f"over {r['images']} images")
    md += ["", "## Goals (issue 6)", "", "| goal | measured | met |", "|---|---|---|"]
    gl = goals(bench)
    md += [f"| {g} | {v} | {'yes' if ok else 'no'} |" for g, v, ok in gl]
    family = load_jsonl(a.family) if a.family else []
    if family:
        md += ["", "## Every other ResNet (bench/gpu/family.sh)", "",
               "rnencode --model auto against PyTorch eager built from the same random-weight checkpoint",
               "(tests/py/resnets.py make), same card, same crops; images/s as above; ratio = rnencode's",
               "images/s over PyTorch's.", ""]
        md += family_lines(family)
    with open(a.md, "w") as f:
        f.write("\n".join(md) + "\n")
    with open(a.json, "w") as f:
        json.dump({"info": info, "tests": tests, "parity": parity, "bench": bench,
                   "goals": [{"goal": g, "measured": v, "met": ok} for g, v, ok in gl], "family": family},
                  f, indent=1)
    print("\n".join(md))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stats")
    s.add_argument("out")
    s.add_argument("--model", required=True)
    s.add_argument("--precision", required=True)
    s.add_argument("--batch", type=int, required=True)
    s.add_argument("--extra", type=json.loads, default={}, help="a JSON object whose keys the line gets too")
    s = sub.add_parser("table")
    s.add_argument("results")
    s.add_argument("--card", default="")
    s = sub.add_parser("family")
    s.add_argument("results")
    s = sub.add_parser("final")
    s.add_argument("--info", required=True)
    s.add_argument("--bench", required=True)
    s.add_argument("--parity")
    s.add_argument("--tests")
    s.add_argument("--family")
    s.add_argument("--md", required=True)
    s.add_argument("--json", required=True)
    a = ap.parse_args()
    return {"stats": cmd_stats, "table": cmd_table, "family": cmd_family, "final": cmd_final}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
