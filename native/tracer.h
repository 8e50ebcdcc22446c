// The addon's Tracer: loads and attaches socktrace's BPF programs and runs the ring-buffer thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "batch_consumer.h"
#include "close_wait_sweep.h"
#include "hook_plan.h"
#include "loop_turn_gate.h"
#include "socket_counts.h"

struct socktrace_bpf;
struct bpf_link;

namespace socktrace {

class Tracer;
void DeliverBatchToJs(Napi::Env env, Napi::Function on_batch, Tracer* tracer, Batch* batch);
using BatchFunction = Napi::TypedThreadSafeFunction<Tracer, Batch, DeliverBatchToJs>;

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
  uint32_t close_wait_delay_ms = 0; // > 0: CLOSE_WAIT reported only once it lasts this long (the sweep)
  HookPreference preference = HookPreference::kAuto;
  std::vector<std::string> pretend_missing;  // hooks to plan as absent: exercises fallbacks on new kernels
  std::vector<std::string> disabled_hooks;   // hooks the configuration turned off
};

// new Tracer(options).start(onBatch) -> { hooks, notes, ... }; stop() asks the thread to finish: a last
// batch with final=true follows, after which nothing of socktrace stays attached. A Tracer runs once.
class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value SeedOwners(const Napi::CallbackInfo& info);
  Napi::Value SetFilter(const Napi::CallbackInfo& info);
  /** pause(true|false): the reader leaves records in the kernel ring while JS's output is backed up. */
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Transitions(const Napi::CallbackInfo& info);
  /** Owners displaced from full sets of the kernel's owner table, since start. */
  Napi::Value OwnerEvictions(const Napi::CallbackInfo& info);
  Napi::Value SkippedRuns(const Napi::CallbackInfo& info);
  /** { runs, failures, seconds } of the CLOSE_WAIT sweep, since start. */
  Napi::Value SweepStats(const Napi::CallbackInfo& info);
  /** countSockets(namespaces) -> { counts: [{ pid, state, count, comm }], errors }: every socket now. */
  Napi::Value CountSockets(const Napi::CallbackInfo& info);

  // Opens, plans and loads the object; retries with classic tracepoints if tp_btf programs fail to load.
  void Load(Napi::Env env, std::vector<std::string>* notes);
  void Attach(Napi::Env env);
  // Whether the plan attaches (or attached) a hook.
  bool HookAttached(const char* name) const;
  // Readies the CLOSE_WAIT sweep if it was loaded, and only then lets the kernel defer CLOSE_WAIT.
  void StartSweep(std::vector<std::string>* notes);
  void DetachAll();
  void DestroyBpf();
  void JoinThread();
  static void OnEnvTeardown(Tracer* tracer);
  Napi::Object Describe(Napi::Env env, const std::vector<std::string>& notes);

  TracerOptions options_;
  socktrace_bpf* skel_ = nullptr;
  std::vector<HookChoice> plan_;
  std::vector<bpf_link*> links_;
  CloseWaitSweep sweep_;
  SocketCounter counter_;
  uint32_t close_wait_delay_ms_ = 0;  // in effect: 0 unless the sweep can run
  std::unique_ptr<BatchConsumer> consumer_;
  LoopTurnGate turns_;                 // one batch handed over per turn of the event loop
  LoopTurnWatch* turn_watch_ = nullptr;  // its loop side; closed by the finalizer
  BatchFunction batches_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  bool started_ = false;
  Napi::Env::CleanupHook<void (*)(Tracer*), Tracer> cleanup_;
};

}  // namespace socktrace
