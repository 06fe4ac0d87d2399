/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transport internals, shared by the files of src/transport/ only.
 *
 * Threads: the loop thread owns everything below except the fields marked
 * [mu] (guarded by rh_transport.mu, touched by API callers) and the
 * delivery queues (guarded by delivery.mu, shared with the delivery thread).
 */
#ifndef RH_TRANSPORT_INTERNAL_H
#define RH_TRANSPORT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "http/http.h"
#include "rafthttp/stream_codec.h"
#include "rafthttp/transport.h"

#include "transport/conn.h"
#include "transport/log.h"
#include "transport/tmsg.h"

/* ---- small helpers ------------------------------------------------------ */

int64_t rh_now_ms(void);       /* CLOCK_MONOTONIC */
int64_t rh_now_us(void);       /* CLOCK_MONOTONIC, microseconds */
int64_t rh_realtime_ns(void);  /* CLOCK_REALTIME */
void rh_id_str(uint64_t id, char out[17]);
void rh_strv_free(char **v, size_t n); /* n owned strings and the array; NULL is fine */
/* Names the calling thread (at most 15 characters), as top -H, ps -L and
 * perf show it: the transport's threads are rh-loop, rh-deliver,
 * rh-snap-store and rh-snap-feed. */
void rhi_thread_name(const char *name);

/* A parsed http:// or https://host:port URL. */
typedef struct rh_url {
    char host[256];
    char port[8];
    bool tls; /* https:// */
} rh_url;
int rh_url_parse(const char *url, rh_url *out, char *err, size_t errlen);
/* Writes a request head to a peer at url: Host, etcd's identity headers
 * (X-Server-From, X-Server-Version, X-Min-Cluster-Version,
 * X-Etcd-Cluster-ID, X-PeerURLs), then `extra`. Returns its length (nothing
 * written when over cap), 0 when url or a header is invalid. */
size_t rhi_client_request_head(rh_transport *t, char *out, size_t cap, const char *method,
                              const char *target, const char *url,
                              const rh_http_header *extra, size_t n_extra);
/* Parses the response head at the start of bev's input, skipping interim
 * (1xx) heads in a loop (never recursion: a peer may send thousands).
 * Returns the final head's length, still in the input (resp points into it:
 * drain after use), 0 while incomplete, or a negative code with err. */
int rhi_client_response_head(struct bufferevent *bev, rh_http_parser *hp,
                            rh_http_response *resp, rh_err *err);
/* TCP keepalive and TCP_USER_TIMEOUT: half-open links are found even when
 * no read is pending (ours; etcd relies on Go's 30 s keepalive). */
void rh_socket_tune(evutil_socket_t fd);
/* Bytes a connection reads or writes per loop callback, at most (ours). */
#define RH_IO_MAX (256u * 1024u)
void rh_bev_tune(struct bufferevent *bev);
/* Writes p[0..n) to bev's socket at once when nothing is buffered, the rest
 * (or all) through its output buffer: no write event armed and disarmed for
 * a small request or answer. Not where the caller then waits for the write
 * callback (it does not run for bytes sent here). 0 or -1; *direct (if
 * given) gets how many bytes went to the socket at once. */
int rh_bev_send(struct bufferevent *bev, const void *p, size_t n, size_t *direct);

/* ---- per-peer queues ------------------------------------------------------ */

typedef struct msgq_item {
    rh_msg *m;     /* owned clone */
    uint32_t size; /* rh_msg_size, for the byte bound */
} msgq_item;

/* Bounded ring of owned messages: count (cap) and bytes (max_bytes). */
typedef struct msgq {
    msgq_item *items; /* ring of alloc entries (grown on demand up to cap), owned */
    size_t alloc;     /* entries allocated */
    size_t cap, head, len;
    size_t bytes, max_bytes;
} msgq;

int rhi_msgq_init(msgq *q, size_t cap, size_t max_bytes);
void rhi_msgq_free(msgq *q);      /* frees queued messages too */
void rhi_msgq_clear(msgq *q);     /* frees queued messages */
bool rhi_msgq_push(msgq *q, rh_msg *m, size_t size); /* false when full */
rh_msg *rhi_msgq_pop(msgq *q);
void rhi_msgq_trim(msgq *q); /* gives the ring's memory back when empty */
static inline rh_msg *msgq_peek(const msgq *q) /* the next to pop; q->len > 0 */
{
    return q->items[q->head].m;
}
/* rh_msg_size of the next to pop, as pushed; SIZE_MAX when it did not fit
 * the item (over 4 GiB); q->len > 0 */
static inline size_t msgq_peek_size(const msgq *q)
{
    uint32_t s = q->items[q->head].size;
    return s == UINT32_MAX ? SIZE_MAX : s;
}

/* ---- stream writer / reader ------------------------------------------------ */

typedef struct peer peer; /* peer.h */

typedef struct stream_writer {
    struct peer *p;
    int kind;                 /* rh_stream_kind */
    struct bufferevent *bev;  /* attached connection, owned; NULL if none */
    rh_stream_encoder enc;    /* state for the attached connection */
    msgq q;                   /* streamBufSize messages, queue_bytes bytes */
    struct event *tick;       /* link heartbeat timer, ConnReadTimeout/3 */
    struct event *kick;       /* made active by rhi_writer_send: pump after the batch */
    bool wrote_since_tick;    /* something went out since the last tick */
    /* trace_sent: frames in the output buffer, reported once written */
    struct sent_rec *sent;    /* ring, owned */
    size_t sent_cap, sent_head, sent_len;
    uint64_t appended;        /* bytes added to the output buffer */
    uint64_t written;         /* bytes the buffer handed to the socket */
} stream_writer;

typedef struct sent_rec {
    uint64_t end;  /* value of `appended` after the frame */
    int32_t type;  /* sent to the writer's peer */
} sent_rec;

enum reader_state {
    R_STOPPED,    /* not running (peer being removed, transport stopping) */
    R_WAIT,       /* waiting for the redial timer */
    R_CONNECTING, /* TCP connect in progress */
    R_HEAD,       /* request sent, reading the response head */
    R_ERRBODY,    /* reading a small error body (412) */
    R_BODY,       /* 200: decoding the stream */
};

typedef struct stream_reader {
    struct peer *p;
    int kind;                   /* rh_stream_kind */
    int state;                  /* reader_state */
    struct bufferevent *bev;    /* connection, owned */
    struct event *timer;        /* redial timer */
    int64_t last_dial_ms;       /* when the last dial started */
    unsigned failures;          /* dials in a row that did not reach 200 */
    char last_why[160];         /* last failure logged, to log changes only */
    size_t url;                 /* index of the URL dialed */
    rh_http_parser hp;          /* response head parser */
    rh_http_header hdrs[32];    /* its fields */
    rh_http_response resp;      /* the parsed head */
    rh_http_body body;          /* how the body is framed */
    rh_http_chunked chunked;    /* chunked decoder */
    uint64_t body_left;         /* RH_HTTP_BODY_LENGTH: bytes still expected */
    rh_stream_decoder *dec;     /* stream decoder for this connection */
    int lowat;                  /* SO_RCVLOWAT set on bev's socket (1: kernel default) */
    struct event *raw;          /* reads the body past the bufferevent (owned), or NULL */
} stream_reader;

/* ---- pipeline (POST /raft) -------------------------------------------------------- */

#define RH_PIPELINE_BUF_SIZE 64 /* etcd's pipelineBufSize */
#define RH_PIPELINE_CONNS 4     /* etcd's connPerPipeline */

enum pipe_state {
    PC_DOWN,       /* no connection */
    PC_CONNECTING, /* dialing, a message waits in m */
    PC_IDLE,       /* connected, kept alive, no request */
    PC_WAIT,       /* request written, reading the response head */
    PC_BODY,       /* reading the response body */
};

struct pipeline;

typedef struct pipe_conn {
    struct pipeline *pl;
    int state;               /* pipe_state */
    struct bufferevent *bev; /* owned */
    rh_msg *m;               /* the message in flight, owned */
    size_t body_len;         /* its encoded size */
    size_t url;              /* URL index dialed */
    rh_http_parser hp;
    rh_http_header hdrs[32];
    rh_http_response resp;
    int status;
    bool keep_alive;
    uint64_t body_left;
} pipe_conn;

typedef struct pipeline {
    struct peer *p;
    msgq q;                               /* 64 messages */
    pipe_conn conns[RH_PIPELINE_CONNS];
    bool pumping;
} pipeline;

void rhi_pipeline_init(pipeline *pl, struct peer *p);
void rhi_pipeline_send(pipeline *pl, rh_msg *m, size_t size); /* takes m */
void rhi_pipeline_pump(pipeline *pl);
void rhi_pipeline_free(pipeline *pl);

/* ---- metrics (metrics.c) ------------------------------------------------------- */

/* A Prometheus histogram with fixed bucket bounds (given when observing
 * and rendering; at most 16 buckets). */
typedef struct rh_hist {
    uint64_t counts[16]; /* per bucket, not cumulative */
    uint64_t n;
    double sum;
} rh_hist;

enum { RH_HIST_RTT, RH_HIST_SNAPSHOT };
void rhi_hist_observe(rh_hist *h, int kind, double v);

/* Per member ID, as etcd's labelled metric vectors: a row outlives the peer
 * (a removed and re-added peer keeps counting where it was). Rows are made
 * for peers and remotes only, so the wire cannot grow the list. */
typedef struct peer_stats {
    uint64_t id;
    bool active;                  /* etcd_network_active_peers */
    uint64_t sent_bytes, recv_bytes, sent_failures, recv_failures;
    uint64_t disconnected;
    rh_hist rtt;                  /* prober's smoothed RTT, seconds */
    uint64_t snap_send_ok, snap_send_fail;
    int64_t snap_send_inflight;
    rh_hist snap_send_sec;
    uint64_t snap_recv_ok, snap_recv_fail;
    int64_t snap_recv_inflight;
    rh_hist snap_recv_sec;
    struct peer_stats *next;
} peer_stats;

/* The row of id, made when missing; NULL when out of memory. */
peer_stats *rhi_transport_stats(rh_transport *t, uint64_t id);
/* The row of id, or NULL (never makes one). */
peer_stats *rhi_transport_stats_find(rh_transport *t, uint64_t id);

/* ---- prober (prober.c): GET /raft/probing, as etcd's two probers ----------------- */

enum prober_state { PR_IDLE, PR_CONNECTING, PR_WAIT, PR_BODY };

typedef struct prober {
    struct peer *p;
    const char *name;        /* etcd's round-tripper name, for logs */
    int state;               /* prober_state */
    struct event *tick;      /* a probe every probe_interval_ms */
    struct event *check;     /* etcd's status monitor: 5 s, then 30 s while healthy */
    struct bufferevent *bev; /* probe connection, kept alive; owned */
    size_t pinned;           /* URL probed; moves on after a failure */
    size_t url;              /* URL of the connection in bev */
    int64_t start_ns;        /* monotonic, when the probe was sent */
    rh_http_parser hp;
    rh_http_header hdrs[32];
    rh_http_response resp;
    uint64_t body_left;
    bool keep_alive;
    /* status, as the probing library keeps it */
    int64_t srtt_ns;         /* smoothed, alpha 1/8 */
    int64_t clockdiff_ns;
    uint64_t total, loss;
    bool healthy;
    char err[320];           /* last failure */
    char warned[320];        /* the failure last logged; "" while healthy */
} prober;

void rhi_prober_start(prober *pr, struct peer *p, const char *name);
void rhi_prober_stop(prober *pr); /* frees what it holds; safe twice */

/* ---- snapshot store (snap_store.c): received bodies to disk, off the loop ---- */

typedef struct snap_store snap_store;
/* Creates a temp file in dir and its writer thread; notify (an event on the
 * loop) is activated when room frees after rhi_snap_store_want_room, and when
 * the writer ends (finished or failed). NULL with *err (errno) on failure. */
snap_store *rhi_snap_store_open(const char *dir, struct event *notify, int *err);
const char *rhi_snap_store_temp_path(const snap_store *s);
/* True (and notify armed) when less than want bytes of room are free. */
bool rhi_snap_store_want_room(snap_store *s, size_t want);
/* Queues bytes for the writer; 0, or the errno of a failed writer. */
int rhi_snap_store_push(snap_store *s, const void *p, size_t n);
/* No more bytes: fsync, close and rename to final_path on the thread. */
void rhi_snap_store_finish(snap_store *s, const char *final_path);
/* Whether the writer has ended, with its errno (0: finished and renamed). */
bool rhi_snap_store_ended(snap_store *s, int *err);
/* Stops (a write in progress completes), joins and frees. A file renamed
 * into place stays when keep, else it is removed like the temp file. */
void rhi_snap_store_close(snap_store *s, bool keep);

/* ---- stream writer / reader calls (stream_writer.c, stream_reader.c) --------- */

void rhi_writer_init(stream_writer *w, peer *p, int kind);
void rhi_writer_attach(stream_writer *w, struct bufferevent *bev);
/* Takes ownership of m. */
void rhi_writer_send(stream_writer *w, rh_msg *m, size_t size);
void rhi_writer_close(stream_writer *w, const char *why);
void rhi_writer_free(stream_writer *w);
static inline bool writer_attached(const stream_writer *w)
{
    return w->bev != NULL;
}

void rhi_reader_init(stream_reader *r, peer *p, int kind);
void rhi_reader_start(stream_reader *r); /* schedule a dial now */
void rhi_reader_stop(stream_reader *r);

/* ---- delivery to the application ----------------------------------------------- */

/* A received snapshot's body, waiting in its message's delivery item. */
typedef struct delivery_snap {
    char *file;     /* the body's file, owned */
    uint64_t bytes; /* its size */
} delivery_snap;

/* 32 bytes: the loop writes one per message into memory the delivery
 * thread read a lap earlier, so every byte of it crosses between cores. */
typedef struct delivery_item {
    rh_msg *m;     /* owned */
    uint64_t from; /* the peer whose queue it counts in */
    union {
        const char *via;     /* static string (!is_snap) */
        delivery_snap *snap; /* received snapshot (is_snap), owned */
    } u;
    uint32_t size; /* encoded size, for the byte bound (at most 4 GiB counted) */
    bool prop;     /* proposal queue */
    bool is_snap;  /* u.snap, not u.via */
} delivery_item;

typedef struct delivery_count {
    uint64_t id;
    uint32_t recv, prop; /* queued now, per etcd's recvc / propc */
    uint64_t bytes;      /* their encoded size, bounded by queue_bytes (ours) */
} delivery_count;

typedef struct delivery {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    delivery_item *items; /* ring, grown as needed (bounded by the counts) */
    size_t cap, head, len;
    _Atomic size_t queued; /* len, mirrored for the consumer to watch unlocked */
    bool sleeping;         /* the consumer waits on cond (signal only then) */
    delivery_count *counts; /* per sender with messages queued (none kept at 0) */
    size_t n_counts, cap_counts;
    _Atomic bool stopping; /* set under mu; the consumer's spin reads it unlocked */
    pthread_t thread;
    bool started;
} delivery;

/* ---- transport ------------------------------------------------------------------ */

typedef struct cmd cmd;

typedef struct server_conn server_conn;
typedef struct snap_send snap_send;

struct rh_transport {
    rh_transport_config cfg;     /* copy; strings below are owned copies */
    char **listen, **advertise;
    size_t n_listen, n_advertise;
    char *peer_urls_header;      /* X-PeerURLs value */
    char *snap_dir;              /* owned copy of cfg.snap_dir */
    char id_str[17], cid_str[17];
    char server_version[32], min_cluster_version[32];

    struct event_base *base;
    struct rh_tls *tls;          /* peer TLS (tls.h), NULL without; owned */
    struct evconnlistener **listeners;
    bool *listen_tls;            /* per listener: https:// */
    uint64_t plain_got_tls;      /* TLS handshakes that reached a plain port */
    int *ports;
    struct event *wake;          /* activated by API callers */
    struct event *status_refresh; /* rhi_transport_streams_changed: one refresh a pass */
    pthread_t loop_thread;
    bool started;

    pthread_mutex_t mu;          /* guards cmds, status and stop */
    cmd *cmds_head, *cmds_tail;  /* [mu] pending commands */
    bool stop;                   /* [mu] */
    rh_peer_status *status;      /* [mu] snapshot for rh_transport_status */
    size_t n_status, cap_status; /* [mu] */
    size_t n_active;             /* [mu] */

    peer *peers;                 /* loop thread */
    server_conn *conns;          /* accepted, not yet handed to a writer */
    size_t n_conns;              /* how many */
    size_t n_handshaking;        /* of them, TLS handshakes not complete */
    int64_t handshakes_full_logged_ms; /* last "handshakes in flight" warning */
    uint64_t handshakes_full;    /* times accepting paused at max_handshakes */
    bool accept_paused;          /* listeners off: at max_conns or
                                  * max_handshakes, or out of fds */
    struct event *relisten;      /* retries accepting after running out of fds */
    bool accept_failing;         /* an accept error was logged; cleared by an accept */
    bool remotes_full_logged;    /* RH_MAX_LEARNED_REMOTES reached and said */
    size_t n_members;            /* peers and remotes in the list */
    bool max_conns_derived;      /* cfg.max_conns follows n_members (not set by the app) */
    snap_send *snaps;            /* snapshots being sent */
    bool paused;                 /* pause(): every peer paused */
    peer_stats *stats;           /* loop thread; freed with the transport */
    uint64_t snap_recv_fail_unknown; /* snapshot receive failures before the sender is known */
    char *members_json;          /* owned copy of cfg.members_json */
    delivery dq;
    tmsg_cache msg_cache;        /* free message blocks, any thread (atomic) */
    uint8_t *read_buf;           /* RH_IO_MAX bytes, stream readers' raw reads (loop);
                                  * from read_pool, page-aligned */
    tmsg_read_pool read_pool;    /* read buffers that delivered messages hold */
    uint8_t *write_buf;          /* 64 KiB, stream writers' direct sends (loop) */
    struct evbuffer *tail_buf;   /* empty; stream writers' bytes after a reference (loop) */
    rhi_log_sink log_sink;       /* where this transport's lines go (log.h) */
};

void rhi_transport_emit(rh_transport *t, int kind, uint64_t peer_id, int32_t type,
                    const char *via, const char *text);
void rhi_transport_status_changed(rh_transport *t);
void rhi_transport_streams_changed(rh_transport *t); /* coalesced status refresh */
/* Adds a remote from X-PeerURLs ("u1,u2") unless id is a peer or remote. */
#define RH_MAX_LEARNED_REMOTES 128 /* remotes learned from request headers */
void rhi_transport_add_remote_from_header(rh_transport *t, uint64_t id, const char *urls,
                                      size_t len);
/* Prometheus text, on the loop thread (rh_transport_metrics hops there). */
size_t rhi_transport_metrics_text(rh_transport *t, char *buf, size_t cap);

/* server.c */
int rhi_server_listen(rh_transport *t, char *err, size_t errlen);
void rhi_server_close_all(rh_transport *t);
/* cfg.max_conns changed: accept again if now under it. */
void rhi_server_conns_limit_changed(rh_transport *t);

/* snapshot_sender.c */
void rhi_snapshot_send_start(rh_transport *t, rh_msg *m, int fd, uint64_t size);
void rhi_snapshot_send_free_all(rh_transport *t);

/* delivery.c */
int rhi_delivery_start(rh_transport *t);
void rhi_delivery_stop(rh_transport *t);
/* Queues n owned messages from one peer, sizes[i] = rh_msg_size(msgs[i])
 * (NULL: computed here); returns how many were accepted (in order); the
 * caller drops the rest. */
size_t rhi_delivery_push(rh_transport *t, uint64_t from, rh_msg **msgs, const uint64_t *sizes,
                     const char **via, size_t n, bool *accepted);
/* RH_DELIVER_ON_LOOP: process(m) now, on the loop thread; m stays the caller's. */
void rhi_delivery_on_loop(rh_transport *t, uint64_t from, const rh_msg *m, const char *via);
/* A received snapshot: m (owned on success) and its saved file. */
bool rhi_delivery_push_snapshot(rh_transport *t, uint64_t from, rh_msg *m, const char *path,
                            uint64_t bytes);

/* version checks as etcd: "X.Y[.Z]" with an optional leading v */
bool rh_version_parse(const char *s, size_t len, int *major, int *minor);

#endif
