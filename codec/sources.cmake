# codec/ - the codec table, canonical-frame helpers, DICOM I/O and one adapter per library.
list(APPEND RP_LIB_SOURCES
  codec/codec.c
  codec/frame.c
  codec/jpegls.c
  codec/dicom/ts.c
  codec/dicom/dict.c
  codec/dicom/parse.c
  codec/dicom/frames.c
  codec/dicom/write.c
  codec/dicom/inflate.c)
