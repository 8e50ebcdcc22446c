// `watch`'s JSON lines made on the reader thread, straight from the records: in JavaScript, decoding a
// record, building its line and encoding it cost ~3.7 µs an event (bench/decode-throughput.mjs), most
// of watch's CPU. The text is src/output/event-line.ts's, byte for byte (test/unit/native-lines.test.ts).
// What it cannot make stays a record for JavaScript, in order: kinds JavaScript handles itself (accept
// storms are folded there), records it does not understand, and owners whose placement (cgroup, unit,
// container, pod: JavaScript reads /proc and the cgroup tree) it has not been told yet or was told over
// `placement_ttl_ms` ago. Napi-free: tracer.cc binds it.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace socktrace {

struct LineNames {
  std::vector<std::string> kinds;    // by kind code; empty: not a kind to format
  std::vector<std::string> sources;  // by owner source code; empty: no owner ("none")
  std::vector<std::string> states;   // by TCP state number; beyond: "UNKNOWN"
  std::vector<std::string> errnos;   // by errno; empty or beyond: "E<n>"
  std::vector<std::string> rst_reasons;  // by sk_rst_reason; empty or beyond: "REASON_<n>"
  uint32_t errno_kinds = 0;          // kinds whose lines carry "errno" (1 << code)
  uint32_t raw_kinds = 0;            // kinds left to JavaScript (1 << code)
};

// What a batch becomes: text, and the records left to JavaScript with where each goes in the text.
struct FormattedLines {
  std::string text;
  std::vector<uint8_t> raw;       // records, back to back
  std::vector<uint32_t> raw_at;   // for each raw record: the text offset its line goes before
};

class LineFormatter {
 public:
  // Kernel times become wall time as src/events/monotonic-clock.ts converts them: wall_ms + (ts - mono_ns) / 1e6.
  LineFormatter(LineNames names, double wall_ms, uint64_t mono_ns, uint32_t placement_ttl_ms);

  // The text that follows "via" for an owner (pid, start, cgroup id): src/output/event-line.ts's placementText.
  void SetPlacement(uint32_t pid, uint32_t start, uint64_t cgroup, std::string text);
  // Kernel RST reason names, when the running kernel's BTF gave them (else the defaults given).
  void SetRstReasons(const std::vector<std::string>& reasons);

  void Format(const uint8_t* records, uint32_t count, FormattedLines* out);

 private:
  struct OwnerKey {
    uint64_t cgroup;
    uint32_t pid;
    uint32_t start;
    bool operator==(const OwnerKey& o) const { return pid == o.pid && start == o.start && cgroup == o.cgroup; }
  };
  struct OwnerKeyHash {
    size_t operator()(const OwnerKey& k) const { return (k.cgroup * 0x9e3779b97f4a7c15ull) ^ (uint64_t{k.pid} << 32) ^ k.start; }
  };
  struct Placed {
    std::string text;
    std::chrono::steady_clock::time_point told;
  };

  // False when JavaScript must make this record's line.
  bool FormatOne(const uint8_t* record, std::chrono::steady_clock::time_point now, std::string* out);

  LineNames names_;
  double wall_ms_;
  uint64_t mono_ns_;
  std::chrono::milliseconds placement_ttl_;
  std::mutex mutex_;  // placements: told from the JavaScript thread, read on the reader thread
  std::unordered_map<OwnerKey, Placed, OwnerKeyHash> placements_;
  int64_t last_ms_ = INT64_MIN;
  std::string last_iso_;
};

}  // namespace socktrace
