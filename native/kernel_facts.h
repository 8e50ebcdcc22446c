// What `socktrace doctor` asks the kernel without loading anything of socktrace's own.
#pragma once
#include <napi.h>

namespace socktrace {

// kernelFacts(tracepointNames) -> { btf: bool, tpBtf: { name: bool }, ringbuf: "yes"|"no"|"unknown: <why>" }
Napi::Value KernelFacts(const Napi::CallbackInfo& info);

}  // namespace socktrace
