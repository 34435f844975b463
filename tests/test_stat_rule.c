/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_stat_rule.c - STAT rules (net/stat_rule.c) on real corpus files in every
 * encoding the parser reads (explicit and implicit little endian, big endian, deflated):
 * space-padded values, case, `*` and `?`, all terms of a rule, any of several rules,
 * absent attributes; a small self-made file for what the corpus lacks (several values,
 * NUL padding, a leading space); every malformed rule refused with its text in the
 * message; unreadable files matching nothing. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/stat_rule.h"

/* The corpus file's full path, after checking its SHA-256 against corpus/files.tsv. */
static const char *
corpus(const char *rel)
{
	static char path[8][1024];
	static unsigned next;
	size_t n;
	free(rp_test_corpus_load(rel, &n));
	char *p = path[next++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", rp_test_corpus_dir(), rel);
	return p;
}

/* Whether the rules (parsed here, which must succeed) match the file. */
static bool
matches(const char *const *rules, size_t n, const char *path)
{
	struct rp__stat_rules *r = NULL;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp__stat_rules_parse(rules, n, &r, &err), &err);
	bool m = rp__stat_rules_match(r, path);
	rp__stat_rules_free(r);
	return m;
}

static bool
match1(const char *rule, const char *path)
{
	return matches(&rule, 1, path);
}

#define EXPECT(rule, path, want)                                                           \
	do {                                                                               \
		bool got_ = match1(rule, path);                                            \
		printf("# %-55s %s\n", rule, got_ ? "match" : "no match");                 \
		if (got_ != (want))                                                        \
			fail_msg("'%s' on %s: %s, expected %s", rule, path,                \
				 got_ ? "match" : "no match", (want) ? "match" : "no match"); \
	} while (0)

/* The Philips head CT: "CT", "1A TRAUMA/PLAIN HEAD DM ", "STEREOTAXIS ", "BRAIN ",
 * "CT4 ", an empty AccessionNumber, no RequestedProcedureDescription. */
static void
test_philips_ct(void **state)
{
	(void)state;
	const char *f = corpus("ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010/I10");
	EXPECT("Modality=CT", f, true);
	EXPECT("Modality=MR", f, false);
	EXPECT("Modality=C", f, false);
	EXPECT("modality=ct", f, true);
	EXPECT("BodyPartExamined=brain", f, true);
	EXPECT("BodyPartExamined=BRAIN ", f, true);
	EXPECT("StudyDescription=1A TRAUMA/PLAIN HEAD DM", f, true);
	EXPECT("StudyDescription=*trauma*", f, true);
	EXPECT("StudyDescription=*TRAUMA", f, false);
	EXPECT("StudyDescription=1A*HEAD D?", f, true);
	EXPECT("StudyDescription=1A*HEAD D??", f, false);
	EXPECT("SeriesDescription=STEREO*", f, true);
	EXPECT("StationName=CT?", f, true);
	EXPECT("StationName=CT??", f, false);
	EXPECT("ProtocolName=*/head", f, true);
	EXPECT("Modality=CT,BodyPartExamined=BR?IN", f, true);
	EXPECT(" Modality = CT , BodyPartExamined = CHEST ", f, false);
	EXPECT("Modality=CT,StudyDescription=*STROKE*", f, false);
	/* Empty and absent attributes are one empty value. */
	EXPECT("AccessionNumber=*", f, true);
	EXPECT("AccessionNumber=?*", f, false);
	EXPECT("RequestedProcedureDescription=*", f, true);
	EXPECT("RequestedProcedureDescription=?*", f, false);
	/* Any rule of several. */
	const char *two[] = {"Modality=MR", "StationName=ct4"};
	assert_true(matches(two, 2, f));
	const char *none[] = {"Modality=MR", "StationName=CT5", "BodyPartExamined=CHEST"};
	assert_false(matches(none, 3, f));
	assert_false(matches(NULL, 0, f));
}

/* The same CT1 image in three encodings gives the same answers. */
static void
test_encodings(void **state)
{
	(void)state;
	const char *files[] = {corpus("ct/wg04/CT1_UNC.dcm"),
			       corpus("ct/dicomparser/CT1_UNC.explicit_big_endian.dcm"),
			       corpus("ct/dicomparser/CT1_UNC.implicit_little_endian.dcm")};
	for (int i = 0; i < 3; i++) {
		printf("# %s\n", files[i]);
		EXPECT("InstitutionName=jfk imaging*,StudyDescription=e+1", files[i], true);
		EXPECT("StationName=CT01_OC?", files[i], true);
		EXPECT("StationName=CT01", files[i], false);
		EXPECT("InstitutionName=JFK,StudyDescription=e+1", files[i], false);
	}
	/* Deflated dataset: the values come from the inflated copy. */
	const char *dfl = corpus("edge/pydicom/image_dfl.dcm");
	EXPECT("Modality=OT,ReferringPhysicianName=^^^^", dfl, true);
	EXPECT("Modality=O", dfl, false);
	EXPECT("AccessionNumber=?*", dfl, false);
	/* Person names and padded values of other vendors. */
	EXPECT("ReferringPhysicianName=thomas^*",
	       corpus("ct/dicomparser/CT0012.not_fragmented_bot_rle.dcm"), true);
	const char *cr = corpus("cr_dx/wg04/RG3_UNC.dcm");
	EXPECT("Modality=CR,BodyPartExamined=EXTREMITY,AccessionNumber=FUJI*", cr, true);
	EXPECT("StudyDescription=*tibia", cr, true);
}

/* Appends one explicit VR little endian element with a short length. */
static size_t
put_elem(uint8_t *p, uint16_t g, uint16_t e, const char vr[2], const char *v, size_t n)
{
	p[0] = (uint8_t)g;
	p[1] = (uint8_t)(g >> 8);
	p[2] = (uint8_t)e;
	p[3] = (uint8_t)(e >> 8);
	p[4] = (uint8_t)vr[0];
	p[5] = (uint8_t)vr[1];
	p[6] = (uint8_t)n;
	p[7] = (uint8_t)(n >> 8);
	memcpy(p + 8, v, n);
	return 8 + n;
}

/* A file made here: StudyDescription with two values, Modality NUL-padded, a
 * BodyPartExamined with a leading space (none of which the corpus has). */
static void
test_values_made_here(void **state)
{
	(void)state;
	uint8_t buf[512] = {0};
	size_t n = 128;
	memcpy(buf + n, "DICM", 4);
	n += 4;
	static const char ts[] = "1.2.840.10008.1.2.1\0";
	uint8_t meta[64];
	size_t m = put_elem(meta, 0x0002, 0x0010, "UI", ts, 20);
	char glen[4] = {(char)m, 0, 0, 0};
	n += put_elem(buf + n, 0x0002, 0x0000, "UL", glen, 4);
	memcpy(buf + n, meta, m);
	n += m;
	n += put_elem(buf + n, 0x0008, 0x0060, "CS", "CT\0\0", 4);
	n += put_elem(buf + n, 0x0008, 0x1030, "LO", "ROUTINE\\STAT HEAD ", 18);
	n += put_elem(buf + n, 0x0018, 0x0015, "CS", " HEAD ", 6);
	char dir[512], path[600];
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/made.dcm", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	EXPECT("Modality=CT", path, true);
	EXPECT("Modality=CT?", path, false);
	EXPECT("StudyDescription=stat*", path, true);
	EXPECT("StudyDescription=routine", path, true);
	EXPECT("StudyDescription=ROUTINE*HEAD", path, false);
	EXPECT("StudyDescription=*STAT HEAD", path, true);
	EXPECT("BodyPartExamined=HEAD", path, true);
	EXPECT("Modality=CT,StudyDescription=STAT HEAD,BodyPartExamined=head", path, true);
	remove(path);
	remove(dir);
}

/* Each malformed rule: RP_E_INVALID_ARG, nothing returned, the rule named. */
static void
test_bad_rules(void **state)
{
	(void)state;
	static const struct {
		const char *rule, *says;
	} bad[] = {
		{"Modality", "not Keyword=glob"},
		{"Modalty=CT", "unknown keyword 'Modalty'"},
		{"CallingAET=CT_SCANNER*", "unknown keyword 'CallingAET'"},
		{"Modality=", "empty pattern"},
		{"Modality=CT,", "empty term"},
		{"Modality=CT,,BodyPartExamined=HEAD", "empty term"},
		{"  ", "is empty"},
		{"StudyDescription=A\\B", "cannot hold"},
		{"=CT", "unknown keyword ''"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *rules[] = {"Modality=MR", bad[i].rule};
		struct rp__stat_rules *r = (struct rp__stat_rules *)rules;
		struct rp_errbuf err = {""};
		int st = rp__stat_rules_parse(rules, 2, &r, &err);
		printf("# '%s': %s: %s\n", bad[i].rule, rp_status_name(st), err.msg);
		assert_int_equal(st, RP_E_INVALID_ARG);
		assert_null(r);
		char quoted[300];
		snprintf(quoted, sizeof(quoted), "'%s'", bad[i].rule);
		if (!strstr(err.msg, quoted) || !strstr(err.msg, bad[i].says))
			fail_msg("message for '%s' lacks the rule or '%s': %s", bad[i].rule,
				 bad[i].says, err.msg);
	}
	/* The list of known keywords comes with an unknown one. */
	const char *one = "Modalty=CT";
	struct rp__stat_rules *r = NULL;
	struct rp_errbuf err = {""};
	assert_int_equal(rp__stat_rules_parse(&one, 1, &r, &err), RP_E_INVALID_ARG);
	assert_non_null(strstr(err.msg, "AccessionNumber"));
}

/* A missing file, a directory, a file that is not DICOM and one in a transfer syntax the
 * parser refuses match nothing, not even `*`. */
static void
test_unreadable_matches_nothing(void **state)
{
	(void)state;
	char dir[512], path[600];
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/not.dcm", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	/* A truncated element header as a bare dataset: the parser must refuse it. */
	assert_int_equal(fwrite("\x08\x00\x60\x00", 1, 4, f), 4);
	assert_int_equal(fclose(f), 0);
	EXPECT("Modality=*", "/nonexistent/radpipe/file.dcm", false);
	EXPECT("Modality=*", dir, false);
	EXPECT("Modality=*", path, false);
	/* A transfer syntax the parser does not know (Deflated Image Frame Compression). */
	EXPECT("Modality=*", corpus("edge/pydicom/liver_deflate.dcm"), false);
	remove(path);
	remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_philips_ct),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_values_made_here),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_unreadable_matches_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
