#include "backup/mirror_read.h"

#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "prodigy/storage.h"
#include "util/fs.h"

namespace prodigy::internal {

namespace fs = std::filesystem;

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The inverse of EncodeFileName for names it did not shorten.
std::string DecodeFileName(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size() && Hex(name[i + 1]) >= 0 && Hex(name[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(name[i + 1]) * 16 + Hex(name[i + 2])));
      i += 2;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

bool ReadOne(const fs::path& path, const fs::path& repo_dir, MirrorFile* f,
             std::vector<std::string>* problems) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  try {
    auto text = ReadFileIfExists(path);
    if (!text) return false;
    f->text = std::move(*text);
  } catch (const std::exception& e) {
    problems->push_back(fmt::format("mirror file {} cannot be read: {}", path.string(), e.what()));
    return false;
  }
  f->path = path;
  f->rel_path = path.lexically_relative(repo_dir).string();
  f->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return true;
}

// Regular files directly in `dir` whose names end with `suffix`.
std::vector<fs::path> FilesIn(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") || !name.ends_with(suffix) || !entry.is_regular_file(ec)) continue;
    out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> FoldersIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && !entry.path().filename().string().starts_with("."))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<MirrorFile> ReadMirrorFiles(const fs::path& repo_dir,
                                        const std::map<std::string, std::string>& job_of_folder,
                                        std::vector<std::string>* problems) {
  std::vector<MirrorFile> files;
  auto job_of = [&](const fs::path& folder) {
    const std::string name = folder.filename().string();
    auto it = job_of_folder.find(name);
    return it != job_of_folder.end() ? it->second : DecodeFileName(name);
  };
  auto add = [&](const std::string& kind, const std::string& job, const fs::path& path) {
    MirrorFile f;
    f.kind = kind;
    f.job_id = job;
    if (ReadOne(path, repo_dir, &f, problems)) files.push_back(std::move(f));
  };
  for (const fs::path& job_dir : FoldersIn(repo_dir / "events")) {
    for (const fs::path& p : FilesIn(job_dir, "events.jsonl")) add("events", job_of(job_dir), p);
  }
  for (const fs::path& job_dir : FoldersIn(repo_dir / "dlq")) {
    for (const fs::path& p : FilesIn(job_dir / "items", ".json")) add("dlq", job_of(job_dir), p);
  }
  for (const fs::path& job_dir : FoldersIn(repo_dir / "state")) {
    for (const fs::path& p : FilesIn(job_dir, ".json")) {
      if (p.filename().string().starts_with("checkpoint-v")) add("state", job_of(job_dir), p);
    }
  }
  for (const fs::path& p : FilesIn(repo_dir / "sessions", ".json")) add("session", "", p);
  for (const fs::path& p : FilesIn(repo_dir / "checkpoints", ".checkpoint.json")) add("checkpoint", "", p);
  return files;
}

std::vector<std::string> JsonlLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace prodigy::internal
