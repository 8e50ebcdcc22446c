// The native thread's work: drain the kernel ring buffer into batches and hand each batch over whole.
#pragma once
#include <bpf/libbpf.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "line_formatter.h"
#include "socktrace_event.h"

namespace socktrace {

// What crosses to JavaScript in one call: many records, never one call per event.
struct Batch {
  std::vector<uint8_t> bytes;    // `records` socktrace_event records, back to back
  uint32_t records = 0;
  uint64_t lost_total = 0;       // failed ring-buffer reserves so far, summed over CPUs
  uint64_t submitted_total = 0;  // records the programs submitted so far, summed over CPUs
  uint64_t malformed_total = 0;  // records of the wrong size so far (a mismatched BPF object)
  bool final = false;            // the last batch: everything the kernel produced before stop
  std::string error;             // set when consumption stopped on an error
  std::unique_ptr<FormattedLines> lines;  // watch's lines made natively: then `bytes` is empty
};

class BatchConsumer {
 public:
  // deliver() takes ownership; it may block (that is the backpressure) and returns false once
  // JavaScript is gone. detach() removes the BPF links so the final drain sees every event there is.
  using Deliver = std::function<bool(std::unique_ptr<Batch>)>;

  BatchConsumer(int ring_map_fd, int stats_map_fd, size_t max_batch_records, int poll_millis, Deliver deliver,
                std::function<void()> detach);
  ~BatchConsumer();

  // Creates the ring buffer reader; returns 0 or a negative errno.
  int Open();
  // Work for the reader thread every `millis` (the CLOSE_WAIT sweep, whose reports land in the ring),
  // so it never races the drain. Set before Run().
  void SetTick(std::function<void()> tick, int millis);
  // The thread body: runs until stop is set or delivery fails, then detaches, drains and sends final.
  // While `paused` (the consumer's output is backed up), records stay in the kernel ring, which drops
  // and counts what does not fit; lost counts still cross, and stop still drains everything.
  void Run(const std::atomic<bool>& stop, const std::atomic<bool>& paused);

 private:
  static int OnRecord(void* ctx, void* data, size_t size);
  // Sums the per-CPU ring stats into lost_total_ and submitted_total_ (unchanged if the read fails).
  void ReadRingStats();
  bool Flush(bool final, const std::string& error = "");

  int ring_map_fd_;
  int stats_map_fd_;
  size_t max_batch_records_;
  int poll_millis_;
  Deliver deliver_;
  std::function<void()> detach_;
  std::function<void()> tick_;
  int tick_millis_ = 0;
  ring_buffer* ring_ = nullptr;
  std::unique_ptr<Batch> pending_;
  uint64_t lost_total_ = 0;
  uint64_t submitted_total_ = 0;
  uint64_t lost_delivered_ = 0;
  uint64_t malformed_total_ = 0;
  bool delivery_failed_ = false;
  // Set by Run(): stop was asked for. A consume that keeps finding new records (a storm) ends at the
  // next record instead of when the storm does; the final drain after detach reads the rest.
  const std::atomic<bool>* stop_ = nullptr;
  bool draining_ = false;
  std::vector<socktrace_ring_stats> per_cpu_;
};

}  // namespace socktrace
