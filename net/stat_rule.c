/* SPDX-License-Identifier: BSD-3-Clause */
/* net/stat_rule.c - STAT rules: parsing `Keyword=glob,...`, reading the named top-level
 * attributes of a Part 10 file with the library's parser, glob matching. */
#include "net/stat_rule.h"
#include "codec/dicom/dicom_impl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files up to this size are read into memory; larger ones (multi-frame images) are
 * mapped, so that matching never costs their size in memory. */
#define READ_MAX ((size_t)64 << 20)

static const struct {
	const char *keyword;
	uint32_t tag;
} keywords[] = {
	{"Modality", RP__TAG(0x0008, 0x0060)},
	{"StudyDescription", RP__TAG(0x0008, 0x1030)},
	{"SeriesDescription", RP__TAG(0x0008, 0x103E)},
	{"BodyPartExamined", RP__TAG(0x0018, 0x0015)},
	{"ReferringPhysicianName", RP__TAG(0x0008, 0x0090)},
	{"StationName", RP__TAG(0x0008, 0x1010)},
	{"AccessionNumber", RP__TAG(0x0008, 0x0050)},
	{"InstitutionName", RP__TAG(0x0008, 0x0080)},
	{"InstitutionalDepartmentName", RP__TAG(0x0008, 0x1040)},
	{"ProtocolName", RP__TAG(0x0018, 0x1030)},
	{"PerformedProcedureStepDescription", RP__TAG(0x0040, 0x0254)},
	{"RequestedProcedureDescription", RP__TAG(0x0032, 0x1060)},
	{"StudyPriorityID", RP__TAG(0x0032, 0x000C)},
	{"RequestedProcedurePriority", RP__TAG(0x0040, 0x1003)},
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

struct term {
	uint32_t tag;
	char *glob;
};

struct rule {
	struct term *t;
	size_t n;
};

struct rp__stat_rules {
	struct rule *r;
	size_t n;
};

void
rp__stat_rules_free(struct rp__stat_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		for (size_t j = 0; j < r->r[i].n; j++)
			free(r->r[i].t[j].glob);
		free(r->r[i].t);
	}
	free(r->r);
	free(r);
}

/* [*b, *e) without the spaces at both ends. */
static void
trim(const char **b, const char **e)
{
	while (*b < *e && isspace((unsigned char)**b))
		(*b)++;
	while (*e > *b && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

static int
parse_term(const char *rule, const char *b, const char *e, struct term *t,
	   struct rp_errbuf *err)
{
	const char *eq = memchr(b, '=', (size_t)(e - b));
	if (!eq)
		return rp__err(err, RP_E_INVALID_ARG, "STAT rule '%s': term '%.*s' is not "
			       "Keyword=glob", rule, (int)(e - b), b);
	const char *kb = b, *ke = eq, *gb = eq + 1, *ge = e;
	trim(&kb, &ke);
	trim(&gb, &ge);
	size_t kn = (size_t)(ke - kb);
	t->tag = 0;
	for (size_t i = 0; i < NKEYWORDS; i++)
		if (strlen(keywords[i].keyword) == kn && strncasecmp(keywords[i].keyword, kb, kn) == 0)
			t->tag = keywords[i].tag;
	if (!t->tag) {
		char known[1024] = "";
		for (size_t i = 0; i < NKEYWORDS; i++) {
			strncat(known, i ? ", " : "", sizeof(known) - strlen(known) - 1);
			strncat(known, keywords[i].keyword, sizeof(known) - strlen(known) - 1);
		}
		return rp__err(err, RP_E_INVALID_ARG, "STAT rule '%s': unknown keyword '%.*s' "
			       "(known: %s)", rule, (int)kn, kb, known);
	}
	if (gb == ge)
		return rp__err(err, RP_E_INVALID_ARG, "STAT rule '%s': empty pattern for %.*s",
			       rule, (int)kn, kb);
	if (memchr(gb, '\\', (size_t)(ge - gb)))
		return rp__err(err, RP_E_INVALID_ARG, "STAT rule '%s': a pattern cannot hold '\\' "
			       "(it separates values; a pattern is matched against each one)",
			       rule);
	t->glob = strndup(gb, (size_t)(ge - gb));
	return t->glob ? RP_OK : RP_E_NOMEM;
}

static int
parse_rule(const char *text, struct rule *r, struct rp_errbuf *err)
{
	const char *b = text, *end = text + strlen(text);
	const char *tb = b, *te = end;
	trim(&tb, &te);
	if (tb == te)
		return rp__err(err, RP_E_INVALID_ARG, "STAT rule '%s' is empty", text);
	size_t cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	r->t = calloc(cap, sizeof(*r->t));
	if (!r->t)
		return RP_E_NOMEM;
	while (b <= end) {
		const char *c = memchr(b, ',', (size_t)(end - b));
		const char *e = c ? c : end;
		const char *xb = b, *xe = e;
		trim(&xb, &xe);
		if (xb == xe)
			return rp__err(err, RP_E_INVALID_ARG, "STAT rule '%s' has an empty term",
				       text);
		RP_TRY(parse_term(text, xb, xe, &r->t[r->n], err));
		r->n++;
		b = e + 1;
	}
	return RP_OK;
}

int
rp__stat_rules_parse(const char *const *rules, size_t n, struct rp__stat_rules **out,
		     struct rp_errbuf *err)
{
	*out = NULL;
	if (n && !rules)
		return rp__err(err, RP_E_INVALID_ARG, "STAT rules: NULL list");
	struct rp__stat_rules *r = calloc(1, sizeof(*r));
	if (!r || (n && !(r->r = calloc(n, sizeof(*r->r))))) {
		free(r);
		return RP_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int st = rules[i] ? parse_rule(rules[i], &r->r[i], err)
				  : rp__err(err, RP_E_INVALID_ARG, "STAT rule %zu is NULL", i);
		r->n = i + 1;
		if (st < 0) {
			rp__stat_rules_free(r);
			return st;
		}
	}
	*out = r;
	return RP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Matching */

/* Glob over [s, se): `*` any run, `?` one byte, letters case-insensitive.  Iterative,
 * backtracking only to the last `*`, so a hostile value costs O(len^2) at worst. */
static bool
glob_match(const char *g, const char *s, const char *se)
{
	const char *star = NULL, *resume = NULL;
	while (s < se) {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g && (*g == '?' || tolower((unsigned char)*g) ==
					       tolower((unsigned char)*s))) {
			g++;
			s++;
		} else if (star) {
			g = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return *g == 0;
}

static bool
pad(char c)
{
	return c == ' ' || c == '\0';
}

/* Whether the glob matches one of the `\`-separated values of v[0..n), each without its
 * padding. */
static bool
value_match(const char *glob, const char *v, size_t n)
{
	const char *end = v + n;
	for (const char *b = v;;) {
		const char *sep = memchr(b, '\\', (size_t)(end - b));
		const char *e = sep ? sep : end, *vb = b;
		while (vb < e && pad(*vb))
			vb++;
		while (e > vb && pad(e[-1]))
			e--;
		if (glob_match(glob, vb, e))
			return true;
		if (!sep)
			return false;
		b = sep + 1;
	}
}

static const struct rp__elem *
find_elem(const struct rp_dicom *ds, uint32_t tag)
{
	for (size_t i = 0; i < ds->elem_count; i++)
		if (ds->elems[i].tag == tag)
			return &ds->elems[i];
	return NULL;
}

static bool
term_match(const struct rp_dicom *ds, const struct term *t)
{
	const struct rp__elem *e = find_elem(ds, t->tag);
	if (!e || e->undefined || e->value > ds->size || ds->size - e->value < e->length)
		return glob_match(t->glob, "", "");
	return value_match(t->glob, (const char *)ds->buf + e->value, e->length);
}

bool
rp__stat_rules_match(const struct rp__stat_rules *r, const char *part10_path)
{
	if (!r || !r->n || !part10_path)
		return false;
	int fd = open(part10_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	uint8_t *buf = NULL;
	void *map = MAP_FAILED;
	size_t size = 0;
	bool ok = false, hit = false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		goto out;
	size = (size_t)st.st_size;
	if (size <= READ_MAX) {
		if (!(buf = malloc(size)))
			goto out;
		size_t done = 0;
		while (done < size) {
			ssize_t k = pread(fd, buf + done, size - done, (off_t)done);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			done += (size_t)k;
		}
		size = done;
		ok = size > 0;
	} else {
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		ok = map != MAP_FAILED;
	}
	if (!ok)
		goto out;
	struct rp_dicom *ds = NULL;
	if (rp_dicom_parse(buf ? (const void *)buf : map, size, NULL, &ds, NULL) != RP_OK)
		goto out;
	for (size_t i = 0; i < r->n && !hit; i++) {
		bool all = r->r[i].n > 0;
		for (size_t j = 0; j < r->r[i].n && all; j++)
			all = term_match(ds, &r->r[i].t[j]);
		hit = all;
	}
	rp_dicom_free(ds);
out:
	free(buf);
	if (map != MAP_FAILED)
		munmap(map, size);
	close(fd);
	return hit;
}
