// The addon's Tracer: the JavaScript binding of a BpfSession, and the thread that feeds its batches to JS.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <thread>

#include "batch_consumer.h"
#include "bpf_session.h"
#include "line_formatter.h"
#include "loop_turn_gate.h"

namespace socktrace {

class Tracer;
void DeliverBatchToJs(Napi::Env env, Napi::Function on_batch, Tracer* tracer, Batch* batch);
using BatchFunction = Napi::TypedThreadSafeFunction<Tracer, Batch, DeliverBatchToJs>;

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
  /** exchangeTimings() -> { rows: [{ key, netns, port, family, peer, kind, buckets }], misses }: cumulative. */
  Napi::Value ExchangeTimings(const Napi::CallbackInfo& info);
  /** forgetExchangeTimings(keys: Buffer[]) -> how many of these histograms were deleted. */
  Napi::Value ForgetExchangeTimings(const Napi::CallbackInfo& info);
  /** setOnDemandHook(name, on) -> whether that on-demand hook is now as asked. */
  Napi::Value SetOnDemandHook(const Napi::CallbackInfo& info);
  /** setLinePlacement(pid, start, cgroupId, text): what follows "via" in this owner's lines (options.lines). */
  Napi::Value SetLinePlacement(const Napi::CallbackInfo& info);

  void JoinThread();
  static void OnEnvTeardown(Tracer* tracer);

  BpfSession session_;
  std::unique_ptr<LineFormatter> lines_;  // options.lines: batches cross as JSON lines
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
