"""Writes the seed inputs of each fuzz target into CORPUS/<target>/.

Usage: fuzz_seeds.py CORPUS DATA_DIR... (missing folders are skipped)
Seeds are named by their SHA-1, so re-running only adds what is new.
"""
import hashlib
import os
import sys

MAX_SEED = 64 * 1024
MAX_PER_TARGET = 400


def files_under(dirs):
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for base, _, names in os.walk(d):
            for name in sorted(names):
                path = os.path.join(base, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    yield path


def doc_selector(path):
    """The extractor a document goes to (extractors_fuzz.cc: data[0] % 5)."""
    p = path.replace(os.sep, "/")
    if "/dlq/" in p or "/items/" in p:
        return 1
    if "checkpoint-v" in p:
        return 2
    if p.endswith(".checkpoint.json"):
        return 4
    return 3


def main():
    corpus, dirs = sys.argv[1], sys.argv[2:]
    seeds = {t: [] for t in ("event_scan", "extractors", "legacy_scan", "time", "encode", "config", "discovery")}
    own = [d for d in dirs if d.rstrip("/").endswith("tests/fuzz/seeds")]
    for path in files_under(dirs):
        rel = path.replace(os.sep, "/")
        for target in seeds:
            if f"/seeds/{target}/" in rel:
                seeds[target].append(open(path, "rb").read()[:MAX_SEED])
        if any(rel.startswith(o) for o in own):
            continue
        data = open(path, "rb").read()
        if rel.endswith(".gz"):
            seeds["legacy_scan"].append(b"\x01" + data[:MAX_SEED])
        elif ".jsonl" in rel:
            for line in data.splitlines()[:50]:
                seeds["event_scan"].append(line)
                seeds["extractors"].append(b"\x00" + line)
            seeds["legacy_scan"].append(b"\x00" + data[:MAX_SEED])
        elif rel.endswith(".json"):
            sel = doc_selector(rel)
            seeds["extractors"].append(bytes([sel]) + data[:MAX_SEED])
            seeds["legacy_scan"].append(bytes([(sel % 6) << 1]) + data[:MAX_SEED])
    for target, items in seeds.items():
        out = os.path.join(corpus, target)
        os.makedirs(out, exist_ok=True)
        for data in items[:MAX_PER_TARGET]:
            name = hashlib.sha1(data).hexdigest()
            path = os.path.join(out, name)
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)


if __name__ == "__main__":
    main()
