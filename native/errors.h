// Errors that reach JavaScript: each names the operation, carries errno and its code, and says what to do.
#pragma once
#include <napi.h>

#include <string>

namespace socktrace {

// An Error with .code (e.g. "EPERM"), .errno and .syscall set, and a hint for the operator appended.
Napi::Error ErrnoError(Napi::Env env, const std::string& operation, int err);

// What an operator can do about err when operation failed; empty when there is nothing useful to say.
std::string HintFor(const std::string& operation, int err);

// The symbolic name of an errno value ("EPERM"), or "E<number>".
std::string ErrnoName(int err);

// The last lines libbpf printed (warnings, verifier logs), for error messages. Thread-safe.
std::string RecentLibbpfOutput();
void InstallLibbpfLogger();

}  // namespace socktrace
