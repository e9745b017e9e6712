#!/usr/bin/env python3
"""Tests of s3:// backup targets against a real S3 server (the npm package s3rver).

Usage: s3_test.py PRODIGY_STORE CLI_FIXTURE CLI_TEST_PY [unittest args]

Only registered in builds with -Ds3=enabled. s3rver is found at $PRODIGY_S3RVER,
else where tools/test.sh installs it (~/.cache/prodigy-store/s3rver). Each test
starts its own server on a free loopback port and stops it by its pid.
"""
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# cli_test imports its neighbours (json_schema).
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[3])))
spec = importlib.util.spec_from_file_location("cli_test", sys.argv[3])
cli_test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli_test)

BUCKET = "prodigy-test"
S3RVER = os.environ.get("PRODIGY_S3RVER") or os.path.expanduser(
    "~/.cache/prodigy-store/s3rver/node_modules/s3rver/bin/s3rver.js")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """s3rver on 127.0.0.1:port with its data in `directory`."""

    def __init__(self, directory, port=None):
        self.directory = directory
        self.port = port or free_port()
        self.proc = None

    def start(self):
        if not os.path.exists(S3RVER):
            raise RuntimeError(f"s3rver is not installed at {S3RVER}; run tools/test.sh, which installs it")
        self.proc = subprocess.Popen(
            ["node", S3RVER, "--directory", self.directory, "--address", "127.0.0.1", "--port", str(self.port),
             "--silent", "--no-vhost-buckets", "--configure-bucket", BUCKET],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("s3rver exited: " + self.proc.stderr.read().decode(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("s3rver did not start listening")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


class CutUploadProxy:
    """Forwards to the server, but after `cut` bytes of the first PUT of a .db.gz
    it kills the server and drops the connection: the server dies mid-upload."""

    def __init__(self, server, cut=2048):
        self.server, self.cut = server, cut
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.cut_done = threading.Event()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.server.port))
        except OSError:
            client.close()
            return
        first = client.recv(65536)
        if first.startswith(b"PUT ") and b".db.gz" in first.split(b"\r\n", 1)[0]:
            upstream.sendall(first[: self.cut])
            self.server.kill()
            self.cut_done.set()
            client.close()
            upstream.close()
            return
        upstream.sendall(first)

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        pump(upstream, client)

    def close(self):
        self.sock.close()


class S3Test(cli_test.CliCase):
    def setUp(self):
        super().setUp()
        self.server = S3Server(os.path.join(self.tmp, "s3"))
        os.makedirs(self.server.directory)
        self.server.start()
        self.url = f"s3://{BUCKET}/backups"
        self.env.update(AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER", AWS_REGION="us-east-1",
                        AWS_ENDPOINT_URL=f"http://127.0.0.1:{self.server.port}")
        self.env.pop("AWS_SESSION_TOKEN", None)

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def counts(self):
        return self.js("info")["counts"]

    def test_backup_while_four_processes_append_then_restore(self):
        self.populate()
        writers = [subprocess.Popen([cli_test.FIXTURE, self.root, self.repo, "append", f"writer-{i}", "30"],
                                    env=self.env) for i in range(4)]
        try:
            time.sleep(0.4)
            b = self.js("backup", "--to", self.url)
        finally:
            for w in writers:
                self.assertEqual(w.wait(timeout=120), 0)
        self.assertTrue(b["location"].startswith(f"s3://{BUCKET}/backups/my-repo/"), b)
        self.assertTrue(b["location"].endswith(".manifest.json"))
        listed = self.js("backup", "ls", self.url)
        self.assertEqual([x["name"] for x in listed], [b["name"]])
        self.assertEqual(listed[0]["file_sha256"], b["file_sha256"])
        self.assertGreater(self.counts()["events"], b["counts"]["events"] - 1)
        r = self.js("restore", "--from", self.url)
        self.assertEqual(r["restored"]["name"], b["name"])
        self.assertEqual(self.counts()["events"], b["counts"]["events"])
        self.cli("check")
        # A manifest URL names one backup; --keep prunes in the bucket too.
        self.cli("restore", "--from", b["location"])
        for _ in range(2):
            self.cli("backup", "--to", self.url, "--keep", "2")
        self.assertEqual(len(self.js("backup", "ls", self.url)), 2)

    def test_wrong_key_is_refused_and_no_secret_is_printed(self):
        self.populate()
        env = dict(self.env, AWS_ACCESS_KEY_ID="NOT-A-KEY", AWS_SECRET_ACCESS_KEY="TOPSECRET-4711")
        r = self.cli("-v", "backup", "--to", self.url, code=1, env=env)
        self.assertIn("AWS_ACCESS_KEY_ID", r.stderr)
        self.assertNotIn("TOPSECRET", r.stderr + r.stdout)
        self.assertEqual(self.js("backup", "ls", self.url), [])
        env.pop("AWS_SECRET_ACCESS_KEY")
        r = self.cli("backup", "--to", self.url, code=1, env=env)
        self.assertIn("credentials are missing", r.stderr)

    def test_missing_bucket(self):
        self.populate()
        r = self.cli("backup", "--to", "s3://no-such-bucket/x", code=1)
        self.assertIn("no-such-bucket does not exist", r.stderr)
        r = self.cli("restore", "--from", "s3://no-such-bucket/x", code=1)
        self.assertIn("no-such-bucket does not exist", r.stderr)

    def test_server_dies_mid_upload_nothing_partial_is_listed(self):
        self.populate()
        first = self.js("backup", "--to", self.url)
        proxy = CutUploadProxy(self.server)
        try:
            env = dict(self.env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}")
            r = self.cli("backup", "--to", self.url, code=1, env=env)
            self.assertTrue(proxy.cut_done.is_set())
            self.assertIn("failed after", r.stderr)
        finally:
            proxy.close()
        self.server.start()  # same folder and port: what the dead server stored
        self.assertEqual([x["name"] for x in self.js("backup", "ls", self.url)], [first["name"]])
        self.cli("restore", "--from", self.url)
        self.cli("check")

    def test_events_clean_archives_to_s3_before_deleting(self):
        self.populate()
        url = f"s3://{BUCKET}/archives/old.jsonl.gz"
        # s3rver checks the key id (a wrong secret is only caught by real S3).
        bad = dict(self.env, AWS_ACCESS_KEY_ID="NOT-A-KEY")
        r = self.cli("events", "clean", "--job", cli_test.OLD_JOB, "--keep-last", "2", "--archive", url, code=1,
                     env=bad)
        self.assertIn("refused", r.stderr)
        self.assertEqual(len(self.raw_lines(cli_test.OLD_JOB)), 10)
        j = self.js("events", "clean", "--job", cli_test.OLD_JOB, "--keep-last", "2", "--archive", url)
        self.assertEqual(j["archive"], url)
        self.assertEqual(j["archived"], 8)
        self.assertEqual(len(self.raw_lines(cli_test.OLD_JOB)), 2)
        self.assertFalse([f for f in os.listdir(self.repo_dir) if f.startswith(".archive-upload")])
        # The object is there: a second archive of that name is refused and deletes nothing.
        r = self.cli("events", "clean", "--job", cli_test.OLD_JOB, "--keep-last", "1", "--archive", url, code=1)
        self.assertIn("already exists", r.stderr)
        self.assertEqual(len(self.raw_lines(cli_test.OLD_JOB)), 2)

    def test_server_down(self):
        self.populate()
        self.server.kill()
        r = self.cli("backup", "--to", self.url, code=1)
        self.assertIn("failed after 4 attempts", r.stderr)
        self.assertIn(self.env["AWS_ENDPOINT_URL"], r.stderr)


if __name__ == "__main__":
    cli_test.EXE = os.path.abspath(sys.argv[1])
    cli_test.FIXTURE = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)
