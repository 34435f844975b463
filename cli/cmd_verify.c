/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_verify.c - `radpipe verify A B`: the same pixels in two files, or in two trees
 * (paired by relative path), whatever their transfer syntaxes. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct verify_ctx {
	const char *other_root;      /* B when A and B are trees */
	const char *other_file;      /* B when A is a file */
	uint64_t tolerance;
	size_t files, failed;
};

static int
load(const char *path, const void **data, size_t *size, struct rp_dicom **ds,
     struct rp_errbuf *err)
{
	int st = rp_cli_map(path, data, size, err);
	if (st == RP_OK)
		st = rp_dicom_parse(*data, *size, NULL, ds, err);
	return st;
}

static int
compare_pixels(struct rp_dicom *a, struct rp_dicom *b, uint64_t *max_error,
	       struct rp_errbuf *err)
{
	const struct rp_dicom_info *ia = rp_dicom_get_info(a), *ib = rp_dicom_get_info(b);
	*max_error = 0;
	if (!ia->has_pixels || !ib->has_pixels)
		return ia->has_pixels == ib->has_pixels ? RP_OK :
			rp_cli_fail(err, RP_E_MISMATCH, "only one of the files has pixel data");
	if (ia->img.width != ib->img.width || ia->img.height != ib->img.height ||
	    ia->img.components != ib->img.components || ia->frames != ib->frames ||
	    ia->img.bits_allocated != ib->img.bits_allocated ||
	    ia->img.is_signed != ib->img.is_signed)
		return rp_cli_fail(err, RP_E_MISMATCH,
				   "geometry differs: %ux%ux%u x%u frames %u-bit%s vs %ux%ux%u x%u "
				   "frames %u-bit%s",
				   ia->img.width, ia->img.height, ia->img.components, ia->frames,
				   ia->img.bits_allocated, ia->img.is_signed ? " signed" : "",
				   ib->img.width, ib->img.height, ib->img.components, ib->frames,
				   ib->img.bits_allocated, ib->img.is_signed ? " signed" : "");
	size_t frame = rp_image_frame_size(&ia->img);
	uint8_t *fa = malloc(frame), *fb = malloc(frame);
	int st = fa && fb ? RP_OK : RP_E_NOMEM;
	for (uint32_t f = 0; st == RP_OK && f < ia->frames; f++) {
		st = rp_dicom_decode_frame(a, f, fa, frame, err);
		if (st == RP_OK)
			st = rp_dicom_decode_frame(b, f, fb, frame, err);
		uint64_t e = 0;
		if (st == RP_OK)
			st = rp_frame_compare(&ia->img, fa, fb, frame, &e);
		if (e > *max_error)
			*max_error = e;
	}
	free(fa);
	free(fb);
	return st;
}

static int
verify_pair(struct verify_ctx *c, const char *pa, const char *pb)
{
	struct rp_errbuf err = { "" };
	const void *da = NULL, *db = NULL;
	size_t sa = 0, sb = 0;
	struct rp_dicom *a = NULL, *b = NULL;
	uint64_t max_error = 0;
	const char *bad = pa;
	int st = load(pa, &da, &sa, &a, &err);
	if (st == RP_OK) {
		bad = pb;
		st = load(pb, &db, &sb, &b, &err);
	}
	if (st == RP_OK) {
		bad = pb;
		st = compare_pixels(a, b, &max_error, &err);
	}
	if (st == RP_OK && max_error > c->tolerance)
		st = rp_cli_fail(&err, RP_E_MISMATCH, "pixels differ from %s (max error %llu)", pa,
				 (unsigned long long)max_error);
	c->files++;
	if (st != RP_OK) {
		c->failed++;
		rp_cli_error(bad, st, err.msg);
	} else if (rp_cli_json) {
		printf("{\"a\":\"%s\",\"b\":\"%s\",\"match\":true,\"max_error\":%llu}\n", pa, pb,
		       (unsigned long long)max_error);
	} else if (!rp_cli_quiet && max_error) {
		printf("%s: pixels within %llu of %s\n", pb, (unsigned long long)max_error, pa);
	}
	rp_dicom_free(a);
	rp_dicom_free(b);
	rp_cli_unmap(da, sa);
	rp_cli_unmap(db, sb);
	return 0;
}

static int
verify_tree_file(void *arg, const char *path, const char *rel)
{
	struct verify_ctx *c = arg;
	char other[PATH_MAX];
	if (c->other_file)
		snprintf(other, sizeof(other), "%s", c->other_file);
	else
		snprintf(other, sizeof(other), "%s/%s", c->other_root, rel);
	return verify_pair(c, path, other);
}

int
rp_cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tolerance", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_ctx c = { 0 };
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 't': {
			char *end;
			c.tolerance = strtoull(optarg, &end, 10);
			if (*end) {
				rp_cli_errorf("--tolerance takes a whole number");
				return RP_EXIT_USAGE;
			}
			break;
		}
		case 'j':
			rp_cli_json = true;
			break;
		case 'q':
			rp_cli_quiet = true;
			break;
		case 'h':
			printf("Usage: radpipe verify [--tolerance N] [--json] [-q] A B\n"
			       "\n"
			       "Decodes A and B (files, or trees paired by relative path) and compares their\n"
			       "pixels sample by sample, whatever their transfer syntaxes.  Exit 0 only when\n"
			       "every pair matches exactly, or within N (near-lossless JPEG-LS: N = NEAR).\n");
			return RP_EXIT_OK;
		default:
			return RP_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		rp_cli_errorf("verify needs exactly two paths, A and B (see 'radpipe verify --help')");
		return RP_EXIT_USAGE;
	}
	struct stat sa, sb;
	if (stat(argv[optind], &sa) != 0 || stat(argv[optind + 1], &sb) != 0) {
		rp_cli_errorf("cannot stat %s or %s", argv[optind], argv[optind + 1]);
		return RP_EXIT_IO;
	}
	if (S_ISDIR(sa.st_mode) != S_ISDIR(sb.st_mode)) {
		rp_cli_errorf("A and B must both be files or both be directories");
		return RP_EXIT_USAGE;
	}
	if (S_ISDIR(sa.st_mode))
		c.other_root = argv[optind + 1];
	else
		c.other_file = argv[optind + 1];
	int rc = rp_cli_walk(argv + optind, 1, verify_tree_file, &c);
	if (rc)
		return rc;
	if (!rp_cli_quiet && !rp_cli_json)
		printf("verify: %zu file(s) compared, %zu differ%s\n", c.files, c.failed,
		       c.failed ? "" : ": pixels identical");
	return c.failed ? RP_EXIT_FAILED : RP_EXIT_OK;
}
