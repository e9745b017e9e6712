#include "mirror/mirror_writer.h"

#include <unistd.h>

#include "util/log.h"

namespace prodigy::internal {

MirrorWriter::MirrorWriter(Mirror& mirror, std::chrono::milliseconds delay)
    : mirror_(mirror), delay_(delay) {}

MirrorWriter::~MirrorWriter() {
  if (thread_) {
    if (owner_ != ::getpid()) {
      // A forked child: the thread does not exist here, so there is nothing
      // to join; drop the handle without touching it.
      (void)thread_.release();
      return;
    }
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_->join();
  }
  // A store that committed nothing since the last pass has nothing to write
  // (a read-only command's close stays as cheap as before).
  if (pending_) Flush();
}

void MirrorWriter::Committed() {
  if (delay_.count() == 0) {
    mirror_.Sync();
    return;
  }
  std::unique_lock lock(mu_);
  if (pending_) return;  // the thread will pick this commit up with the earlier one
  pending_ = true;
  due_ = std::chrono::steady_clock::now() + delay_;
  if (!thread_) {
    try {
      thread_ = std::make_unique<std::thread>([this] { Run(); });
      owner_ = ::getpid();
    } catch (const std::exception& e) {
      // The commit is done: never fail the call for its mirror files. Write
      // them now, as `mirrors = "sync"` does; the next commit tries again.
      pending_ = false;
      lock.unlock();
      Log().warn("cannot start the mirror writer thread ({}); mirror files are written after each commit",
                 e.what());
      mirror_.Sync();
      return;
    }
  }
  lock.unlock();
  wake_.notify_one();
}

void MirrorWriter::Flush() {
  {
    std::lock_guard lock(mu_);
    pending_ = false;
  }
  // Reads the change log as it is now: every commit made before this call.
  mirror_.Sync();
}

void MirrorWriter::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return pending_ || stopping_; });
    if (stopping_) return;  // the destructor writes what is pending
    // Gather the commits of the next `delay`; a stop cuts the wait short.
    wake_.wait_until(lock, due_, [this] { return stopping_; });
    if (stopping_) return;
    if (!pending_) continue;  // a Flush() wrote them meanwhile
    pending_ = false;
    lock.unlock();
    mirror_.Sync();  // never throws: a failure is logged and retried by the next sync
    lock.lock();
  }
}

}  // namespace prodigy::internal
