// Progress display of long work (import, migrate, export, check, events clean)
// on a terminal, in the manner of apt, rsync --info=progress2, pv or
// indicatif: phase, percent, bar, amounts in human units, rate and time left,
// redrawn in place on stderr at most ~10 times a second and cut to the
// terminal's width. Each phase ends with one clean summary line.
//
// Disabled (prints nothing at all) when stderr is not a terminal, with -q and
// with --json; see Context::show_progress().
#ifndef PRODIGY_TOOLS_CLI_PROGRESS_H_
#define PRODIGY_TOOLS_CLI_PROGRESS_H_

#include <cstdint>
#include <string>

namespace prodigy::cli {

enum class ProgressUnit {
  kBytes,  // "12.3 MiB", rate "45.6 MiB/s"
  kRows,   // "12.3k rows", rate "45.6k rows/s"
  kSteps,  // "2/3", no rate
};

// What one redraw shows; RenderProgressLine() is pure so that it can be tested.
struct ProgressSnapshot {
  std::string phase;   // "importing"
  std::string detail;  // optional: a job, a kind ("events")
  ProgressUnit unit = ProgressUnit::kRows;
  int64_t done = 0;
  int64_t total = -1;    // -1: unknown (no percent, bar or time left)
  double elapsed_s = 0;  // since the phase started
  bool final = false;    // the phase's closing line
};

// One line of at most width - 1 columns (the last column would make some
// terminals wrap). Less important parts go first when space is short: the
// bar, then the time left, then the rate, then the amounts.
std::string RenderProgressLine(const ProgressSnapshot& s, size_t width);

// "1.5 MiB" / "12.3k rows" / "3"
std::string ProgressAmount(ProgressUnit unit, int64_t n);
// "0:07", "1:02:03"
std::string ProgressDuration(double seconds);

class Progress {
 public:
  // `phase` may be empty: the first Phase() call names it.
  Progress(bool enabled, std::string phase, ProgressUnit unit = ProgressUnit::kRows, int64_t total = -1);
  // Erases a line still being drawn (the work failed); call Finish() on success.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Closes the current phase (its summary line, if it was shown) and starts another.
  void Phase(std::string phase, ProgressUnit unit, int64_t total = -1);
  // A detail next to the phase name (the job or kind being worked on).
  void SetDetail(std::string detail);
  // `total` < 0 keeps the total given before.
  void Update(int64_t done, int64_t total = -1);
  // Makes room for a line of other output: erases the live line (the next
  // Update draws it again), or closes a phase that is already complete.
  void Clear();
  // Closes the current phase with its summary line.
  void Finish();

 private:
  void Draw(bool final);
  size_t Width() const;

  bool enabled_;
  ProgressSnapshot state_;
  int64_t phase_start_ns_ = 0;
  int64_t last_draw_ns_ = 0;
  bool drawn_ = false;  // something of this phase is on the screen
  bool live_ = false;   // the cursor is on the unfinished line
};

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_PROGRESS_H_
