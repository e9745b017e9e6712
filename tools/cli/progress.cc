#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "output.h"

namespace prodigy::cli {
namespace {

constexpr int64_t kRedrawNs = 100'000'000;  // at most ~10 redraws a second
constexpr size_t kMinBar = 10;
constexpr size_t kMaxBar = 30;
// Below this the rate is mostly start-up noise.
constexpr double kMinRateSeconds = 0.2;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Rate(const ProgressSnapshot& s) {
  if (s.unit == ProgressUnit::kSteps || s.elapsed_s < kMinRateSeconds) return {};
  return ProgressAmount(s.unit, static_cast<int64_t>(static_cast<double>(s.done) / s.elapsed_s)) + "/s";
}

std::string Label(const ProgressSnapshot& s) { return s.detail.empty() ? s.phase : s.phase + " " + s.detail; }

// "23.1 MiB / 62.0 MiB", "3/5"
std::string Amounts(const ProgressSnapshot& s) {
  if (s.unit == ProgressUnit::kSteps) return fmt::format("{}/{}", s.done, s.total);
  if (s.total < 0) return ProgressAmount(s.unit, s.done);
  return ProgressAmount(s.unit, s.done) + " / " + ProgressAmount(s.unit, s.total);
}

std::string FinalLine(const ProgressSnapshot& s) {
  const std::string took =
      s.elapsed_s < 60 ? fmt::format("{:.1f} s", s.elapsed_s) : ProgressDuration(s.elapsed_s);
  std::string line =
      fmt::format("{}: {} in {}", Label(s),
                  s.unit == ProgressUnit::kSteps ? Amounts(s) : ProgressAmount(s.unit, s.done), took);
  const std::string rate = Rate(s);
  if (!rate.empty()) line += " (" + rate + ")";
  if (s.total > 0 && s.done < s.total) {
    line += fmt::format(", stopped at {}%", s.done * 100 / s.total);
  }
  return line;
}

}  // namespace

std::string ProgressAmount(ProgressUnit unit, int64_t n) {
  switch (unit) {
    case ProgressUnit::kBytes:
      return HumanBytes(n);
    case ProgressUnit::kSteps:
      return std::to_string(n);
    case ProgressUnit::kRows:
      break;
  }
  if (n < 1000) return fmt::format("{} rows", n);
  if (n < 1'000'000) return fmt::format("{:.1f}k rows", static_cast<double>(n) / 1e3);
  return fmt::format("{:.1f}M rows", static_cast<double>(n) / 1e6);
}

std::string ProgressDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

std::string RenderProgressLine(const ProgressSnapshot& s, size_t width) {
  const size_t room = width > 1 ? width - 1 : 0;
  if (s.final) return Truncate(FinalLine(s), room);
  const std::string label = Label(s);
  const bool known = s.total > 0;
  const std::string percent =
      known ? fmt::format("{:>3}%", std::min<int64_t>(100, s.done * 100 / s.total)) : "";
  const std::string rate = Rate(s);
  std::string eta;
  if (known && !rate.empty() && s.done > 0 && s.done < s.total) {
    const double left = static_cast<double>(s.total - s.done) * s.elapsed_s / static_cast<double>(s.done);
    eta = "ETA " + ProgressDuration(left);
  }
  // Optional parts, most important first; the bar is the first to go.
  std::vector<std::string> parts = {Amounts(s), rate, eta};
  parts.erase(std::remove(parts.begin(), parts.end(), std::string()), parts.end());
  // The bar only comes with everything else: on a narrow terminal the numbers matter more.
  for (bool bar_allowed = known;; bar_allowed = false) {
    std::string head = label;
    if (!percent.empty()) head += " " + percent;
    std::string tail;
    for (const std::string& p : parts) tail += "  " + p;
    const size_t used = DisplayWidth(head) + DisplayWidth(tail);
    if (bar_allowed && used + 3 + kMinBar <= room) {
      const size_t bar = std::min(kMaxBar, room - used - 3);
      const size_t filled =
          static_cast<size_t>(static_cast<double>(bar) * std::min(s.done, s.total) / s.total);
      std::string cells(filled, '=');
      if (filled < bar) cells += '>' + std::string(bar - filled - 1, ' ');
      return head + " [" + cells + "]" + tail;
    }
    if (used <= room || parts.empty()) return Truncate(head + tail, room);
    parts.pop_back();
  }
}

Progress::Progress(bool enabled, std::string phase, ProgressUnit unit, int64_t total) : enabled_(enabled) {
  state_.phase = std::move(phase);
  state_.unit = unit;
  state_.total = total;
  phase_start_ns_ = NowNs();
}

Progress::~Progress() {
  if (live_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

void Progress::Phase(std::string phase, ProgressUnit unit, int64_t total) {
  Finish();
  state_ = ProgressSnapshot{.phase = std::move(phase), .unit = unit, .total = total};
  phase_start_ns_ = NowNs();
  drawn_ = false;
}

void Progress::SetDetail(std::string detail) { state_.detail = std::move(detail); }

void Progress::Update(int64_t done, int64_t total) {
  if (!enabled_) return;
  state_.done = done;
  if (total >= 0) state_.total = total;
  const int64_t now = NowNs();
  // The first update of a phase is drawn at once, so that the phase shows
  // even when it is quick; later ones at most every kRedrawNs.
  if (drawn_ && now - last_draw_ns_ < kRedrawNs) return;
  last_draw_ns_ = now;
  Draw(false);
}

void Progress::Clear() {
  if (!live_) return;
  if (state_.total >= 0 && state_.done >= state_.total) {
    Finish();
    return;
  }
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  live_ = false;
}

void Progress::Finish() {
  if (!enabled_ || !drawn_) return;
  Draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  live_ = false;
  drawn_ = false;
}

void Progress::Draw(bool final) {
  state_.elapsed_s = static_cast<double>(NowNs() - phase_start_ns_) / 1e9;
  state_.final = final;
  const std::string line = RenderProgressLine(state_, Width());
  fmt::print(stderr, "\r\033[K{}", line);
  std::fflush(stderr);
  drawn_ = true;
  live_ = !final;
}

size_t Progress::Width() const {
  struct winsize ws {};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const long n = std::strtol(columns, nullptr, 10);
    if (n > 0) return static_cast<size_t>(n);
  }
  return 80;
}

}  // namespace prodigy::cli
