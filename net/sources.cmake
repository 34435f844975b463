# net/ - what the gateway adds around the transport: the audit trail (and, next to it,
# DICOM networking over DCMTK behind extern "C", DICOMweb, the study queue).
list(APPEND RP_LIB_SOURCES
  net/audit.c)
