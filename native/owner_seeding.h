// Owners of sockets that existed before the tracer started, from user space's inventory, into the
// kernel's maps: seeded owners by cookie, their processes, and the listener groups the kernel did not see.
#pragma once
#include <cstddef>
#include <cstdint>

#include "socktrace_event.h"

struct socktrace_bpf;

namespace socktrace {

// The records are struct socktrace_seed (probes/socktrace_event.h), as src/inventory/seed-owners.ts writes them.
using SeedRecord = socktrace_seed;
static_assert(sizeof(SeedRecord) == 64, "seed record layout: no hidden padding");

// Writes the records; returns how many seeded owners the kernel's map took.
uint32_t SeedOwnerMaps(socktrace_bpf* skel, const SeedRecord* records, size_t count);

}  // namespace socktrace
