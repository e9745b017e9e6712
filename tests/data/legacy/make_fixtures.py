#!/usr/bin/env python3
"""Writes the legacy Prodigy fixtures under tests/data/ (run from anywhere).

Every file imitates what Prodigy 0.1.1-0.1.8 (and the pre-consolidation global
layout) wrote, following ../shared/reference/prodigy-contract.md: serde's
pretty JSON (2-space indent, no trailing newline) for documents, compact JSON
plus "\\n" for JSONL lines, and the quirks of section 8.3. The outputs are
committed; this script documents how they were made and re-creates them.

  tests/data/legacy/full/repo/    copied to <tmp>/my-repo by the tests
  tests/data/legacy/full/global/  copied to the storage root (<root>/{events,dlq,state}/my-repo/...)
  tests/data/sample-repo/         the demo's sample repository (tools/demo.sh)
"""
import gzip
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)

JOB = "mapreduce-1758387792480"
JOB_OLD = "mapreduce-1758300000000"
JOB_GLOBAL = "mapreduce-1758387799999"
JOB_FLAT = "mapreduce-1758387700000"
LOG_DIR = "mapreduce-20250920_170312"
SESSION = "session-6feea3fd-8b9a-4891-9326-45ddd35fbd70"
SESSION_MIGRATED = "session-0b5b7b1e-3f0c-4a53-9d63-0c2b8e0b9a11"
WORKFLOW = "workflow-1758167434332"
CORR = "a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
META = '"metadata":{"pid":48211,"host":"localhost","thread":"tokio-runtime-worker"}'


def pretty(obj):
    # serde_json::to_string_pretty: 2 spaces, ": ", no trailing newline.
    return json.dumps(obj, indent=2, ensure_ascii=False)


def write(path, content, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    with open(path, "wb") as f:
        f.write(content)


def event(n, body, ts=None, meta=META):
    ts = ts or f"2025-09-20T17:{(3 + n // 60) % 60:02}:{n % 60:02}.{482913 + n:06}Z"
    return (f'{{"id":"3f2b8a52-6c1e-4d7a-9b0f-{n:012}","timestamp":"{ts}","correlation_id":"{CORR}",'
            f'"event":{body},{meta}}}')


def job_started(n, job=JOB):
    return event(n, '{"event_type":"job_started","job_id":"' + job + '","config":{"input":"work-items.json",'
                 '"json_path":"$.items[*]","max_parallel":5,"timeout_per_agent":600,"retry_on_failure":2},'
                 '"total_items":3,"timestamp":"2025-09-20T17:03:12.481007Z"}')


def agent_started(n, agent="agent-0-item_0", item="item_0"):
    return event(n, '{"event_type":"agent_started","job_id":"' + SESSION + '","agent_id":"' + agent +
                 '","item_id":"' + item + '","worktree":"mapreduce-agent-' + agent + '","attempt":1}')


def agent_completed(n, agent="agent-0-item_0"):
    return event(n, '{"event_type":"agent_completed","job_id":"' + SESSION + '","agent_id":"' + agent +
                 '","duration":[61,5000000],"commits":["[' + agent + '] 7ca920a0"]}')


def dlq_added(n, item="item_2"):
    return event(n, '{"event_type":"d_l_q_item_added","job_id":"' + JOB + '","item_id":"' + item +
                 '","error_signature":"Unknown::Command failed with exit code","failure_count":3}')


def job_completed(n, job=JOB):
    return event(n, '{"event_type":"job_completed","job_id":"' + job +
                 '","duration":[170,219004000],"success_count":2,"failure_count":1}',
                 ts="2025-09-20T17:06:02.700Z")


def claude_message(n, text):
    return event(n, '{"event_type":"claude_message","agent_id":"agent-1-item_1","content":' +
                 json.dumps(text) + ',"message_type":"assistant"}')


def dlq_item(item_id, last_attempt, data, message="Command failed with exit code 101"):
    return pretty({
        "item_id": item_id,
        "item_data": data,
        "first_attempt": "2025-09-20T17:05:40.000093Z",
        "last_attempt": last_attempt,
        "failure_count": 3,
        "failure_history": [{
            "attempt_number": 3,
            "timestamp": "2025-09-20T17:05:40.000081Z",
            "error_type": "Unknown",
            "error_message": message,
            "stack_trace": None,
            "agent_id": "agent_2",
            "step_failed": "execute_agent_commands",
            "duration_ms": 0,
        }],
        "error_signature": "Unknown::Command failed with exit code",
        "worktree_artifacts": None,
        "reprocess_eligible": True,
        "manual_review_required": False,
    })


def dlq_index(job, ids):
    # Built with json! in Prodigy: keys sorted.
    return pretty({"item_count": len(ids), "item_ids": ids, "job_id": job,
                   "updated_at": "2025-09-20T17:05:40.001204Z"})


STEP = {
    "claude": "/process ${item.task}",
    "capture_streams": {"stdout": True, "stderr": False, "exit_code": True, "success": True, "duration": True},
    "capture_output": False,
    "env": {},
    "commit_required": False,
    "skip_validation": False,
    "ignore_validation_failure": False,
}


def job_state(job, version, complete=False, era="0.1.8"):
    doc = {
        "job_id": job,
        "config": {"input": "work-items.json", "json_path": "$.items[*]", "max_parallel": 5,
                   "timeout_per_agent": 600, "retry_on_failure": 2},
        "started_at": "2025-09-20T17:03:12.480551Z",
        "updated_at": f"2025-09-20T17:04:{10 + version:02}.502310Z",
        "work_items": [{"id": 1, "task": "a"}, {"id": 2, "task": "b"}, {"task": "c"}],
        "agent_results": {} if version < 2 else {"1": {
            "item_id": "1", "status": "Success", "output": "done", "commits": [],
            "duration": {"secs": 61, "nanos": 5000000}}},
        "completed_agents": [] if version < 2 else ["1"],
        "failed_agents": {},
        "pending_items": ["item_0", "item_1", "item_2"],
        "checkpoint_version": version,
    }
    if era == "0.1.5":
        # 0.1.1-0.1.6: no checkpoint_format_version, agent_template, ... (newer Prodigy cannot load it).
        doc.update({"parent_worktree": None, "reduce_phase_state": None, "total_items": 3,
                    "successful_count": 0, "failed_count": 0, "is_complete": False})
        return pretty(doc)
    doc.update({
        "checkpoint_format_version": 1,
        "parent_worktree": None,
        "reduce_phase_state": None,
        "total_items": 3,
        "successful_count": min(version - 1, 2) if version > 0 else 0,
        "failed_count": 1 if complete else 0,
        "is_complete": complete,
        "agent_template": [STEP],
        "reduce_commands": None,
        "variables": {},
        "setup_output": None,
        "setup_completed": False,
    })
    return pretty(doc)


def checkpoint_meta(abs_dir, version, size):
    return pretty({"path": f"{abs_dir}/checkpoint-v{version}.json", "version": version,
                   "created_at": "2025-09-20T17:04:13.503001Z", "size_bytes": size})


def session_state(session_id, status, short=False):
    doc = {
        "session_id": session_id,
        "status": status,
        "started_at": "2025-09-18T03:50:31.118204Z",
        "ended_at": None if status == "InProgress" else "2025-09-18T04:18:52.004410Z",
        "iterations_completed": 1,
        "files_changed": 3,
        "errors": [],
        "working_directory": "/Users/glen/src/my-repo",
        "worktree_name": None,
        "workflow_started_at": "2025-09-18T03:50:31.120001Z",
        "current_iteration_started_at": None,
        "current_iteration_number": None,
        "iteration_timings": [[1, {"secs": 1700, "nanos": 12000}]],
        "command_timings": [["claude: /prodigy-implement-spec $ARG", {"secs": 1696, "nanos": 618391833}]],
    }
    if short:  # 0.1.1-0.1.5: only the first 14 fields
        return pretty(doc)
    doc.update({"workflow_state": None, "execution_environment": None, "last_checkpoint": None,
                "workflow_hash": "3", "workflow_type": "Standard", "execution_context": None,
                "checkpoint_version": 1, "last_validated_at": None})
    return pretty(doc)


def workflow_checkpoint(workflow_id, ts):
    return pretty({
        "workflow_id": workflow_id,
        "execution_state": {"current_step_index": 1, "total_steps": 3, "status": "Running",
                            "start_time": "2025-09-18T03:50:31.118204Z", "last_checkpoint": ts,
                            "current_iteration": None, "total_iterations": None},
        "completed_steps": [{
            "step_index": 0, "command": "claude: /prodigy-implement-spec $ARG", "success": True,
            "output": None, "captured_variables": {}, "duration": {"secs": 1696, "nanos": 618391833},
            "completed_at": ts}],
        "variable_state": {},
        "mapreduce_state": None,
        "timestamp": ts,
        "version": 1,
        "workflow_hash": "8d969eef6ecad3c2",
        "total_steps": 3,
        "workflow_name": "implement",
        "workflow_path": "workflows/implement.yml",
    })


def gzip_bytes(text):
    return gzip.compress(text.encode("utf-8"), mtime=0)


CONFIG_YML = "# Prodigy project configuration (must survive every migration)\nname: my-repo\nclaude_api_key: null\n"
WORKFLOW_YML = "commands:\n  - claude: \"/prodigy-code-review\"\n  - claude: \"/prodigy-implement-spec $ARG\"\n"


def local_prodigy(base, full):
    """<repo>/.prodigy as 0.1.1-0.1.8 left it."""
    p = os.path.join(base, ".prodigy")
    write(f"{p}/config.yml", CONFIG_YML)
    write(f"{p}/workflow.yml", WORKFLOW_YML)
    write(f"{p}/context/analysis_metadata.json", pretty({"analyzed_at": "2025-09-18T03:50:31Z"}))
    write(f"{p}/metrics/current.json", pretty({"coverage": 0.71}))

    jobs = f"{p}/mapreduce/jobs/{JOB}"
    for v in (1, 2, 3):
        write(f"{jobs}/checkpoint-v{v}.json", job_state(JOB, v, complete=(v == 3)))
    # metadata.json: an absolute path into the author's global folder (copied here).
    write(f"{jobs}/metadata.json", checkpoint_meta(f"/home/alice/.prodigy/state/my-repo/mapreduce/jobs/{JOB}", 3,
                                                    len(job_state(JOB, 3, True))))
    events = [job_started(0), agent_started(1), agent_completed(2), dlq_added(3), job_completed(4)]
    dlq_job = f"{p}/mapreduce/dlq/{JOB}"
    write(f"{dlq_job}/items/item_2.json", dlq_item("item_2", "2025-09-20T17:05:40.000095Z",
                                                   {"priority": 3, "task": "refactor parser"}))
    # An id taken from a "file" field: written into a sub-folder of items/.
    write(f"{dlq_job}/items/src/parser.rs.json", dlq_item("src/parser.rs", "2025-09-20T17:05:41.000095Z",
                                                          {"file": "src/parser.rs"}))
    # index.json is rewritten after every add/remove; this one is stale (lists one item).
    write(f"{dlq_job}/index.json", dlq_index(JOB, ["item_2"]))
    write(f"{p}/session_state.json", session_state(SESSION, "InProgress"))
    # The Interrupted snapshot of the same session: both exist and disagree.
    write(f"{p}/{SESSION}.json", session_state(SESSION, "Interrupted"))
    write(f"{p}/checkpoints/{WORKFLOW}.checkpoint.json", workflow_checkpoint(WORKFLOW, "2025-09-18T04:18:51.000402Z"))

    if not full:
        write(f"{p}/mapreduce/events/global/events.jsonl", "\n".join(events) + "\n")
        return

    # The single local event log shared by all runs, with every kind of bad line.
    lines = [
        events[0], events[1], events[2],
        "",                                                    # blank
        '{"timestamp":"2024-01-01T00:00:00Z","event":"test"}',  # foreign (retention tests wrote it)
        events[3],
        '{"id":"broken", "timestamp":',                        # invalid JSON (interleaved writers)
        event(5, '{"event_type":"job_paused","job_id":"' + JOB + '","checkpoint_version":2}', meta='"x":1'),
        event(6, '{"event_type":"some_future_event","job_id":"' + JOB + '"}'),  # unknown tag: still an event
        events[4],
    ]
    text = "\n".join(lines) + "\n"
    invalid_utf8 = b'{"id":"\xff\xfe bad bytes"}\n'
    torn = '{"id":"9b1d7e55-2a40-4c61-8d0f-3e9a6b7c5d22","timestamp":"2025-09-20T17:07:'
    write(f"{p}/mapreduce/events/global/events.jsonl", text.encode() + invalid_utf8 + torn.encode())

    # Orphan of a crash between writing checkpoint-v4.tmp and the rename.
    write(f"{jobs}/checkpoint-v4.tmp", job_state(JOB, 4)[:200])
    write(f"{dlq_job}/items/broken.json", '{"item_id": "broken", "item_data": ')  # skipped by Prodigy
    write(f"{p}/mapreduce/jobs/{JOB_OLD}/checkpoint-v1.json", job_state(JOB_OLD, 1, era="0.1.5"))
    # metadata.json pointing to a version that no longer exists: fall back to v1.
    write(f"{p}/mapreduce/jobs/{JOB_OLD}/metadata.json",
          checkpoint_meta(f"/Users/glen/src/my-repo/.prodigy/mapreduce/jobs/{JOB_OLD}", 2, 1800))
    # Retention archive (real gzip) holding the foreign test line, as in the real repository.
    write(f"{p}/events/archive/events_archive_20250906_075919.jsonl.gz",
          gzip_bytes('{"timestamp":"2024-01-01T00:00:00Z","event":"test"}\n'))
    write(f"{p}/cook-1754076473.json", pretty({
        "session_id": "cook-1754076473", "status": "Completed", "started_at": "2025-08-01T19:27:52.595655Z",
        "ended_at": None, "iterations_completed": 1, "files_changed": 2, "errors": [],
        "working_directory": "/Users/glen/src/my-repo", "worktree_name": None, "focus": None}))
    write(f"{p}/session_state.tmp.1758167434332000000", session_state(SESSION, "InProgress")[:100])
    write(f"{p}/checkpoints/{WORKFLOW}.checkpoint.tmp", "{")
    # Prodigy bookkeeping that is not storage data: never touched.
    write(f"{p}/state.json", pretty({"version": "1.0", "project_id": "my-repo", "last_run": None,
                                     "total_runs": 4}))
    write(f"{p}/history/20250918_035031_session-.json", pretty({"session_id": SESSION}))
    # A stray file inside a storage area: listed, kept.
    write(f"{p}/mapreduce/README.txt", "notes\n")

    # What H renamed .prodigy to after importing sessions.
    write(f"{base}/.prodigy_migrated/session_state.json", session_state(SESSION_MIGRATED, "Completed", short=True))


def global_layout(g):
    """The pre-consolidation global layout at <root>/{events,dlq,state}/my-repo/."""
    ev = f"{g}/events/my-repo/{LOG_DIR}"
    # Rotated at 100 MiB: renamed, NOT compressed, despite the name.
    write(f"{ev}/events-20250920_170312.20250920_191500.jsonl.gz",
          "\n".join([job_started(100, JOB_GLOBAL), agent_started(101, "agent-0-1", "1")]) + "\n")
    write(f"{ev}/events-20250920_170312.jsonl",
          "\n".join([agent_completed(102, "agent-0-1"), job_completed(103, JOB_GLOBAL)]) + "\n")
    # P-era logs are typically empty (no final flush).
    write(f"{g}/events/my-repo/{SESSION}/events-20250918_035031.jsonl", "")
    write(f"{g}/events/my-repo/resume-{WORKFLOW}/events-20250918_040000.jsonl",
          claude_message(104, "Implementing the spec: \u00e9t\u00e9 \u2713 \"quoted\"") + "\n")

    nested = f"{g}/dlq/my-repo/{JOB}/mapreduce/dlq/{JOB}"
    write(f"{nested}/items/item_7.json", dlq_item("item_7", "2025-09-20T17:09:00.000001Z", {"task": "t7"}))
    # Same id as the local item_2 but a different, newer document (duplicate ids).
    write(f"{nested}/items/item_2.json", dlq_item("item_2", "2025-09-20T18:00:00.000001Z",
                                                  {"priority": 3, "task": "refactor parser"},
                                                  message="Command failed with exit code 2"))
    write(f"{nested}/index.json", dlq_index(JOB, ["item_7", "item_2"]))
    # The layout Prodigy's discovery expected (no nesting).
    write(f"{g}/dlq/my-repo/{JOB_FLAT}/items/item_1.json", dlq_item("item_1", "2025-09-20T16:00:00.5Z", {"id": 1}))

    jobs = f"{g}/state/my-repo/mapreduce/jobs/{JOB_GLOBAL}"
    for v in (1, 2):
        write(f"{jobs}/checkpoint-v{v}.json", job_state(JOB_GLOBAL, v))
    write(f"{jobs}/metadata.json", checkpoint_meta(f"/home/alice/.prodigy/state/my-repo/mapreduce/jobs/{JOB_GLOBAL}",
                                                   2, len(job_state(JOB_GLOBAL, 2))))
    write(f"{jobs}/metadata.tmp", "{")

    # Not this repository's: never touched.
    write(f"{g}/events/archive/events_archive_20250906_080002.jsonl.gz", gzip_bytes("{}\n"))
    write(f"{g}/events/other-repo/{LOG_DIR}/events-20250920_170312.jsonl", job_started(200) + "\n")
    write(f"{g}/worktrees/my-repo/.metadata/session-x.json", pretty({"session_id": "session-x"}))
    write(f"{g}/worktrees/my-repo/.gitignore", ".metadata/\n")


def main():
    full = os.path.join(HERE, "full")
    shutil.rmtree(full, ignore_errors=True)
    local_prodigy(os.path.join(full, "repo"), full=True)
    global_layout(os.path.join(full, "global"))

    sample = os.path.join(DATA, "sample-repo")
    shutil.rmtree(sample, ignore_errors=True)
    write(f"{sample}/README.md", "# sample-repo\n\nA small repository as Prodigy 0.1.8 left it, for tools/demo.sh.\n")
    local_prodigy(sample, full=False)
    # A second job's DLQ with an id containing '/', and the session's own file.
    write(f"{sample}/.prodigy/mapreduce/dlq/{JOB}/items/docs/guide.md.json",
          dlq_item("docs/guide.md", "2025-09-20T17:05:42.000001Z", {"path": "docs/guide.md"}))


if __name__ == "__main__":
    main()
