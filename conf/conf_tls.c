/*
 * harepd -t on the TLS files: each holds what its key says (PEM
 * certificates, a PEM private key), the key belongs to the certificate,
 * and the certificate is signed by ca and in its validity period. Peers
 * verify each other with the same ca, so a certificate ca does not sign
 * would fail every handshake at run time instead (gRPC reports that as
 * UNAVAILABLE, which says nothing about the certificate).
 */
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "conf/conf_int.h"

#define P_TLS	"harepd.gRPC.tls"

/* The certificate file: the node's certificate, then maybe intermediates
 * (gRPC sends the whole chain, so verification must use it too). */
static X509 *
read_cert(const char *file, STACK_OF(X509) **chain)
{
	BIO *bio = BIO_new_file(file, "r");
	X509 *leaf = NULL, *x;

	*chain = sk_X509_new_null();
	if (bio == NULL || *chain == NULL) {
		BIO_free(bio);
		return NULL;
	}
	leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	while (leaf != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL,
	    NULL)) != NULL)
		if (sk_X509_push(*chain, x) == 0)
			X509_free(x);
	BIO_free(bio);
	return leaf;
}

/* Every certificate of the ca file goes into the store (a bundle). */
static X509_STORE *
read_ca(const char *file)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL || X509_STORE_load_locations(store, file, NULL) != 1) {
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

static EVP_PKEY *
read_key(const char *file)
{
	BIO *bio = BIO_new_file(file, "r");
	EVP_PKEY *k = NULL;

	if (bio != NULL) {
		/* an encrypted key: no passphrase callback, fails as it would
		 * in the daemon */
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
		BIO_free(bio);
	}
	return k;
}

static int
verify_cert(const struct conf *c, struct conf_diag *d, X509_STORE *store,
    X509 *cert, STACK_OF(X509) *chain)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok, err;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, store, cert, chain) != 1) {
		X509_STORE_CTX_free(ctx);
		return 0;
	}
	ok = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	if (ok == 1)
		return 0;
	src_error(d, c->src, P_TLS ".cert", "%s: does not verify against ca "
	    "%s: %s", c->tls.cert, c->tls.ca, X509_verify_cert_error_string(err));
	return 1;
}

/* A private key others can read is a key others can use. */
static void
key_mode(const struct conf *c, struct conf_diag *d)
{
	struct stat st;

	if (stat(c->tls.key, &st) == 0 && (st.st_mode & 0077) != 0)
		src_warning(d, c->src, P_TLS ".key", "%s: mode %04o: readable by "
		    "other users, make it 0600 or 0640", c->tls.key,
		    (unsigned)(st.st_mode & 07777));
}

int
conf_check_tls_files(const struct conf *c, struct conf_diag *d)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = read_ca(c->tls.ca);
	X509 *cert = read_cert(c->tls.cert, &chain);
	EVP_PKEY *key = read_key(c->tls.key);
	int n = 0;

	if (store == NULL && ++n)
		src_error(d, c->src, P_TLS ".ca", "%s: no PEM certificate in it",
		    c->tls.ca);
	if (cert == NULL && ++n)
		src_error(d, c->src, P_TLS ".cert", "%s: no PEM certificate in it",
		    c->tls.cert);
	if (key == NULL && ++n)
		src_error(d, c->src, P_TLS ".key", "%s: no unencrypted PEM "
		    "private key in it", c->tls.key);
	if (cert != NULL && key != NULL && X509_check_private_key(cert, key) != 1
	    && ++n)
		src_error(d, c->src, P_TLS ".key", "%s: not the key of the "
		    "certificate %s", c->tls.key, c->tls.cert);
	if (cert != NULL && store != NULL)
		n += verify_cert(c, d, store, cert, chain);
	if (key != NULL)
		key_mode(c, d);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_free(store);
	ERR_clear_error();
	return n;
}
