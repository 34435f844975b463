/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/base.h - status codes, version and the error buffer shared by every
 * radpipe call.  <radpipe/radpipe.h> includes this and the rest of the API. */
#ifndef RADPIPE_BASE_H
#define RADPIPE_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RP_API __attribute__((visibility("default")))
#define RP_NODISCARD __attribute__((warn_unused_result))
#else
#define RP_API
#define RP_NODISCARD
#endif

#define RP_VERSION_MAJOR 0
#define RP_VERSION_MINOR 1
#define RP_VERSION_PATCH 0
#define RP_VERSION_STRING "0.1.0"

/* One list gives the enum, rp_status_name() and rp_status_str().  Values never change;
 * new ones are only appended. */
#define RP_STATUS_LIST(X)                                                        \
	X(OK, 0, "success")                                                      \
	X(E_INVALID_ARG, -1, "invalid argument")                                 \
	X(E_NOMEM, -2, "out of memory")                                          \
	X(E_CORRUPT, -3, "corrupt or truncated input")                           \
	X(E_UNSUPPORTED, -4, "unsupported transfer syntax or parameter")         \
	X(E_IO, -5, "input/output error")                                        \
	X(E_MISMATCH, -6, "data does not match")                                 \
	X(E_NOSPACE, -7, "no space left on device")                              \
	X(E_LIMIT, -8, "size or count exceeds a limit")                          \
	X(E_PROTOCOL, -9, "protocol violation")                                  \
	X(E_AUTH, -10, "authentication failed")                                  \
	X(E_NET, -11, "network error")                                           \
	X(E_TIMEOUT, -12, "timed out")                                           \
	X(E_INTERNAL, -13, "internal error")                                     \
	X(E_CANCELLED, -14, "cancelled")                                         \
	X(E_CLOSED, -15, "connection closed by peer")

enum rp_status {
#define RP__STATUS_ENUM(name, value, text) RP_##name = value,
	RP_STATUS_LIST(RP__STATUS_ENUM)
#undef RP__STATUS_ENUM
};

/* "RP_E_CORRUPT" for RP_E_CORRUPT; "RP_E_UNKNOWN" for a value not in the list. */
RP_API const char *rp_status_name(int status);
/* "corrupt or truncated input" for RP_E_CORRUPT; never NULL. */
RP_API const char *rp_status_str(int status);

/* Where a call can say more than its status (which file offset, which attribute), it takes
 * an optional `struct rp_errbuf *err` and writes one line there, without the status name:
 * "pixel data item at offset 81234 overruns the file".  NULL means "don't tell me". */
#define RP_ERRBUF_SIZE 256
struct rp_errbuf {
	char msg[RP_ERRBUF_SIZE];
};

/* Writes data to path atomically: a temporary file in the same directory, fsync, rename,
 * fsync of the directory.  Never leaves a partial file under path.  RP_OK, RP_E_IO or
 * RP_E_NOSPACE with the reason in err. */
RP_API RP_NODISCARD int rp_file_write_atomic(const char *path, const void *data, size_t size,
					     struct rp_errbuf *err);

/* The library's version string, e.g. "0.1.0". */
RP_API const char *rp_version(void);

#ifdef __cplusplus
}
#endif


#endif /* RADPIPE_BASE_H */
