/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/standalone.c - runs a libFuzzer target without libFuzzer: every file under
 * the directories (or files) named on the command line is fed to LLVMFuzzerTestOneInput
 * once as it is, and once more cut at a few lengths.  CTest uses it so the fuzz targets
 * and their regression inputs run on every build; ASan/UBSan builds catch what they hit.
 * With clang, build the same target with -fsanitize=fuzzer instead (RP_FUZZ=ON). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t inputs;

static void
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || n > (64L << 20)) {
		fclose(f);
		return;
	}
	uint8_t *buf = malloc(n ? (size_t)n : 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	fclose(f);
	/* Exact-size heap copies, so a read one past the end trips ASan. */
	size_t cuts[] = { got, got / 2, got > 200 ? 200 : got / 3, got * 9 / 10 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		uint8_t *copy = malloc(cuts[i] ? cuts[i] : 1);
		memcpy(copy, buf, cuts[i]);
		LLVMFuzzerTestOneInput(copy, cuts[i]);
		free(copy);
		inputs++;
	}
	free(buf);
}

static void
run_path(const char *path, int depth)
{
	struct stat st;
	if (depth > 8 || stat(path, &st) != 0)
		return;
	if (S_ISREG(st.st_mode)) {
		run_file(path);
		return;
	}
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char sub[4400];
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		run_path(sub, depth + 1);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "standalone: %s: no such file or directory\n", argv[i]);
			return 1;
		}
		run_path(argv[i], 0);
	}
	printf("standalone: %zu inputs ran without a crash\n", inputs);
	return inputs ? 0 : 1;
}
