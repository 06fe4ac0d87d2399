/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer TLS: OpenSSL contexts built from rh_tls_config, the checks etcd
 * makes (allowed CN, allowed hostname, CRL), reloading of the files when
 * they change, and the explanation of every refused handshake.
 *
 * Owns: the server and client SSL_CTX (replaced on reload; connections
 * made before keep theirs, OpenSSL counts the references), the failure
 * counters. An SSL made here carries a tls_conn (ex data, freed with it)
 * that records why its verification failed.
 *
 * Threads: the loop thread only, except the counters (atomic, read by
 * metrics from any thread).
 */
#ifndef RH_TRANSPORT_TLS_H
#define RH_TRANSPORT_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rafthttp/transport.h"

/* Why a handshake was refused: the counter's `reason` label. */
enum tls_reason {
    TLS_R_EXPIRED,          /* a certificate past its notAfter */
    TLS_R_NOT_YET_VALID,    /* before its notBefore */
    TLS_R_UNKNOWN_CA,       /* not signed by a trusted CA */
    TLS_R_CN_NOT_ALLOWED,   /* allowed_cn does not match */
    TLS_R_HOST_NOT_ALLOWED, /* allowed_hostname does not match */
    TLS_R_HOST_MISMATCH,    /* server certificate not valid for the URL's host */
    TLS_R_REVOKED,          /* in the CRL */
    TLS_R_NO_CLIENT_CERT,   /* client sent none, one was required */
    TLS_R_PLAIN_TO_TLS,     /* plain HTTP sent to a TLS port */
    TLS_R_TLS_TO_PLAIN,     /* TLS sent to a plain port (or answered in plain) */
    TLS_R_PEER_REFUSED,     /* the other side refused us (an alert) */
    TLS_R_HANDSHAKE,        /* anything else in the handshake */
    TLS_R_COUNT
};
const char *rhi_tls_reason_name(int reason);

typedef struct rh_tls rh_tls;

/* NULL with err filled when the files cannot be loaded or the settings
 * contradict each other (allowed_cn with allowed_hostname, a cipher name
 * OpenSSL does not know, a bad version). */
rh_tls *rhi_tls_new(const rh_tls_config *cfg, char *err, size_t errlen);
void rhi_tls_free(rh_tls *t);

/* A new SSL for an accepted connection or for a dial to `host`:`port` (the URL's
 * host, name or IP: the server certificate is verified against it). The
 * files are checked for changes first. NULL when out of memory. */
SSL *rhi_tls_server_ssl(rh_tls *t);
SSL *rhi_tls_client_ssl(rh_tls *t, const char *host, const char *port);
/* The "host:port" a client ssl was made for (NULL for a server's): named
 * in refusals when the peer hung up before its address could be read. */
const char *rhi_tls_dialed_addr(SSL *ssl);

/* Explains why ssl's handshake or first reads failed (`ssl_err`: the
 * OpenSSL error code libevent reported, 0 if none) in one sentence into
 * buf, and returns its reason. */
int rhi_tls_explain(SSL *ssl, unsigned long ssl_err, char *buf, size_t n);

/* Counts a refusal of `reason`; true when a log line should be written
 * now (at most one a second per reason); *suppressed gets how many were
 * not logged since the last line. */
bool rhi_tls_count_failure(rh_tls *t, int reason, uint64_t *suppressed);
uint64_t rhi_tls_failures(const rh_tls *t, int reason);

/* Has ssl's handshake completed? Did our verification refuse the peer? */
bool rhi_tls_established(SSL *ssl);
bool rhi_tls_verify_failed(SSL *ssl);

/* "CN \"x\"" of the peer's certificate into buf ("no certificate" if
 * none). */
void rhi_tls_peer_name(SSL *ssl, char *buf, size_t n);

#endif
