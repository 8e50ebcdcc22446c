#include "kernel_enums.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstring>

namespace socktrace {

std::vector<std::string> KernelEnumNames(const char* enum_name, const char* strip_prefix) {
  std::vector<std::string> names;
  btf* vmlinux = btf__load_vmlinux_btf();
  if (libbpf_get_error(vmlinux)) return names;
  int id = btf__find_by_name_kind(vmlinux, enum_name, BTF_KIND_ENUM);
  if (id >= 0) {
    const btf_type* type = btf__type_by_id(vmlinux, id);
    const struct btf_enum* values = btf_enum(type);
    size_t prefix_len = strlen(strip_prefix);
    for (int i = 0; i < btf_vlen(type); i++) {
      int value = values[i].val;
      if (value < 0 || value > 4096) continue;  // a sentinel, not a reason anyone reports
      std::string name = btf__name_by_offset(vmlinux, values[i].name_off);
      if (name.compare(0, prefix_len, strip_prefix) == 0) name = name.substr(prefix_len);
      if (names.size() <= static_cast<size_t>(value)) names.resize(value + 1);
      names[value] = name;
    }
  }
  btf__free(vmlinux);
  return names;
}

}  // namespace socktrace
