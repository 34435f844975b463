#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# scripts/gen-corpus-list.py - writes corpus/files.tsv, the list of corpus files the tests,
# benches and demo use, from the corpus's own MANIFEST.tsv: path, SHA-256, what it
# exercises.  Run: scripts/gen-corpus-list.py ../shared/corpus/MANIFEST.tsv > corpus/files.tsv
import csv
import sys

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("# path\tsha256\tuse")
for r in rows:
    p, ts, mod = r["path"], r["transfer_syntax_uid"], r["modality"]
    if mod in ("doc",) or mod.startswith("conformance-reference") and not p.startswith("conformance/jpegls"):
        continue
    if p.startswith("edge/"):
        use = "edge"
    elif mod == "conformance-jpegls" or p.startswith("conformance/jpegls"):
        use = "conformance-jpegls"
    elif mod == "conformance-j2k":
        use = "conformance-j2k"
    elif mod == "conformance-htj2k":
        use = "conformance-htj2k"
    elif ts in NATIVE and r["rows"] not in ("-", ""):
        use = "native"
    elif ts.startswith("1.2.840.10008.1.2.4.8"):
        use = "jpegls"
    elif r["rows"] in ("-", ""):
        use = "no-pixels"
    else:
        use = "compressed"
    if p.startswith("ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010/"):
        use += ",demo-study"
    print(f"{p}\t{r['sha256']}\t{use}")
