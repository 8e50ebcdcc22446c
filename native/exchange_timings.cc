#include "exchange_timings.h"

#include <bpf/bpf.h>

namespace socktrace {

std::vector<TimingRow> ReadTimings(const bpf_map* timings) {
  std::vector<TimingRow> rows;
  int fd = bpf_map__fd(timings);
  socktrace_timing_key key = {}, next = {};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    TimingRow row = {};
    row.key = next;
    if (bpf_map_lookup_elem(fd, &next, &row.counts) == 0) rows.push_back(row);
    key = next;
    previous = &key;
  }
  return rows;
}

uint32_t ForgetTimings(const bpf_map* timings, const std::vector<socktrace_timing_key>& keys) {
  int fd = bpf_map__fd(timings);
  uint32_t forgotten = 0;
  for (const socktrace_timing_key& k : keys)
    if (bpf_map_delete_elem(fd, &k) == 0) forgotten++;
  return forgotten;
}

}  // namespace socktrace
