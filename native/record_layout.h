// The event record as this build of the addon sees it, for the TypeScript decoder's layout test.
#pragma once
#include <napi.h>

namespace socktrace {

// recordLayout() -> { abi, size, fields: { name: { offset, size } }, kinds, ownerSources, flags, ... }
Napi::Value RecordLayout(const Napi::CallbackInfo& info);

// seedLayout() -> { size, fields: { name: { offset, size } } }: struct socktrace_seed.
Napi::Value SeedLayout(const Napi::CallbackInfo& info);

}  // namespace socktrace
