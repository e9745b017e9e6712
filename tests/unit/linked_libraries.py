#!/usr/bin/env python3
"""Checks the ELF NEEDED list of the built library: a backend's client library
(libpq, hiredis) is linked exactly when its build option is enabled, so the
default build pays nothing for the backends it does not contain.

usage: linked_libraries.py LIBRARY NAME=true|false ...   (NAME: soname prefix, e.g. libpq)
"""
import subprocess
import sys

library, expectations = sys.argv[1], sys.argv[2:]
out = subprocess.run(["readelf", "-d", library], check=True, capture_output=True, text=True).stdout
needed = [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line]
failures = []
for item in expectations:
    name, wanted = item.split("=", 1)
    linked = any(so.startswith(name + ".so") for so in needed)
    if linked != (wanted == "true"):
        failures.append(f"{library}: {name} is {'linked' if linked else 'not linked'}, expected "
                        f"{'linked' if wanted == 'true' else 'not linked'} (NEEDED: {', '.join(needed)})")
print("\n".join(failures) if failures else f"NEEDED: {', '.join(needed)}")
sys.exit(1 if failures else 0)
