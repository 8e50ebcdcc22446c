#include "owner_seeding.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "socktrace.skel.h"

namespace socktrace {

namespace {

// Field 22 of /proc/<pid>/stat (start time in clock ticks), or 0 if the process is gone.
uint64_t ProcessStartTicks(uint32_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');  // the name may hold spaces and parentheses: fields follow the last ')'
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int n = 3; n <= 22 && (fields >> field); n++)
    if (n == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

// A listener's group, unless the kernel saw it start (or an earlier seeding made it): those stay as they
// are. Groups made by this seeding take every listener the inventory found on their key.
void SeedListener(int fd, const SeedRecord& r, const socktrace_owner& owner, std::set<std::string>* made) {
  socktrace_listener_key key = {};
  key.netns = r.netns;
  key.port = r.port;
  key.family = r.family;
  memcpy(key.addr, r.addr, sizeof(key.addr));
  std::string key_bytes(reinterpret_cast<const char*>(&key), sizeof(key));
  socktrace_listener_group group = {};
  if (made->count(key_bytes) != 0 && bpf_map_lookup_elem(fd, &key, &group) == 0) {
    if (group.owner.pid != r.pid || group.owner.start != r.start) group.mixed = 1;
    group.count++;
    bpf_map_update_elem(fd, &key, &group, BPF_EXIST);
    return;
  }
  group.owner = owner;
  group.owner.source = SOCKTRACE_OWNER_LISTENER;
  group.count = 1;
  if (bpf_map_update_elem(fd, &key, &group, BPF_NOEXIST) == 0) made->insert(key_bytes);
}

// Owners are named only while their process lives (see living() in the BPF program). A process that
// exited between the inventory and this write left no entry for its exit to remove: each is checked
// after it is written, so either that check or its exit removes it.
void SeedLivingProcess(int fd, uint32_t pid, const SeedRecord& r) {
  socktrace_process known = {};
  if (bpf_map_lookup_elem(fd, &pid, &known) == 0 && known.start == r.start) return;
  socktrace_process seeded = {};
  seeded.start = r.start;
  memcpy(seeded.comm, r.comm, sizeof(seeded.comm));
  if (bpf_map_update_elem(fd, &pid, &seeded, BPF_ANY) != 0) return;
  if (ProcessStartTicks(pid) == r.start) return;
  socktrace_process now = {};
  if (bpf_map_lookup_elem(fd, &pid, &now) == 0 && now.start == r.start) bpf_map_delete_elem(fd, &pid);
}

}  // namespace

uint32_t SeedOwnerMaps(socktrace_bpf* skel, const SeedRecord* records, size_t count) {
  int owners_fd = bpf_map__fd(skel->maps.seeded_owners);
  int listeners_fd = bpf_map__fd(skel->maps.listeners);
  std::map<uint32_t, size_t> first_record_of;  // pid -> its first record
  std::set<std::string> made;
  uint32_t written = 0;
  for (size_t i = 0; i < count; i++) {
    const SeedRecord& r = records[i];
    socktrace_owner owner = {};
    owner.pid = r.pid;
    owner.uid = r.uid;
    owner.start = r.start;
    owner.source = SOCKTRACE_OWNER_SEEDED;
    memcpy(owner.comm, r.comm, sizeof(owner.comm));
    if (r.cookie != 0 && bpf_map_update_elem(owners_fd, &r.cookie, &owner, BPF_ANY) == 0) written++;
    first_record_of.emplace(r.pid, i);
    if (r.family != 0) {
      SeedListener(listeners_fd, r, owner, &made);
      // The port's mark in listening_ports (lib/listeners.bpf.h), as a listener starting sets it.
      skel->bss->listening_ports[r.port] = 1;
    }
  }
  int processes_fd = bpf_map__fd(skel->maps.owner_processes);
  for (const auto& [pid, i] : first_record_of) SeedLivingProcess(processes_fd, pid, records[i]);
  return written;
}

}  // namespace socktrace
