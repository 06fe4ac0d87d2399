/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS socket BIO (src/transport/sockbio.h) under a real
 * bufferevent_openssl, against a plain blocking OpenSSL client on the
 * other end of a socket pair:
 * - records that arrive in one burst, the peer then silent, are all read
 *   (none waits in the BIO's buffer for bytes that never come), also when
 *   reading was off while they waited and is turned on with rhi_conn_enable;
 * - a bufferevent freed as soon as libevent says its output is written,
 *   while the BIO still holds encrypted bytes the socket did not take, loses
 *   none of them: the client reads every byte, then EOF;
 * - such bytes still unsent when the transport's loop is torn down are
 *   dropped with their socket closed (rhi_sockbio_drop_orphans), not leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "transport/conn.h"
#include "transport/sockbio.h"

#define RECORDS 10
#define RECORD_LEN 1000
#define REPLY_LEN (1024 * 1024)

/* The client stops reading this far from the end of the reply until the
 * server has freed its bufferevent (or 5 s passed): the rest (less than
 * the socket and the BIO hold together) then drains from the bufferevent
 * into the BIO, so bytes are held at the free whatever the scheduling (a
 * pause by time alone left nothing held once, in a loaded CI run). */
#define TAIL_HELD (128 * 1024)
static _Atomic bool g_server_freed;

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 9));
}

typedef struct server {
    struct event_base *base;
    struct bufferevent *bev;
    BIO *bio;
    struct event *resume; /* turns reading on again */
    uint8_t got[RECORDS * RECORD_LEN];
    size_t n_got;
    int read_calls;
    bool paused;
    bool replied;
    size_t unsent_at_free; /* what the BIO still held when bev was freed */
    bool freed;
} server;

typedef struct client {
    int fd;
    SSL_CTX *ctx;
    size_t n_reply; /* bytes of the reply read, in order and correct */
    bool reply_ok, eof_after;
    char err[200];
    atomic_bool done;
} client;

static void make_cert(EVP_PKEY **key, X509 **cert)
{
    *key = EVP_EC_gen("P-256");
    *cert = X509_new();
    X509_set_version(*cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(*cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(*cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(*cert), 3600);
    X509_set_pubkey(*cert, *key);
    X509_NAME *name = X509_get_subject_name(*cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sockbio", -1,
                               -1, 0);
    X509_set_issuer_name(*cert, name);
    X509_sign(*cert, *key, EVP_sha256());
}

static void *client_main(void *arg)
{
    client *c = arg;
    SSL *ssl = SSL_new(c->ctx);
    SSL_set_fd(ssl, c->fd);
    if (SSL_connect(ssl) != 1) {
        snprintf(c->err, sizeof(c->err), "SSL_connect failed: %lu", ERR_get_error());
        goto out;
    }
    /* ten records made into memory, then sent with one write(2): they
     * reach the server in one read */
    BIO *mem = BIO_new(BIO_s_mem());
    BIO *sock = SSL_get_wbio(ssl);
    BIO_up_ref(sock);
    SSL_set0_wbio(ssl, mem);
    uint8_t rec[RECORD_LEN];
    for (int r = 0; r < RECORDS; r++) {
        for (size_t i = 0; i < RECORD_LEN; i++)
            rec[i] = pattern((size_t)r * RECORD_LEN + i);
        if (SSL_write(ssl, rec, RECORD_LEN) != RECORD_LEN) {
            snprintf(c->err, sizeof(c->err), "SSL_write to memory failed");
            goto out;
        }
    }
    char *bytes;
    long len = BIO_get_mem_data(mem, &bytes);
    if (write(c->fd, bytes, (size_t)len) != len) {
        snprintf(c->err, sizeof(c->err), "write of %ld bytes failed", len);
        goto out;
    }
    SSL_set0_wbio(ssl, sock); /* frees mem */
    /* the reply: half of it, a pause (the server's socket fills up while
     * its bufferevent thinks all is written and frees itself), the rest */
    static uint8_t buf[64 * 1024];
    c->reply_ok = true;
    bool paused = false, held = false;
    for (;;) {
        int n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) {
            c->eof_after = c->n_reply == REPLY_LEN;
            break;
        }
        for (int i = 0; i < n; i++)
            if (buf[i] != pattern(c->n_reply + (size_t)i))
                c->reply_ok = false;
        c->n_reply += (size_t)n;
        if (!paused && c->n_reply >= REPLY_LEN / 2) {
            paused = true;
            struct timespec ts = {0, 300 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (!held && c->n_reply >= REPLY_LEN - TAIL_HELD) {
            held = true;
            for (int i = 0; i < 500 && !atomic_load(&g_server_freed); i++) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
    }
out:
    SSL_free(ssl);
    close(c->fd);
    c->done = true;
    return NULL;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server *s = arg;
    s->paused = false;
    rhi_conn_enable(s->bev, EV_READ);
}

static void on_written(struct bufferevent *bev, void *arg)
{
    server *s = arg;
    if (!s->replied || evbuffer_get_length(bufferevent_get_output(bev)) != 0)
        return;
    s->unsent_at_free = rhi_sockbio_unsent(s->bio);
    bufferevent_free(bev); /* as a server that answered and hangs up */
    s->bev = NULL;
    s->freed = true;
    atomic_store(&g_server_freed, true);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    server *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (n > sizeof(s->got) - s->n_got)
        n = sizeof(s->got) - s->n_got;
    evbuffer_remove(in, s->got + s->n_got, n);
    s->n_got += n;
    s->read_calls++;
    if (s->read_calls == 1 && s->n_got < sizeof(s->got)) {
        /* reading off while the rest waits in the BIO, on again later */
        bufferevent_disable(bev, EV_READ);
        s->paused = true;
        struct timeval tv = {0, 50 * 1000};
        evtimer_add(s->resume, &tv);
    }
    if (s->n_got == sizeof(s->got) && !s->replied) {
        s->replied = true;
        uint8_t *reply = malloc(REPLY_LEN);
        for (size_t i = 0; i < REPLY_LEN; i++)
            reply[i] = pattern(i);
        bufferevent_write(bev, reply, REPLY_LEN);
        free(reply);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)arg;
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
        fprintf(stderr, "server event 0x%x\n", what);
}

static struct event_base *g_base;

/* ends the loop when the client is done, or after 10 s */
static void on_tick_base(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    client *c = arg;
    static int ticks;
    if (!c->done && ++ticks == 1000) {
        fprintf(stderr, "stuck after 10 s: cutting the client's socket\n");
        shutdown(c->fd, SHUT_RDWR);
    }
    if (c->done)
        event_base_loopbreak(g_base);
}

static void burst_then_free_with_unsent(void)
{
    EVP_PKEY *key;
    X509 *cert;
    make_cert(&key, &cert);
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(sctx, cert);
    SSL_CTX_use_PrivateKey(sctx, key);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 16 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    evutil_make_socket_nonblocking(sv[0]);

    server s = {0};
    s.base = g_base = event_base_new();
    s.resume = evtimer_new(s.base, on_resume, &s);
    SSL *ssl = SSL_new(sctx);
    s.bio = rhi_sockbio_new(s.base, sv[0]);
    CHECK(s.bio != NULL);
    SSL_set_bio(ssl, s.bio, s.bio);
    s.bev = bufferevent_openssl_socket_new(s.base, sv[0], ssl, BUFFEREVENT_SSL_ACCEPTING,
                                           BEV_OPT_CLOSE_ON_FREE);
    CHECK(s.bev != NULL);
    rhi_sockbio_attach(s.bio, s.bev);
    bufferevent_openssl_set_allow_dirty_shutdown(s.bev, 1);
    bufferevent_setcb(s.bev, on_read, on_written, on_event, &s);
    bufferevent_enable(s.bev, EV_READ | EV_WRITE);

    client c = {.fd = sv[1], .ctx = cctx};
    pthread_t th;
    pthread_create(&th, NULL, client_main, &c);
    struct event *tick = event_new(s.base, -1, EV_PERSIST, on_tick_base, &c);
    struct timeval tv = {0, 10 * 1000};
    event_add(tick, &tv);
    event_base_dispatch(s.base);
    pthread_join(th, NULL);

    if (c.err[0])
        fprintf(stderr, "client: %s\n", c.err);
    CHECK(c.err[0] == 0);
    CHECK_EQ_U64(s.n_got, RECORDS * RECORD_LEN);
    bool same = true;
    for (size_t i = 0; i < s.n_got; i++)
        same = same && s.got[i] == pattern(i);
    CHECK(same);
    CHECK(s.read_calls >= 2); /* the pause really split the burst */
    CHECK(s.freed);
    /* the case under test happened: bytes held when the bufferevent went */
    fprintf(stderr, "unsent when freed: %zu bytes\n", s.unsent_at_free);
    CHECK(s.unsent_at_free > 0);
    CHECK_EQ_U64(c.n_reply, REPLY_LEN);
    CHECK(c.reply_ok);
    CHECK(c.eof_after); /* then the socket closed */

    event_free(tick);
    event_free(s.resume);
    if (s.bev)
        bufferevent_free(s.bev);
    event_base_free(s.base);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* The BIO alone: writes held until the loop runs, an orphan at teardown. */
static void orphan_dropped_at_teardown(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 16 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    struct event_base *base = event_base_new();
    BIO *b = rhi_sockbio_new(base, sv[0]);
    static char data[200 * 1024];
    memset(data, 'x', sizeof(data));
    CHECK(BIO_write(b, data, 100) == 100);
    char got[200];
    CHECK(read(sv[1], got, sizeof(got)) < 0); /* held: nothing sent yet */
    event_base_loop(base, EVLOOP_NONBLOCK);   /* the pass ends: sent */
    CHECK(read(sv[1], got, sizeof(got)) == 100);
    /* more than the socket takes, the peer not reading */
    int n = BIO_write(b, data, sizeof(data));
    CHECK(n > 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(rhi_sockbio_unsent(b) > 0);
    CHECK(BIO_get_fd(b, NULL) == -1); /* as libevent asks when freeing: ours to close */
    BIO_free(b);                      /* the bufferevent went: an orphan */
    CHECK(fcntl(sv[0], F_GETFD) != -1);
    rhi_sockbio_drop_orphans(base);
    CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF);
    event_base_free(base);
    close(sv[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a failure shows as a failed check */
    TEST(burst_then_free_with_unsent);
    TEST(orphan_dropped_at_teardown);
    return CHECK_DONE();
}
