/* SPDX-License-Identifier: BSD-3-Clause */
/* common/status.c - status names and strings, the error buffer, the version. */
#include "common/internal.h"

#include <stdarg.h>
#include <stdio.h>

const char *
rp_status_name(int status)
{
	switch (status) {
#define RP__STATUS_NAME(name, value, text)                                                \
	case value:                                                                       \
		return "RP_" #name;
		RP_STATUS_LIST(RP__STATUS_NAME)
#undef RP__STATUS_NAME
	}
	return "RP_E_UNKNOWN";
}

const char *
rp_status_str(int status)
{
	switch (status) {
#define RP__STATUS_STR(name, value, text)                                                 \
	case value:                                                                       \
		return text;
		RP_STATUS_LIST(RP__STATUS_STR)
#undef RP__STATUS_STR
	}
	return "unknown error";
}

const char *
rp_version(void)
{
	return RP_VERSION_STRING;
}

int
rp__err(struct rp_errbuf *err, int status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return status;
}
