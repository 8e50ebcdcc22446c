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
  // Takes the loaded program and the table's size; runs it once to learn whether this kernel can
  // (BPF_PROG_TEST_RUN for raw tracepoint programs). Returns 0 or a negative errno.
  int Prepare(const bpf_program* prog, uint32_t entries);

  // One pass over the whole table: the program writes its reports into the event ring. Returns 0 or a
  // negative errno (also counted in failures()).
  int Run();

  uint64_t runs() const { return runs_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t nanos() const { return nanos_.load(std::memory_order_relaxed); }

 private:
  int RunOnce();

  int prog_fd_ = -1;
  uint32_t entries_ = 0;
  std::atomic<uint64_t> runs_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> nanos_{0};  // time spent sweeping, for the cost to be seen
};

}  // namespace socktrace
