//! Appends events to a repository's store and queries them back through
//! prodigy-store's C API (prodigy/c_api.h), with the standard library only.
//!
//! Build and run (see docs/bindings.md):
//!   rustc -O -L <libdir> -l prodigy-store examples/rust/main.rs -o prodigy-example
//!   LD_LIBRARY_PATH=<libdir> ./prodigy-example <repo> <storage-dir>
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::ptr;

#[repr(C)]
struct Store {
    _private: [u8; 0],
}
#[repr(C)]
struct Query {
    _private: [u8; 0],
}
#[repr(C)]
struct Cursor {
    _private: [u8; 0],
}
#[repr(C)]
struct Event {
    _private: [u8; 0],
}

const PRODIGY_OK: c_int = 0;

extern "C" {
    fn prodigy_version() -> *const c_char;
    fn prodigy_last_error() -> *const c_char;
    fn prodigy_status_name(status: c_int) -> *const c_char;
    fn prodigy_open(repo_path: *const c_char, storage_dir: *const c_char, out: *mut *mut Store) -> c_int;
    fn prodigy_close(store: *mut Store);
    fn prodigy_append_event(store: *mut Store, job_id: *const c_char, json: *const c_char, seq: *mut i64) -> c_int;
    fn prodigy_append_events(
        store: *mut Store,
        job_id: *const c_char,
        events: *const *const c_char,
        count: usize,
        last_seq: *mut i64,
    ) -> c_int;
    fn prodigy_query_new(out: *mut *mut Query) -> c_int;
    fn prodigy_query_free(query: *mut Query);
    fn prodigy_query_set_job(query: *mut Query, job_id: *const c_char) -> c_int;
    fn prodigy_query_add_type(query: *mut Query, event_type: *const c_char) -> c_int;
    fn prodigy_query_events(store: *mut Store, query: *const Query, out: *mut *mut Cursor) -> c_int;
    fn prodigy_cursor_next(cursor: *mut Cursor, out: *mut *mut Event) -> c_int;
    fn prodigy_cursor_free(cursor: *mut Cursor);
    fn prodigy_event_seq(event: *const Event) -> i64;
    fn prodigy_event_type(event: *const Event) -> *const c_char;
    fn prodigy_event_json(event: *const Event) -> *const c_char;
    fn prodigy_event_free(event: *mut Event);
}

/// A failed call: the status name and the library's message.
#[derive(Debug)]
struct Error(String);

fn check(status: c_int) -> Result<(), Error> {
    if status == PRODIGY_OK {
        return Ok(());
    }
    // SAFETY: both return NUL-terminated strings owned by the library.
    let (name, message) = unsafe {
        (CStr::from_ptr(prodigy_status_name(status)), CStr::from_ptr(prodigy_last_error()))
    };
    Err(Error(format!("{}: {}", name.to_string_lossy(), message.to_string_lossy())))
}

fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL inside")
}

fn event_json(id: usize, event_type: &str) -> String {
    format!(
        r#"{{"id":"rust-{id}","timestamp":"2025-09-20T17:03:{:02}Z","correlation_id":"c","event":{{"event_type":"{event_type}","job_id":"rust-job","agent_id":"agent-{id}"}},"metadata":{{}}}}"#,
        id % 60
    )
}

fn run(repo: &str, storage_dir: &str) -> Result<(), Error> {
    let (repo, root, job) = (cstring(repo), cstring(storage_dir), cstring("rust-job"));
    let mut store: *mut Store = ptr::null_mut();
    // SAFETY: every pointer passed is valid for the call; every handle is freed once.
    unsafe {
        check(prodigy_open(repo.as_ptr(), root.as_ptr(), &mut store))?;
        let mut seq = 0i64;
        check(prodigy_append_event(store, job.as_ptr(), cstring(&event_json(0, "agent_started")).as_ptr(), &mut seq))?;
        let batch: Vec<CString> = (1..=3).map(|i| cstring(&event_json(i, "agent_completed"))).collect();
        let pointers: Vec<*const c_char> = batch.iter().map(|s| s.as_ptr()).collect();
        check(prodigy_append_events(store, job.as_ptr(), pointers.as_ptr(), pointers.len(), &mut seq))?;
        println!("appended 4 events, last seq {seq}");

        // A bad record is an error value, never a crash.
        let bad = cstring("{not json");
        if let Err(e) = check(prodigy_append_event(store, job.as_ptr(), bad.as_ptr(), ptr::null_mut())) {
            println!("refused: {}", e.0);
        }

        let mut query: *mut Query = ptr::null_mut();
        check(prodigy_query_new(&mut query))?;
        check(prodigy_query_set_job(query, job.as_ptr()))?;
        check(prodigy_query_add_type(query, cstring("AgentCompleted").as_ptr()))?;
        let mut cursor: *mut Cursor = ptr::null_mut();
        check(prodigy_query_events(store, query, &mut cursor))?;
        prodigy_query_free(query);
        let mut found = 0;
        loop {
            let mut event: *mut Event = ptr::null_mut();
            check(prodigy_cursor_next(cursor, &mut event))?;
            if event.is_null() {
                break;
            }
            found += 1;
            let kind = CStr::from_ptr(prodigy_event_type(event)).to_string_lossy();
            let json = CStr::from_ptr(prodigy_event_json(event)).to_string_lossy();
            println!("seq {} {} {}", prodigy_event_seq(event), kind, json);
            prodigy_event_free(event);
        }
        prodigy_cursor_free(cursor);
        prodigy_close(store);
        println!("{found} agent_completed events (prodigy-store {})", CStr::from_ptr(prodigy_version()).to_string_lossy());
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} REPO STORAGE_DIR", args[0]);
        std::process::exit(2);
    }
    if let Err(e) = run(&args[1], &args[2]) {
        eprintln!("prodigy-example: {}", e.0);
        std::process::exit(1);
    }
}
