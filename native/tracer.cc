#include "tracer.h"

#include "line_options.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "inventory.h"

namespace socktrace {

namespace {

// Batches waiting for JavaScript. When JS falls behind, the native thread blocks on a full queue, stops
// reading, and the kernel ring buffer absorbs the rest: the one place where drops happen and are counted.
constexpr size_t kMaxQueuedBatches = 8;

uint32_t ReadUint(const Napi::Object& options, const char* key, uint32_t fallback, uint32_t min,
                  uint32_t max) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("Expected options.") + key + " to be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<uint64_t>(d)) || d < min || d > max) {
    throw Napi::RangeError::New(options.Env(), std::string("Expected options.") + key + " to be an integer from " +
                                                   std::to_string(min) + " to " + std::to_string(max) +
                                                   ", got " + v.ToString().Utf8Value());
  }
  return static_cast<uint32_t>(d);
}

bool ReadBool(const Napi::Object& options, const char* key, bool fallback) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(options.Env(), std::string("Expected options.") + key + " to be a boolean");
  return v.As<Napi::Boolean>().Value();
}

void ReadNames(const Napi::Object& options, const char* key, std::vector<std::string>* out) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return;
  if (!v.IsArray()) throw Napi::TypeError::New(options.Env(), std::string("Expected options.") + key + " to be an array of hook names");
  Napi::Array names = v.As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value name = names.Get(i);
    if (!name.IsString()) throw Napi::TypeError::New(options.Env(), std::string("Expected options.") + key + " to hold strings");
    out->push_back(name.As<Napi::String>().Utf8Value());
  }
}

// options.match: { ports?: number[], pids?: number[], comms?: Buffer[], peers?: { addr: Buffer(16), prefixlen }[] }.
void ReadMatch(Napi::Env env, Napi::Object o, MatchFilter* match) {
  Napi::Value v = o.Get("match");
  if (v.IsUndefined()) return;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "Expected options.match to be an object");
  Napi::Object m = v.As<Napi::Object>();
  auto list = [&](const char* name) {
    Napi::Value l = m.Get(name);
    if (l.IsUndefined()) return Napi::Array::New(env);
    if (!l.IsArray()) throw Napi::TypeError::New(env, std::string("Expected options.match.") + name + " to be an array");
    return l.As<Napi::Array>();
  };
  auto number = [&](Napi::Value x, const char* name, double max) {
    if (!x.IsNumber() || x.As<Napi::Number>().DoubleValue() < 0 || x.As<Napi::Number>().DoubleValue() > max)
      throw Napi::TypeError::New(env, std::string("Expected options.match.") + name + " to hold numbers from 0 to " + std::to_string(static_cast<uint64_t>(max)));
    return x.As<Napi::Number>().DoubleValue();
  };
  Napi::Array ports = list("ports"), pids = list("pids"), comms = list("comms"), peers = list("peers");
  for (uint32_t i = 0; i < ports.Length(); i++) match->ports.push_back(static_cast<uint16_t>(number(ports.Get(i), "ports", 65535)));
  for (uint32_t i = 0; i < pids.Length(); i++) match->pids.push_back(static_cast<uint32_t>(number(pids.Get(i), "pids", 4294967295.0)));
  for (uint32_t i = 0; i < comms.Length(); i++) {
    Napi::Value c = comms.Get(i);
    if (!c.IsBuffer() || c.As<Napi::Buffer<char>>().Length() >= SOCKTRACE_COMM_LEN)
      throw Napi::TypeError::New(env, "Expected options.match.comms to hold Buffers of at most 15 bytes");
    match->comms.emplace_back(c.As<Napi::Buffer<char>>().Data(), c.As<Napi::Buffer<char>>().Length());
  }
  for (uint32_t i = 0; i < peers.Length(); i++) {
    Napi::Value p = peers.Get(i);
    Napi::Value addr = p.IsObject() ? p.As<Napi::Object>().Get("addr") : env.Undefined();
    if (!addr.IsBuffer() || addr.As<Napi::Buffer<unsigned char>>().Length() != 16)
      throw Napi::TypeError::New(env, "Expected options.match.peers to hold { addr: a 16-byte Buffer, prefixlen }");
    PeerPrefix prefix;
    memcpy(prefix.addr.data(), addr.As<Napi::Buffer<unsigned char>>().Data(), 16);
    prefix.prefixlen = static_cast<uint32_t>(number(p.As<Napi::Object>().Get("prefixlen"), "peers[].prefixlen", 128));
    match->peers.push_back(prefix);
  }
}

// new Tracer(options): the defaults of TracerOptions where an option is not given.
TracerOptions ReadOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TracerOptions options;
  if (info.Length() == 0 || info[0].IsUndefined()) return options;
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Expected first argument to be an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  options.ring_bytes = ReadUint(o, "ringBytes", options.ring_bytes, 4096, 1u << 30);
  long page = sysconf(_SC_PAGESIZE);
  if ((options.ring_bytes & (options.ring_bytes - 1)) != 0 || options.ring_bytes % page != 0) {
    throw Napi::RangeError::New(env, "Expected options.ringBytes to be a power of two and a multiple of the page size (" +
                                         std::to_string(page) + "), got " + std::to_string(options.ring_bytes));
  }
  options.owner_entries = ReadUint(o, "ownerEntries", options.owner_entries, 1024, 1u << 24);
  options.seed_entries = ReadUint(o, "seedEntries", options.seed_entries, 1024, 1u << 24);
  options.max_batch_records = ReadUint(o, "maxBatchRecords", options.max_batch_records, 1, 1u << 20);
  options.poll_millis = ReadUint(o, "pollMillis", options.poll_millis, 1, 1000);
  options.wakeup_bytes = ReadUint(o, "wakeupBytes", 0, 0, 1u << 30);
  options.emit_kinds = ReadUint(o, "emitKinds", options.emit_kinds, 0, 0xffffffffu);
  options.emit_states = ReadUint(o, "emitStates", options.emit_states, 0, 0xffffffffu);
  options.close_wait_delay_ms = ReadUint(o, "closeWaitDelayMs", options.close_wait_delay_ms, 0, 3600000);
  options.learn_accepted = ReadBool(o, "learnAccepted", options.learn_accepted);
  options.measure_exchanges = ReadBool(o, "measureExchanges", options.measure_exchanges);
  options.remember_closers = ReadBool(o, "rememberClosers", options.remember_closers);
  Napi::Value hooks = o.Get("hooks");
  if (!hooks.IsUndefined()) {
    std::string h = hooks.IsString() ? hooks.As<Napi::String>().Utf8Value() : "";
    if (h == "auto") options.preference = HookPreference::kAuto;
    else if (h == "classic") options.preference = HookPreference::kClassicOnly;
    else throw Napi::TypeError::New(env, "Expected options.hooks to be \"auto\" or \"classic\"");
  }
  ReadNames(o, "pretendMissing", &options.pretend_missing);
  ReadNames(o, "disabledHooks", &options.disabled_hooks);
  ReadMatch(env, o, &options.match);
  return options;
}

// The session's failure as JavaScript sees it: .code, .errno and .syscall where the session set them.
Napi::Error JsError(Napi::Env env, const NativeError& native) {
  Napi::Error error = Napi::Error::New(env, native.what());
  if (!native.code.empty()) error.Set("code", Napi::String::New(env, native.code));
  if (native.errnum != 0) {
    error.Set("errno", Napi::Number::New(env, native.errnum));
    error.Set("syscall", Napi::String::New(env, native.syscall));
  }
  return error;
}

Napi::Object Describe(Napi::Env env, const SessionDescription& d) {
  Napi::Object info = Napi::Object::New(env);
  Napi::Array hooks = Napi::Array::New(env);
  uint32_t i = 0;
  for (const HookChoice& c : d.hooks) {
    Napi::Object h = Napi::Object::New(env);
    h.Set("name", c.name);
    h.Set("mode", HookModeName(c.mode));
    h.Set("why", c.why);
    h.Set("onDemand", Napi::Boolean::New(env, c.on_demand && c.mode != HookMode::kMissing));
    hooks.Set(i++, h);
  }
  info.Set("hooks", hooks);
  Napi::Array note_list = Napi::Array::New(env);
  for (uint32_t n = 0; n < d.notes.size(); n++) note_list.Set(n, d.notes[n]);
  info.Set("notes", note_list);
  info.Set("ringBytes", Napi::Number::New(env, d.ring_bytes));
  info.Set("ownerEntries", Napi::Number::New(env, d.owner_entries));
  info.Set("closeWaitDelayMs", Napi::Number::New(env, d.close_wait_delay_ms));
  info.Set("abi", Napi::Number::New(env, d.abi));
  info.Set("recordSize", Napi::Number::New(env, d.record_size));
  Napi::Array reasons = Napi::Array::New(env);
  for (uint32_t r = 0; r < d.rst_reasons.size(); r++) reasons.Set(r, d.rst_reasons[r]);
  info.Set("rstReasons", reasons);
  return info;
}

}  // namespace

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {InstanceMethod<&Tracer::Start>("start"), InstanceMethod<&Tracer::Stop>("stop"),
                      InstanceMethod<&Tracer::SeedOwners>("seedOwners"),
                      InstanceMethod<&Tracer::SetFilter>("setFilter"),
                      InstanceMethod<&Tracer::Pause>("pause"),
                      InstanceMethod<&Tracer::Transitions>("transitions"),
                      InstanceMethod<&Tracer::OwnerEvictions>("ownerEvictions"),
                      InstanceMethod<&Tracer::SkippedRuns>("skippedRuns"),
                      InstanceMethod<&Tracer::SweepStats>("sweepStats"),
                      InstanceMethod<&Tracer::CountSockets>("countSockets"),
                      InstanceMethod<&Tracer::ExchangeTimings>("exchangeTimings"),
                      InstanceMethod<&Tracer::ForgetExchangeTimings>("forgetExchangeTimings"),
                      InstanceMethod<&Tracer::SetOnDemandHook>("setOnDemandHook"),
                      InstanceMethod<&Tracer::SetLinePlacement>("setLinePlacement")});
}

Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info), session_(ReadOptions(info)) {
  if (info.Length() > 0 && info[0].IsObject()) lines_ = ReadLineFormatter(info.Env(), info[0].As<Napi::Object>().Get("lines"));
  cleanup_ = info.Env().AddCleanupHook(&Tracer::OnEnvTeardown, this);
}

Tracer::~Tracer() {
  if (!cleanup_.IsEmpty()) cleanup_.Remove(Env());
  stop_.store(true);
  JoinThread();
  session_.Destroy();
}

void Tracer::JoinThread() {
  if (thread_.joinable()) thread_.join();
}

Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw Napi::Error::New(env, "this Tracer was already started; create a new one");
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(env, "Expected first argument to be the batch callback (a function)");
  started_ = true;

  SessionDescription started;
  try {
    started = session_.Start([this](std::unique_ptr<Batch> batch) {
      if (lines_ && batch->records > 0) {  // made here, on the reader thread, while JS does other work
        batch->lines = std::make_unique<FormattedLines>();
        lines_->Format(batch->bytes.data(), batch->records, batch->lines.get());
        std::vector<uint8_t>().swap(batch->bytes);
      }
      turns_.WaitForTurn();
      Batch* raw = batch.release();
      if (batches_.BlockingCall(raw) != napi_ok) {
        delete raw;
        return false;
      }
      return true;
    });
  } catch (const NativeError& e) {
    throw JsError(env, e);
  }

  if (lines_) lines_->SetRstReasons(started.rst_reasons);
  Napi::Object description = Describe(env, started);
  batches_ = BatchFunction::New(env, info[0].As<Napi::Function>(), "socktrace-batches", kMaxQueuedBatches, 1, this,
                                [](Napi::Env, void*, Tracer* self) {
                                  // All batches were handed over and the thread released us: it is ending.
                                  self->JoinThread();
                                  if (self->turn_watch_ != nullptr) self->turn_watch_->Stop();
                                  self->turn_watch_ = nullptr;
                                  self->session_.Destroy();
                                  self->Unref();
                                });
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  turn_watch_ = LoopTurnWatch::Start(loop, &turns_);
  Ref();  // kept alive while the thread runs; the finalizer above lets go
  thread_ = std::thread([this]() {
    session_.Run(stop_, paused_);
    batches_.Release();
  });
  return description;
}

Napi::Value Tracer::Stop(const Napi::CallbackInfo& info) {
  stop_.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value Tracer::Pause(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), "pause(paused) expects a boolean");
  }
  paused_.store(info[0].As<Napi::Boolean>().Value(), std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value Tracer::SeedOwners(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded() || stop_.load()) throw Napi::Error::New(env, "seedOwners() needs a started, running Tracer");
  if (info.Length() < 1 || !info[0].IsArrayBuffer())
    throw Napi::TypeError::New(env, "Expected first argument to be an ArrayBuffer of " + std::to_string(sizeof(SeedRecord)) +
                                        "-byte seed records");
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  if (buffer.ByteLength() % sizeof(SeedRecord) != 0)
    throw Napi::RangeError::New(env, "Expected the seed buffer's length to be a multiple of " +
                                         std::to_string(sizeof(SeedRecord)) + ", got " + std::to_string(buffer.ByteLength()));
  const auto* records = static_cast<const SeedRecord*>(buffer.Data());
  return Napi::Number::New(env, session_.SeedOwners(records, buffer.ByteLength() / sizeof(SeedRecord)));
}

Napi::Value Tracer::CountSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded() || stop_.load()) throw Napi::Error::New(env, "countSockets() needs a started, running Tracer");
  if (!session_.counter_ready()) throw Napi::Error::New(env, "the socket counter is not available on this kernel (see the start notes)");
  SocketCounts counted = session_.CountSockets(ReadNamespaces(env, info.Length() > 0 ? info[0] : env.Undefined()));
  Napi::Array counts = Napi::Array::New(env, counted.counts.size());
  for (uint32_t i = 0; i < counted.counts.size(); i++) {
    const SocketCount& c = counted.counts[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("pid", Napi::Number::New(env, c.pid));
    o.Set("state", Napi::Number::New(env, c.state));
    o.Set("queued", Napi::Boolean::New(env, c.queued));
    o.Set("count", Napi::Number::New(env, static_cast<double>(c.count)));
    // The kernel's bytes: the caller escapes them like every name from the kernel.
    o.Set("comm", Napi::Buffer<char>::Copy(env, c.comm, strnlen(c.comm, sizeof(c.comm))));
    counts.Set(i, o);
  }
  Napi::Array errors = Napi::Array::New(env, counted.errors.size());
  for (uint32_t i = 0; i < counted.errors.size(); i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("path", counted.errors[i].first);
    e.Set("message", counted.errors[i].second);
    errors.Set(i, e);
  }
  Napi::Array queues = Napi::Array::New(env, counted.listen_queues.size());
  for (uint32_t i = 0; i < counted.listen_queues.size(); i++) {
    const ListenQueue& q = counted.listen_queues[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("pid", Napi::Number::New(env, q.pid));
    o.Set("netns", Napi::Number::New(env, q.netns));
    o.Set("port", Napi::Number::New(env, q.port));
    o.Set("family", Napi::Number::New(env, q.family));
    o.Set("addr", Napi::Buffer<unsigned char>::Copy(env, q.addr, q.family == AF_INET ? 4 : 16));
    o.Set("queue", Napi::Number::New(env, q.queue));
    o.Set("limit", Napi::Number::New(env, q.limit));
    o.Set("listeners", Napi::Number::New(env, q.listeners));
    o.Set("drops", Napi::Number::New(env, q.drops));
    o.Set("comm", Napi::Buffer<char>::Copy(env, q.comm, strnlen(q.comm, sizeof(q.comm))));
    queues.Set(i, o);
  }
  Napi::Array refused = Napi::Array::New(env, counted.refused_acks.size());
  for (uint32_t i = 0; i < counted.refused_acks.size(); i++) {
    const RefusedAcks& r = counted.refused_acks[i];
    size_t len = r.key.family == AF_INET ? 4 : 16;
    Napi::Object o = Napi::Object::New(env);
    o.Set("netns", Napi::Number::New(env, r.key.netns));
    o.Set("port", Napi::Number::New(env, r.key.port));
    o.Set("family", Napi::Number::New(env, r.key.family));
    o.Set("local", Napi::Buffer<unsigned char>::Copy(env, r.key.local, len));
    o.Set("peer", Napi::Buffer<unsigned char>::Copy(env, r.key.peer, len));
    o.Set("count", Napi::Number::New(env, static_cast<double>(r.count)));
    refused.Set(i, o);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("counts", counts);
  result.Set("listenQueues", queues);
  result.Set("refusedAcks", refused);
  result.Set("errors", errors);
  return result;
}

Napi::Value Tracer::ExchangeTimings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded() || stop_.load()) throw Napi::Error::New(env, "exchangeTimings() needs a started, running Tracer");
  std::vector<TimingRow> timings = session_.Timings();
  Napi::Array rows = Napi::Array::New(env, timings.size());
  for (uint32_t i = 0; i < timings.size(); i++) {
    const TimingRow& t = timings[i];
    Napi::Object o = Napi::Object::New(env);
    // The key as the kernel has it, to hand back to forgetExchangeTimings().
    o.Set("key", Napi::Buffer<char>::Copy(env, reinterpret_cast<const char*>(&t.key), sizeof(t.key)));
    o.Set("netns", Napi::Number::New(env, t.key.netns));
    o.Set("port", Napi::Number::New(env, t.key.port));
    o.Set("family", Napi::Number::New(env, t.key.family));
    o.Set("peer", Napi::Buffer<unsigned char>::Copy(env, t.key.peer, t.key.family == AF_INET ? 4 : 16));
    o.Set("kind", Napi::Number::New(env, t.key.kind));
    Napi::ArrayBuffer counts = Napi::ArrayBuffer::New(env, sizeof(t.counts.buckets));
    memcpy(counts.Data(), t.counts.buckets, sizeof(t.counts.buckets));
    o.Set("buckets", Napi::Uint32Array::New(env, SOCKTRACE_TIMING_BUCKETS, counts, 0));
    rows.Set(i, o);
  }
  TimingMisses m = session_.TimingMissCounts();
  Napi::Object misses = Napi::Object::New(env);
  misses.Set("peer", Napi::Number::New(env, static_cast<double>(m.peer)));
  misses.Set("lost", Napi::Number::New(env, static_cast<double>(m.lost)));
  misses.Set("late", Napi::Number::New(env, static_cast<double>(m.late)));
  Napi::Object result = Napi::Object::New(env);
  result.Set("rows", rows);
  result.Set("misses", misses);
  return result;
}

Napi::Value Tracer::ForgetExchangeTimings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded() || stop_.load()) throw Napi::Error::New(env, "forgetExchangeTimings() needs a started, running Tracer");
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "Expected first argument to be an array of keys (Buffers)");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<socktrace_timing_key> keys;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsBuffer() || v.As<Napi::Buffer<char>>().Length() != sizeof(socktrace_timing_key))
      throw Napi::TypeError::New(env, "Expected each key to be a " + std::to_string(sizeof(socktrace_timing_key)) + "-byte Buffer from exchangeTimings()");
    socktrace_timing_key k;
    memcpy(&k, v.As<Napi::Buffer<char>>().Data(), sizeof(k));
    keys.push_back(k);
  }
  return Napi::Number::New(env, session_.ForgetTimingKeys(keys));
}

Napi::Value Tracer::SetOnDemandHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded() || stop_.load()) throw Napi::Error::New(env, "setOnDemandHook() needs a started, running Tracer");
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean())
    throw Napi::TypeError::New(env, "Expected arguments to be a hook name (string) and on (boolean)");
  return Napi::Boolean::New(env, session_.SetOnDemand(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>().Value()));
}

Napi::Value Tracer::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded() || stop_.load()) throw Napi::Error::New(env, "setFilter() needs a started, running Tracer");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected first argument to be { emitKinds, emitStates }");
  Napi::Object o = info[0].As<Napi::Object>();
  session_.SetEmitKinds(ReadUint(o, "emitKinds", session_.emit_kinds(), 0, 0xffffffffu));
  session_.SetEmitStates(ReadUint(o, "emitStates", session_.emit_states(), 0, 0xffffffffu));
  return env.Undefined();
}

Napi::Value Tracer::Transitions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded()) throw Napi::Error::New(env, "transitions() needs a started Tracer");
  std::vector<uint64_t> transitions = session_.Transitions();
  Napi::Array counts = Napi::Array::New(env, transitions.size());
  for (uint32_t state = 0; state < transitions.size(); state++)
    counts.Set(state, Napi::Number::New(env, static_cast<double>(transitions[state])));
  return counts;
}

Napi::Value Tracer::OwnerEvictions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded()) throw Napi::Error::New(env, "ownerEvictions() needs a started Tracer");
  return Napi::Number::New(env, static_cast<double>(session_.OwnerEvictions()));
}

Napi::Value Tracer::SkippedRuns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_.loaded()) throw Napi::Error::New(env, "skippedRuns() needs a started Tracer");
  return Napi::Number::New(env, static_cast<double>(session_.SkippedRuns()));
}

Napi::Value Tracer::SweepStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CloseWaitSweep& sweep = session_.sweep();
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("runs", Napi::Number::New(env, static_cast<double>(sweep.runs())));
  stats.Set("failures", Napi::Number::New(env, static_cast<double>(sweep.failures())));
  stats.Set("seconds", Napi::Number::New(env, static_cast<double>(sweep.nanos()) / 1e9));
  stats.Set("entriesVisited", Napi::Number::New(env, static_cast<double>(sweep.visited())));
  stats.Set("entries", Napi::Number::New(env, sweep.entries()));
  return stats;
}

void Tracer::OnEnvTeardown(Tracer* self) {
  // The environment is going away without stop(): wake a thread blocked on a full queue, then wait.
  self->cleanup_ = {};
  self->stop_.store(true);
  self->turns_.Open();
  if (self->thread_.joinable()) {
    self->batches_.Abort();
    self->JoinThread();
  }
  self->session_.Destroy();
}

void DeliverBatchToJs(Napi::Env env, Napi::Function on_batch, Tracer*, Batch* batch) {
  if (env == nullptr || on_batch.IsEmpty()) {  // torn down: only free the data
    delete batch;
    return;
  }
  // What a batch crosses with: the addon's lines (the records left to JS copied out) or its records.
  // Either way zero-copy: the ArrayBuffer owns the batch and frees it when collected.
  std::string* text = batch->lines ? &batch->lines->text : nullptr;
  uint8_t* data = text ? reinterpret_cast<uint8_t*>(text->data()) : batch->bytes.data();
  size_t bytes = text ? text->size() : batch->bytes.size();
  Napi::ArrayBuffer buffer = bytes == 0 ? Napi::ArrayBuffer::New(env, 0)
                                        : Napi::ArrayBuffer::New(env, data, bytes, [](Napi::Env, void*, Batch* owned) { delete owned; }, batch);
  Napi::Object meta = Napi::Object::New(env);
  meta.Set("records", Napi::Number::New(env, batch->records));
  meta.Set("lostTotal", Napi::Number::New(env, static_cast<double>(batch->lost_total)));
  meta.Set("submittedTotal", Napi::Number::New(env, static_cast<double>(batch->submitted_total)));
  meta.Set("malformedTotal", Napi::Number::New(env, static_cast<double>(batch->malformed_total)));
  meta.Set("final", Napi::Boolean::New(env, batch->final));
  if (!batch->error.empty()) meta.Set("error", batch->error);
  if (batch->lines) meta.Set("lines", LinesToJs(env, *batch->lines));
  if (bytes == 0) delete batch;
  on_batch.Call({buffer, meta});
}

Napi::Value Tracer::SetLinePlacement(const Napi::CallbackInfo& info) {
  if (!lines_) throw Napi::Error::New(info.Env(), "setLinePlacement() needs a Tracer made with options.lines");
  ReadPlacement(info, 0, lines_.get());
  return info.Env().Undefined();
}

}  // namespace socktrace
