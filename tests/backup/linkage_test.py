#!/usr/bin/env python3
"""Checks which shared libraries an ELF file links (its DT_NEEDED entries).

Usage: linkage_test.py FILE [+NAME | -NAME]...
  +NAME  a NEEDED entry starting with NAME must be present (e.g. +libcurl)
  -NAME  no NEEDED entry may start with NAME
The default build must not link the optional backends' client libraries.
"""
import subprocess
import sys


def needed(path):
    out = subprocess.run(["readelf", "-d", "--wide", path], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line]


def main():
    path, rules = sys.argv[1], sys.argv[2:]
    libs = needed(path)
    failed = False
    for rule in rules:
        want, name = rule[0] == "+", rule[1:]
        found = [lib for lib in libs if lib.startswith(name)]
        if want and not found:
            print(f"{path}: links no {name} (NEEDED: {', '.join(libs)})")
            failed = True
        if not want and found:
            print(f"{path}: links {', '.join(found)}, which this build must not")
            failed = True
    print(f"{path}: NEEDED {', '.join(libs)}")
    sys.exit(1 if failed else 0)


main()
