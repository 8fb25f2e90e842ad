# ckptinfo listed, exit 0, the tensors of zip checkpoints PyTorch refuses
# for what is in the records we read (hostile.py --kinds ckpt --seed 606,
# cases 861, 1249, 1286): a version record PyTorch 1.13 does not read (99:
# its maximum is 10; not a number; none), and a storage the pickle names
# whose data/<key> record is missing, under a key the tensor walk does not
# name (PyTorch loads every storage as it unpickles). And a str in the
# pickle that is not UTF-8, here a tensor name (make hostile, seed
# 1796666942, ckpt cases 249 and 1505): Python's unpickler, so torch.load,
# refuses it, where ckptinfo named the tensor by bytes no other reader gives
# (TorchScript archives, read by C++, take any bytes). Right: refused as
# PyTorch refuses them, exit 1 with one line naming the file.
need_py torch
$PY - <<'PY' || fail "making the files"
import io, torch, zipfile
torch.save({"ab": torch.ones(2), ("t",): torch.zeros(3)}, "ok.pt")
z = zipfile.ZipFile("ok.pt")
def variant(name, change):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as o:
        for i in z.infolist():
            d = change(i.filename, z.read(i.filename))
            if d is not None:
                o.writestr(i.filename, d)
    open(name, "wb").write(out.getvalue())
ver = lambda v: lambda n, d: v if n.endswith("/version") else d
variant("v99.pt", ver(b"99\n"))
variant("vabc.pt", ver(b"abc"))
variant("vnone.pt", ver(None))
variant("v10.pt", ver(b" +10 "))
variant("nostorage.pt", lambda n, d: None if n.endswith("/data/1") else d)
name = b"X\x02\x00\x00\x00ab"  # BINUNICODE 'ab'
assert z.read("ok/data.pkl").count(name) == 1
variant("badstr.pt", lambda n, d: d.replace(name, name[:5] + b"\xe6(") if n.endswith("/data.pkl") else d)
for f in ("v99.pt", "vabc.pt", "vnone.pt", "nostorage.pt", "badstr.pt"):
    try:
        torch.load(f, weights_only=True)
        raise SystemExit("PyTorch reads %s (the case is wrong)" % f)
    except (RuntimeError, UnicodeDecodeError, __import__("pickle").UnpicklingError):
        pass
torch.load("v10.pt", weights_only=True)
PY
expect_exit 0 ckptinfo -H v10.pt
for f in v99 vabc vnone nostorage badstr; do
	expect_exit 1 ckptinfo -H $f.pt
	expect_empty_stdout
	expect_stderr "^ckptinfo: $f.pt: "
done
expect_stderr "not UTF-8"
