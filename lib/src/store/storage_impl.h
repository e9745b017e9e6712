// GlobalStorage's insides, for the library's own modules: the engine the
// store talks to and the mirror writer. Locking lives in the engine's
// transactions (engine/engine.h) and in the mirror; callers place no locks.
#ifndef PRODIGY_STORE_STORAGE_IMPL_H_
#define PRODIGY_STORE_STORAGE_IMPL_H_

#include <atomic>
#include <functional>
#include <memory>

#include "coord/coord.h"
#include "engine/engine.h"
#include "mirror/mirror.h"
#include "mirror/mirror_writer.h"
#include "prodigy/storage.h"

namespace prodigy {

struct GlobalStorage::Impl {
  StorageConfig config;
  RepositoryLocation location;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<internal::Mirror> mirror;
  // When the files are written after a commit; null with mirrors off.
  // Declared after `mirror`: destroyed first, writing what is pending.
  std::unique_ptr<internal::MirrorWriter> mirror_writer;
  std::atomic<int> writes_since_collapse{0};
  // Redis notification of committed events; null without redis_url.
  std::unique_ptr<internal::EventNotifier> notifier;

  // One write transaction, then the mirror files.
  void Write(const std::function<void(engine::WriteTxn&)>& fn) {
    engine->Write(fn);
    AfterCommit();
  }
  // Writes the mirror files of every commit so far (they may lag by
  // config.mirror_delay_ms otherwise).
  void FlushMirrors() {
    if (mirror_writer) mirror_writer->Flush();
  }
  // After a commit that appended events up to last_seq.
  void EventsCommitted(int64_t last_seq) {
    if (notifier) notifier->Committed(last_seq);
  }
  void AfterCommit() {
    if (mirror_writer) {
      mirror_writer->Committed();
    } else if (++writes_since_collapse >= 1024) {
      writes_since_collapse = 0;
      mirror->CollapseChangeLog();
    }
  }
};

namespace internal {
struct StorageAccess {
  static GlobalStorage::Impl& Of(GlobalStorage& storage) { return *storage.impl_; }
  static GlobalStorage Make(std::unique_ptr<GlobalStorage::Impl> impl) {
    return GlobalStorage(std::move(impl));
  }
};
// The insides of a GlobalStorage (the importer and the tests use them).
inline GlobalStorage::Impl& ImplOf(GlobalStorage& storage) { return StorageAccess::Of(storage); }

// Opens the repository's store (no legacy import: GlobalStorage::Open
// orchestrates that above both the store and the importer).
GlobalStorage OpenStore(const std::filesystem::path& repo_path, const StorageConfig& config);

}  // namespace internal

}  // namespace prodigy

#endif  // PRODIGY_STORE_STORAGE_IMPL_H_
