// The CLOSE_WAIT sweep: runs the BPF program that reports sockets which stayed in CLOSE_WAIT longer
// than the deferral delay (see close_wait_delay_ns in probes/socktrace.bpf.c). The program is never
// attached: user space runs it (BPF_PROG_TEST_RUN) over the close_waits table, a chunk at a time.
#pragma once
#include <bpf/libbpf.h>

#include <atomic>
#include <cstdint>

namespace socktrace {

class CloseWaitSweep {
 public:
  // Takes the loaded program, the table's size and the program's per-chunk counts of entries awaiting
  // the sweep (its global close_wait_pending); runs it once over the whole table to learn whether this
  // kernel can (BPF_PROG_TEST_RUN for raw tracepoint programs). Returns 0 or a negative errno.
  int Prepare(const bpf_program* prog, uint32_t entries, const volatile unsigned int* pending);

  // One pass over the chunks that hold entries awaiting it (the whole table every
  // SOCKTRACE_SWEEP_FULL_EVERY passes): the program writes its reports into the event ring. Returns 0
  // or a negative errno (also counted in failures()).
  int Run();

  uint64_t runs() const { return runs_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t nanos() const { return nanos_.load(std::memory_order_relaxed); }
  // Table entries the program was run over, all runs together: a run visits only chunks with work.
  uint64_t visited() const { return visited_.load(std::memory_order_relaxed); }
  uint32_t entries() const { return entries_; }

 private:
  // Test-runs the program over close_waits[first, end), in pieces bpf_loop takes.
  int RunRange(uint32_t first, uint32_t end);
  int RunOnce(bool whole);

  int prog_fd_ = -1;
  uint32_t entries_ = 0;
  const volatile unsigned int* pending_ = nullptr;
  std::atomic<uint64_t> runs_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> nanos_{0};  // time spent sweeping, for the cost to be seen
  std::atomic<uint64_t> visited_{0};
};

}  // namespace socktrace
