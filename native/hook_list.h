// The hooks socktrace has, for `socktrace doctor`: HookSpecs read without loading anything.
#pragma once
#include <napi.h>

namespace socktrace {

// hookTable() -> [{ name, category, required, fallbackFor }] in HookSpecs' order (fallbackFor: the
// primary a fallback stands in for, or null). Opens the BPF object without loading it: no privileges.
Napi::Value HookTable(const Napi::CallbackInfo& info);

}  // namespace socktrace
