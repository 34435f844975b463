# net/ - what the gateway adds around the transport: the audit trail, the Storage SCP
# (DCMTK's dcmnet behind extern "C", in net/store_scp.cpp only) and the instance queue.
find_package(DCMTK REQUIRED CONFIG)
list(APPEND RP_LIB_SOURCES
  net/audit.c
  net/gateway.c
  net/study_queue.c
  net/instance_store.c
  net/stat_rule.c
  net/store_scp.cpp
  net/store_scu.cpp
  net/forward.c
  net/stow.c)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
list(APPEND RP_LIB_DEPS PkgConfig::CURL DCMTK::dcmnet DCMTK::dcmdata DCMTK::oflog DCMTK::ofstd)
