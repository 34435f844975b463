# SPDX-License-Identifier: BSD-3-Clause
# tests/htj2k.cmake - radpipe's own HTJ2K codec (issue 5): synthetic round trips checked by
# three decoders, the corpus and the conformance streams, and the decoder's fuzz target.
rp_add_test(test_htj2k_roundtrip SOURCES test_htj2k_roundtrip.c LABELS unit codec htj2k)
rp_add_test(test_htj2k_corpus SOURCES test_htj2k_corpus.c LABELS corpus codec htj2k)
