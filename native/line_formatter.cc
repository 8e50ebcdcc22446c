#include "line_formatter.h"

#include <cmath>
#include <cstring>

#include "json_text.h"
#include "socktrace_event.h"

namespace socktrace {

namespace {

// More owners than this told at once: the oldest placements are forgotten (they are asked again).
constexpr size_t kMaxPlacements = 65536;
constexpr uint16_t kAfInet = 2, kAfInet6 = 10;

const std::string& NameOr(const std::vector<std::string>& names, uint32_t i) {
  static const std::string none;
  return i < names.size() ? names[i] : none;
}

}  // namespace

LineFormatter::LineFormatter(LineNames names, double wall_ms, uint64_t mono_ns, uint32_t placement_ttl_ms)
    : names_(std::move(names)), wall_ms_(wall_ms), mono_ns_(mono_ns), placement_ttl_(placement_ttl_ms) {}

void LineFormatter::SetPlacement(uint32_t pid, uint32_t start, uint64_t cgroup, std::string text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (placements_.size() >= kMaxPlacements) placements_.clear();
  placements_[OwnerKey{cgroup, pid, start}] = Placed{std::move(text), std::chrono::steady_clock::now()};
}

void LineFormatter::SetRstReasons(const std::vector<std::string>& reasons) {
  if (!reasons.empty()) names_.rst_reasons = reasons;
}

void LineFormatter::Format(const uint8_t* records, uint32_t count, FormattedLines* out) {
  auto now = std::chrono::steady_clock::now();
  out->text.reserve(out->text.size() + size_t{count} * 400);
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* record = records + size_t{i} * sizeof(socktrace_event);
    size_t mark = out->text.size();
    if (FormatOne(record, now, &out->text)) continue;
    out->text.resize(mark);
    out->raw_at.push_back(static_cast<uint32_t>(mark));
    out->raw.insert(out->raw.end(), record, record + sizeof(socktrace_event));
  }
}

bool LineFormatter::FormatOne(const uint8_t* record, std::chrono::steady_clock::time_point now, std::string* out) {
  socktrace_event e;
  memcpy(&e, record, sizeof(e));
  const std::string& kind = NameOr(names_.kinds, e.kind);
  if (kind.empty() || (e.kind < 32 && (names_.raw_kinds >> e.kind) & 1)) return false;
  if (e.family != kAfInet && e.family != kAfInet6 && e.family != 0) return false;
  const std::string& source = NameOr(names_.sources, e.owner_source);
  bool owned = e.owner_pid != 0 && !source.empty();
  const std::string* placement = nullptr;
  if (owned) {
    // Without a start the pid alone cannot tell a process from one that reused its pid: JS checks /proc.
    if (e.owner_start == 0) return false;
    auto found = placements_.find(OwnerKey{e.owner_cgroup, e.owner_pid, e.owner_start});
    if (found == placements_.end() || now - found->second.told > placement_ttl_) return false;
    placement = &found->second.text;
  }

  // monotonic-clock.ts: Number(ts - mono) / 1e6 added to the wall clock, then the whole millisecond.
  double ms = wall_ms_ + static_cast<double>(static_cast<int64_t>(e.ts_ns - mono_ns_)) / 1e6;
  int64_t whole = static_cast<int64_t>(std::floor(ms));
  if (whole != last_ms_) {
    last_ms_ = whole;
    last_iso_.clear();
    AppendIsoTime(&last_iso_, whole);
  }
  out->append("{\"level\":\"info\",\"time\":\"");
  out->append(last_iso_);
  out->append("\",\"event\":\"");
  out->append(kind);
  out->append("\",\"proc\":");
  if (owned) {
    out->append("{\"pid\":");
    AppendUint(out, e.owner_pid);
    out->append(",\"comm\":");
    AppendQuotedKernelText(out, reinterpret_cast<const uint8_t*>(e.owner_comm), sizeof(e.owner_comm));
    out->append(",\"uid\":");
    AppendUint(out, e.owner_uid);
    out->append(",\"via\":\"");
    out->append(source);
    out->push_back('"');
    out->append(*placement);
    out->push_back('}');
  } else {
    out->append("null");
  }
  auto address = [&](const uint8_t* a) {
    if (e.family == kAfInet) AppendIPv4(out, a);
    else if (e.family == kAfInet6) AppendIPv6(out, a);
  };
  out->append(",\"local\":{\"addr\":\"");
  address(e.saddr);
  out->append("\",\"port\":");
  AppendUint(out, e.sport);
  out->append("},\"peer\":{\"addr\":\"");
  address(e.daddr);
  out->append("\",\"port\":");
  AppendUint(out, e.dport);
  out->append("},\"sock\":");
  bool no_socket = (e.flags & SOCKTRACE_FLAG_NO_SOCKET) != 0;
  if (no_socket || e.sock_id == 0) {
    out->append("null");
  } else {
    out->push_back('"');
    AppendHex(out, e.sock_id);
    out->push_back('"');
  }
  out->append(",\"task\":{\"pid\":");
  AppendUint(out, e.task_pid);
  out->append(",\"comm\":");
  AppendQuotedKernelText(out, reinterpret_cast<const uint8_t*>(e.task_comm), sizeof(e.task_comm));
  out->append("},\"netns\":");
  AppendUint(out, e.netns);

  const std::string& state = NameOr(names_.states, e.state);
  if (e.kind == SOCKTRACE_KIND_STATE_CHANGE) {
    const std::string& old_state = NameOr(names_.states, e.old_state);
    out->append(",\"from\":\"");
    out->append(old_state.empty() ? "UNKNOWN" : old_state);
    out->append("\",\"to\":\"");
    out->append(e.state == 0 || state.empty() ? "UNKNOWN" : state);
    out->push_back('"');
  } else if (e.state != 0) {
    out->append(",\"state\":\"");
    out->append(state.empty() ? "UNKNOWN" : state);
    out->push_back('"');
  }
  if (e.kind == SOCKTRACE_KIND_RST_SENT && e.reason != SOCKTRACE_REASON_UNKNOWN) {
    const std::string& reason = NameOr(names_.rst_reasons, e.reason);
    out->append(",\"reason\":");
    if (reason.empty()) {
      out->append("\"REASON_");
      AppendUint(out, e.reason);
      out->push_back('"');
    } else {
      AppendQuoted(out, reason);
    }
  }
  if (e.kind < 32 && (names_.errno_kinds >> e.kind) & 1) {
    out->append(",\"errno\":");
    const std::string& name = e.err >= 0 ? NameOr(names_.errnos, static_cast<uint32_t>(e.err)) : NameOr(names_.errnos, UINT32_MAX);
    if (name.empty()) {
      out->append("\"E");
      AppendInt(out, e.err);
      out->push_back('"');
    } else {
      AppendQuoted(out, name);
    }
  }
  if (no_socket) out->append(",\"no_socket\":true");
  if (e.flags & SOCKTRACE_FLAG_DEFERRED) out->append(",\"deferred\":true");
  if (e.flags & SOCKTRACE_FLAG_UNANSWERED) out->append(",\"unanswered\":true");
  out->append("}\n");
  return true;
}

}  // namespace socktrace
