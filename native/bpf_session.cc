#include "bpf_session.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "errors.h"
#include "hook_table.h"
#include "kernel_enums.h"
#include "socktrace.skel.h"
#include "socktrace_event.h"
#include "tracefs.h"

// The session is plain C++ (the binding is tracer.cc): nothing it includes may bring in Napi.
#ifdef SRC_NAPI_H_
#error "bpf_session.cc must not depend on napi.h"
#endif

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

void BpfSession::Load(std::vector<std::string>* notes) {
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
    if (skel_ == nullptr) throw ErrnoError("opening the BPF object", errno);

    uint64_t salt = 0;
    if (getrandom(&salt, sizeof(salt), 0) != sizeof(salt)) salt = reinterpret_cast<uintptr_t>(this);
    skel_->rodata->id_salt = salt;
    skel_->rodata->learn_accepted = options_.learn_accepted;
    skel_->rodata->measure_exchanges = options_.measure_exchanges;
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
    // Without rememberClosers nothing is ever written there: do not allocate its 65,536 entries.
    if (!options_.remember_closers) bpf_map__set_max_entries(skel_->maps.former_owners, 1);

    plan_ = PlanHooks(HookSpecs(skel_, gaps), preference, vmlinux.get(), tracefs, options_.pretend_missing,
                      options_.disabled_hooks);
    if (const HookChoice* missing = MissingRequiredHook(plan_)) {
      std::string message = "the kernel offers no way to attach to " + missing->name + " (" +
                            missing->why + "); `socktrace doctor` shows what is there";
      Destroy();
      throw NativeError(message, "ENOENT");
    }

    // With the drop fallback standing in, RSTs sent without a socket are its alone (see on_send_reset).
    // Attached only to name refused clients (tcp_send_reset whole), it leaves them to tcp_send_reset.
    bool send_reset_whole = !gaps.send_reset_needs_socket;
    for (const HookChoice& c : plan_) {
      if (c.name == "tcp_send_reset" && c.mode == HookMode::kMissing) send_reset_whole = false;
    }
    for (const HookChoice& c : plan_) {
      if (c.name == "kfree_skb") skel_->rodata->no_socket_rst_from_drops = c.mode != HookMode::kMissing && !send_reset_whole;
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
    Destroy();
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
    throw ErrnoError("loading the BPF programs", -err);
  }
  throw NativeError("the BPF programs failed to load in every configuration");
}

void BpfSession::Attach() {
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
      Destroy();
      throw ErrnoError("attaching to " + choice.name, static_cast<int>(-err));
    }
    if (choice.on_demand) {
      bpf_link__destroy(link);  // it attaches: user space attaches it again when it is needed
      continue;
    }
    links_.push_back(link);
  }
}

bool BpfSession::SetOnDemand(const std::string& name, bool on) {
  for (const HookChoice& choice : plan_) {
    if (choice.name != name || !choice.on_demand || choice.prog == nullptr || choice.mode == HookMode::kMissing) continue;
    auto held = on_demand_links_.find(name);
    if (!on) {
      if (held != on_demand_links_.end()) {
        bpf_link__destroy(held->second);
        on_demand_links_.erase(held);
      }
      return true;
    }
    if (held != on_demand_links_.end()) return true;
    bpf_link* link = bpf_program__attach(choice.prog);
    if (libbpf_get_error(link) != 0) return false;
    on_demand_links_[name] = link;
    return true;
  }
  return false;
}

void BpfSession::StartSweep(std::vector<std::string>* notes) {
  if (options_.close_wait_delay_ms == 0 || !bpf_program__autoload(skel_->progs.sweep_close_waits)) return;
  int err = sweep_.Prepare(skel_->progs.sweep_close_waits, bpf_map__max_entries(skel_->maps.close_waits), skel_->bss->close_wait_pending);
  if (err != 0) {
    notes->push_back("the CLOSE_WAIT sweep cannot run here (test run of a raw tracepoint program: " + ErrnoName(-err) +
                     "); CLOSE_WAIT changes cross as they happen");
    return;
  }
  close_wait_delay_ms_ = options_.close_wait_delay_ms;
  skel_->bss->close_wait_delay_ns = static_cast<uint64_t>(close_wait_delay_ms_) * 1000000ull;
}

bool BpfSession::HookAttached(const char* name) const {
  for (const HookChoice& c : plan_)
    if (c.name == name) return c.mode != HookMode::kMissing;
  return false;
}

void BpfSession::DetachAll() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
  for (auto& [name, link] : on_demand_links_) bpf_link__destroy(link);
  on_demand_links_.clear();
}

void BpfSession::Destroy() {
  DetachAll();
  counter_.Release();
  consumer_.reset();
  if (skel_ != nullptr) socktrace_bpf__destroy(skel_);
  skel_ = nullptr;
}

SessionDescription BpfSession::Describe(std::vector<std::string> notes) const {
  SessionDescription d;
  d.hooks = plan_;
  d.notes = std::move(notes);
  d.ring_bytes = options_.ring_bytes;
  d.owner_entries = bpf_map__max_entries(skel_->maps.owner_slots);
  d.close_wait_delay_ms = close_wait_delay_ms_;
  d.abi = skel_->rodata->socktrace_abi;
  d.record_size = skel_->rodata->socktrace_record_size;
  d.rst_reasons = KernelEnumNames("sk_rst_reason", "SK_RST_REASON_");
  return d;
}

SessionDescription BpfSession::Start(BatchConsumer::Deliver deliver) {
  std::vector<std::string> notes;
  Load(&notes);
  if (skel_->rodata->socktrace_record_size != sizeof(socktrace_event) ||
      skel_->rodata->socktrace_abi != SOCKTRACE_ABI_VERSION) {
    std::string msg = "the BPF object's record (ABI " + std::to_string(skel_->rodata->socktrace_abi) +
                      ", " + std::to_string(skel_->rodata->socktrace_record_size) + " bytes) differs from the addon's (ABI " +
                      std::to_string(SOCKTRACE_ABI_VERSION) + ", " + std::to_string(sizeof(socktrace_event)) + " bytes)";
    Destroy();
    throw NativeError(msg);
  }
  // .data and .bss are shared with the programs: what crosses the ring can change while they run.
  skel_->data->emit_kinds = options_.emit_kinds;
  skel_->data->emit_states = options_.emit_states;
  // Before attach: not one unwanted event crosses before the match is in place.
  skel_->bss->match_fields = WriteMatch(skel_, options_.match);
  skel_->data->remember_closers = options_.remember_closers;
  // Each CPU counts its own submits (cheaper than asking the ring how much waits), so the threshold is
  // shared out: all CPUs together never leave more than it unannounced.
  uint64_t wakeup = options_.wakeup_bytes ? options_.wakeup_bytes : options_.ring_bytes / 8;
  int cpus = libbpf_num_possible_cpus();
  skel_->bss->wakeup_bytes_per_cpu = std::max<uint64_t>(sizeof(socktrace_event), wakeup / (cpus > 0 ? cpus : 1));
  StartSweep(&notes);  // before the hooks, so no CLOSE_WAIT is deferred without a sweep to report it
  // Without tcp_destroy_sock, owner entries end at the change to CLOSE (see owners_end_at_close).
  skel_->bss->owners_end_at_close = !HookAttached("tcp_destroy_sock");
  Attach();
  skel_->bss->owners_end_at_close = !HookAttached("tcp_destroy_sock");
  int counter_err = counter_.Prepare(skel_);
  if (counter_err != 0 && counter_err != -ENOENT)
    notes.push_back("the socket counter (tcp iterator) cannot attach (" + ErrnoName(-counter_err) + "); gauges come from events and inventories");

  consumer_.reset(new BatchConsumer(bpf_map__fd(skel_->maps.events), bpf_map__fd(skel_->maps.ring_stats),
                                    options_.max_batch_records, static_cast<int>(options_.poll_millis),
                                    std::move(deliver), [this]() { DetachAll(); }));
  if (close_wait_delay_ms_ > 0) {
    // Reports are made between one and two delays after a socket entered CLOSE_WAIT.
    consumer_->SetTick([this]() { sweep_.Run(); }, static_cast<int>(std::max<uint32_t>(close_wait_delay_ms_, 100)));
  }
  int err = consumer_->Open();
  if (err != 0) {
    Destroy();
    throw ErrnoError("opening the ring buffer", -err);
  }
  return Describe(std::move(notes));
}

void BpfSession::Run(const std::atomic<bool>& stop, const std::atomic<bool>& paused) { consumer_->Run(stop, paused); }

uint32_t BpfSession::SeedOwners(const SeedRecord* records, size_t count) { return SeedOwnerMaps(skel_, records, count); }

uint32_t BpfSession::emit_kinds() const { return skel_->data->emit_kinds; }
uint32_t BpfSession::emit_states() const { return skel_->data->emit_states; }
void BpfSession::SetEmitKinds(uint32_t kinds) { skel_->data->emit_kinds = kinds; }
void BpfSession::SetEmitStates(uint32_t states) { skel_->data->emit_states = states; }

std::vector<uint64_t> BpfSession::Transitions() const {
  std::vector<uint64_t> counts(SOCKTRACE_TRANSITION_SLOTS);
  for (uint32_t state = 0; state < SOCKTRACE_TRANSITION_SLOTS; state++) counts[state] = SumPerCpu(skel_->maps.transitions, state);
  return counts;
}

uint64_t BpfSession::OwnerEvictions() const { return SumPerCpu(skel_->maps.owner_evictions, 0); }

// A program the kernel did not run because another BPF program was running on the CPU (a softirq
// interrupting one, say) wrote no event: the kernel counts these per program (recursion_misses; for
// classic tracepoint programs only since 6.7), and they are lost events like ring drops.
uint64_t BpfSession::SkippedRuns() const {
  uint64_t total = 0;
  for (const HookChoice& c : plan_) {
    if (c.prog == nullptr) continue;
    bpf_prog_info prog_info = {};
    uint32_t len = sizeof(prog_info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(c.prog), &prog_info, &len) == 0) total += prog_info.recursion_misses;
  }
  return total;
}

SocketCounts BpfSession::CountSockets(const std::vector<std::pair<std::string, unsigned int>>& namespaces) {
  return counter_.Count(namespaces);
}

std::vector<TimingRow> BpfSession::Timings() const { return ReadTimings(skel_->maps.timings); }

TimingMisses BpfSession::TimingMissCounts() const {
  TimingMisses m;
  m.peer = SumPerCpu(skel_->maps.timing_misses, SOCKTRACE_TIMING_MISS_PEER);
  m.lost = SumPerCpu(skel_->maps.timing_misses, SOCKTRACE_TIMING_MISS_LOST);
  m.late = SumPerCpu(skel_->maps.timing_misses, SOCKTRACE_TIMING_MISS_LATE);
  return m;
}

uint32_t BpfSession::ForgetTimingKeys(const std::vector<socktrace_timing_key>& keys) { return ForgetTimings(skel_->maps.timings, keys); }

}  // namespace socktrace
