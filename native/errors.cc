#include "errors.h"

#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

namespace socktrace {
namespace {

std::mutex log_mutex;
std::deque<std::string> log_lines;
constexpr size_t kKeptLogLines = 40;

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  // Verifier logs arrive as one long string: size the buffer to the message.
  va_list copy;
  va_copy(copy, args);
  int length = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (length < 0) return 0;
  std::string text(static_cast<size_t>(length) + 1, '\0');
  vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(length));
  const char* line = text.c_str();
  // SOCKTRACE_LIBBPF_DEBUG=1 shows everything (verifier logs included) as it happens.
  if (getenv("SOCKTRACE_LIBBPF_DEBUG") != nullptr) fputs(line, stderr);
  if (level == LIBBPF_DEBUG) return 0;
  std::lock_guard<std::mutex> lock(log_mutex);
  // Keep the end of long messages: that is where the verifier says what it rejected.
  constexpr size_t kKeptChars = 4096;
  log_lines.emplace_back(text.size() > kKeptChars ? "..." + text.substr(text.size() - kKeptChars) : text);
  if (log_lines.size() > kKeptLogLines) log_lines.pop_front();
  return 0;
}

// The capabilities socktrace needs that this process does not have in its effective set.
std::string MissingCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return "";
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  if (has(CAP_SYS_ADMIN)) return "";  // CAP_SYS_ADMIN covers BPF and perf on every kernel
  std::string missing;
  for (auto [cap, name] : {std::pair<int, const char*>{CAP_BPF, "CAP_BPF"}, {CAP_PERFMON, "CAP_PERFMON"}}) {
    if (!has(cap)) missing += std::string(missing.empty() ? "" : " and ") + name;
  }
  return missing;
}

}  // namespace

void InstallLibbpfLogger() { libbpf_set_print(LibbpfPrint); }

std::string RecentLibbpfOutput() {
  std::lock_guard<std::mutex> lock(log_mutex);
  std::string out;
  for (const auto& line : log_lines) out += line;
  return out;
}

std::string ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case E2BIG: return "E2BIG";
    case EBUSY: return "EBUSY";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ESRCH: return "ESRCH";
    case EEXIST: return "EEXIST";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: return "E" + std::to_string(err);
  }
}

std::string HintFor(const std::string& operation, int err) {
  switch (err) {
    case EPERM:
    case EACCES: {
      std::string missing = MissingCapabilities();
      std::string lacking = missing.empty() ? "" : "This process lacks " + missing + ". ";
      return lacking +
             "socktrace needs root, or the capabilities CAP_BPF and CAP_PERFMON (plus CAP_SYS_ADMIN "
             "to mount tracefs and read other processes' sockets); check also "
             "/proc/sys/kernel/unprivileged_bpf_disabled and any LSM policy denying bpf().";
    }
    case ENOENT:
      return "a tracepoint or kernel type socktrace needs is missing; `socktrace doctor` lists what this "
             "kernel offers.";
    case ENOMEM:
    case E2BIG:
      return "the kernel refused the memory asked for: lower the ring buffer or table sizes, or raise "
             "RLIMIT_MEMLOCK (ulimit -l) on kernels before 5.11.";
    case EINVAL:
      if (operation.find("load") != std::string::npos)
        return "the kernel's verifier rejected a BPF program; run with SOCKTRACE_LIBBPF_DEBUG=1 to see "
               "its log.";
      return "";
    case ENOSYS:
    case EOPNOTSUPP:
      return "this kernel lacks a BPF feature socktrace needs (ring buffers need Linux 5.8+).";
    case EMFILE:
      return "the tracer holds a file descriptor per map, program and hook (about 60; over 110 on kernels "
             "without sock_send_length, before 6.3, where syscall hooks stand in): raise RLIMIT_NOFILE "
             "(LimitNOFILE= in the systemd unit, ulimit -n).";
    case ENFILE:
      return "the host is out of file descriptors (fs.file-max).";
    default:
      return "";
  }
}

NativeError ErrnoError(const std::string& operation, int err) {
  if (err < 0) err = -err;
  std::string message = operation + " failed: " + strerror(err) + " (" + ErrnoName(err) + ")";
  std::string hint = HintFor(operation, err);
  if (!hint.empty()) message += ". " + hint;
  std::string libbpf = RecentLibbpfOutput();
  if (!libbpf.empty()) message += "\nlibbpf said:\n" + libbpf;
  NativeError error(message, ErrnoName(err));
  error.errnum = err;
  error.syscall = operation;
  return error;
}

}  // namespace socktrace
