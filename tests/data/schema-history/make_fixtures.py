#!/usr/bin/env python3
"""Makes the old-database fixtures of tests/unit/schema_history_test.cc.

Each fixture is a database as an earlier edition of the schema left it, with
rows in every table, so the test can prove that opening it with today's
library brings it to the current shape with every row intact:

  v1.db        created by 0001_core.sql only (schema version 1)
  v2-first.db  created by the first edition of 0002_legacy_import.sql, before
               import_sources.rows_changed and its triggers were added to it
  v2.db        created by the released 0002_legacy_import.sql

Usage (from the repository root, with history; the fixtures are committed and
need not be made again):
  meson setup build && meson compile -C build
  python3 tests/data/schema-history/make_fixtures.py build/tools/cli/prodigy-store

The rows come from a real import of tests/data/sample-repo by today's binary
(the donor database), copied column by column into each edition's tables.
"""
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIRST_0002 = "8e4775c"  # the commit that first shipped 0002_legacy_import.sql

CORE_TABLES = ["events", "dlq_items", "job_states", "sessions", "workflow_checkpoints"]
LEDGER_TABLES = ["import_sources", "unparsed_lines", "source_blobs"]


def donor_database(cli, tmp):
    repo = tmp / "fixture-repo"
    shutil.copytree(ROOT / "tests/data/sample-repo", repo)
    root = tmp / "root"
    env = dict(os.environ, PRODIGY_STORAGE_DIR=str(root), HOME=str(tmp))
    subprocess.run([cli, "--repo", str(repo), "migrate", "--keep-originals", "-q"], check=True, env=env)
    path = subprocess.run([cli, "--repo", str(repo), "path"], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()
    return pathlib.Path(path)


def columns(db, schema, table):
    return [r[1] for r in db.execute(f"PRAGMA {schema}.table_info({table})")]


def make(out, scripts, version, donor):
    out.unlink(missing_ok=True)
    db = sqlite3.connect(out)
    for sql in scripts:
        db.executescript(sql)
    db.execute("ATTACH ? AS donor", (str(donor),))
    tables = CORE_TABLES + (LEDGER_TABLES if version >= 2 else [])
    for table in tables:
        cols = [c for c in columns(db, "main", table) if c in columns(db, "donor", table)]
        select = ", ".join("NULL" if version < 2 and c in ("source_id", "line_no") else c for c in cols)
        db.execute(f"INSERT INTO main.{table} ({', '.join(cols)}) SELECT {select} FROM donor.{table}")
    if version >= 2 and "rows_changed" in columns(db, "main", "import_sources"):
        # Counts that migration 0003 must keep.
        db.execute("UPDATE import_sources SET rows_changed = 2 WHERE id = (SELECT min(id) FROM import_sources)")
    db.execute("INSERT INTO repository (id, canonical_path, name, created_at) "
               "VALUES (1, '/fixture-repo', 'fixture-repo', '2026-11-26T03:00:00Z')")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.execute("DETACH donor")
    db.execute("VACUUM")
    db.close()


def main():
    cli = sys.argv[1]
    core = (ROOT / "migrations/0001_core.sql").read_text()
    released = (ROOT / "migrations/0002_legacy_import.sql").read_text()
    first = subprocess.run(["git", "-C", str(ROOT), "show", f"{FIRST_0002}:migrations/0002_legacy_import.sql"],
                           check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as t:
        donor = donor_database(cli, pathlib.Path(t))
        make(HERE / "v1.db", [core], 1, donor)
        make(HERE / "v2-first.db", [core, first], 2, donor)
        make(HERE / "v2.db", [core, released], 2, donor)


if __name__ == "__main__":
    main()
