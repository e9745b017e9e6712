"""prodigy_store: Python bindings of prodigy-store's C API (ctypes, standard library only).

    import prodigy_store
    with prodigy_store.open("/path/to/repo") as store:
        store.append_event("job-1", '{"id": "e1", "timestamp": "2025-09-20T17:03:12Z", '
                                    '"event": {"event_type": "agent_started"}}')
        for event in store.events(job="job-1", types=["agent_started"]):
            print(event.seq, event.event_type, event.json)

Documents go in and come out as JSON text, byte for byte as stored; use the json module to
parse them. Every failure raises prodigy_store.Error (a subclass per code, e.g. NotFound,
InvalidArgument) whose message names the job, item or file and what to do. The shared
library is found through PRODIGY_STORE_LIBRARY (a path), then the install location, then
the system's library path. See docs/bindings.md.
"""
import ctypes
import ctypes.util
import json
import os

from ._install import LIBDIR as _LIBDIR

__all__ = ["open", "Store", "Event", "Error", "InvalidArgument", "NotFound", "ConfigError", "IoError",
           "Corruption", "TooNew", "Busy", "VerificationFailed", "InternalError", "Fenced", "version"]


class Error(Exception):
    """A failure reported by prodigy-store; `code` is the C API's status name ("not_found", ...)."""

    code = "error"


class InvalidArgument(Error, ValueError):
    code = "invalid_argument"


class NotFound(Error, LookupError):
    code = "not_found"


class ConfigError(Error):
    code = "config"


class IoError(Error, OSError):
    code = "io"


class Corruption(Error):
    code = "corruption"


class TooNew(Error):
    code = "too_new"


class Busy(Error):
    code = "busy"


class VerificationFailed(Error):
    code = "verification_failed"


class InternalError(Error):
    code = "internal"


class Fenced(Error):
    code = "fenced"


# prodigy_status numbers (prodigy/c_api.h) -> exception classes.
_ERRORS = {1: InvalidArgument, 2: NotFound, 3: ConfigError, 4: IoError, 5: Corruption, 6: TooNew, 7: Busy,
           8: VerificationFailed, 9: InternalError, 10: MemoryError, 11: Fenced}


def _load():
    candidates = []
    if os.environ.get("PRODIGY_STORE_LIBRARY"):
        candidates.append(os.environ["PRODIGY_STORE_LIBRARY"])
    if _LIBDIR:
        candidates.append(os.path.join(_LIBDIR, "libprodigy-store.so.0"))
    found = ctypes.util.find_library("prodigy-store")
    if found:
        candidates.append(found)
    candidates.append("libprodigy-store.so.0")
    errors = []
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("prodigy_store cannot load the prodigy-store library (tried "
                      + "; ".join(errors) + "); install it or set PRODIGY_STORE_LIBRARY to its path")


_lib = _load()
_c_char_pp = ctypes.POINTER(ctypes.c_char_p)


def _declare(name, argtypes, restype=ctypes.c_int):
    fn = getattr(_lib, name)
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


_P = ctypes.c_void_p
_S = ctypes.c_char_p
_I64P = ctypes.POINTER(ctypes.c_int64)
_OUT_STR = ctypes.POINTER(ctypes.c_void_p)  # char** whose result we free ourselves

_version = _declare("prodigy_version", [], _S)
_last_error = _declare("prodigy_last_error", [], _S)
_free = _declare("prodigy_free", [_P], None)
_open = _declare("prodigy_open", [_S, _S, ctypes.POINTER(_P)])
_close = _declare("prodigy_close", [_P], None)
_db_path = _declare("prodigy_db_path", [_P, _OUT_STR])
_append_event = _declare("prodigy_append_event", [_P, _S, _S, _I64P])
_append_events = _declare("prodigy_append_events", [_P, _S, ctypes.POINTER(_S), ctypes.c_size_t, _I64P])
_query_new = _declare("prodigy_query_new", [ctypes.POINTER(_P)])
_query_free = _declare("prodigy_query_free", [_P], None)
_query_set_job = _declare("prodigy_query_set_job", [_P, _S])
_query_add_type = _declare("prodigy_query_add_type", [_P, _S])
_query_set_agent = _declare("prodigy_query_set_agent", [_P, _S])
_query_set_since = _declare("prodigy_query_set_since", [_P, ctypes.c_int64])
_query_set_until = _declare("prodigy_query_set_until", [_P, ctypes.c_int64])
_query_set_after = _declare("prodigy_query_set_after", [_P, ctypes.c_int64])
_query_set_limit = _declare("prodigy_query_set_limit", [_P, ctypes.c_int64])
_query_events = _declare("prodigy_query_events", [_P, _P, ctypes.POINTER(_P)])
_count_events = _declare("prodigy_count_events", [_P, _P, _I64P])
_cursor_next = _declare("prodigy_cursor_next", [_P, ctypes.POINTER(_P)])
_cursor_last_seq = _declare("prodigy_cursor_last_seq", [_P], ctypes.c_int64)
_cursor_free = _declare("prodigy_cursor_free", [_P], None)
_event_seq = _declare("prodigy_event_seq", [_P], ctypes.c_int64)
_event_fields = {name: _declare("prodigy_event_" + name, [_P], _S)
                 for name in ("job_id", "record_id", "timestamp", "type", "agent_id", "json")}
_event_free = _declare("prodigy_event_free", [_P], None)
_dlq_add = _declare("prodigy_dlq_add", [_P, _S, _S])
_dlq_get = _declare("prodigy_dlq_get", [_P, _S, _S, _OUT_STR])
_dlq_list = _declare("prodigy_dlq_list", [_P, _S, ctypes.c_int64, _OUT_STR])
_dlq_stats = _declare("prodigy_dlq_stats", [_P, _S, _OUT_STR])
_dlq_remove = _declare("prodigy_dlq_remove", [_P, _S, _S, ctypes.POINTER(ctypes.c_int)])
_state_write = _declare("prodigy_state_write", [_P, _S, _S, _I64P])
_state_read = _declare("prodigy_state_read", [_P, _S, _OUT_STR])
_session_save = _declare("prodigy_session_save", [_P, _S])
_session_load = _declare("prodigy_session_load", [_P, _S, _OUT_STR])
_session_list = _declare("prodigy_session_list", [_P, _OUT_STR])
_checkpoint_save = _declare("prodigy_checkpoint_save", [_P, _S])
_checkpoint_load = _declare("prodigy_checkpoint_load", [_P, _S, _OUT_STR])
_checkpoint_latest = _declare("prodigy_checkpoint_latest", [_P, _OUT_STR])


def _check(status):
    if status != 0:
        message = (_last_error() or b"").decode("utf-8", "replace")
        raise _ERRORS.get(status, Error)(message)


def _enc(text, what):
    if text is None:
        return None
    if isinstance(text, bytes):
        return text
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str or bytes, not {type(text).__name__}")
    return text.encode("utf-8")


def _take_string(call, *args):
    """Calls a C function with a trailing char** out parameter; returns str or None."""
    out = ctypes.c_void_p()
    _check(call(*args, ctypes.byref(out)))
    if not out.value:
        return None
    try:
        return ctypes.string_at(out.value).decode("utf-8")
    finally:
        _free(out)


def version():
    """The library's version, e.g. "0.1.0"."""
    return _version().decode()


class Event:
    """One stored EventRecord: `json` is the record verbatim; the rest was extracted from it."""

    __slots__ = ("seq", "job_id", "record_id", "timestamp", "event_type", "agent_id", "json")

    def __init__(self, handle):
        self.seq = _event_seq(handle)
        f = {name: fn(handle).decode("utf-8", "replace") for name, fn in _event_fields.items()}
        self.job_id, self.record_id, self.timestamp = f["job_id"], f["record_id"], f["timestamp"]
        self.event_type, self.agent_id, self.json = f["type"], f["agent_id"], f["json"]

    def __repr__(self):
        return f"Event(seq={self.seq}, job_id={self.job_id!r}, event_type={self.event_type!r})"


class _Query:
    def __init__(self, job, types, agent, since_ns, until_ns, after, limit):
        handle = _P()
        _check(_query_new(ctypes.byref(handle)))
        self.handle = handle
        try:
            if job is not None:
                _check(_query_set_job(handle, _enc(job, "job")))
            for t in types or ():
                _check(_query_add_type(handle, _enc(t, "type")))
            if agent is not None:
                _check(_query_set_agent(handle, _enc(agent, "agent")))
            if since_ns is not None:
                _check(_query_set_since(handle, since_ns))
            if until_ns is not None:
                _check(_query_set_until(handle, until_ns))
            if after:
                _check(_query_set_after(handle, after))
            if limit is not None:
                _check(_query_set_limit(handle, limit))
        except BaseException:
            _query_free(handle)
            raise

    def free(self):
        if self.handle:
            _query_free(self.handle)
            self.handle = None


class Store:
    """One repository's store. Use as a context manager, or call close()."""

    def __init__(self, repo_path, storage_dir=None):
        self._handle = None
        handle = _P()
        _check(_open(_enc(os.fspath(repo_path), "repo_path"),
                     _enc(os.fspath(storage_dir), "storage_dir") if storage_dir is not None else None,
                     ctypes.byref(handle)))
        self._handle = handle
        self._cursors = 0       # open iterators: the C store must outlive them
        self._closing = False

    def close(self):
        """Closes the store (at once, or when the last open events() iterator ends)."""
        self._closing = True
        if self._handle and self._cursors == 0:
            _close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    @property
    def _h(self):
        if not self._handle or self._closing:
            raise InvalidArgument("the store is closed")
        return self._handle

    @property
    def db_path(self):
        return _take_string(_db_path, self._h)

    # ---- events
    def append_event(self, job_id, event_json):
        """Appends one EventRecord (JSON text); returns its seq."""
        seq = ctypes.c_int64()
        _check(_append_event(self._h, _enc(job_id, "job_id"), _enc(event_json, "event_json"), ctypes.byref(seq)))
        return seq.value

    def append_events(self, job_id, events_json):
        """Appends records in one transaction (all or none); returns the last seq."""
        items = [_enc(e, "event") for e in events_json]
        array = (_S * len(items))(*items)
        seq = ctypes.c_int64()
        _check(_append_events(self._h, _enc(job_id, "job_id"), array, len(items), ctypes.byref(seq)))
        return seq.value

    def events(self, job=None, types=None, agent=None, since_ns=None, until_ns=None, after=0, limit=None):
        """Iterates over matching events in append order, with bounded memory."""
        query = _Query(job, types, agent, since_ns, until_ns, after, limit)
        cursor = _P()
        try:
            _check(_query_events(self._h, query.handle, ctypes.byref(cursor)))
        finally:
            query.free()
        self._cursors += 1
        try:
            while True:
                event = _P()
                _check(_cursor_next(cursor, ctypes.byref(event)))
                if not event.value:
                    return
                try:
                    yield Event(event)
                finally:
                    _event_free(event)
        finally:
            _cursor_free(cursor)
            self._cursors -= 1
            if self._closing:
                self.close()

    def count_events(self, job=None, types=None, agent=None, since_ns=None, until_ns=None, after=0):
        query = _Query(job, types, agent, since_ns, until_ns, after, None)
        try:
            n = ctypes.c_int64()
            _check(_count_events(self._h, query.handle, ctypes.byref(n)))
            return n.value
        finally:
            query.free()

    # ---- dead-letter queue
    def dlq_add(self, job_id, item_json):
        _check(_dlq_add(self._h, _enc(job_id, "job_id"), _enc(item_json, "item_json")))

    def dlq_get(self, job_id, item_id):
        """The item's JSON text, or None."""
        return _take_string(_dlq_get, self._h, _enc(job_id, "job_id"), _enc(item_id, "item_id"))

    def dlq_list(self, job_id=None, limit=None):
        """A list of the items' JSON texts, newest last_attempt first."""
        return _split_array(_take_string(_dlq_list, self._h, _enc(job_id, "job_id"), -1 if limit is None else limit))

    def dlq_stats(self, job_id=None):
        """Statistics as a dict (the keys of `prodigy-store dlq stats --json`)."""
        return json.loads(_take_string(_dlq_stats, self._h, _enc(job_id, "job_id")))

    def dlq_remove(self, job_id, item_id):
        """True when the item existed."""
        removed = ctypes.c_int()
        _check(_dlq_remove(self._h, _enc(job_id, "job_id"), _enc(item_id, "item_id"), ctypes.byref(removed)))
        return bool(removed.value)

    # ---- job state
    def write_state(self, job_id, state_json):
        """Stores a version of the job's state; returns the version."""
        version = ctypes.c_int64()
        _check(_state_write(self._h, _enc(job_id, "job_id"), _enc(state_json, "state_json"), ctypes.byref(version)))
        return version.value

    def read_state(self, job_id):
        """The newest state's JSON text, or None."""
        return _take_string(_state_read, self._h, _enc(job_id, "job_id"))

    # ---- sessions
    def save_session(self, session_json):
        _check(_session_save(self._h, _enc(session_json, "session_json")))

    def load_session(self, session_id):
        return _take_string(_session_load, self._h, _enc(session_id, "session_id"))

    def list_sessions(self):
        return _split_array(_take_string(_session_list, self._h))

    # ---- workflow checkpoints
    def save_checkpoint(self, checkpoint_json):
        _check(_checkpoint_save(self._h, _enc(checkpoint_json, "checkpoint_json")))

    def load_checkpoint(self, workflow_id):
        return _take_string(_checkpoint_load, self._h, _enc(workflow_id, "workflow_id"))

    def latest_checkpoint(self):
        return _take_string(_checkpoint_latest, self._h)


def _split_array(text):
    """Splits the C API's "[doc,doc]" into the documents' verbatim texts."""
    decoder = json.JSONDecoder()
    docs, pos = [], 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return docs
        _, end = decoder.raw_decode(text, pos)
        docs.append(text[pos:end])
        pos = end


def open(repo_path, storage_dir=None):  # noqa: A001 (the module's entry point, like io.open)
    """Opens (creating if needed) the store of the repository at repo_path."""
    return Store(repo_path, storage_dir)
