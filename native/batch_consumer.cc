#include "batch_consumer.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "socktrace_event.h"

namespace socktrace {

BatchConsumer::BatchConsumer(int ring_map_fd, int stats_map_fd, size_t max_batch_records, int poll_millis,
                             Deliver deliver, std::function<void()> detach)
    : ring_map_fd_(ring_map_fd),
      stats_map_fd_(stats_map_fd),
      max_batch_records_(max_batch_records),
      poll_millis_(poll_millis),
      deliver_(std::move(deliver)),
      detach_(std::move(detach)),
      pending_(new Batch()) {
  int cpus = libbpf_num_possible_cpus();
  per_cpu_.resize(cpus > 0 ? cpus : 1);
}

BatchConsumer::~BatchConsumer() { ring_buffer__free(ring_); }

int BatchConsumer::Open() {
  ring_ = ring_buffer__new(ring_map_fd_, OnRecord, this, nullptr);
  if (ring_ == nullptr) return -errno;
  return 0;
}

int BatchConsumer::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<BatchConsumer*>(ctx);
  if (self->delivery_failed_) return -ECANCELED;
  if (size != sizeof(socktrace_event)) {
    self->malformed_total_++;
    return 0;
  }
  Batch& batch = *self->pending_;
  const auto* bytes = static_cast<const uint8_t*>(data);
  batch.bytes.insert(batch.bytes.end(), bytes, bytes + size);
  batch.records++;
  // A full batch goes now; blocking here keeps the rest in the kernel ring, where drops are counted.
  if (batch.records >= self->max_batch_records_ && !self->Flush(false)) return -ECANCELED;
  // Kept before bailing out: libbpf counts a record consumed once its callback ran, whatever it returns.
  if (!self->draining_ && self->stop_ != nullptr && self->stop_->load(std::memory_order_acquire)) return -ESHUTDOWN;
  return 0;
}

void BatchConsumer::ReadRingStats() {
  uint32_t key = 0;
  if (bpf_map_lookup_elem(stats_map_fd_, &key, per_cpu_.data()) != 0) return;
  uint64_t lost = 0, submitted = 0;
  for (const socktrace_ring_stats& cpu : per_cpu_) {
    lost += cpu.lost;
    submitted += cpu.submitted;
  }
  lost_total_ = lost;
  submitted_total_ = submitted;
}

bool BatchConsumer::Flush(bool final, const std::string& error) {
  ReadRingStats();
  Batch& batch = *pending_;
  bool has_news = batch.records > 0 || lost_total_ != lost_delivered_ || final || !error.empty();
  if (!has_news) return true;
  batch.lost_total = lost_total_;
  batch.submitted_total = submitted_total_;
  batch.malformed_total = malformed_total_;
  batch.final = final;
  batch.error = error;
  lost_delivered_ = lost_total_;
  std::unique_ptr<Batch> out = std::move(pending_);
  pending_.reset(new Batch());
  pending_->bytes.reserve(out->bytes.capacity());
  if (!deliver_(std::move(out))) delivery_failed_ = true;
  return !delivery_failed_;
}

void BatchConsumer::SetTick(std::function<void()> tick, int millis) {
  tick_ = std::move(tick);
  tick_millis_ = millis;
}

void BatchConsumer::Run(const std::atomic<bool>& stop, const std::atomic<bool>& paused) {
  stop_ = &stop;
  pending_->bytes.reserve(max_batch_records_ * sizeof(socktrace_event));
  std::string error;
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_tick = Clock::now() + std::chrono::milliseconds(tick_millis_);
  while (!stop.load(std::memory_order_acquire) && !delivery_failed_) {
    if (tick_ && Clock::now() >= next_tick) {
      tick_();
      next_tick = Clock::now() + std::chrono::milliseconds(tick_millis_);
    }
    if (paused.load(std::memory_order_acquire)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_millis_));
      if (!Flush(false)) break;  // only news of losses: nothing is read from the ring while paused
      continue;
    }
    // The poll timeout bounds how late an event reaches JavaScript: the kernel wakes us only when much
    // is waiting (wakeup_bytes), so quiet periods are covered by this timeout.
    int n = ring_buffer__poll(ring_, poll_millis_);
    // Without a wakeup, epoll does not report the ring ready: read what is there either way.
    if (n >= 0 && !delivery_failed_) n = ring_buffer__consume(ring_);
    if (n == -ESHUTDOWN) break;  // stop asked for mid-consume: what was read goes with the final drain
    if (n < 0 && n != -EINTR && !delivery_failed_) {
      error = std::string("reading the ring buffer failed: ") + strerror(-n);
      break;
    }
    if (!Flush(false)) break;
  }
  // Detach first, so the drain below ends with the last event the kernel will ever write for us.
  detach_();
  draining_ = true;
  if (!delivery_failed_) {
    ring_buffer__consume(ring_);
    Flush(true, error);
  }
}

}  // namespace socktrace
