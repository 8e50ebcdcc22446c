// socktrace's BPF programs from open to destroy, in plain C++: the skeleton, the hook plan, the links,
// the CLOSE_WAIT sweep, the socket counter and the ring reader. tracer.cc is its JavaScript binding.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batch_consumer.h"
#include "close_wait_sweep.h"
#include "exchange_timings.h"
#include "hook_plan.h"
#include "match_filter.h"
#include "owner_seeding.h"
#include "socket_counts.h"

struct socktrace_bpf;
struct bpf_link;

namespace socktrace {

struct TracerOptions {
  uint32_t ring_bytes = 8u << 20;   // kernel ring buffer: where backpressure ends and drops are counted
  uint32_t owner_entries = 262144;  // slots of the socket-owner table (two ways per set)
  uint32_t seed_entries = 65536;    // owners seeded from user space's inventory
  uint32_t max_batch_records = 4096;
  uint32_t poll_millis = 20;        // longest an event waits for the reader when wakeups are batched
  uint64_t wakeup_bytes = 0;        // 0: ring_bytes / 8
  uint32_t emit_kinds = 0xffffffff; // 1 << kind
  uint32_t emit_states = 0xffffffff; // 1 << TCP state
  bool remember_closers = true;     // owners of closed connections for their TIME_WAIT sockets' RSTs
  bool learn_accepted = true;       // accept()'s exit learns the accepted socket's owner (failures count always)
  bool measure_exchanges = true;    // services' answer times and clients' waits (lib/exchanges.bpf.h)
  uint32_t close_wait_delay_ms = 0; // > 0: CLOSE_WAIT reported only once it lasts this long (the sweep)
  HookPreference preference = HookPreference::kAuto;
  std::vector<std::string> pretend_missing;  // hooks to plan as absent: exercises fallbacks on new kernels
  std::vector<std::string> disabled_hooks;   // hooks the configuration turned off
  MatchFilter match;                         // a filtered watch's match, applied in the kernel
};

// What a started session runs with, as start() describes it.
struct SessionDescription {
  std::vector<HookChoice> hooks;
  std::vector<std::string> notes;  // what was given up on this kernel, and why
  uint32_t ring_bytes = 0;
  uint32_t owner_entries = 0;
  uint32_t close_wait_delay_ms = 0;  // in effect: 0 unless the sweep can run
  uint32_t abi = 0;
  uint32_t record_size = 0;
  std::vector<std::string> rst_reasons;  // index = the kernel's sk_rst_reason value
};

// Runs once: Start(), then Run() on the reader's thread, then Destroy() once that thread has ended.
// Failures throw NativeError (errors.h) with nothing left loaded.
class BpfSession {
 public:
  explicit BpfSession(TracerOptions options) : options_(std::move(options)) {}
  ~BpfSession() { Destroy(); }
  BpfSession(const BpfSession&) = delete;
  BpfSession& operator=(const BpfSession&) = delete;

  // Loads, attaches and opens the ring; batches go to deliver (see BatchConsumer) once Run() runs.
  SessionDescription Start(BatchConsumer::Deliver deliver);
  // The reader thread's body: until stop, then detach, drain, and a final batch.
  void Run(const std::atomic<bool>& stop, const std::atomic<bool>& paused);
  void Destroy();
  bool loaded() const { return skel_ != nullptr; }

  // Readers and writers of a loaded session.
  uint32_t SeedOwners(const SeedRecord* records, size_t count);
  uint32_t emit_kinds() const;
  uint32_t emit_states() const;
  void SetEmitKinds(uint32_t kinds);
  void SetEmitStates(uint32_t states);
  // Changes per TCP state, summed over the CPUs (SOCKTRACE_TRANSITION_SLOTS of them).
  std::vector<uint64_t> Transitions() const;
  // Owners displaced from full sets of the kernel's owner table, since start.
  uint64_t OwnerEvictions() const;
  uint64_t SkippedRuns() const;
  const CloseWaitSweep& sweep() const { return sweep_; }
  bool counter_ready() const { return counter_.ready(); }
  SocketCounts CountSockets(const std::vector<std::pair<std::string, unsigned int>>& namespaces);
  // Services' answer times and clients' waits, cumulative (see exchange_timings.h).
  std::vector<TimingRow> Timings() const;
  TimingMisses TimingMissCounts() const;
  uint32_t ForgetTimingKeys(const std::vector<socktrace_timing_key>& keys);
  // Attaches (on) or detaches an on-demand hook; false when the plan has no such hook or it fails to attach.
  bool SetOnDemand(const std::string& name, bool on);

 private:
  // Opens, plans and loads the object; retries with classic tracepoints if tp_btf programs fail to load.
  void Load(std::vector<std::string>* notes);
  void Attach();
  // Whether the plan attaches (or attached) a hook.
  bool HookAttached(const char* name) const;
  // Readies the CLOSE_WAIT sweep if it was loaded, and only then lets the kernel defer CLOSE_WAIT.
  void StartSweep(std::vector<std::string>* notes);
  void DetachAll();
  SessionDescription Describe(std::vector<std::string> notes) const;

  TracerOptions options_;
  socktrace_bpf* skel_ = nullptr;
  std::vector<HookChoice> plan_;
  std::vector<bpf_link*> links_;
  std::map<std::string, bpf_link*> on_demand_links_;  // on-demand hooks attached now
  CloseWaitSweep sweep_;
  SocketCounter counter_;
  uint32_t close_wait_delay_ms_ = 0;  // in effect: 0 unless the sweep can run
  std::unique_ptr<BatchConsumer> consumer_;
};

}  // namespace socktrace
