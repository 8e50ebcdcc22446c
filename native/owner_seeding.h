// Owners of sockets that existed before the tracer started, from user space's inventory, into the
// kernel's maps: seeded owners by cookie, their processes, and the listener groups the kernel did not see.
#pragma once
#include <cstddef>
#include <cstdint>

#include "socktrace_event.h"

struct socktrace_bpf;

namespace socktrace {

// One seed record, as src/inventory/seed-owners.ts writes them: the owner of a socket, keyed by its
// cookie (0: a shared listener's further holder, for its group only); for a listener also what it
// listens on (family 0 for other sockets).
struct SeedRecord {
  uint64_t cookie;
  uint64_t start;  // the owner process's start, clock ticks after boot
  uint32_t pid;
  uint32_t uid;
  uint32_t netns;
  uint16_t port;
  uint16_t family;
  uint8_t addr[SOCKTRACE_ADDR_LEN];
  char comm[SOCKTRACE_COMM_LEN];
};
static_assert(sizeof(SeedRecord) == 64, "seed record layout (src/inventory/seed-owners.ts)");

// Writes the records; returns how many seeded owners the kernel's map took.
uint32_t SeedOwnerMaps(socktrace_bpf* skel, const SeedRecord* records, size_t count);

}  // namespace socktrace
