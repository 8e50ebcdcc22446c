// A filtered watch's match (--port, --pid, --comm, --peer), written into the kernel's match tables
// before the programs attach (probes/lib/match.bpf.h): events it does not want never cross the ring.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

struct socktrace_bpf;

namespace socktrace {

struct PeerPrefix {
  std::array<unsigned char, 16> addr{};  // IPv4 as IPv4-mapped IPv6
  uint32_t prefixlen = 0;                // of the 128 bits
};

struct MatchFilter {
  std::vector<uint16_t> ports;
  std::vector<uint32_t> pids;
  std::vector<std::string> comms;  // the kernel's bytes, at most 15
  std::vector<PeerPrefix> peers;
};

// Fills the tables and returns the SOCKTRACE_MATCH_* bits to set; a field with more values than a table
// holds is left to user space (its bit stays clear). Throws nothing: a value the table refuses clears the bit.
uint32_t WriteMatch(socktrace_bpf* skel, const MatchFilter& match);

}  // namespace socktrace
