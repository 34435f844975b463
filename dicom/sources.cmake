# dicom/ - DICOM Part 10 I/O: transfer syntaxes, the data dictionary, the parser, frame
# access, nested pixel data, the writer and deflate.  It sits above codec/: the writer
# transcodes through the codec table, and no codec knows DICOM.
list(APPEND RP_LIB_SOURCES
  dicom/ts.c
  dicom/dict.c
  dicom/parse.c
  dicom/frames.c
  dicom/nested.c
  dicom/write.c
  dicom/inflate.c)
