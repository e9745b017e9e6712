// SHA-256 through OpenSSL's EVP interface.
#ifndef PRODIGY_UTIL_SHA256_H_
#define PRODIGY_UTIL_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace prodigy::internal {

std::string Sha256Hex(std::string_view data);

// Incremental hashing for streamed files.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  std::string FinalHex();  // lower-case hex; the object may not be updated afterwards

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_UTIL_SHA256_H_
