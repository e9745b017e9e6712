// How events are shown: a table for people, JSONL for machines, or the
// verbatim records (the mirror's events.jsonl lines).
#ifndef PRODIGY_TOOLS_CLI_EVENTS_VIEW_H_
#define PRODIGY_TOOLS_CLI_EVENTS_VIEW_H_

#include <memory>
#include <string>

#include "cli.h"
#include "output.h"

namespace prodigy::cli {

// The event's own fields worth a glance (not its type, job or agent), as
// "key=value ..."; chrono durations [secs, nanos] print as seconds.
std::string EventDetails(const Event& e);

// One line of `--json` event output: {"seq","job_id","timestamp","event_type",
// "event_name","agent_id","item_id","record":<the record, verbatim>}.
std::string EventJsonLine(const Event& e);

class EventPrinter {
 public:
  enum class Mode { kTable, kJson, kRaw };
  EventPrinter(Mode mode, bool tty, bool show_job);
  void Print(const Event& e);
  // Shows what is buffered (tail -f prints each batch at once).
  void Flush();
  int64_t printed() const { return printed_; }

 private:
  Mode mode_;
  bool show_job_;
  std::unique_ptr<Table> table_;
  int64_t printed_ = 0;
};

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_EVENTS_VIEW_H_
