/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/pipeline.h - the streaming transcoder: a list of DICOM files in, each
 * rewritten with its frames coded by one codec, out.
 *
 * Stages: map (mmap) -> parse -> one job per frame on the caller's thread pool
 * (canonical frame -> encode -> verify) -> write, frame by frame in index order as frames
 * are done (atomic: temporary name, fsync, rename) -> read back and verify.  Files are
 * taken in order while their estimated memory fits the budget, so many small files and
 * the frames of one large multi-frame object both keep every worker busy, and a study or
 * an object of any size runs in bounded memory.  Every output byte depends only on its
 * own input, so results are identical for any thread count.
 */
#ifndef RADPIPE_PIPELINE_H
#define RADPIPE_PIPELINE_H

#include "base.h"
#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rp_pool;

/* One input and its output.  The caller fills input/output; rp_pipeline_run() fills the
 * rest. */
struct rp_pipeline_file {
	const char *input;           /* path to read */
	const char *output;          /* path to write; its directory must exist */

	int status;                  /* RP_OK, or why it failed (nothing left at output) */
	const char *action;          /* static text: "compressed", "decompressed",
				      * "rewritten", "copied (no pixel data)"; NULL on failure
				      * or when not reached */
	uint32_t frames;             /* frames written */
	uint64_t input_size;         /* bytes read */
	uint64_t output_size;        /* bytes written */
	uint64_t pixel_size;         /* canonical (decoded) pixel bytes of all frames */
	uint64_t max_error;          /* largest |input - output| sample seen by verify */
	double seconds;              /* from admission to written (and verified) */
	char message[RP_ERRBUF_SIZE];/* why it failed, "" otherwise */
	const char *warning;         /* static text: written, but something the user should
				      * look at (e.g. an image SOP class without pixel data
				      * copied unchanged); NULL when none */
};

/* Called once per finished file, from whichever thread finished it (a pool worker, or the
 * caller), never from two threads at once; `index` is the file's position in the array. */
typedef void rp_pipeline_done_fn(void *ctx, size_t index, const struct rp_pipeline_file *file);

struct rp_pipeline_options {
	size_t struct_size;          /* set by rp_pipeline_options_init() */
	/* The codec and its parameters.  RP_CODEC_NATIVE writes uncompressed explicit VR
	 * little endian, RP_CODEC_DEFLATE the deflated syntax (frames native).
	 * encoder.pool is ignored: frames are spread over `pool` below instead. */
	struct rp_encoder_options encoder;
	struct rp_pool *pool;        /* borrowed; NULL runs everything on the calling thread */
	uint64_t memory_budget;      /* bytes of mapped input + coded output + scratch held
				      * at once; 0 = 512 MiB.  An object written frame by
				      * frame is charged its frames in flight; one written
				      * whole (deflated, lossy) that is larger than the
				      * budget still runs, alone. */
	uint8_t verify;              /* read each output back and compare every frame with
				      * the input (lossless: bit-exact; near-lossless: within
				      * NEAR); a mismatch removes the output */
	uint8_t decompress;          /* name the action "decompressed" (else "rewritten")
				      * for native targets */
	uint8_t stop_on_error;       /* stop admitting files after the first failure */
	uint8_t strict;              /* refuse what is otherwise copied with a warning: an
				      * image SOP class without pixel data (truncated?) */
	rp_pipeline_done_fn *on_done;/* optional */
	void *on_done_ctx;
};

/* Defaults: JPEG-LS lossless, no pool, 512 MiB, verify on, stop_on_error off.
 *
 * Per file: no pixel data -> copied unchanged (an image SOP class without pixel data too,
 * with file->warning set, unless `strict`, which refuses it as RP_E_CORRUPT); native pixels whose bits above
 * BitsStored are not a sign/zero extension (overlays) -> RP_E_UNSUPPORTED for a codec
 * (they would be lost), kept byte for byte for a native target; pixels the codec refuses
 * (rp_encoder_check) -> that status.  Colour frames are written pixel-interleaved
 * (PlanarConfiguration 0), lossy output gets the lossy attributes (PS3.3 C.7.6.1.1.5). */
RP_API void rp_pipeline_options_init(struct rp_pipeline_options *opts);

/* What the budget did during one run (for benches and `--json`). */
struct rp_pipeline_stats {
	uint64_t budget;             /* the budget used */
	uint64_t peak_reserved;      /* most bytes the budget had handed out at once */
	uint32_t peak_files_open;    /* most files mapped at once */
	uint32_t threads;            /* pool workers (0: the calling thread alone) */
};

/* Transcodes files[0..count).  Returns RP_OK when every file was written, the status of
 * the first failed file (in array order) otherwise, or RP_E_INVALID_ARG /
 * RP_E_NOMEM before any work for bad arguments.  Per-file results are in files[];
 * *stats is filled when stats is not NULL.  Must not be called from a job of
 * opts->pool; several runs may share one pool from different threads. */
RP_API RP_NODISCARD int rp_pipeline_run(const struct rp_pipeline_options *opts,
					struct rp_pipeline_file *files, size_t count,
					struct rp_pipeline_stats *stats, struct rp_errbuf *err);


/* ---- Sharding: one task of N takes a stable share of a tree ----
 *
 * A file belongs to shard FNV-1a-64(key) mod count, where the key is the file's path
 * relative to its input (the same relative path it gets under the output directory, '/'
 * between components, no leading "./"), or with RP_SHARD_BY_STUDY its
 * StudyInstanceUID (0020,000D) as stored, trailing spaces and NULs removed.  FNV-1a 64:
 * h = 0xcbf29ce484222325; for each byte b: h ^= b; h *= 0x100000001b3 (mod 2^64).
 * A file's shard depends on its own key and on count only, so adding files to a tree never
 * moves the others between shards. */
enum rp_shard_by {
	RP_SHARD_BY_PATH = 0,
	RP_SHARD_BY_STUDY = 1
};

/* FNV-1a 64 of key[0..key_size). */
RP_API uint64_t rp_shard_hash(const void *key, size_t key_size);

/* The shard of a key: rp_shard_hash(key) % count; 0 when count is 0. */
RP_API uint32_t rp_shard_of(const void *key, size_t key_size, uint32_t count);

/* Parses "I/N" (decimal, 0 <= I < N <= 1000000) into *index and *count.  RP_OK, or
 * RP_E_INVALID_ARG with the reason in err. */
RP_API RP_NODISCARD int rp_shard_parse(const char *spec, uint32_t *index, uint32_t *count,
				       struct rp_errbuf *err);

/* The key of `data` (a DICOM file's bytes) for RP_SHARD_BY_STUDY: its StudyInstanceUID
 * copied into key[0..key_capacity) with a NUL.  Only the header is parsed.  RP_OK,
 * or the parser's status (RP_E_CORRUPT, ...) when there is no usable UID; the caller then
 * falls back to the path key so every file still lands in exactly one shard. */
RP_API RP_NODISCARD int rp_shard_study_key(const void *data, size_t size, char *key,
					   size_t key_capacity, struct rp_errbuf *err);

/* ---- The restart journal: which outputs are complete ----
 *
 * One append-only text file per writer name (DIR/journal-NAME.log); a record is one line
 * "RPJ1 <size> <crc32c> <relpath>\n" written with a single write() on an O_APPEND
 * descriptor, where crc32c (8 hex digits) covers "<size> <relpath>".  A record is added
 * only once its output is durable (fsync + rename) and verified.  Readers keep only whole
 * lines whose checksum matches, so a torn or interleaved line (a task killed mid-write, two
 * tasks of one shard on an NFS client) is ignored, never misread.  Shards write different
 * files, so no lock is needed; a lost record only means that output is made again. */
struct rp_journal;

/* Creates DIR if needed, loads the records of every DIR/journal-*.log, and opens
 * DIR/journal-NAME.log for appending (NAME: letters, digits, '-', '_', '.').  RP_OK,
 * RP_E_INVALID_ARG, RP_E_IO or RP_E_NOMEM with the reason in err. */
RP_API RP_NODISCARD int rp_journal_open(const char *dir, const char *name,
					struct rp_journal **journal_ret, struct rp_errbuf *err);

/* 1 and the recorded size in *size when relpath has a record, else 0. */
RP_API int rp_journal_lookup(const struct rp_journal *journal, const char *relpath,
			     uint64_t *size);

/* Number of valid records loaded by rp_journal_open() (and appended since). */
RP_API size_t rp_journal_count(const struct rp_journal *journal);

/* Appends the record of a complete output.  Not thread-safe (call from one thread at a
 * time, e.g. the pipeline's on_done).  RP_OK, RP_E_INVALID_ARG (a newline in relpath) or
 * RP_E_IO. */
RP_API RP_NODISCARD int rp_journal_append(struct rp_journal *journal, const char *relpath,
					  uint64_t size, struct rp_errbuf *err);

/* NULL is a no-op. */
RP_API void rp_journal_close(struct rp_journal *journal);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_PIPELINE_H */
