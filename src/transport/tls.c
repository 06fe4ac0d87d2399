/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer TLS (tls.h): contexts, etcd's checks, reloads, explanations.
 *
 * etcd's semantics (pkg/transport/listener.go, 3.4): TLS 1.2 at least; the
 * server demands a verified client certificate when a trusted CA file is
 * given or client-cert-auth is on; allowed CN (exact) and allowed hostname
 * (Go's VerifyHostname: SANs only, a wildcard for one leftmost label, IP
 * SANs for IPs) apply to the other side's leaf certificate on both sides;
 * the client verifies the server's certificate against the URL's host.
 * ALPN: http/1.1 only (etcd's peer port gives h2 to gRPC).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "transport/internal.h"
#include "transport/tls.h"

static const char *const reason_names[TLS_R_COUNT] = {
    [TLS_R_EXPIRED] = "expired",
    [TLS_R_NOT_YET_VALID] = "not_yet_valid",
    [TLS_R_UNKNOWN_CA] = "unknown_ca",
    [TLS_R_CN_NOT_ALLOWED] = "cn_not_allowed",
    [TLS_R_HOST_NOT_ALLOWED] = "hostname_not_allowed",
    [TLS_R_HOST_MISMATCH] = "hostname_mismatch",
    [TLS_R_REVOKED] = "revoked",
    [TLS_R_NO_CLIENT_CERT] = "no_client_certificate",
    [TLS_R_PLAIN_TO_TLS] = "plain_http_to_tls_port",
    [TLS_R_TLS_TO_PLAIN] = "tls_to_plain_port",
    [TLS_R_PEER_REFUSED] = "refused_by_peer",
    [TLS_R_HANDSHAKE] = "handshake",
};

const char *rhi_tls_reason_name(int reason)
{
    return reason >= 0 && reason < TLS_R_COUNT ? reason_names[reason] : "handshake";
}

enum { F_CERT, F_KEY, F_CA, F_CRL, F_COUNT };

struct rh_tls {
    char *file[F_COUNT];       /* owned copies; NULL when not set */
    struct stat st[F_COUNT];   /* as last loaded */
    bool client_cert_auth;
    char *allowed_cn, *allowed_host;
    char *cipher_list, *ciphersuites; /* TLS <= 1.2 and 1.3 */
    int min_version, max_version;
    SSL_CTX *server, *client;
    int64_t checked_ms;        /* last look at the files */
    _Atomic uint64_t fails[TLS_R_COUNT];
    int64_t logged_ms[TLS_R_COUNT];
    uint64_t suppressed[TLS_R_COUNT];
};

/* What a connection's verification found (SSL ex data). */
typedef struct tls_conn {
    rh_tls *tls;
    int reason;        /* -1 while nothing failed */
    bool established;  /* the handshake completed once */
    char peer_cn[128]; /* CN of the other side's certificate, as verification saw it */
    char addr[300];    /* "host:port" dialed ("" when accepted) */
    char why[400];
} tls_conn;

static int conn_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void make_idx(void)
{
    conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
}

/* ---- explanations --------------------------------------------------------- */

static void name_entry(X509_NAME *name, int nid, char *buf, size_t n)
{
    buf[0] = 0;
    if (name && X509_NAME_get_text_by_NID(name, nid, buf, (int)n) < 0)
        buf[0] = 0;
}

static void cert_cn(X509 *c, char *buf, size_t n)
{
    name_entry(c ? X509_get_subject_name(c) : NULL, NID_commonName, buf, n);
}

static void asn1_time_str(const ASN1_TIME *t, char *buf, size_t n)
{
    struct tm tm;
    if (t && ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(buf, n, "?");
}

/* "DNS:a, IP:1.2.3.4" of c's SANs, or "none". */
static void sans_str(X509 *c, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    GENERAL_NAMES *gens = c ? X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL) : NULL;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char one[300] = "";
        if (g->type == GEN_DNS) {
            snprintf(one, sizeof(one), "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            char ip[INET6_ADDRSTRLEN] = "?";
            int l = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
            if (l == 4 || l == 16)
                inet_ntop(l == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip));
            snprintf(one, sizeof(one), "IP:%s", ip);
        } else {
            continue;
        }
        int w = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", one);
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
    GENERAL_NAMES_free(gens);
    if (!buf[0])
        snprintf(buf, n, "none");
}

static void set_why(tls_conn *tc, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(tls_conn *tc, int reason, const char *fmt, ...)
{
    if (tc->reason >= 0)
        return; /* the first failure is the one to tell */
    tc->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tc->why, sizeof(tc->why), fmt, ap);
    va_end(ap);
}

static bool is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* Go's VerifyHostname: SANs only, wildcards for a whole leftmost label. */
static bool cert_matches_host(X509 *c, const char *host)
{
    if (is_ip(host))
        return X509_check_ip_asc(c, host, 0) == 1;
    return X509_check_host(c, host, 0,
                           X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                               X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                           NULL) == 1;
}

static void explain_verify(tls_conn *tc, int e, X509 *c, X509_STORE_CTX *x)
{
    char cn[256], issuer[256], when[64], sans[600];
    cert_cn(c, cn, sizeof(cn));
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        asn1_time_str(c ? X509_get0_notAfter(c) : NULL, when, sizeof(when));
        set_why(tc, TLS_R_EXPIRED, "certificate CN \"%s\" expired on %s", cn, when);
        return;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        asn1_time_str(c ? X509_get0_notBefore(c) : NULL, when, sizeof(when));
        set_why(tc, TLS_R_NOT_YET_VALID, "certificate CN \"%s\" is not valid before %s", cn,
                when);
        return;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        name_entry(c ? X509_get_issuer_name(c) : NULL, NID_commonName, issuer, sizeof(issuer));
        set_why(tc, TLS_R_UNKNOWN_CA,
                "unknown CA: certificate CN \"%s\" is issued by \"%s\", which is not in "
                "the trusted CA file %s",
                cn, issuer, tc->tls->file[F_CA] ? tc->tls->file[F_CA] : "(none)");
        return;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
        X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(x);
        const char *h = vp ? X509_VERIFY_PARAM_get0_host(vp, 0) : NULL;
        char ipbuf[64] = "";
        if (!h && vp) {
            char *ip = X509_VERIFY_PARAM_get1_ip_asc(vp);
            if (ip) {
                snprintf(ipbuf, sizeof(ipbuf), "%s", ip);
                OPENSSL_free(ip);
            }
            h = ipbuf;
        }
        sans_str(c, sans, sizeof(sans));
        set_why(tc, TLS_R_HOST_MISMATCH,
                "hostname mismatch: certificate CN \"%s\" is not valid for %s (the peer URL's "
                "host); its SANs: %s",
                cn, h && *h ? h : "the host", sans);
        return;
    }
    case X509_V_ERR_CERT_REVOKED: {
        char serial[80] = "?";
        const ASN1_INTEGER *sn = c ? X509_get0_serialNumber(c) : NULL;
        BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        if (hex)
            snprintf(serial, sizeof(serial), "%s", hex);
        OPENSSL_free(hex);
        BN_free(bn);
        set_why(tc, TLS_R_REVOKED, "certificate CN \"%s\" (serial %s) is revoked by the CRL %s",
                cn, serial, tc->tls->file[F_CRL] ? tc->tls->file[F_CRL] : "");
        return;
    }
    default:
        set_why(tc, TLS_R_HANDSHAKE, "certificate CN \"%s\": %s", cn,
                X509_verify_cert_error_string(e));
    }
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn *tc = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
    if (!tc)
        return ok;
    X509 *c = X509_STORE_CTX_get_current_cert(x);
    if (X509_STORE_CTX_get_error_depth(x) == 0 && c && !tc->peer_cn[0])
        cert_cn(c, tc->peer_cn, sizeof(tc->peer_cn));
    if (!ok) {
        explain_verify(tc, X509_STORE_CTX_get_error(x), c, x);
        return 0;
    }
    if (X509_STORE_CTX_get_error_depth(x) != 0)
        return 1;
    rh_tls *t = tc->tls;
    char cn[256];
    if (t->allowed_cn) {
        cert_cn(c, cn, sizeof(cn));
        if (strcmp(cn, t->allowed_cn) != 0) {
            set_why(tc, TLS_R_CN_NOT_ALLOWED, "CN \"%s\" is not the allowed CN \"%s\"", cn,
                    t->allowed_cn);
            X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
            return 0;
        }
    }
    if (t->allowed_host && !cert_matches_host(c, t->allowed_host)) {
        char sans[600];
        cert_cn(c, cn, sizeof(cn));
        sans_str(c, sans, sizeof(sans));
        set_why(tc, TLS_R_HOST_NOT_ALLOWED,
                "certificate CN \"%s\" is not valid for the allowed hostname \"%s\"; its SANs: %s",
                cn, t->allowed_host, sans);
        X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

/* An alert the other side sent: what it means for us. */
static const char *alert_meaning(int reason)
{
    switch (reason) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        return "it does not trust the CA that signed our certificate";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        return "it says our certificate has expired";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        return "it rejected our certificate (bad certificate: wrong CA, CN or hostname not "
               "allowed, or revoked; its log says which)";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
        return "it says our certificate is revoked";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return "it requires a client certificate and we sent none";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        return "no protocol version or cipher suite in common, or it refused our certificate";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        return "no TLS version in common";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        return "it could not verify our certificate";
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
        return "it could not verify our handshake signature";
    default:
        return NULL;
    }
}

int rhi_tls_explain(SSL *ssl, unsigned long ssl_err, char *buf, size_t n)
{
    tls_conn *tc = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
    if (tc && tc->reason >= 0) {
        snprintf(buf, n, "%s", tc->why);
        return tc->reason;
    }
    int lib = ssl_err ? ERR_GET_LIB(ssl_err) : 0;
    int r = ssl_err ? ERR_GET_REASON(ssl_err) : 0;
    if (lib == ERR_LIB_SSL) {
        const char *m = alert_meaning(r);
        if (m) {
            snprintf(buf, n, "the peer refused the handshake: %s (alert: %s)", m,
                     ERR_reason_error_string(ssl_err));
            return TLS_R_PEER_REFUSED;
        }
        switch (r) {
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST:
            snprintf(buf, n, "plain HTTP sent to this TLS port: use https:// in the URL of "
                             "this member");
            return TLS_R_PLAIN_TO_TLS;
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
            snprintf(buf, n, "the peer did not answer in TLS (%s): is its URL http:// "
                             "rather than https://?",
                     ERR_reason_error_string(ssl_err));
            return TLS_R_TLS_TO_PLAIN;
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            snprintf(buf, n, "no client certificate sent, and client-cert-auth requires one");
            return TLS_R_NO_CLIENT_CERT;
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
            snprintf(buf, n, "%s: check --cipher-suites and --tls-min/max-version on both "
                             "sides", ERR_reason_error_string(ssl_err));
            return TLS_R_HANDSHAKE;
        default:
            break;
        }
    }
    if (ssl_err) {
        char e[256];
        ERR_error_string_n(ssl_err, e, sizeof(e));
        snprintf(buf, n, "TLS handshake failed: %s", e);
    } else {
        snprintf(buf, n, "TLS handshake failed: connection closed during the handshake");
    }
    return TLS_R_HANDSHAKE;
}

bool rhi_tls_count_failure(rh_tls *t, int reason, uint64_t *suppressed)
{
    if (reason < 0 || reason >= TLS_R_COUNT)
        reason = TLS_R_HANDSHAKE;
    atomic_fetch_add_explicit(&t->fails[reason], 1, memory_order_relaxed);
    int64_t now = rh_now_ms();
    if (t->logged_ms[reason] && now - t->logged_ms[reason] < 1000) {
        t->suppressed[reason]++;
        return false;
    }
    t->logged_ms[reason] = now;
    *suppressed = t->suppressed[reason];
    t->suppressed[reason] = 0;
    return true;
}

uint64_t rhi_tls_failures(const rh_tls *t, int reason)
{
    return atomic_load_explicit(&((rh_tls *)t)->fails[reason], memory_order_relaxed);
}

const char *rhi_tls_dialed_addr(SSL *ssl)
{
    tls_conn *tc = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
    return tc && tc->addr[0] ? tc->addr : NULL;
}

void rhi_tls_peer_name(SSL *ssl, char *buf, size_t n)
{
    X509 *c = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
    if (!c) {
        tls_conn *tc = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
        if (tc && tc->peer_cn[0])
            snprintf(buf, n, "certificate CN \"%s\"", tc->peer_cn);
        else
            snprintf(buf, n, "no certificate");
        return;
    }
    char cn[256];
    cert_cn(c, cn, sizeof(cn));
    snprintf(buf, n, "certificate CN \"%s\"", cn);
    X509_free(c);
}

/* ---- contexts -------------------------------------------------------------- */

static void info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_DONE))
        return;
    tls_conn *tc = SSL_get_ex_data(ssl, conn_idx);
    if (tc)
        tc->established = true;
}

bool rhi_tls_verify_failed(SSL *ssl)
{
    tls_conn *tc = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
    return tc && tc->reason >= 0;
}

bool rhi_tls_established(SSL *ssl)
{
    tls_conn *tc = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
    return tc && tc->established;
}

static void ssl_errors(char *buf, size_t n, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char es[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, es, sizeof(es));
    ERR_clear_error();
    snprintf(buf, n, "%s %s: %s", what, file, es);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK; /* h2 only: go on without ALPN, as HTTP/1.1 */
}

static SSL_CTX *build_ctx(rh_tls *t, bool server, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        ssl_errors(err, errlen, "cannot create a TLS context", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, t->min_version);
    SSL_CTX_set_max_proto_version(ctx, t->max_version);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Go closes connections without close_notify: that is an EOF */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_info_callback(ctx, info_cb);
    if (t->cipher_list && SSL_CTX_set_cipher_list(ctx, t->cipher_list) != 1) {
        ssl_errors(err, errlen, "cipher suites", t->cipher_list);
        goto fail;
    }
    /* TLS 1.3 in Go's order on AES hardware (crypto/tls), not OpenSSL's
     * AES-256 first: AES-128-GCM is the one Go peers pick, and on this
     * class of machine about 17% cheaper a byte (openssl speed -evp) */
    const char *tls13 = t->ciphersuites ? t->ciphersuites
                                        : "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                                          "TLS_AES_256_GCM_SHA384";
    if (SSL_CTX_set_ciphersuites(ctx, tls13) != 1) {
        ssl_errors(err, errlen, "TLS 1.3 cipher suites", tls13);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, t->file[F_CERT]) != 1) {
        ssl_errors(err, errlen, "cannot load certificate", t->file[F_CERT]);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, t->file[F_KEY], SSL_FILETYPE_PEM) != 1) {
        ssl_errors(err, errlen, "cannot load key", t->file[F_KEY]);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_errors(err, errlen, "key does not match certificate", t->file[F_CERT]);
        goto fail;
    }
    if (t->file[F_CA]) {
        if (SSL_CTX_load_verify_locations(ctx, t->file[F_CA], NULL) != 1) {
            ssl_errors(err, errlen, "cannot load trusted CA file", t->file[F_CA]);
            goto fail;
        }
        if (server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->file[F_CA]);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
        }
    } else if (!server && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_errors(err, errlen, "cannot load the system's CAs", "");
        goto fail;
    }
    if (t->file[F_CRL]) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        BIO *b = BIO_new_file(t->file[F_CRL], "r");
        X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!crl || X509_STORE_add_crl(store, crl) != 1) {
            X509_CRL_free(crl);
            ssl_errors(err, errlen, "cannot load CRL", t->file[F_CRL]);
            goto fail;
        }
        X509_CRL_free(crl);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    if (server) {
        int mode = SSL_VERIFY_NONE;
        if (t->file[F_CA] || t->client_cert_auth)
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, verify_cb);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"rafthttp", 8);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Both contexts from the files as they are now; 0, or -1 with err (the
 * old contexts stay). */
static int load(rh_tls *t, char *err, size_t errlen)
{
    struct stat st[F_COUNT];
    memset(st, 0, sizeof(st));
    for (int i = 0; i < F_COUNT; i++)
        if (t->file[i] && stat(t->file[i], &st[i]) != 0) {
            snprintf(err, errlen, "%s: %s", t->file[i], strerror(errno));
            return -1;
        }
    SSL_CTX *s = build_ctx(t, true, err, errlen);
    SSL_CTX *c = s ? build_ctx(t, false, err, errlen) : NULL;
    if (!c) {
        SSL_CTX_free(s);
        return -1;
    }
    SSL_CTX_free(t->server); /* connections made with them hold their own references */
    SSL_CTX_free(t->client);
    t->server = s;
    t->client = c;
    memcpy(t->st, st, sizeof(st));
    return 0;
}

static bool changed(const struct stat *a, const struct stat *b)
{
    return a->st_ino != b->st_ino || a->st_size != b->st_size ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Reloads when a file changed since the last load (looked at once a
 * second at most); a reload that fails keeps the old contexts. */
static void maybe_reload(rh_tls *t)
{
    int64_t now = rh_now_ms();
    if (now - t->checked_ms < 1000)
        return;
    t->checked_ms = now;
    bool any = false;
    for (int i = 0; i < F_COUNT && !any; i++) {
        struct stat st;
        if (t->file[i] && stat(t->file[i], &st) == 0 && changed(&st, &t->st[i]))
            any = true;
    }
    if (!any)
        return;
    char err[512];
    if (load(t, err, sizeof(err)) == 0)
        rh_logf(RH_LOG_INFO, "peer TLS files changed: reloaded %s, %s%s%s%s%s",
                t->file[F_CERT], t->file[F_KEY], t->file[F_CA] ? ", " : "",
                t->file[F_CA] ? t->file[F_CA] : "", t->file[F_CRL] ? ", " : "",
                t->file[F_CRL] ? t->file[F_CRL] : "");
    else
        rh_logf(RH_LOG_WARN, "peer TLS files changed but cannot be used (keeping the "
                "previous ones): %s", err);
}

static int parse_version(const char *v, int dflt, int *out, char *err, size_t errlen)
{
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    if (strcmp(v, "TLS1.2") == 0) {
        *out = TLS1_2_VERSION;
    } else if (strcmp(v, "TLS1.3") == 0) {
        *out = TLS1_3_VERSION;
    } else {
        snprintf(err, errlen, "unsupported TLS version \"%s\" (TLS1.2 or TLS1.3)", v);
        return -1;
    }
    return 0;
}

/* etcd's --cipher-suites are IANA names: TLS 1.2 ones become an OpenSSL
 * cipher list, TLS 1.3 ones (TLS_AES_...) its ciphersuites. */
static int parse_ciphers(rh_tls *t, const char *list, char *err, size_t errlen)
{
    size_t cap = strlen(list) * 2 + 2;
    char *l12 = calloc(1, cap), *l13 = calloc(1, cap), *copy = strdup(list);
    if (!l12 || !l13 || !copy) {
        free(l12);
        free(l13);
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        bool v13 = strncmp(tok, "TLS_AES_", 8) == 0 || strncmp(tok, "TLS_CHACHA20_", 13) == 0;
        const char *name = v13 ? tok : OPENSSL_cipher_name(tok);
        if (!name || strcmp(name, "(NONE)") == 0) {
            snprintf(err, errlen, "unknown cipher suite \"%s\"", tok);
            free(l12);
            free(l13);
            free(copy);
            return -1;
        }
        char *dst = v13 ? l13 : l12;
        if (*dst)
            strcat(dst, ":");
        strcat(dst, name);
    }
    free(copy);
    t->cipher_list = *l12 ? l12 : (free(l12), NULL);
    t->ciphersuites = *l13 ? l13 : (free(l13), NULL);
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

rh_tls *rhi_tls_new(const rh_tls_config *cfg, char *err, size_t errlen)
{
    pthread_once(&idx_once, make_idx);
    if (conn_idx < 0) {
        snprintf(err, errlen, "OpenSSL: no ex data index");
        return NULL;
    }
    if (!cfg->cert_file || !*cfg->cert_file || !cfg->key_file || !*cfg->key_file) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file (--peer-cert-file, "
                              "--peer-key-file)");
        return NULL;
    }
    if (cfg->allowed_cn && *cfg->allowed_cn && cfg->allowed_hostname && *cfg->allowed_hostname) {
        snprintf(err, errlen, "allowed CN and allowed hostname are mutually exclusive "
                              "(cn=\"%s\", hostname=\"%s\")",
                 cfg->allowed_cn, cfg->allowed_hostname);
        return NULL;
    }
    rh_tls *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->file[F_CERT] = dup_or_null(cfg->cert_file);
    t->file[F_KEY] = dup_or_null(cfg->key_file);
    t->file[F_CA] = dup_or_null(cfg->trusted_ca_file);
    t->file[F_CRL] = dup_or_null(cfg->crl_file);
    t->client_cert_auth = cfg->client_cert_auth;
    t->allowed_cn = dup_or_null(cfg->allowed_cn);
    t->allowed_host = dup_or_null(cfg->allowed_hostname);
    if (parse_version(cfg->min_version, TLS1_2_VERSION, &t->min_version, err, errlen) ||
        parse_version(cfg->max_version, TLS1_3_VERSION, &t->max_version, err, errlen) ||
        (cfg->cipher_suites && *cfg->cipher_suites &&
         parse_ciphers(t, cfg->cipher_suites, err, errlen)) ||
        load(t, err, errlen)) {
        rhi_tls_free(t);
        return NULL;
    }
    if (t->min_version > t->max_version) {
        snprintf(err, errlen, "TLS minimum version above the maximum");
        rhi_tls_free(t);
        return NULL;
    }
    t->checked_ms = rh_now_ms();
    return t;
}

void rhi_tls_free(rh_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->server);
    SSL_CTX_free(t->client);
    for (int i = 0; i < F_COUNT; i++)
        free(t->file[i]);
    free(t->allowed_cn);
    free(t->allowed_host);
    free(t->cipher_list);
    free(t->ciphersuites);
    free(t);
}

static SSL *new_ssl(rh_tls *t, SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    tls_conn *tc = calloc(1, sizeof(*tc));
    if (!ssl || !tc || SSL_set_ex_data(ssl, conn_idx, tc) != 1) {
        SSL_free(ssl);
        free(tc);
        return NULL;
    }
    tc->tls = t;
    tc->reason = -1;
    return ssl;
}

SSL *rhi_tls_server_ssl(rh_tls *t)
{
    maybe_reload(t);
    return new_ssl(t, t->server);
}

SSL *rhi_tls_client_ssl(rh_tls *t, const char *host, const char *port)
{
    maybe_reload(t);
    SSL *ssl = new_ssl(t, t->client);
    if (!ssl)
        return NULL;
    tls_conn *tc = SSL_get_ex_data(ssl, conn_idx);
    if (tc)
        snprintf(tc->addr, sizeof(tc->addr), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
                 port);
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                            X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                         : X509_VERIFY_PARAM_set1_host(vp, host, 0) &&
                               SSL_set_tlsext_host_name(ssl, host);
    if (ok != 1) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}
