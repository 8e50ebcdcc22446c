# libbpf, linked statically into the addon so the .node file stands alone.
#
# Debian's libbpf.a is not position-independent, so it cannot go into a shared object. We build the
# same release from Debian's source package (scripts/fetch-sources puts it in .deps/libbpf-src)
# with -fPIC, as its own Makefile intends, and install headers and the archive under the build tree.
# It compiles against the libelf and zlib headers of the archives it is linked with (cmake/StaticLibs.cmake).
set(LIBBPF_SRC ${CMAKE_SOURCE_DIR}/.deps/libbpf-src)
if(NOT EXISTS ${LIBBPF_SRC}/src/libbpf.c)
  message(FATAL_ERROR "socktrace: libbpf source not found in ${LIBBPF_SRC}; run `bash scripts/fetch-sources` (scripts/setup does)")
endif()

include(ExternalProject)
set(LIBBPF_PREFIX ${CMAKE_BINARY_DIR}/libbpf)
set(LIBBPF_INCLUDE_DIR ${LIBBPF_PREFIX}/include)
set(LIBBPF_STATIC_LIB ${LIBBPF_PREFIX}/lib/libbpf.a)
ExternalProject_Add(libbpf_build
  SOURCE_DIR ${LIBBPF_SRC}
  CONFIGURE_COMMAND ""
  BUILD_COMMAND make -C ${LIBBPF_SRC}/src BUILD_STATIC_ONLY=1 OBJDIR=${LIBBPF_PREFIX}/obj
                DESTDIR=${LIBBPF_PREFIX} PREFIX= INCLUDEDIR=/include LIBDIR=/lib UAPIDIR=/include
                NO_PKG_CONFIG=1 "EXTRA_CFLAGS=-fPIC -O2 -I${STATIC_LIBS_INCLUDE_DIR}" install install_uapi_headers
  BUILD_IN_SOURCE TRUE
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${LIBBPF_STATIC_LIB})
file(MAKE_DIRECTORY ${LIBBPF_INCLUDE_DIR})
