// Leases through the repository's database (no redis_url configured): the
// engine's lease operations (engine/engine.h), each in one write transaction,
// so every process using the database agrees on the holder. Expiry uses the
// writer's wall clock.
#include "coord/coord.h"
#include "store/storage_impl.h"

namespace prodigy::internal {
namespace {

int64_t Ns(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()) * 1'000'000; }

class DatabaseLeases final : public Leases::Backend {
 public:
  // Lease rows have no mirror files: the engine's transactions alone.
  explicit DatabaseLeases(GlobalStorage& storage) : engine_(*ImplOf(storage).engine) {}

  std::string_view name() const override { return "database"; }

  std::optional<Lease> TryAcquire(std::string_view key, std::string_view holder,
                                  std::chrono::milliseconds ttl, std::optional<Lease>* current) override {
    engine::LeaseGrant grant;
    engine_.Write([&](engine::WriteTxn& txn) {
      const int64_t now = NowNs();
      grant = txn.AcquireLease(key, holder, now, now + Ns(ttl));
    });
    if (grant.granted) return grant.lease;
    *current = grant.lease;
    return std::nullopt;
  }

  std::optional<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override {
    bool ok = false;
    Lease out = lease;
    engine_.Write([&](engine::WriteTxn& txn) {
      const int64_t now = NowNs();
      out.expires_at_ns = now + Ns(ttl);
      ok = txn.ExtendLease(lease.key, lease.token, now, out.expires_at_ns);
    });
    if (!ok) return std::nullopt;
    return out;
  }

  bool Release(const Lease& lease) override {
    bool ok = false;
    engine_.Write([&](engine::WriteTxn& txn) { ok = txn.ReleaseLease(lease.key, lease.token, NowNs()); });
    return ok;
  }

  std::optional<Lease> Current(std::string_view key) override {
    std::optional<Lease> out;
    engine_.Read([&](engine::ReadTxn& txn) { out = txn.CurrentLease(key, NowNs()); });
    return out;
  }

  std::vector<Lease> List() override {
    std::vector<Lease> out;
    engine_.Read([&](engine::ReadTxn& txn) { out = txn.ListLeases(NowNs()); });
    return out;
  }

  std::optional<Lease> ForceRelease(std::string_view key) override {
    std::optional<Lease> out;
    engine_.Write([&](engine::WriteTxn& txn) { out = txn.ForceReleaseLease(key, NowNs()); });
    return out;
  }

 private:
  engine::Engine& engine_;
};

}  // namespace

std::unique_ptr<Leases::Backend> OpenDatabaseLeases(GlobalStorage& storage) {
  return std::make_unique<DatabaseLeases>(storage);
}

}  // namespace prodigy::internal
