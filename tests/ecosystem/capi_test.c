/* The C API from a program compiled as C (not C++): open, events (single,
 * batch, cursor), DLQ, state, sessions, checkpoints, and the error paths,
 * which must come back as status codes with messages, never as a C++
 * exception (one would abort this program).
 * Usage: capi_test REPO STORAGE_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prodigy/c_api.h"

static int failures = 0;

#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond, \
              prodigy_last_error());                                                          \
      ++failures;                                                                             \
    }                                                                                         \
  } while (0)

#define OK(call) CHECK((call) == PRODIGY_OK)

static const char* kEvent =
    "{\"id\":\"e%d\",\"timestamp\":\"2025-09-20T17:03:%02dZ\",\"correlation_id\":\"c\","
    "\"event\":{\"event_type\":\"%s\",\"job_id\":\"job-1\",\"agent_id\":\"agent-%d\"},\"metadata\":{}}";

static char* EventJson(int i, const char* type) {
  char* buf = malloc(512);
  snprintf(buf, 512, kEvent, i, i % 60, type, i);
  return buf;
}

static void TestEvents(prodigy_store* store) {
  int64_t seq = 0;
  char* first = EventJson(0, "agent_started");
  OK(prodigy_append_event(store, "job-1", first, &seq));
  CHECK(seq > 0);

  char* batch[3];
  for (int i = 0; i < 3; ++i) batch[i] = EventJson(i + 1, "AgentCompleted");
  int64_t last = 0;
  OK(prodigy_append_events(store, "job-1", (const char* const*)batch, 3, &last));
  CHECK(last == seq + 3);

  /* A batch with one bad record stores nothing. */
  const char* mixed[2] = {batch[0], "{\"id\":1}"};
  CHECK(prodigy_append_events(store, "job-1", mixed, 2, NULL) == PRODIGY_ERR_INVALID_ARGUMENT);
  CHECK(strlen(prodigy_last_error()) > 0);

  prodigy_query* query = NULL;
  OK(prodigy_query_new(&query));
  OK(prodigy_query_set_job(query, "job-1"));
  OK(prodigy_query_add_type(query, "agent_completed"));
  int64_t count = 0;
  OK(prodigy_count_events(store, query, &count));
  CHECK(count == 3);

  prodigy_cursor* cursor = NULL;
  OK(prodigy_query_events(store, query, &cursor));
  prodigy_query_free(query);
  int n = 0;
  for (;;) {
    prodigy_event* event = NULL;
    OK(prodigy_cursor_next(cursor, &event));
    if (event == NULL) break;
    ++n;
    CHECK(strcmp(prodigy_event_type(event), "agent_completed") == 0);
    CHECK(strcmp(prodigy_event_job_id(event), "job-1") == 0);
    CHECK(strcmp(prodigy_event_json(event), batch[n - 1]) == 0); /* verbatim */
    CHECK(prodigy_event_seq(event) == seq + n);
    CHECK(strcmp(prodigy_event_record_id(event), n == 1 ? "e1" : n == 2 ? "e2" : "e3") == 0);
    prodigy_event_free(event);
  }
  CHECK(n == 3);
  CHECK(prodigy_cursor_last_seq(cursor) == last);
  prodigy_cursor_free(cursor);

  /* Resume after a seq, with a limit. */
  OK(prodigy_query_new(&query));
  OK(prodigy_query_set_after(query, seq));
  OK(prodigy_query_set_limit(query, 1));
  OK(prodigy_query_events(store, query, &cursor));
  prodigy_event* one = NULL;
  OK(prodigy_cursor_next(cursor, &one));
  CHECK(one != NULL && prodigy_event_seq(one) == seq + 1);
  prodigy_event_free(one);
  OK(prodigy_cursor_next(cursor, &one));
  CHECK(one == NULL);
  prodigy_cursor_free(cursor);
  CHECK(prodigy_query_set_limit(query, -1) == PRODIGY_ERR_INVALID_ARGUMENT);
  prodigy_query_free(query);

  free(first);
  for (int i = 0; i < 3; ++i) free(batch[i]);
}

static void TestDlq(prodigy_store* store) {
  const char* item =
      "{\"item_id\":\"item-1\",\"item_data\":{\"path\":\"a.rs\"},\"first_attempt\":\"2025-09-20T17:00:00Z\","
      "\"last_attempt\":\"2025-09-20T17:05:00Z\",\"failure_count\":2,\"failure_history\":[],"
      "\"error_signature\":\"Timeout after 300s\",\"worktree_artifacts\":null,\"reprocess_eligible\":true,"
      "\"manual_review_required\":false}";
  OK(prodigy_dlq_add(store, "job-1", item));
  char* json = NULL;
  OK(prodigy_dlq_get(store, "job-1", "item-1", &json));
  CHECK(json != NULL && strcmp(json, item) == 0);
  prodigy_free(json);
  OK(prodigy_dlq_get(store, "job-1", "no-such-item", &json));
  CHECK(json == NULL); /* absent is not an error */
  OK(prodigy_dlq_list(store, NULL, -1, &json));
  CHECK(json != NULL && json[0] == '[' && strstr(json, "item-1") != NULL);
  prodigy_free(json);
  OK(prodigy_dlq_stats(store, "job-1", &json));
  CHECK(json != NULL && strstr(json, "\"total_items\":1") != NULL);
  prodigy_free(json);
  int removed = 0;
  OK(prodigy_dlq_remove(store, "job-1", "item-1", &removed));
  CHECK(removed == 1);
  OK(prodigy_dlq_remove(store, "job-1", "item-1", &removed));
  CHECK(removed == 0);
}

static void TestDocuments(prodigy_store* store) {
  const char* state =
      "{\"job_id\":\"job-1\",\"checkpoint_version\":4,\"is_complete\":false,\"total_items\":3,"
      "\"successful_count\":1,\"failed_count\":0}";
  int64_t version = 0;
  OK(prodigy_state_write(store, "job-1", state, &version));
  CHECK(version == 4);
  char* json = NULL;
  OK(prodigy_state_read(store, "job-1", &json));
  CHECK(json != NULL && strcmp(json, state) == 0);
  prodigy_free(json);
  OK(prodigy_state_read(store, "no-job", &json));
  CHECK(json == NULL);

  const char* session =
      "{\"session_id\":\"s-1\",\"status\":\"InProgress\",\"started_at\":\"2025-09-20T17:00:00Z\"}";
  OK(prodigy_session_save(store, session));
  OK(prodigy_session_load(store, "s-1", &json));
  CHECK(json != NULL && strcmp(json, session) == 0);
  prodigy_free(json);
  OK(prodigy_session_list(store, &json));
  CHECK(json != NULL && strstr(json, "s-1") != NULL);
  prodigy_free(json);

  const char* checkpoint =
      "{\"workflow_id\":\"wf-1\",\"execution_state\":{\"current_step_index\":1,\"total_steps\":3,"
      "\"status\":\"Running\"},\"timestamp\":\"2025-09-20T17:00:00Z\"}";
  OK(prodigy_checkpoint_save(store, checkpoint));
  OK(prodigy_checkpoint_load(store, "wf-1", &json));
  CHECK(json != NULL && strcmp(json, checkpoint) == 0);
  prodigy_free(json);
  OK(prodigy_checkpoint_latest(store, &json));
  CHECK(json != NULL && strstr(json, "wf-1") != NULL);
  prodigy_free(json);
}

/* Every failure is a status plus a message naming the problem. */
static void TestErrors(prodigy_store* store, const char* root) {
  prodigy_store* none = NULL;
  CHECK(prodigy_open("/no/such/repository", root, &none) == PRODIGY_ERR_NOT_FOUND);
  CHECK(none == NULL);
  CHECK(strstr(prodigy_last_error(), "/no/such/repository") != NULL);
  CHECK(prodigy_open(NULL, root, &none) == PRODIGY_ERR_INVALID_ARGUMENT);
  CHECK(strstr(prodigy_last_error(), "repo_path must not be NULL") != NULL);
  CHECK(prodigy_append_event(store, "job-1", "{not json", NULL) == PRODIGY_ERR_INVALID_ARGUMENT);
  CHECK(strlen(prodigy_last_error()) > 0);
  CHECK(prodigy_append_event(NULL, "job-1", "{}", NULL) == PRODIGY_ERR_INVALID_ARGUMENT);
  CHECK(prodigy_state_write(store, "job-1", "{\"job_id\":\"other\",\"checkpoint_version\":1}", NULL) ==
        PRODIGY_ERR_INVALID_ARGUMENT);
  CHECK(prodigy_dlq_add(store, "job-1", "[]") == PRODIGY_ERR_INVALID_ARGUMENT);
  CHECK(prodigy_session_save(store, "{\"no_id\":1}") == PRODIGY_ERR_INVALID_ARGUMENT);
  /* A success clears the last error. */
  char* path = NULL;
  OK(prodigy_db_path(store, &path));
  CHECK(strcmp(prodigy_last_error(), "") == 0);
  CHECK(path != NULL && strstr(path, "prodigy.db") != NULL);
  prodigy_free(path);
  CHECK(strcmp(prodigy_status_name(PRODIGY_ERR_NOT_FOUND), "not_found") == 0);
  prodigy_free(NULL);
  prodigy_close(NULL);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s REPO STORAGE_DIR\n", argv[0]);
    return 2;
  }
  CHECK(strlen(prodigy_version()) > 0);
  prodigy_store* store = NULL;
  OK(prodigy_open(argv[1], argv[2], &store));
  if (store == NULL) return 1;
  TestEvents(store);
  TestDlq(store);
  TestDocuments(store);
  TestErrors(store, argv[2]);
  prodigy_close(store);
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("c api: all checks passed\n");
  return 0;
}
