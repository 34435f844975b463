/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_info.c - `radpipe info`: what each DICOM file holds, and its pixel hash. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

struct info_ctx {
	bool hash;
	int rc;
};

static int
info_one(void *arg, const char *path, const char *rel)
{
	(void)rel;
	struct info_ctx *c = arg;
	struct rp_errbuf err = { "" };
	const void *data;
	size_t size;
	int st = rp_cli_map(path, &data, &size, &err);
	struct rp_dicom *ds = NULL;
	if (st == RP_OK)
		st = rp_dicom_parse(data, size, NULL, &ds, &err);
	uint8_t hash[32];
	char hex[65] = "";
	const struct rp_dicom_info *i = ds ? rp_dicom_get_info(ds) : NULL;
	if (st == RP_OK && i->has_pixels && c->hash) {
		st = rp_dicom_pixel_hash(ds, hash, &err);
		for (int k = 0; st == RP_OK && k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", hash[k]);
	}
	if (st != RP_OK) {
		rp_cli_error(path, st, err.msg);
		if (!c->rc)
			c->rc = rp_cli_exit_code(st) == RP_EXIT_USAGE ? RP_EXIT_FAILED :
									 rp_cli_exit_code(st);
	} else if (rp_cli_json) {
		printf("{\"file\":");
		rp_cli_json_string(stdout, path);
		printf(",\"transfer_syntax\":\"%s\",\"transfer_syntax_name\":\"%s\",\"modality\":",
		       i->ts->uid, i->ts->name);
		rp_cli_json_string(stdout, i->modality);
		printf(",\"has_pixels\":%s", i->has_pixels ? "true" : "false");
		if (i->has_pixels) {
			printf(",\"rows\":%u,\"columns\":%u,\"frames\":%u,\"samples_per_pixel\":%u,"
			       "\"bits_allocated\":%u,\"bits_stored\":%u,\"signed\":%s,\"photometric\":",
			       i->img.height, i->img.width, i->frames, i->img.components,
			       i->img.bits_allocated, i->img.bits_stored,
			       i->img.is_signed ? "true" : "false");
			rp_cli_json_string(stdout, i->photometric);
			printf(",\"pixel_data_bytes\":%llu,\"file_bytes\":%zu",
			       (unsigned long long)i->pixel_value_length, size);
		}
		if (hex[0])
			printf(",\"pixel_sha256\":\"%s\"", hex);
		printf("}\n");
	} else {
		printf("%s\n  transfer syntax  %s (%s)%s\n", path, i->ts->name, i->ts->uid,
		       i->has_meta ? "" : " [no file meta information]");
		printf("  modality         %s\n", i->modality[0] ? i->modality : "-");
		if (i->has_pixels) {
			printf("  image            %u x %u x %u frame(s), %u sample(s)/pixel, %s\n",
			       i->img.height, i->img.width, i->frames, i->img.components,
			       i->photometric[0] ? i->photometric : "-");
			printf("  bits             allocated %u, stored %u, %s\n",
			       i->img.bits_allocated, i->img.bits_stored,
			       i->img.is_signed ? "signed" : "unsigned");
			printf("  pixel data       %llu bytes in a %zu-byte file%s\n",
			       (unsigned long long)i->pixel_value_length, size,
			       i->encapsulated ? " (encapsulated)" : "");
			if (hex[0])
				printf("  pixel sha256     %s\n", hex);
		} else {
			printf("  image            none (no pixel data)\n");
		}
	}
	rp_dicom_free(ds);
	rp_cli_unmap(data, size);
	return 0;
}

int
rp_cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-hash", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct info_ctx c = { .hash = true };
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			rp_cli_json = true;
			break;
		case 'n':
			c.hash = false;
			break;
		case 'h':
			printf("Usage: radpipe info [--json] [--no-hash] FILE|DIR...\n"
			       "\n"
			       "Prints transfer syntax, modality, geometry, bits, sign and pixel data size of\n"
			       "each DICOM file, and the pixel hash: SHA-256 over every frame decoded to its\n"
			       "canonical form (docs/PIXELHASH.md), equal for the same pixels in any syntax.\n");
			return RP_EXIT_OK;
		default:
			return RP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		rp_cli_errorf("info needs at least one FILE (see 'radpipe info --help')");
		return RP_EXIT_USAGE;
	}
	int rc = rp_cli_walk(argv + optind, argc - optind, info_one, &c);
	return rc ? rc : c.rc;
}
