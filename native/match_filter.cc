#include "match_filter.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>

#include "socktrace.skel.h"
#include "socktrace_event.h"

namespace socktrace {

namespace {

template <typename Key>
bool Fill(const bpf_map* map, const std::vector<Key>& keys, void (*make)(const Key&, void*), size_t key_size) {
  if (keys.empty() || keys.size() > SOCKTRACE_MATCH_ENTRIES) return false;
  int fd = bpf_map__fd(map);
  unsigned char one = 1;
  std::vector<unsigned char> buffer(key_size);
  for (const Key& k : keys) {
    std::fill(buffer.begin(), buffer.end(), 0);
    make(k, buffer.data());
    if (bpf_map_update_elem(fd, buffer.data(), &one, BPF_ANY) != 0) return false;
  }
  return true;
}

}  // namespace

uint32_t WriteMatch(socktrace_bpf* skel, const MatchFilter& match) {
  uint32_t fields = 0;
  if (Fill<uint16_t>(skel->maps.match_ports, match.ports, [](const uint16_t& p, void* k) { memcpy(k, &p, sizeof(p)); }, sizeof(uint16_t)))
    fields |= SOCKTRACE_MATCH_PORTS;
  if (Fill<uint32_t>(skel->maps.match_pids, match.pids, [](const uint32_t& p, void* k) { memcpy(k, &p, sizeof(p)); }, sizeof(uint32_t)))
    fields |= SOCKTRACE_MATCH_PIDS;
  if (Fill<std::string>(skel->maps.match_comms, match.comms,
                        [](const std::string& c, void* k) { memcpy(k, c.data(), std::min(c.size(), size_t{SOCKTRACE_COMM_LEN - 1})); },
                        SOCKTRACE_COMM_LEN))
    fields |= SOCKTRACE_MATCH_COMMS;
  if (Fill<PeerPrefix>(skel->maps.match_peers, match.peers,
                       [](const PeerPrefix& p, void* k) {
                         socktrace_peer_prefix key = {};
                         key.prefixlen = p.prefixlen;
                         memcpy(key.addr, p.addr.data(), sizeof(key.addr));
                         memcpy(k, &key, sizeof(key));
                       },
                       sizeof(socktrace_peer_prefix)))
    fields |= SOCKTRACE_MATCH_PEERS;
  return fields;
}

}  // namespace socktrace
