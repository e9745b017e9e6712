// Reading the mirror files back as documents, for recovering a damaged
// database (the mirrors hold every document verbatim: a second copy).
#ifndef PRODIGY_BACKUP_MIRROR_READ_H_
#define PRODIGY_BACKUP_MIRROR_READ_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace prodigy::internal {

// One document file (or one events.jsonl) of the mirrors.
struct MirrorFile {
  std::string kind;    // events | dlq | state | session | checkpoint
  std::string job_id;  // events, dlq, state: from the folder name
  std::filesystem::path path;
  std::string rel_path;  // relative to the repository folder
  int64_t mtime_ns = 0;
  std::string text;  // the whole file
};

// Every mirror file under `repo_dir`. `job_of_folder` maps folder names
// back to job ids where the encoding is not reversible (long ids); other
// names are decoded (%XX). Unreadable files are listed in `problems`.
std::vector<MirrorFile> ReadMirrorFiles(const std::filesystem::path& repo_dir,
                                        const std::map<std::string, std::string>& job_of_folder,
                                        std::vector<std::string>* problems);

// The lines of an events.jsonl file (without "\n"; empty lines skipped).
std::vector<std::string> JsonlLines(const std::string& text);

}  // namespace prodigy::internal

#endif  // PRODIGY_BACKUP_MIRROR_READ_H_
