/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rh_transport: lifecycle, the command queue between API callers and the
 * loop thread, the peers list (each peer is peer.c's), the status table and
 * metrics.
 *
 * API calls build a `cmd`, append it under `mu` and activate the `wake`
 * event; the loop drains all pending commands in one callback, so a burst
 * of sends costs one wakeup. Status is mirrored into a small table under
 * `mu` whenever it changes, so status queries never wait for the loop.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/thread.h>

#include "rafthttp/scatter.h"
#include "transport/peer.h"
#include "transport/sockbio.h"
#include "transport/tls.h"

enum cmd_op {
    C_SEND,
    C_ADD_PEER,
    C_REMOVE_PEER,
    C_REMOVE_ALL,
    C_UPDATE_PEER,
    C_CUT,
    C_MEND,
    C_PAUSE,
    C_RESUME,
    C_METRICS,
    C_ADD_REMOTE,
    C_SEND_SNAP,
};

/* A metrics request from another thread, answered by the loop. */
typedef struct metrics_req {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *buf;
    size_t cap, n;
    bool done;
} metrics_req;
static void metrics_answer(rh_transport *t, metrics_req *r);

struct cmd {
    int op;
    uint64_t id;
    char **urls;  /* owned */
    size_t n_urls;
    rh_msg **msgs; /* owned clones */
    size_t n_msgs;
    metrics_req *metrics; /* C_METRICS: the waiting caller's request */
    int fd;               /* C_SEND_SNAP: the body's file, owned; -1 when none */
    uint64_t size;        /* C_SEND_SNAP: its size */
    bool pooled;          /* C_SEND: c and msgs were rhi_tmsg_alloc'ed with the copies */
    cmd *next;
};

/* ---- helpers ------------------------------------------------------------ */

static char **dup_strv(const char *const *v, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof(char *));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(v[i]);
        if (!out[i]) {
            while (i--)
                free(out[i]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void cmd_free(cmd *c)
{
    if (c->op == C_SEND_SNAP && c->fd >= 0)
        close(c->fd);
    rh_strv_free(c->urls, c->n_urls);
    for (size_t i = 0; i < c->n_msgs; i++)
        rhi_tmsg_free(c->msgs[i]);
    if (c->pooled) {
        rhi_tmsg_release(c); /* the msgs array is part of it */
        return;
    }
    free(c->msgs);
    free(c);
}

void rhi_transport_emit(rh_transport *t, int kind, uint64_t peer_id, int32_t type,
                    const char *via, const char *text)
{
    if (!t->cfg.on_event)
        return;
    rh_event ev = {.kind = kind, .peer = peer_id, .msg_type = type, .via = via, .text = text};
    t->cfg.on_event(t->cfg.event_ctx, &ev);
}

/* Mirrors every peer's status into the [mu] table. */
void rhi_transport_status_changed(rh_transport *t)
{
    size_t n = 0, active = 0;
    for (peer *p = t->peers; p; p = p->next)
        n += !p->remote;
    pthread_mutex_lock(&t->mu);
    if (n > t->cap_status) {
        rh_peer_status *ns = realloc(t->status, n * sizeof(*ns));
        if (ns) {
            t->status = ns;
            t->cap_status = n;
        }
    }
    size_t i = 0;
    for (peer *p = t->peers; p && i < t->cap_status; p = p->next) {
        if (p->remote)
            continue;
        rh_peer_status *s = &t->status[i++];
        s->id = p->id;
        s->active = p->active;
        s->active_since_ns = p->active ? p->active_since_ns : 0;
        s->streams = 0;
        for (int k = 0; k < 2; k++)
            s->streams += writer_attached(&p->w[k]) + (p->r[k].state == R_BODY);
        s->urls[0] = 0;
        size_t off = 0;
        for (size_t k = 0; k < p->n_urls; k++) {
            int w = snprintf(s->urls + off, sizeof(s->urls) - off, "%s%s", k ? "," : "",
                             p->urls[k]);
            if (w < 0 || (size_t)w >= sizeof(s->urls) - off)
                break;
            off += (size_t)w;
        }
        active += p->active;
    }
    t->n_status = i;
    t->n_active = active;
    pthread_mutex_unlock(&t->mu);
}

static void on_status_refresh(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rhi_transport_status_changed(arg);
}

/* Stream attach and loss change only rh_peer_status.streams: refreshed
 * once per loop pass, however many streams came and went in it (a
 * thousand peers' four streams would otherwise rebuild the table 4000
 * times at start). */
void rhi_transport_streams_changed(rh_transport *t)
{
    if (t->status_refresh)
        event_active(t->status_refresh, 0, 0);
}

/* ---- the peers list (loop thread) ------------------------------------------ */

static void peers_unlink(rh_transport *t, peer *p);

/* The default max_conns grows with the members: each may hold
 * RH_CONNS_PER_MEMBER kept-alive connections to us at once (2 probers, 4
 * pipeline connections, a snapshot, a stream being set up), so 1,000 peers
 * fit; a max_conns the application set stays as it is. */
#define RH_CONNS_PER_MEMBER 8
static void members_changed(rh_transport *t)
{
    if (!t->max_conns_derived)
        return;
    size_t want = t->n_members * RH_CONNS_PER_MEMBER + 64;
    t->cfg.max_conns = want > RH_DEFAULT_MAX_CONNS ? want : RH_DEFAULT_MAX_CONNS;
    rhi_server_conns_limit_changed(t);
}

static void peers_add(rh_transport *t, uint64_t id, char **urls, size_t n, bool remote)
{
    if (rhi_peers_find(t, id) || (remote && rhi_remotes_find(t, id))) {
        rh_strv_free(urls, n);
        return;
    }
    peer *old = rhi_remotes_find(t, id);
    if (old) {
        /* the rule: a remote stops when the member becomes a peer
         * (etcd 3.4 keeps it until Stop, unused while the peer exists, and
         * uses it again if the peer is removed) */
        peers_unlink(t, old);
        rh_logp(RH_LOG_INFO, id, "remote %llx became a peer", (unsigned long long)id);
    }
    peer *p = rhi_peer_new(t, id, urls, n, remote);
    if (!p) {
        rh_logp(RH_LOG_ERROR, id, "adding %llx: out of memory", (unsigned long long)id);
        return;
    }
    p->next = t->peers;
    t->peers = p;
    t->n_members++;
    members_changed(t);
    rhi_peer_start(p);
    rh_logp(RH_LOG_INFO, id, "added %s %llx (%s)", remote ? "remote" : "peer",
            (unsigned long long)id, p->n_urls ? p->urls[0] : "no URL");
    rhi_transport_status_changed(t);
}

void rhi_transport_add_remote_from_header(rh_transport *t, uint64_t id, const char *urls,
                                      size_t len)
{
    if (len == 0 || rhi_peers_find(t, id) || rhi_remotes_find(t, id))
        return;
    /* members learned from the wire are bounded (etcd's are not): a sender
     * inventing IDs cannot grow our memory */
    size_t remotes = 0;
    for (peer *p = t->peers; p; p = p->next)
        remotes += p->remote;
    if (remotes >= RH_MAX_LEARNED_REMOTES) {
        if (!t->remotes_full_logged)
            rh_logp(RH_LOG_WARN, id, "not learning member %llx from its headers: %d remotes "
                    "already (the limit)", (unsigned long long)id, RH_MAX_LEARNED_REMOTES);
        t->remotes_full_logged = true;
        return;
    }
    t->remotes_full_logged = false;
    char *copy = strndup(urls, len);
    if (!copy)
        return;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += copy[i] == ',';
    char **v = calloc(n, sizeof(char *));
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); v && tok;
         tok = strtok_r(NULL, ",", &save)) {
        rh_url u;
        char err[64];
        if (rh_url_parse(tok, &u, err, sizeof(err)) == 0 && (v[k] = strdup(tok)))
            k++;
    }
    free(copy);
    if (!v || k == 0) {
        rh_strv_free(v, k);
        return;
    }
    peers_add(t, id, v, k, true);
}

static void peers_unlink(rh_transport *t, peer *p)
{
    for (peer **pp = &t->peers; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            t->n_members--;
            members_changed(t);
            rhi_peer_destroy(p);
            rhi_transport_status_changed(t);
            return;
        }
    }
}

static void peers_remove(rh_transport *t, uint64_t id)
{
    peer *p = rhi_peers_find(t, id);
    if (p) {
        rh_logp(RH_LOG_INFO, id, "removed peer %llx", (unsigned long long)id);
        peers_unlink(t, p);
    }
}

static void peers_update(rh_transport *t, uint64_t id, char **urls, size_t n)
{
    peer *p = rhi_peers_find(t, id);
    if (!p) {
        rh_strv_free(urls, n);
        return;
    }
    rhi_peer_update_urls(p, urls, n);
}

/* To the peer or remote m->to; the peer picks the channel. */
static void peers_send(rh_transport *t, rh_msg *m)
{
    peer *p = rhi_peers_find(t, m->to);
    if (!p)
        p = rhi_remotes_find(t, m->to);
    if (!p) {
        rh_logp(RH_LOG_DEBUG, m->to, "ignored message to unknown peer %llx",
                (unsigned long long)m->to);
        rhi_transport_emit(t, RH_EV_DROPPED, m->to, m->type, NULL, "unknown peer");
        rhi_tmsg_free(m);
        return;
    }
    rhi_peer_send(p, m);
}

/* only NULL: every peer and remote */
static void peers_set_paused(rh_transport *t, bool paused)
{
    for (peer *p = t->peers; p; p = p->next)
        rhi_peer_set_paused(p, paused);
}

static void run_cmd(rh_transport *t, cmd *c)
{
    switch (c->op) {
    case C_SEND:
        for (size_t i = 0; i < c->n_msgs; i++) {
            peers_send(t, c->msgs[i]);
            c->msgs[i] = NULL;
        }
        c->n_msgs = 0;
        break;
    case C_ADD_PEER:
        peers_add(t, c->id, c->urls, c->n_urls, false);
        c->urls = NULL;
        break;
    case C_UPDATE_PEER:
        peers_update(t, c->id, c->urls, c->n_urls);
        c->urls = NULL;
        break;
    case C_REMOVE_PEER:
        peers_remove(t, c->id);
        break;
    case C_REMOVE_ALL:
        while (t->peers)
            peers_unlink(t, t->peers);
        break;
    case C_ADD_REMOTE:
        peers_add(t, c->id, c->urls, c->n_urls, true);
        c->urls = NULL;
        break;
    case C_SEND_SNAP:
        rhi_snapshot_send_start(t, c->msgs[0], c->fd, c->size);
        c->msgs[0] = NULL;
        c->n_msgs = 0;
        c->fd = -1;
        break;
    case C_CUT:
    case C_MEND: {
        peer *p = rhi_peers_find(t, c->id); /* an unknown ID cuts nothing (not everyone) */
        if (p)
            rhi_peer_set_paused(p, c->op == C_CUT);
        else
            rh_logp(RH_LOG_DEBUG, c->id, "%s unknown peer %llx: ignored",
                    c->op == C_CUT ? "cut" : "mend", (unsigned long long)c->id);
        break;
    }
    case C_PAUSE:
    case C_RESUME:
        t->paused = c->op == C_PAUSE;
        peers_set_paused(t, t->paused);
        break;
    case C_METRICS:
        metrics_answer(t, c->metrics);
        break;
    }
    c->n_urls = 0;
    cmd_free(c);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rh_transport *t = arg;
    pthread_mutex_lock(&t->mu);
    cmd *c = t->cmds_head;
    t->cmds_head = t->cmds_tail = NULL;
    bool stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    while (c) {
        cmd *next = c->next;
        if (stop && c->op != C_METRICS)
            cmd_free(c);
        else
            run_cmd(t, c);
        c = next;
    }
    if (stop)
        event_base_loopbreak(t->base);
}

static int post(rh_transport *t, cmd *c)
{
    pthread_mutex_lock(&t->mu);
    if (t->stop) {
        pthread_mutex_unlock(&t->mu);
        cmd_free(c);
        return -ESHUTDOWN;
    }
    /* the loop takes the whole list per wakeup: wake it only for the first */
    bool first = t->cmds_head == NULL;
    if (t->cmds_tail)
        t->cmds_tail->next = c;
    else
        t->cmds_head = c;
    t->cmds_tail = c;
    pthread_mutex_unlock(&t->mu);
    if (first)
        event_active(t->wake, EV_READ, 0);
    return 0;
}

static cmd *cmd_new(int op, uint64_t id, const char *const *urls, size_t n)
{
    cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->op = op;
    c->id = id;
    if (urls) {
        c->urls = dup_strv(urls, n);
        if (!c->urls) {
            free(c);
            return NULL;
        }
        c->n_urls = n;
    }
    return c;
}

static int post_simple(rh_transport *t, int op, uint64_t id, const char *const *urls,
                       size_t n)
{
    cmd *c = cmd_new(op, id, urls, n);
    return c ? post(t, c) : -ENOMEM;
}

static void metrics_answer(rh_transport *t, metrics_req *r)
{
    size_t n = rhi_transport_metrics_text(t, r->buf, r->cap);
    pthread_mutex_lock(&r->mu);
    r->n = n;
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

/* ---- API ----------------------------------------------------------------- */

/* The transport whose loop runs on this thread: its API calls from its own
 * callbacks (process with RH_DELIVER_ON_LOOP, on_event) act at once instead
 * of going through the command queue. */
static _Thread_local rh_transport *on_loop_of;

/* Busy polling (config.busy_poll_us) follows a wake-up that came sooner
 * than this after the loop went to sleep. */
#define BUSY_POLL_IF_US 500

/* One event_base_loop call; true once stop broke the loop. */
static bool loop_pass(rh_transport *t, int flags)
{
    event_base_loop(t->base, flags);
    return event_base_got_break(t->base) || event_base_got_exit(t->base);
}

static void *loop_main(void *arg)
{
    rh_transport *t = arg;
    on_loop_of = t;
    rhi_thread_name("rh-loop");
    rhi_log_bind(&t->log_sink);
    /* every socket write happens on this thread: with SIGPIPE blocked here, a
     * write to a reset connection fails with EPIPE instead of killing the
     * application (which need not ignore SIGPIPE itself) */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    if (t->cfg.busy_poll_us <= 0) {
        event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
        return NULL;
    }
    /* busy polling: after a wake-up that came soon, a while of passes that
     * do not sleep (epoll_wait with no timeout) before sleeping again */
    for (;;) {
        int64_t t0 = rh_now_us();
        if (loop_pass(t, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY))
            return NULL;
        if (rh_now_us() - t0 >= BUSY_POLL_IF_US)
            continue;
        for (int64_t s0 = rh_now_us(); rh_now_us() - s0 < t->cfg.busy_poll_us;)
            if (loop_pass(t, EVLOOP_NONBLOCK))
                return NULL;
    }
}

/* Advertised URLs default to the listen URLs; a listen port of 0 is
 * replaced by the port actually bound, so peers can dial back. */
static int advertise_bound_ports(rh_transport *t)
{
    size_t hl = 1;
    for (size_t i = 0; i < t->n_advertise && i < t->n_listen; i++) {
        rh_url u;
        char err[64];
        if (rh_url_parse(t->advertise[i], &u, err, sizeof(err)) == 0 &&
            strcmp(u.port, "0") == 0 && t->ports[i]) {
            char url[400];
            bool v6 = strchr(u.host, ':') != NULL;
            snprintf(url, sizeof(url), "http://%s%s%s:%d", v6 ? "[" : "", u.host,
                     v6 ? "]" : "", t->ports[i]);
            char *d = strdup(url);
            if (!d)
                return -1;
            free(t->advertise[i]);
            t->advertise[i] = d;
        }
    }
    for (size_t i = 0; i < t->n_advertise; i++)
        hl += strlen(t->advertise[i]) + 1;
    char *h = calloc(1, hl);
    if (!h)
        return -1;
    for (size_t i = 0; i < t->n_advertise; i++) {
        if (i)
            strcat(h, ",");
        strcat(h, t->advertise[i]);
    }
    free(t->peer_urls_header);
    t->peer_urls_header = h;
    return 0;
}

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_init(void)
{
    evthread_use_pthreads();
}

static rh_transport *transport_new(const rh_transport_config *cfg, char *err,
                                   size_t errlen);

static rhi_log_sink sink_of(const rh_transport_config *cfg)
{
    return (rhi_log_sink){.fn = cfg->log, .ctx = cfg->log_ctx,
                          .level = cfg->log_level ? cfg->log_level : RH_LOG_INFO,
                          .local_id = cfg->id};
}

/* The configs of 0.1: a struct_size of 0 means these, and none may be
 * smaller. Later versions add fields after these and keep these sizes. */
#define CONFIG_SIZE_0_1 (offsetof(rh_transport_config, log_level) + sizeof(int))
#define TLS_CONFIG_SIZE_0_1 (offsetof(rh_tls_config, max_version) + sizeof(const char *))

/* *in as this library's struct: what the caller's struct_size covers,
 * zeros beyond it. False (err filled) when struct_size is impossible. */
static bool copy_sized(void *out, size_t out_size, const void *in, size_t in_size,
                       size_t min_size, const char *what, char *err, size_t errlen)
{
    if (in_size < min_size) {
        snprintf(err, errlen, "%s.struct_size is %zu, smaller than any %s (set it to sizeof)",
                 what, in_size, what);
        return false;
    }
    memset(out, 0, out_size);
    memcpy(out, in, in_size < out_size ? in_size : out_size);
    return true;
}

/* The lines rh_transport_new writes go where the config says, too. */
rh_transport *rh_transport_new(const rh_transport_config *cfg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    rh_transport_config c;
    rh_tls_config tls;
    if (!copy_sized(&c, sizeof(c), cfg, cfg->struct_size ? cfg->struct_size : CONFIG_SIZE_0_1,
                    CONFIG_SIZE_0_1, "rh_transport_config", err, errlen))
        return NULL;
    if (c.tls) {
        if (!copy_sized(&tls, sizeof(tls), c.tls,
                        c.tls->struct_size ? c.tls->struct_size : TLS_CONFIG_SIZE_0_1,
                        TLS_CONFIG_SIZE_0_1, "rh_tls_config", err, errlen))
            return NULL;
        c.tls = &tls;
    }
    c.struct_size = sizeof(c);
    rhi_log_sink sink = sink_of(&c);
    const rhi_log_sink *was = rhi_log_bind(&sink);
    rh_transport *t = transport_new(&c, err, errlen);
    rhi_log_bind(was);
    return t;
}

static rh_transport *transport_new(const rh_transport_config *cfg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!cfg->raft.process || cfg->n_listen == 0) {
        snprintf(err, errlen, "config needs raft.process and at least one listen URL");
        return NULL;
    }
    pthread_once(&evthread_once, evthread_init);
    rh_transport *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = *cfg;
    tmsg_read_pool_init(&t->read_pool, RH_IO_MAX);
    t->log_sink = sink_of(cfg);
    if (!t->cfg.dial_timeout_ms)
        t->cfg.dial_timeout_ms = 1000;
    if (!t->cfg.dial_retry_ms)
        t->cfg.dial_retry_ms = 100;
    if (!t->cfg.queue_bytes)
        t->cfg.queue_bytes = RH_DEFAULT_QUEUE_BYTES;
    if (!t->cfg.max_frame)
        t->cfg.max_frame = RH_STREAM_DEFAULT_MAX_FRAME;
    if (!t->cfg.max_head)
        t->cfg.max_head = RH_HTTP_DEFAULT_MAX_HEAD;
    if (t->cfg.head_timeout_ms <= 0)
        t->cfg.head_timeout_ms = RH_DEFAULT_HEAD_TIMEOUT_MS;
    if (t->cfg.handshake_timeout_ms <= 0)
        t->cfg.handshake_timeout_ms = RH_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!t->cfg.max_handshakes)
        t->cfg.max_handshakes = RH_DEFAULT_MAX_HANDSHAKES;
    if (!t->cfg.max_body)
        t->cfg.max_body = RH_DEFAULT_MAX_BODY;
    t->max_conns_derived = !t->cfg.max_conns;
    if (!t->cfg.max_conns)
        t->cfg.max_conns = RH_DEFAULT_MAX_CONNS;
    if (!t->cfg.probe_interval_ms)
        t->cfg.probe_interval_ms = RH_PROBE_INTERVAL_MS;
    t->cfg.members_json = NULL; /* the owned copy is t->members_json */
    snprintf(t->server_version, sizeof(t->server_version), "%s",
             cfg->server_version ? cfg->server_version : "3.4.23");
    snprintf(t->min_cluster_version, sizeof(t->min_cluster_version), "%s",
             cfg->min_cluster_version ? cfg->min_cluster_version : "3.0.0");
    rh_id_str(cfg->id, t->id_str);
    rh_id_str(cfg->cluster_id, t->cid_str);
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->dq.mu, NULL);
    pthread_cond_init(&t->dq.cond, NULL);
    if ((cfg->snap_dir && !(t->cfg.snap_dir = t->snap_dir = strdup(cfg->snap_dir))) ||
        (cfg->members_json && !(t->members_json = strdup(cfg->members_json)))) {
        snprintf(err, errlen, "out of memory");
        rh_transport_free(t);
        return NULL;
    }
    t->listen = dup_strv(cfg->listen, cfg->n_listen);
    t->n_listen = cfg->n_listen;
    const char *const *adv = cfg->n_advertise ? cfg->advertise : cfg->listen;
    t->n_advertise = cfg->n_advertise ? cfg->n_advertise : cfg->n_listen;
    t->advertise = dup_strv(adv, t->n_advertise);
    size_t hl = 1;
    for (size_t i = 0; i < t->n_advertise; i++)
        hl += strlen(adv[i]) + 1;
    t->peer_urls_header = calloc(1, hl);
    for (size_t i = 0; t->peer_urls_header && i < t->n_advertise; i++) {
        if (i)
            strcat(t->peer_urls_header, ",");
        strcat(t->peer_urls_header, adv[i]);
    }
    t->base = event_base_new();
    if (!t->listen || !t->advertise || !t->peer_urls_header || !t->base) {
        snprintf(err, errlen, "out of memory");
        rh_transport_free(t);
        return NULL;
    }
    t->wake = event_new(t->base, -1, EV_PERSIST | EV_READ, on_wake, t);
    t->status_refresh = event_new(t->base, -1, 0, on_status_refresh, t);
    t->cfg.tls = NULL; /* the caller's: read here, not kept */
    if (cfg->tls && cfg->tls->cert_file && *cfg->tls->cert_file &&
        !(t->tls = rhi_tls_new(cfg->tls, err, errlen))) {
        rh_transport_free(t);
        return NULL;
    }
    if (rhi_server_listen(t, err, errlen) != 0) {
        rh_transport_free(t);
        return NULL;
    }
    if (!cfg->n_advertise && advertise_bound_ports(t) != 0) {
        snprintf(err, errlen, "out of memory");
        rh_transport_free(t);
        return NULL;
    }
    return t;
}

int rh_transport_listen_port(const rh_transport *t, size_t i)
{
    return i < t->n_listen && t->ports ? t->ports[i] : 0;
}

int rh_transport_start(rh_transport *t)
{
    int rc = rhi_delivery_start(t);
    if (rc)
        return rc;
    rc = pthread_create(&t->loop_thread, NULL, loop_main, t);
    if (rc)
        return -rc;
    t->started = true;
    return 0;
}

void rh_transport_free(rh_transport *t)
{
    if (!t)
        return;
    const rhi_log_sink *was = rhi_log_bind(&t->log_sink);
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_mutex_unlock(&t->mu);
    if (t->started) {
        event_active(t->wake, EV_READ, 0);
        pthread_join(t->loop_thread, NULL);
    }
    /* the loop is gone: tear down on this thread */
    while (t->peers) {
        peer *p = t->peers;
        t->peers = p->next;
        rhi_peer_destroy(p);
    }
    rhi_server_close_all(t);
    rhi_snapshot_send_free_all(t);
    for (cmd *c = t->cmds_head; c;) {
        cmd *next = c->next;
        if (c->op == C_METRICS)
            metrics_answer(t, c->metrics); /* release its waiter */
        cmd_free(c);
        c = next;
    }
    rhi_delivery_stop(t);
    if (t->wake)
        event_free(t->wake);
    if (t->status_refresh)
        event_free(t->status_refresh);
    if (t->base) {
        rhi_sockbio_drop_orphans(t->base);
        event_base_free(t->base);
    }
    rhi_tls_free(t->tls); /* after every connection: their SSLs are gone */
    free(t->ports);
    rh_strv_free(t->listen, t->n_listen);
    rh_strv_free(t->advertise, t->n_advertise);
    free(t->peer_urls_header);
    free(t->snap_dir);
    free(t->members_json);
    free(t->status);
    while (t->stats) {
        peer_stats *st = t->stats;
        t->stats = st->next;
        free(st);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->dq.mu);
    pthread_cond_destroy(&t->dq.cond);
    free(t->read_buf);
    rhi_tmsg_read_pool_free(&t->read_pool);
    free(t->write_buf);
    if (t->tail_buf)
        evbuffer_free(t->tail_buf);
    rhi_tmsg_cache_free(&t->msg_cache); /* last: every message is gone by now */
    rhi_log_bind(was);
    free(t);
}

int rh_transport_add_peer(rh_transport *t, uint64_t id, const char *const *urls, size_t n)
{
    return post_simple(t, C_ADD_PEER, id, urls, n);
}

int rh_transport_remove_peer(rh_transport *t, uint64_t id)
{
    return post_simple(t, C_REMOVE_PEER, id, NULL, 0);
}

int rh_transport_remove_all_peers(rh_transport *t)
{
    return post_simple(t, C_REMOVE_ALL, 0, NULL, 0);
}

int rh_transport_update_peer(rh_transport *t, uint64_t id, const char *const *urls, size_t n)
{
    return post_simple(t, C_UPDATE_PEER, id, urls, n);
}

int rh_transport_add_remote(rh_transport *t, uint64_t id, const char *const *urls, size_t n)
{
    return post_simple(t, C_ADD_REMOTE, id, urls, n);
}

/* One call, one block: the command, its array and the copies of small
 * messages share a block from the transport's cache (tmsg.h), so a steady
 * sender allocates nothing; the loop is woken once per batch of calls. */
/* The transport's copy of one message for send: entry data referenced
 * when o is given, copied otherwise. */
static rh_msg *send_copy(tmsg_batch *b, const rh_msg *src, tmsg_owner *o)
{
    return o ? rhi_tmsg_copy_ref(b, src, o, RH_SCATTER_REF_MIN) : rhi_tmsg_copy(b, src);
}

static int send_msgs(rh_transport *t, const rh_msg *msgs, size_t n, tmsg_batch *b,
                     tmsg_owner *o)
{
    if (on_loop_of == t) {
        for (size_t i = 0; i < n; i++) {
            if (msgs[i].to == 0)
                continue;
            rh_msg *m = send_copy(b, &msgs[i], o);
            if (!m)
                return -ENOMEM;
            peers_send(t, m);
        }
        return 0;
    }
    cmd *c = rhi_tmsg_alloc(b, sizeof(cmd) + (n ? n : 1) * sizeof(rh_msg *));
    if (!c)
        return -ENOMEM;
    memset(c, 0, sizeof(*c));
    c->op = C_SEND;
    c->fd = -1;
    c->pooled = true;
    c->msgs = (rh_msg **)(void *)(c + 1);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].to == 0)
            continue; /* etcd ignores messages to 0 */
        rh_msg *m = send_copy(b, &msgs[i], o);
        if (!m) {
            cmd_free(c);
            return -ENOMEM;
        }
        c->msgs[c->n_msgs++] = m;
    }
    return post(t, c);
}

int rh_transport_send(rh_transport *t, const rh_msg *msgs, size_t n)
{
    tmsg_batch b;
    tmsg_batch_init(&b, &t->msg_cache);
    int rc = send_msgs(t, msgs, n, &b, NULL);
    rhi_tmsg_batch_end(&b);
    return rc;
}

int rh_transport_send_ref(rh_transport *t, const rh_msg *msgs, size_t n,
                          void (*done)(void *arg), void *arg)
{
    tmsg_batch b;
    tmsg_batch_init(&b, &t->msg_cache);
    tmsg_owner *o = rhi_tmsg_owner_new(&b, done, arg);
    if (!o) {
        rhi_tmsg_batch_end(&b);
        if (done)
            done(arg);
        return -ENOMEM;
    }
    int rc = send_msgs(t, msgs, n, &b, o);
    rhi_tmsg_batch_end(&b);
    rhi_tmsg_owner_put(o);
    return rc;
}

int rh_transport_send_snapshot(rh_transport *t, const rh_msg *m, int fd, uint64_t size)
{
    cmd *c = cmd_new(C_SEND_SNAP, 0, NULL, 0);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    c->size = size;
    c->msgs = calloc(1, sizeof(rh_msg *));
    if (!c->msgs || !(c->msgs[0] = rhi_tmsg_clone(m))) {
        cmd_free(c);
        return -ENOMEM;
    }
    c->n_msgs = 1;
    return post(t, c);
}

void rh_transport_cut_peer(rh_transport *t, uint64_t id)
{
    post_simple(t, C_CUT, id, NULL, 0);
}

void rh_transport_mend_peer(rh_transport *t, uint64_t id)
{
    post_simple(t, C_MEND, id, NULL, 0);
}

void rh_transport_pause(rh_transport *t)
{
    post_simple(t, C_PAUSE, 0, NULL, 0);
}

void rh_transport_resume(rh_transport *t)
{
    post_simple(t, C_RESUME, 0, NULL, 0);
}

size_t rh_transport_status(rh_transport *t, rh_peer_status *out, size_t max)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n_status;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = t->status[i];
    pthread_mutex_unlock(&t->mu);
    return n;
}

int64_t rh_transport_active_since(rh_transport *t, uint64_t id)
{
    int64_t since = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_status; i++)
        if (t->status[i].id == id)
            since = t->status[i].active_since_ns;
    pthread_mutex_unlock(&t->mu);
    return since;
}

size_t rh_transport_active_peers(rh_transport *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n_active;
    pthread_mutex_unlock(&t->mu);
    return n;
}

size_t rh_transport_metrics(rh_transport *t, char *buf, size_t cap)
{
    if (!t->started || pthread_equal(pthread_self(), t->loop_thread))
        return rhi_transport_metrics_text(t, buf, cap);
    metrics_req r = {.buf = buf, .cap = cap};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cond, NULL);
    cmd *c = cmd_new(C_METRICS, 0, NULL, 0);
    if (!c)
        return 0;
    c->metrics = &r;
    if (post(t, c) != 0)
        return 0;
    pthread_mutex_lock(&r.mu);
    while (!r.done)
        pthread_cond_wait(&r.cond, &r.mu);
    pthread_mutex_unlock(&r.mu);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cond);
    return r.n;
}
