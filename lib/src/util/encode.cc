// The one function that turns ids into file names (see storage.h).
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "prodigy/storage.h"
#include "util/sha256.h"

namespace prodigy {

std::string EncodeFileName(std::string_view id) {
  constexpr size_t kMaxName = 200;
  std::string out;
  out.reserve(id.size());
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || (c == '.' && i > 0);
    if (safe) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  if (out.empty()) out = "%";  // ids are never empty; keep even this inside the folder
  if (out.size() > kMaxName) {
    // Keep a readable prefix; the hash of the whole id keeps names distinct.
    std::string prefix = out.substr(0, kMaxName - 17);
    // Do not cut a %XX escape in half.
    const size_t pct = prefix.rfind('%');
    if (pct != std::string::npos && pct + 3 > prefix.size()) prefix.resize(pct);
    out = prefix + "~" + internal::Sha256Hex(id).substr(0, 16);
  }
  return out;
}

}  // namespace prodigy
