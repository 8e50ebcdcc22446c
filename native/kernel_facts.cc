#include "kernel_facts.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <string>

namespace socktrace {

Napi::Value KernelFacts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "Expected first argument to be an array of tracepoint names");
  Napi::Array names = info[0].As<Napi::Array>();
  Napi::Object facts = Napi::Object::New(env);

  btf* vmlinux = btf__load_vmlinux_btf();
  bool has_btf = !libbpf_get_error(vmlinux);
  facts.Set("btf", Napi::Boolean::New(env, has_btf));
  Napi::Object tp_btf = Napi::Object::New(env);
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).ToString().Utf8Value();
    bool found = has_btf && btf__find_by_name_kind(vmlinux, ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF) >= 0;
    tp_btf.Set(name, Napi::Boolean::New(env, found));
  }
  facts.Set("tpBtf", tp_btf);
  if (has_btf) btf__free(vmlinux);

  // Loads a throwaway ring buffer map: needs the same privileges socktrace does.
  int ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
  facts.Set("ringbuf", ringbuf == 1 ? std::string("yes") : ringbuf == 0 ? std::string("no")
                                                         : std::string("unknown: ") + strerror(-ringbuf));
  return facts;
}

}  // namespace socktrace
