#include "inventory.h"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "inventory_entry.h"
#include "layout_fields.h"

namespace socktrace {

static_assert(sizeof(socktrace_inventory_entry) == 88, "inventory entry layout");
static_assert(offsetof(socktrace_inventory_entry, saddr) == 44, "inventory entry layout");

namespace {

struct Dump {
  std::vector<socktrace_inventory_entry> entries;
  std::string error;
};

// One sock_diag dump (one address family) on an open NETLINK_SOCK_DIAG socket.
std::string DumpFamily(int nl, int family, unsigned int netns, std::vector<socktrace_inventory_entry>* out) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } req = {};
  req.header.nlmsg_len = sizeof(req);
  req.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.request.sdiag_family = family;
  req.request.sdiag_protocol = IPPROTO_TCP;
  req.request.idiag_states = ~0u;  // every state, TIME_WAIT and NEW_SYN_RECV included
  req.request.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  if (send(nl, &req, sizeof(req), 0) < 0) return std::string("sock_diag request: ") + strerror(errno);

  std::vector<char> buffer(1 << 16);
  for (;;) {
    ssize_t n = recv(nl, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("sock_diag receive: ") + strerror(errno);
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return "";
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        return std::string("sock_diag: ") + strerror(-err->error);
      }
      auto* msg = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      socktrace_inventory_entry e = {};
      e.cookie = static_cast<unsigned long long>(msg->id.idiag_cookie[1]) << 32 | msg->id.idiag_cookie[0];
      e.inode = msg->idiag_inode;
      e.uid = msg->idiag_uid;
      e.netns = netns;
      e.expires_ms = msg->idiag_expires;
      e.rqueue = msg->idiag_rqueue;
      e.wqueue = msg->idiag_wqueue;
      e.family = msg->idiag_family;
      e.state = msg->idiag_state;
      e.timer = msg->idiag_timer;
      e.sport = ntohs(msg->id.idiag_sport);
      e.dport = ntohs(msg->id.idiag_dport);
      memcpy(e.saddr, msg->id.idiag_src, msg->idiag_family == AF_INET ? 4 : 16);
      memcpy(e.daddr, msg->id.idiag_dst, msg->idiag_family == AF_INET ? 4 : 16);
      e.last_ack_recv_ms = e.last_data_recv_ms = e.last_data_sent_ms = SOCKTRACE_INVENTORY_NO_INFO;
      int attr_len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
      for (auto* a = reinterpret_cast<rtattr*>(msg + 1); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len)) {
        if (a->rta_type != INET_DIAG_INFO) continue;
        // Older kernels send a shorter tcp_info: copy what is there, the rest stays zero.
        tcp_info info = {};
        memcpy(&info, RTA_DATA(a), std::min(sizeof(info), static_cast<size_t>(RTA_PAYLOAD(a))));
        if (RTA_PAYLOAD(a) >= offsetof(tcp_info, tcpi_last_ack_recv) + sizeof(info.tcpi_last_ack_recv)) {
          e.last_ack_recv_ms = info.tcpi_last_ack_recv;
          e.last_data_recv_ms = info.tcpi_last_data_recv;
          e.last_data_sent_ms = info.tcpi_last_data_sent;
        }
      }
      out->push_back(e);
    }
  }
}

// Runs on its own thread: setns() changes only the calling thread's namespace.
void DumpNamespace(const std::string& path, unsigned int netns, Dump* dump) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    dump->error = "open: " + std::string(strerror(errno));
    return;
  }
  int rc = setns(fd, CLONE_NEWNET);
  int setns_errno = errno;
  close(fd);
  if (rc != 0) {
    dump->error = "setns: " + std::string(strerror(setns_errno));
    return;
  }
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) {
    dump->error = "netlink socket: " + std::string(strerror(errno));
    return;
  }
  for (int family : {AF_INET, AF_INET6}) {
    std::string err = DumpFamily(nl, family, netns, &dump->entries);
    if (!err.empty()) {
      dump->error = (family == AF_INET ? "IPv4 " : "IPv6 ") + err;
      break;
    }
  }
  close(nl);
}

}  // namespace

std::vector<std::pair<std::string, unsigned int>> ReadNamespaces(const Napi::Env& env, const Napi::Value& value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "Expected first argument to be an array of { path, inode } namespaces");
  Napi::Array list = value.As<Napi::Array>();
  std::vector<std::pair<std::string, unsigned int>> namespaces;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, "Expected namespaces[" + std::to_string(i) + "] to be an object");
    Napi::Object ns = item.As<Napi::Object>();
    if (!ns.Get("path").IsString() || !ns.Get("inode").IsNumber())
      throw Napi::TypeError::New(env, "Expected namespaces[" + std::to_string(i) + "] to have a string path and a number inode");
    namespaces.emplace_back(ns.Get("path").As<Napi::String>().Utf8Value(), ns.Get("inode").As<Napi::Number>().Uint32Value());
  }
  return namespaces;
}

Napi::Value Inventory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::pair<std::string, unsigned int>> namespaces = ReadNamespaces(env, info.Length() > 0 ? info[0] : env.Undefined());
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsArrayBuffer())
    throw Napi::TypeError::New(env, "Expected the second argument, if any, to be an ArrayBuffer to reuse");

  std::vector<Dump> dumps(namespaces.size());
  for (size_t i = 0; i < namespaces.size(); i++) {
    std::thread worker(DumpNamespace, namespaces[i].first, namespaces[i].second, &dumps[i]);
    worker.join();
  }

  size_t count = 0;
  for (const Dump& d : dumps) count += d.entries.size();
  // A caller taking inventories over and over passes the last buffer back: refilled when it is large
  // enough, rather than a new one each time that only a major GC would free (tens of MB with 100 000
  // sockets, every reconciliation).
  size_t needed = count * sizeof(socktrace_inventory_entry);
  Napi::ArrayBuffer buffer;
  if (info.Length() > 1 && info[1].IsArrayBuffer() && info[1].As<Napi::ArrayBuffer>().ByteLength() >= needed) {
    buffer = info[1].As<Napi::ArrayBuffer>();
  } else {
    buffer = Napi::ArrayBuffer::New(env, needed + needed / 4);  // room to grow before the next new one
  }
  auto* dest = static_cast<uint8_t*>(buffer.Data());
  Napi::Array errors = Napi::Array::New(env);
  for (size_t i = 0; i < dumps.size(); i++) {
    size_t bytes = dumps[i].entries.size() * sizeof(socktrace_inventory_entry);
    if (bytes) memcpy(dest, dumps[i].entries.data(), bytes);
    dest += bytes;
    if (!dumps[i].error.empty()) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("path", namespaces[i].first);
      e.Set("message", dumps[i].error);
      errors.Set(errors.Length(), e);
    }
  }
  // The dumps were allocated in the per-namespace threads' malloc arenas, which keep freed memory: a
  // daemon taking an inventory of 100 000 sockets every 15 s would hold megabytes more each time.
  dumps.clear();
  dumps.shrink_to_fit();
  malloc_trim(0);
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", buffer);
  result.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  result.Set("errors", errors);
  return result;
}

Napi::Value InventoryLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LayoutFields fields(env);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, cookie);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, inode);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, uid);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, netns);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, expires_ms);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, last_ack_recv_ms);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, last_data_recv_ms);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, last_data_sent_ms);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, rqueue);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, wqueue);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, saddr);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, daddr);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, sport);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, dport);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, family);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, state);
  LAYOUT_FIELD(fields, socktrace_inventory_entry, timer);
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, sizeof(socktrace_inventory_entry)));
  layout.Set("noInfo", Napi::Number::New(env, SOCKTRACE_INVENTORY_NO_INFO));
  layout.Set("fields", fields.Object());
  return layout;
}

}  // namespace socktrace
