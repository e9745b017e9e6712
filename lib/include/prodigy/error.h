// Copyright prodigy-store authors. The library's one error type.
//
// Every failure of the library is reported as a prodigy::Error; no exception
// of SQLite, SQLiteCpp, nlohmann/json, toml++ or any other dependency leaves a
// public function. The message names the thing involved (path, job, item,
// line) and, where there is one, what to do about it.
#ifndef PRODIGY_ERROR_H_
#define PRODIGY_ERROR_H_

#include <exception>
#include <string>
#include <string_view>

namespace prodigy {

enum class ErrorCode {
  kInvalidArgument,     // bad id, bad document, missing required field
  kNotFound,            // a job, item, session or file that does not exist
  kConfig,              // configuration file or storage root unusable
  kIo,                  // filesystem error (permissions, full disk, ...)
  kCorruption,          // the database file is damaged or not a prodigy-store database
  kTooNew,              // the database was written by a newer prodigy-store
  kBusy,                // another process held the database past every retry
  kVerificationFailed,  // an import or a rebuild did not reproduce the original bytes
  kInternal,            // a bug: please report it with the message
  kFenced,              // a write or extension under a lease that was lost (a newer grant exists)
};

// Stable lower-case name of a code, e.g. "not_found", for programs that
// report errors in a machine-readable form (logs, JSON).
std::string_view ErrorCodeName(ErrorCode code);

class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  // Named constructors, one per code (leveldb's Status::NotFound(...) style).
  static Error InvalidArgument(std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(message)};
  }
  static Error NotFound(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
  static Error Config(std::string message) { return {ErrorCode::kConfig, std::move(message)}; }
  static Error Io(std::string message) { return {ErrorCode::kIo, std::move(message)}; }
  static Error Corruption(std::string message) { return {ErrorCode::kCorruption, std::move(message)}; }
  static Error TooNew(std::string message) { return {ErrorCode::kTooNew, std::move(message)}; }
  static Error Busy(std::string message) { return {ErrorCode::kBusy, std::move(message)}; }
  static Error VerificationFailed(std::string message) {
    return {ErrorCode::kVerificationFailed, std::move(message)};
  }
  static Error Internal(std::string message) { return {ErrorCode::kInternal, std::move(message)}; }
  static Error Fenced(std::string message) { return {ErrorCode::kFenced, std::move(message)}; }

  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const char* what() const noexcept override { return message_.c_str(); }

  bool IsNotFound() const noexcept { return code_ == ErrorCode::kNotFound; }

 private:
  ErrorCode code_;
  std::string message_;
};

}  // namespace prodigy

#endif  // PRODIGY_ERROR_H_
