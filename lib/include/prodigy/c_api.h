/* prodigy-store's C API: the store from C, and from every language that can
 * call C (Rust `extern "C"`, Python ctypes, Go cgo). It wraps the C++ API of
 * prodigy/storage.h; see docs/bindings.md.
 *
 * Contract
 * - Handles are opaque; their layout is not part of the ABI. Only functions
 *   are, and a function, once released, keeps its signature.
 * - Every function that can fail returns a prodigy_status. On failure,
 *   prodigy_last_error() describes it (what failed, naming the job, item,
 *   file, and what to do) until the next call into this API on the same
 *   thread. No C++ exception ever crosses this API.
 * - Ownership: a `char*` or handle returned through an out parameter belongs
 *   to the caller, who releases it with the matching function: prodigy_free()
 *   for strings, prodigy_close(), prodigy_query_free(), prodigy_cursor_free(),
 *   prodigy_event_free(). Strings passed in are only read during the call.
 *   Strings are UTF-8 and NUL-terminated; documents are JSON text, stored and
 *   returned verbatim (byte for byte).
 * - "Not there" is not an error: a get/read/load of something that does not
 *   exist returns PRODIGY_OK and sets the out string to NULL.
 * - Threads: a store handle may be used from several threads (calls are
 *   serialized); a cursor or query belongs to one thread at a time.
 */
#ifndef PRODIGY_C_API_H_
#define PRODIGY_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PRODIGY_EXPORT __attribute__((visibility("default")))
#else
#define PRODIGY_EXPORT
#endif

/* Stable numbers: new codes may be added, none is renumbered. */
typedef enum prodigy_status {
  PRODIGY_OK = 0,
  PRODIGY_ERR_INVALID_ARGUMENT = 1, /* bad id, bad document, NULL argument */
  PRODIGY_ERR_NOT_FOUND = 2,        /* repository path or named thing missing */
  PRODIGY_ERR_CONFIG = 3,           /* configuration or storage root unusable */
  PRODIGY_ERR_IO = 4,               /* filesystem error (permissions, full disk) */
  PRODIGY_ERR_CORRUPTION = 5,       /* damaged database */
  PRODIGY_ERR_TOO_NEW = 6,          /* database written by a newer prodigy-store */
  PRODIGY_ERR_BUSY = 7,             /* another process held the database too long */
  PRODIGY_ERR_VERIFICATION_FAILED = 8,
  PRODIGY_ERR_INTERNAL = 9, /* a bug: please report the message */
  PRODIGY_ERR_NO_MEMORY = 10,
  PRODIGY_ERR_FENCED = 11 /* a write under a lease that was lost */
} prodigy_status;

typedef struct prodigy_store prodigy_store;
typedef struct prodigy_query prodigy_query;
typedef struct prodigy_cursor prodigy_cursor;
typedef struct prodigy_event prodigy_event;

/* ---- Library ------------------------------------------------------------ */

/* The library's version, e.g. "0.1.0" (static storage). */
PRODIGY_EXPORT const char* prodigy_version(void);
/* The message of this thread's last failed call ("" when none; owned by the
 * library, valid until the next call on this thread). */
PRODIGY_EXPORT const char* prodigy_last_error(void);
/* "ok", "invalid_argument", "not_found", ... (static storage). */
PRODIGY_EXPORT const char* prodigy_status_name(prodigy_status status);
/* Releases a string returned by this API; NULL is allowed. */
PRODIGY_EXPORT void prodigy_free(void* p);

/* ---- Store -------------------------------------------------------------- */

/* Opens (creating if needed) the store of the repository at `repo_path`.
 * `storage_dir` NULL: the root is resolved as the CLI does
 * (PRODIGY_STORAGE_DIR, ~/.prodigy/config.toml, ~/.prodigy). */
PRODIGY_EXPORT prodigy_status prodigy_open(const char* repo_path, const char* storage_dir,
                                           prodigy_store** out_store);
/* Closes the store; NULL is allowed. */
PRODIGY_EXPORT void prodigy_close(prodigy_store* store);
/* The database file of the store (out: caller frees). */
PRODIGY_EXPORT prodigy_status prodigy_db_path(prodigy_store* store, char** out_path);

/* ---- Events (Prodigy EventRecord) ------------------------------------- */

/* Appends one record; out_seq (may be NULL) receives its seq. */
PRODIGY_EXPORT prodigy_status prodigy_append_event(prodigy_store* store, const char* job_id,
                                                   const char* event_json, int64_t* out_seq);
/* Appends `count` records in one transaction: all or none. out_last_seq (may
 * be NULL) receives the seq of the last one. */
PRODIGY_EXPORT prodigy_status prodigy_append_events(prodigy_store* store, const char* job_id,
                                                    const char* const* events_json, size_t count,
                                                    int64_t* out_last_seq);

/* A filtered event query; an unset field does not filter. */
PRODIGY_EXPORT prodigy_status prodigy_query_new(prodigy_query** out_query);
PRODIGY_EXPORT void prodigy_query_free(prodigy_query* query);
PRODIGY_EXPORT prodigy_status prodigy_query_set_job(prodigy_query* query, const char* job_id);
/* Adds an event type (any spelling: "agent_completed", "AgentCompleted"). */
PRODIGY_EXPORT prodigy_status prodigy_query_add_type(prodigy_query* query, const char* event_type);
PRODIGY_EXPORT prodigy_status prodigy_query_set_agent(prodigy_query* query, const char* agent_id);
/* Time window in ns since the epoch: since <= timestamp < until. */
PRODIGY_EXPORT prodigy_status prodigy_query_set_since(prodigy_query* query, int64_t since_ns);
PRODIGY_EXPORT prodigy_status prodigy_query_set_until(prodigy_query* query, int64_t until_ns);
/* Resume cursor: only events with seq > after_seq. */
PRODIGY_EXPORT prodigy_status prodigy_query_set_after(prodigy_query* query, int64_t after_seq);
PRODIGY_EXPORT prodigy_status prodigy_query_set_limit(prodigy_query* query, int64_t limit);

/* Starts a streaming query (bounded memory). The cursor keeps the store
 * open: free it before prodigy_close(). */
PRODIGY_EXPORT prodigy_status prodigy_query_events(prodigy_store* store, const prodigy_query* query,
                                                   prodigy_cursor** out_cursor);
/* The next event, or *out_event = NULL at the end (still PRODIGY_OK). */
PRODIGY_EXPORT prodigy_status prodigy_cursor_next(prodigy_cursor* cursor, prodigy_event** out_event);
/* seq of the last event returned: pass it to prodigy_query_set_after() to resume. */
PRODIGY_EXPORT int64_t prodigy_cursor_last_seq(const prodigy_cursor* cursor);
PRODIGY_EXPORT void prodigy_cursor_free(prodigy_cursor* cursor);
PRODIGY_EXPORT prodigy_status prodigy_count_events(prodigy_store* store, const prodigy_query* query,
                                                   int64_t* out_count);

/* An event's fields; the strings live as long as the event. */
PRODIGY_EXPORT int64_t prodigy_event_seq(const prodigy_event* event);
PRODIGY_EXPORT const char* prodigy_event_job_id(const prodigy_event* event);
PRODIGY_EXPORT const char* prodigy_event_record_id(const prodigy_event* event);
PRODIGY_EXPORT const char* prodigy_event_timestamp(const prodigy_event* event);
/* Normalized type, e.g. "dlq_item_added" for "DLQItemAdded". */
PRODIGY_EXPORT const char* prodigy_event_type(const prodigy_event* event);
PRODIGY_EXPORT const char* prodigy_event_agent_id(const prodigy_event* event);
/* The record, one line, verbatim. */
PRODIGY_EXPORT const char* prodigy_event_json(const prodigy_event* event);
PRODIGY_EXPORT void prodigy_event_free(prodigy_event* event);

/* ---- Dead-letter queue (DeadLetteredItem) ----------------------------- */

/* Adds or replaces the item. */
PRODIGY_EXPORT prodigy_status prodigy_dlq_add(prodigy_store* store, const char* job_id,
                                              const char* item_json);
/* The item's document, or NULL when there is no such item. */
PRODIGY_EXPORT prodigy_status prodigy_dlq_get(prodigy_store* store, const char* job_id, const char* item_id,
                                              char** out_json);
/* A JSON array of the items' documents, newest last_attempt first. job_id
 * NULL: every job; limit < 0: no limit. */
PRODIGY_EXPORT prodigy_status prodigy_dlq_list(prodigy_store* store, const char* job_id, int64_t limit,
                                               char** out_json);
/* Statistics as a JSON object (the keys of `prodigy-store dlq stats --json`).
 * job_id NULL: every job. */
PRODIGY_EXPORT prodigy_status prodigy_dlq_stats(prodigy_store* store, const char* job_id, char** out_json);
/* out_removed (may be NULL): 1 when the item existed. */
PRODIGY_EXPORT prodigy_status prodigy_dlq_remove(prodigy_store* store, const char* job_id,
                                                 const char* item_id, int* out_removed);

/* ---- Job state (MapReduceJobState) ------------------------------------ */

/* out_version (may be NULL) receives the stored checkpoint_version. */
PRODIGY_EXPORT prodigy_status prodigy_state_write(prodigy_store* store, const char* job_id,
                                                  const char* state_json, int64_t* out_version);
/* The newest version's document, or NULL when the job has no state. */
PRODIGY_EXPORT prodigy_status prodigy_state_read(prodigy_store* store, const char* job_id, char** out_json);

/* ---- Sessions ----------------------------------------------------------- */

PRODIGY_EXPORT prodigy_status prodigy_session_save(prodigy_store* store, const char* session_json);
PRODIGY_EXPORT prodigy_status prodigy_session_load(prodigy_store* store, const char* session_id,
                                                   char** out_json);
/* A JSON array of session documents, most recently updated first. */
PRODIGY_EXPORT prodigy_status prodigy_session_list(prodigy_store* store, char** out_json);

/* ---- Workflow checkpoints --------------------------------------------- */

PRODIGY_EXPORT prodigy_status prodigy_checkpoint_save(prodigy_store* store, const char* checkpoint_json);
PRODIGY_EXPORT prodigy_status prodigy_checkpoint_load(prodigy_store* store, const char* workflow_id,
                                                      char** out_json);
/* The newest checkpoint's document, or NULL when there is none. */
PRODIGY_EXPORT prodigy_status prodigy_checkpoint_latest(prodigy_store* store, char** out_json);

#ifdef __cplusplus
}
#endif

#endif /* PRODIGY_C_API_H_ */
