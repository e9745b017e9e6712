#include "store/event_scan.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "prodigy/storage.h"

namespace prodigy::internal {
namespace {

// Deeper documents take the general path (which has no depth limit).
constexpr int kMaxDepth = 64;
// Longer numbers, and exponents of three digits, take the general path: it
// refuses numbers that overflow a double, this scanner does not convert.
constexpr ptrdiff_t kMaxNumberLength = 100;

// Which object is being scanned: only the record and its "event" carry
// fields to extract.
enum class Ctx { kOther, kRecord, kEvent };

struct Fields {
  std::string_view id, timestamp, correlation_id;
  std::string_view event_type, job_id, agent_id, item_id;
  bool event_seen = false;
};

class Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool Scan(Fields* f) {
    Ws();
    if (p_ == end_ || *p_ != '{' || !Object(0, Ctx::kRecord, f)) return false;
    Ws();
    return p_ == end_;
  }

 private:
  // Only blanks and tabs: a line break means a multi-line document, which
  // the general path compacts.
  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t')) ++p_;
  }

  static std::string_view* Slot(Ctx ctx, std::string_view key, Fields* f) {
    if (ctx == Ctx::kRecord) {
      if (key == "id") return &f->id;
      if (key == "timestamp") return &f->timestamp;
      if (key == "correlation_id") return &f->correlation_id;
    } else if (ctx == Ctx::kEvent) {
      if (key == "event_type") return &f->event_type;
      if (key == "job_id") return &f->job_id;
      if (key == "agent_id") return &f->agent_id;
      if (key == "item_id") return &f->item_id;
    }
    return nullptr;
  }

  // At '{'.
  bool Object(int depth, Ctx ctx, Fields* f) {
    ++p_;
    Ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      std::string_view key;
      bool key_escaped = false;
      if (p_ >= end_ || *p_ != '"' || !String(&key, &key_escaped)) return false;
      Ws();
      if (p_ >= end_ || *p_ != ':') return false;
      ++p_;
      Ws();
      if (p_ >= end_) return false;
      // An escaped key might spell a field name ("\u0069d" is "id").
      if (ctx != Ctx::kOther && key_escaped) return false;
      if (ctx == Ctx::kRecord && key == "event") {
        // A second "event" would replace the first: leave that to the general path.
        if (f->event_seen || *p_ != '{') return false;
        f->event_seen = true;
        if (!Object(depth + 1, Ctx::kEvent, f)) return false;
      } else if (std::string_view* slot = Slot(ctx, key, f)) {
        bool escaped = false;
        if (slot->data() != nullptr || *p_ != '"' || !String(slot, &escaped) || escaped) return false;
      } else if (!Value(depth + 1)) {
        return false;
      }
      Ws();
      if (p_ >= end_) return false;
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      Ws();
    }
  }

  // At '['.
  bool Array(int depth) {
    ++p_;
    Ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (p_ >= end_ || !Value(depth + 1)) return false;
      Ws();
      if (p_ >= end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      Ws();
    }
  }

  bool Value(int depth) {
    if (depth > kMaxDepth) return false;
    switch (*p_) {
      case '{':
        return Object(depth, Ctx::kOther, nullptr);
      case '[':
        return Array(depth);
      case '"': {
        std::string_view s;
        bool escaped;
        return String(&s, &escaped);
      }
      case 't':
        return Word("true");
      case 'f':
        return Word("false");
      case 'n':
        return Word("null");
      default:
        return Number();
    }
  }

  bool Word(std::string_view w) {
    if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
    p_ += w.size();
    return true;
  }

  static bool Digit(char c) { return c >= '0' && c <= '9'; }

  // RFC 8259 number grammar.
  bool Number() {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ >= end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && Digit(*p_)) ++p_;
    } else {
      return false;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || !Digit(*p_)) return false;
      while (p_ < end_ && Digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      const char* digits = p_;
      while (p_ < end_ && Digit(*p_)) ++p_;
      if (p_ == digits || p_ - digits > 2) return false;
    }
    return p_ - start <= kMaxNumberLength;
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // After "\u": four hex digits.
  bool Hex4(int* cp) {
    if (end_ - p_ < 4) return false;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = Hex(p_[i]);
      if (h < 0) return false;
      v = v * 16 + h;
    }
    p_ += 4;
    *cp = v;
    return true;
  }

  // At '\\'. Surrogates must pair up, as nlohmann/json requires.
  bool Escape() {
    ++p_;
    if (p_ >= end_) return false;
    switch (*p_++) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return true;
      case 'u': {
        int cp;
        if (!Hex4(&cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          int low;
          return Hex4(&low) && low >= 0xDC00 && low <= 0xDFFF;
        }
        return true;
      }
      default:
        return false;
    }
  }

  static bool Cont(unsigned char c, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return c >= lo && c <= hi;
  }

  // At a byte >= 0x80: one well-formed UTF-8 sequence (RFC 3629 table 3-7).
  bool Utf8() {
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    const ptrdiff_t left = end_ - p_;
    const unsigned char c = u[0];
    if (c >= 0xC2 && c <= 0xDF) {
      if (left < 2 || !Cont(u[1])) return false;
      p_ += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (left < 3 || !Cont(u[1], lo, hi) || !Cont(u[2])) return false;
      p_ += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (left < 4 || !Cont(u[1], lo, hi) || !Cont(u[2]) || !Cont(u[3])) return false;
      p_ += 4;
    } else {
      return false;
    }
    return true;
  }

  // How many of the 8 bytes at p come before the first '"', '\\', control
  // character or non-ASCII byte (8: none). SWAR, exact for the first such
  // byte: Claude's messages make long strings the bulk of a line.
  static int PlainPrefix(const char* p) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    uint64_t w;
    std::memcpy(&w, p, 8);
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    const uint64_t special = has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) |
                             ((w - kOnes * 0x20) & ~w & kHigh) | (w & kHigh);
    return special == 0 ? 8 : std::countr_zero(special) / 8;
  }

  // At '"'. `raw` is the text between the quotes, as written.
  bool String(std::string_view* raw, bool* escaped) {
    const char* start = ++p_;
    *escaped = false;
    while (p_ < end_) {
      while (end_ - p_ >= 8) {
        const int n = PlainPrefix(p_);
        p_ += n;
        if (n < 8) break;
      }
      if (p_ >= end_) break;
      const auto c = static_cast<unsigned char>(*p_);
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        ++p_;
      } else if (c == '"') {
        *raw = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      } else if (c == '\\') {
        *escaped = true;
        if (!Escape()) return false;
      } else if (c < 0x20 || !Utf8()) {
        return false;
      }
    }
    return false;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::optional<Event> ScanEventRecord(std::string_view job_id, std::string_view json) {
  Fields f;
  if (!Scanner(json).Scan(&f)) return std::nullopt;
  if (f.id.data() == nullptr || f.timestamp.data() == nullptr || !f.event_seen ||
      f.event_type.data() == nullptr) {
    return std::nullopt;
  }
  const std::optional<int64_t> ts = ParseTimestamp(f.timestamp);
  if (!ts) return std::nullopt;
  Event e;
  e.job_id = std::string(job_id);
  e.record_id = std::string(f.id);
  e.timestamp = std::string(f.timestamp);
  e.ts_ns = ts;
  e.event_type = std::string(f.event_type);
  e.event_name = NormalizeEventType(f.event_type);
  e.event_job_id = std::string(f.job_id);
  e.agent_id = std::string(f.agent_id);
  e.item_id = std::string(f.item_id);
  e.correlation_id = std::string(f.correlation_id);
  e.json = std::string(json);
  return e;
}

}  // namespace prodigy::internal
