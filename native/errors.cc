#include "errors.h"

#include <bpf/libbpf.h>

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
  char line[1024];
  vsnprintf(line, sizeof(line), format, args);
  // SOCKTRACE_LIBBPF_DEBUG=1 shows everything (verifier logs included) as it happens.
  if (getenv("SOCKTRACE_LIBBPF_DEBUG") != nullptr) fputs(line, stderr);
  if (level == LIBBPF_DEBUG) return 0;
  std::lock_guard<std::mutex> lock(log_mutex);
  log_lines.emplace_back(line);
  if (log_lines.size() > kKeptLogLines) log_lines.pop_front();
  return 0;
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
    default: return "E" + std::to_string(err);
  }
}

std::string HintFor(const std::string& operation, int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return "socktrace needs root, or the capabilities CAP_BPF and CAP_PERFMON (plus CAP_SYS_ADMIN "
             "to mount tracefs and read other processes' sockets); check also "
             "/proc/sys/kernel/unprivileged_bpf_disabled and any LSM policy denying bpf().";
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
    default:
      return "";
  }
}

Napi::Error ErrnoError(Napi::Env env, const std::string& operation, int err) {
  if (err < 0) err = -err;
  std::string message = "socktrace: " + operation + " failed: " + strerror(err) + " (" + ErrnoName(err) + ")";
  std::string hint = HintFor(operation, err);
  if (!hint.empty()) message += ". " + hint;
  std::string libbpf = RecentLibbpfOutput();
  if (!libbpf.empty()) message += "\nlibbpf said:\n" + libbpf;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, operation));
  return error;
}

}  // namespace socktrace
