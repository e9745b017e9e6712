#!/usr/bin/env python3
"""Fails when a tracked C/C++ file differs from the committed .clang-format.

Usage: formatted_test.py SOURCE_ROOT. Fix a failure with
  git ls-files '*.cc' '*.h' '*.c' | xargs clang-format-14 -i
The version is pinned: another clang-format release may format differently.
"""
import shutil
import subprocess
import sys

root = sys.argv[1]
tool = shutil.which("clang-format-14")
if tool is None:
    sys.exit("clang-format-14 is not installed: apt-get install clang-format-14 (tools/test.sh does)")
try:
    files = subprocess.run(["git", "-C", root, "ls-files", "*.cc", "*.h", "*.c"], check=True,
                           capture_output=True, text=True).stdout.split()
except (OSError, subprocess.CalledProcessError) as e:
    sys.exit(f"listing the tracked sources of {root} with git failed: {e}")
if not files:
    sys.exit(f"no tracked .cc/.h/.c files under {root}: not a git checkout?")
result = subprocess.run([tool, "--dry-run", "--Werror", *files], cwd=root, capture_output=True, text=True)
if result.returncode != 0:
    wrong = sorted({line.split(":", 1)[0] for line in result.stderr.splitlines() if ": error:" in line})
    print(f"{len(wrong)} file(s) differ from .clang-format:", *wrong, sep="\n  ")
    print("fix: git ls-files '*.cc' '*.h' '*.c' | xargs clang-format-14 -i")
    sys.exit(1)
print(f"{len(files)} files formatted as .clang-format says")
