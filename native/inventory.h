// The socket inventory: every TCP socket (IPv4 and IPv6) in the given network namespaces, dumped with
// sock_diag netlink as `ss` does, including cookies (to join with events) and tcp_info ages.
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

namespace socktrace {

// inventory([{ path, inode }]) -> { buffer: ArrayBuffer, count, errors: [{ path, message }] }
// path names a network namespace (/proc/<pid>/ns/net, /run/netns/<name>); inode is recorded per entry.
Napi::Value Inventory(const Napi::CallbackInfo& info);

// The namespaces argument of inventory() (and of the Tracer's countSockets()): [{ path, inode }].
std::vector<std::pair<std::string, unsigned int>> ReadNamespaces(const Napi::Env& env, const Napi::Value& value);

// inventoryLayout() -> { size, fields: { name: { offset, size } }, noInfo }
Napi::Value InventoryLayout(const Napi::CallbackInfo& info);

}  // namespace socktrace
