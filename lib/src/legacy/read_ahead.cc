#include "legacy/read_ahead.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace prodigy::internal::legacy {
namespace {

constexpr size_t kBatchBytes = size_t{256} << 10;
constexpr size_t kBatchesAhead = 4;  // memory in flight: about 1 MB of lines plus their columns

using Batch = std::vector<ScannedLine>;

// The bounded queue between the reading thread and the inserting one.
class Handoff {
 public:
  // Reader: waits while the queue is full; false once the inserter stopped.
  bool Push(Batch&& batch) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || queue_.size() < kBatchesAhead; });
    if (stopped_) return false;
    queue_.push_back(std::move(batch));
    cv_.notify_all();
    return true;
  }
  // Reader: no more batches; `error` is rethrown to the inserter after them.
  void Finish(std::exception_ptr error) {
    std::lock_guard lock(mu_);
    finished_ = true;
    error_ = std::move(error);
    cv_.notify_all();
  }
  // Inserter: the next batch; false at the end.
  bool Pop(Batch* batch) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return false;
    }
    *batch = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return true;
  }
  // Inserter: gives up (its own error); the reader stops at its next Push.
  void Stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  bool finished_ = false;
  bool stopped_ = false;
  std::exception_ptr error_;
};

ScannedLine Scan(const std::string& job_id, int64_t line_no, std::string_view line, bool has_newline) {
  ScannedLine out;
  out.line_no = line_no;
  out.parsed = ParseEventLine(job_id, line, has_newline);
  if (!out.parsed.event) out.bytes = line;
  return out;
}

// Parses and applies each line at once (small logs, or no second thread).
class Inline : public LineVisitor {
 public:
  Inline(const std::string& job_id, const std::function<void(ScannedLine&)>& apply)
      : job_id_(job_id), apply_(apply) {}
  void Line(int64_t line_no, std::string_view line, bool has_newline) override {
    ScannedLine l = Scan(job_id_, line_no, line, has_newline);
    apply_(l);
  }
  void RawChunk(std::string_view chunk) override {
    ScannedLine l;
    l.bytes = chunk;
    apply_(l);
  }

 private:
  const std::string& job_id_;
  const std::function<void(ScannedLine&)>& apply_;
};

struct Stopped {};  // unwinds the reader when the inserter gave up

// The reading thread's visitor: parses into batches and hands them over.
class Batcher : public LineVisitor {
 public:
  Batcher(const std::string& job_id, Handoff& handoff) : job_id_(job_id), handoff_(handoff) {}
  void Line(int64_t line_no, std::string_view line, bool has_newline) override {
    batch_.push_back(Scan(job_id_, line_no, line, has_newline));
    Added(line.size());
  }
  void RawChunk(std::string_view chunk) override {
    batch_.emplace_back().bytes = chunk;
    Added(chunk.size());
  }
  void Flush() {
    if (batch_.empty()) return;
    if (!handoff_.Push(std::move(batch_))) throw Stopped{};
    batch_ = Batch();
    bytes_ = 0;
  }

 private:
  void Added(size_t bytes) {
    bytes_ += bytes;
    if (bytes_ >= kBatchBytes) Flush();
  }
  const std::string& job_id_;
  Handoff& handoff_;
  Batch batch_;
  size_t bytes_ = 0;
};

}  // namespace

LineScan ScanEventLog(RawFile& file, bool gzip, const std::string& job_id, bool ahead,
                      const std::function<void(ScannedLine&)>& apply) {
  if (ahead) {
    Handoff handoff;
    LineScan scan;
    std::thread reader;
    try {
      reader = std::thread([&] {
        std::exception_ptr error;
        try {
          Batcher batcher(job_id, handoff);
          scan = ScanLines(file, gzip, batcher);
          batcher.Flush();
        } catch (const Stopped&) {
        } catch (...) {
          error = std::current_exception();
        }
        handoff.Finish(error);
      });
    } catch (const std::system_error&) {
      ahead = false;  // no thread: read on this one
    }
    if (ahead) {
      struct Join {
        Handoff& handoff;
        std::thread& reader;
        ~Join() {
          handoff.Stop();
          reader.join();
        }
      } join{handoff, reader};
      for (Batch batch; handoff.Pop(&batch);) {
        for (ScannedLine& line : batch) apply(line);
      }
      return scan;  // written before Finish, which Pop saw
    }
  }
  Inline visitor(job_id, apply);
  return ScanLines(file, gzip, visitor);
}

}  // namespace prodigy::internal::legacy
