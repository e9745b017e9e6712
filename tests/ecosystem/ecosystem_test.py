#!/usr/bin/env python3
"""The store from outside C++: the C API from C, the Python bindings, the Rust
example, and an installed tree (meson install --destdir) used by CMake and
pkg-config consumers, with its completions and man page.

Usage: ecosystem_test.py BUILD_DIR CAPI_TEST PRODIGY_STORE [unittest args, e.g. -k PythonTest]
Every test gets its own temporary repository and storage root.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

BUILD = None
CAPI_TEST = None
EXE = None
SOURCE = os.environ.get("PRODIGY_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = None  # the built shared library


def run(argv, code=0, **kwargs):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)
    if r.returncode != code:
        raise AssertionError(f"{' '.join(map(str, argv))}: exit {r.returncode}, want {code}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


class Case(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="prodigy-eco-test-")
        self.repo = os.path.join(self.tmp, "my-repo")
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.repo)
        self.env = dict(os.environ, HOME=os.path.join(self.tmp, "home"))
        self.env.pop("PRODIGY_STORAGE_DIR", None)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class CApiTest(Case):
    def test_c_program_uses_every_part_of_the_api(self):
        r = run([CAPI_TEST, self.repo, self.root], env=self.env)
        self.assertIn("c api: all checks passed", r.stdout)


PY_SCRIPT = textwrap.dedent(r'''
    import json, sys
    import prodigy_store as ps
    repo, root = sys.argv[1], sys.argv[2]
    def ev(i, t):
        return json.dumps({"id": f"e{i}", "timestamp": f"2025-09-20T17:03:{i:02d}Z", "correlation_id": "c",
                           "event": {"event_type": t, "job_id": "job-1", "agent_id": f"agent-{i}"}, "metadata": {}})
    with ps.open(repo, storage_dir=root) as store:
        assert store.db_path.endswith("/my-repo/prodigy.db"), store.db_path
        first = store.append_event("job-1", ev(0, "agent_started"))
        last = store.append_events("job-1", [ev(i, "AgentCompleted") for i in range(1, 4)])
        assert last == first + 3, (first, last)
        events = list(store.events(job="job-1", types=["agent_completed"]))
        assert [e.record_id for e in events] == ["e1", "e2", "e3"], events
        assert events[0].json == ev(1, "AgentCompleted")  # verbatim
        assert events[0].event_type == "agent_completed" and events[0].agent_id == "agent-1"
        assert [e.seq for e in store.events(after=first, limit=2)] == [first + 1, first + 2]
        assert store.count_events(job="job-1") == 4
        try:
            store.append_events("job-1", [ev(9, "x"), "{broken"])
            raise SystemExit("a bad batch was accepted")
        except ps.InvalidArgument as e:
            assert e.code == "invalid_argument" and str(e), e
        assert store.count_events(job="job-1") == 4  # all or nothing

        item = json.dumps({"item_id": "i-1", "item_data": {}, "first_attempt": "2025-09-20T17:00:00Z",
                           "last_attempt": "2025-09-20T17:05:00Z", "failure_count": 1, "failure_history": [],
                           "error_signature": "Timeout", "worktree_artifacts": None,
                           "reprocess_eligible": True, "manual_review_required": False})
        store.dlq_add("job-1", item)
        assert store.dlq_get("job-1", "i-1") == item
        assert store.dlq_get("job-1", "nope") is None
        assert store.dlq_list() == [item], store.dlq_list()
        assert store.dlq_stats("job-1")["total_items"] == 1
        assert store.dlq_remove("job-1", "i-1") and not store.dlq_remove("job-1", "i-1")

        state = json.dumps({"job_id": "job-1", "checkpoint_version": 2, "is_complete": False})
        assert store.write_state("job-1", state) == 2
        assert store.read_state("job-1") == state and store.read_state("other") is None
        session = json.dumps({"session_id": "s-1", "status": "InProgress"})
        store.save_session(session)
        assert store.load_session("s-1") == session and store.list_sessions() == [session]
        checkpoint = json.dumps({"workflow_id": "wf-1", "timestamp": "2025-09-20T17:00:00Z"})
        store.save_checkpoint(checkpoint)
        assert store.load_checkpoint("wf-1") == checkpoint and store.latest_checkpoint() == checkpoint

        # Closing while iterating: the iterator finishes, then the store closes.
        it = store.events(job="job-1")
        next(it)
        store.close()
        assert len(list(it)) == 3
        try:
            store.append_event("job-1", ev(5, "x"))
            raise SystemExit("a closed store accepted a write")
        except ps.Error as e:
            assert "closed" in str(e)
    try:
        ps.open("/no/such/repo", storage_dir=root)
        raise SystemExit("opened a missing repository")
    except ps.NotFound as e:
        assert "/no/such/repo" in str(e), e
    print("python bindings ok", ps.version())
''')


class PythonTest(Case):
    def test_bindings_from_the_build_tree(self):
        env = dict(self.env, PYTHONPATH=os.path.join(SOURCE, "bindings", "python"), PRODIGY_STORE_LIBRARY=LIB)
        r = run([sys.executable, "-c", PY_SCRIPT, self.repo, self.root], env=env)
        self.assertIn("python bindings ok", r.stdout)

    def test_a_missing_library_is_a_clear_import_error(self):
        env = dict(self.env, PYTHONPATH=os.path.join(SOURCE, "bindings", "python"),
                   PRODIGY_STORE_LIBRARY=os.path.join(self.tmp, "nope.so"), LD_LIBRARY_PATH="")
        r = run([sys.executable, "-c", "import prodigy_store"], code=1, env=env)
        self.assertIn("cannot load the prodigy-store library", r.stderr)
        self.assertIn("PRODIGY_STORE_LIBRARY", r.stderr)


class RustTest(Case):
    def test_rust_example_appends_and_queries(self):
        # Debian's rustc (tools/test.sh installs it) before a rustup proxy on PATH,
        # which may have no default toolchain.
        rustc = "/usr/bin/rustc" if os.path.exists("/usr/bin/rustc") else shutil.which("rustc")
        self.assertIsNotNone(rustc, "rustc is installed by tools/test.sh (Debian's rustc)")
        exe = os.path.join(self.tmp, "prodigy-example")
        run([rustc, "--edition", "2021", "-L", os.path.dirname(LIB), "-l", "dylib=prodigy-store",
             "-C", "link-arg=-Wl,-rpath," + os.path.dirname(LIB), "-o", exe,
             os.path.join(SOURCE, "examples", "rust", "main.rs")],
            env=dict(self.env, TMPDIR=self.tmp))
        r = run([exe, self.repo, self.root], env=self.env)
        self.assertIn("appended 4 events", r.stdout)
        self.assertIn("refused: invalid_argument: ", r.stdout)
        self.assertIn("3 agent_completed events", r.stdout)


class InstallTest(unittest.TestCase):
    """One `meson install --destdir` shared by the tests of this class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="prodigy-install-test-")
        cls.dest = os.path.join(cls.tmp, "dest")
        info = json.loads(run(["meson", "introspect", "--buildoptions", BUILD]).stdout)
        opts = {o["name"]: o["value"] for o in info}
        cls.prefix_rel = opts["prefix"].lstrip("/")
        cls.prefix = os.path.join(cls.dest, cls.prefix_rel)
        cls.libdir = os.path.join(cls.prefix, opts["libdir"])
        cls.mandir = os.path.join(cls.prefix, opts["mandir"])
        cls.datadir = os.path.join(cls.prefix, opts["datadir"])
        run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", cls.dest])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def consumer_dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "main.c"), "w") as f:
            f.write('#include <stdio.h>\n#include <prodigy/c_api.h>\n'
                    'int main(void) { printf("linked %s\\n", prodigy_version()); return 0; }\n')
        with open(os.path.join(d, "main.cc"), "w") as f:
            f.write('#include <cstdio>\n#include <prodigy/prodigy.h>\n'
                    'int main() { std::printf("%s\\n", std::string(prodigy::ErrorCodeName('
                    'prodigy::ErrorCode::kNotFound)).c_str()); return 0; }\n')
        return d

    def test_pkg_config_names_only_the_library(self):
        pcs = glob.glob(os.path.join(self.libdir, "pkgconfig", "prodigy-store.pc"))
        self.assertEqual(len(pcs), 1, os.listdir(self.libdir))
        fields = {}
        with open(pcs[0]) as f:
            for line in f:
                if ":" in line and "=" not in line.split(":")[0]:
                    key, value = line.split(":", 1)
                    fields[key.strip()] = value.strip()
        self.assertNotIn("Requires", fields)
        self.assertNotIn("Requires.private", fields)
        self.assertNotIn("Libs.private", fields)
        self.assertEqual(fields["Libs"], "-L${libdir} -lprodigy-store")
        self.assertEqual(fields["Cflags"], "-I${includedir}")
        # As a consumer sees it: headers and -lprodigy-store, no dependency's flags.
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=self.dest)
        flags = run(["pkg-config", "--cflags", "--libs", "prodigy-store"], env=env).stdout.split()
        self.assertEqual([f for f in flags if f.startswith("-l")], ["-lprodigy-store"], flags)
        self.assertEqual([f for f in flags if f.startswith("-D")], [], flags)

    def test_pkg_config_consumer_builds_and_runs(self):
        d = self.consumer_dir("pc")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"),
                   PKG_CONFIG_SYSROOT_DIR=self.dest)
        flags = run(["pkg-config", "--cflags", "--libs", "prodigy-store"], env=env).stdout.split()
        exe = os.path.join(d, "app")
        run(["cc", "-std=c11", "-o", exe, os.path.join(d, "main.c")] + flags + ["-Wl,-rpath," + self.libdir])
        self.assertIn("linked ", run([exe]).stdout)
        exe_cc = os.path.join(d, "app_cc")
        run(["c++", "-std=c++20", "-o", exe_cc, os.path.join(d, "main.cc")] + flags + ["-Wl,-rpath," + self.libdir])
        self.assertEqual(run([exe_cc]).stdout, "not_found\n")

    def test_cmake_find_package_consumer_builds_and_runs(self):
        d = self.consumer_dir("cmake")
        with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
            f.write(textwrap.dedent("""\
                cmake_minimum_required(VERSION 3.16)
                project(consumer C CXX)
                set(CMAKE_CXX_STANDARD 20)
                find_package(prodigy-store 0.1 REQUIRED)
                add_executable(app_c main.c)
                target_link_libraries(app_c PRIVATE prodigy-store::prodigy-store)
                add_executable(app_cc main.cc)
                target_link_libraries(app_cc PRIVATE prodigy-store::prodigy-store)
                """))
        build = os.path.join(d, "build")
        run(["cmake", "-S", d, "-B", build, "-G", "Ninja", "-DCMAKE_PREFIX_PATH=" + self.prefix])
        run(["cmake", "--build", build])
        self.assertIn("linked ", run([os.path.join(build, "app_c")]).stdout)
        self.assertEqual(run([os.path.join(build, "app_cc")]).stdout, "not_found\n")

    def test_python_package_is_installed_and_finds_the_installed_library(self):
        inits = glob.glob(os.path.join(self.prefix, "**", "prodigy_store", "__init__.py"), recursive=True)
        self.assertEqual(len(inits), 1, inits)
        with open(os.path.join(os.path.dirname(inits[0]), "_install.py")) as f:
            self.assertIn("LIBDIR = \"/", f.read())
        tmp = tempfile.mkdtemp(dir=self.tmp)
        os.makedirs(os.path.join(tmp, "repo"))
        # The installed LIBDIR points into the real prefix, not the destdir:
        # give the destdir's library the way a packager's test would.
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(inits[0])),
                   PRODIGY_STORE_LIBRARY=os.path.join(self.libdir, "libprodigy-store.so.0"))
        r = run([sys.executable, "-c", "import prodigy_store as p, sys; s = p.open(sys.argv[1], sys.argv[2]); "
                 "print(s.append_event('j', '{\"id\":\"1\",\"timestamp\":\"2025-01-01T00:00:00Z\","
                 "\"event\":{\"event_type\":\"x\"}}'))", os.path.join(tmp, "repo"), os.path.join(tmp, "root")],
                env=env)
        self.assertEqual(r.stdout.strip(), "1")

    def test_completions_and_man_page_are_installed(self):
        for path in ("bash-completion/completions/prodigy-store", "zsh/site-functions/_prodigy-store",
                     "fish/vendor_completions.d/prodigy-store.fish"):
            self.assertTrue(os.path.isfile(os.path.join(self.datadir, path)), path)
        page = os.path.join(self.mandir, "man1", "prodigy-store.1")
        self.assertTrue(os.path.isfile(page))
        for header in ("prodigy.h", "c_api.h", "storage.h"):
            self.assertTrue(glob.glob(os.path.join(self.prefix, "include", "prodigy", header)), header)
        cmake = glob.glob(os.path.join(self.libdir, "cmake", "prodigy-store", "prodigy-store*.cmake"))
        self.assertEqual(len(cmake), 2, cmake)


class DocsTest(Case):
    """Completions and the man page come from the CLI's command table."""

    def test_completions_name_every_command_and_option(self):
        help_lines = run([EXE, "--help"]).stdout.split("Commands:\n", 1)[1].split("\n\n")[0].splitlines()
        commands = []
        for line in help_lines:
            left = line[2:].split("  ")[0].strip()
            commands.append(" ".join(w for w in left.split() if not w.isupper() and not w.endswith("...")
                                     and not w.startswith(("[", "<"))))
        self.assertIn("events ls", commands)
        self.assertIn("completion", commands)
        scripts = {shell: run([EXE, "completion", shell]).stdout for shell in ("bash", "zsh", "fish")}
        for name in commands:
            words = name.split()
            for shell, text in scripts.items():
                for w in words:
                    self.assertRegex(text, r"(?<![\w-])" + w + r"(?![\w-])", f"{shell} completion lacks {name}")
            # Each command's own options are offered.
            opts = [line.split()[0].rstrip(",") for line in run([EXE] + words + ["--help"]).stdout.splitlines()
                    if line.startswith("  ") and line.strip().startswith("--")]  # option rows, not prose
            for shell, text in scripts.items():
                for o in opts:
                    self.assertIn(o.split("=")[0].lstrip("-"), text, f"{shell} completion of {name} lacks {o}")
        run(["bash", "-n"], input=scripts["bash"])
        for shell in ("zsh", "fish"):
            if shutil.which(shell):
                run([shell, "-n"], input=scripts[shell])
        run([EXE, "completion", "tcsh"], code=2)

    def test_bash_completion_completes_commands_subcommands_and_options(self):
        script = run([EXE, "completion", "bash"]).stdout
        def complete(*words):
            line = " ".join(("prodigy-store",) + words)
            prog = script + textwrap.dedent(f"""
                COMP_WORDS=(prodigy-store {" ".join(repr(w) if w else "''" for w in words)})
                COMP_CWORD={len(words)}
                _prodigy_store
                printf '%s\\n' "${{COMPREPLY[@]}}"
                """)
            return run(["bash", "-c", prog]).stdout.split()
        self.assertIn("events", complete("ev"))
        self.assertEqual(sorted(complete("events", "")), sorted(["ls", "show", "tail", "stats", "clean"]))
        self.assertIn("--limit", complete("events", "show", "--li"))
        self.assertIn("--json", complete("info", "--j"))

    def test_man_page_renders_with_every_command(self):
        page = os.path.join(self.tmp, "prodigy-store.1")
        with open(page, "w") as f:
            f.write(run([EXE, "man"]).stdout)
        env = dict(self.env, MANWIDTH="100", MAN_KEEP_FORMATTING="0", LANG="C.UTF-8")
        r = run(["man", "-l", page], env=env)
        text = re.sub(".\b", "", r.stdout)  # no bold/underline overstrikes
        self.assertNotIn("warning", r.stderr)
        self.assertIn("PRODIGY-STORE(1)", text)
        version = run([EXE, "--version"]).stdout.split()[-1]
        self.assertIn("prodigy-store " + version, text)
        for name in ("info", "events show JOB", "dlq purge", "completion SHELL", "--storage-dir DIR", "EXIT STATUS"):
            self.assertIn(name, text)

    def test_version_is_the_projects(self):
        with open(os.path.join(SOURCE, "meson.build")) as f:
            want = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
        self.assertEqual(run([EXE, "--version"]).stdout, f"prodigy-store {want}\n")


def main():
    global BUILD, CAPI_TEST, EXE, LIB
    BUILD, CAPI_TEST, EXE = sys.argv[1:4]
    LIB = os.path.join(BUILD, "lib", "libprodigy-store.so")
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)


if __name__ == "__main__":
    main()
