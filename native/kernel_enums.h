// Names of kernel enum values, read from this kernel's BTF: RST reasons differ between kernel versions,
// so a table compiled into user space would mislabel them elsewhere.
#pragma once
#include <string>
#include <vector>

namespace socktrace {

// Index = enum value, element = enumerator name without `strip_prefix` ("" where a value has no name).
// Empty when the kernel has no such enum (e.g. sk_rst_reason before 6.10) or no BTF.
std::vector<std::string> KernelEnumNames(const char* enum_name, const char* strip_prefix);

}  // namespace socktrace
