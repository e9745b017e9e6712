// WriteState under a lease: the fencing check of docs/coordination.md.
#include <fmt/format.h>

#include "prodigy/storage.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy {

using internal::Log;

int64_t GlobalStorage::WriteState(std::string_view job_id, std::string_view state_json,
                                  int64_t fencing_token) {
  internal::ValidateId("job id", job_id);
  if (fencing_token < 1) {
    throw Error::InvalidArgument(
        fmt::format("state of job {}: fencing token {} is not a lease's token (tokens start at 1)", job_id,
                    fencing_token));
  }
  JobState state = internal::ExtractJobState(job_id, state_json);
  impl_->Write([&](engine::WriteTxn& txn) {
    // Check and record in the same transaction as the write, so two holders
    // cannot both pass the check.
    const int64_t newest = txn.RaiseFence(job_id, fencing_token);
    if (fencing_token < newest) {
      throw Error::Fenced(
          fmt::format("state of job {} not written: its lease token {} is older than token {}, the newest "
                      "granted for this "
                      "job; the lease was lost (expired or taken over), so stop working on the job and "
                      "acquire its lease again",
                      job_id, fencing_token, newest));
    }
    internal::InsertJobState(txn, state, impl_->config.state_versions_kept);
  });
  Log().debug("write_state job={} version={} token={}", job_id, state.version, fencing_token);
  return state.version;
}

}  // namespace prodigy
