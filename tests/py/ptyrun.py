import os, pty, subprocess, sys, select
# ptyrun.py CMD: run CMD (bash -c) with stdout on a pseudo-terminal, as a
# program run at a prompt has it; stderr to the file err, stdin /dev/null
# (CMD may redirect it); what reached the terminal goes to the file out; the
# exit status is CMD's. For tests/readme/test_cli.sh's TTY rows.
master, slave = pty.openpty()
with open("err", "wb") as err, open(os.devnull, "rb") as null:
    p = subprocess.Popen(["bash", "-c", sys.argv[1]], stdin=null, stdout=slave, stderr=err)
os.close(slave)
got = b""
while True:
    try:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the terminal's last writer has gone
        break
    if not chunk:
        break
    got += chunk
rc = p.wait(timeout=60)
open("out", "wb").write(got)
sys.exit(rc)
