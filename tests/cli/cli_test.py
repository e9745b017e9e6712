#!/usr/bin/env python3
"""Tests of the prodigy-store binary, run as a user runs it.

Usage: cli_test.py PRODIGY_STORE CLI_FIXTURE [unittest args, e.g. -k EventsTest]

Every test gets its own temporary storage root, repository folder and HOME.
Data is written through the library by cli_fixture (tests/cli/fixture.cc) or
through the CLI itself; see fixture.cc for the data set.
"""
import csv
import gzip
import io
import json
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import json_schema

EXE = None
FIXTURE = None
SHARED = os.environ.get("PRODIGY_SHARED_DATA")

OLD_JOB = "mapreduce-20250920_170312"    # 10 events on 2025-09-20
RECENT_JOB = "session-recent"            # 5 events about an hour ago
DLQ_JOB = "mapreduce-1758387792480"      # 5 DLQ items, state versions 1-3

# PRODIGY_TEST_ENGINE=postgres runs the same tests on a PostgreSQL server
# (PRODIGY_TEST_PG_URL, tests/servers/with_postgres.sh): each test gets its own
# database there, named in PRODIGY_STORAGE_URL. Tests about SQLite's files
# (@sqlite_only) are not loaded in that run (tests/postgres/meson.build).
ON_POSTGRES = os.environ.get("PRODIGY_TEST_ENGINE") == "postgres"
PG_URL = os.environ.get("PRODIGY_TEST_PG_URL", "")


def sqlite_only(test):
    test.sqlite_only = True
    return test


def postgres_only(test):
    test.postgres_only = True
    return test


def psql(sql, url=None):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url or PG_URL, "-c", sql], check=True,
                   capture_output=True)


def database_url(url, name):
    """The server URL with another database: postgresql:///DB?query -> postgresql:///NAME?query."""
    head, _, query = url.partition("?")
    scheme, _, rest = head.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


class CliCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="prodigy-cli-test-")
        self.root = os.path.join(self.tmp, "root")
        self.repo = os.path.join(self.tmp, "my-repo")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.repo)
        os.makedirs(self.home)
        self.env = dict(os.environ, HOME=self.home)
        for var in ("PRODIGY_STORAGE_DIR", "PRODIGY_LOG", "PRODIGY_USE_LOCAL_STORAGE", "PRODIGY_STORAGE_URL",
                    "PRODIGY_REDIS_URL"):
            self.env.pop(var, None)
        self.db = os.path.join(self.root, "my-repo", "prodigy.db")
        self.repo_dir = os.path.join(self.root, "my-repo")
        if ON_POSTGRES:
            self.pg_database = "cli_" + os.path.basename(self.tmp).replace("-", "_").lower()
            psql(f"CREATE DATABASE {self.pg_database}")
            self.env["PRODIGY_STORAGE_URL"] = database_url(PG_URL, self.pg_database)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        if ON_POSTGRES:
            psql(f"DROP DATABASE {self.pg_database} WITH (FORCE)")

    def populate(self):
        subprocess.run([FIXTURE, self.root, self.repo, "populate"], check=True, env=self.env)

    def cli(self, *args, code=0, env=None, cwd=None, globals_=True):
        """Runs prodigy-store; asserts the exit code; returns the result."""
        argv = [EXE]
        if globals_:
            argv += ["--storage-dir", self.root, "--repo", self.repo]
        argv += list(args)
        r = subprocess.run(argv, capture_output=True, text=True, env=env or self.env, cwd=cwd or self.repo,
                           timeout=60)
        self.assertEqual(r.returncode, code,
                         f"{' '.join(args)}: exit {r.returncode}, want {code}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    GROUPS = ("events", "dlq", "state", "sessions", "checkpoints", "leases")

    def command_name(self, words):
        """The command of these words: a group's subcommand, `backup ls`, or the first word."""
        if len(words) > 1 and (words[0] in self.GROUPS or words[:2] == ["backup", "ls"]):
            return " ".join(words[:2])
        return words[0]

    def check_schema(self, args, value):
        """--json output must match its schema in docs/json-schema/ (machine output stays stable)."""
        words, skip = [], False
        for a in args:
            if not skip and not a.startswith("-"):
                words.append(a)
            skip = a in ("--storage-dir", "--storage-url", "--repo")
        command = self.command_name(words)
        problems = json_schema.errors(value, json_schema.load(command))
        self.assertEqual(problems, [], f"'{' '.join(args)}' --json output does not match "
                                       f"{os.path.relpath(json_schema.schema_path(command))}")

    def js(self, *args, code=0):
        value = json.loads(self.cli("--json", *args, code=code).stdout)
        self.check_schema(args, value)
        return value

    def jsonl(self, *args):
        values = [json.loads(line) for line in self.cli("--json", *args).stdout.splitlines()]
        for value in values:
            self.check_schema(args, value)
        return values

    def read_mirror(self, *parts):
        """A mirror file of the repository; on PostgreSQL, written on demand first (export --mirrors)."""
        if ON_POSTGRES:
            self.cli("export", "--mirrors")
        with open(os.path.join(self.repo_dir, *parts)) as f:
            return f.read()

    def raw_lines(self, job):
        return self.cli("events", "show", job, "--raw").stdout.splitlines()

    def assert_usage_error(self, *args, message=None):
        r = self.cli(*args, code=2)
        self.assertIn("Usage: prodigy-store", r.stderr)
        self.assertTrue(r.stderr.startswith("prodigy-store: "), r.stderr)
        if message:
            self.assertIn(message, r.stderr)
        return r


class BasicsTest(CliCase):
    def test_relative_storage_dir_in_config_is_relative_to_the_config_file(self):
        os.makedirs(os.path.join(self.home, ".prodigy"))
        with open(os.path.join(self.home, ".prodigy", "config.toml"), "w") as f:
            f.write('storage_dir = "../prodigy-data"\n')
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        for cwd in (self.repo, elsewhere):
            j = json.loads(self.cli("--json", "info", "--repo", self.repo, globals_=False, cwd=cwd).stdout)
            self.assertEqual(j["storage_dir"], os.path.join(self.home, "prodigy-data"), cwd)
            self.assertEqual(j["storage_dir_source"], "config")
        # Typed by the user: relative to where they are.
        env = dict(self.env, PRODIGY_STORAGE_DIR="here")
        j = json.loads(self.cli("--json", "info", "--repo", self.repo, globals_=False, cwd=elsewhere, env=env).stdout)
        self.assertEqual((j["storage_dir"], j["storage_dir_source"]), (os.path.join(elsewhere, "here"), "env"))
        j = json.loads(self.cli("--json", "--storage-dir", "there", "info", "--repo", self.repo, globals_=False,
                                cwd=elsewhere).stdout)
        self.assertEqual((j["storage_dir"], j["storage_dir_source"]), (os.path.join(elsewhere, "there"), "flag"))

    def test_info_without_database_writes_nothing(self):
        j = self.js("info")
        self.assertEqual(j["storage_dir"], self.root)
        self.assertEqual(j["storage_dir_source"], "flag")
        self.assertEqual(j["repo_name"], "my-repo")
        self.assertEqual(j["repo_path"], os.path.realpath(self.repo))
        self.assertEqual(j["db_path"], self.db)
        self.assertFalse(j["db_exists"])
        self.assertIsNone(j["schema_version"])
        self.assertEqual(j["counts"], {"events": 0, "dlq_items": 0, "job_states": 0, "sessions": 0,
                                       "workflow_checkpoints": 0, "unparsed_lines": 0, "import_sources": 0})
        self.assertEqual(j["legacy_sources"], [])
        self.assertFalse(os.path.exists(self.root), "info must not create the storage root")
        text = self.cli("info").stdout
        self.assertIn("not created yet", text)
        self.assertFalse(os.path.exists(self.root))

    @sqlite_only
    def test_info_shows_the_storage_url_without_its_password(self):
        j = self.js("--storage-url", "postgresql://bob:hunter2@db.example/prodigy", "info")
        self.assertEqual(j["backend"], "postgres")
        self.assertEqual(j["storage_url"], "postgresql://bob:***@db.example/prodigy")
        self.assertEqual(j["repository_key"], "my-repo")
        r = self.cli("info", env=dict(self.env, PRODIGY_STORAGE_URL="host=db.example password=hunter2"))
        self.assertIn("host=db.example password=*** (from env)", r.stdout)
        self.assertNotIn("hunter2", r.stdout + r.stderr)
        j = self.js("info")
        self.assertEqual(j["backend"], "sqlite")
        self.assertIsNone(j["storage_url"])
        r = self.cli("--storage-url", "postgress://bob:hunter2@db/x", "info", code=1)
        self.assertIn("storage URL 'postgress://bob:***@db/x' has the unknown scheme 'postgress'", r.stderr)
        self.assertNotIn("hunter2", r.stderr)

    @sqlite_only
    def test_sync_needs_one_direction_and_never_prints_the_password(self):
        self.assert_usage_error("sync", message="give exactly one of --to URL and --from URL")
        self.populate()
        r = self.cli("sync", "--to", "postgresql://bob:hunter2@/x?host=/nonexistent", code=1)
        self.assertNotIn("hunter2", r.stderr)
        # Without the engine: how to build it; with it: the unreachable server.
        self.assertTrue("-Dpostgres=enabled" in r.stderr or "cannot reach PostgreSQL server" in r.stderr, r.stderr)

    def test_info_counts_and_repositories(self):
        self.populate()
        j = self.js("info")
        self.assertTrue(j["db_exists"])
        self.assertGreaterEqual(j["schema_version"], 1)
        self.assertEqual(j["counts"]["events"], 15)
        self.assertEqual(j["counts"]["dlq_items"], 5)
        self.assertEqual(j["counts"]["job_states"], 3)
        self.assertEqual(j["counts"]["sessions"], 2)
        # Local store folders under the root (a PostgreSQL store has none).
        self.assertEqual([r["name"] for r in j["repositories"]], [] if ON_POSTGRES else ["my-repo"])
        self.assertGreater(j["db_bytes"], 0 if not ON_POSTGRES else -1)  # no local file on PostgreSQL
        self.assertTrue(j["mirrors_enabled"])
        text = self.cli("info").stdout
        self.assertIn("storage root:", text)
        self.assertIn("(from flag)", text)
        self.assertIn("events 15, dlq_items 5", text)

    def test_info_names_the_source_of_the_root(self):
        env = dict(self.env, PRODIGY_STORAGE_DIR=self.root)
        r = subprocess.run([EXE, "--json", "info"], capture_output=True, text=True, env=env, cwd=self.repo)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["storage_dir_source"], "env")
        r = subprocess.run([EXE, "--json", "info"], capture_output=True, text=True, env=self.env, cwd=self.repo)
        j = json.loads(r.stdout)
        self.assertEqual((j["storage_dir_source"], j["storage_dir"]), ("default", os.path.join(self.home, ".prodigy")))
        os.makedirs(os.path.join(self.home, ".prodigy"))
        with open(os.path.join(self.home, ".prodigy", "config.toml"), "w") as f:
            f.write(f'storage_dir = "{self.root}"\n')
        r = subprocess.run([EXE, "--json", "info"], capture_output=True, text=True, env=self.env, cwd=self.repo)
        j = json.loads(r.stdout)
        self.assertEqual((j["storage_dir_source"], j["storage_dir"]), ("config", self.root))

    def test_bad_config_file_is_an_error_naming_the_key(self):
        os.makedirs(os.path.join(self.home, ".prodigy"))
        with open(os.path.join(self.home, ".prodigy", "config.toml"), "w") as f:
            f.write("storage_dirr = \"/x\"\n")
        r = self.cli("info", code=1, globals_=False)
        self.assertIn("storage_dirr", r.stderr)
        self.assertTrue(r.stderr.startswith("prodigy-store: "))

    def test_verbose_quiet_and_notices(self):
        self.populate()
        self.assertIn("[debug]", self.cli("-v", "events", "ls").stderr)
        self.assertNotIn("[debug]", self.cli("events", "ls").stderr)
        env = dict(self.env, PRODIGY_USE_LOCAL_STORAGE="true")
        r = self.cli("info", env=env)
        self.assertIn("PRODIGY_USE_LOCAL_STORAGE", r.stderr)
        self.assertEqual(len(json.loads(self.cli("--json", "info", env=env).stdout)["notices"]), 1)
        self.assertEqual(self.cli("-q", "info", env=env).stderr, "")

    @unittest.skipIf(not os.path.exists("/dev/full"), "no /dev/full")
    def test_output_that_cannot_be_written_is_an_error(self):
        self.populate()
        with open("/dev/full", "w") as full:
            r = subprocess.run([EXE, "--storage-dir", self.root, "--repo", self.repo, "events", "show", OLD_JOB,
                                "--raw"], stdout=full, stderr=subprocess.PIPE, text=True, env=self.env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("writing the output failed", r.stderr)

    @sqlite_only
    def test_path_is_usable_with_sqlite3(self):
        self.populate()
        path = self.cli("path").stdout.strip()
        self.assertEqual(path, self.db)
        with sqlite3.connect(path) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM events").fetchone()[0], 15)
        self.assertEqual(self.js("path"), {"db_path": self.db, "exists": True})

    @unittest.skipIf(shutil.which("git") is None, "git is not installed")
    def test_repo_defaults_to_the_git_top_level(self):
        subprocess.run(["git", "init", "-q", self.repo], check=True)
        sub = os.path.join(self.repo, "src", "deep")
        os.makedirs(sub)
        r = subprocess.run([EXE, "--storage-dir", self.root, "path"], capture_output=True, text=True,
                           env=self.env, cwd=sub)
        self.assertEqual(r.stdout.strip(), self.db)
        # Outside a work tree it is the current directory.
        plain = os.path.join(self.tmp, "plain")
        os.makedirs(plain)
        r = subprocess.run([EXE, "--storage-dir", self.root, "path"], capture_output=True, text=True,
                           env=self.env, cwd=plain)
        self.assertEqual(r.stdout.strip(), os.path.join(self.root, "plain", "prodigy.db"))

    def test_usage_errors_exit_2(self):
        r = subprocess.run([EXE], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no command given", r.stderr)
        self.assert_usage_error("frobnicate", message="unknown command 'frobnicate'")
        self.assert_usage_error("events", message="'events' needs a subcommand")
        self.assert_usage_error("events", "frob", message="unknown subcommand 'frob' of 'events'")
        self.assert_usage_error("events", "show", message="missing JOB")
        self.assert_usage_error("events", "show", "a", "b", message="unexpected argument 'b'")
        self.assert_usage_error("events", "ls", "--bogus", message="bogus")
        self.assert_usage_error("events", "show", "j", "--since", "yesterday", message="--since 'yesterday'")
        self.assert_usage_error("events", "show", "j", "--limit", "ten", message="--limit 'ten'")
        self.assert_usage_error("events", "show", "j", "--limit", message="limit")
        self.assert_usage_error("events", "--limit", "3", "ls", message="needs a subcommand before its options")
        self.assert_usage_error("dlq", "show", "job-only", message="missing JOB ITEM")
        self.assert_usage_error("dlq", "purge", message="--older-than D is required")
        self.assert_usage_error("export", "--format", "xml", "--kind", "events", message="--format 'xml'")
        self.assert_usage_error("events", "clean", "--max-size", "12XB", message="--max-size '12XB'")
        self.assert_usage_error("-v", "-q", "info", message="-v and -q")

    def test_help_for_every_command_with_an_example(self):
        overview = self.cli("--help", globals_=False).stdout
        self.assertIn("Exit codes: 0 ok, 1 error, 2 usage error, 3 verification failed", overview)
        names = []
        for line in overview.split("Commands:\n")[1].split("\n\n")[0].splitlines():
            words = line.split()
            name = words[0]
            if len(words) > 1 and words[0] in ("events", "dlq", "state", "sessions", "checkpoints", "leases"):
                name += " " + words[1]
            names.append(name)
        for expected in ["info", "path", "migrate", "import", "export", "events ls", "events show", "events tail",
                         "events stats", "events clean", "dlq ls", "dlq show", "dlq stats", "dlq analyze",
                         "dlq purge", "dlq export", "dlq retry", "dlq rm", "state ls", "state show",
                         "state history", "sessions ls", "sessions show", "checkpoints ls", "checkpoints show",
                         "check", "leases ls", "leases release"]:
            self.assertIn(expected, names)
        for name in names:
            r = self.cli(*name.split(), "--help", globals_=False)
            self.assertIn(f"Usage: prodigy-store {name}", r.stdout)
            self.assertIn("Example", r.stdout)
            self.assertIn("--storage-dir", r.stdout)
        self.assertIn("events tail", self.cli("events", "--help", globals_=False).stdout)
        self.assertIn("Usage: prodigy-store dlq analyze", self.cli("help", "dlq", "analyze", globals_=False).stdout)

    def run_on_pty(self, args, stream):
        """Runs with stdout or stderr on a 100-column terminal; returns what the terminal got."""
        import fcntl
        import pty
        import struct
        import termios
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        argv = [EXE, "--storage-dir", self.root, "--repo", self.repo] + args
        redirect = {"stdout": slave} if stream == "stdout" else {"stderr": slave, "stdout": subprocess.DEVNULL}
        p = subprocess.Popen(argv, env=self.env, **redirect)
        os.close(slave)
        got = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            got += chunk
        os.close(master)
        self.assertEqual(p.wait(), 0)
        return got.decode()

    def test_terminal_output(self):
        self.populate()
        table = self.run_on_pty(["events", "show", OLD_JOB], "stdout").replace("\r\n", "\n").splitlines()
        self.assertEqual(table[0].split(), ["SEQ", "TIMESTAMP", "TYPE", "AGENT", "DETAILS"])
        self.assertTrue(all(len(line) <= 100 for line in table), table)
        self.assertTrue(any(line.endswith("...") for line in table), "long details are cut to the width")
        progress = self.run_on_pty(["check"], "stderr")
        self.assertIn("checking (opening)", progress)  # the first step is drawn at once
        self.assertRegex(progress, r"\r\x1b\[Kchecking: 3/3 in \d+\.\d s\r\n$", "a clean final line ends the progress")
        quiet = self.run_on_pty(["-q", "check"], "stderr")
        self.assertEqual(quiet, "")
        self.assertEqual(self.cli("check").stderr, "", "no progress when stderr is not a terminal")

    def test_a_repository_without_a_store_is_reported_and_not_created(self):
        for args in (["events", "ls"], ["dlq", "ls"], ["state", "ls"], ["sessions", "show", "x"], ["check"]):
            r = self.cli(*args, code=1)
            self.assertIn("has no repository with the key 'my-repo' (nothing was created)" if ON_POSTGRES else self.db,
                          r.stderr)
            self.assertFalse(os.path.exists(self.db), args)


class EventsTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def test_ls(self):
        jobs = {j["job_id"]: j for j in self.js("events", "ls")["jobs"]}
        self.assertEqual(set(jobs), {OLD_JOB, RECENT_JOB})
        self.assertEqual(jobs[OLD_JOB]["events"], 10)
        self.assertEqual(jobs[OLD_JOB]["status"], "completed")
        self.assertEqual(jobs[OLD_JOB]["first_timestamp"], "2025-09-20T17:03:00.482913Z")
        self.assertEqual(jobs[RECENT_JOB]["status"], "unknown")
        lines = self.cli("events", "ls").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["JOB", "EVENTS", "FIRST", "LAST", "STATUS"])
        self.assertNotIn("\t", "".join(lines))
        # Aligned: every row's second column starts where the header's does.
        col = lines[0].index("EVENTS")
        for line in lines[1:]:
            self.assertEqual(line[col - 1], " ", line)
            self.assertNotEqual(line[col], " ", line)

    def test_type_filter_accepts_every_spelling(self):
        for spelling in ("agent_completed", "AgentCompleted"):
            seqs = [e["seq"] for e in self.jsonl("events", "show", OLD_JOB, "--type", spelling)]
            self.assertEqual(seqs, [5, 6], spelling)
        for spelling in ("dlq_item_added", "d_l_q_item_added", "DLQItemAdded"):
            events = self.jsonl("events", "show", OLD_JOB, "--type", spelling)
            self.assertEqual([e["seq"] for e in events], [9], spelling)
            self.assertEqual(events[0]["event_type"], "d_l_q_item_added")
            self.assertEqual(events[0]["event_name"], "dlq_item_added")
        both = self.jsonl("events", "show", OLD_JOB, "--type", "AgentCompleted,d_l_q_item_added")
        self.assertEqual([e["seq"] for e in both], [5, 6, 9])
        repeated = self.jsonl("events", "show", OLD_JOB, "--type", "job_started", "--type", "JobCompleted")
        self.assertEqual([e["seq"] for e in repeated], [1, 10])

    def test_agent_time_and_limit_filters(self):
        self.assertEqual(len(self.jsonl("events", "show", OLD_JOB, "--agent", "agent-2-item_2")), 3)
        since = self.jsonl("events", "show", OLD_JOB, "--since", "2025-09-20T17:05:00.482913Z")
        self.assertEqual([e["seq"] for e in since], [7, 8, 9, 10])
        until = self.jsonl("events", "show", OLD_JOB, "--until", "2025-09-20T17:04:00Z")
        self.assertEqual([e["seq"] for e in until], [1, 2, 3, 4])
        self.assertEqual(len(self.jsonl("events", "show", OLD_JOB, "--limit", "2")), 2)
        self.assertEqual(len(self.jsonl("events", "show", RECENT_JOB, "--since", "2h")), 5)
        r = self.cli("events", "show", RECENT_JOB, "--since", "10m")
        self.assertEqual(r.stdout, "")
        self.assertIn("no events of job session-recent match", r.stderr)
        self.assertEqual(self.cli("-q", "events", "show", RECENT_JOB, "--since", "10m").stderr, "")

    def test_show_output_forms(self):
        raw = self.raw_lines(OLD_JOB)
        self.assertEqual(raw, self.read_mirror("events", OLD_JOB, "events.jsonl").splitlines(),
                         "--raw prints the records verbatim")
        events = self.jsonl("events", "show", OLD_JOB)
        self.assertEqual([json.dumps(e["record"], separators=(",", ":")) for e in events], raw)
        self.assertEqual(list(events[0].keys()), ["seq", "job_id", "timestamp", "event_type", "event_name",
                                                  "agent_id", "item_id", "record"])
        table = self.cli("events", "show", OLD_JOB).stdout.splitlines()
        self.assertEqual(table[0].split(), ["SEQ", "TIMESTAMP", "TYPE", "AGENT", "DETAILS"])
        self.assertIn("duration=61.005s", table[5])
        self.assertIn("error=Command failed with exit code 101", table[7])
        self.assert_usage_error("events", "show", OLD_JOB, "--raw", "--json", message="exclude each other")

    def test_missing_job_is_an_error(self):
        r = self.cli("events", "show", "mapreduce-nope", code=1)
        where = r"\S+ \(repository 'my-repo'\)" if ON_POSTGRES else re.escape(self.db)
        self.assertRegex(r.stderr.strip(), f"^prodigy-store: job mapreduce-nope has no events in {where}; "
                                           "list the jobs with 'prodigy-store events ls'$")
        self.cli("events", "stats", "mapreduce-nope", code=1)
        self.cli("events", "tail", "mapreduce-nope", code=1)

    def test_stats(self):
        j = self.js("events", "stats", OLD_JOB)
        self.assertEqual(j["total"], 10)
        by_type = {g["key"]: (g["count"], g["percentage"]) for g in j["by_type"]}
        self.assertEqual(by_type["agent_started"], (3, 30.0))
        self.assertEqual(by_type["dlq_item_added"], (1, 10.0))
        by_agent = {g["key"]: g["count"] for g in j["by_agent"]}
        self.assertEqual(by_agent, {"": 3, "agent-2-item_2": 3, "agent-0-item_0": 2, "agent-1-item_1": 2})
        self.assertNotIn("by_job", j)
        all_jobs = self.js("events", "stats")
        self.assertEqual(all_jobs["total"], 15)
        self.assertEqual({g["key"]: g["count"] for g in all_jobs["by_job"]}, {OLD_JOB: 10, RECENT_JOB: 5})
        self.assertAlmostEqual(sum(g["percentage"] for g in all_jobs["by_job"]), 100.0)
        text = self.cli("events", "stats", OLD_JOB).stdout
        self.assertIn("agent_started    3      30.0%", text)
        self.assertIn("(none)", text)
        filtered = self.js("events", "stats", OLD_JOB, "--type", "AgentStarted")
        self.assertEqual(filtered["total"], 3)

    def test_tail(self):
        self.assertEqual([e["seq"] for e in self.jsonl("events", "tail", "-n", "2", OLD_JOB)], [9, 10])
        self.assertEqual(len(self.jsonl("events", "tail", OLD_JOB)), 10)
        self.assertEqual([e["seq"] for e in self.jsonl("events", "tail", "-n", "1", "--type", "agent_started",
                                                       OLD_JOB)], [4])

    def test_tail_follow_sees_other_processes(self):
        argv = [EXE, "--storage-dir", self.root, "--repo", self.repo, "--json", "events", "tail", "-f", "-n", "1",
                RECENT_JOB]
        tail = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            first = json.loads(tail.stdout.readline())
            self.assertEqual(first["job_id"], RECENT_JOB)
            subprocess.run([FIXTURE, self.root, self.repo, "append", RECENT_JOB, "3"], check=True, env=self.env)
            seen = [json.loads(tail.stdout.readline()) for _ in range(3)]
            self.assertEqual([e["seq"] for e in seen], [first["seq"] + 1, first["seq"] + 2, first["seq"] + 3])
            self.assertTrue(all(e["event_name"] == "agent_progress" for e in seen))
        finally:
            tail.kill()
            tail.wait()


class EventsCleanTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def counts(self):
        return {j["job_id"]: j["events"] for j in self.js("events", "ls")["jobs"]}

    def test_requires_what_to_remove(self):
        self.assert_usage_error("events", "clean", message="--older-than D, --keep-last N and/or --max-size SIZE")
        self.assert_usage_error("events", "clean", "--older-than", "soon", message="--older-than 'soon'")

    def test_dry_run_changes_nothing(self):
        before = None if ON_POSTGRES else os.stat(self.db).st_mtime_ns
        archive = os.path.join(self.tmp, "never.jsonl.gz")
        j = self.js("events", "clean", "--keep-last", "3", "--dry-run", "--archive", archive)
        self.assertTrue(j["dry_run"])
        self.assertEqual({p["job_id"]: p["removed"] for p in j["jobs"]}, {OLD_JOB: 7, RECENT_JOB: 2})
        self.assertEqual(j["planned"], 9)
        self.assertEqual(j["removed"], 0)
        self.assertEqual(self.counts(), {OLD_JOB: 10, RECENT_JOB: 5})
        self.assertFalse(os.path.exists(archive))
        if before is not None:
            self.assertEqual(os.stat(self.db).st_mtime_ns, before)
        self.assertIn("would be removed; nothing was changed", self.cli("events", "clean", "--older-than", "30d",
                                                                        "--dry-run").stdout)

    def test_keep_last_with_archive(self):
        old_raw = self.raw_lines(OLD_JOB)
        recent_raw = self.raw_lines(RECENT_JOB)
        archive = os.path.join(self.tmp, "archive.jsonl.gz")
        j = self.js("events", "clean", "--keep-last", "3", "--archive", archive)
        self.assertEqual((j["removed"], j["archived"]), (9, 9))
        with gzip.open(archive, "rt") as f:
            archived = f.read().splitlines()
        self.assertEqual(sorted(archived), sorted(recent_raw[:2] + old_raw[:7]))
        self.assertEqual(self.raw_lines(OLD_JOB), old_raw[7:])
        self.assertEqual([e["seq"] for e in self.jsonl("events", "show", OLD_JOB)], [8, 9, 10])
        # The mirror follows the database.
        self.assertEqual(self.read_mirror("events", OLD_JOB, "events.jsonl").splitlines(), old_raw[7:])
        self.cli("check")

    def test_older_than_keeps_recent_and_undated(self):
        j = self.js("events", "clean", "--older-than", "30d")
        self.assertEqual(j["removed"], 10)
        self.assertEqual(self.counts(), {RECENT_JOB: 5})

    def test_max_size_keeps_the_newest_within_the_budget(self):
        raw = self.raw_lines(OLD_JOB)
        sizes = [len(line.encode()) + 1 for line in raw]
        budget = sum(sizes[-4:]) + 10  # room for the last 4, not 5
        self.assertLess(budget, sum(sizes[-5:]))
        self.js("events", "clean", "--job", OLD_JOB, "--max-size", str(budget))
        self.assertEqual(self.raw_lines(OLD_JOB), raw[-4:])
        self.assertEqual(self.counts()[RECENT_JOB], 5)

    def test_existing_archive_is_refused_and_nothing_is_removed(self):
        archive = os.path.join(self.tmp, "archive.jsonl.gz")
        with open(archive, "wb") as f:
            f.write(b"precious")
        r = self.cli("events", "clean", "--keep-last", "1", "--archive", archive, code=1)
        self.assertIn(f"archive {archive} already exists", r.stderr)
        self.assertIn("nothing was deleted", r.stderr)
        with open(archive, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.assertEqual(self.counts(), {OLD_JOB: 10, RECENT_JOB: 5})

    def test_unwritable_archive_removes_nothing(self):
        archive = os.path.join(self.tmp, "no-such-dir", "archive.jsonl.gz")
        r = self.cli("events", "clean", "--keep-last", "1", "--archive", archive, code=1)
        self.assertIn("nothing was deleted", r.stderr)
        self.assertEqual(self.counts(), {OLD_JOB: 10, RECENT_JOB: 5})

    def test_missing_job(self):
        r = self.cli("events", "clean", "--job", "nope", "--keep-last", "1", code=1)
        self.assertIn("job nope has no events", r.stderr)


class DlqTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def test_ls_and_filters(self):
        items = self.js("dlq", "ls")["items"]
        self.assertEqual([i["item_id"] for i in items], ["item_4", "item_3", "item_2", "item_1", "item_0"])
        self.assertEqual(items[0]["error_type"], "Timeout")
        self.assertFalse(items[0]["reprocess_eligible"])
        self.assertEqual(len(self.js("dlq", "ls", "--eligible")["items"]), 4)
        self.assertEqual(len(self.js("dlq", "ls", "--limit", "2")["items"]), 2)
        self.assertEqual(len(self.js("dlq", "ls", "--error-type", "Timeout")["items"]), 2)
        self.assertEqual(len(self.js("dlq", "ls", "--signature", "exit code")["items"]), 3)
        self.assertEqual(self.js("dlq", "ls", "--job", "nope")["items"], [])
        table = self.cli("dlq", "ls").stdout.splitlines()
        self.assertEqual(table[0].split()[:3], ["JOB", "ITEM", "FAILURES"])
        self.assertEqual(len(table), 6)

    def test_show_prints_the_document_verbatim(self):
        shown = self.cli("dlq", "show", DLQ_JOB, "item_3").stdout
        self.assertEqual(shown, self.read_mirror("dlq", DLQ_JOB, "items", "item_3.json") + "\n")
        r = self.cli("dlq", "show", DLQ_JOB, "item_9", code=1)
        self.assertIn(f"DLQ item item_9 of job {DLQ_JOB} does not exist", r.stderr)

    def test_stats(self):
        s = self.js("dlq", "stats", DLQ_JOB)
        self.assertEqual((s["total_items"], s["eligible_for_reprocess"], s["requiring_manual_review"]), (5, 4, 0))
        self.assertEqual(s["oldest_item"], "2025-09-20T16:59:40.000093Z")
        self.assertEqual(s["newest_item"], "2025-09-20T19:02:00.000001Z")
        self.assertEqual([(c["error_signature"], c["count"]) for c in s["error_categories"]],
                         [("Unknown::Command failed with exit code", 3), ("Timeout::agent timed out", 2)])
        self.assertEqual(self.js("dlq", "stats")["total_items"], 5)
        r = self.cli("dlq", "stats", "nope", code=1)
        self.assertIn("job nope has no DLQ items", r.stderr)

    def test_analyze(self):
        a = self.js("dlq", "analyze", DLQ_JOB)
        self.assertEqual(a["total_items"], 5)
        first = a["pattern_groups"][0]
        self.assertEqual(first["error_signature"], "Unknown::Command failed with exit code")
        self.assertEqual((first["count"], first["percentage"]), (3, 60.0))
        self.assertEqual(first["sample_items"], ["item_0", "item_1", "item_2"])
        self.assertEqual(first["first_occurrence"], "2025-09-20T16:59:40.000093Z")
        self.assertEqual(first["last_occurrence"], "2025-09-20T18:10:00.000001Z")
        self.assertEqual([(h["hour"][:13], h["count"]) for h in a["hourly_histogram"]],
                         [("2025-09-20T17", 2), ("2025-09-20T18", 1), ("2025-09-20T19", 2)])
        self.assertEqual({d["error_type"]: d["count"] for d in a["error_distribution"]}, {"Unknown": 3, "Timeout": 2})
        text = self.cli("dlq", "analyze", DLQ_JOB).stdout
        self.assertIn("2 error signatures", text)
        self.assertIn("2025-09-20T18:00Z", text)
        self.cli("dlq", "analyze", "nope", code=1)

    def test_purge(self):
        j = self.js("dlq", "purge", "--older-than", "2025-09-20T18:00:00Z", "--dry-run")
        self.assertEqual(j["would_purge"], 2)
        self.assertEqual(len(self.js("dlq", "ls")["items"]), 5)
        j = self.js("dlq", "purge", "--older-than", "2025-09-20T18:00:00Z", "--job", DLQ_JOB)
        self.assertEqual(j["purged"], 2)
        self.assertEqual([i["item_id"] for i in self.js("dlq", "ls")["items"]], ["item_4", "item_3", "item_2"])
        self.assertFalse(os.path.exists(os.path.join(self.repo_dir, "dlq", DLQ_JOB, "items", "item_0.json")))
        self.assertEqual(self.js("dlq", "purge", "--older-than", "30d")["purged"], 3)  # all are older than 30 days

    def test_export(self):
        docs = json.loads(self.cli("dlq", "export", DLQ_JOB).stdout)
        self.assertEqual([d["item_id"] for d in docs], ["item_4", "item_3", "item_2", "item_1", "item_0"])
        self.assertEqual(json.loads(self.cli("dlq", "show", DLQ_JOB, "item_2").stdout), docs[2])
        out = os.path.join(self.tmp, "dlq.csv")
        self.cli("dlq", "export", DLQ_JOB, "--format", "csv", "--out", out)
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 5)
        self.assertEqual(rows[0]["error_type"], "Timeout")
        self.assertEqual(json.loads(rows[0]["json"])["item_id"], "item_4")
        self.cli("dlq", "export", "nope", code=1)

    def test_retry_and_rm(self):
        r = self.cli("dlq", "retry", DLQ_JOB, "item_3", "item_9", code=1)
        self.assertIn("item_9", r.stderr)
        self.assertEqual(self.js("dlq", "stats", DLQ_JOB)["marked_for_reprocess"], 0, "nothing marked on error")
        self.assertEqual(self.js("dlq", "retry", DLQ_JOB, "item_3")["marked"], 1)
        item3 = [i for i in self.js("dlq", "ls")["items"] if i["item_id"] == "item_3"][0]
        self.assertIsNotNone(item3["reprocess_requested_at"])
        self.assertEqual(self.js("dlq", "retry", DLQ_JOB)["marked"], 4)  # every eligible item
        self.assertEqual(self.js("dlq", "rm", DLQ_JOB, "item_4"), {"job_id": DLQ_JOB, "item_id": "item_4",
                                                                   "removed": True})
        r = self.cli("dlq", "rm", DLQ_JOB, "item_4", code=1)
        self.assertIn("does not exist; nothing was removed", r.stderr)
        self.assertEqual(len(self.js("dlq", "ls")["items"]), 4)


class DocumentsTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def test_state(self):
        jobs = self.js("state", "ls")["jobs"]
        self.assertEqual([(j["job_id"], j["version"], j["is_complete"]) for j in jobs], [(DLQ_JOB, 3, True)])
        self.assertEqual(json.loads(self.cli("state", "show", DLQ_JOB).stdout)["checkpoint_version"], 3)
        v2 = self.cli("state", "show", DLQ_JOB, "--version", "2").stdout
        self.assertEqual(json.loads(v2)["checkpoint_version"], 2)
        self.assertTrue(v2.startswith('{\n  "job_id": "mapreduce-1758387792480",\n  "config"'), "verbatim, pretty")
        history = self.js("state", "history", DLQ_JOB)["versions"]
        self.assertEqual([v["version"] for v in history], [3, 2, 1])
        self.assertEqual([v["successful_count"] for v in history], [2, 1, 0])
        r = self.cli("state", "show", DLQ_JOB, "--version", "9", code=1)
        self.assertIn("has no kept version 9; kept versions: 3, 2, 1", r.stderr)
        r = self.cli("state", "show", "nope", code=1)
        self.assertIn("job nope has no stored state", r.stderr)
        self.cli("state", "history", "nope", code=1)

    def test_every_command_has_a_json_schema_and_documents_match_theirs(self):
        overview = self.cli("--help", globals_=False).stdout
        without_json = {"completion", "man"}  # they print a script and a page
        for line in overview.split("Commands:\n")[1].split("\n\n")[0].splitlines():
            words = line.split()
            name = self.command_name(words)
            if name in without_json:
                continue
            with open(json_schema.schema_path(name)) as f:
                schema = json.load(f)
            self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", name)
            self.assertEqual(schema["title"], f"prodigy-store {name} --json")
        # The commands that print stored documents.
        self.js("dlq", "show", DLQ_JOB, "item_3")
        self.js("dlq", "export", DLQ_JOB)
        self.js("state", "show", DLQ_JOB)
        self.js("sessions", "show", "session-aaa")
        self.js("checkpoints", "show", "workflow-1758167434332")
        self.js("export", "--kind", "events", "--out", os.path.join(self.tmp, "out"))
        self.js("export", "--mirrors")
        self.js("path")
        self.jsonl("events", "tail", OLD_JOB, "-n", "2")
        bad = {"jobs": [{"job_id": "j", "events": "three"}]}
        self.assertTrue(json_schema.errors(bad, json_schema.load("events ls")), "the validator finds errors")

    def test_sessions(self):
        sessions = self.js("sessions", "ls")["sessions"]
        self.assertEqual({s["session_id"]: s["status"] for s in sessions},
                         {"session-aaa": "InProgress", "cook-1754076473": "Completed"})
        only = self.js("sessions", "ls", "--status", "Completed")["sessions"]
        self.assertEqual([s["session_id"] for s in only], ["cook-1754076473"])
        doc = json.loads(self.cli("sessions", "show", "session-aaa").stdout)
        self.assertEqual(doc["working_directory"], "/home/alice/src/my-repo")
        r = self.cli("sessions", "show", "session-zzz", code=1)
        self.assertIn("session session-zzz does not exist", r.stderr)

    def test_checkpoints(self):
        cps = self.js("checkpoints", "ls")["checkpoints"]
        self.assertGreaterEqual(len(cps), 1)
        ids = [c["workflow_id"] for c in cps]
        self.assertEqual(ids[0], "workflow-1758167434332", "newest first")
        shown = self.cli("checkpoints", "show", "workflow-1758167434332").stdout
        real = os.path.join(SHARED or "", "checkpoints", "workflow-1758167434332.checkpoint.json")
        if SHARED and os.path.exists(real):
            with open(real) as f:
                self.assertEqual(shown, f.read() + "\n", "a real Prodigy file comes back byte for byte")
        r = self.cli("checkpoints", "show", "workflow-1", code=1)
        self.assertIn("workflow checkpoint workflow-1 does not exist", r.stderr)


class ExportTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def test_every_kind_to_a_folder(self):
        out = os.path.join(self.tmp, "export")
        j = self.js("export", "--out", out)
        self.assertEqual({f["kind"]: f["documents"] for f in j["files"]},
                         {"events": 15, "dlq": 5, "state": 3, "sessions": 2,
                          "checkpoints": len(self.js("checkpoints", "ls")["checkpoints"])})
        with open(os.path.join(out, "events.jsonl")) as f:
            self.assertEqual(f.read().splitlines(), self.raw_lines(OLD_JOB) + self.raw_lines(RECENT_JOB))
        with open(os.path.join(out, "state.jsonl")) as f:
            states = [json.loads(line) for line in f]
        self.assertEqual([s["checkpoint_version"] for s in states], [3, 2, 1])
        self.assertEqual(list(states[0].keys())[:3], ["job_id", "config", "started_at"], "key order kept")
        self.assertEqual(sorted(os.listdir(out)), ["checkpoints.jsonl", "dlq.jsonl", "events.jsonl",
                                                   "sessions.jsonl", "state.jsonl"])

    def test_formats_and_job(self):
        events = json.loads(self.cli("export", "--kind", "events", "--job", OLD_JOB, "--format", "json").stdout)
        self.assertEqual(len(events), 10)
        self.assertEqual(events[8]["event"]["event_type"], "d_l_q_item_added")
        rows = list(csv.DictReader(io.StringIO(self.cli("export", "--kind", "events", "--format", "csv").stdout)))
        self.assertEqual(len(rows), 15)
        self.assertEqual(list(rows[0].keys()), ["seq", "job_id", "timestamp", "event_type", "event_name", "agent_id",
                                                "item_id", "record_id", "json"])
        self.assertEqual(json.loads(rows[4]["json"])["event"]["duration"], [61, 5000000])
        sessions = self.cli("export", "--kind", "sessions").stdout.splitlines()
        self.assertEqual(len(sessions), 2)
        out = os.path.join(self.tmp, "state.csv")
        self.cli("export", "--kind", "state", "--format", "csv", "--out", out)
        with open(out, newline="") as f:
            self.assertEqual(len(list(csv.reader(f))), 4)
        self.assertEqual(json.loads(self.cli("export", "--kind", "dlq", "--job", "nobody", "--format",
                                             "json").stdout), [])

    def test_usage_errors(self):
        self.assert_usage_error("export", message="give --out DIR, or one --kind")
        self.assert_usage_error("export", "--kind", "bogus", message="--kind 'bogus'")
        self.assert_usage_error("export", "--kind", "sessions", "--job", "x", message="--job applies to")
        self.assert_usage_error("export", "--mirrors", "--kind", "events", message="stand alone")

    @sqlite_only
    def test_mirrors_regenerate(self):
        item = os.path.join(self.repo_dir, "dlq", DLQ_JOB, "items", "item_1.json")
        with open(item) as f:
            original = f.read()
        os.remove(item)
        self.cli("check", code=3)
        j = self.js("export", "--mirrors")
        self.assertTrue(j["mirrors_regenerated"])
        with open(item) as f:
            self.assertEqual(f.read(), original)
        self.cli("check")


class CheckTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def test_sound_store(self):
        j = self.js("check")
        self.assertTrue(j["ok"])
        for section in ("integrity", "ledger", "mirrors"):
            self.assertTrue(j[section]["ok"], section)
            self.assertEqual(j[section]["problems"], [])
        text = self.cli("check").stdout
        self.assertIn("integrity  ok", text)
        self.assertIn("mirrors    skipped: a PostgreSQL store" if ON_POSTGRES else "mirrors    ok", text)

    @sqlite_only
    def test_mirror_problems_and_repair(self):
        os.remove(os.path.join(self.repo_dir, "sessions", "session-aaa.json"))
        with open(os.path.join(self.repo_dir, "dlq", DLQ_JOB, "items", "item_0.json"), "a") as f:
            f.write("tampered")
        open(os.path.join(self.repo_dir, "sessions", "stray.json"), "w").close()
        r = self.cli("check", code=3)
        self.assertIn("mirrors    3 problems", r.stdout)
        self.assertIn("session-aaa.json: missing", r.stdout)
        self.assertIn("item_0.json: differs", r.stdout)
        self.assertIn("stray.json: unexpected file", r.stdout)
        self.assertIn("check --repair", r.stderr)
        j = self.js("check", code=3)
        self.assertFalse(j["ok"])
        self.assertEqual(len(j["mirrors"]["problems"]), 3)
        j = self.js("check", "--repair")
        self.assertTrue(j["ok"])
        self.assertEqual(j["mirrors"]["repaired"], 3)
        self.assertFalse(os.path.exists(os.path.join(self.repo_dir, "sessions", "stray.json")))
        self.cli("check")

    @sqlite_only
    def test_bytes_overwritten_in_the_middle(self):
        self.assertFalse(os.path.exists(self.db + "-wal") and os.path.getsize(self.db + "-wal") > 0)
        size = os.path.getsize(self.db)
        with open(self.db, "r+b") as f:
            f.seek(size // 4)
            f.write(b"\xde\xad\xbe\xef" * (size // 8))
        r = self.cli("check", code=3)
        self.assertIn("integrity  1 problem", r.stdout)
        self.assertIn("damaged", r.stdout + r.stderr)
        self.assertIn("ledger     skipped", r.stdout)
        j = self.js("check", code=3)
        self.assertFalse(j["integrity"]["ok"])
        # Other commands fail clearly instead of showing wrong data.
        r = subprocess.run([EXE, "--storage-dir", self.root, "--repo", self.repo, "dlq", "ls"], capture_output=True,
                           text=True, env=self.env)
        self.assertIn(r.returncode, (0, 1))
        if r.returncode == 1:
            self.assertIn(self.db, r.stderr)

    @sqlite_only
    def test_foreign_file_named_prodigy_db(self):
        shutil.rmtree(self.repo_dir)
        os.makedirs(self.repo_dir)
        with sqlite3.connect(self.db) as db:
            db.execute("CREATE TABLE notes (text)")
        with open(self.db, "rb") as f:
            before = f.read()
        r = self.cli("check", code=3)
        self.assertIn("not a prodigy-store database", r.stdout)
        self.assertIn("tables: notes", r.stdout)
        with open(self.db, "rb") as f:
            self.assertEqual(f.read(), before, "the foreign file is not changed")
        with open(self.db, "wb") as f:
            f.write(b"this is not SQLite at all" * 200)
        r = self.cli("check", code=3)
        self.assertIn("not a prodigy-store database", r.stdout)
        r = self.cli("events", "ls", code=1)
        self.assertIn("not a prodigy-store database", r.stderr)


class LegacyCase(CliCase):
    """A repository with legacy data in the real layouts (reference §1.2-1.4)."""

    def write(self, rel, text, base=None):
        path = os.path.join(base or self.repo, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def make_legacy(self):
        rec = ('{"id":"00000000-0000-4000-8000-%012d","timestamp":"2025-09-20T17:%02d:00.000001Z",'
               '"correlation_id":"c","event":{"event_type":"%s","job_id":"mapreduce-1758387792480",'
               '"agent_id":"agent-%d"},"metadata":{"host":"localhost","pid":1}}\n')
        lines = "".join(rec % (i, i, "agent_started" if i % 2 else "agent_completed", i) for i in range(1, 5))
        lines += '{"timestamp":"2024-01-01T00:00:00Z","event":"test"}\n{"torn":'  # foreign and torn lines
        self.files = {
            ".prodigy/mapreduce/events/global/events.jsonl": lines,
            ".prodigy/mapreduce/dlq/mapreduce-1758387792480/items/item_2.json":
                '{\n  "item_id": "item_2",\n  "item_data": {},\n  "first_attempt": "2025-09-20T17:05:40.000093Z",\n'
                '  "last_attempt": "2025-09-20T17:05:40.000095Z",\n  "failure_count": 3,\n  "failure_history": [],\n'
                '  "error_signature": "Unknown::Command failed with exit code",\n  "worktree_artifacts": null,\n'
                '  "reprocess_eligible": true,\n  "manual_review_required": false\n}',
            ".prodigy/session_state.json":
                '{\n  "session_id": "cook-1754076473",\n  "status": "Completed",\n'
                '  "started_at": "2025-09-18T03:50:31.118204Z",\n  "ended_at": null,\n'
                '  "iterations_completed": 1,\n  "files_changed": 2,\n  "errors": [],\n'
                '  "working_directory": "/x",\n  "worktree_name": null\n}',
        }
        if SHARED:
            with open(os.path.join(SHARED, "checkpoints", "workflow-1758167434332.checkpoint.json")) as f:
                self.files[".prodigy/checkpoints/workflow-1758167434332.checkpoint.json"] = f.read()
        for rel, text in self.files.items():
            self.write(rel, text)
        self.write(".prodigy/config.yml", "commands: []\n")  # not storage: never touched

    def snapshot(self):
        out = {}
        for dirpath, _, names in os.walk(self.repo):
            for n in names:
                p = os.path.join(dirpath, n)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, self.repo)] = f.read()
        return out


@sqlite_only
class MigrateTest(LegacyCase):
    def test_nothing_to_migrate(self):
        r = self.cli("migrate")
        self.assertIn("no legacy Prodigy data found", r.stdout)
        self.assertFalse(os.path.exists(self.db))
        self.assertEqual(self.js("migrate")["sources"], [])

    def test_dry_run_then_migrate_then_rebuild(self):
        self.make_legacy()
        before = self.snapshot()
        self.assertNotEqual(self.js("info")["legacy_sources"], [])
        plan = self.js("migrate", "--dry-run")
        self.assertTrue(plan["dry_run"])
        by_path = {os.path.relpath(s["path"], self.repo): s for s in plan["sources"]}
        for rel in self.files:
            self.assertIn(rel, by_path)
            self.assertEqual(len(by_path[rel]["sha256"]), 64)
            self.assertEqual(by_path[rel]["bytes"], len(self.files[rel].encode()))
        self.assertNotIn(".prodigy/config.yml", [k for k, s in by_path.items() if s["would_delete"]])
        self.assertFalse(os.path.exists(self.db), "a dry run writes nothing, not even an empty database")
        self.assertFalse(os.path.exists(self.root))
        self.assertEqual(self.snapshot(), before)

        r = self.cli("migrate")
        self.assertIn("Migrating local storage to global storage...", r.stdout)
        self.assertIn("failed 0", r.stdout)
        self.assertTrue(os.path.exists(self.db))
        self.assertTrue(os.path.exists(os.path.join(self.repo, ".prodigy", "config.yml")))
        for rel in self.files:
            self.assertFalse(os.path.exists(os.path.join(self.repo, rel)), rel)
        info = self.js("info")
        self.assertEqual(info["counts"]["dlq_items"], 1)
        self.assertGreaterEqual(info["counts"]["events"], 4)
        self.assertGreaterEqual(info["counts"]["unparsed_lines"], 2)
        agent = self.jsonl("events", "show", self.js("events", "ls")["jobs"][0]["job_id"], "--type", "AgentCompleted")
        self.assertEqual(len(agent), 2)
        self.assertEqual(self.js("dlq", "ls")["items"][0]["item_id"], "item_2")
        check = self.js("check")
        self.assertTrue(check["ok"], check)
        self.assertGreaterEqual(check["ledger"]["imports"], len(self.files))

        restored = os.path.join(self.tmp, "restored")
        j = self.js("export", "--legacy", restored)
        self.assertEqual(j["mismatched"], 0)
        rebuilt = {}
        for f in j["files"]:
            with open(f["path"], "rb") as fh:
                rebuilt[os.path.relpath(f["original"], self.repo)] = fh.read()
        for rel, text in self.files.items():
            self.assertEqual(rebuilt[rel], text.encode(), rel)

    def test_keep_originals_and_rerun(self):
        self.make_legacy()
        before = self.snapshot()
        j = self.js("migrate", "--keep-originals")
        self.assertTrue(j["ok"])
        self.assertEqual(j["removed"], 0)
        self.assertEqual(self.snapshot(), before)
        events = self.js("info")["counts"]["events"]
        self.js("migrate", "--keep-originals")
        self.assertEqual(self.js("info")["counts"]["events"], events, "a re-run imports nothing twice")

    def test_pruning_imported_rows_is_a_note_not_a_failure(self):
        self.make_legacy()
        self.assertTrue(self.js("migrate")["ok"])
        self.cli("check")
        # Retention and a DLQ removal take imported rows on purpose.
        self.cli("events", "clean", "--job", "global", "--keep-last", "1")
        self.cli("dlq", "rm", "mapreduce-1758387792480", "item_2")
        r = self.cli("check")
        self.assertIn("changed on purpose since the import", r.stdout)
        # Damage is still damage: an imported row edited by hand fails the check.
        con = sqlite3.connect(self.db)
        con.execute("UPDATE sessions SET json = json || ' ' WHERE source_id IS NOT NULL")
        con.commit()
        con.close()
        r = self.cli("check", code=3)
        self.assertIn("session_state.json", r.stdout + r.stderr)

    def test_import_paths_keeps_inputs(self):
        outside = os.path.join(self.tmp, "backup")
        src = self.write("events-20250920_170312.jsonl",
                         '{"id":"00000000-0000-4000-8000-000000000001","timestamp":"2025-09-20T17:03:00Z",'
                         '"correlation_id":"c","event":{"event_type":"job_started","job_id":"j"},'
                         '"metadata":{"pid":1}}\n', base=outside)
        j = self.js("import", src)
        self.assertTrue(j["ok"])
        self.assertTrue(os.path.exists(src))
        self.assertEqual(self.js("info")["counts"]["events"], 1)
        r = self.cli("import", os.path.join(self.tmp, "nothing-here"), code=1)
        self.assertIn("does not exist; nothing was imported", r.stderr)
        self.assert_usage_error("import", message="missing PATH...")


@postgres_only
class ServerMigrateTest(LegacyCase):
    """With a server configured, legacy data goes into the local SQLite store first, then `sync --to`."""

    def test_migrate_then_sync_to_the_server(self):
        self.make_legacy()
        url = self.env["PRODIGY_STORAGE_URL"]
        r = self.cli("migrate")
        self.assertIn("imported into the local SQLite store", r.stderr)
        self.assertIn("prodigy-store sync --to", r.stderr)
        self.assertTrue(os.path.exists(self.db), "the import wrote the local store")
        # The server has nothing yet; sync copies it, verified on both sides.
        self.cli("events", "ls", code=1)
        j = self.js("sync", "--to", url)
        self.assertEqual(j["direction"], "to")
        rows = {t["table"]: t["rows"] for t in j["tables"]}
        self.assertEqual(rows["events"], 4)
        self.assertEqual(rows["dlq_items"], 1)
        # Every command now reads the server.
        jobs = self.js("events", "ls")["jobs"]
        self.assertEqual([job["job_id"] for job in jobs], ["global"])  # the global event log's job
        self.assertEqual(self.js("info")["counts"]["events"], 4)
        self.assertEqual(len(self.js("dlq", "ls")["items"]), 1)
        self.cli("check")
        # And back: a round trip gives the same export.
        local_env = {k: v for k, v in self.env.items() if k != "PRODIGY_STORAGE_URL"}

        def exported(name):
            out = os.path.join(self.tmp, name)
            self.cli("export", "--out", out, env=local_env)
            return {f: pathlib.Path(out, f).read_bytes() for f in sorted(os.listdir(out))}
        before = exported("before")
        shutil.rmtree(self.repo_dir)
        self.cli("sync", "--from", url)
        self.assertEqual(exported("after"), before, "SQLite -> PostgreSQL -> SQLite gives the same export")


class LeasesTest(CliCase):
    def setUp(self):
        super().setUp()
        self.populate()

    def hold(self, key, holder, token, seconds):
        """A lease as the library grants it through the SQLite database."""
        now = time.time_ns()
        with sqlite3.connect(self.db) as db:
            db.execute("INSERT INTO leases VALUES (?, ?, ?, ?, ?)", (key, holder, token, now, now + seconds * 10**9))
            db.execute("INSERT OR REPLACE INTO lease_fences VALUES (?, ?, '2026-01-01T00:00:00Z')", (key, token))

    def test_none_held(self):
        self.assertEqual(self.js("leases", "ls"), {"backend": "database", "leases": []})
        self.assertIn("no leases are held (through the database)", self.cli("leases", "ls").stderr)
        self.assertEqual(self.js("leases", "release", OLD_JOB, "--force"),
                         {"key": OLD_JOB, "released": False, "lease": None})

    @sqlite_only
    def test_ls(self):
        self.hold(OLD_JOB, "host-a:4711", 7, 60)
        self.hold("expired-job", "host-b:1", 3, -5)
        leases = self.js("leases", "ls")["leases"]
        self.assertEqual([(l["key"], l["holder"], l["token"]) for l in leases], [(OLD_JOB, "host-a:4711", 7)])
        out = self.cli("leases", "ls").stdout
        self.assertRegex(out, r"KEY +HOLDER +TOKEN +EXPIRES_AT +LEFT")
        self.assertRegex(out, OLD_JOB + r" +host-a:4711 +7 +\S+Z +[0-9.]+ s")

    @sqlite_only
    def test_release_needs_force(self):
        self.hold(OLD_JOB, "host-a:4711", 7, 60)
        r = self.cli("leases", "release", OLD_JOB, code=2)
        self.assertIn("needs --force", r.stderr)
        self.assertEqual(len(self.js("leases", "ls")["leases"]), 1)
        r = self.cli("leases", "release", OLD_JOB, "--force")
        self.assertIn(f"ended the lease {OLD_JOB} of host-a:4711 (token 7)", r.stderr)
        self.assertEqual(self.js("leases", "ls")["leases"], [])
        released = self.js("leases", "release", OLD_JOB, "--force")
        self.assertEqual(released, {"key": OLD_JOB, "released": False, "lease": None})

    def test_unreachable_or_unbuilt_redis(self):
        env = dict(self.env, PRODIGY_REDIS_URL="unix:///nonexistent/redis.sock")
        r = self.cli("leases", "ls", code=1, env=env)
        self.assertTrue("-Dredis=enabled" in r.stderr or "Redis at unix:///nonexistent/redis.sock" in r.stderr,
                        r.stderr)


@sqlite_only
class CookbookTest(CliCase):
    """Every sqlite3 query of docs/cli.md runs and prints what the doc shows."""

    DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "cli.md")
    QUERY = re.compile(r"""^\$ sqlite3 (-header -column )?"\$\(prodigy-store path\)" (["'])(.*)\2$""")

    def examples(self):
        """(flags, sql, documented output lines) of each sqlite3 example."""
        with open(self.DOC) as f:
            lines = f.read().splitlines()
        out = []
        for i, line in enumerate(lines):
            m = self.QUERY.match(line)
            if not m:
                continue
            shown = []
            for follow in lines[i + 1:]:
                if follow.startswith("```") or follow.startswith("$ "):
                    break
                shown.append(follow.rstrip())
            out.append((["-header", "-column"] if m.group(1) else [], m.group(3), shown))
        return out

    @unittest.skipIf(shutil.which("sqlite3") is None, "the sqlite3 shell is not installed")
    def test_cookbook_queries(self):
        self.populate()
        examples = self.examples()
        self.assertGreaterEqual(len(examples), 8)
        cookbook = [e for e in examples if e[0]]
        for flags, sql, shown in cookbook:
            r = subprocess.run(["sqlite3"] + flags + [self.db, sql], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, f"{sql}: {r.stderr}")
            got = [line.rstrip() for line in r.stdout.splitlines()]
            # Rows stamped with the current time (the data set's recent events) differ from run to run.
            now_row = re.compile(r"^(?!2025)\d{4}-")
            self.assertEqual([g for g in got if not now_row.match(g)], [s for s in shown if not now_row.match(s)],
                             sql)


def main():
    global EXE, FIXTURE
    if len(sys.argv) < 3:
        sys.exit("usage: cli_test.py PRODIGY_STORE CLI_FIXTURE [unittest args]")
    EXE, FIXTURE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


def load_tests(loader, tests, pattern):
    """On PostgreSQL the tests about SQLite's files are not part of the run; on SQLite, those needing a server."""
    left_out = "sqlite_only" if ON_POSTGRES else "postgres_only"
    suite = unittest.TestSuite()

    def add(t):
        if isinstance(t, unittest.TestSuite):
            for sub in t:
                add(sub)
        elif not (getattr(type(t), left_out, False) or getattr(getattr(t, t._testMethodName, None), left_out, False)):
            suite.addTest(t)
    add(tests)
    return suite


if __name__ == "__main__":
    main()
