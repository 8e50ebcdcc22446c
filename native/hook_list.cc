#include "hook_list.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "hook_table.h"
#include "socktrace.skel.h"

namespace socktrace {

Napi::Value HookTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  socktrace_bpf* skel = socktrace_bpf__open();
  if (skel == nullptr) throw Napi::Error::New(env, std::string("opening the BPF object failed: ") + strerror(errno));
  // No kernel gaps: they decide only when a fallback attaches beside its primary, not which hooks exist.
  std::vector<HookSpec> hooks = HookSpecs(skel, KernelGaps{});
  Napi::Array table = Napi::Array::New(env, hooks.size());
  for (size_t i = 0; i < hooks.size(); i++) {
    Napi::Object hook = Napi::Object::New(env);
    hook.Set("name", hooks[i].name);
    hook.Set("category", hooks[i].category);
    hook.Set("required", hooks[i].required);
    hook.Set("fallbackFor", hooks[i].fallback_for ? Napi::Value(Napi::String::New(env, hooks[i].fallback_for)) : env.Null());
    table.Set(i, hook);
  }
  socktrace_bpf__destroy(skel);
  return table;
}

}  // namespace socktrace
