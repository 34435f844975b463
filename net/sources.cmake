# net/ - what the gateway adds around the transport: the audit trail, the Storage SCP
# (DCMTK's dcmnet behind extern "C", in net/store_scp.cpp only; DICOM TLS over dcmtls in
# net/dicom_tls.cpp), the instance queue, the forward queue into the PACS, and DICOMweb
# STOW-RS delivery over libcurl (net/stowrs.c only).
find_package(DCMTK REQUIRED CONFIG)
list(APPEND RP_LIB_SOURCES
  net/atna.c
  net/audit.c
  net/dicom_tls.cpp
  net/gateway.c
  net/instance_store.c
  net/stat_rule.c
  net/study_queue.c
  net/store_scp.cpp
  net/store_scu.cpp
  net/forward.c
  net/stowrs.c)
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)
list(APPEND RP_LIB_DEPS PkgConfig::LIBCURL DCMTK::dcmnet DCMTK::dcmtls DCMTK::dcmdata
     DCMTK::oflog DCMTK::ofstd)
