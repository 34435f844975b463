// SPDX-License-Identifier: BSD-3-Clause
// net/dicom_tls.cpp - rp__dicom_tls_layer(): DICOM TLS (PS3.15 B.1, the BCP 195 profiles)
// over DCMTK's dcmtls for the Storage SCP and SCU.  Both sides present a certificate
// and require the peer's to chain to the configured CA.  On the SCP side the handshake
// runs in DCMTK's listener, which drops a failed one without a word; the connections
// made here log who was refused and why before DCMTK goes on listening.
extern "C" {
#include "common/internal.h"
}
#include "net/dicom_tls.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include "dcmtk/dcmtls/tlstrans.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace {

std::string
peer_address(DcmNativeSocketType s)
{
	sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getpeername((int)s, (sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET) {
			sockaddr_in *in = (sockaddr_in *)&sa;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			sockaddr_in6 *in = (sockaddr_in6 *)&sa;
			inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof(host));
			port = ntohs(in->sin6_port);
		}
	}
	return std::string(host) + ":" + std::to_string(port);
}

class LoggedConnection : public DcmTLSConnection {
public:
	LoggedConnection(DcmNativeSocketType s, SSL *ssl, const rp__dicom_tls_config &cfg)
		: DcmTLSConnection(s, ssl), log_(cfg.log), log_ctx_(cfg.log_ctx),
		  timeout_s_(cfg.handshake_timeout_s > 0 ? cfg.handshake_timeout_s : 60)
	{
	}

	OFCondition serverSideHandshake() override
	{
		// The peer's address is gone once DCMTK drops the connection.
		std::string peer = peer_address(getSocket());
		// The listener waits on this handshake: a caller that connects and says
		// nothing would otherwise stop every other caller for good.  The limit is
		// lifted again after it, for DCMTK's own timeouts to rule the association.
		int fd = (int)getSocket();
		timeval tv = {(time_t)timeout_s_,
			      (suseconds_t)((timeout_s_ - (double)(time_t)timeout_s_) * 1e6)};
		timeval none = {0, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		errno = 0;
		OFCondition c = DcmTLSConnection::serverSideHandshake();
		int e = errno;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
		if (c.bad()) {
			std::string why = std::string("TLS handshake failed: ") + c.text();
			if (e == EAGAIN || e == EWOULDBLOCK)
				why += " (no handshake within the association timeout)";
			else if (strstr(c.text(), "wrong version number") ||
			    strstr(c.text(), "http request") || strstr(c.text(), "unexpected eof"))
				why += " (a client without TLS?)";
			rp__net_log(log_, log_ctx_, "tls_refused", peer.c_str(), nullptr,
				    why.c_str());
		}
		return c;
	}

private:
	rp_log_fn *log_;
	void *log_ctx_;
	double timeout_s_;
};

class Layer : public DcmTLSTransportLayer {
public:
	explicit Layer(const rp__dicom_tls_config &cfg)
		: DcmTLSTransportLayer(cfg.acceptor ? NET_ACCEPTOR : NET_REQUESTOR, nullptr, OFFalse),
		  cfg_(cfg)
	{
	}

	DcmTransportConnection *createConnection(DcmNativeSocketType s, OFBool secure) override
	{
		if (!secure || !cfg_.acceptor)
			return DcmTLSTransportLayer::createConnection(s, secure);
		SSL *ssl = SSL_new((SSL_CTX *)getNativeHandle());
		if (!ssl)
			return nullptr;
		SSL_set_fd(ssl, (int)s);
		LoggedConnection *c = new (std::nothrow) LoggedConnection(s, ssl, cfg_);
		if (!c)
			SSL_free(ssl);
		return c;
	}

private:
	rp__dicom_tls_config cfg_;
};

int
readable(const char *what, const char *path, struct rp_errbuf *err)
{
	if (!path || !*path)
		return rp__err(err, RP_E_INVALID_ARG, "DICOM TLS: no %s file", what);
	FILE *f = fopen(path, "r");
	if (!f)
		return rp__err(err, RP_E_IO, "DICOM TLS %s %s: %s", what, path, strerror(errno));
	fclose(f);
	return RP_OK;
}

bool
profile_of(const char *name, DcmTLSSecurityProfile *p)
{
	if (!name || strcmp(name, "bcp195-nd") == 0)
		*p = TSP_Profile_BCP195_ND;
	else if (strcmp(name, "bcp195") == 0)
		*p = TSP_Profile_BCP195;
	else if (strcmp(name, "bcp195-ex") == 0)
		*p = TSP_Profile_BCP195_Extended;
	else
		return false;
	return true;
}

} // namespace

int
rp__dicom_tls_layer(const rp__dicom_tls_config *cfg, DcmTransportLayer **ret,
		    struct rp_errbuf *err)
{
	*ret = nullptr;
	RP_TRY(readable("certificate", cfg->cert, err));
	RP_TRY(readable("private key", cfg->key, err));
	RP_TRY(readable("CA bundle", cfg->ca, err));
	DcmTLSSecurityProfile profile;
	if (!profile_of(cfg->profile, &profile))
		return rp__err(err, RP_E_INVALID_ARG, "DICOM TLS profile '%s': one of bcp195-nd "
			       "(default), bcp195, bcp195-ex", cfg->profile);
	static std::once_flag once;
	std::call_once(once, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
	Layer *t = new (std::nothrow) Layer(*cfg);
	if (!t)
		return RP_E_NOMEM;
	int s = RP_OK;
	// DCMTK would otherwise ask for the password of an encrypted key on the terminal,
	// which blocks a service forever: such a key fails to load instead.
	t->setPrivateKeyPasswd("");
	if (t->setPrivateKeyFile(cfg->key, DCF_Filetype_PEM).bad())
		s = rp__err(err, RP_E_INVALID_ARG, "DICOM TLS private key %s: not an unencrypted "
			    "PEM private key", cfg->key);
	// What DCMTK's setCertificateFile() does for PEM, without its RSA key-length check,
	// which in 3.6.7 leaks the public key of every certificate that is not RSA (ours are
	// EC): once per SCU delivery, that adds up in a gateway that runs for months.
	else if (SSL_CTX_use_certificate_chain_file((SSL_CTX *)t->getNativeHandle(),
						    cfg->cert) != 1)
		s = rp__err(err, RP_E_INVALID_ARG, "DICOM TLS certificate %s: not a PEM "
			    "certificate", cfg->cert);
	else if (!t->checkPrivateKeyMatchesCertificate())
		s = rp__err(err, RP_E_INVALID_ARG, "DICOM TLS: the private key %s is not the key "
			    "of the certificate %s", cfg->key, cfg->cert);
	else if (t->addTrustedCertificateFile(cfg->ca, DCF_Filetype_PEM).bad())
		s = rp__err(err, RP_E_INVALID_ARG, "DICOM TLS CA bundle %s: no PEM certificate "
			    "in it", cfg->ca);
	else if (t->setTLSProfile(profile).bad() || t->activateCipherSuites().bad())
		s = rp__err(err, RP_E_UNSUPPORTED, "DICOM TLS profile %s: not supported by "
			    "this OpenSSL", cfg->profile ? cfg->profile : "bcp195-nd");
	if (s == RP_OK && cfg->verify_host && *cfg->verify_host) {
		// DCMTK checks only the chain; the name check keeps a certificate of another
		// site under the same CA from standing in for the PACS.
		X509_VERIFY_PARAM *vp = SSL_CTX_get0_param((SSL_CTX *)t->getNativeHandle());
		in6_addr a6;
		in_addr a4;
		bool ip = inet_pton(AF_INET, cfg->verify_host, &a4) == 1 ||
			  inet_pton(AF_INET6, cfg->verify_host, &a6) == 1;
		int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, cfg->verify_host)
			    : X509_VERIFY_PARAM_set1_host(vp, cfg->verify_host, 0);
		if (!ok)
			s = rp__err(err, RP_E_INTERNAL, "DICOM TLS: cannot check the name %s",
				    cfg->verify_host);
	}
	if (s != RP_OK) {
		delete t;
		return s;
	}
	t->setCertificateVerification(DCV_requireCertificate);
	*ret = t;
	return RP_OK;
}

void
rp__dicom_tls_free(DcmTransportLayer *t)
{
	delete t;
}
