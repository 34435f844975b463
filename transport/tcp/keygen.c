/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/tcp/keygen.c - rp_tls_keygen(): a small test PKI with OpenSSL (EC P-256),
 * so two sites can try mutual TLS without an openssl recipe. */
#include "common/internal.h"
#include <radpipe/transport.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	int r = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return r == 1 ? 0 : -1;
}

static int
write_pem(const char *dir, const char *name, const char *ext, EVP_PKEY *key, X509 *cert,
	  struct rp_errbuf *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	/* Keys are private to their owner from the first byte. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	}
	int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_X509(f, cert);
	if (fclose(f) != 0 || ok != 1)
		return rp__err(err, RP_E_IO, "%s: cannot write", path);
	return RP_OK;
}

static int
load_ca(const char *ca_dir, X509 **cert, EVP_PKEY **key, struct rp_errbuf *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/ca.pem", ca_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(path, sizeof(path), "%s/ca.key", ca_dir);
	f = fopen(path, "r");
	if (!f)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!*cert || !*key)
		return rp__err(err, RP_E_CORRUPT, "%s: cannot read the CA certificate or key", ca_dir);
	return RP_OK;
}

int
rp_tls_keygen(const char *dir, const char *name, const char *ca_dir, struct rp_errbuf *err)
{
	if (!dir || (ca_dir && (!name || !*name || strchr(name, '/') || strlen(name) > 64)))
		return rp__err(err, RP_E_INVALID_ARG, "keygen: need a directory and a plain name");
	int st = RP_E_INTERNAL;
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = EVP_EC_gen("P-256");
	if (!key)
		return rp__err(err, RP_E_INTERNAL, "cannot generate an EC key");
	if (ca_dir && (st = load_ca(ca_dir, &ca, &ca_key, err)) < 0)
		goto out;
	st = RP_E_INTERNAL;
	cert = X509_new();
	uint8_t serial[16];
	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 825L * 24 * 3600);
	X509_set_pubkey(cert, key);
	const char *cn = ca_dir ? name : "radpipe test CA";
	X509_NAME *subj = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, ca ? X509_get_subject_name(ca) : subj);
	X509 *issuer = ca ? ca : cert;
	int bad = 0;
	if (!ca) {
		bad |= add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
		bad |= add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
		bad |= add_ext(cert, issuer, NID_subject_key_identifier, "hash");
	} else {
		char san[200];
		snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", name);
		bad |= add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
		bad |= add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
		bad |= add_ext(cert, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
		bad |= add_ext(cert, issuer, NID_subject_alt_name, san);
		bad |= add_ext(cert, issuer, NID_authority_key_identifier, "keyid");
	}
	if (bad || !X509_sign(cert, ca_key ? ca_key : key, EVP_sha256()))
		goto out;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		st = rp__err(err, RP_E_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	const char *base = ca ? name : "ca";
	if ((st = write_pem(dir, base, "key", key, NULL, err)) < 0 ||
	    (st = write_pem(dir, base, "pem", NULL, cert, err)) < 0)
		goto out;
	st = RP_OK;
out:
	if (st == RP_E_INTERNAL) {
		char buf[160] = "";
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		rp__err(err, st, "certificate generation failed: %s", buf);
	}
	ERR_clear_error();
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return st;
}
