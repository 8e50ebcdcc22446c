// Which program serves each hook: tp_btf where the kernel offers it, else the classic tracepoint.
#pragma once
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <string>
#include <vector>

namespace socktrace {

enum class HookMode { kTpBtf, kTracepoint, kMissing };
const char* HookModeName(HookMode mode);

// One kernel hook and the programs that can serve it (either may be null).
struct HookSpec {
  const char* name;       // tracepoint name, e.g. "inet_sock_set_state"
  const char* category;   // tracefs category, e.g. "sock"
  bpf_program* btf_prog;  // SEC("tp_btf/<name>")
  bpf_program* tp_prog;   // SEC("tracepoint/<category>/<name>")
  bool required;          // socktrace cannot work without it
  const char* fallback_for = nullptr;  // attached only when this primary hook is missing,
  const char* primary_gap = nullptr;   // or, when set, beside it: what the primary misses on this kernel
  const char* own_use = nullptr;       // when set, wanted for this on its own, whatever the primary does
};

struct HookChoice {
  std::string name;
  HookMode mode = HookMode::kMissing;
  bpf_program* prog = nullptr;
  bool required = false;
  // Wanted only for its own use (HookSpec::own_use), not standing in for a primary: loaded, and
  // attached by user space only while that use needs it (BpfSession::SetOnDemand).
  bool on_demand = false;
  std::string why;  // for `doctor` and error messages
};

enum class HookPreference { kAuto, kClassicOnly };

// Chooses a program per hook and sets every program's autoload to match, before the object is loaded.
// Hooks named in `pretend_missing` are planned as if the kernel lacked them (to exercise fallbacks).
// Fallback hooks must come after the primary they stand in for.
// Hooks named in `disabled` are turned off by configuration (a cost the user chose not to pay).
// `vmlinux` is the kernel's BTF (null without it): tp_btf needs the tracepoint described there.
std::vector<HookChoice> PlanHooks(const std::vector<HookSpec>& hooks, HookPreference preference, const btf* vmlinux,
                                  const std::string& tracefs, const std::vector<std::string>& pretend_missing,
                                  const std::vector<std::string>& disabled);

// The first required hook left without a program, or null.
const HookChoice* MissingRequiredHook(const std::vector<HookChoice>& plan);

}  // namespace socktrace
