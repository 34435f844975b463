/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_store_scu.c - delivering into a PACS by C-STORE: a real Orthanc (Debian's,
 * started on loopback ports with its own storage) takes CT and MR instances in their own
 * transfer syntaxes, and its REST API shows each once with every attribute and the pixels
 * unchanged (pydicom as the reader), also after a second delivery; DCMTK's storescp,
 * which accepts only uncompressed syntaxes, gets JPEG-LS and JPEG 2000 instances decoded
 * by our codecs, with pixels equal to the WG-04 uncompressed references; a PACS that is
 * not there is a network error for every instance. */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const kFiles[] = {
	"ct/wg04/CT1_UNC.dcm", "ct/wg04/CT1_JLSL.dcm", "mr/wg04/MR4_J2KR.dcm",
	"ct/wg04/CT2_RLE.dcm", "mr/wg04/MR2_JPLL.dcm", "mr/pydicom/emri_small.dcm",
};
#define NFILES (sizeof(kFiles) / sizeof(kFiles[0]))

static void
paths_of(char paths[][600], const char **ptrs)
{
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(paths[i], 600, "%s/%s", rp_test_corpus_dir(), kFiles[i]);
		ptrs[i] = paths[i];
	}
}

static void
test_into_orthanc(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-orthanc.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint16_t http = rp_test_free_port(), dicom = rp_test_free_port();
	char cmd[8192], pid[32] = "";
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/net/orthanc.py' start '%s' %u %u",
		 getenv("RADPIPE_SOURCE_DIR"), dir, http, dicom);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(pid, sizeof(pid), p))
		pid[0] = 0;
	assert_int_equal(pclose(p), 0);
	pid_t orthanc = (pid_t)atoi(pid);
	assert_true(orthanc > 0);

	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	struct rp_store_scu_options o;
	rp_store_scu_options_init(&o);
	o.called_ae = "ORTHANC";
	o.host = "127.0.0.1";
	o.port = dicom;
	struct rp_store_result res[NFILES];
	struct rp_errbuf err = {""};
	for (int round = 0; round < 2; round++) {
		RP_ASSERT_OK(rp_store_scu_send(&o, ptrs, NFILES, res, &err), &err);
		for (size_t i = 0; i < NFILES; i++) {
			assert_int_equal(res[i].status, RP_OK);
			assert_int_equal(res[i].dimse_status, 0);
			assert_int_equal(res[i].decoded, 0); /* Orthanc takes every syntax */
		}
	}
	/* Once each, whatever was sent twice; every attribute and the pixels as sent. */
	snprintf(cmd, sizeof(cmd), "test \"$(python3 '%s/tests/net/orthanc.py' count %u)\" = %zu",
		 getenv("RADPIPE_SOURCE_DIR"), http, NFILES);
	assert_int_equal(system(cmd), 0);
	size_t at = (size_t)snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/net/orthanc.py' "
				     "check %u", getenv("RADPIPE_SOURCE_DIR"), http);
	for (size_t i = 0; i < NFILES; i++)
		at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, " '%s'", paths[i]);
	assert_int_equal(system(cmd), 0);
	kill(-orthanc, SIGTERM);
	kill(orthanc, SIGTERM);
	for (int i = 0; i < 100 && kill(orthanc, 0) == 0; i++)
		usleep(100000);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_decoded_for_uncompressed_pacs(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-storescp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint16_t port = rp_test_free_port();
	char cmd[4096];
	pid_t scp = fork();
	if (scp == 0) {
		char portstr[8];
		snprintf(portstr, sizeof(portstr), "%u", port);
		/* storescp's default: uncompressed transfer syntaxes only. */
		execlp("storescp", "storescp", "-aet", "PACS", "-od", dir, "-uf", portstr,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd), "echoscu -q -aec PACS 127.0.0.1 %u 2>/dev/null", port);
		if (system(cmd) == 0)
			break;
		usleep(100000);
	}
	const char *corpus = rp_test_corpus_dir();
	char a[600], b[600], c[600];
	snprintf(a, sizeof(a), "%s/ct/wg04/CT1_JLSL.dcm", corpus);
	snprintf(b, sizeof(b), "%s/mr/wg04/MR4_J2KR.dcm", corpus);
	snprintf(c, sizeof(c), "%s/mr/wg04/MR1_UNC.dcm", corpus);
	const char *ptrs[] = {a, b, c};
	struct rp_store_scu_options o;
	rp_store_scu_options_init(&o);
	o.called_ae = "PACS";
	o.host = "127.0.0.1";
	o.port = port;
	o.scratch_dir = dir;
	struct rp_store_result res[3];
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_store_scu_send(&o, ptrs, 3, res, &err), &err);
	assert_int_equal(res[0].decoded, 1);
	assert_int_equal(res[1].decoded, 1);
	assert_int_equal(res[2].decoded, 0);
	/* What storescp wrote holds the pixels of the uncompressed references. */
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 - '%s' '%s' <<'PY'\n"
		 "import glob, sys, pydicom\n"
		 "d, corpus = sys.argv[1], sys.argv[2]\n"
		 "got = {}\n"
		 "for f in glob.glob(d + '/*.*'):\n"
		 "    try: ds = pydicom.dcmread(f)\n"
		 "    except Exception: continue\n"
		 "    got[ds.SeriesInstanceUID] = ds\n"
		 "refs = [corpus + '/ct/wg04/CT1_UNC.dcm', corpus + '/mr/wg04/MR4_UNC.dcm',\n"
		 "        corpus + '/mr/wg04/MR1_UNC.dcm']\n"
		 "for r in refs:\n"
		 "    ref = pydicom.dcmread(r)\n"
		 "    s = got.get(ref.SeriesInstanceUID)\n"
		 "    assert s is not None, 'nothing stored for ' + r\n"
		 "    assert not s.file_meta.TransferSyntaxUID.is_compressed, r\n"
		 "    assert s.PixelData == ref.PixelData, 'pixels differ from ' + r\n"
		 "PY", dir, corpus);
	assert_int_equal(system(cmd), 0);
	kill(scp, SIGTERM);
	waitpid(scp, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_pacs_down(void **state)
{
	(void)state;
	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	struct rp_store_scu_options o;
	rp_store_scu_options_init(&o);
	o.called_ae = "PACS";
	o.host = "127.0.0.1";
	o.port = rp_test_free_port();
	o.timeout_s = 5;
	struct rp_store_result res[NFILES];
	struct rp_errbuf err = {""};
	assert_int_equal(rp_store_scu_send(&o, ptrs, NFILES, res, &err), RP_E_NET);
	for (size_t i = 0; i < NFILES; i++)
		assert_int_equal(res[i].status, RP_E_NET);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_into_orthanc),
		cmocka_unit_test(test_decoded_for_uncompressed_pacs),
		cmocka_unit_test(test_pacs_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
