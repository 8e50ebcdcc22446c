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

int CloseWaitSweep::Prepare(const bpf_program* prog, uint32_t entries) {
  prog_fd_ = bpf_program__fd(prog);
  entries_ = entries;
  if (prog_fd_ < 0) return -EBADF;
  int err = RunOnce();
  if (err != 0) prog_fd_ = -1;
  return err;
}

int CloseWaitSweep::RunOnce() {
  for (uint32_t first = 0; first < entries_; first += kChunk) {
    uint64_t args[2] = {};
    args[SOCKTRACE_SWEEP_ARG_FIRST] = first;
    args[SOCKTRACE_SWEEP_ARG_END] = std::min<uint64_t>(static_cast<uint64_t>(first) + kChunk, entries_);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
    if (bpf_prog_test_run_opts(prog_fd_, &opts) != 0) return -errno;
  }
  return 0;
}

int CloseWaitSweep::Run() {
  if (prog_fd_ < 0) return -EBADF;
  auto start = std::chrono::steady_clock::now();
  int err = RunOnce();
  auto spent = std::chrono::steady_clock::now() - start;
  nanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count(), std::memory_order_relaxed);
  runs_.fetch_add(1, std::memory_order_relaxed);
  if (err != 0) failures_.fetch_add(1, std::memory_order_relaxed);
  return err;
}

}  // namespace socktrace
