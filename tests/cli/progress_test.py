#!/usr/bin/env python3
"""Progress display of prodigy-store on a pseudo-terminal (pty): phases,
percent, human units, a clean final line per phase, the terminal width
respected (also a narrow one), and nothing at all in pipes, with -q or --json.

Usage: progress_test.py PRODIGY_STORE [unittest args]
"""
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import unittest

EXE = None
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def event_line(i):
    return json.dumps({"id": f"00000000-0000-4000-8000-{i:012d}", "timestamp": "2025-09-20T17:03:00Z",
                       "correlation_id": "c", "event": {"event_type": "agent_completed", "job_id": "j",
                                                        "agent_id": f"agent-{i % 7}", "output": "x" * 200},
                       "metadata": {"pid": 1}}, separators=(",", ":"))


def run_on_pty(argv, columns, env):
    """Runs argv with stderr on a pty of `columns` columns, stdout on a pipe.
    Returns (exit code, stdout, raw stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read()
    proc.stdout.close()
    code = proc.wait(timeout=120)
    os.close(master)
    return code, out.decode(), err.decode().replace("\r\n", "\n")


def screen_lines(err):
    """What the terminal showed: each redraw (after \\r) and each finished line."""
    parts = []
    for line in err.split("\n"):
        for segment in line.split("\r"):
            segment = ANSI.sub("", segment)
            if segment:
                parts.append(segment)
    return parts


class ProgressTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="prodigy-progress-test-")
        self.repo = os.path.join(self.tmp, "repo")
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.repo)
        self.env = dict(os.environ, HOME=os.path.join(self.tmp, "home"), TERM="xterm")
        for var in ("PRODIGY_STORAGE_DIR", "PRODIGY_LOG", "COLUMNS"):
            self.env.pop(var, None)
        self.log = os.path.join(self.tmp, "events-20250920_170312.jsonl")
        with open(self.log, "w") as f:
            for i in range(4500):  # about 1.8 MB
                f.write(event_line(i) + "\n")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args):
        return [EXE, "--storage-dir", self.root, "--repo", self.repo] + list(args)

    def test_import_shows_phases_percent_units_and_final_lines(self):
        code, out, err = run_on_pty(self.cli("import", self.log), 100, self.env)
        self.assertEqual(code, 0, err)
        lines = screen_lines(err)
        self.assertTrue(any(re.match(r"importing +\d+% \[[=> ]+\] +[\d.]+ (B|KiB|MiB) / 1\.\d MiB", l)
                            for l in lines), lines)
        finals = [l for l in err.split("\n") if l]
        finals = [ANSI.sub("", l.split("\r")[-1]) for l in finals]
        self.assertTrue(any(re.match(r"importing: 1\.\d MiB in \d+\.\d s", l) for l in finals), finals)
        self.assertTrue(any(re.match(r"verifying: 1\.\d MiB in \d+\.\d s", l) for l in finals), finals)
        for line in lines:
            self.assertLessEqual(len(line), 99, line)
        # The report is on stdout, whole, not glued to a progress line.
        self.assertIn("Importing Prodigy files into ", out)
        self.assertIn("(the inputs are not changed)", out)
        self.assertIn(f"Importing {self.log} -> ", out)
        self.assertNotIn("Moving", out)
        self.assertIn("Import complete: 1 file imported and verified; the inputs were not changed.\n", out)
        self.assertTrue(os.path.exists(self.log))

    def test_a_narrow_terminal_gets_shorter_lines(self):
        code, _, err = run_on_pty(self.cli("import", self.log), 30, self.env)
        self.assertEqual(code, 0, err)
        lines = screen_lines(err)
        self.assertTrue(any(l.startswith("importing") for l in lines), lines)
        for line in lines:
            self.assertLessEqual(len(line), 29, line)
        self.assertFalse(any("[" in l for l in lines), "no room for a bar at 30 columns")

    def test_migrate_moves_and_names_its_phases(self):
        events = os.path.join(self.repo, ".prodigy", "events")
        os.makedirs(events)
        shutil.copy(self.log, events)
        code, out, err = run_on_pty(self.cli("migrate"), 120, self.env)
        self.assertEqual(code, 0, err)
        self.assertIn("Moving .prodigy/events -> ", out)
        finals = [ANSI.sub("", l.split("\r")[-1]) for l in err.split("\n") if l]
        for phase in ("importing", "verifying", "removing originals"):
            self.assertTrue(any(l.startswith(phase + ": ") for l in finals), (phase, finals))

    def test_keep_originals_copies(self):
        events = os.path.join(self.repo, ".prodigy", "events")
        os.makedirs(events)
        shutil.copy(self.log, events)
        code, out, _ = run_on_pty(self.cli("migrate", "--keep-originals"), 120, self.env)
        self.assertEqual(code, 0)
        self.assertIn("Copying .prodigy/events -> ", out)
        self.assertNotIn("Moving", out)

    def test_quiet_json_and_pipes_show_no_progress(self):
        for args in (["-q", "import", self.log], ["--json", "import", self.log]):
            shutil.rmtree(self.root, ignore_errors=True)
            code, out, err = run_on_pty(self.cli(*args), 100, self.env)
            self.assertEqual(code, 0, err)
            self.assertNotIn("\r", err, args)
            self.assertNotIn("%", err, args)
        shutil.rmtree(self.root, ignore_errors=True)
        r = subprocess.run(self.cli("import", self.log), capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_export_and_check_show_progress_on_a_terminal(self):
        subprocess.run(self.cli("-q", "import", self.log), check=True, env=self.env)
        out_dir = os.path.join(self.tmp, "out")
        code, _, err = run_on_pty(self.cli("export", "--kind", "events", "--out", out_dir), 80, self.env)
        self.assertEqual(code, 0, err)
        self.assertRegex(err, r"exporting events: 4\.5k rows in \d+\.\d s")
        code, _, err = run_on_pty(self.cli("check"), 80, self.env)
        self.assertEqual(code, 0, err)
        self.assertRegex(err, r"checking: 3/3 in \d+\.\d s")


def main():
    global EXE
    if len(sys.argv) < 2:
        sys.exit("usage: progress_test.py PRODIGY_STORE [unittest args]")
    EXE = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)


if __name__ == "__main__":
    main()
