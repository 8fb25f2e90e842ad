# ckptinfo listed, exit 0, a torch.save checkpoint whose pickle holds a str
# that is not UTF-8 (here a tensor name; found by make hostile, seed
# 1796666942, ckpt case 249: pickle bytes flipped): Python's unpickler, so
# torch.load, refuses the file (UnicodeDecodeError), and ckptinfo's name
# for the tensor was bytes no other reader gives. Right: refused as PyTorch
# refuses it (TorchScript archives, read by C++, take any bytes).
need_py torch
$PY - <<'PY' || fail "making the file"
import io, pickle, torch, zipfile
torch.save({"ab": torch.ones(2)}, "ok.pt")
z = zipfile.ZipFile("ok.pt")
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as o:
    for n in z.namelist():
        d = z.read(n)
        if n.endswith("/data.pkl"):
            assert d.count(b"X\x02\x00\x00\x00ab") == 1
            d = d.replace(b"X\x02\x00\x00\x00ab", b"X\x02\x00\x00\x00\xe6(")
        o.writestr(n, d)
open("bad.pt", "wb").write(out.getvalue())
try:
    torch.load("bad.pt", weights_only=True)
    raise SystemExit("PyTorch reads bad.pt (the case is wrong)")
except (UnicodeDecodeError, pickle.UnpicklingError, RuntimeError):
    pass
PY
expect_exit 0 ckptinfo -H ok.pt
expect_exit 1 ckptinfo -H bad.pt
expect_empty_stdout
expect_stderr "^ckptinfo: bad.pt: .*not UTF-8"
