// The fast EventRecord scan against the general nlohmann/json path: whenever
// the scan accepts a text, the general path must accept it too and extract
// the very same columns; whatever the general path rejects, the scan must
// decline. Checked on Prodigy's own lines, on edge cases, and on a few hundred
// thousand mutations of them.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "prodigy/error.h"
#include "store/event_scan.h"
#include "store/rows.h"
#include "test_util.h"

using namespace prodigy;
using internal::ExtractEventGeneral;
using internal::ScanEventRecord;

namespace {

// Lines as Prodigy writes them (reference §2.1), plus escapes and UTF-8.
const std::vector<std::string> kLines = {
    R"({"id":"3f2b8a52-6c1e-4d7a-9b0f-5e2c7a1d9e44","timestamp":"2025-09-20T17:03:12.482913Z","correlation_id":"a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b","event":{"event_type":"job_started","job_id":"mapreduce-1758387792480","config":{"input":"work-items.json","json_path":"$.items[*]","max_parallel":5,"timeout_per_agent":600,"retry_on_failure":2},"total_items":3,"timestamp":"2025-09-20T17:03:12.481007Z"},"metadata":{"pid":48211,"host":"localhost","thread":"tokio-runtime-worker"}})",
    R"({"id":"0d6c1c3e-8f0a-4b1e-a0e4-6b5f7c2d9a11","timestamp":"2025-09-20T17:04:13.501122Z","correlation_id":"a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b","event":{"event_type":"agent_completed","job_id":"session-6feea3fd-8b9a-4891-9326-45ddd35fbd70","agent_id":"agent-0-item_0","duration":[61,5000000],"commits":["[agent-0-item_0] 7ca920a0"]},"metadata":{"host":"localhost","pid":48211,"thread":"tokio-runtime-worker"}})",
    R"({"id":"9b1d7e55-2a40-4c61-8d0f-3e9a6b7c5d22","timestamp":"2025-09-20T17:05:40.000117Z","correlation_id":"a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b","event":{"event_type":"d_l_q_item_added","job_id":"mapreduce-1758387792480","item_id":"item_2","error_signature":"Unknown::Command failed with exit code","failure_count":3},"metadata":{"host":"localhost","thread":"tokio-runtime-worker","pid":48211}})",
    R"({"id":"5e0f2a9b-7c1d-4e8f-9a3b-1c2d3e4f5a6b","timestamp":"2025-09-20T17:06:02.700Z","correlation_id":"a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b","event":{"event_type":"job_completed","job_id":"mapreduce-1758387792480","duration":[170,219004000],"success_count":2,"failure_count":1},"metadata":{"host":"localhost","pid":48211}})",
    R"({"id":"7a1b","timestamp":"2025-09-20T17:07:00Z","correlation_id":"c","event":{"event_type":"claude_message","agent_id":"agent-1-item_1","content":"Voilà — \"naïve\" fix:\n```rust\nlet x = 1.5e-3;\n```\t\u001b[31m\ud83d\ude00 \/ \\ done","message_type":"assistant"},"metadata":{"host":"localhost","pid":1,"ratio":-0.25e+2,"flags":[true,false,null,{},[]]}})",
};

void CheckSame(const Event& a, const Event& b) {
  CHECK(a.job_id == b.job_id);
  CHECK(a.record_id == b.record_id);
  CHECK(a.timestamp == b.timestamp);
  CHECK(a.ts_ns == b.ts_ns);
  CHECK(a.event_type == b.event_type);
  CHECK(a.event_name == b.event_name);
  CHECK(a.event_job_id == b.event_job_id);
  CHECK(a.agent_id == b.agent_id);
  CHECK(a.item_id == b.item_id);
  CHECK(a.correlation_id == b.correlation_id);
  CHECK(a.json == b.json);
}

struct Outcome {
  bool fast = false;     // the scan accepted the text
  bool general = false;  // the general path accepted it
};

// Checks the contract on one text and says what each path did.
Outcome Compare(const std::string& text) {
  Outcome o;
  const std::optional<Event> fast = ScanEventRecord("job", text);
  std::optional<Event> general;
  try {
    general = ExtractEventGeneral("job", text);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
  }
  o.fast = fast.has_value();
  o.general = general.has_value();
  if (fast) {
    INFO("text: " << text);
    REQUIRE(general.has_value());
    CheckSame(*fast, *general);
  }
  return o;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("Prodigy's own lines take the fast path and extract what the general path extracts") {
  for (const auto& line : kLines) {
    const Outcome o = Compare(line);
    CHECK(o.fast);
    CHECK(o.general);
  }
  const Event e = internal::ExtractEvent("j", kLines[2]);
  CHECK(e.event_name == "dlq_item_added");
  CHECK(e.item_id == "item_2");
  CHECK(e.agent_id.empty());
}

TEST_CASE("unusual but valid records are stored alike by both paths") {
  const std::string& base = kLines[1];
  const std::vector<std::string> unusual = {
      Replace(base, R"("agent_id":"agent-0-item_0")", R"("agent_id":"agent-0-item_0","agent_id":"dup")"),
      Replace(base, R"("id":"0d6c)", R"("\u0069d":"0d6c)"),
      Replace(base, R"("agent_id":"agent-0-item_0")", R"("agent_id":"agent\u002d0")"),
      Replace(base, R"("agent_id":"agent-0-item_0")", R"("agent_id":7)"),
      Replace(base, R"("correlation_id":"a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b")", R"("correlation_id":null)"),
      Replace(base, R"("duration":[61,5000000])", R"("duration":[61,5e100])"),
      Replace(base, R"("duration":[61,5000000])", "\"duration\":[61,\n5000000]"),
      "\xEF\xBB\xBF" + base,
      Replace(base, R"("commits":)",
              R"("deep":)" + std::string(80, '[') + std::string(80, ']') + R"(,"commits":)"),
  };
  for (const auto& text : unusual) {
    INFO("text: " << text);
    // The scan may take them or leave them to the general path; when it takes
    // one, Compare() has checked that it extracted the same event.
    const Outcome o = Compare(text);
    CHECK(o.general);
  }
  // A duplicated extracted key and a multi-line text always take the general path.
  CHECK_FALSE(Compare(unusual[0]).fast);
  CHECK_FALSE(Compare(unusual[6]).fast);
}

TEST_CASE("texts the general path rejects are declined by the scan") {
  const std::string& base = kLines[1];
  const std::vector<std::string> rejected = {
      "",
      "[]",
      base.substr(0, base.size() - 1),
      base + "x",
      Replace(base, R"("duration":[61,5000000])", R"("duration":[61,1e400])"),
      Replace(base, R"("duration":[61,5000000])", R"("duration":[61,01])"),
      Replace(base, R"("duration":[61,5000000])", R"("duration":[61,-])"),
      Replace(base, R"("duration":[61,5000000])", R"("duration":[61,1.])"),
      Replace(base, R"("duration":[61,5000000])", R"("duration":[61,5,])"),
      Replace(base, "7ca920a0", R"(\ud800)"),
      Replace(base, "7ca920a0", R"(\udc00\ud800)"),
      Replace(base, "7ca920a0", R"(\x)"),
      Replace(base, "7ca920a0", "\t"),
      Replace(base, "7ca920a0", "\xC0\xAF"),
      Replace(base, "7ca920a0", "\xED\xA0\x80"),
      Replace(base, "7ca920a0", "\xF4\x90\x80\x80"),
      Replace(base, "7ca920a0", "\xE2\x82"),
      Replace(base, R"("timestamp":"2025-09-20T17:04:13.501122Z")", R"("timestamp":"yesterday")"),
      Replace(base, R"("event_type":"agent_completed",)", ""),
      Replace(base, R"("id":"0d6c1c3e-8f0a-4b1e-a0e4-6b5f7c2d9a11",)", ""),
      Replace(base, R"("metadata":{)", R"("metadata":{,)"),
      Replace(kLines[4], "true", "ture"),
  };
  for (const auto& text : rejected) {
    INFO("text: " << text);
    const Outcome o = Compare(text);
    CHECK_FALSE(o.fast);
  }
}

TEST_CASE("random mutations never make the scan accept what the general path rejects") {
  // A table of snippets reads better packed than one per line.
  // clang-format off
  static const std::vector<std::string> kSnippets = {
      "\"", "\\", "{", "}", "[", "]", ",", ":", "u", "0", "9", "e", "E", "-", "+", ".", " ", "\t", "\n", "\r",
      std::string(1, '\0'), "\x7f", "\x80", "\xBF", "\xC0", "\xC2", "\xE0", "\xED", "\xF0", "\xF4", "\xF5", "\xFF",
      "\\u", "\\uD800", "\\uDC00", "\\ud83d\\ude00", "\\u00e9", "1e400", "1e99", "-0", "true", "null",
      R"("id":"x",)", R"("event":{},)", R"("agent_id":"a",)", "\xEF\xBB\xBF", "\xC3\xA9", "\xF0\x9F\x98\x80",
  };
  // clang-format on
  std::mt19937_64 rng(20250920);
  int64_t accepted = 0, total = 0;
  for (int round = 0; round < 60000; ++round) {
    std::string s = kLines[rng() % kLines.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      const size_t pos = rng() % s.size();
      const std::string& snip = kSnippets[rng() % kSnippets.size()];
      switch (rng() % 4) {
        case 0:
          s.replace(pos, 1, snip);
          break;
        case 1:
          s.insert(pos, snip);
          break;
        case 2:
          s.erase(pos, 1 + rng() % 3);
          break;
        default:
          s.resize(pos);
          break;
      }
    }
    const Outcome o = Compare(s);
    accepted += o.fast;
    ++total;
  }
  // The mutations must reach the accepting path too, or the test proves little.
  CHECK(accepted > total / 20);
  MESSAGE("mutations accepted by the scan: " << accepted << " of " << total);
}

TEST_CASE("a number too large for a double is an invalid-argument error naming the record") {
  // Regression: nlohmann/json reports it as out_of_range, which used to escape
  // the library as a foreign exception.
  test::Sandbox sb;
  auto storage = sb.Open();
  const std::string line = Replace(kLines[1], R"("duration":[61,5000000])", R"("duration":[61,1e400])");
  try {
    storage.AppendEvent("job", line);
    FAIL("the record was accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    CHECK(e.message().find("event for job job") != std::string::npos);
    CHECK(e.message().find("number overflow") != std::string::npos);
  }
  CHECK(storage.ReadEvents("job").empty());
  try {
    storage.AddDlqItem("job", R"({"item_id":"i","first_attempt":"2025-09-20T17:00:00Z",)"
                              R"("last_attempt":"2025-09-20T17:00:00Z","failure_count":1e999})");
    FAIL("the item was accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    CHECK(e.message().find("DLQ item of job job") != std::string::npos);
  }
}

TEST_CASE("IsValidUtf8 finds a bad byte at any position of a long ASCII run") {
  // Its ASCII fast path skips 8 bytes at a time: every offset must still be checked.
  for (size_t len = 1; len < 40; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string s(len, 'a');
      CHECK(internal::IsValidUtf8(s));
      s[pos] = '\xFF';
      CHECK_FALSE(internal::IsValidUtf8(s));
      s[pos] = '\xC3';  // a lead byte whose continuation is missing or ASCII
      CHECK_FALSE(internal::IsValidUtf8(s));
      if (pos + 1 < len) {
        s[pos + 1] = '\xA9';
        CHECK(internal::IsValidUtf8(s));
      }
    }
  }
  CHECK(internal::IsValidUtf8("naïve — événement 😀 and plain ASCII after it"));
  CHECK_FALSE(internal::IsValidUtf8("twelve bytes\x80"));
}

TEST_CASE("IsValidUtf8 follows RFC 3629: no overlong forms, surrogates or code points above U+10FFFF") {
  CHECK(internal::IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK(internal::IsValidUtf8("\xed\x9f\xbf"));            // U+D7FF, just below the surrogates
  CHECK(internal::IsValidUtf8("\xf4\x8f\xbf\xbf"));        // U+10FFFF
  CHECK_FALSE(internal::IsValidUtf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(internal::IsValidUtf8("\xe0\x80\xaf"));      // overlong '/'
  CHECK_FALSE(internal::IsValidUtf8("\xf0\x80\x80\xaf"));  // overlong '/'
  CHECK_FALSE(internal::IsValidUtf8("\xed\xa0\x80"));      // U+D800, a surrogate
  CHECK_FALSE(internal::IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(internal::IsValidUtf8("\xe2\x82"));          // cut short
}
