#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# corpus/check.sh - checks that every corpus file radpipe uses (corpus/files.tsv) is present
# and has the listed SHA-256.  Usage: corpus/check.sh [CORPUS_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${RADPIPE_CORPUS:-$here/../../shared/corpus}}
if [ ! -d "$dir" ]; then
	echo "corpus/check.sh: the test corpus is missing: $dir is not a directory" >&2
	echo "corpus/check.sh: see corpus/README.md for where to get it" >&2
	exit 1
fi
grep -v '^#' "$here/files.tsv" | awk -F'\t' '{print $2 "  " $1}' >/tmp/radpipe-corpus.$$
if (cd "$dir" && sha256sum --quiet -c /tmp/radpipe-corpus.$$); then
	echo "corpus: $(wc -l </tmp/radpipe-corpus.$$) files present and unchanged in $dir"
	rm -f /tmp/radpipe-corpus.$$
else
	rm -f /tmp/radpipe-corpus.$$
	echo "corpus/check.sh: some corpus files are missing or changed in $dir" >&2
	exit 1
fi
