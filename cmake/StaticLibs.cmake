# libelf and zlib, linked statically into the addon (as libbpf is) so that a host needs neither libelf1
# nor zlib1g: scripts/build-static-libs builds both from Debian's sources with -fPIC into .deps/static.
set(STATIC_LIBS_PREFIX ${CMAKE_SOURCE_DIR}/.deps/static)
set(STATIC_LIBS_INCLUDE_DIR ${STATIC_LIBS_PREFIX}/include)
set(LIBELF_STATIC_LIB ${STATIC_LIBS_PREFIX}/lib/libelf.a)
set(LIBZ_STATIC_LIB ${STATIC_LIBS_PREFIX}/lib/libz.a)
foreach(lib ${LIBELF_STATIC_LIB} ${LIBZ_STATIC_LIB})
  if(NOT EXISTS ${lib})
    message(FATAL_ERROR "socktrace: ${lib} not found; run `bash scripts/fetch-sources && bash scripts/build-static-libs` (scripts/setup does)")
  endif()
endforeach()
