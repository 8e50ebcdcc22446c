#include "record_layout.h"

#include <cstddef>

#include "layout_fields.h"
#include "socktrace_event.h"

namespace socktrace {

// The header promises no hidden padding: every field starts where the previous one ended.
#define SOCKTRACE_FOLLOWS(prev, next) \
  static_assert(offsetof(socktrace_event, next) == offsetof(socktrace_event, prev) + sizeof(socktrace_event::prev), \
                #next " must follow " #prev " with no padding")
static_assert(offsetof(socktrace_event, ts_ns) == 0, "ts_ns starts the record");
SOCKTRACE_FOLLOWS(ts_ns, sock_id);
SOCKTRACE_FOLLOWS(sock_id, owner_cgroup);
SOCKTRACE_FOLLOWS(owner_cgroup, owner_pid);
SOCKTRACE_FOLLOWS(owner_pid, owner_uid);
SOCKTRACE_FOLLOWS(owner_uid, task_pid);
SOCKTRACE_FOLLOWS(task_pid, netns);
SOCKTRACE_FOLLOWS(netns, saddr);
SOCKTRACE_FOLLOWS(saddr, daddr);
SOCKTRACE_FOLLOWS(daddr, sport);
SOCKTRACE_FOLLOWS(sport, dport);
SOCKTRACE_FOLLOWS(dport, family);
SOCKTRACE_FOLLOWS(family, kind);
SOCKTRACE_FOLLOWS(kind, owner_source);
SOCKTRACE_FOLLOWS(owner_source, old_state);
SOCKTRACE_FOLLOWS(old_state, state);
SOCKTRACE_FOLLOWS(state, reason);
SOCKTRACE_FOLLOWS(reason, err);
SOCKTRACE_FOLLOWS(err, flags);
SOCKTRACE_FOLLOWS(flags, owner_comm);
SOCKTRACE_FOLLOWS(owner_comm, task_comm);
SOCKTRACE_FOLLOWS(task_comm, owner_start);
static_assert(sizeof(socktrace_event) == offsetof(socktrace_event, owner_start) + sizeof(unsigned int),
              "no tail padding");
static_assert(sizeof(socktrace_event) % 8 == 0, "records stay 8-byte aligned back to back");

Napi::Value RecordLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LayoutFields fields(env);
  LAYOUT_FIELD(fields, socktrace_event, ts_ns);
  LAYOUT_FIELD(fields, socktrace_event, sock_id);
  LAYOUT_FIELD(fields, socktrace_event, owner_cgroup);
  LAYOUT_FIELD(fields, socktrace_event, owner_pid);
  LAYOUT_FIELD(fields, socktrace_event, owner_uid);
  LAYOUT_FIELD(fields, socktrace_event, task_pid);
  LAYOUT_FIELD(fields, socktrace_event, netns);
  LAYOUT_FIELD(fields, socktrace_event, saddr);
  LAYOUT_FIELD(fields, socktrace_event, daddr);
  LAYOUT_FIELD(fields, socktrace_event, sport);
  LAYOUT_FIELD(fields, socktrace_event, dport);
  LAYOUT_FIELD(fields, socktrace_event, family);
  LAYOUT_FIELD(fields, socktrace_event, kind);
  LAYOUT_FIELD(fields, socktrace_event, owner_source);
  LAYOUT_FIELD(fields, socktrace_event, old_state);
  LAYOUT_FIELD(fields, socktrace_event, state);
  LAYOUT_FIELD(fields, socktrace_event, reason);
  LAYOUT_FIELD(fields, socktrace_event, err);
  LAYOUT_FIELD(fields, socktrace_event, flags);
  LAYOUT_FIELD(fields, socktrace_event, owner_comm);
  LAYOUT_FIELD(fields, socktrace_event, task_comm);
  LAYOUT_FIELD(fields, socktrace_event, owner_start);

  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("state_change", Napi::Number::New(env, SOCKTRACE_KIND_STATE_CHANGE));
  kinds.Set("rst_sent", Napi::Number::New(env, SOCKTRACE_KIND_RST_SENT));
  kinds.Set("rst_received", Napi::Number::New(env, SOCKTRACE_KIND_RST_RECEIVED));
  kinds.Set("send_error", Napi::Number::New(env, SOCKTRACE_KIND_SEND_ERROR));
  kinds.Set("recv_error", Napi::Number::New(env, SOCKTRACE_KIND_RECV_ERROR));
  kinds.Set("destroy", Napi::Number::New(env, SOCKTRACE_KIND_DESTROY));
  kinds.Set("accept_error", Napi::Number::New(env, SOCKTRACE_KIND_ACCEPT_ERROR));
  kinds.Set("retransmit", Napi::Number::New(env, SOCKTRACE_KIND_RETRANSMIT));
  kinds.Set("connection_error", Napi::Number::New(env, SOCKTRACE_KIND_CONNECTION_ERROR));

  Napi::Object owner_sources = Napi::Object::New(env);
  owner_sources.Set("none", Napi::Number::New(env, SOCKTRACE_OWNER_NONE));
  owner_sources.Set("socket", Napi::Number::New(env, SOCKTRACE_OWNER_SOCKET));
  owner_sources.Set("listener", Napi::Number::New(env, SOCKTRACE_OWNER_LISTENER));
  owner_sources.Set("seeded", Napi::Number::New(env, SOCKTRACE_OWNER_SEEDED));
  owner_sources.Set("closed", Napi::Number::New(env, SOCKTRACE_OWNER_CLOSED));

  Napi::Object flags = Napi::Object::New(env);
  flags.Set("noSocket", SOCKTRACE_FLAG_NO_SOCKET);
  flags.Set("idFallback", SOCKTRACE_FLAG_ID_FALLBACK);
  flags.Set("fromSyscall", SOCKTRACE_FLAG_FROM_SYSCALL);
  flags.Set("deferred", SOCKTRACE_FLAG_DEFERRED);
  flags.Set("fromDrop", SOCKTRACE_FLAG_FROM_DROP);
  flags.Set("unanswered", SOCKTRACE_FLAG_UNANSWERED);

  Napi::Object layout = Napi::Object::New(env);
  layout.Set("abi", SOCKTRACE_ABI_VERSION);
  layout.Set("size", Napi::Number::New(env, sizeof(socktrace_event)));
  layout.Set("commLength", SOCKTRACE_COMM_LEN);
  layout.Set("reasonUnknown", SOCKTRACE_REASON_UNKNOWN);
  layout.Set("transitionSlots", SOCKTRACE_TRANSITION_SLOTS);
  Napi::Object timing_kinds = Napi::Object::New(env);
  timing_kinds.Set("answered", static_cast<int>(SOCKTRACE_TIMING_ANSWERED));
  timing_kinds.Set("late", static_cast<int>(SOCKTRACE_TIMING_LATE));
  timing_kinds.Set("gave_up", static_cast<int>(SOCKTRACE_TIMING_GAVE_UP));
  timing_kinds.Set("unanswered", static_cast<int>(SOCKTRACE_TIMING_UNANSWERED));
  Napi::Object timings = Napi::Object::New(env);
  timings.Set("kinds", timing_kinds);
  timings.Set("subBits", SOCKTRACE_TIMING_SUB_BITS);
  timings.Set("buckets", SOCKTRACE_TIMING_BUCKETS);
  timings.Set("keySize", Napi::Number::New(env, sizeof(socktrace_timing_key)));
  layout.Set("timings", timings);
  layout.Set("fields", fields.Object());
  layout.Set("kinds", kinds);
  layout.Set("ownerSources", owner_sources);
  layout.Set("flags", flags);
  return layout;
}

Napi::Value SeedLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LayoutFields fields(env);
  LAYOUT_FIELD(fields, socktrace_seed, cookie);
  LAYOUT_FIELD(fields, socktrace_seed, start);
  LAYOUT_FIELD(fields, socktrace_seed, pid);
  LAYOUT_FIELD(fields, socktrace_seed, uid);
  LAYOUT_FIELD(fields, socktrace_seed, netns);
  LAYOUT_FIELD(fields, socktrace_seed, port);
  LAYOUT_FIELD(fields, socktrace_seed, family);
  LAYOUT_FIELD(fields, socktrace_seed, addr);
  LAYOUT_FIELD(fields, socktrace_seed, comm);
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, sizeof(socktrace_seed)));
  layout.Set("fields", fields.Object());
  return layout;
}

}  // namespace socktrace
