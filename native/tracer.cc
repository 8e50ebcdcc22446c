#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "errors.h"
#include "hook_table.h"
#include "kernel_enums.h"
#include "inventory.h"
#include "owner_seeding.h"
#include "socktrace.skel.h"
#include "socktrace_event.h"
#include "tracefs.h"

namespace socktrace {

namespace {

// The verifier gives up with EAGAIN when a signal is pending, and a profiler's SIGPROF (node --cpu-prof)
// or any timer arrives far more often than the programs take to verify. Signals are held for the load
// and delivered right after it.
int LoadWithSignalsHeld(socktrace_bpf* skel) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  int err = socktrace_bpf__load(skel);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return err;
}

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

// One u64 slot of a per-CPU array, summed over the CPUs (0 if it cannot be read).
uint64_t SumPerCpu(const bpf_map* map, uint32_t key) {
  int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(cpus > 0 ? cpus : 1);
  uint64_t total = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(map), &key, per_cpu.data()) == 0)
    for (uint64_t v : per_cpu) total += v;
  return total;
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
                      InstanceMethod<&Tracer::CountSockets>("countSockets")});
}

Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Expected first argument to be an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    options_.ring_bytes = ReadUint(o, "ringBytes", options_.ring_bytes, 4096, 1u << 30);
    long page = sysconf(_SC_PAGESIZE);
    if ((options_.ring_bytes & (options_.ring_bytes - 1)) != 0 || options_.ring_bytes % page != 0) {
      throw Napi::RangeError::New(env, "Expected options.ringBytes to be a power of two and a multiple of the page size (" +
                                           std::to_string(page) + "), got " + std::to_string(options_.ring_bytes));
    }
    options_.owner_entries = ReadUint(o, "ownerEntries", options_.owner_entries, 1024, 1u << 24);
    options_.seed_entries = ReadUint(o, "seedEntries", options_.seed_entries, 1024, 1u << 24);
    options_.max_batch_records = ReadUint(o, "maxBatchRecords", options_.max_batch_records, 1, 1u << 20);
    options_.poll_millis = ReadUint(o, "pollMillis", options_.poll_millis, 1, 1000);
    options_.wakeup_bytes = ReadUint(o, "wakeupBytes", 0, 0, 1u << 30);
    options_.emit_kinds = ReadUint(o, "emitKinds", options_.emit_kinds, 0, 0xffffffffu);
    options_.emit_states = ReadUint(o, "emitStates", options_.emit_states, 0, 0xffffffffu);
    options_.close_wait_delay_ms = ReadUint(o, "closeWaitDelayMs", options_.close_wait_delay_ms, 0, 3600000);
    Napi::Value closers = o.Get("rememberClosers");
    if (!closers.IsUndefined()) {
      if (!closers.IsBoolean()) throw Napi::TypeError::New(env, "Expected options.rememberClosers to be a boolean");
      options_.remember_closers = closers.As<Napi::Boolean>().Value();
    }
    Napi::Value hooks = o.Get("hooks");
    if (!hooks.IsUndefined()) {
      std::string h = hooks.IsString() ? hooks.As<Napi::String>().Utf8Value() : "";
      if (h == "auto") options_.preference = HookPreference::kAuto;
      else if (h == "classic") options_.preference = HookPreference::kClassicOnly;
      else throw Napi::TypeError::New(env, "Expected options.hooks to be \"auto\" or \"classic\"");
    }
    ReadNames(o, "pretendMissing", &options_.pretend_missing);
    ReadNames(o, "disabledHooks", &options_.disabled_hooks);
  }
  cleanup_ = env.AddCleanupHook(&Tracer::OnEnvTeardown, this);
}

Tracer::~Tracer() {
  if (!cleanup_.IsEmpty()) cleanup_.Remove(Env());
  stop_.store(true);
  JoinThread();
  DestroyBpf();
}

void Tracer::Load(Napi::Env env, std::vector<std::string>* notes) {
  HookPreference preference = options_.preference;
  std::string tracefs_note;
  std::string tracefs = EnsureTracefs(&tracefs_note);
  if (!tracefs_note.empty()) notes->push_back(tracefs_note);

  // The kernel's BTF, parsed once for planning (a few MB; null without BTF: classic tracepoints only).
  std::unique_ptr<btf, void (*)(btf*)> vmlinux(btf__load_vmlinux_btf(), btf__free);
  if (libbpf_get_error(vmlinux.get())) vmlinux.release();
  const KernelGaps gaps = KernelGapsOf(vmlinux.get(), tracefs, options_.pretend_missing);

  // The sweep is one program (it needs bpf_loop, 5.17+): if it alone keeps the object from loading,
  // CLOSE_WAIT crosses live.
  bool sweep = options_.close_wait_delay_ms > 0;
  // The socket counter is a tcp iterator (BTF, 5.9+): if it alone keeps the object from loading, the
  // daemon's gauges come from its events and inventories instead.
  bool counter = vmlinux != nullptr;
  for (int attempt = 0; attempt < 4; attempt++) {
    skel_ = socktrace_bpf__open();
    if (skel_ == nullptr) throw ErrnoError(env, "opening the BPF object", errno);

    uint64_t salt = 0;
    if (getrandom(&salt, sizeof(salt), 0) != sizeof(salt)) salt = reinterpret_cast<uintptr_t>(this);
    skel_->rodata->id_salt = salt;
    long ticks = sysconf(_SC_CLK_TCK);  // process start times compare in /proc's unit (seeds come from there)
    skel_->rodata->ns_per_tick = 1000000000ull / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
    bpf_map__set_max_entries(skel_->maps.events, options_.ring_bytes);
    // The owner table holds two ways per set: round up to a power of two of sets.
    uint32_t set_bits = 1;
    while ((2u << set_bits) < options_.owner_entries) set_bits++;
    skel_->rodata->owner_set_bits = set_bits;
    bpf_map__set_max_entries(skel_->maps.owner_slots, 2u << set_bits);
    bpf_map__set_max_entries(skel_->maps.close_waits, 2u << set_bits);
    bpf_map__set_max_entries(skel_->maps.seeded_owners, options_.seed_entries);

    plan_ = PlanHooks(HookSpecs(skel_, gaps), preference, vmlinux.get(), tracefs, options_.pretend_missing,
                      options_.disabled_hooks);
    if (const HookChoice* missing = MissingRequiredHook(plan_)) {
      DestroyBpf();
      Napi::Error e = Napi::Error::New(env, "socktrace: the kernel offers no way to attach to " + missing->name +
                                                " (" + missing->why + "); `socktrace doctor` shows what is there");
      e.Set("code", Napi::String::New(env, "ENOENT"));
      throw e;
    }

    // With the drop fallback attached, RSTs sent without a socket are its alone (see on_send_reset).
    for (const HookChoice& c : plan_) {
      if (c.name == "kfree_skb") skel_->rodata->no_socket_rst_from_drops = c.mode != HookMode::kMissing;
    }
    // Cookie ids need a tp_btf state-change hook to generate each socket's cookie early (see sock_id).
    bool btf_state_hook = plan_.front().mode == HookMode::kTpBtf;
    skel_->rodata->cookie_ids = btf_state_hook;
    // Deferral needs cookies from the start (the sweep checks a socket by its cookie): tp_btf.
    bool sweep_loaded = sweep && btf_state_hook;
    bpf_program__set_autoload(skel_->progs.sweep_close_waits, sweep_loaded);
    bpf_program__set_autoload(skel_->progs.count_sockets, counter);
    int err = LoadWithSignalsHeld(skel_);
    if (err == 0) return;
    bool used_btf = false;
    for (const HookChoice& c : plan_) used_btf = used_btf || c.mode == HookMode::kTpBtf;
    DestroyBpf();
    if (counter && err != -EPERM && err != -EACCES) {
      notes->push_back("the socket counter (tcp iterator) failed to load (" + ErrnoName(-err) + "); gauges come from events and inventories");
      counter = false;
      continue;
    }
    if (sweep_loaded && err != -EPERM && err != -EACCES) {
      notes->push_back("the CLOSE_WAIT sweep failed to load (" + ErrnoName(-err) + "); CLOSE_WAIT changes cross as they happen");
      sweep = false;
      continue;
    }
    if (preference != HookPreference::kClassicOnly && used_btf && err != -EPERM && err != -EACCES) {
      notes->push_back("tp_btf programs failed to load (" + ErrnoName(-err) + "); using classic tracepoints");
      preference = HookPreference::kClassicOnly;
      continue;
    }
    throw ErrnoError(env, "loading the BPF programs", -err);
  }
  throw Napi::Error::New(env, "socktrace: the BPF programs failed to load in every configuration");
}

void Tracer::Attach(Napi::Env env) {
  for (HookChoice& choice : plan_) {
    if (choice.prog == nullptr) continue;
    bpf_link* link = bpf_program__attach(choice.prog);
    long err = libbpf_get_error(link);
    if (err != 0) {
      if (!choice.required) {
        choice.why = "attach failed: " + ErrnoName(static_cast<int>(-err));
        choice.mode = HookMode::kMissing;
        continue;
      }
      DestroyBpf();
      throw ErrnoError(env, "attaching to " + choice.name, static_cast<int>(-err));
    }
    links_.push_back(link);
  }
}

void Tracer::StartSweep(std::vector<std::string>* notes) {
  if (options_.close_wait_delay_ms == 0 || !bpf_program__autoload(skel_->progs.sweep_close_waits)) return;
  int err = sweep_.Prepare(skel_->progs.sweep_close_waits, bpf_map__max_entries(skel_->maps.close_waits));
  if (err != 0) {
    notes->push_back("the CLOSE_WAIT sweep cannot run here (test run of a raw tracepoint program: " + ErrnoName(-err) +
                     "); CLOSE_WAIT changes cross as they happen");
    return;
  }
  close_wait_delay_ms_ = options_.close_wait_delay_ms;
  skel_->bss->close_wait_delay_ns = static_cast<uint64_t>(close_wait_delay_ms_) * 1000000ull;
}

bool Tracer::HookAttached(const char* name) const {
  for (const HookChoice& c : plan_)
    if (c.name == name) return c.mode != HookMode::kMissing;
  return false;
}

void Tracer::DetachAll() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
}

void Tracer::DestroyBpf() {
  DetachAll();
  counter_.Release();
  consumer_.reset();
  if (skel_ != nullptr) socktrace_bpf__destroy(skel_);
  skel_ = nullptr;
}

void Tracer::JoinThread() {
  if (thread_.joinable()) thread_.join();
}

Napi::Object Tracer::Describe(Napi::Env env, const std::vector<std::string>& notes) {
  Napi::Object info = Napi::Object::New(env);
  Napi::Array hooks = Napi::Array::New(env);
  uint32_t i = 0;
  for (const HookChoice& c : plan_) {
    Napi::Object h = Napi::Object::New(env);
    h.Set("name", c.name);
    h.Set("mode", HookModeName(c.mode));
    h.Set("why", c.why);
    hooks.Set(i++, h);
  }
  info.Set("hooks", hooks);
  Napi::Array note_list = Napi::Array::New(env);
  for (uint32_t n = 0; n < notes.size(); n++) note_list.Set(n, notes[n]);
  info.Set("notes", note_list);
  info.Set("ringBytes", Napi::Number::New(env, options_.ring_bytes));
  info.Set("ownerEntries", Napi::Number::New(env, bpf_map__max_entries(skel_->maps.owner_slots)));
  info.Set("closeWaitDelayMs", Napi::Number::New(env, close_wait_delay_ms_));
  info.Set("abi", Napi::Number::New(env, skel_->rodata->socktrace_abi));
  info.Set("recordSize", Napi::Number::New(env, skel_->rodata->socktrace_record_size));
  Napi::Array reasons = Napi::Array::New(env);
  std::vector<std::string> names = KernelEnumNames("sk_rst_reason", "SK_RST_REASON_");
  for (uint32_t r = 0; r < names.size(); r++) reasons.Set(r, names[r]);
  info.Set("rstReasons", reasons);
  return info;
}

Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw Napi::Error::New(env, "socktrace: this Tracer was already started; create a new one");
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(env, "Expected first argument to be the batch callback (a function)");
  started_ = true;

  std::vector<std::string> notes;
  Load(env, &notes);
  if (skel_->rodata->socktrace_record_size != sizeof(socktrace_event) ||
      skel_->rodata->socktrace_abi != SOCKTRACE_ABI_VERSION) {
    std::string msg = "socktrace: the BPF object's record (ABI " + std::to_string(skel_->rodata->socktrace_abi) +
                      ", " + std::to_string(skel_->rodata->socktrace_record_size) + " bytes) differs from the addon's (ABI " +
                      std::to_string(SOCKTRACE_ABI_VERSION) + ", " + std::to_string(sizeof(socktrace_event)) + " bytes)";
    DestroyBpf();
    throw Napi::Error::New(env, msg);
  }
  // .data and .bss are shared with the programs: what crosses the ring can change while they run.
  skel_->data->emit_kinds = options_.emit_kinds;
  skel_->data->emit_states = options_.emit_states;
  skel_->data->remember_closers = options_.remember_closers;
  // Each CPU counts its own submits (cheaper than asking the ring how much waits), so the threshold is
  // shared out: all CPUs together never leave more than it unannounced.
  uint64_t wakeup = options_.wakeup_bytes ? options_.wakeup_bytes : options_.ring_bytes / 8;
  int cpus = libbpf_num_possible_cpus();
  skel_->bss->wakeup_bytes_per_cpu = std::max<uint64_t>(sizeof(socktrace_event), wakeup / (cpus > 0 ? cpus : 1));
  StartSweep(&notes);  // before the hooks, so no CLOSE_WAIT is deferred without a sweep to report it
  // Without tcp_destroy_sock, owner entries end at the change to CLOSE (see owners_end_at_close).
  skel_->bss->owners_end_at_close = !HookAttached("tcp_destroy_sock");
  Attach(env);
  skel_->bss->owners_end_at_close = !HookAttached("tcp_destroy_sock");
  int counter_err = counter_.Prepare(skel_);
  if (counter_err != 0 && counter_err != -ENOENT)
    notes.push_back("the socket counter (tcp iterator) cannot attach (" + ErrnoName(-counter_err) + "); gauges come from events and inventories");

  consumer_.reset(new BatchConsumer(
      bpf_map__fd(skel_->maps.events), bpf_map__fd(skel_->maps.ring_stats), options_.max_batch_records,
      static_cast<int>(options_.poll_millis),
      [this](std::unique_ptr<Batch> batch) {
        turns_.WaitForTurn();
        Batch* raw = batch.release();
        if (batches_.BlockingCall(raw) != napi_ok) {
          delete raw;
          return false;
        }
        return true;
      },
      [this]() { DetachAll(); }));
  if (close_wait_delay_ms_ > 0) {
    // Reports are made between one and two delays after a socket entered CLOSE_WAIT.
    consumer_->SetTick([this]() { sweep_.Run(); }, static_cast<int>(std::max<uint32_t>(close_wait_delay_ms_, 100)));
  }
  int err = consumer_->Open();
  if (err != 0) {
    DestroyBpf();
    throw ErrnoError(env, "opening the ring buffer", -err);
  }

  Napi::Object description = Describe(env, notes);
  batches_ = BatchFunction::New(env, info[0].As<Napi::Function>(), "socktrace-batches", kMaxQueuedBatches, 1, this,
                                [](Napi::Env, void*, Tracer* self) {
                                  // All batches were handed over and the thread released us: it is ending.
                                  self->JoinThread();
                                  if (self->turn_watch_ != nullptr) self->turn_watch_->Stop();
                                  self->turn_watch_ = nullptr;
                                  self->DestroyBpf();
                                  self->Unref();
                                });
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  turn_watch_ = LoopTurnWatch::Start(loop, &turns_);
  Ref();  // kept alive while the thread runs; the finalizer above lets go
  thread_ = std::thread([this]() {
    consumer_->Run(stop_, paused_);
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
    throw Napi::TypeError::New(info.Env(), "socktrace: pause(paused) expects a boolean");
  }
  paused_.store(info[0].As<Napi::Boolean>().Value(), std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value Tracer::SeedOwners(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr || stop_.load()) throw Napi::Error::New(env, "socktrace: seedOwners() needs a started, running Tracer");
  if (info.Length() < 1 || !info[0].IsArrayBuffer())
    throw Napi::TypeError::New(env, "Expected first argument to be an ArrayBuffer of " + std::to_string(sizeof(SeedRecord)) +
                                        "-byte seed records");
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  if (buffer.ByteLength() % sizeof(SeedRecord) != 0)
    throw Napi::RangeError::New(env, "Expected the seed buffer's length to be a multiple of " +
                                         std::to_string(sizeof(SeedRecord)) + ", got " + std::to_string(buffer.ByteLength()));
  const auto* records = static_cast<const SeedRecord*>(buffer.Data());
  return Napi::Number::New(env, SeedOwnerMaps(skel_, records, buffer.ByteLength() / sizeof(SeedRecord)));
}

Napi::Value Tracer::CountSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr || stop_.load()) throw Napi::Error::New(env, "socktrace: countSockets() needs a started, running Tracer");
  if (!counter_.ready()) throw Napi::Error::New(env, "socktrace: the socket counter is not available on this kernel (see the start notes)");
  SocketCounts counted = counter_.Count(ReadNamespaces(env, info.Length() > 0 ? info[0] : env.Undefined()));
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
  Napi::Object result = Napi::Object::New(env);
  result.Set("counts", counts);
  result.Set("errors", errors);
  return result;
}

Napi::Value Tracer::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr || stop_.load()) throw Napi::Error::New(env, "socktrace: setFilter() needs a started, running Tracer");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected first argument to be { emitKinds, emitStates }");
  Napi::Object o = info[0].As<Napi::Object>();
  skel_->data->emit_kinds = ReadUint(o, "emitKinds", skel_->data->emit_kinds, 0, 0xffffffffu);
  skel_->data->emit_states = ReadUint(o, "emitStates", skel_->data->emit_states, 0, 0xffffffffu);
  return env.Undefined();
}

Napi::Value Tracer::Transitions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "socktrace: transitions() needs a started Tracer");
  Napi::Array counts = Napi::Array::New(env, SOCKTRACE_TRANSITION_SLOTS);
  for (uint32_t state = 0; state < SOCKTRACE_TRANSITION_SLOTS; state++)
    counts.Set(state, Napi::Number::New(env, static_cast<double>(SumPerCpu(skel_->maps.transitions, state))));
  return counts;
}

Napi::Value Tracer::OwnerEvictions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "socktrace: ownerEvictions() needs a started Tracer");
  return Napi::Number::New(env, static_cast<double>(SumPerCpu(skel_->maps.owner_evictions, 0)));
}

// A program the kernel did not run because another BPF program was running on the CPU (a softirq
// interrupting one, say) wrote no event: the kernel counts these per program (recursion_misses; for
// classic tracepoint programs only since 6.7), and they are lost events like ring drops.
Napi::Value Tracer::SkippedRuns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "socktrace: skippedRuns() needs a started Tracer");
  uint64_t total = 0;
  for (const HookChoice& c : plan_) {
    if (c.prog == nullptr) continue;
    bpf_prog_info prog_info = {};
    uint32_t len = sizeof(prog_info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(c.prog), &prog_info, &len) == 0) total += prog_info.recursion_misses;
  }
  return Napi::Number::New(env, static_cast<double>(total));
}

Napi::Value Tracer::SweepStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("runs", Napi::Number::New(env, static_cast<double>(sweep_.runs())));
  stats.Set("failures", Napi::Number::New(env, static_cast<double>(sweep_.failures())));
  stats.Set("seconds", Napi::Number::New(env, static_cast<double>(sweep_.nanos()) / 1e9));
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
  self->DestroyBpf();
}

void DeliverBatchToJs(Napi::Env env, Napi::Function on_batch, Tracer*, Batch* batch) {
  if (env == nullptr || on_batch.IsEmpty()) {  // torn down: only free the data
    delete batch;
    return;
  }
  Napi::ArrayBuffer buffer;
  size_t bytes = batch->bytes.size();
  if (bytes == 0) {
    buffer = Napi::ArrayBuffer::New(env, 0);
  } else {
    // Zero-copy: the ArrayBuffer owns the batch and frees it when collected.
    buffer = Napi::ArrayBuffer::New(env, batch->bytes.data(), bytes,
                                    [](Napi::Env, void*, Batch* owned) { delete owned; }, batch);
  }
  Napi::Object meta = Napi::Object::New(env);
  meta.Set("records", Napi::Number::New(env, batch->records));
  meta.Set("lostTotal", Napi::Number::New(env, static_cast<double>(batch->lost_total)));
  meta.Set("submittedTotal", Napi::Number::New(env, static_cast<double>(batch->submitted_total)));
  meta.Set("malformedTotal", Napi::Number::New(env, static_cast<double>(batch->malformed_total)));
  meta.Set("final", Napi::Boolean::New(env, batch->final));
  if (!batch->error.empty()) meta.Set("error", batch->error);
  if (bytes == 0) delete batch;
  on_batch.Call({buffer, meta});
}

}  // namespace socktrace
