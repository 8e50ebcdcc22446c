// Reads the kernel's histograms of services' answer times and clients' waits (probes/lib/exchanges.bpf.h):
// cumulative counts per service, client and kind, which user space differences between reads. Keys that
// went quiet are forgotten on user space's request, to make room for new clients.
#pragma once
#include <bpf/libbpf.h>

#include <cstdint>
#include <vector>

#include "socktrace_event.h"

namespace socktrace {

struct TimingRow {
  socktrace_timing_key key;
  socktrace_timing counts;
};

struct TimingMisses {
  uint64_t peer = 0;  // counted under the service's all-zero client address
  uint64_t lost = 0;  // not counted: the table was full
  uint64_t late = 0;  // unanswered requests not remembered: their late answers go unmeasured
};

std::vector<TimingRow> ReadTimings(const bpf_map* timings);
// Deletes these keys; returns how many were there.
uint32_t ForgetTimings(const bpf_map* timings, const std::vector<socktrace_timing_key>& keys);

}  // namespace socktrace
