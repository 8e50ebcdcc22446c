// tracefs: classic tracepoints are attached by the id tracefs publishes, so it must be mounted.
#pragma once
#include <string>

namespace socktrace {

// The tracefs directory in use ("/sys/kernel/tracing" or the debugfs path), mounting tracefs at
// /sys/kernel/tracing when neither is there. Empty when it is not available; *note says what happened.
std::string EnsureTracefs(std::string* note);

// Whether the classic tracepoint category/name exists under tracefs.
bool TracepointExists(const std::string& tracefs, const std::string& category, const std::string& name);

}  // namespace socktrace
