// Errors that reach JavaScript: each names the operation, carries errno and its code, and says what to do.
// Plain C++ (the BPF session has no Napi): the binding throws a NativeError on as a JS Error.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace socktrace {

// A JS Error to be: the message, and .code (e.g. "ENOENT") where set; .errno and .syscall too when an
// errno caused it.
struct NativeError : std::runtime_error {
  explicit NativeError(const std::string& message, std::string code = "")
      : std::runtime_error(message), code(std::move(code)) {}
  std::string code;     // "": none
  int errnum = 0;       // 0: none
  std::string syscall;  // the operation that failed, with errnum
};

// operation failed with err: the message says so with strerror, the code and a hint for the operator,
// then what libbpf printed last.
NativeError ErrnoError(const std::string& operation, int err);

// What an operator can do about err when operation failed; empty when there is nothing useful to say.
std::string HintFor(const std::string& operation, int err);

// The symbolic name of an errno value ("EPERM"), or "E<number>".
std::string ErrnoName(int err);

// The last lines libbpf printed (warnings, verifier logs), for error messages. Thread-safe.
std::string RecentLibbpfOutput();
void InstallLibbpfLogger();

}  // namespace socktrace
