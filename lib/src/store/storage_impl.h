// GlobalStorage's insides, shared by the library's own modules (the legacy
// importer writes through the same connection and mirror).
#ifndef PRODIGY_STORE_STORAGE_IMPL_H_
#define PRODIGY_STORE_STORAGE_IMPL_H_

#include <functional>
#include <memory>
#include <mutex>

#include "mirror/mirror.h"
#include "prodigy/storage.h"
#include "sqlite/connection.h"

namespace prodigy {

struct GlobalStorage::Impl {
  StorageConfig config;
  RepositoryLocation location;
  std::unique_ptr<internal::Connection> conn;
  std::unique_ptr<internal::Mirror> mirror;
  // Serializes calls on one object; SQLite connections are not thread-safe.
  std::recursive_mutex mu;
  int writes_since_collapse = 0;

  // One write transaction, then the mirror files.
  void Write(const std::function<void(internal::WriteTxn&)>& fn) {
    conn->Write(fn);
    AfterCommit();
  }
  template <class F>
  auto Read(F&& fn) -> decltype(fn()) {
    return conn->Read(std::forward<F>(fn));
  }
  void AfterCommit() {
    if (config.mirrors) {
      mirror->Sync();
    } else if (++writes_since_collapse >= 1024) {
      writes_since_collapse = 0;
      mirror->CollapseChangeLog();
    }
  }
};

namespace internal {
// Imports legacy Prodigy data on open when the policy says so
// (implemented in lib/src/legacy/).
void AutoMigrateOnOpen(GlobalStorage& storage);
}  // namespace internal

}  // namespace prodigy

#endif  // PRODIGY_STORE_STORAGE_IMPL_H_
