// Counts every TCP socket by state and owner, as the kernel's tables hold them now: runs the
// count_sockets tcp iterator in each network namespace (an iterator walks the namespace of the thread
// that creates it) and reads what it counted. Exact at the moment it runs, whatever the event filter
// held back, at the cost of one walk of the socket tables (no event per connection).
#pragma once
#include <bpf/libbpf.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "socktrace_event.h"

struct socktrace_bpf;

namespace socktrace {

struct SocketCount {
  uint32_t pid;    // 0: no living owner known
  uint32_t state;  // TCP state
  bool queued;     // not a file of the process yet: a handshake, or waiting in its accept queue
  uint64_t count;
  char comm[SOCKTRACE_COMM_LEN];  // the owner's name as the kernel keeps it now
};

// A listener's accept queue (or the sum over listeners sharing owner, namespace, port and family).
struct ListenQueue {
  uint32_t pid;  // 0: no living owner known
  uint32_t netns;
  uint16_t port;
  uint16_t family;
  unsigned char addr[SOCKTRACE_ADDR_LEN];
  uint32_t queue;      // connections waiting for accept()
  uint32_t limit;      // listen()'s backlog as the kernel caps it
  uint32_t listeners;  // listening sockets summed
  uint32_t drops;      // their sk_drops summed (modulo 2^32): accept-queue overflows among them
  char comm[SOCKTRACE_COMM_LEN];
};

// Clients whose final ACK a full accept queue refused since start (6.15+; see listen_refusals.bpf.h).
struct RefusedAcks {
  socktrace_refused_ack_key key;
  uint64_t count;  // cumulative
};

struct SocketCounts {
  std::vector<SocketCount> counts;
  std::vector<ListenQueue> listen_queues;
  std::vector<RefusedAcks> refused_acks;  // read after the walk, so no later than the drop counters
  std::vector<std::pair<std::string, std::string>> errors;  // namespace path, message
};

class SocketCounter {
 public:
  // Attaches the iterator; returns 0 or a negative errno (then Count() cannot run).
  int Prepare(socktrace_bpf* skel);
  bool ready() const { return link_ != nullptr; }
  // namespaces: (path, inode) as the inventory takes them.
  SocketCounts Count(const std::vector<std::pair<std::string, unsigned int>>& namespaces);
  void Release();

 private:
  socktrace_bpf* skel_ = nullptr;
  bpf_link* link_ = nullptr;
};

}  // namespace socktrace
