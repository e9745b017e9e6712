#include "legacy/scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "prodigy/error.h"
#include "store/rows.h"

namespace prodigy::internal::legacy {
namespace {

std::string ReadHint(int err) {
  if (err == EACCES || err == EPERM) return "; fix its permissions and run the migration again";
  if (err == ELOOP) return "; it became a symlink, which is not followed";
  return "";
}

// Splits a byte stream into lines, holding at most one partial line.
class LineSplitter {
 public:
  explicit LineSplitter(LineVisitor& visitor) : visitor_(visitor) {}

  void Feed(std::string_view data) {
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t nl = data.find('\n', pos);
      if (nl == std::string_view::npos) {
        Append(data.substr(pos));
        return;
      }
      if (pending_.empty()) {
        visitor_.Line(++lines_, data.substr(pos, nl - pos), true);
      } else {
        Append(data.substr(pos, nl - pos));
        visitor_.Line(++lines_, pending_, true);
        pending_.clear();
      }
      pos = nl + 1;
    }
  }

  // Returns whether the content ended with "\n" (true for empty content).
  bool Finish() {
    if (pending_.empty()) return true;
    visitor_.Line(++lines_, pending_, false);
    pending_.clear();
    return false;
  }

  int64_t lines() const { return lines_; }

 private:
  void Append(std::string_view part) {
    if (pending_.size() + part.size() > kMaxLineBytes) {
      throw SourceError(
          fmt::format("line {} is longer than {} MiB; such a line cannot be stored, so the "
                      "file was left in place",
                      lines_ + 1, kMaxLineBytes >> 20));
    }
    pending_.append(part);
  }

  LineVisitor& visitor_;
  std::string pending_;
  int64_t lines_ = 0;
};

// Strips the "<what>: " prefix of an Extract* message, keeping what is wrong.
std::string Detail(const std::string& message, std::string_view prefix) {
  if (message.compare(0, prefix.size(), prefix) == 0) return message.substr(prefix.size());
  return message;
}

std::string MetadataNote(const Source& source, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "metadata.json is not valid JSON; kept verbatim";
  auto it = j.find("path");
  if (it == j.end() || !it->is_string()) return "metadata.json has no \"path\"; kept verbatim";
  const fs::path recorded = it->get<std::string>();
  const fs::path dir = source.path.parent_path();
  const fs::path local = dir / recorded.filename();
  std::error_code ec;
  if (recorded.parent_path() == dir && fs::exists(local, ec)) return {};
  if (fs::exists(local, ec)) {
    return fmt::format("metadata.json points to {} (an absolute path elsewhere); resolved to {} beside it",
                       recorded.string(), local.filename().string());
  }
  // Fall back to the highest checkpoint-v<N>.json in the folder.
  int64_t best = -1;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("checkpoint-v", 0) == 0 && name.size() > 17 && name.ends_with(".json")) {
      try {
        best = std::max<int64_t>(best, std::stoll(name.substr(12, name.size() - 17)));
      } catch (...) {
      }
    }
  }
  if (best < 0)
    return fmt::format("metadata.json points to {}, which does not exist, and no checkpoint is beside it",
                       recorded.string());
  return fmt::format("metadata.json points to {}, which does not exist; the latest is checkpoint-v{}.json",
                     recorded.string(), best);
}

}  // namespace

RawFile::RawFile(const fs::path& path, ProgressFn progress) : path_(path), progress_(std::move(progress)) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    const int err = errno;
    throw SourceError(fmt::format("cannot read {}: {}{}", path.string(), std::strerror(err), ReadHint(err)));
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw SourceError(fmt::format("{} is not a regular file any more", path.string()));
  }
  stat_ = ToFileStat(st);
  buffer_.resize(kChunkBytes);
}

RawFile::~RawFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string_view RawFile::Read() {
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      throw SourceError(
          fmt::format("cannot read {}: {}{}", path_.string(), std::strerror(err), ReadHint(err)));
    }
    const std::string_view chunk(buffer_.data(), static_cast<size_t>(n));
    sha_.Update(chunk);
    bytes_read_ += static_cast<uint64_t>(n);
    if (n > 0 && progress_) progress_(static_cast<uint64_t>(n));
    return chunk;
  }
}

void RawFile::CheckUnchanged() const {
  struct stat now;
  FileStat by_fd, by_name;
  const bool fd_ok = ::fstat(fd_, &now) == 0;
  if (fd_ok) by_fd = ToFileStat(now);
  const bool name_ok = ::lstat(path_.c_str(), &now) == 0 && S_ISREG(now.st_mode);
  if (name_ok) by_name = ToFileStat(now);
  if (fd_ok && name_ok && by_fd == stat_ && by_name == stat_ && bytes_read_ == stat_.size) return;
  throw SourceError(fmt::format(
      "{} changed while it was being read ({} bytes when opened, {} now); it was left in place: run the "
      "migration again when nothing is writing to it",
      path_.string(), stat_.size, name_ok ? by_name.size : 0));
}

std::string HashFile(const fs::path& path, FileStat* stat, const ProgressFn& progress) {
  RawFile file(path, progress);
  while (!file.Read().empty()) {
  }
  file.CheckUnchanged();
  if (stat != nullptr) *stat = file.stat();
  return file.FinalSha256();
}

LineScan ScanLines(RawFile& file, bool gzip, LineVisitor& visitor) {
  LineScan out;
  LineSplitter splitter(visitor);
  if (!gzip) {
    for (std::string_view chunk = file.Read(); !chunk.empty(); chunk = file.Read()) splitter.Feed(chunk);
    out.final_newline = splitter.Finish();
    out.lines = splitter.lines();
    return out;
  }
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) {
    throw Error::Internal("zlib could not be initialised");
  }
  struct Guard {
    z_stream* zs;
    ~Guard() { inflateEnd(zs); }
  } guard{&zs};
  Sha256 content_sha;
  std::string inflated(size_t{256} << 10, '\0');
  bool member_ended = false;
  uint64_t content_bytes = 0;
  // Inflates all of the current input, feeding the content to the splitter.
  auto pump = [&] {
    for (;;) {
      if (member_ended) {
        if (zs.avail_in == 0) return;
        inflateReset(&zs);  // another gzip member follows (concatenated members are valid gzip)
        member_ended = false;
      }
      zs.next_out = reinterpret_cast<Bytef*>(inflated.data());
      zs.avail_out = static_cast<uInt>(inflated.size());
      const int ret = inflate(&zs, Z_NO_FLUSH);
      const size_t produced = inflated.size() - zs.avail_out;
      if (produced > 0) {
        const std::string_view data(inflated.data(), produced);
        content_sha.Update(data);
        content_bytes += produced;
        splitter.Feed(data);
      }
      if (ret == Z_STREAM_END) {
        member_ended = true;
      } else if (ret == Z_OK) {
        if (zs.avail_in == 0 && zs.avail_out > 0) return;
      } else if (ret == Z_BUF_ERROR) {
        return;  // needs more input
      } else {
        out.gzip_error = fmt::format("gzip data damaged after {} bytes of content: {}", content_bytes,
                                     zs.msg != nullptr ? zs.msg : "inflate failed");
        return;
      }
    }
  };
  for (std::string_view chunk = file.Read(); !chunk.empty(); chunk = file.Read()) {
    visitor.RawChunk(chunk);
    if (!out.gzip_error.empty()) continue;  // keep reading: the bytes are still hashed and kept
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
    zs.avail_in = static_cast<uInt>(chunk.size());
    pump();
  }
  if (out.gzip_error.empty() && !member_ended) {
    out.gzip_error = fmt::format("gzip data ends early (truncated) after {} bytes of content", content_bytes);
  }
  out.final_newline = splitter.Finish();
  out.lines = splitter.lines();
  out.content_sha256 = content_sha.FinalHex();
  return out;
}

ParsedLine ParseEventLine(const std::string& job_id, std::string_view line, bool has_newline) {
  ParsedLine out;
  const std::string torn = has_newline ? "" : "torn last line (no trailing newline): ";
  if (line.empty()) {
    out.reason = "blank line";
  } else if (!IsValidUtf8(line)) {
    out.reason = torn + "invalid UTF-8";
  } else if (line.find('\r') != std::string_view::npos) {
    // ExtractEvent would compact such a line, and the original bytes must survive.
    out.reason = torn + "contains a carriage return";
  } else {
    try {
      out.event = ExtractEvent(job_id, line);
    } catch (const Error& e) {
      const std::string detail = Detail(e.message(), fmt::format("event for job {}: ", job_id));
      out.reason =
          torn + (detail.rfind("invalid JSON", 0) == 0 ? detail : "not a Prodigy EventRecord: " + detail);
    }
  }
  return out;
}

std::string ReadDocument(RawFile& file) {
  std::string text;
  for (std::string_view chunk = file.Read(); !chunk.empty(); chunk = file.Read()) {
    if (text.size() + chunk.size() > kMaxLineBytes) {
      throw SourceError(fmt::format("{} is larger than {} MiB; it was left in place", file.path().string(),
                                    kMaxLineBytes >> 20));
    }
    text.append(chunk);
  }
  return text;
}

ParsedDoc ParseDocument(const Source& source, const std::string& text) {
  ParsedDoc out;
  if (source.kind == Kind::kJobStateMeta || source.kind == Kind::kDlqIndex) {
    out.blob = true;
    if (source.kind == Kind::kJobStateMeta)
      out.note = MetadataNote(source, text);
    else
      out.note = "DLQ index kept verbatim; the store derives its index from the items";
    return out;
  }
  if (text.empty()) {
    out.reason = "empty file";
    return out;
  }
  try {
    switch (source.kind) {
      case Kind::kDlqItem: {
        DlqItem d = ExtractDlqItem(source.job_id, text);
        out.kind = &kDlqItemKind;
        out.key = {d.job_id, d.item_id};
        out.row = std::move(d);
        break;
      }
      case Kind::kJobState: {
        JobState s = ExtractJobState(source.job_id, text);
        out.kind = &kJobStateKind;
        out.key = {s.job_id, s.version};
        out.row = std::move(s);
        break;
      }
      case Kind::kSession: {
        Session s = ExtractSession(text);
        out.kind = &kSessionKind;
        out.key = {s.session_id};
        out.row = std::move(s);
        break;
      }
      case Kind::kWorkflowCheckpoint: {
        WorkflowCheckpoint c = ExtractCheckpoint(text);
        out.kind = &kCheckpointKind;
        out.key = {c.workflow_id};
        out.row = std::move(c);
        break;
      }
      default:
        throw Error::Internal(fmt::format("{} is not a document kind", KindName(source.kind)));
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) throw;
    out.reason = IsValidUtf8(text) ? e.message() : "invalid UTF-8";
  }
  return out;
}

}  // namespace prodigy::internal::legacy
