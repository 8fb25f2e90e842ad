"""core.py - running one program on hostile input and checking what users trust:

  - it ends (no hang: a timeout is a failure), with status 0, 1 or 2, never a
    signal or a sanitizer's report;
  - stderr: every line starts with 'PROG: ' and holds no raw control
    character (a tab aside), no C1 control, and is UTF-8;
  - stdout of a record writer is whole msgpack maps (also after exit 2), and
    every record it built (not one it passed on byte for byte) holds only
    UTF-8 strs and no key twice; a JSON output loads in json.loads (strict:
    UTF-8, no NaN/Infinity); a text output holds no control character;
  - exit 0: no error record written, every input stream whole (as Python's
    msgpack reads it) and every record valid (common/record.c's rules), no
    non-finite value in a record the program built, and each record of the
    kinds it consumes answered by one record with its id, in order;
  - files: nothing outside the outputs a run is told to write appears or
    changes, the inputs included, and no temporary is left behind.
A Case holds the input files and the Runs; its oracle may compare runs.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import mp

SANITIZER_EXIT = 86
CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|\xc2[\x80-\x9f]")
TEXT_CTL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
# a number, not "NaN/Inf" in a heading (provenance echoes a header's NaN as "(non-finite)")
NONFINITE = re.compile(rb"(?i)(?<![\w/])[-+]?(nan|inf|infinity)(?![\w/])")


class Run:
    """One program run. args: argv after the program name, files relative to
    the case folder. out: 'records', 'jsonl', 'json', 'text' or 'none'.
    streams: the record streams it reads (file names; '-' is stdin), judged
    for the exit-0 rules. consumes: record types each answered by one output
    record (result or error) with the same id. produces: the types it builds
    (checked for non-finite values). writes: paths (files or folders) it may
    create. oracle(run, case) -> list of problems."""

    def __init__(self, prog, args, stdin=None, out="records", streams=(), consumes=(), produces=(),
                 writes=(), oracle=None, timeout=None, env=None, ok_exit=(0, 1, 2)):
        self.prog, self.args, self.stdin, self.out = prog, list(args), stdin, out
        self.streams, self.consumes, self.produces = list(streams), set(consumes), set(produces)
        self.writes, self.oracle, self.timeout, self.env = list(writes), oracle, timeout, env or {}
        self.ok_exit = ok_exit
        self.rc = self.stdout = self.stderr = None
        self.secs = 0.0
        self.timed_out = False

    def cmdline(self):
        q = lambda s: s if re.fullmatch(r"[\w./=:,+-]+", s) else "'" + s.replace("'", "'\\''") + "'"
        line = " ".join([self.prog] + [q(a) for a in self.args])
        if self.stdin:
            line += " < " + q(self.stdin)
        return line


class Case:
    def __init__(self, kind, seed, index, folder):
        self.kind, self.seed, self.index, self.folder = kind, seed, index, folder
        self.what = []       # the mutations applied, for the message
        self.runs = []
        self.oracle = None   # oracle(case) -> problems, after every run
        self.extern = []     # files outside the folder a run reads (weights): must not change
        self._streams = {}

    def path(self, name):
        return os.path.join(self.folder, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return name

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def stream(self, name):
        if name not in self._streams:
            self._streams[name] = mp.Stream(self.read(name))
        return self._streams[name]


def _snapshot(folder):
    snap = {}
    for d, dirs, files in os.walk(folder):
        for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            snap[os.path.relpath(p, folder)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return snap


def _hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def execute(run, case, bindir, env, timeout):
    argv = [os.path.join(bindir, run.prog)] + run.args
    e = dict(env)
    e.update(run.env)
    t0 = time.monotonic()
    stdin = open(case.path(run.stdin), "rb") if run.stdin else subprocess.DEVNULL
    try:
        p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=case.folder,
                             env=e, start_new_session=True)
        try:
            out, err = p.communicate(timeout=run.timeout or timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            run.timed_out = True
        run.rc, run.stdout, run.stderr = p.returncode, out, err
    finally:
        if run.stdin:
            stdin.close()
    run.secs = time.monotonic() - t0


def _json_problem(text, whole):
    def const(c):
        raise ValueError("%s is not JSON" % c)
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as ex:
        return "not UTF-8 (%s)" % ex
    try:
        if whole:
            json.loads(s, parse_constant=const)
        else:
            if s and not s.endswith("\n"):
                return "the last line has no newline"
            for i, line in enumerate(s.split("\n")[:-1]):
                try:
                    json.loads(line, parse_constant=const)
                except ValueError as ex:
                    return "line %d: %s: %.120r" % (i + 1, ex, line)
    except ValueError as ex:
        return str(ex)[:200]
    return None


def _str_problem(v, where="", depth=0):
    """A str that is not UTF-8 inside a decoded value, or a map with a key twice."""
    if depth > 60:
        return None
    if isinstance(v, str):
        return None if mp.utf8_ok(v) else "%s: a str that is not UTF-8: %.60r" % (where or "value", v)
    if isinstance(v, mp.Pairs):
        dup = mp.repeated_key(v)
        if dup is not None:
            return "%s: key %r twice" % (where or "record", dup)
        for k, x in v:
            p = _str_problem(k, where + "/<key>", depth + 1) or _str_problem(x, "%s/%s" % (where, k), depth + 1)
            if p:
                return p
    if isinstance(v, list):
        for i, x in enumerate(v):
            p = _str_problem(x, "%s[%d]" % (where, i), depth + 1)
            if p:
                return p
    return None


RESULT_NUMBERS = ("prob", "logit_scale")  # numbers a program computes (other keys are copied)


def _floats_nonfinite(rec):
    """Non-finite values in a built record: its tensors and the numbers it computed."""
    bad = []
    for k, v in rec:
        if isinstance(v, mp.Pairs) and mp.tensor_problem(v) is None:
            n = mp.nonfinite(v)
            if n:
                bad.append("%s: %d non-finite" % (k, n))
        elif k in RESULT_NUMBERS and isinstance(v, float) and not mp.finite_number(v):
            bad.append("%s = %r" % (k, v))
        elif k in RESULT_NUMBERS and isinstance(v, list) and any(isinstance(x, float) and not mp.finite_number(x) for x in v):
            bad.append("%s holds %r" % (k, [x for x in v if isinstance(x, float) and not mp.finite_number(x)][:3]))
    return bad


def in_inputs(case, run, raw):
    for s in run.streams:
        if raw in case.read(s if s != "-" else run.stdin):
            return True
    return False


def check(run, case):
    """The generic rules; returns a list of problems."""
    prob = []
    prog = run.prog
    if run.timed_out:
        return ["hang: no exit within %.0f s" % run.secs]
    if run.rc < 0:
        prob.append("killed by signal %s" % signal.Signals(-run.rc).name)
    elif run.rc == SANITIZER_EXIT or b"Sanitizer" in run.stderr or b"runtime error:" in run.stderr:
        m = re.search(rb"(ERROR: \w+Sanitizer: [^\n]*|runtime error: [^\n]*|SUMMARY: [^\n]*)", run.stderr)
        prob.append("sanitizer: %s" % (m.group(1).decode("utf-8", "replace")[:300] if m else "exit %d" % run.rc))
        return prob
    elif run.rc not in run.ok_exit:
        prob.append("exit status %d" % run.rc)
    # stderr
    for i, line in enumerate(run.stderr.split(b"\n")):
        if not line and i == len(run.stderr.split(b"\n")) - 1:
            break
        if not line.startswith(prog.encode() + b": "):
            prob.append("stderr line %d does not start with '%s: ': %.160r" % (i + 1, prog, line))
            break
        m = CTL.search(line.replace(b"\t", b" "))
        if m:
            prob.append("stderr line %d holds a raw control character %r: %.160r" % (i + 1, m.group(0), line))
            break
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            prob.append("stderr line %d is not UTF-8: %.160r" % (i + 1, line))
            break
    if run.stderr and not run.stderr.endswith(b"\n"):
        prob.append("stderr does not end with a newline: %.80r" % run.stderr[-80:])
    # stdout
    built = []
    if run.out == "records":
        s = mp.Stream(run.stdout)
        if s.broken and not s.deep:
            prob.append("stdout is not whole records (exit %d): %s" % (run.rc, s.broken))
        for n, (r, a, b) in enumerate(s.records):
            raw = run.stdout[a:b]
            if in_inputs(case, run, raw):
                continue  # passed on byte for byte
            p = _str_problem(r, "record %d (%s)" % (n, r.get("type") if isinstance(r, mp.Pairs) else "?"))
            if p:
                prob.append("wrote " + p)
            elif isinstance(r, mp.Pairs) and mp.record_problem(r):
                prob.append("wrote an invalid record %d: %s" % (n, mp.record_problem(r)))
            else:
                built.append(r)
    elif run.out in ("json", "jsonl"):
        if run.stdout:
            p = _json_problem(run.stdout, run.out == "json")
            if p:
                prob.append("stdout is not %s: %s" % ("JSON" if run.out == "json" else "JSON lines", p))
    elif run.out == "text":
        m = TEXT_CTL.search(run.stdout)
        if m:
            i = m.start()
            prob.append("stdout holds a raw control character %r: %.120r" % (m.group(0), run.stdout[max(0, i - 60):i + 40]))
        m = NONFINITE.search(run.stdout)
        if run.rc == 0 and m:
            i = m.start()
            prob.append("exit 0, but the report shows a non-finite number: %.120r" % run.stdout[max(0, i - 60):i + 40])
    elif run.out == "none" and run.stdout:
        prob.append("wrote %d bytes on stdout" % len(run.stdout))
    if run.rc == 0:
        prob += _exit0(run, case, built)
    elif run.rc == 1 and run.consumes and run.out == "records" and not prob:
        prob += ["exit 1: " + p for p in align(run, case)[1]]
    if run.oracle and not prob:
        prob += run.oracle(run, case) or []
    return prob


def _exit0(run, case, built):
    prob = []
    for r in built:
        if r.get("type") == "error":
            prob.append("exit 0, but it wrote an error record: %.200r" % (r.get("message"),))
            break
    for r in built:
        if r.get("type") in run.produces:
            bad = _floats_nonfinite(r)
            if bad:
                prob.append("exit 0, but its %s record %r holds non-finite values: %s" % (r.get("type"), r.get("id"), "; ".join(bad)[:200]))
                break
    for name in run.streams:
        s = case.stream(run.stdin if name == "-" else name)
        if s.broken and not s.deep:
            prob.append("exit 0 on a broken stream %s: %s" % (name, s.broken))
            continue
        for n, (r, _, _) in enumerate(s.records):
            p = mp.record_problem(r)
            if p:
                prob.append("exit 0 on %s whose record %d is invalid: %s" % (name, n, p))
                break
    if run.consumes and run.out == "records" and not prob:
        prob += align(run, case)[1]
    return prob


def align(run, case):
    """A filter's output against its one input stream, which it keeps in order:
    its own header first, then for each input record either one record it
    built (a result, or an error record for one it consumed or found
    invalid) or the same record byte for byte, then its stats record.
    Returns ([(input record, built record)], problems)."""
    name = run.stdin if run.streams[0] == "-" else run.streams[0]
    src, data = case.stream(name), case.read(name)
    out = mp.Stream(run.stdout).records
    i, pairs = 0, []
    while i < len(out) and isinstance(out[i][0], mp.Pairs) and out[i][0].get("type") == "header" \
            and out[i][0].get("producer") == run.prog:
        i += 1
    for n, (r, a, b) in enumerate(src.records):
        if i >= len(out):
            return pairs, ["%d records in, the output ends at input record %d" % (len(src.records), n)]
        o, oa, ob = out[i]
        i += 1
        if not isinstance(r, mp.Pairs):
            break
        if mp.record_problem(r) or r.get("type") in run.consumes:
            if not isinstance(o, mp.Pairs) or o.get("type") not in run.produces | {"error"}:
                return pairs, ["input record %d (%s) was answered by a %s record" % (
                    n, r.get("type") if not mp.record_problem(r) else "invalid", o.get("type") if isinstance(o, mp.Pairs) else "?")]
            rid = r.get("id")
            if isinstance(rid, str) and mp.utf8_ok(rid) and o.get("id") != rid:
                return pairs, ["input record %d (id %.60r) was answered by id %.60r" % (n, rid, o.get("id"))]
            pairs.append((r, o))
        elif run.stdout[oa:ob] != data[a:b]:
            return pairs, ["input record %d (%s) was not passed on byte for byte" % (n, r.get("type"))]
    rest = [o for o, _, _ in out[i:] if not (isinstance(o, mp.Pairs) and o.get("type") == "stats"
                                              and o.get("producer") == run.prog)]
    if rest and not src.broken:
        return pairs, ["%d records after the last input's" % len(rest)]
    return pairs, []


def run_case(case, bindir, env, timeout):
    """Runs every Run of the case; returns (problems, the run that failed or None)."""
    root = os.path.dirname(case.folder)
    before = _snapshot(root)
    inputs = {n: _hash(case.path(n)) for n in os.listdir(case.folder) if os.path.isfile(case.path(n))}
    ext = {p: (os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in case.extern}
    for run in case.runs:
        pre = set(_snapshot(case.folder))
        execute(run, case, bindir, env, timeout)
        prob = check(run, case)
        post = _snapshot(case.folder)
        for n, h in inputs.items():
            if not os.path.isfile(case.path(n)) or _hash(case.path(n)) != h:
                prob.append("changed or removed its input %s" % n)
        for n in sorted(set(post) - pre):
            if not any(n == w or n.startswith(w.rstrip("/") + "/") for w in run.writes):
                prob.append("left a file %s in its folder" % n)
                break
        if prob:
            return prob, run
    after = _snapshot(root)
    for n in sorted(set(before) | set(after)):
        if n.startswith(os.path.basename(case.folder) + os.sep):
            continue
        if before.get(n) != after.get(n):
            return ["a file outside the case's folder changed: %s" % n], case.runs[-1]
    for p, v in ext.items():
        if (os.stat(p).st_size, os.stat(p).st_mtime_ns) != v:
            return ["changed %s" % p], case.runs[-1]
    if case.oracle:
        prob = case.oracle(case)
        if prob:
            return prob, None
    return [], None


def keep(case, prob, run, keepdir, rerun):
    """Copies the case's folder and a note on the failure under keepdir."""
    dst = os.path.join(keepdir, "%s-%s-%d" % (case.kind, case.seed, case.index))
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(case.folder, dst, symlinks=True)
    with open(os.path.join(dst, "FAILURE.txt"), "w") as f:
        f.write("%s\n" % "\n".join(prob))
        f.write("mutations: %s\n" % "; ".join(case.what))
        f.write("rerun: %s\n" % rerun)
        f.write("commands (in this folder; BIN = the programs' folder):\n")
        for r in case.runs:
            f.write("  $BIN/%s\n" % r.cmdline())
            if r is run:
                break
    if run is not None and run.stdout is not None:
        with open(os.path.join(dst, "FAILED.stdout"), "wb") as f:
            f.write(run.stdout)
        with open(os.path.join(dst, "FAILED.stderr"), "wb") as f:
            f.write(run.stderr)
    return dst
