#!/usr/bin/env python3
"""Tests of backup, backup ls, restore and check --repair, run as a user runs them.

Usage: backup_test.py PRODIGY_STORE CLI_FIXTURE CLI_TEST_PY [unittest args]

Reuses the CLI tests' sandbox (tests/cli/cli_test.py): every test gets its own
storage root, repository folder and HOME.
"""
import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

# cli_test imports its neighbours (json_schema).
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[3])))
spec = importlib.util.spec_from_file_location("cli_test", sys.argv[3])
cli_test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli_test)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def save_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class BackupCase(cli_test.CliCase):
    def setUp(self):
        super().setUp()
        self.backups = os.path.join(self.tmp, "backups")

    def backup(self, *extra, code=0):
        return self.cli("--json", "backup", "--to", self.backups, *extra, code=code)

    def counts(self):
        return self.js("info")["counts"]

    def damage_page(self, page, data=b"\0" * 4096):
        with open(self.db, "r+b") as f:
            f.seek((page - 1) * 4096)
            f.write(data)


class BackupTest(BackupCase):
    def test_backup_ls_and_restore_round_trip(self):
        self.populate()
        b = json.loads(self.backup().stdout)
        self.assertEqual(b["repo_name"], "my-repo")
        self.assertEqual(b["repo_path"], os.path.realpath(self.repo))
        self.assertEqual(b["counts"]["events"], 15)
        manifest = b["location"]
        self.assertTrue(manifest.startswith(os.path.join(self.backups, "my-repo") + "/"))
        self.assertTrue(manifest.endswith(".manifest.json"))
        data = manifest[:-len(".manifest.json")] + ".db.gz"
        self.assertEqual(sha256(data), b["file_sha256"])
        # The data file is a plain gzip of a sound SQLite database.
        with gzip.open(data, "rb") as f:
            raw = f.read()
        self.assertEqual(hashlib.sha256(raw).hexdigest(), b["db_sha256"])
        copy = os.path.join(self.tmp, "copy.db")
        with open(copy, "wb") as f:
            f.write(raw)
        con = sqlite3.connect(copy)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(con.execute("SELECT count(*) FROM events").fetchone()[0], 15)
        con.close()

        listed = self.js("backup", "ls", self.backups)
        self.assertEqual([x["name"] for x in listed], [b["name"]])
        self.assertIn(b["name"], self.cli("backup", "ls", self.backups).stdout)

        # Changes after the backup are undone by the restore; the old file is kept.
        subprocess.run([cli_test.FIXTURE, self.root, self.repo, "append", "session-recent", "3"], check=True,
                       env=self.env)
        self.assertEqual(self.counts()["events"], 18)
        r = self.js("restore", "--from", self.backups)
        self.assertEqual(r["restored"]["name"], b["name"])
        self.assertTrue(os.path.exists(r["moved_aside"]), r)
        self.assertIn("before-restore", r["moved_aside"])
        aside = sqlite3.connect(r["moved_aside"])
        self.assertEqual(aside.execute("SELECT count(*) FROM events").fetchone()[0], 18)
        aside.close()
        self.assertEqual(self.counts()["events"], 15)
        self.assertEqual(len(self.raw_lines(cli_test.RECENT_JOB)), 5)
        mirror = os.path.join(self.repo_dir, "events", cli_test.RECENT_JOB, "events.jsonl")
        with open(mirror) as f:
            self.assertEqual(len(f.read().splitlines()), 5)
        self.cli("check")
        # A manifest path names one backup.
        text = self.cli("restore", "--from", manifest).stdout
        self.assertIn("restored " + manifest, text)
        self.assertIn("(kept)", text)

    def test_keep_prunes_the_oldest(self):
        self.populate()
        names = [json.loads(self.backup("--keep", "2").stdout)["name"] for _ in range(3)]
        listed = [x["name"] for x in self.js("backup", "ls", self.backups)]
        self.assertEqual(listed, names[1:])
        self.assertEqual(sorted(os.listdir(os.path.join(self.backups, "my-repo"))),
                         sorted([n + ".db.gz" for n in names[1:]] + [n + ".manifest.json" for n in names[1:]]))
        self.assert_usage_error("backup", "--to", self.backups, "--keep", "-1", message="--keep")
        self.assert_usage_error("backup", message="--to")
        self.assert_usage_error("restore", message="--from")

    def test_backup_while_four_processes_append(self):
        self.populate()
        writers = [subprocess.Popen([cli_test.FIXTURE, self.root, self.repo, "append", f"writer-{i}", "40"],
                                    env=self.env) for i in range(4)]
        taken = []
        try:
            time.sleep(0.3)
            for _ in range(3):
                taken.append(json.loads(self.backup().stdout))
                time.sleep(0.3)
        finally:
            for w in writers:
                self.assertEqual(w.wait(timeout=120), 0)
        for b in taken:
            with gzip.open(b["location"][:-len(".manifest.json")] + ".db.gz", "rb") as f:
                raw = f.read()
            path = os.path.join(self.tmp, "snap.db")
            with open(path, "wb") as f:
                f.write(raw)
            con = sqlite3.connect(path)
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertEqual(con.execute("SELECT count(*) FROM events").fetchone()[0], b["counts"]["events"])
            # Each writer's log is a prefix of what it wrote: one consistent moment.
            for i in range(4):
                n = con.execute("SELECT count(*) FROM events WHERE job_id = ?", (f"writer-{i}",)).fetchone()[0]
                ids = [json.loads(r[0])["id"] for r in con.execute(
                    "SELECT json FROM events WHERE job_id = ? ORDER BY seq", (f"writer-{i}",))]
                self.assertEqual(len(set(ids)), n)
            con.close()
            os.remove(path)
        self.assertGreater(taken[-1]["counts"]["events"], taken[0]["counts"]["events"])
        # The last backup restores, and the writers' later events go aside with the old file.
        self.cli("restore", "--from", taken[-1]["location"])
        self.assertEqual(self.counts()["events"], taken[-1]["counts"]["events"])
        self.cli("check")


class BackupBadInputTest(BackupCase):
    def setUp(self):
        super().setUp()
        self.populate()
        self.b = json.loads(self.backup().stdout)
        self.manifest = self.b["location"]
        self.data = self.manifest[:-len(".manifest.json")] + ".db.gz"

    def assert_untouched(self, before):
        self.assertEqual(sha256(self.db), before)
        self.assertFalse([f for f in os.listdir(self.repo_dir) if "before-restore" in f or f.startswith(".restore")])

    def restore_fails(self, code, *messages, source=None):
        before = sha256(self.db)
        r = self.cli("restore", "--from", source or self.manifest, code=code)
        for m in messages:
            self.assertIn(m, r.stderr)
        self.assertIn("Nothing was changed", r.stderr)
        self.assert_untouched(before)
        return r

    def test_truncated_and_tampered_backups(self):
        with open(self.data, "rb") as f:
            original = f.read()
        with open(self.data, "wb") as f:
            f.write(original[: len(original) // 2])
        self.restore_fails(3, "is damaged or was changed", self.manifest)
        tampered = bytearray(original)
        tampered[len(tampered) // 2] ^= 0xFF
        with open(self.data, "wb") as f:
            f.write(bytes(tampered))
        self.restore_fails(3, "is damaged or was changed")
        # A manifest edited to match the tampered file: the gzip check or the database hash catches it.
        m = load_json(self.manifest)
        m["file_sha256"] = hashlib.sha256(bytes(tampered)).hexdigest()
        save_json(self.manifest, m)
        self.restore_fails(3, self.manifest)

    def test_newer_schema_is_refused(self):
        m = load_json(self.manifest)
        m["schema_version"] = 999
        save_json(self.manifest, m)
        self.restore_fails(1, "schema version 999", "upgrade prodigy-store")

    def test_backup_of_another_repository_is_refused(self):
        other = os.path.join(self.tmp, "other-repo")
        os.makedirs(other)
        subprocess.run([cli_test.FIXTURE, self.root, other, "populate"], check=True, env=self.env)
        r = subprocess.run([cli_test.EXE, "--storage-dir", self.root, "--repo", other, "--json", "backup", "--to",
                            self.backups], capture_output=True, text=True, env=self.env, check=True)
        theirs = json.loads(r.stdout)["location"]
        self.restore_fails(1, "belongs to repository " + os.path.realpath(other), "--repo", source=theirs)

    def test_unfinished_backup_is_not_listed_or_restored(self):
        os.remove(self.manifest)
        self.assertEqual(self.js("backup", "ls", self.backups), [])
        self.restore_fails(1, "holds no backup of repository my-repo", source=self.backups)
        r = self.cli("restore", "--from", self.data, code=1)
        self.assertIn("unfinished", r.stderr)

    def test_refused_while_another_process_has_the_store_open(self):
        writer = subprocess.Popen([cli_test.FIXTURE, self.root, self.repo, "append", "busy-job", "60"], env=self.env)
        try:
            time.sleep(0.5)
            r = self.restore_fails(1, "is open in another process", "--force")
            self.assertIn(f"pid {writer.pid}", r.stderr)
        finally:
            self.assertEqual(writer.wait(timeout=60), 0)
        self.cli("restore", "--from", self.manifest)

    def test_unusable_targets(self):
        blocker = os.path.join(self.tmp, "a-file")
        open(blocker, "w").close()
        r = self.cli("backup", "--to", os.path.join(blocker, "sub"), code=1)
        self.assertIn(blocker, r.stderr)
        self.assertEqual(self.js("backup", "ls", self.backups)[0]["name"], self.b["name"])
        r = self.cli("backup", "--to", "ftp://example.org/x", code=1)
        self.assertIn("unknown backup target", r.stderr)
        r = self.cli("restore", "--from", os.path.join(self.tmp, "nowhere"), code=1)
        self.assertIn("holds no backup", r.stderr)


class RepairTest(BackupCase):
    def test_check_repair_rebuilds_a_damaged_database(self):
        self.populate()
        want = self.counts()
        lines = self.raw_lines(cli_test.OLD_JOB)
        self.damage_page(3, os.urandom(4096))
        r = self.cli("check", code=3)
        self.assertIn("prodigy-store check --repair", r.stderr)
        self.assertIn("restore --from", r.stderr)
        r = self.cli("check", "--repair")
        self.assertIn("recovery", r.stdout)
        self.assertIn("damaged file kept as", r.stdout)
        self.cli("check")
        got = self.counts()
        for kind in ("events", "dlq_items", "job_states", "sessions", "workflow_checkpoints"):
            self.assertEqual(got[kind], want[kind], kind)
        self.assertEqual(self.raw_lines(cli_test.OLD_JOB), lines)
        kept = [d for d in os.listdir(self.repo_dir) if d.startswith("damaged-")]
        self.assertEqual(len(kept), 1)
        self.assertTrue(os.path.exists(os.path.join(self.repo_dir, kept[0], "prodigy.db")))
        # A sound database: --repair has nothing to rebuild.
        j = self.js("check", "--repair")
        self.assertFalse(j["recovery"]["needed"])

    def test_damaged_database_error_names_the_commands(self):
        self.populate()
        pages = os.path.getsize(self.db) // 4096
        for page in range(2, pages + 1):
            self.damage_page(page, os.urandom(4096))
        r = self.cli("events", "show", cli_test.OLD_JOB, code=1)
        self.assertIn("check --repair", r.stderr + r.stdout)


if __name__ == "__main__":
    cli_test.EXE = os.path.abspath(sys.argv[1])
    cli_test.FIXTURE = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)
