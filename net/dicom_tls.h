/* SPDX-License-Identifier: BSD-3-Clause */
/* net/dicom_tls.h - the TLS transport layer the DICOM adapters share (net/dicom_tls.cpp,
 * the one file that includes DCMTK's dcmtls and OpenSSL headers): mutually
 * authenticated, in one of the DICOM TLS profiles DCMTK offers. */
#ifndef RP_NET_DICOM_TLS_H
#define RP_NET_DICOM_TLS_H

#ifndef __cplusplus
#error "net/dicom_tls.h is for the DCMTK adapters (C++)"
#endif

#include "net/store_scp.h"

class DcmTransportLayer;

struct rp__dicom_tls_config {
	bool acceptor;               /* the SCP side (else the SCU) */
	const char *cert, *key, *ca; /* PEM; ca is required */
	const char *profile;         /* NULL = "bcp195-nd" */
	/* SCU: the name or address the server's certificate must be valid for; NULL
	 * checks only that it chains to ca. */
	const char *verify_host;
	/* SCP: the longest a caller may take over its handshake (DCMTK runs it in the
	 * listener, on a blocking socket, without a limit of its own). */
	double handshake_timeout_s;
	rp_log_fn *log;              /* SCP: one line per refused handshake */
	void *log_ctx;
};

/* A layer that demands and verifies the peer's certificate against ca; RP_E_IO for an
 * unreadable file, RP_E_INVALID_ARG for one that is no key/certificate or a key that is
 * not the certificate's, an unknown profile.  Freed by rp__dicom_tls_free. */
int rp__dicom_tls_layer(const rp__dicom_tls_config *cfg, DcmTransportLayer **ret,
			struct rp_errbuf *err);
void rp__dicom_tls_free(DcmTransportLayer *t);

#endif /* RP_NET_DICOM_TLS_H */
