/* SPDX-License-Identifier: Apache-2.0 */
/* Small pieces the transport files share: logs, clocks, URLs, sockets,
 * the bounded message queue, version strings, thread names. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>

#include "transport/internal.h"

int rh_log_level = RH_LOG_INFO;

void rhi_thread_name(const char *name)
{
    pthread_setname_np(pthread_self(), name); /* best effort: only for top, ps, perf */
}

static _Thread_local const rhi_log_sink *tl_sink;

const rhi_log_sink *rhi_log_bind(const rhi_log_sink *sink)
{
    const rhi_log_sink *was = tl_sink;
    tl_sink = sink;
    return was;
}

const char *rh_log_level_name(int level)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    return level >= RH_LOG_DEBUG && level <= RH_LOG_ERROR ? names[level - RH_LOG_DEBUG] : "?";
}

void rh_vlogp(const char *who, int level, uint64_t peer_id, const char *fmt, va_list ap)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    const rhi_log_sink *s = tl_sink;
    if (level < (s ? s->level : rh_log_level))
        return;
    if (level < RH_LOG_DEBUG || level > RH_LOG_ERROR)
        level = RH_LOG_ERROR;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[1024];
    if (s && s->fn) {
        vsnprintf(line, sizeof(line), fmt, ap);
        rh_log_record r = {.level = level,
                           .time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
                           .msg = line, .local_id = s->local_id, .peer_id = peer_id};
        s->fn(s->ctx, &r);
        return;
    }
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, names[level - RH_LOG_DEBUG], who);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line); /* one write: lines of threads do not mix */
}

void rh_vlogf(const char *who, int level, const char *fmt, va_list ap)
{
    rh_vlogp(who, level, 0, fmt, ap);
}

void rh_logf(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rh_vlogp("rafthttp", level, 0, fmt, ap);
    va_end(ap);
}

void rh_logp(int level, uint64_t peer_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rh_vlogp("rafthttp", level, peer_id, fmt, ap);
    va_end(ap);
}

int64_t rh_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rh_now_ms(void)
{
    return rh_now_us() / 1000;
}

int64_t rh_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rh_id_str(uint64_t id, char out[17])
{
    rh_http_format_id(id, out);
}

void rh_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int rh_url_parse(const char *url, rh_url *out, char *err, size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0) {
        p += 7;
        out->tls = false;
    } else if (strncmp(p, "https://", 8) == 0) {
        p += 8;
        out->tls = true;
    } else {
        snprintf(err, errlen, "%s: want an http:// or https:// URL", url);
        return -1;
    }
    const char *end = p + strcspn(p, "/?#");
    const char *colon;
    const char *host_start = p, *host_end;
    if (*p == '[') { /* [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, errlen, "%s: unterminated [IPv6] host", url);
            return -1;
        }
        host_start = p + 1;
        host_end = rb;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
    }
    size_t hl = (size_t)(host_end - host_start);
    if (hl == 0 || hl >= sizeof(out->host)) {
        snprintf(err, errlen, "%s: bad host", url);
        return -1;
    }
    memcpy(out->host, host_start, hl);
    out->host[hl] = 0;
    if (!colon) {
        strcpy(out->port, out->tls ? "443" : "80");
        return 0;
    }
    size_t pl = (size_t)(end - colon - 1);
    if (pl == 0 || pl >= sizeof(out->port) || strspn(colon + 1, "0123456789") < pl) {
        snprintf(err, errlen, "%s: bad port", url);
        return -1;
    }
    memcpy(out->port, colon + 1, pl);
    out->port[pl] = 0;
    if (atoi(out->port) > 65535) {
        snprintf(err, errlen, "%s: port out of range", url);
        return -1;
    }
    return 0;
}

void rh_socket_tune(evutil_socket_t fd)
{
    int on = 1, idle = 10, intvl = 5, cnt = 3;
    /* a dead peer is noticed in about 25 s without traffic and in 15 s with
     * unacknowledged data, instead of the kernel's 2 hours / 15 minutes */
    unsigned int user_timeout = 15000;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int rh_bev_send(struct bufferevent *bev, const void *p, size_t n, size_t *direct)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    ssize_t k = 0;
    if (fd >= 0 && evbuffer_get_length(out) == 0 && !rhi_conn_is_tls(bev)) {
        k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0)
            k = 0; /* the buffer's write reports any error */
    }
    if (direct)
        *direct = (size_t)k;
    if ((size_t)k < n)
        return bufferevent_write(bev, (const uint8_t *)p + k, n - (size_t)k);
    return 0;
}

void rh_bev_tune(struct bufferevent *bev)
{
    /* libevent moves at most 16 KiB per read or write callback by default:
     * a 1 MiB frame took 64 trips through the loop each way */
    bufferevent_set_max_single_read(bev, RH_IO_MAX);
    bufferevent_set_max_single_write(bev, RH_IO_MAX);
}

int rhi_client_response_head(struct bufferevent *bev, rh_http_parser *hp,
                            rh_http_response *resp, rh_err *err)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (len == 0)
            return 0;
        if (len > RH_HTTP_DEFAULT_MAX_HEAD + 1)
            len = RH_HTTP_DEFAULT_MAX_HEAD + 1;
        const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
        int rc = rh_http_parse_response(hp, buf, len, resp, err);
        if (rc <= 0 || resp->status >= 200)
            return rc;
        evbuffer_drain(in, (size_t)rc); /* interim: the real answer follows */
        rh_http_parser_reset(hp);
    }
}

size_t rhi_client_request_head(rh_transport *t, char *out, size_t cap, const char *method,
                              const char *target, const char *url,
                              const rh_http_header *extra, size_t n_extra)
{
    rh_url u;
    char err[128], host[300];
    if (rh_url_parse(url, &u, err, sizeof(err)) != 0)
        return 0;
    bool v6 = strchr(u.host, ':') != NULL;
    snprintf(host, sizeof(host), "%s%s%s:%s", v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
    rh_http_header h[16] = {
        rh_http_header_make("Host", host),
        rh_http_header_make("User-Agent", "rafthttp-c"),
        rh_http_header_make("X-Server-From", t->id_str),
        rh_http_header_make("X-Server-Version", t->server_version),
        rh_http_header_make("X-Min-Cluster-Version", t->min_cluster_version),
        rh_http_header_make("X-Etcd-Cluster-ID", t->cid_str),
        rh_http_header_make("X-PeerURLs", t->peer_urls_header),
    };
    size_t n = 7;
    for (size_t i = 0; i < n_extra && n < 16; i++)
        h[n++] = extra[i];
    return rh_http_write_request_head(out, cap, method, target, h, n);
}

/* The ring grows as messages come (16, 32, ... up to cap) and is given
 * back by rhi_msgq_trim when empty: an idle peer's queues hold no memory
 * (4096 slots are 64 KiB, and a writer has one per stream kind). */
#define MSGQ_FIRST 16

int rhi_msgq_init(msgq *q, size_t cap, size_t max_bytes)
{
    q->items = NULL;
    q->alloc = 0;
    q->cap = cap;
    q->head = q->len = q->bytes = 0;
    q->max_bytes = max_bytes;
    return 0;
}

void rhi_msgq_clear(msgq *q)
{
    while (q->len)
        rhi_tmsg_free(rhi_msgq_pop(q));
}

void rhi_msgq_free(msgq *q)
{
    rhi_msgq_clear(q);
    free(q->items);
    q->items = NULL;
    q->alloc = 0;
}

void rhi_msgq_trim(msgq *q)
{
    if (q->len == 0 && q->items) {
        free(q->items);
        q->items = NULL;
        q->alloc = q->head = 0;
    }
}

static bool msgq_grow(msgq *q)
{
    size_t n = q->alloc ? q->alloc * 2 : MSGQ_FIRST;
    if (n > q->cap)
        n = q->cap;
    msgq_item *ni = malloc(n * sizeof(*ni));
    if (!ni)
        return false;
    for (size_t i = 0; i < q->len; i++)
        ni[i] = q->items[(q->head + i) % q->alloc];
    free(q->items);
    q->items = ni;
    q->alloc = n;
    q->head = 0;
    return true;
}

bool rhi_msgq_push(msgq *q, rh_msg *m, size_t size)
{
    /* one message always fits an empty queue, however large (else a message
     * over the byte bound could never be sent) */
    if (q->len == q->cap || (q->len && q->bytes + size > q->max_bytes))
        return false;
    if (q->len == q->alloc && !msgq_grow(q))
        return false;
    msgq_item *it = &q->items[(q->head + q->len) % q->alloc];
    it->m = m;
    it->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    q->len++;
    q->bytes += it->size;
    return true;
}

rh_msg *rhi_msgq_pop(msgq *q)
{
    if (!q->len)
        return NULL;
    msgq_item *it = &q->items[q->head];
    q->head = (q->head + 1) % q->alloc;
    q->len--;
    q->bytes -= it->size;
    return it->m;
}

/* Lenient semver: "3.4.23", "v3.4", "3.4.0-rc.1". Garbage is refused (Go's
 * semver.Must would panic the handler; we answer 412 instead). */
bool rh_version_parse(const char *s, size_t len, int *major, int *minor)
{
    size_t i = 0;
    if (i < len && (s[i] == 'v' || s[i] == 'V'))
        i++;
    long v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 6)
            v[k] = v[k] * 10 + (s[i++] - '0');
        if (i == start)
            return false;
        if (k == 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
    }
    *major = (int)v[0];
    *minor = (int)v[1];
    return true;
}
