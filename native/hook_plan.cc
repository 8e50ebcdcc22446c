#include "hook_plan.h"

#include <bpf/btf.h>

#include <algorithm>

#include "tracefs.h"

namespace socktrace {

const char* HookModeName(HookMode mode) {
  switch (mode) {
    case HookMode::kTpBtf: return "tp_btf";
    case HookMode::kTracepoint: return "tracepoint";
    case HookMode::kMissing: return "missing";
  }
  return "missing";
}

namespace {

// tp_btf can attach to a tracepoint when vmlinux BTF describes it as btf_trace_<name>.
bool BtfHasTracepoint(const btf* vmlinux, const char* name) {
  if (vmlinux == nullptr) return false;
  std::string type = std::string("btf_trace_") + name;
  return btf__find_by_name_kind(vmlinux, type.c_str(), BTF_KIND_TYPEDEF) >= 0;
}

}  // namespace

std::vector<HookChoice> PlanHooks(const std::vector<HookSpec>& hooks, HookPreference preference, const btf* vmlinux,
                                  const std::string& tracefs, const std::vector<std::string>& pretend_missing,
                                  const std::vector<std::string>& disabled) {
  auto pretended = [&](const char* name) {
    return std::find(pretend_missing.begin(), pretend_missing.end(), name) != pretend_missing.end();
  };
  auto turned_off = [&](const char* name) { return std::find(disabled.begin(), disabled.end(), name) != disabled.end(); };
  auto planned_mode = [&](const std::vector<HookChoice>& so_far, const char* name) {
    for (const HookChoice& c : so_far) if (c.name == name) return c.mode;
    return HookMode::kMissing;
  };

  std::vector<HookChoice> plan;
  for (const HookSpec& hook : hooks) {
    HookChoice choice;
    choice.name = hook.name;
    choice.required = hook.required;
    bool primary_missing = hook.fallback_for != nullptr && planned_mode(plan, hook.fallback_for) == HookMode::kMissing;
    bool stands_in = primary_missing || hook.primary_gap != nullptr;
    bool wanted = hook.fallback_for == nullptr || stands_in || hook.own_use != nullptr;
    choice.on_demand = hook.fallback_for != nullptr && !stands_in && hook.own_use != nullptr;
    bool off = turned_off(hook.name);
    bool present = !pretended(hook.name) && !off;
    bool btf_ok = wanted && present && hook.btf_prog != nullptr && preference == HookPreference::kAuto &&
                  BtfHasTracepoint(vmlinux, hook.name);
    bool tp_ok = wanted && present && hook.tp_prog != nullptr && TracepointExists(tracefs, hook.category, hook.name);
    std::string role = primary_missing           ? std::string("stands in for missing ") + hook.fallback_for
                       : hook.primary_gap != nullptr ? std::string("stands in for what ") + hook.fallback_for +
                                                           " misses here: " + hook.primary_gap
                                                     : "";
    if (hook.own_use != nullptr) role += (role.empty() ? "" : "; ") + std::string("names ") + hook.own_use;
    if (!wanted) {
      choice.why = std::string("not needed: ") + hook.fallback_for + " is attached";
    } else if (off) {
      choice.why = "turned off by configuration";
    } else if (!present) {
      choice.why = "treated as missing (as asked)";
    } else if (btf_ok) {
      choice.mode = HookMode::kTpBtf;
      choice.prog = hook.btf_prog;
      choice.why = role.empty() ? "vmlinux BTF describes the tracepoint" : role;
    } else if (tp_ok) {
      choice.mode = HookMode::kTracepoint;
      choice.prog = hook.tp_prog;
      choice.why = !role.empty()                                 ? role
                   : preference == HookPreference::kClassicOnly ? "classic tracepoints were asked for"
                   : hook.btf_prog == nullptr                   ? "only a classic tracepoint serves it"
                                                                : "no BTF for tp_btf; classic tracepoint";
    } else if (wanted && present) {
      choice.why = tracefs.empty() ? "tracefs unavailable and no tp_btf target"
                                   : std::string("no tracepoint ") + hook.category + ":" + hook.name;
    }
    if (hook.btf_prog) bpf_program__set_autoload(hook.btf_prog, choice.prog == hook.btf_prog);
    if (hook.tp_prog) bpf_program__set_autoload(hook.tp_prog, choice.prog == hook.tp_prog);
    plan.push_back(choice);
  }
  return plan;
}

const HookChoice* MissingRequiredHook(const std::vector<HookChoice>& plan) {
  for (const HookChoice& choice : plan) {
    if (choice.required && choice.mode == HookMode::kMissing) return &choice;
  }
  return nullptr;
}

}  // namespace socktrace
