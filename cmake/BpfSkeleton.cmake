# bpf_skeleton(NAME SOURCE file.bpf.c HEADERS ...): compiles a CO-RE BPF object with clang and turns it
# into a libbpf skeleton header, <NAME>.skel.h, in SOCKTRACE_SKEL_DIR (target NAME_skel).
#
# vmlinux.h is generated from this host's BTF at build time; CO-RE relocations make the object run on
# other kernels, so only the kernel's BTF at *run* time has to match.
find_program(CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(SOCKTRACE_SKEL_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${SOCKTRACE_SKEL_DIR})

if(NOT EXISTS /sys/kernel/btf/vmlinux)
  message(FATAL_ERROR "socktrace: /sys/kernel/btf/vmlinux is missing; building needs a kernel with BTF (CONFIG_DEBUG_INFO_BTF=y)")
endif()

add_custom_command(
  OUTPUT ${SOCKTRACE_SKEL_DIR}/vmlinux.h
  COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${SOCKTRACE_SKEL_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from the kernel's BTF")

function(bpf_skeleton name)
  cmake_parse_arguments(ARG "" "SOURCE" "HEADERS" ${ARGN})
  set(raw ${SOCKTRACE_SKEL_DIR}/${name}.raw.bpf.o)
  set(obj ${SOCKTRACE_SKEL_DIR}/${name}.bpf.o)
  set(skel ${SOCKTRACE_SKEL_DIR}/${name}.skel.h)
  string(TOLOWER ${CMAKE_SYSTEM_PROCESSOR} arch)
  if(arch MATCHES "x86_64|amd64")
    set(target_arch x86)
  elseif(arch MATCHES "aarch64|arm64")
    set(target_arch arm64)
  else()
    set(target_arch ${arch})
  endif()
  add_custom_command(
    OUTPUT ${raw}
    COMMAND ${CLANG} -g -O2 -Wall -target bpf -D__TARGET_ARCH_${target_arch}
            -I${SOCKTRACE_SKEL_DIR} -I${LIBBPF_INCLUDE_DIR} -I${CMAKE_SOURCE_DIR}/probes -c ${ARG_SOURCE} -o ${raw}
    DEPENDS ${ARG_SOURCE} ${ARG_HEADERS} ${SOCKTRACE_SKEL_DIR}/vmlinux.h libbpf_build
    COMMENT "Compiling BPF object ${name}")
  # `gen object` links and strips DWARF, keeping BTF: a smaller object embedded in the skeleton.
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen object ${obj} ${raw}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${raw}
    COMMENT "Generating libbpf skeleton ${name}.skel.h")
  add_custom_target(${name}_skel DEPENDS ${skel})
endfunction()
