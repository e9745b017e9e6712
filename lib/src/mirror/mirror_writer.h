// When the mirror files are written after a commit (docs/configuration.md,
// `mirrors` and `mirror_delay_ms`).
//
// Writing the files costs more than a one-event commit (flock, reading the
// change log, append, mark: about 60 us). By default the writer coalesces:
// the first commit after a quiet spell wakes a thread of the store's own,
// which waits `delay` and then applies every change logged meanwhile in one
// Mirror::Sync(). A commit is thus mirrored at most `delay` (plus one sync)
// after it returns, and at once on Flush() and when the store is closed. A
// crash in between is healed as before: the change log is in the database,
// and the next open (of any process) or write applies it.
//
// With a delay of 0 (`mirrors = "sync"`) every commit is mirrored before the
// call returns, in the caller's thread, and no thread is started.
#ifndef PRODIGY_MIRROR_MIRROR_WRITER_H_
#define PRODIGY_MIRROR_MIRROR_WRITER_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "mirror/mirror.h"

namespace prodigy::internal {

class MirrorWriter {
 public:
  MirrorWriter(Mirror& mirror, std::chrono::milliseconds delay);
  // Stops the thread, then writes what is pending.
  ~MirrorWriter();
  MirrorWriter(const MirrorWriter&) = delete;
  MirrorWriter& operator=(const MirrorWriter&) = delete;

  // A commit logged mirror changes: write them now or within the delay.
  void Committed();
  // Writes every change committed so far, in the calling thread.
  void Flush();

 private:
  void Run();

  Mirror& mirror_;
  const std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool pending_ = false;  // a commit since the last pass began
  bool stopping_ = false;
  std::chrono::steady_clock::time_point due_;
  // Started by the first deferred commit; a store opened only to read never has one.
  std::unique_ptr<std::thread> thread_;
  // The process that started the thread: a forked child has no such thread
  // (and, as with SQLite's own connections, must not use the parent's store).
  pid_t owner_ = 0;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_MIRROR_MIRROR_WRITER_H_
