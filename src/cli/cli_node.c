/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `rafthttp node`: one rh_transport member, commands in on stdin and events
 * out on stdout, both JSON Lines (docs/node-cli.md).
 *
 * Threads. The main thread parses flags, binds (rh_transport_new), adds the
 * --peer members, starts the transport and then only waits for SIGINT or
 * SIGTERM in sigwait (both are blocked in every thread, so no handler runs
 * anywhere). A reader thread takes stdin lines and acts on them; `stop`
 * raises SIGTERM, so every way out is the same one. The transport's loop
 * thread calls on_event and the report callbacks, its delivery thread
 * calls process (which prints recv and, with --reply
 * echo-resp, sends the answer). Each event line is built in a private
 * buffer and written with one write(2) under out_mu, so lines from these
 * four threads never interleave and none waits in a stdio buffer.
 *
 * Shutdown: the reader is woken through a pipe and joined, then
 * rh_transport_free joins the transport's threads; after that nothing
 * calls back and the node's memory can go.
 *
 * What the node tracks itself (under mu): its peers with their URLs and
 * cut state, as gopeer does, so `status` lists exactly the peers the
 * commands so far have made and sends to an unknown or paused peer can be
 * reported as dropped (the transport drops those without an event, as etcd
 * does); and the IDs marked removed, for is_id_removed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/node.h"
#include "json/msg_json.h"
#include "rafthttp/transport.h"
#include "transport/log.h"

#define CMD "node"
/* The longest stdin line: the JSON reader's own input cap. */
#define NODE_MAX_LINE RH_JSON_DEFAULT_MAX_INPUT
/* URLs in one addPeer/updatePeer/addRemote command. */
#define NODE_MAX_URLS 64

const char cli_node_help[] =
    "NAME\n"
    "    rafthttp node - run one etcd peer-transport member, driven by JSON Lines\n"
    "\n"
    "SYNOPSIS\n"
    "    rafthttp node --id ID --cluster-id ID --listen URL...\n"
    "                  [--peer ID=URL[,URL]...] [OPTIONS]\n"
    "    rafthttp node --name NAME --initial-cluster NAME=URL[,URL][,NAME=URL...]\n"
    "                  [--initial-cluster-token TOKEN] [OPTIONS]\n"
    "\n"
    "DESCRIPTION\n"
    "    Serves etcd 3.4's Raft peer protocol (streams, pipeline, snapshots,\n"
    "    probing) on the listen URLs and connects to its peers, as one member of\n"
    "    a cluster. There is no Raft here: messages to send are read from\n"
    "    standard input, and everything that happens is written to standard\n"
    "    output, one JSON object per line. Logs go to standard error.\n"
    "\n"
    "    A bad input line gives an error event and the node goes on. At the end\n"
    "    of input it keeps serving until SIGINT, SIGTERM or {\"cmd\":\"stop\"}, then\n"
    "    stops cleanly and exits 0.\n"
    "\n"
    "INPUT (standard input, one object per line)\n"
    "    {\"type\":\"MsgHeartbeat\",\"to\":\"8e9e05c52164694d\",\"from\":1,\"term\":5}\n"
    "        a raft message, sent with the transport's Send (channel chosen as\n"
    "        etcd does); IDs as numbers or hex strings; field forms as 'rafthttp\n"
    "        decode' prints them. A MsgSnap may add \"snapshotFile\":\"PATH\", the\n"
    "        body sent after it on /raft/snapshot.\n"
    "    {\"cmd\":\"addPeer\",\"id\":3,\"urls\":[\"http://127.0.0.1:2382\"]}\n"
    "    {\"cmd\":\"updatePeer\",\"id\":3,\"urls\":[...]}   {\"cmd\":\"removePeer\",\"id\":3}\n"
    "    {\"cmd\":\"addRemote\",\"id\":3,\"urls\":[...]}    (pipeline only)\n"
    "    {\"cmd\":\"cutPeer\",\"id\":3}   {\"cmd\":\"mendPeer\",\"id\":3}\n"
    "    {\"cmd\":\"pause\"}   {\"cmd\":\"resume\"}   {\"cmd\":\"status\"}   {\"cmd\":\"stop\"}\n"
    "    {\"cmd\":\"markRemoved\",\"id\":3}   {\"cmd\":\"unmarkRemoved\",\"id\":3}\n"
    "        (extension: what the node tells the transport about removed\n"
    "        members; a removed member's stream dial gets 410 Gone)\n"
    "\n"
    "OUTPUT (standard output, one event per line)\n"
    "    Every line has \"event\" and \"time\" (RFC 3339, nanoseconds, UTC); IDs are\n"
    "    JSON numbers. Events: ready (the bound ports), recv (with \"via\":\n"
    "    streamMsgAppV2, streamMsg, pipeline or snapshot), sent (--trace-sent),\n"
    "    peerActive, peerInactive, unreachable, snapshotStatus, dropped, status,\n"
    "    critical, error.\n"
    "\n"
    "OPTIONS\n"
    "  Identity\n"
    "    --id ID                  local member ID, hex as etcd prints it\n"
    "    --cluster-id ID          cluster ID, hex\n"
    "    --listen URL             http://HOST:PORT to serve on; port 0 picks a\n"
    "                             free port (see the ready event); repeatable\n"
    "    --advertise URL          URL sent to peers in X-PeerURLs; repeatable\n"
    "                             (default: the listen URLs)\n"
    "    --peer ID=URL[,URL...]   a peer, added before serving; repeatable\n"
    "    --name NAME\n"
    "    --initial-cluster NAME=URL[,URL][,NAME=URL...]\n"
    "    --initial-cluster-token TOKEN (default etcd-cluster)\n"
    "                             derive the member ID (SHA-1 of the sorted URLs\n"
    "                             and the token), the cluster ID, the peers, and\n"
    "                             the listen and advertise URLs as etcd does;\n"
    "                             explicit --id, --cluster-id, --listen,\n"
    "                             --advertise and --peer (by ID) win\n"
    "    --server-version V       X-Server-Version (default 3.4.23)\n"
    "    --min-cluster-version V  X-Min-Cluster-Version (default 3.0.0)\n"
    "  Behaviour\n"
    "    --reply none|echo-resp   echo-resp answers MsgHeartbeat, MsgApp,\n"
    "                             MsgVote, MsgPreVote and MsgSnap as a passive\n"
    "                             follower that stores nothing (default none)\n"
    "    --trace-sent             also report a sent event per message written\n"
    "    --snap-dir DIR           where received snapshot bodies are saved, as\n"
    "                             %016x.snap.db of the snapshot index (created;\n"
    "                             default: a new temporary directory)\n"
    "  Connections and limits\n"
    "    --dial-timeout D         dial timeout, Go duration (default 1s)\n"
    "    --dial-retry D           least gap between stream redials (default 100ms)\n"
    "    --read-header-timeout D  a request head must be complete within D, or\n"
    "                             the connection is closed (default 10s)\n"
    "    --handshake-timeout D    an accepted TLS handshake must be complete\n"
    "                             within D, or the connection is closed (10s)\n"
    "    --max-handshakes N       accepted TLS handshakes in flight; more wait\n"
    "                             in the listen backlog (default 64)\n"
    "    --max-header-bytes N     larger request heads get 431 (default 64KiB)\n"
    "    --max-body-bytes N       larger POST /raft bodies get 413 (default 512MiB)\n"
    "                             N: bytes, or with a KiB, MiB or GiB suffix\n"
    "  Observability\n"
    "    --metrics[=false]        serve Prometheus text at /metrics (default on)\n"
    "    --log-level L            debug, info, warn or error (default info)\n"
    "    --id-format F            number (default) or hex: IDs in events as\n"
    "                             JSON numbers or as etcd's hex strings\n"
    "    --log-format F           text (default) or json: one JSON object a line\n"
    "                             as etcd's zap logger writes them (level, ts,\n"
    "                             msg, local-member-id, remote-peer-id)\n"
    "  Peer TLS (for https:// URLs; each also as etcd's --peer-NAME)\n"
    "    --cert-file F, --key-file F   our certificate and key (PEM), both sides\n"
    "    --trusted-ca-file F      CAs the other side's certificate must chain to;\n"
    "                             also makes the server demand one (as etcd)\n"
    "    --client-cert-auth       the server demands a client certificate\n"
    "    --allowed-cn CN          the other side's certificate CN must be CN\n"
    "    --allowed-hostname H     ... or be valid for H (SANs, as Go checks)\n"
    "    --crl-file F             refuse certificates this CRL revokes\n"
    "    --cipher-suites LIST     IANA names, comma-separated (etcd's flag)\n"
    "    --tls-min-version V, --tls-max-version V   TLS1.2 or TLS1.3\n"
    "                             (default: 1.2 to 1.3). The files are re-read\n"
    "                             when they change; a refused handshake logs\n"
    "                             why and counts in\n"
    "                             rafthttp_tls_handshake_failures_total\n"
    "\n"
    "HTTP\n"
    "    Besides etcd's /raft paths, the listen URLs serve GET /version, GET\n"
    "    /members (etcd's member list, when --initial-cluster gave it; else 404)\n"
    "    and GET /metrics (etcd's etcd_network_* metric names).\n"
    "\n"
    "EXAMPLE\n"
    "    rafthttp node --name n1 --initial-cluster \\\n"
    "        n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2381 --reply echo-resp\n"
    "\n"
    "EXIT STATUS\n"
    "    0 stopped cleanly; 1 the transport could not start; 2 bad usage, a bad\n"
    "    ID or URL, or a listen port that cannot be bound (one line on stderr).\n";

/* ---- state ----------------------------------------------------------------------- */

typedef struct node_peer {
    uint64_t id;
    char **urls;  /* owned strings */
    size_t n_urls;
    bool cut;     /* paused: cutPeer or pause, without mendPeer or resume */
} node_peer;

typedef struct node {
    node_args args;
    rh_transport *t;
    char snap_dir[512];     /* --snap-dir, or a temp dir made for this run */
    bool snap_dir_temp;     /* made for this run: removed at exit when empty */

    pthread_mutex_t out_mu; /* one event line at a time on stdout */
    bool out_failed;        /* [out_mu] stdout gone: stop writing */

    pthread_mutex_t mu;     /* guards the fields below */
    node_peer *peers;       /* [mu] */
    size_t n_peers, cap_peers;
    bool paused;            /* [mu] pause without resume (new peers start paused) */
    uint64_t *removed;      /* [mu] marked removed (is_id_removed) */
    size_t n_removed, cap_removed;

    rh_buf recv_buf;        /* process only (the delivery thread) */

    atomic_bool stop_cmd;   /* the stop came from stdin */
    int wake[2];            /* pipe: main -> reader, "stop reading" */

    /* the reader thread's own */
    rh_json_parser parser;
    rh_arena arena;
} node;

/* ---- logs (stderr) ------------------------------------------------------------------ */

static bool log_json;        /* --log-format json; set before any thread starts */
static uint64_t log_local_id;

/* --log-format json: one line as etcd's zap logger writes it ("level",
 * "ts", "msg", then "local-member-id" and "remote-peer-id" in etcd's hex),
 * written with one call so lines of threads do not mix. */
static void json_log_line(int level, int64_t time_ns, const char *msg, uint64_t local,
                          uint64_t peer)
{
    time_t sec = (time_t)(time_ns / 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[80], id[17];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(time_ns % 1000000000 / 1000));
    rh_buf b;
    rh_buf_init(&b);
    rh_buf_puts(&b, "{\"level\":\"");
    rh_buf_puts(&b, rh_log_level_name(level));
    rh_buf_puts(&b, "\",\"ts\":\"");
    rh_buf_puts(&b, ts);
    rh_buf_puts(&b, "\",\"msg\":");
    rh_json_put_string(&b, msg, strlen(msg));
    if (local) {
        snprintf(id, sizeof(id), "%llx", (unsigned long long)local);
        rh_buf_puts(&b, ",\"local-member-id\":\"");
        rh_buf_puts(&b, id);
        rh_buf_putc(&b, '"');
    }
    if (peer) {
        snprintf(id, sizeof(id), "%llx", (unsigned long long)peer);
        rh_buf_puts(&b, ",\"remote-peer-id\":\"");
        rh_buf_puts(&b, id);
        rh_buf_putc(&b, '"');
    }
    rh_buf_puts(&b, "}\n");
    if (!b.failed)
        fwrite(b.data, 1, b.len, stderr);
    rh_buf_free(&b);
}

/* The transport's lines, with --log-format json (config.log). */
static void on_log(void *ctx, const rh_log_record *r)
{
    (void)ctx;
    json_log_line(r->level, r->time_ns, r->msg, r->local_id, r->peer_id);
}

static void node_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void node_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!log_json) {
        rh_vlogf("rafthttp node", level, fmt, ap);
    } else if (level >= rh_log_level) {
        char msg[1024];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        json_log_line(level, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, msg,
                      log_local_id, 0);
    }
    va_end(ap);
}

/* ---- events (stdout) ------------------------------------------------------------------ */

/* RFC 3339, UTC, always nine fraction digits. */
static void put_time(rh_buf *b, int64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char s[48];
    int n = snprintf(s, sizeof(s), "\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, frac);
    rh_buf_append(b, s, (size_t)n);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Starts b as {"event":NAME,"time":NOW */
static void ev_begin(rh_buf *b, const char *name)
{
    rh_buf_puts(b, "{\"event\":");
    rh_json_put_string(b, name, strlen(name));
    rh_buf_puts(b, ",\"time\":");
    put_time(b, now_ns());
}

static void put_key(rh_buf *b, const char *key)
{
    rh_buf_putc(b, ',');
    rh_json_put_string(b, key, strlen(key));
    rh_buf_putc(b, ':');
}

static void put_str_field(rh_buf *b, const char *key, const char *s)
{
    put_key(b, key);
    rh_json_put_string(b, s ? s : "", s ? strlen(s) : 0);
}

static void put_u64_field(rh_buf *b, const char *key, uint64_t v)
{
    put_key(b, key);
    rh_json_put_u64(b, v);
}

/* --id-format hex: member and cluster IDs as etcd's hex strings (exact in
 * jq, which rounds 64-bit numbers); set before any thread starts. */
static bool ids_hex;

static void put_id_field(rh_buf *b, const char *key, uint64_t id)
{
    put_key(b, key);
    rh_json_put_id(b, id, ids_hex);
}

/* A message type as docs/json.md writes it: its name, or a bare number. */
static void put_type_field(rh_buf *b, const char *key, int32_t type)
{
    const char *name = rh_msg_type_name(type);
    put_key(b, key);
    if (name)
        rh_json_put_string(b, name, strlen(name));
    else
        rh_json_put_i64(b, type);
}

/* Closes the object and writes the line with one write(2). */
static void ev_emit(node *n, rh_buf *b)
{
    rh_buf_puts(b, "}\n");
    if (b->failed) {
        node_log(RH_LOG_ERROR, "out of memory building an event; event lost");
        return;
    }
    pthread_mutex_lock(&n->out_mu);
    size_t off = 0;
    while (!n->out_failed && off < b->len) {
        ssize_t w = write(STDOUT_FILENO, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            n->out_failed = true;
            node_log(RH_LOG_ERROR, "write stdout: %s; no more events are written", strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    pthread_mutex_unlock(&n->out_mu);
}

static void emit_error(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_error(node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rh_buf b;
    rh_buf_init(&b);
    ev_begin(&b, "error");
    put_str_field(&b, "error", msg);
    ev_emit(n, &b);
    rh_buf_free(&b);
}

static void emit_id_event(node *n, const char *name, uint64_t id, const char *key,
                          const char *val)
{
    rh_buf b;
    rh_buf_init(&b);
    ev_begin(&b, name);
    put_id_field(&b, "id", id);
    if (key)
        put_str_field(&b, key, val);
    ev_emit(n, &b);
    rh_buf_free(&b);
}

static void emit_dropped(node *n, uint64_t id, int32_t type, const char *reason)
{
    rh_buf b;
    rh_buf_init(&b);
    ev_begin(&b, "dropped");
    put_id_field(&b, "id", id);
    put_type_field(&b, "type", type);
    put_str_field(&b, "reason", reason);
    ev_emit(n, &b);
    rh_buf_free(&b);
}

/* ---- peers table -------------------------------------------------------------------- */

static void free_urls(char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
}

static char **dup_urls(const char *const *urls, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = strdup(urls[i]))) {
            free_urls(v, i);
            return NULL;
        }
    return v;
}

/* [mu] */
static node_peer *find_peer(node *n, uint64_t id)
{
    for (size_t i = 0; i < n->n_peers; i++)
        if (n->peers[i].id == id)
            return &n->peers[i];
    return NULL;
}

/* [mu] Records a peer (new) or its URLs (known). False when out of memory. */
static bool table_set(node *n, uint64_t id, const char *const *urls, size_t n_urls)
{
    char **v = dup_urls(urls, n_urls);
    if (!v)
        return false;
    node_peer *p = find_peer(n, id);
    if (p) {
        free_urls(p->urls, p->n_urls);
    } else {
        if (n->n_peers == n->cap_peers) {
            size_t cap = n->cap_peers ? n->cap_peers * 2 : 8;
            node_peer *np = realloc(n->peers, cap * sizeof(*np));
            if (!np) {
                free_urls(v, n_urls);
                return false;
            }
            n->peers = np;
            n->cap_peers = cap;
        }
        p = &n->peers[n->n_peers++];
        p->id = id;
        p->cut = n->paused; /* as the transport: a peer added while paused is paused */
    }
    p->urls = v;
    p->n_urls = n_urls;
    return true;
}

/* [mu] */
static void table_remove(node *n, uint64_t id)
{
    node_peer *p = find_peer(n, id);
    if (!p)
        return;
    free_urls(p->urls, p->n_urls);
    *p = n->peers[--n->n_peers];
}

/* ---- sending ------------------------------------------------------------------------ */

/* Send with the drops the transport makes silently reported, as gopeer
 * reports them. Any thread. */
static void node_send(node *n, const rh_msg *m)
{
    if (m->to == 0) {
        emit_dropped(n, 0, m->type, "to is 0: Transport.Send ignores it");
        return;
    }
    /* unknown and paused targets are reported by the transport (a remote
     * it learned from a request is known to it, not to us) */
    int rc = rh_transport_send(n->t, m, 1);
    if (rc < 0)
        emit_error(n, "send: %s", strerror(-rc));
}

/* --reply echo-resp: what a passive follower that stores nothing answers. */
static void echo(node *n, const rh_msg *m)
{
    rh_msg r = {0};
    switch (m->type) {
    case RH_MSG_HEARTBEAT:
        r.type = RH_MSG_HEARTBEAT_RESP;
        r.context = m->context;
        break;
    case RH_MSG_APP:
        r.type = RH_MSG_APP_RESP;
        r.index = m->n_entries ? m->entries[m->n_entries - 1].index : m->index;
        break;
    case RH_MSG_VOTE:
        r.type = RH_MSG_VOTE_RESP;
        break;
    case RH_MSG_PRE_VOTE:
        r.type = RH_MSG_PRE_VOTE_RESP;
        break;
    case RH_MSG_SNAP:
        r.type = RH_MSG_APP_RESP;
        r.index = m->snapshot.metadata.index;
        break;
    default:
        return;
    }
    r.term = m->term;
    r.to = m->from;
    r.from = n->args.id;
    node_send(n, &r); /* copies: m's context may go once process returns */
}

/* ---- transport callbacks ---------------------------------------------------------------- */

/* Delivery thread. */
static int on_process(void *ctx, const rh_msg *m, const char *via)
{
    node *n = ctx;
    rh_buf *b = &n->recv_buf;
    rh_buf_reset(b);
    ev_begin(b, "recv");
    put_str_field(b, "via", via ? via : "unknown");
    put_key(b, "msg");
    rh_json_put_msg_ids(b, m, ids_hex);
    ev_emit(n, b);
    if (n->args.echo_resp)
        echo(n, m);
    return 0;
}

/* A MsgSnap with its body saved by the transport: the recv event names the
 * file, as the spec asks. */
static int on_process_snapshot(void *ctx, const rh_msg *m, const char *path, uint64_t bytes)
{
    node *n = ctx;
    rh_buf *b = &n->recv_buf;
    rh_buf_reset(b);
    ev_begin(b, "recv");
    put_str_field(b, "via", "snapshot");
    put_key(b, "msg");
    rh_json_put_msg_ids(b, m, ids_hex);
    put_str_field(b, "snapshotFile", path);
    put_u64_field(b, "snapshotBytes", bytes);
    ev_emit(n, b);
    if (n->args.echo_resp)
        echo(n, m);
    return 0;
}

static bool on_is_id_removed(void *ctx, uint64_t id)
{
    node *n = ctx;
    bool removed = false;
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < n->n_removed; i++)
        removed |= n->removed[i] == id;
    pthread_mutex_unlock(&n->mu);
    return removed;
}

static void on_report_unreachable(void *ctx, uint64_t id)
{
    emit_id_event(ctx, "unreachable", id, NULL, NULL);
}

static void on_report_snapshot(void *ctx, uint64_t id, bool finished)
{
    emit_id_event(ctx, "snapshotStatus", id, "status", finished ? "finish" : "failure");
}

/* Loop thread. */
static void on_event(void *ctx, const rh_event *ev)
{
    node *n = ctx;
    rh_buf b;
    switch (ev->kind) {
    case RH_EV_PEER_ACTIVE:
        emit_id_event(n, "peerActive", ev->peer, NULL, NULL);
        break;
    case RH_EV_PEER_INACTIVE:
        emit_id_event(n, "peerInactive", ev->peer, "reason", ev->text);
        break;
    case RH_EV_DROPPED:
        emit_dropped(n, ev->peer, ev->msg_type, ev->text);
        break;
    case RH_EV_CRITICAL:
        rh_buf_init(&b);
        ev_begin(&b, "critical");
        put_str_field(&b, "error", ev->text);
        ev_emit(n, &b);
        rh_buf_free(&b);
        break;
    case RH_EV_SENT:
        if (!n->args.trace_sent)
            break;
        rh_buf_init(&b);
        ev_begin(&b, "sent");
        put_str_field(&b, "via", ev->via);
        put_id_field(&b, "to", ev->peer);
        put_type_field(&b, "type", ev->msg_type);
        ev_emit(n, &b);
        rh_buf_free(&b);
        break;
    default:
        node_log(RH_LOG_DEBUG, "ignored transport event of kind %d", ev->kind);
        break;
    }
}

/* ---- commands --------------------------------------------------------------------------- */

/* A member ID: a JSON integer or a hex string as etcd prints IDs. */
static bool json_id(const rh_json *v, uint64_t *out)
{
    if (!v)
        return false;
    if (v->type == RH_JSON_INT)
        return rh_json_as_u64(v, out) && *out != 0;
    if (v->type == RH_JSON_STRING)
        return rh_id_parse_hex(v->s, v->n, out) && *out != 0;
    return false;
}

/* "urls": a non-empty array of peer URLs, copied into out (owned). 0, or -1
 * after an error event. */
static int json_urls(node *n, const char *cmd, const rh_json *obj, char **out, size_t *n_out)
{
    const rh_json *v = rh_json_get(obj, "urls");
    *n_out = 0;
    if (!v || v->type != RH_JSON_ARRAY || v->n == 0) {
        emit_error(n, "%s: \"urls\" must be a non-empty array of URLs", cmd);
        return -1;
    }
    if (v->n > NODE_MAX_URLS) {
        emit_error(n, "%s: more than %d URLs", cmd, NODE_MAX_URLS);
        return -1;
    }
    for (size_t i = 0; i < v->n; i++) {
        const rh_json *u = &v->items[i];
        if (u->type != RH_JSON_STRING || memchr(u->s, 0, u->n)) {
            emit_error(n, "%s: urls[%zu] is not a string", cmd, i);
            goto fail;
        }
        out[i] = malloc(u->n + 1);
        if (!out[i]) {
            emit_error(n, "%s: out of memory", cmd);
            goto fail;
        }
        memcpy(out[i], u->s, u->n);
        out[i][u->n] = 0;
        *n_out = i + 1;
        char err[256];
        if (node_check_url(out[i], err, sizeof(err))) {
            emit_error(n, "%s: %s", cmd, err);
            goto fail;
        }
    }
    return 0;
fail:
    for (size_t i = 0; i < *n_out; i++)
        free(out[i]);
    *n_out = 0;
    return -1;
}

static void cmd_status(node *n)
{
    pthread_mutex_lock(&n->mu);
    size_t np = n->n_peers;
    node_peer *copy = calloc(np ? np : 1, sizeof(*copy));
    bool ok = copy != NULL;
    if (!ok)
        np = 0;
    for (size_t i = 0; ok && i < np; i++) {
        copy[i] = n->peers[i];
        if (!(copy[i].urls = dup_urls((const char *const *)n->peers[i].urls,
                                      n->peers[i].n_urls))) {
            np = i;
            ok = false;
        }
    }
    pthread_mutex_unlock(&n->mu);
    rh_peer_status *st = NULL;
    size_t n_st = 0, cap = np + 8;
    while (ok) {
        rh_peer_status *ns = realloc(st, cap * sizeof(*ns));
        if (!ns) {
            ok = false;
            break;
        }
        st = ns;
        n_st = rh_transport_status(n->t, st, cap);
        if (n_st <= cap)
            break;
        cap = n_st + 8;
    }
    if (!ok) {
        emit_error(n, "status: out of memory");
        goto done;
    }
    /* by ID, as gopeer lists them */
    for (size_t i = 1; i < np; i++)
        for (size_t k = i; k > 0 && copy[k - 1].id > copy[k].id; k--) {
            node_peer tmp = copy[k];
            copy[k] = copy[k - 1];
            copy[k - 1] = tmp;
        }
    rh_buf b;
    rh_buf_init(&b);
    ev_begin(&b, "status");
    put_id_field(&b, "id", n->args.id);
    put_u64_field(&b, "activePeers", rh_transport_active_peers(n->t));
    rh_buf_puts(&b, ",\"peers\":[");
    for (size_t i = 0; i < np; i++) {
        const rh_peer_status *s = NULL;
        for (size_t k = 0; k < n_st; k++)
            if (st[k].id == copy[i].id)
                s = &st[k];
        bool active = s && s->active;
        rh_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        rh_json_put_id(&b, copy[i].id, ids_hex);
        rh_buf_puts(&b, ",\"active\":");
        rh_json_put_bool(&b, active);
        rh_buf_puts(&b, ",\"paused\":");
        rh_json_put_bool(&b, copy[i].cut);
        if (active && s->active_since_ns) {
            put_key(&b, "activeSince");
            put_time(&b, s->active_since_ns);
        }
        rh_buf_puts(&b, ",\"urls\":[");
        for (size_t k = 0; k < copy[i].n_urls; k++) {
            if (k)
                rh_buf_putc(&b, ',');
            rh_json_put_string(&b, copy[i].urls[k], strlen(copy[i].urls[k]));
        }
        rh_buf_puts(&b, "]}");
    }
    rh_buf_putc(&b, ']');
    ev_emit(n, &b);
    rh_buf_free(&b);
done:
    for (size_t i = 0; i < np; i++)
        free_urls(copy[i].urls, copy[i].n_urls);
    free(copy);
    free(st);
}

static void request_stop(node *n)
{
    atomic_store(&n->stop_cmd, true);
    /* every thread blocks SIGTERM, so it waits for the main thread's sigwait */
    kill(getpid(), SIGTERM);
}

static void mark_removed(node *n, uint64_t id, bool removed)
{
    pthread_mutex_lock(&n->mu);
    size_t i = 0;
    while (i < n->n_removed && n->removed[i] != id)
        i++;
    if (removed && i == n->n_removed) {
        if (n->n_removed == n->cap_removed) {
            size_t cap = n->cap_removed ? n->cap_removed * 2 : 8;
            uint64_t *nr = realloc(n->removed, cap * sizeof(*nr));
            if (nr) {
                n->removed = nr;
                n->cap_removed = cap;
            }
        }
        if (n->n_removed < n->cap_removed)
            n->removed[n->n_removed++] = id;
    } else if (!removed && i < n->n_removed) {
        n->removed[i] = n->removed[--n->n_removed];
    }
    pthread_mutex_unlock(&n->mu);
}

/* Returns true when the node should stop reading. */
static bool command(node *n, const char *cmd, const rh_json *o)
{
    bool needs_id = !strcmp(cmd, "addPeer") || !strcmp(cmd, "updatePeer") ||
                    !strcmp(cmd, "addRemote") || !strcmp(cmd, "removePeer") ||
                    !strcmp(cmd, "cutPeer") || !strcmp(cmd, "mendPeer") ||
                    !strcmp(cmd, "markRemoved") || !strcmp(cmd, "unmarkRemoved");
    bool needs_urls = !strcmp(cmd, "addPeer") || !strcmp(cmd, "updatePeer") ||
                      !strcmp(cmd, "addRemote");
    uint64_t id = 0;
    char *urls[NODE_MAX_URLS];
    size_t n_urls = 0;
    if (needs_id && !json_id(rh_json_get(o, "id"), &id)) {
        emit_error(n, "%s: \"id\" must be a nonzero member ID (a number or a hex string)",
                   cmd);
        return false;
    }
    if (needs_urls && json_urls(n, cmd, o, urls, &n_urls))
        return false;
    const char *const *cu = (const char *const *)urls;
    bool stop = false;
    int rc;
    char fail[160] = ""; /* an error found under mu, reported after it */
    if (!strcmp(cmd, "addPeer") || !strcmp(cmd, "updatePeer")) {
        bool add = cmd[0] == 'a';
        pthread_mutex_lock(&n->mu);
        bool known = find_peer(n, id) != NULL;
        if (id == n->args.id)
            snprintf(fail, sizeof(fail), "%llx is the local member", (unsigned long long)id);
        else if (add && known)
            snprintf(fail, sizeof(fail), "peer %llx already added", (unsigned long long)id);
        else if (!add && !known)
            snprintf(fail, sizeof(fail), "unknown peer %llx", (unsigned long long)id);
        else if (!table_set(n, id, cu, n_urls))
            snprintf(fail, sizeof(fail), "out of memory");
        else if ((rc = add ? rh_transport_add_peer(n->t, id, cu, n_urls)
                           : rh_transport_update_peer(n->t, id, cu, n_urls)) < 0) {
            if (add)
                table_remove(n, id);
            snprintf(fail, sizeof(fail), "%s", strerror(-rc));
        }
        pthread_mutex_unlock(&n->mu);
    } else if (!strcmp(cmd, "addRemote")) {
        rc = rh_transport_add_remote(n->t, id, cu, n_urls);
        if (rc < 0)
            snprintf(fail, sizeof(fail), "%s", strerror(-rc));
    } else if (!strcmp(cmd, "removePeer")) {
        pthread_mutex_lock(&n->mu);
        if (!find_peer(n, id)) {
            snprintf(fail, sizeof(fail), "unknown peer %llx", (unsigned long long)id);
        } else {
            table_remove(n, id);
            if ((rc = rh_transport_remove_peer(n->t, id)) < 0)
                snprintf(fail, sizeof(fail), "%s", strerror(-rc));
        }
        pthread_mutex_unlock(&n->mu);
    } else if (!strcmp(cmd, "cutPeer") || !strcmp(cmd, "mendPeer")) {
        bool cut = cmd[0] == 'c';
        pthread_mutex_lock(&n->mu);
        node_peer *p = find_peer(n, id);
        if (p)
            p->cut = cut;
        if (cut)
            rh_transport_cut_peer(n->t, id);
        else
            rh_transport_mend_peer(n->t, id);
        pthread_mutex_unlock(&n->mu);
    } else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
        bool pause = cmd[0] == 'p';
        pthread_mutex_lock(&n->mu);
        n->paused = pause;
        /* Pause/Resume pause and resume every peer, cut or not */
        for (size_t i = 0; i < n->n_peers; i++)
            n->peers[i].cut = pause;
        if (pause)
            rh_transport_pause(n->t);
        else
            rh_transport_resume(n->t);
        pthread_mutex_unlock(&n->mu);
    } else if (!strcmp(cmd, "markRemoved") || !strcmp(cmd, "unmarkRemoved")) {
        mark_removed(n, id, cmd[0] == 'm');
    } else if (!strcmp(cmd, "status")) {
        cmd_status(n);
    } else if (!strcmp(cmd, "stop")) {
        stop = true;
    } else {
        snprintf(fail, sizeof(fail), "unknown command");
    }
    if (fail[0])
        emit_error(n, "%s: %s", cmd, fail);
    for (size_t i = 0; i < n_urls; i++)
        free(urls[i]);
    return stop;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One stdin line. Returns true when the node should stop reading. */
static bool handle_line(node *n, const char *line, size_t len)
{
    while (len && is_space(line[len - 1]))
        len--;
    while (len && is_space(*line)) {
        line++;
        len--;
    }
    if (!len)
        return false;
    const rh_json *root;
    rh_err err;
    if (rh_json_parse(&n->parser, line, len, &root, &err) != 0) {
        emit_error(n, "%s", err.msg);
        return false;
    }
    if (root->type != RH_JSON_OBJECT) {
        emit_error(n, "want a JSON object (a message or a command), not %s",
                   rh_json_type_name(root->type));
        return false;
    }
    const rh_json *c = rh_json_get(root, "cmd");
    if (c) {
        char cmd[32];
        if (c->type != RH_JSON_STRING || c->n == 0 || c->n >= sizeof(cmd) ||
            memchr(c->s, 0, c->n)) {
            emit_error(n, "\"cmd\" must be a command name");
            return false;
        }
        memcpy(cmd, c->s, c->n);
        cmd[c->n] = 0;
        return command(n, cmd, root);
    }
    rh_msg m;
    rh_arena_reset(&n->arena);
    if (rh_json_to_msg(root, 0, &n->arena, &m, &err) != 0) {
        emit_error(n, "message: %s", err.msg);
        return false;
    }
    const rh_json *sf = rh_json_get(root, "snapshotFile");
    if (sf && sf->type != RH_JSON_NULL) {
        /* etcd's merged snapshot: the message, then the file as the body */
        char path[4096];
        if (sf->type != RH_JSON_STRING || sf->n == 0 || sf->n >= sizeof(path)) {
            emit_error(n, "message: \"snapshotFile\" must be a path");
            return false;
        }
        memcpy(path, sf->s, sf->n);
        path[sf->n] = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            emit_error(n, "message: snapshotFile %s: %s", path,
                       fd < 0 ? strerror(errno) : "not a regular file");
            if (fd >= 0)
                close(fd);
            return false;
        }
        if (m.type != RH_MSG_SNAP) {
            close(fd);
            emit_error(n, "message: snapshotFile goes with a MsgSnap only");
            return false;
        }
        int rc = rh_transport_send_snapshot(n->t, &m, fd, (uint64_t)st.st_size);
        if (rc < 0)
            emit_error(n, "send snapshot: %s", strerror(-rc));
        return false;
    }
    node_send(n, &m);
    return false;
}

/* ---- the stdin reader -------------------------------------------------------------------- */

/* Waits for stdin or the wake pipe. 1 stdin readable, 0 woken, -1 error. */
static int wait_input(node *n)
{
    for (;;) {
        struct pollfd pf[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                               {.fd = n->wake[0], .events = POLLIN}};
        int rc = poll(pf, 2, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (pf[1].revents)
            return 0;
        if (pf[0].revents)
            return 1;
    }
}

static void *reader_main(void *arg)
{
    node *n = arg;
    size_t cap = CLI_READ_CHUNK, len = 0, scanned = 0;
    char *buf = malloc(cap);
    bool skipping = false; /* inside a line over NODE_MAX_LINE */
    uint64_t lineno = 0;
    if (!buf) {
        node_log(RH_LOG_ERROR, "reading standard input: out of memory");
        return NULL;
    }
    for (;;) {
        /* every complete line in buf, then what is left to the front */
        size_t start = 0;
        char *nl;
        while ((nl = memchr(buf + scanned, '\n', len - scanned)) != NULL) {
            size_t end = (size_t)(nl - buf);
            lineno++;
            bool stop = false;
            if (skipping)
                skipping = false;
            else
                stop = handle_line(n, buf + start, end - start);
            start = scanned = end + 1;
            if (stop) {
                request_stop(n);
                goto out;
            }
        }
        if (start) {
            memmove(buf, buf + start, len - start);
            len -= start;
        }
        scanned = len;
        if (len > NODE_MAX_LINE) {
            if (!skipping)
                emit_error(n, "line %llu: longer than %zu bytes; skipped",
                           (unsigned long long)lineno + 1, (size_t)NODE_MAX_LINE);
            skipping = true;
            len = scanned = 0;
        }
        if (cap - len < CLI_READ_CHUNK) {
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                node_log(RH_LOG_ERROR, "reading standard input: out of memory");
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        int w = wait_input(n);
        if (w <= 0) {
            if (w < 0)
                node_log(RH_LOG_ERROR, "poll: %s", strerror(errno));
            goto out;
        }
        ssize_t r = read(STDIN_FILENO, buf + len, cap - len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            node_log(RH_LOG_WARN, "reading standard input: %s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    /* end of input: a last line without its newline still counts */
    if (len && !skipping && handle_line(n, buf, len))
        request_stop(n);
    else
        node_log(RH_LOG_INFO, "end of standard input; serving until SIGINT, SIGTERM");
out:
    free(buf);
    return NULL;
}

/* ---- main -------------------------------------------------------------------------------- */

static void emit_ready(node *n)
{
    rh_buf b;
    rh_buf_init(&b);
    ev_begin(&b, "ready");
    put_id_field(&b, "id", n->args.id);
    put_id_field(&b, "clusterId", n->args.cluster_id);
    rh_buf_puts(&b, ",\"listen\":[");
    for (size_t i = 0; i < n->args.n_listen; i++) {
        char url[600];
        const char *u = n->args.listen[i];
        int port = rh_transport_listen_port(n->t, i);
        if (port > 0 && node_url_with_port(u, port, url, sizeof(url)))
            u = url;
        if (i)
            rh_buf_putc(&b, ',');
        rh_json_put_string(&b, u, strlen(u));
    }
    rh_buf_putc(&b, ']');
    ev_emit(n, &b);
    rh_buf_free(&b);
}

static void node_free(node *n)
{
    /* the temp snapshot dir goes when nothing was received into it; received
     * snapshots are never deleted (they are what the user came for) */
    if (n->snap_dir_temp && rmdir(n->snap_dir) != 0 && errno == ENOTEMPTY)
        node_log(RH_LOG_INFO, "received snapshots are kept in %s", n->snap_dir);
    n->snap_dir_temp = false;
    for (size_t i = 0; i < n->n_peers; i++)
        free_urls(n->peers[i].urls, n->peers[i].n_urls);
    free(n->peers);
    free(n->removed);
    rh_buf_free(&n->recv_buf);
    rh_json_parser_free(&n->parser);
    rh_arena_free(&n->arena);
    node_args_free(&n->args);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->out_mu);
}

int cli_node_main(int argc, char **argv)
{
    static node nd; /* one per process; static keeps it off the stack */
    node *n = &nd;
    bool done;
    int status = node_parse_args(argc, argv, &n->args, &done);
    if (done)
        return status;
    rh_log_level = n->args.log_level;
    log_json = n->args.log_json;
    ids_hex = n->args.ids_hex;
    log_local_id = n->args.id;
    if (!n->args.metrics)
        node_log(RH_LOG_WARN, "--metrics=false: the transport always serves /metrics");

    pthread_mutex_init(&n->out_mu, NULL);
    pthread_mutex_init(&n->mu, NULL);
    rh_buf_init(&n->recv_buf);
    rh_json_parser_init(&n->parser, NODE_MAX_LINE, 0);
    rh_arena_init(&n->arena, 0);
    atomic_init(&n->stop_cmd, false);
    n->wake[0] = n->wake[1] = -1;

    /* Before any thread exists: every thread inherits the mask, so the
     * signals wait for sigwait below. A peer closing a socket mid-write
     * must not kill us. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the spec's default snapshot directory: a fresh temp dir */
    if (n->args.snap_dir) {
        snprintf(n->snap_dir, sizeof(n->snap_dir), "%s", n->args.snap_dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(n->snap_dir, sizeof(n->snap_dir), "%s/rafthttp-snap-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(n->snap_dir)) {
            fprintf(stderr, "rafthttp " CMD ": cannot create a snapshot directory: %s\n",
                    strerror(errno));
            node_free(n);
            return 2;
        }
        n->snap_dir_temp = true;
    }
    rh_transport_config cfg = {
        .id = n->args.id,
        .cluster_id = n->args.cluster_id,
        .listen = (const char *const *)n->args.listen,
        .n_listen = n->args.n_listen,
        .advertise = (const char *const *)n->args.advertise,
        .n_advertise = n->args.n_advertise,
        .server_version = n->args.server_version,
        .min_cluster_version = n->args.min_cluster_version,
        .dial_timeout_ms = n->args.dial_timeout_ms,
        .dial_retry_ms = n->args.dial_retry_ms,
        .raft = {.ctx = n,
                 .process = on_process,
                 .process_snapshot = on_process_snapshot,
                 .is_id_removed = on_is_id_removed,
                 .report_unreachable = on_report_unreachable,
                 .report_snapshot = on_report_snapshot},
        .on_event = on_event,
        .event_ctx = n,
        .trace_sent = n->args.trace_sent,
        .snap_dir = n->snap_dir,
        .head_timeout_ms = n->args.head_timeout_ms,
        .log = n->args.log_json ? on_log : NULL,
        .log_level = n->args.log_level,
        .handshake_timeout_ms = n->args.handshake_timeout_ms,
        .max_handshakes = (size_t)n->args.max_handshakes,
        .max_head = (size_t)n->args.max_header_bytes,
        .max_body = n->args.max_body_bytes,
        .no_metrics = !n->args.metrics,
        .members_json = n->args.members_json,
        .tls = &n->args.tls,
    };
    char err[512] = "";
    n->t = rh_transport_new(&cfg, err, sizeof(err));
    if (!n->t) {
        fprintf(stderr, "rafthttp " CMD ": %s\n", err[0] ? err : "cannot create the transport");
        node_free(n);
        return CLI_EXIT_USAGE;
    }

    /* peers before serving: a peer's first dial never meets a 404 */
    for (size_t i = 0; i < n->args.n_peers; i++) {
        const node_peer_arg *p = &n->args.peers[i];
        const char *const *u = (const char *const *)p->urls;
        int rc = rh_transport_add_peer(n->t, p->id, u, p->n_urls);
        if (rc < 0 || !table_set(n, p->id, u, p->n_urls)) {
            fprintf(stderr, "rafthttp " CMD ": adding peer %llx: %s\n",
                    (unsigned long long)p->id, rc < 0 ? strerror(-rc) : "out of memory");
            rh_transport_free(n->t);
            node_free(n);
            return CLI_EXIT_FAIL;
        }
    }
    /* ready first: nothing can happen before the loop starts, so no event
     * (an inbound stream's peerActive) can precede it */
    char id[17], cid[17];
    snprintf(id, sizeof(id), "%llx", (unsigned long long)n->args.id);
    snprintf(cid, sizeof(cid), "%llx", (unsigned long long)n->args.cluster_id);
    emit_ready(n);
    int rc = rh_transport_start(n->t);
    if (rc < 0) {
        fprintf(stderr, "rafthttp " CMD ": starting the transport: %s\n", strerror(-rc));
        rh_transport_free(n->t);
        node_free(n);
        return CLI_EXIT_FAIL;
    }
    char where[600];
    int port0 = rh_transport_listen_port(n->t, 0);
    if (port0 <= 0 || !node_url_with_port(n->args.listen[0], port0, where, sizeof(where)))
        snprintf(where, sizeof(where), "%s", n->args.listen[0]);
    node_log(RH_LOG_INFO, "member %s of cluster %s serving on %s (%zu peers)", id, cid, where,
             n->args.n_peers);

    pthread_t reader;
    bool reading = false;
    if (pipe(n->wake) == 0 && pthread_create(&reader, NULL, reader_main, n) == 0)
        reading = true;
    else
        node_log(RH_LOG_ERROR, "cannot start reading standard input: %s", strerror(errno));

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    if (atomic_load(&n->stop_cmd))
        node_log(RH_LOG_INFO, "stopping: stop command");
    else
        node_log(RH_LOG_INFO, "stopping on signal %s", sig == SIGINT ? "SIGINT" : "SIGTERM");

    if (reading) {
        ssize_t w;
        do
            w = write(n->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(reader, NULL);
    }
    rh_transport_free(n->t);
    n->t = NULL;
    for (int i = 0; i < 2; i++)
        if (n->wake[i] >= 0)
            close(n->wake[i]);
    node_free(n);
    node_log(RH_LOG_INFO, "stopped");
    return CLI_EXIT_OK;
}
