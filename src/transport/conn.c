/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection layer (conn.h): plain and TLS bufferevents, one place.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "transport/conn.h"
#include "transport/internal.h"
#include "transport/sockbio.h"
#include "transport/tls.h"

/* Puts the socket BIO of sockbio.h under bev's SSL; false when out of
 * memory. */
static bool use_sockbio(rh_transport *t, struct bufferevent *bev, SSL *ssl, evutil_socket_t fd)
{
    BIO *b = rhi_sockbio_new(t->base, fd);
    if (!b)
        return false;
    SSL_set_bio(ssl, b, b);
    if (bev)
        rhi_sockbio_attach(b, bev);
    return true;
}

struct bufferevent *rhi_conn_dial(rh_transport *t, const char *url, bufferevent_data_cb readcb,
                              bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                              void *arg, char *err, size_t errlen)
{
    rh_url u;
    if (rh_url_parse(url, &u, err, errlen) != 0)
        return NULL;
    if (u.tls && !t->tls) {
        snprintf(err, errlen, "dial %s: https:// needs peer TLS (a certificate and key)", url);
        return NULL;
    }
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM},
                           *ai = NULL;
    if (evutil_getaddrinfo(u.host, u.port, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "dial %s: cannot resolve %s", url, u.host);
        return NULL;
    }
    struct bufferevent *bev = NULL;
    if (u.tls) {
        SSL *ssl = rhi_tls_client_ssl(t->tls, u.host, u.port);
        if (ssl) {
            bev = bufferevent_openssl_socket_new(t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                 BEV_OPT_CLOSE_ON_FREE);
            if (!bev)
                SSL_free(ssl);
        }
    } else {
        bev = bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        evutil_freeaddrinfo(ai);
        snprintf(err, errlen, "dial %s: out of memory", url);
        return NULL;
    }
    if (u.tls) /* Go closes without close_notify: an EOF is an EOF */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    rh_bev_tune(bev);
    bufferevent_setcb(bev, readcb, writecb, eventcb, arg);
    struct timeval dt = {t->cfg.dial_timeout_ms / 1000, (t->cfg.dial_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, &dt, &dt);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    int rc = bufferevent_socket_connect(bev, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    /* the connect gave the SSL OpenSSL's socket BIO; nothing has been read
     * or written through it yet */
    if (rc == 0 && u.tls &&
        !use_sockbio(t, bev, bufferevent_openssl_get_ssl(bev), bufferevent_getfd(bev))) {
        snprintf(err, errlen, "dial %s: out of memory", url);
        bufferevent_free(bev);
        return NULL;
    }
    if (rc != 0) {
        snprintf(err, errlen, "dial %s: %s", url,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

struct bufferevent *rhi_conn_accept(rh_transport *t, evutil_socket_t fd, bool tls)
{
    rh_socket_tune(fd);
    struct bufferevent *bev = NULL;
    if (tls && t->tls) {
        SSL *ssl = rhi_tls_server_ssl(t->tls);
        if (ssl && !use_sockbio(t, NULL, ssl, fd)) {
            SSL_free(ssl);
            ssl = NULL;
        }
        if (ssl) {
            bev = bufferevent_openssl_socket_new(t->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE);
            if (!bev) {
                SSL_free(ssl);
            } else {
                rhi_sockbio_attach(SSL_get_rbio(ssl), bev);
                bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
            }
        }
    } else if (!tls) {
        bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        evutil_closesocket(fd);
        return NULL;
    }
    rh_bev_tune(bev);
    return bev;
}

void rhi_conn_enable(struct bufferevent *bev, short what)
{
    bufferevent_enable(bev, what);
    SSL *ssl = (what & EV_READ) ? bufferevent_openssl_get_ssl(bev) : NULL;
    if (ssl)
        rhi_sockbio_enable(SSL_get_rbio(ssl));
}

void rhi_conn_shutdown_write(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    if (ssl)
        rhi_sockbio_shutdown_write(SSL_get_wbio(ssl));
    else
        shutdown(bufferevent_getfd(bev), SHUT_WR);
}

bool rhi_conn_is_tls(struct bufferevent *bev)
{
    return bev && bufferevent_openssl_get_ssl(bev) != NULL;
}

bool rhi_conn_handshaking(struct bufferevent *bev)
{
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl && !rhi_tls_established(ssl);
}

static void peer_addr(struct bufferevent *bev, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    ss.ss_family = AF_UNSPEC;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
    }
    const char *dialed = host[0] ? NULL : rhi_tls_dialed_addr(bufferevent_openssl_get_ssl(bev));
    if (dialed) /* the peer hung up first: the address dialed */
        snprintf(buf, n, "%s", dialed);
    else if (!host[0])
        snprintf(buf, n, "a closed connection");
    else
        snprintf(buf, n, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* The first OpenSSL error libevent recorded for bev, 0 if none. */
static unsigned long first_ssl_error(struct bufferevent *bev)
{
    unsigned long e, first = 0;
    while ((e = bufferevent_get_openssl_error(bev)) != 0)
        if (!first)
            first = e;
    return first;
}

const char *rhi_conn_event_text(rh_transport *t, struct bufferevent *bev, short what,
                            uint64_t peer_id, char *buf, size_t n)
{
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    unsigned long se = ssl ? first_ssl_error(bev) : 0;
    bool handshake = ssl && !rhi_tls_established(ssl);
    /* TLS 1.3: a client learns that the server refused its certificate
     * from an alert after its side of the handshake is done */
    bool refused = se && ERR_GET_LIB(se) == ERR_LIB_SSL &&
                   ERR_GET_REASON(se) >= SSL_AD_REASON_OFFSET; /* an alert it sent */
    /* a TLS failure is one OpenSSL or our verification saw; a connect that
     * failed or a peer that hung up is the socket's story, as for plain */
    bool tls_fault = ssl && (rhi_tls_verify_failed(ssl) || (se && ERR_GET_LIB(se) != 0));
    bool timed_out_handshake = ssl && handshake && (what & BEV_EVENT_TIMEOUT) &&
                               SSL_is_server(ssl);
    if (!t->tls || !((handshake && tls_fault) || refused || timed_out_handshake)) {
        const char *during = handshake ? " during the TLS handshake" : "";
        if (what & BEV_EVENT_TIMEOUT)
            snprintf(buf, n, "i/o timeout%s", during);
        else if (what & BEV_EVENT_EOF)
            snprintf(buf, n, "EOF%s", during);
        else if (se && ERR_GET_LIB(se) != 0)
            ERR_error_string_n(se, buf, n);
        else
            snprintf(buf, n, "%s%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
                     during);
        return buf;
    }
    char why[512];
    int reason;
    if (what & BEV_EVENT_TIMEOUT) {
        snprintf(why, sizeof(why), "TLS handshake not complete in time");
        reason = TLS_R_HANDSHAKE;
    } else {
        reason = rhi_tls_explain(ssl, se, why, sizeof(why));
    }
    snprintf(buf, n, "%s", why);
    if (reason == TLS_R_PLAIN_TO_TLS && SSL_is_server(ssl)) {
        /* Go's answer, word for word, on the socket under the TLS layer */
        static const char resp[] = "HTTP/1.0 400 Bad Request\r\n\r\n"
                                   "Client sent an HTTP request to an HTTPS server.\n";
        evutil_socket_t fd = bufferevent_getfd(bev);
        if (fd >= 0) {
            ssize_t k = send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)k; /* a peer gone already needs no answer */
        }
    }
    uint64_t suppressed = 0;
    if (rhi_tls_count_failure(t->tls, reason, &suppressed)) {
        char addr[80], cert[300], who[17] = "";
        if (peer_id)
            rh_id_str(peer_id, who);
        peer_addr(bev, addr, sizeof(addr));
        rhi_tls_peer_name(ssl, cert, sizeof(cert));
        bool server = SSL_is_server(ssl);
        char more[64] = "";
        if (suppressed)
            snprintf(more, sizeof(more), " (%llu more like it in the last second)",
                     (unsigned long long)suppressed);
        rh_logp(RH_LOG_WARN, peer_id, "refused TLS handshake %s %s%s%s (%s): %s [%s]%s",
                server ? "from" : "to", addr, who[0] ? ", member " : "", who, cert,
                why, rhi_tls_reason_name(reason), more);
    }
    return buf;
}
