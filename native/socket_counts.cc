#include "socket_counts.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "socktrace.skel.h"

namespace socktrace {

namespace {

// On its own thread: setns() changes only the calling thread's namespace, and the iterator walks the
// namespace of the thread that creates it.
void CountNamespace(int link_fd, const std::string& path, std::string* error) {
  int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    *error = "open: " + std::string(strerror(errno));
    return;
  }
  int rc = setns(ns, CLONE_NEWNET);
  int setns_errno = errno;
  close(ns);
  if (rc != 0) {
    *error = "setns: " + std::string(strerror(setns_errno));
    return;
  }
  int iter = bpf_iter_create(link_fd);
  if (iter < 0) {
    *error = "tcp iterator: " + std::string(strerror(errno));
    return;
  }
  char sink[256];  // the program prints nothing: reading runs it over every socket
  ssize_t n;
  while ((n = read(iter, sink, sizeof(sink))) > 0 || (n < 0 && errno == EINTR)) {
  }
  if (n < 0) *error = "tcp iterator read: " + std::string(strerror(errno));
  close(iter);
}

}  // namespace

int SocketCounter::Prepare(socktrace_bpf* skel) {
  skel_ = skel;
  if (!bpf_program__autoload(skel->progs.count_sockets)) return -ENOENT;
  link_ = bpf_program__attach_iter(skel->progs.count_sockets, nullptr);
  long err = libbpf_get_error(link_);
  if (err != 0) {
    link_ = nullptr;
    return static_cast<int>(err);
  }
  return 0;
}

SocketCounts SocketCounter::Count(const std::vector<std::pair<std::string, unsigned int>>& namespaces) {
  SocketCounts result;
  int counts_fd = bpf_map__fd(skel_->maps.socket_counts);
  int processes_fd = bpf_map__fd(skel_->maps.owner_processes);
  // The table sums over every namespace; it starts empty (a failed count may have left some behind).
  int queues_fd = bpf_map__fd(skel_->maps.listen_queues);
  socktrace_count_key key = {}, next = {};
  while (bpf_map_get_next_key(counts_fd, nullptr, &next) == 0) bpf_map_delete_elem(counts_fd, &next);
  socktrace_listen_queue_key queue_key = {}, queue_next = {};
  while (bpf_map_get_next_key(queues_fd, nullptr, &queue_next) == 0) bpf_map_delete_elem(queues_fd, &queue_next);
  for (const auto& [path, inode] : namespaces) {
    std::string error;
    std::thread worker(CountNamespace, bpf_link__fd(link_), path, &error);
    worker.join();
    if (!error.empty()) result.errors.emplace_back(path, error);
  }
  void* previous = nullptr;
  while (bpf_map_get_next_key(counts_fd, previous, &next) == 0) {
    SocketCount c = {};
    c.pid = next.pid;
    c.state = next.state;
    c.queued = next.queued != 0;
    if (bpf_map_lookup_elem(counts_fd, &next, &c.count) == 0) {
      socktrace_process process = {};
      if (c.pid != 0 && bpf_map_lookup_elem(processes_fd, &c.pid, &process) == 0) memcpy(c.comm, process.comm, sizeof(c.comm));
      result.counts.push_back(c);
    }
    key = next;
    previous = &key;
  }
  previous = nullptr;
  while (bpf_map_get_next_key(queues_fd, previous, &queue_next) == 0) {
    socktrace_listen_queue value = {};
    if (bpf_map_lookup_elem(queues_fd, &queue_next, &value) == 0) {
      ListenQueue q = {};
      q.pid = queue_next.pid;
      q.netns = queue_next.netns;
      q.port = queue_next.port;
      q.family = queue_next.family;
      memcpy(q.addr, queue_next.addr, sizeof(q.addr));
      q.queue = value.queue;
      q.limit = value.limit;
      q.listeners = value.listeners;
      q.drops = value.drops;
      socktrace_process process = {};
      if (q.pid != 0 && bpf_map_lookup_elem(processes_fd, &q.pid, &process) == 0) memcpy(q.comm, process.comm, sizeof(q.comm));
      result.listen_queues.push_back(q);
    }
    queue_key = queue_next;
    previous = &queue_key;
  }
  int refused_fd = bpf_map__fd(skel_->maps.refused_acks);
  socktrace_refused_ack_key refused_key = {}, refused_next = {};
  previous = nullptr;
  while (bpf_map_get_next_key(refused_fd, previous, &refused_next) == 0) {
    RefusedAcks r = {};
    r.key = refused_next;
    if (bpf_map_lookup_elem(refused_fd, &refused_next, &r.count) == 0) result.refused_acks.push_back(r);
    refused_key = refused_next;
    previous = &refused_key;
  }
  return result;
}

void SocketCounter::Release() {
  if (link_ != nullptr) bpf_link__destroy(link_);
  link_ = nullptr;
}

}  // namespace socktrace
