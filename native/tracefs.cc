#include "tracefs.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace socktrace {

namespace {
bool HasEvents(const std::string& dir) { return access((dir + "/events").c_str(), F_OK) == 0; }
}  // namespace

std::string EnsureTracefs(std::string* note) {
  // libbpf prefers debugfs's copy when present, then /sys/kernel/tracing: look in the same order.
  for (const char* dir : {"/sys/kernel/debug/tracing", "/sys/kernel/tracing"}) {
    if (HasEvents(dir)) return dir;
  }
  const char* dir = "/sys/kernel/tracing";
  if (mount("tracefs", dir, "tracefs", 0, nullptr) == 0 && HasEvents(dir)) {
    if (note) *note = "mounted tracefs at /sys/kernel/tracing";
    return dir;
  }
  if (note) *note = std::string("tracefs is not mounted and mounting it failed: ") + strerror(errno);
  return "";
}

bool TracepointExists(const std::string& tracefs, const std::string& category, const std::string& name) {
  if (tracefs.empty()) return false;
  return access((tracefs + "/events/" + category + "/" + name).c_str(), F_OK) == 0;
}

}  // namespace socktrace
