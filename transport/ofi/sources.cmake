# transport/ofi/sources.cmake - the libfabric backend, built when pkg-config
# finds libfabric; otherwise ofi_none.c makes `--fabric` fail with a clear message.
pkg_check_modules(LIBFABRIC IMPORTED_TARGET libfabric)
if(LIBFABRIC_FOUND)
  set(RP_HAVE_OFI ON)
  list(APPEND RP_LIB_SOURCES transport/ofi/ofi.c)
  list(APPEND RP_LIB_DEPS PkgConfig::LIBFABRIC)
else()
  set(RP_HAVE_OFI OFF)
  list(APPEND RP_LIB_SOURCES transport/ofi/ofi_none.c)
endif()
