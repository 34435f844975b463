/* SPDX-License-Identifier: BSD-3-Clause */
/* net/stowrs.c - rp_stow_send(): DICOMweb STOW-RS (PS3.18 10.5) over libcurl, the one file
 * that includes its headers.  Each request is a multipart/related body of whole Part 10
 * files, streamed from the files by the read callback (a batch is never held in memory);
 * the answer is the Store Instances Response (ReferencedSOPSequence, FailedSOPSequence)
 * in DICOM JSON, or in DICOM XML from servers that give nothing else, matched to the
 * instances sent by their SOP Instance UIDs. */
#include "common/internal.h"
#include "net/store_scp.h"       /* rp__net_log, rp__file_sha256 */

#include <radpipe/stow.h>

#include <curl/curl.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* An answer longer than this is refused: Orthanc writes about 300 bytes per instance, so
 * a full 64 MiB batch of small instances stays far below. */
#define RP__STOW_MAX_ANSWER (16u << 20)
/* Nesting a Store Instances Response needs: dataset, sequence, item, attribute. */
#define RP__STOW_MAX_DEPTH 32

/* One file to send, what the pre-scan found in it. */
struct stow_inst {
	const char *path;
	uint64_t size;
	char sop[65], study[65], cls[65];
	char warning[64];            /* stored with a warning: which */
	int sendable;
};

/* One instance the server's answer names. */
enum { ANS_STORED = 1, ANS_FAILED = 2 };
struct stow_item {
	int kind;
	char uid[65];
	int uid_ok;                  /* a string of at most 64 characters */
	long failure, warning;       /* -1 when absent */
};

struct stow_answer {
	struct stow_item *items;
	size_t n, cap;
	int nomem;
};

/* ------------------------------------------------------------------------------------ */
/* The request body: part headers from memory, part contents from the files. */

struct body_seg {
	const char *mem;             /* NULL: the file of inst */
	const struct stow_inst *inst;
	uint64_t len;
};

struct body {
	struct body_seg *segs;
	size_t nseg;
	size_t seg;                  /* current segment */
	uint64_t off;                /* offset in it */
	int fd;                      /* open file of the current segment, or -1 */
	char why[160];               /* why the read callback gave up */
	char *headers;               /* the part headers, one allocation */
};

static void
body_close_file(struct body *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

static size_t
body_read(char *dst, size_t size, size_t nitems, void *ctx)
{
	struct body *b = ctx;
	size_t want = size * nitems, got = 0;
	while (got < want && b->seg < b->nseg) {
		struct body_seg *s = &b->segs[b->seg];
		uint64_t left = s->len - b->off;
		size_t n = want - got < left ? want - got : (size_t)left;
		if (s->mem) {
			memcpy(dst + got, s->mem + b->off, n);
		} else {
			if (b->fd < 0) {
				b->fd = open(s->inst->path, O_RDONLY | O_CLOEXEC);
				if (b->fd < 0) {
					snprintf(b->why, sizeof(b->why), "%.100s: %s", s->inst->path,
						 strerror(errno));
					return CURL_READFUNC_ABORT;
				}
			}
			ssize_t r = n ? pread(b->fd, dst + got, n, (off_t)b->off) : 0;
			if (r <= 0) {
				snprintf(b->why, sizeof(b->why), "%.100s: %s", s->inst->path,
					 r < 0 ? strerror(errno) : "shorter than when it was read");
				return CURL_READFUNC_ABORT;
			}
			n = (size_t)r;
		}
		got += n;
		b->off += n;
		if (b->off == s->len) {
			body_close_file(b);
			b->seg++;
			b->off = 0;
		}
	}
	return got;
}

/* curl rewinds the body when it must send it again (an authentication round, a reused
 * connection that the server had closed). */
static int
body_seek(void *ctx, curl_off_t offset, int origin)
{
	struct body *b = ctx;
	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	body_close_file(b);
	uint64_t at = (uint64_t)offset;
	for (b->seg = 0; b->seg < b->nseg && at >= b->segs[b->seg].len; b->seg++)
		at -= b->segs[b->seg].len;
	if (b->seg == b->nseg && at)
		return CURL_SEEKFUNC_FAIL;
	b->off = at;
	return CURL_SEEKFUNC_OK;
}

/* ------------------------------------------------------------------------------------ */
/* The answer.  A hand-written scan rather than a JSON library: only three attributes of
 * one small response matter, and the scanner below is bounded (depth, string lengths,
 * the answer's size) so that whatever a server or a proxy sends cannot do more than be
 * refused. */

struct scan {
	const char *p, *e;
	int depth;
};

static void
ws(struct scan *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
eat(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->e && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

/* A string into out (cap > 0, NUL-terminated, cut short when longer: *fits 0). */
static int
jstring(struct scan *s, char *out, size_t cap, int *fits)
{
	size_t n = 0;
	*fits = 1;
	if (!eat(s, '"'))
		return 0;
	while (s->p < s->e && *s->p != '"') {
		char c = *s->p++;
		if ((unsigned char)c < 0x20)
			return 0;
		if (c == '\\') {
			if (s->p >= s->e)
				return 0;
			c = *s->p++;
			if (c == 'u') {
				if (s->e - s->p < 4)
					return 0;
				for (int i = 0; i < 4; i++)
					if (!isxdigit((unsigned char)s->p[i]))
						return 0;
				s->p += 4;
				c = '?'; /* no UID or tag has one */
			} else if (!strchr("\"\\/bfnrt", c)) {
				return 0;
			}
		}
		if (n + 1 < cap)
			out[n++] = c;
		else
			*fits = 0;
	}
	out[n] = 0;
	if (s->p >= s->e)
		return 0;
	s->p++;
	return 1;
}

static int jskip(struct scan *s);

static int
is_numch(char c)
{
	return c && strchr("+-.0123456789eE", c);
}

static int
jskip_container(struct scan *s, char close, int object)
{
	if (++s->depth > RP__STOW_MAX_DEPTH)
		return 0;
	if (eat(s, close)) {
		s->depth--;
		return 1;
	}
	do {
		char key[8];
		int fits;
		if (object && (!jstring(s, key, sizeof(key), &fits) || !eat(s, ':')))
			return 0;
		if (!jskip(s))
			return 0;
	} while (eat(s, ','));
	s->depth--;
	return eat(s, close);
}

static int
jskip(struct scan *s)
{
	ws(s);
	if (s->p >= s->e)
		return 0;
	char c = *s->p;
	if (c == '{') {
		s->p++;
		return jskip_container(s, '}', 1);
	}
	if (c == '[') {
		s->p++;
		return jskip_container(s, ']', 0);
	}
	if (c == '"') {
		char tmp[2];
		int fits;
		return jstring(s, tmp, sizeof(tmp), &fits);
	}
	static const char *const lit[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(lit[i]);
		if ((size_t)(s->e - s->p) >= l && !memcmp(s->p, lit[i], l)) {
			s->p += l;
			return 1;
		}
	}
	const char *q = s->p;
	while (s->p < s->e && is_numch(*s->p))
		s->p++;
	return s->p > q;
}

/* The first entry of an attribute's "Value": a string into str, or an integer into
 * *num (-1 when it is neither).  {"vr":"UI","Value":["1.2.3"]} */
static int
jattr_first(struct scan *s, char *str, size_t cap, int *fits, long *num)
{
	*num = -1;
	str[0] = 0;
	*fits = 0;
	if (!eat(s, '{'))
		return 0;
	if (eat(s, '}'))
		return 1;
	do {
		char key[16];
		int kf;
		if (!jstring(s, key, sizeof(key), &kf) || !eat(s, ':'))
			return 0;
		if (strcmp(key, "Value") || !eat(s, '[')) {
			if (!jskip(s))
				return 0;
			continue;
		}
		int first = 1;
		if (!eat(s, ']')) {
			do {
				ws(s);
				if (first && s->p < s->e && *s->p == '"') {
					if (!jstring(s, str, cap, fits))
						return 0;
				} else if (first && s->p < s->e && isdigit((unsigned char)*s->p)) {
					long v = 0;
					while (s->p < s->e && isdigit((unsigned char)*s->p)) {
						if (v < 1000000)
							v = v * 10 + (*s->p - '0');
						s->p++;
					}
					*num = v;
					while (s->p < s->e && is_numch(*s->p))
						s->p++;
				} else if (!jskip(s)) {
					return 0;
				}
				first = 0;
			} while (eat(s, ','));
			if (!eat(s, ']'))
				return 0;
		}
	} while (eat(s, ','));
	return eat(s, '}');
}

static struct stow_item *
answer_add(struct stow_answer *a, int kind)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct stow_item *p = realloc(a->items, cap * sizeof(*p));
		if (!p) {
			a->nomem = 1;
			return NULL;
		}
		a->items = p;
		a->cap = cap;
	}
	struct stow_item *it = &a->items[a->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->failure = it->warning = -1;
	return it;
}

/* One item of ReferencedSOPSequence or FailedSOPSequence. */
static int
jitem(struct scan *s, struct stow_answer *a, int kind)
{
	struct stow_item *it = answer_add(a, kind);
	if (!it || !eat(s, '{'))
		return 0;
	if (eat(s, '}'))
		return 1;
	do {
		char key[16], str[65];
		int fits;
		long num;
		if (!jstring(s, key, sizeof(key), &fits) || !eat(s, ':'))
			return 0;
		if (!strcasecmp(key, "00081155")) {
			if (!jattr_first(s, it->uid, sizeof(it->uid), &it->uid_ok, &num))
				return 0;
		} else if (!strcasecmp(key, "00081197")) {
			if (!jattr_first(s, str, sizeof(str), &fits, &it->failure))
				return 0;
		} else if (!strcasecmp(key, "00081196")) {
			if (!jattr_first(s, str, sizeof(str), &fits, &it->warning))
				return 0;
		} else if (!jskip(s)) {
			return 0;
		}
	} while (eat(s, ','));
	return eat(s, '}');
}

/* A sequence attribute: {"vr":"SQ","Value":[item, ...]} */
static int
jsequence(struct scan *s, struct stow_answer *a, int kind)
{
	if (!eat(s, '{'))
		return 0;
	if (eat(s, '}'))
		return 1;
	do {
		char key[16];
		int fits;
		if (!jstring(s, key, sizeof(key), &fits) || !eat(s, ':'))
			return 0;
		if (strcmp(key, "Value") || !eat(s, '[')) {
			if (!jskip(s))
				return 0;
			continue;
		}
		if (!eat(s, ']')) {
			do {
				if (!jitem(s, a, kind))
					return 0;
			} while (eat(s, ','));
			if (!eat(s, ']'))
				return 0;
		}
	} while (eat(s, ','));
	return eat(s, '}');
}

static int
jdataset(struct scan *s, struct stow_answer *a)
{
	if (!eat(s, '{'))
		return 0;
	if (eat(s, '}'))
		return 1;
	do {
		char key[16];
		int fits;
		if (!jstring(s, key, sizeof(key), &fits) || !eat(s, ':'))
			return 0;
		/* Other Failures (0008,119A) name instances too, as failed. */
		int kind = !strcasecmp(key, "00081199")                                   ? ANS_STORED
			   : !strcasecmp(key, "00081198") || !strcasecmp(key, "0008119A") ? ANS_FAILED
											   : 0;
		if (kind ? !jsequence(s, a, kind) : !jskip(s))
			return 0;
	} while (eat(s, ','));
	return eat(s, '}');
}

/* The Store Instances Response as a dataset, or as an array of datasets (how some
 * servers write every DICOM JSON answer). */
static int
parse_json(const char *p, size_t n, struct stow_answer *a)
{
	struct scan s = {p, p + n, 0};
	ws(&s);
	if (s.p < s.e && *s.p == '[') {
		s.p++;
		if (!eat(&s, ']')) {
			do {
				if (!jdataset(&s, a))
					return 0;
			} while (eat(&s, ','));
			if (!eat(&s, ']'))
				return 0;
		}
	} else if (!jdataset(&s, a)) {
		return 0;
	}
	ws(&s);
	return s.p == s.e;
}

/* The Native DICOM Model (PS3.19 A.1) of the same response:
 *   <DicomAttribute tag="00081199" vr="SQ"><Item number="1">
 *     <DicomAttribute tag="00081155" vr="UI"><Value number="1">1.2.3</Value>...
 * read as a stream of tags, with the attributes open kept on a bounded stack. */
static int
parse_xml(const char *p, size_t n, struct stow_answer *a)
{
	const char *e = p + n;
	char stack[RP__STOW_MAX_DEPTH][9];
	int depth = 0, seen_root = 0;
	struct stow_item *it = NULL;
	int item_depth = -1;
	while (p < e) {
		const char *lt = memchr(p, '<', (size_t)(e - p));
		if (!lt)
			break;
		const char *gt = memchr(lt, '>', (size_t)(e - lt));
		if (!gt)
			return 0;
		const char *name = lt + 1;
		size_t len = (size_t)(gt - name);
		int closing = len && name[0] == '/';
		int selfclose = len && gt[-1] == '/';
#define RP__IS(s) (len >= sizeof(s) - 1 + closing && !memcmp(name + closing, s, sizeof(s) - 1))
		if (RP__IS("NativeDicomModel")) {
			seen_root = 1;
		} else if (RP__IS("DicomAttribute") && !closing) {
			const char *t = NULL;
			for (const char *q = name; q + 5 < gt; q++)
				if (!memcmp(q, "tag=\"", 5)) {
					t = q + 5;
					break;
				}
			if (!t || gt - t < 9 || t[8] != '"')
				return 0;
			if (!selfclose) {
				if (depth == RP__STOW_MAX_DEPTH)
					return 0;
				memcpy(stack[depth], t, 8);
				stack[depth++][8] = 0;
			}
		} else if (RP__IS("DicomAttribute")) {
			if (!depth--)
				return 0;
			if (it && depth < item_depth) {
				it = NULL;
				item_depth = -1;
			}
		} else if (RP__IS("Item") && !closing && !selfclose && depth) {
			const char *top = stack[depth - 1];
			int kind = !strcasecmp(top, "00081199")                                   ? ANS_STORED
				   : !strcasecmp(top, "00081198") || !strcasecmp(top, "0008119A") ? ANS_FAILED
												   : 0;
			if (kind && depth == 1) {
				if (!(it = answer_add(a, kind)))
					return 0;
				item_depth = depth;
			}
		} else if (RP__IS("Value") && !closing && !selfclose && it && depth == item_depth + 1) {
			const char *v = gt + 1;
			const char *end = memchr(v, '<', (size_t)(e - v));
			if (!end)
				return 0;
			size_t vl = (size_t)(end - v);
			const char *top = stack[depth - 1];
			if (!strcasecmp(top, "00081155")) {
				it->uid_ok = vl < sizeof(it->uid);
				if (it->uid_ok) {
					memcpy(it->uid, v, vl);
					it->uid[vl] = 0;
				}
			} else if (!strcasecmp(top, "00081197") || !strcasecmp(top, "00081196")) {
				long num = vl && vl < 7 ? 0 : -1;
				for (size_t i = 0; num >= 0 && i < vl; i++)
					num = isdigit((unsigned char)v[i]) ? num * 10 + (v[i] - '0') : -1;
				*(top[7] == '7' ? &it->failure : &it->warning) = num;
			}
		}
#undef RP__IS
		p = gt + 1;
	}
	return seen_root && depth == 0;
}

/* ------------------------------------------------------------------------------------ */

struct sink {
	char *p;
	size_t n, cap;
	int too_big, nomem;
};

static size_t
sink_write(char *data, size_t size, size_t nitems, void *ctx)
{
	struct sink *k = ctx;
	size_t n = size * nitems;
	if (n > RP__STOW_MAX_ANSWER - k->n) {
		k->too_big = 1;
		return 0;
	}
	if (k->n + n + 1 > k->cap) {
		size_t cap = k->cap ? k->cap : 4096;
		while (cap < k->n + n + 1)
			cap *= 2;
		char *q = realloc(k->p, cap);
		if (!q) {
			k->nomem = 1;
			return 0;
		}
		k->p = q;
		k->cap = cap;
	}
	memcpy(k->p + k->n, data, n);
	k->n += n;
	k->p[k->n] = 0;
	return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* What a failed instance's FailureReason (PS3.18 Table 10.5.3-1, PS3.4 B.2.3) means. */
static int
failure_status(long reason)
{
	if ((reason & 0xFF00) == 0xA700)
		return RP_E_NOSPACE;
	if (reason == 0x0122)
		return RP_E_UNSUPPORTED;
	return RP_E_PROTOCOL;
}

static void
set_result(struct rp_store_result *r, int status, long code, const char *fmt, ...)
	RP__PRINTF(4, 5);

static void
set_result(struct rp_store_result *r, int status, long code, const char *fmt, ...)
{
	r->status = status;
	r->dimse_status = code >= 0 && code <= 0xFFFF ? (uint16_t)code : 0xFFFF;
	r->decoded = 0;
	r->message[0] = 0;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->message, sizeof(r->message), fmt, ap);
		va_end(ap);
	}
}

/* A short printable excerpt of an answer, for a message. */
static void
excerpt(const struct sink *k, char *out, size_t cap)
{
	size_t j = 0;
	for (size_t i = 0; i < k->n && j + 1 < cap && i < 60; i++)
		out[j++] = isprint((unsigned char)k->p[i]) ? k->p[i] : '.';
	out[j] = 0;
}

/* One request with insts[0..n); their results filled.  Returns 1 when the next request
 * is worth trying (the server answered), 0 when it could not be reached. */
static int
stow_batch(const struct rp_stow_options *o, const char *endpoint, struct stow_inst *insts,
	   size_t n, struct rp_store_result *res)
{
	struct body b = {0};
	b.fd = -1;
	struct sink k = {0};
	struct stow_answer a = {0};
	struct curl_slist *hdr = NULL;
	CURL *c = NULL;
	int reached = 1;

	uint8_t rnd[16];
	char boundary[48];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		for (size_t i = 0; i < n; i++)
			set_result(&res[i], RP_E_INTERNAL, -1, "no random boundary: %s",
				   strerror(errno));
		return 1;
	}
	int bl = snprintf(boundary, sizeof(boundary), "radpipe-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		bl += snprintf(boundary + bl, sizeof(boundary) - (size_t)bl, "%02x", rnd[i]);

	/* "--B\r\nContent-Type: application/dicom\r\n\r\n" FILE "\r\n" ... "--B--\r\n" */
	static const char part_fmt[] = "--%s\r\nContent-Type: application/dicom\r\n\r\n";
	size_t one = strlen(part_fmt) - 2 + (size_t)bl;
	size_t trailer = (size_t)bl + 8;
	b.headers = malloc(n * (one + 2) + trailer + 1);
	b.segs = calloc(2 * n + 1, sizeof(*b.segs));
	char ctype[128], errtext[CURL_ERROR_SIZE] = "";
	if (!b.headers || !b.segs)
		goto nomem;
	char *h = b.headers;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		char *start = h;
		if (i)
			h += sprintf(h, "\r\n");
		h += sprintf(h, part_fmt, boundary);
		b.segs[b.nseg++] = (struct body_seg){start, NULL, (uint64_t)(h - start)};
		b.segs[b.nseg++] = (struct body_seg){NULL, &insts[i], insts[i].size};
		total += (uint64_t)(h - start) + insts[i].size;
	}
	char *start = h;
	h += sprintf(h, "\r\n--%s--\r\n", boundary);
	b.segs[b.nseg++] = (struct body_seg){start, NULL, (uint64_t)(h - start)};
	total += (uint64_t)(h - start);

	c = curl_easy_init();
	if (!c)
		goto nomem;
	snprintf(ctype, sizeof(ctype),
		 "Content-Type: multipart/related; type=\"application/dicom\"; boundary=%s",
		 boundary);
	struct curl_slist *h2;
	if (!(h2 = curl_slist_append(hdr, ctype)))
		goto nomem;
	hdr = h2;
	if (!(h2 = curl_slist_append(hdr, "Accept: application/dicom+json, "
					  "application/dicom+xml;q=0.5")))
		goto nomem;
	hdr = h2;
	long t = o->timeout_s >= 1 ? (long)o->timeout_s : 1;
	CURLcode rc = CURLE_OK;
#define RP__SET(opt, val)                                                                 \
	do {                                                                              \
		if (rc == CURLE_OK)                                                       \
			rc = curl_easy_setopt(c, opt, val);                               \
	} while (0)
	RP__SET(CURLOPT_URL, endpoint);
	RP__SET(CURLOPT_PROTOCOLS_STR, "http,https");
	RP__SET(CURLOPT_NOSIGNAL, 1L);
	RP__SET(CURLOPT_POST, 1L);
	RP__SET(CURLOPT_HTTPHEADER, hdr);
	RP__SET(CURLOPT_READFUNCTION, body_read);
	RP__SET(CURLOPT_READDATA, &b);
	RP__SET(CURLOPT_SEEKFUNCTION, body_seek);
	RP__SET(CURLOPT_SEEKDATA, &b);
	RP__SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
	RP__SET(CURLOPT_WRITEFUNCTION, sink_write);
	RP__SET(CURLOPT_WRITEDATA, &k);
	RP__SET(CURLOPT_ERRORBUFFER, errtext);
	RP__SET(CURLOPT_CONNECTTIMEOUT, t);
	RP__SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	RP__SET(CURLOPT_LOW_SPEED_TIME, t);
	RP__SET(CURLOPT_USERAGENT, "radpipe/" RP_VERSION_STRING);
	if (o->user_password) {
		RP__SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		RP__SET(CURLOPT_USERPWD, o->user_password);
	}
	if (o->ca_file)
		RP__SET(CURLOPT_CAINFO, o->ca_file);
#undef RP__SET
	if (rc != CURLE_OK) {
		for (size_t i = 0; i < n; i++)
			set_result(&res[i], RP_E_INTERNAL, -1, "libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(c);
	long http = 0;
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
	if (rc != CURLE_OK) {
		int st = RP_E_NET;
		char why[160];
		if (b.why[0])
			st = RP_E_IO, snprintf(why, sizeof(why), "%s", b.why);
		else if (k.too_big)
			st = RP_E_PROTOCOL, snprintf(why, sizeof(why), "the server's answer (HTTP "
						    "%ld) is longer than %u bytes", http,
						    RP__STOW_MAX_ANSWER);
		else if (k.nomem)
			st = RP_E_NOMEM, snprintf(why, sizeof(why), "no memory for the answer");
		else
			snprintf(why, sizeof(why), "%.150s", errtext[0] ? errtext : curl_easy_strerror(rc));
		/* Whether the server stored anything is unknown; sending again is safe
		 * (STOW-RS replaces an instance with the same UID). */
		for (size_t i = 0; i < n; i++)
			set_result(&res[i], st, http ? http : -1, "%s", why);
		reached = st != RP_E_NET;
		goto out;
	}
	char head[64];
	excerpt(&k, head, sizeof(head));
	if (http >= 500 || http == 408 || http == 429) {
		for (size_t i = 0; i < n; i++)
			set_result(&res[i], RP_E_NET, http, "HTTP %ld from the server: %s", http, head);
		reached = 0;
		goto out;
	}
	if (http == 401 || http == 403) {
		for (size_t i = 0; i < n; i++)
			set_result(&res[i], RP_E_AUTH, http, "HTTP %ld: the server %s", http,
				   http == 401 ? (o->user_password ? "refused the user and password"
								   : "asks for a user and password")
					       : "forbids this user to store");
		goto out;
	}
	/* Orthanc answers 400 when any instance failed, with the stored ones listed in the
	 * same response as those of a 202: whatever the status, a Store Instances Response
	 * in the body says what became of each instance; without one, the status does. */
	int ok_status = http == 200 || http == 202;
	int code_st = http == 413 ? RP_E_LIMIT : http == 415 ? RP_E_UNSUPPORTED : RP_E_PROTOCOL;
	const char *ct = NULL;
	(void)curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	size_t lead = 0;
	while (lead < k.n && isspace((unsigned char)k.p[lead]))
		lead++;
	int xml = (ct && strstr(ct, "xml")) || (lead < k.n && k.p[lead] == '<');
	int parsed = k.n && (xml ? parse_xml(k.p, k.n, &a) : parse_json(k.p, k.n, &a));
	if (a.nomem) {
		for (size_t i = 0; i < n; i++)
			set_result(&res[i], RP_E_NOMEM, http, "no memory for the server's answer");
		goto out;
	}
	if (!parsed) {
		for (size_t i = 0; i < n; i++) {
			if (ok_status)
				set_result(&res[i], RP_E_PROTOCOL, http,
					   "HTTP %ld with an answer that is not a DICOM %s Store "
					   "Instances Response: \"%s\"", http, xml ? "XML" : "JSON", head);
			else
				set_result(&res[i], code_st, http, "HTTP %ld from %.80s: \"%s\"", http,
					   endpoint, head);
		}
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct stow_item *st = NULL, *fl = NULL;
		for (size_t j = 0; j < a.n; j++) {
			const struct stow_item *it = &a.items[j];
			if (!it->uid_ok || strcmp(it->uid, insts[i].sop))
				continue;
			if (it->kind == ANS_STORED)
				st = it;
			else
				fl = it;
		}
		if (fl && fl->failure >= 0) {
			set_result(&res[i], failure_status(fl->failure), fl->failure,
				   "the server refused the instance (HTTP %ld, FailureReason 0x%04lX)",
				   http, fl->failure);
		} else if (fl) {
			set_result(&res[i], code_st, http, "the server refused the instance (HTTP %ld, "
				   "no FailureReason)", http);
		} else if (st) {
			set_result(&res[i], RP_OK, http, "%s", "");
			if (st->warning >= 0)
				snprintf(insts[i].warning, sizeof(insts[i].warning),
					 "stored with WarningReason 0x%04lX", st->warning);
		} else {
			set_result(&res[i], code_st, http,
				   "HTTP %ld, and the server's answer does not name this instance", http);
		}
	}
	goto out;
nomem:
	for (size_t i = 0; i < n; i++)
		set_result(&res[i], RP_E_NOMEM, -1, "no memory for the request");
out:
	body_close_file(&b);
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	free(b.headers);
	free(b.segs);
	free(k.p);
	free(a.items);
	return reached;
}

/* Reads what the answer is matched by (and the audit names) from the file itself. */
static void
prescan(struct stow_inst *in, struct rp_store_result *r)
{
	int fd = open(in->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_result(r, RP_E_IO, -1, "%.100s: %s", in->path,
			   fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return;
	}
	in->size = (uint64_t)st.st_size;
	void *m = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
			     : MAP_FAILED;
	close(fd);
	if (m == MAP_FAILED) {
		set_result(r, RP_E_CORRUPT, -1, "not a DICOM file (%s)",
			   st.st_size ? strerror(errno) : "empty");
		return;
	}
	struct rp_dicom *ds = NULL;
	struct rp_errbuf e = {""};
	int s = rp_dicom_parse(m, (size_t)st.st_size, NULL, &ds, &e);
	if (s == RP_OK) {
		const struct rp_dicom_info *inf = rp_dicom_get_info(ds);
		if (!inf->has_meta)
			s = rp__err(&e, RP_E_CORRUPT, "no Part 10 meta header");
		else if (!inf->sop_instance_uid[0])
			s = rp__err(&e, RP_E_CORRUPT, "no SOP Instance UID (0008,0018)");
		if (s == RP_OK) {
			snprintf(in->sop, sizeof(in->sop), "%s", inf->sop_instance_uid);
			snprintf(in->study, sizeof(in->study), "%s", inf->study_instance_uid);
			snprintf(in->cls, sizeof(in->cls), "%s", inf->sop_class_uid);
			in->sendable = 1;
		}
	}
	rp_dicom_free(ds);
	munmap(m, (size_t)st.st_size);
	if (s != RP_OK)
		set_result(r, RP_E_CORRUPT, -1, "not sent, not a DICOM Part 10 instance: %.120s",
			   e.msg);
}

/* The URL as logged: without user information. */
static void
peer_of(const char *url, char *out, size_t cap)
{
	const char *s = strstr(url, "://");
	const char *host = s ? s + 3 : url;
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	if (at && (!slash || at < slash))
		snprintf(out, cap, "%.*s%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, cap, "%s", url);
}

static void
audit_results(const struct rp_stow_options *o, const char *peer, const struct stow_inst *in,
	      size_t count, const struct rp_store_result *res)
{
	for (size_t i = 0; i < count; i++) {
		const struct rp_store_result *r = &res[i];
		const char *detail = r->status == RP_OK ? (in[i].warning[0] ? in[i].warning : NULL)
							: r->message;
		rp__net_log(o->log, o->log_ctx, r->status == RP_OK ? "delivered" : "deliver_failed",
			    peer, in[i].path, detail);
		if (!o->audit)
			continue;
		uint8_t sha[32];
		struct rp_errbuf err = {""};
		struct rp_audit_event ev = {0};
		ev.event = r->status == RP_OK ? "delivered" : "failed";
		ev.peer = peer;
		ev.sha256 = rp__file_sha256(in[i].path, sha, &err) == RP_OK ? sha : NULL;
		ev.detail = detail;
		ev.sop_instance_uid = in[i].sop[0] ? in[i].sop : NULL;
		ev.study_uid = in[i].study[0] ? in[i].study : NULL;
		ev.sop_class_uid = in[i].cls[0] ? in[i].cls : NULL;
		ev.direction = RP_AUDIT_OUT;
		if (rp_audit_append(o->audit, &ev, &err) != RP_OK)
			rp__net_log(o->log, o->log_ctx, "audit_failed", NULL, NULL, err.msg);
	}
}

void
rp_stow_options_init(struct rp_stow_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->timeout_s = 60;
	o->max_batch_bytes = (size_t)64 << 20;
}

int
rp_stow_send(const struct rp_stow_options *o, const char *const *paths, size_t count,
	     struct rp_store_result *results, struct rp_errbuf *err)
{
	if (!o || o->struct_size != sizeof(*o) || (!paths && count) || (!results && count))
		return rp__err(err, RP_E_INVALID_ARG, "rp_stow_send: bad arguments");
	if (!o->url || (strncasecmp(o->url, "http://", 7) && strncasecmp(o->url, "https://", 8)))
		return rp__err(err, RP_E_INVALID_ARG, "STOW-RS needs an http:// or https:// URL");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return rp__err(err, RP_E_INTERNAL, "libcurl: %s", curl_easy_strerror(curl_init_rc));
	size_t ul = strlen(o->url);
	while (ul && o->url[ul - 1] == '/')
		ul--;
	char *endpoint = malloc(ul + sizeof("/studies"));
	struct stow_inst *in = calloc(count ? count : 1, sizeof(*in));
	char peer[256];
	if (!endpoint || !in) {
		free(endpoint);
		free(in);
		return rp__err(err, RP_E_NOMEM, "rp_stow_send: no memory");
	}
	memcpy(endpoint, o->url, ul);
	strcpy(endpoint + ul, "/studies");
	peer_of(o->url, peer, sizeof(peer));
	for (size_t i = 0; i < count; i++) {
		set_result(&results[i], RP_E_NET, -1, "not sent");
		in[i].path = paths[i];
		prescan(&in[i], &results[i]);
	}
	size_t max = o->max_batch_bytes ? o->max_batch_bytes : (size_t)64 << 20;
	int reachable = 1;
	char down[160] = "";
	size_t i = 0;
	while (i < count) {
		if (!in[i].sendable) {
			i++;
			continue;
		}
		/* The batch: sendable instances from i on, up to max bytes (at least one). */
		struct stow_inst *batch = malloc((count - i) * sizeof(*batch));
		struct rp_store_result *br = malloc((count - i) * sizeof(*br));
		size_t *idx = malloc((count - i) * sizeof(*idx));
		if (!batch || !br || !idx) {
			free(batch);
			free(br);
			free(idx);
			for (; i < count; i++)
				if (in[i].sendable)
					set_result(&results[i], RP_E_NOMEM, -1, "no memory");
			break;
		}
		size_t n = 0;
		uint64_t bytes = 0;
		for (; i < count; i++) {
			if (!in[i].sendable)
				continue;
			if (n && bytes + in[i].size > max)
				break;
			bytes += in[i].size;
			idx[n] = i;
			batch[n++] = in[i];
		}
		if (reachable) {
			reachable = stow_batch(o, endpoint, batch, n, br);
			if (!reachable)
				snprintf(down, sizeof(down), "%s", br[0].message);
		} else {
			for (size_t j = 0; j < n; j++)
				set_result(&br[j], RP_E_NET, -1, "not sent: an earlier request failed: "
					   "%.100s", down);
		}
		for (size_t j = 0; j < n; j++) {
			results[idx[j]] = br[j];
			memcpy(in[idx[j]].warning, batch[j].warning, sizeof(batch[j].warning));
		}
		free(batch);
		free(br);
		free(idx);
	}
	audit_results(o, peer, in, count, results);
	free(endpoint);
	free(in);
	if (!reachable)
		return rp__err(err, RP_E_NET, "STOW-RS to %.80s: %.150s", peer, down);
	for (size_t j = 0; j < count; j++)
		if (results[j].status != RP_OK)
			return rp__err(err, results[j].status, "%.100s: %.140s", paths[j],
				       results[j].message);
	return RP_OK;
}
