/* SPDX-License-Identifier: BSD-3-Clause */
/* net/stow.c - DICOMweb STOW-RS (PS3.18 10.5) over libcurl: one POST of URL/studies with
 * the instances as a multipart/related body, streamed from their files, and the answer
 * (HTTP status, and the FailedSOPSequence of the response dataset in DICOM JSON) turned
 * into one rp_store_result per instance.  libcurl appears in this file only. */
#include "radpipe/dicomnet.h"
#include "common/fileio.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOUNDARY "radpipe-stow-7f3a9c2e51d04b86"
#define PART_HEAD "\r\n--" BOUNDARY "\r\nContent-Type: application/dicom\r\n\r\n"
#define TAIL "\r\n--" BOUNDARY "--\r\n"
#define MAX_RESPONSE (16u << 20)

void
rp_stow_options_init(struct rp_stow_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->timeout_s = 300;
}

/* The body as a sequence of pieces read in turn: part header, file, ..., tail. */
struct body {
	const char *const *paths;
	size_t count, i;             /* file i is next (or open) */
	int stage;                   /* 0 header, 1 file, 2 tail */
	size_t off;                  /* in the header or tail */
	FILE *f;
	int read_errno;
};

static size_t
read_body(char *buf, size_t size, size_t nitems, void *ctx)
{
	struct body *b = ctx;
	size_t cap = size * nitems, n = 0;
	while (n < cap) {
		if (b->i == b->count || b->stage == 2) {
			size_t len = sizeof(TAIL) - 1 - b->off, k = len < cap - n ? len : cap - n;
			memcpy(buf + n, TAIL + b->off, k);
			b->off += k;
			n += k;
			b->stage = 2;
			break;
		}
		if (b->stage == 0) {
			/* The first part has no CRLF before its delimiter (RFC 2046 allows it;
			 * kept simple: the preamble is then the empty line). */
			size_t len = sizeof(PART_HEAD) - 1 - b->off, k = len < cap - n ? len : cap - n;
			memcpy(buf + n, PART_HEAD + b->off, k);
			b->off += k;
			n += k;
			if (b->off == sizeof(PART_HEAD) - 1) {
				b->off = 0;
				b->stage = 1;
				if (!(b->f = fopen(b->paths[b->i], "rb"))) {
					b->read_errno = errno;
					return CURL_READFUNC_ABORT;
				}
			}
			continue;
		}
		size_t k = fread(buf + n, 1, cap - n, b->f);
		n += k;
		if (k == 0) {
			if (ferror(b->f)) {
				b->read_errno = EIO;
				return CURL_READFUNC_ABORT;
			}
			fclose(b->f);
			b->f = NULL;
			b->i++;
			b->stage = 0;
		}
	}
	return n;
}

struct resp {
	char *p;
	size_t len;
};

static size_t
write_resp(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct resp *r = ctx;
	size_t n = size * nmemb;
	if (r->len + n > MAX_RESPONSE)
		return 0;
	char *p = realloc(r->p, r->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + r->len, data, n);
	r->p = p;
	r->len += n;
	r->p[r->len] = 0;
	return n;
}

/* The SOP Instance UID of a Part 10 file, "" when it cannot be read. */
static void
sop_uid(const char *path, char uid[65])
{
	uid[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			struct rp_dicom *ds = NULL;
			struct rp_errbuf e;
			if (rp_dicom_parse(m, (size_t)st.st_size, NULL, &ds, &e) == RP_OK) {
				snprintf(uid, 65, "%s", rp_dicom_get_info(ds)->sop_instance_uid);
				rp_dicom_free(ds);
			}
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
}

/* In a DICOM JSON response, the FailureReason given for `uid` in FailedSOPSequence
 * (00081198), or -1 when it is not listed there.  The sequence's items each hold
 * ReferencedSOPInstanceUID (00081155) and FailureReason (00081197). */
static int
failure_reason(const char *json, const char *uid)
{
	const char *seq = json ? strstr(json, "\"00081198\"") : NULL;
	if (!seq || !*uid)
		return -1;
	/* The sequence ends where the ReferencedSOPSequence (00081199) of the successes or
	 * the end of the object begins; a UID in it is failed. */
	const char *end = strstr(seq, "\"00081199\"");
	char needle[80];
	snprintf(needle, sizeof(needle), "\"%s\"", uid);
	const char *u = strstr(seq, needle);
	if (!u || (end && u > end))
		return -1;
	const char *r = strstr(u, "\"00081197\"");
	const char *v = r ? strstr(r, "\"Value\"") : NULL;
	const char *br = v ? strchr(v, '[') : NULL;
	return br ? (int)strtol(br + 1, NULL, 10) : 0x0110;
}

int
rp_stow_send(const struct rp_stow_options *o, const char *const *paths, size_t count,
	     struct rp_store_result *results, struct rp_errbuf *err)
{
	if (!o || o->struct_size != sizeof(*o) || !o->url || (!paths && count) ||
	    (!results && count))
		return rp__err(err, RP_E_INVALID_ARG, "rp_stow_send: options, url and results "
			       "are required");
	uint64_t total = sizeof(TAIL) - 1;
	for (size_t i = 0; i < count; i++) {
		struct stat st;
		memset(&results[i], 0, sizeof(results[i]));
		results[i].dimse_status = 0xFFFF;
		if (stat(paths[i], &st) < 0)
			return rp__err(err, rp__errno_status(errno), "%s: %s", paths[i], strerror(errno));
		total += sizeof(PART_HEAD) - 1 + (uint64_t)st.st_size;
	}
	static int once;
	if (!once) {
		/* Not thread-safe by libcurl's rules: done once, before any transfer. */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		once = 1;
	}
	CURL *c = curl_easy_init();
	if (!c)
		return RP_E_NOMEM;
	char url[4200];
	size_t ul = strlen(o->url);
	snprintf(url, sizeof(url), "%s%sstudies", o->url, ul && o->url[ul - 1] == '/' ? "" : "/");
	struct body b = {.paths = paths, .count = count};
	struct resp r = {0};
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Content-Type: multipart/related; type=\"application/dicom\"; "
			      "boundary=" BOUNDARY);
	h = curl_slist_append(h, "Accept: application/dicom+json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(c, CURLOPT_READDATA, &b);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_resp);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_s * 1000));
	/* A transfer slower than 1 byte/s for timeout_s is dead; a large study may take long. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(o->timeout_s > 1 ? o->timeout_s : 1));
	if (o->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, o->user);
	}
	if (o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	CURLcode cc = curl_easy_perform(c);
	long http = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
	if (b.f)
		fclose(b.f);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	int st = RP_OK;
	if (cc != CURLE_OK || http == 0) {
		/* Nothing answered: every instance may be retried. */
		st = rp__err(err, RP_E_NET, "STOW-RS %s: %s%s%s", url, curl_easy_strerror(cc),
			     b.read_errno ? ": " : "", b.read_errno ? strerror(b.read_errno) : "");
		for (size_t i = 0; i < count; i++) {
			results[i].status = RP_E_NET;
			snprintf(results[i].message, sizeof(results[i].message), "%.159s", err->msg);
		}
	} else {
		bool all_ok = http == 200;
		for (size_t i = 0; i < count; i++) {
			struct rp_store_result *res = &results[i];
			char uid[65];
			int reason = -1;
			if (!all_ok && (http == 202 || http == 409)) {
				sop_uid(paths[i], uid);
				reason = failure_reason(r.p, uid);
				if (reason < 0 && http == 409)
					reason = 0x0110; /* none stored, none listed: processing failure */
			} else if (!all_ok) {
				/* 5xx and 429 are the server's trouble and may pass; other codes
				 * refuse the request as such. */
				reason = http >= 500 || http == 429 ? 0xA700 : 0x0110;
			}
			if (reason < 0) {
				res->status = RP_OK;
				res->dimse_status = 0;
				continue;
			}
			res->status = RP_E_IO;
			res->dimse_status = (uint16_t)reason;
			snprintf(res->message, sizeof(res->message), "STOW-RS HTTP %ld, failure reason "
				 "0x%04x", http, (unsigned)reason);
			if (st == RP_OK)
				st = rp__err(err, RP_E_IO, "%s: %s", paths[i], res->message);
		}
	}
	free(r.p);
	return st;
}
