#include "close_wait_sweep.h"

#include "socktrace_event.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace socktrace {

namespace {
// bpf_loop() runs at most 1 << 23 iterations a call; smaller chunks also keep each run (which holds
// the CPU with preemption off) short.
constexpr uint32_t kChunk = 1u << 18;
}  // namespace

int CloseWaitSweep::Prepare(const bpf_program* prog, uint32_t entries, const volatile unsigned int* pending) {
  prog_fd_ = bpf_program__fd(prog);
  entries_ = entries;
  pending_ = pending;
  if (prog_fd_ < 0) return -EBADF;
  int err = RunOnce(true);
  if (err != 0) prog_fd_ = -1;
  return err;
}

int CloseWaitSweep::RunRange(uint32_t first, uint32_t end) {
  if (end > first) visited_.fetch_add(end - first, std::memory_order_relaxed);
  for (; first < end; first += kChunk) {
    uint64_t args[2] = {};
    args[SOCKTRACE_SWEEP_ARG_FIRST] = first;
    args[SOCKTRACE_SWEEP_ARG_END] = std::min<uint64_t>(static_cast<uint64_t>(first) + kChunk, end);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
    if (bpf_prog_test_run_opts(prog_fd_, &opts) != 0) return -errno;
  }
  return 0;
}

int CloseWaitSweep::RunOnce(bool whole) {
  if (whole || pending_ == nullptr) return RunRange(0, entries_);
  // Neighbouring chunks that hold entries are swept in one run.
  constexpr uint32_t kShift = SOCKTRACE_CLOSE_WAIT_CHUNK_SHIFT;
  uint32_t chunks = std::min<uint32_t>((entries_ + (1u << kShift) - 1) >> kShift, SOCKTRACE_CLOSE_WAIT_CHUNKS);
  for (uint32_t c = 0; c < chunks;) {
    if (pending_[c] == 0) {
      c++;
      continue;
    }
    uint32_t from = c;
    while (c < chunks && pending_[c] != 0) c++;
    int err = RunRange(from << kShift, std::min<uint32_t>(c << kShift, entries_));
    if (err != 0) return err;
  }
  return 0;
}

int CloseWaitSweep::Run() {
  if (prog_fd_ < 0) return -EBADF;
  auto start = std::chrono::steady_clock::now();
  int err = RunOnce(runs_.load(std::memory_order_relaxed) % SOCKTRACE_SWEEP_FULL_EVERY == 0);
  auto spent = std::chrono::steady_clock::now() - start;
  nanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count(), std::memory_order_relaxed);
  runs_.fetch_add(1, std::memory_order_relaxed);
  if (err != 0) failures_.fetch_add(1, std::memory_order_relaxed);
  return err;
}

}  // namespace socktrace
