#!/usr/bin/env python3
"""A released migration must never change: embed.py, which compiles the
migrations into the library, stops the build when a file's SHA-256 differs
from migrations/SHA256SUMS or a file is not listed there."""
import pathlib
import shutil
import subprocess
import sys
import tempfile

src = pathlib.Path(sys.argv[1]) / "migrations"
failures = 0


def embed(folder, out=None):
    files = sorted(str(p) for p in folder.glob("*.sql"))
    return subprocess.run([sys.executable, str(src / "embed.py"), str(out or folder / "out.cc"), str(folder / "SHA256SUMS"),
                           *files], capture_output=True, text=True)


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""))
    failures += not ok


with tempfile.TemporaryDirectory() as t:
    work = pathlib.Path(t)
    for p in list(src.glob("*.sql")) + [src / "SHA256SUMS"]:
        shutil.copy(p, work)
    r = embed(work)
    check("the tree's migrations match their pinned hashes", r.returncode == 0, r.stderr)
    r = embed(src / "postgres", out=work / "pg.cc")
    check("the PostgreSQL engine's migrations match their pinned hashes", r.returncode == 0, r.stderr)

    released = work / "0002_legacy_import.sql"
    original = released.read_bytes()
    released.write_bytes(original + b"\n-- an edit after release\n")
    r = embed(work)
    check("an edited released migration stops the build",
          r.returncode != 0 and "changed after it was released" in r.stderr and "0002_legacy_import.sql" in r.stderr,
          r.stderr)
    released.write_bytes(original)

    newest = max(int(p.name[:4]) for p in work.glob("*.sql"))
    (work / f"{newest + 1:04d}_unlisted.sql").write_text("SELECT 1;\n")
    r = embed(work)
    check("a migration without its pinned hash stops the build",
          r.returncode != 0 and "not listed in" in r.stderr, r.stderr)

sys.exit(1 if failures else 0)
