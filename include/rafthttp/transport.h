/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rh_transport: etcd's rafthttp Transport in C.
 *
 * One event-loop thread owns every socket, timer and peer. Every function
 * here may be called from any thread; calls that change state hand a command
 * to the loop (a locked queue plus a wakeup) and return without waiting on
 * the network. Received messages reach the application through the Raft
 * callbacks on a separate delivery thread, fed by bounded per-peer queues
 * (etcd's recvc and propc, 4096 each): a slow `process` fills them and
 * further messages are dropped and reported, the loop never stalls. An
 * application with a quick `process` may have it called on the loop thread
 * instead (config.delivery = RH_DELIVER_ON_LOOP): no queue, copy or hop.
 *
 * Ownership: rh_transport_send copies the messages it is given (the caller
 * keeps its own); rh_transport_send_ref references their large entry data
 * until it says it is done with it. A message passed to `process` is valid until `process`
 * returns; rh_msg_clone() it to keep it. Events passed to `on_event` are
 * valid for the duration of the call.
 */
#ifndef RAFTHTTP_TRANSPORT_H
#define RAFTHTTP_TRANSPORT_H

#include "rafthttp/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafthttp/log.h"
#include "rafthttp/raftpb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* etcd's constants (rafthttp/peer.go, stream.go). */
#define RH_CONN_READ_TIMEOUT_MS 5000   /* ConnReadTimeout */
#define RH_CONN_WRITE_TIMEOUT_MS 5000  /* ConnWriteTimeout */
#define RH_STREAM_BUF_SIZE 4096        /* streamBufSize: writer queue, messages */
#define RH_RECV_BUF_SIZE 4096          /* recvBufSize */
#define RH_MAX_PENDING_PROPOSALS 4096  /* maxPendingProposals */
/* Ours: the byte bound on a writer's queue (etcd has none; a leader stuck on
 * a slow follower has queued gigabytes, etcd PR#22051). */
#define RH_DEFAULT_QUEUE_BYTES (64u * 1024u * 1024u)
#define RH_DEFAULT_HEAD_TIMEOUT_MS 10000  /* request head deadline (our spec) */
#define RH_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000 /* TLS handshake deadline of an
                                        * accepted connection (Go's net/http
                                        * default client handshake timeout) */
#define RH_DEFAULT_MAX_HANDSHAKES 64 /* accepted TLS handshakes in flight (ours) */
#define RH_DEFAULT_MAX_BODY ((uint64_t)512 * 1024 * 1024) /* POST /raft body (our spec) */
#define RH_DEFAULT_MAX_CONNS 1024 /* server connections not yet streams (ours); the
                                   * default grows to 8 per peer past 120 peers */
#define RH_PROBE_INTERVAL_MS (RH_CONN_READ_TIMEOUT_MS - 1000) /* etcd's proberInterval */

typedef struct rh_transport rh_transport;

/* The application's Raft, as etcd's rafthttp.Raft interface. Called on the
 * delivery thread (process, unless config.delivery says the loop) or the
 * loop thread (the others): keep them quick and do not call back into the
 * transport's stop from them. */
typedef struct rh_raft {
    void *ctx;
    /* 0 on success; nonzero is logged (and answered 500 on the pipeline) */
    int (*process)(void *ctx, const rh_msg *m, const char *via);
    /* optional: a MsgSnap received with its body on /raft/snapshot, saved
     * as `path` (etcd's %016x.snap.db in snap_dir), `bytes` long; the file
     * is the application's. Without it, `process` gets the message. */
    int (*process_snapshot)(void *ctx, const rh_msg *m, const char *path, uint64_t bytes);
    bool (*is_id_removed)(void *ctx, uint64_t id);
    void (*report_unreachable)(void *ctx, uint64_t id);
    void (*report_snapshot)(void *ctx, uint64_t id, bool finished);
} rh_raft;

/* Things that happened, for logs and the node command's events. */
enum rh_event_kind {
    RH_EV_PEER_ACTIVE,   /* peer, text: none */
    RH_EV_PEER_INACTIVE, /* peer, text: reason */
    RH_EV_DROPPED,       /* peer, msg_type, text: reason */
    RH_EV_CRITICAL,      /* text: error (etcd's ErrorC), e.g. "member removed" */
    RH_EV_SENT,          /* peer, msg_type, via: a message was written */
};

typedef struct rh_event {
    int kind;             /* rh_event_kind */
    uint64_t peer;        /* the peer concerned, 0 when none */
    int32_t msg_type;     /* RH_EV_DROPPED / RH_EV_SENT */
    const char *via;      /* "streamMsg", "streamMsgAppV2", "pipeline", ... */
    const char *text;     /* reason or error text, may be NULL */
} rh_event;

/* Where `process` runs (rh_transport_config.delivery). */
enum rh_delivery_mode {
    /* A delivery thread, fed in batches by bounded per-peer queues: a slow
     * `process` delays only that thread (etcd's recvc/propc). */
    RH_DELIVER_ON_THREAD = 0,
    /* The loop thread itself, straight from the decoder: no queue, no
     * thread hop, no copy. For applications whose `process` is quick (it
     * stalls every peer while it runs); rh_transport_send called from it
     * skips the command queue. Received snapshots still go through the
     * delivery thread. */
    RH_DELIVER_ON_LOOP = 1,
};

/* Peer TLS, as etcd's --peer-* flags (pkg/transport.TLSInfo). Used for
 * every https:// URL: listen URLs serve TLS, peer URLs are dialed with it.
 * The files are re-read when they change on disk (checked at most once a
 * second, at a new handshake): new handshakes use the new ones, established
 * connections keep theirs. */
typedef struct rh_tls_config {
    size_t struct_size;           /* see rh_transport_config.struct_size */
    const char *cert_file;        /* our certificate (PEM, chain allowed), for
                                   * both sides of every connection */
    const char *key_file;         /* its private key (PEM) */
    const char *trusted_ca_file;  /* CAs peers' certificates must chain to; as
                                   * etcd, setting it also makes the server
                                   * demand a client certificate */
    bool client_cert_auth;        /* server: demand and verify client certs */
    const char *allowed_cn;       /* peer certificate's CN must be exactly this */
    const char *allowed_hostname; /* peer certificate must be valid for this
                                   * name or IP (its SANs, as Go's VerifyHostname);
                                   * exclusive with allowed_cn */
    const char *crl_file;         /* PEM CRL: certificates it revokes are refused */
    const char *cipher_suites;    /* comma-separated IANA names (etcd's
                                   * --cipher-suites); NULL: OpenSSL's defaults */
    const char *min_version;      /* "TLS1.2" (default) or "TLS1.3" */
    const char *max_version;      /* "TLS1.2" or "TLS1.3" (default) */
} rh_tls_config;

/* Zero is the default of every field. Structs grow only at their end:
 * struct_size is sizeof the struct as the caller was compiled (set it to
 * sizeof(rh_transport_config), or leave 0 for the 0.1 layout), and the
 * library reads no field beyond it, so a program built against an older
 * header keeps working with a newer library. */
typedef struct rh_transport_config {
    size_t struct_size;           /* sizeof(rh_transport_config), or 0 (0.1) */
    uint64_t id;                  /* local member ID */
    uint64_t cluster_id;          /* cluster ID */
    const char *const *listen;    /* URLs to serve on (http:// or https://host:port) */
    size_t n_listen;
    const char *const *advertise; /* URLs sent in X-PeerURLs (default: listen) */
    size_t n_advertise;
    const char *server_version;   /* X-Server-Version, default "3.4.23" */
    const char *min_cluster_version; /* X-Min-Cluster-Version, default "3.0.0" */
    int dial_timeout_ms;          /* default 1000 */
    int dial_retry_ms;            /* minimum gap between stream redials, default 100 */
    size_t queue_bytes;           /* byte bound of each peer's queues (writer and
                                   * receive); one message always fits an empty
                                   * queue. Default RH_DEFAULT_QUEUE_BYTES */
    uint64_t max_frame;           /* stream frame limit, default 512 MiB */
    size_t max_head;              /* request head limit (431 above), default 64 KiB */
    int head_timeout_ms;          /* request head must be complete within, default 10000 */
    int handshake_timeout_ms;     /* an accepted TLS handshake must be complete
                                   * within, default 10000; the head deadline
                                   * starts after it */
    size_t max_handshakes;        /* accepted TLS handshakes in flight; more
                                   * wait in the listen backlog. Default 64 */
    uint64_t max_body;            /* POST /raft body limit (413 above), default 512 MiB */
    int probe_interval_ms;        /* GET /raft/probing per peer, default 4000
                                   * (etcd's ConnReadTimeout - 1 s); < 0: no prober */
    bool no_metrics;              /* do not serve GET /metrics (404) */
    size_t max_conns;             /* accepted connections not yet streams (requests,
                                   * kept-alive pipeline and probe connections);
                                   * more wait in the listen backlog. Default
                                   * (0): 1024, or 8 per peer and remote + 64 when
                                   * that is more */
    const char *members_json;     /* body of GET /members (etcd's member list,
                                   * copied); NULL: /members is 404 */
    const char *snap_dir;         /* where received snapshot bodies go; NULL: refused (500) */
    rh_raft raft;                 /* required: process */
    int delivery;                 /* rh_delivery_mode, default RH_DELIVER_ON_THREAD */
    void (*on_event)(void *ctx, const rh_event *ev); /* optional, loop thread */
    bool trace_sent;              /* emit RH_EV_SENT once a frame left for the socket */
    const rh_tls_config *tls;     /* for https:// URLs; NULL or cert_file unset:
                                   * no TLS. Copied by rh_transport_new */
    void *event_ctx;
    rh_log_fn log;                /* optional: the transport's log lines (log.h);
                                   * NULL: standard error */
    void *log_ctx;
    int log_level;                /* rh_log_level: lines below it are not made;
                                   * 0: RH_LOG_INFO */
    /* beyond the 0.1 layout (read only when struct_size covers it) */
    int busy_poll_us;             /* after the loop woke from a short wait
                                   * (under 500 µs), poll without sleeping
                                   * this long before it sleeps again: a
                                   * round trip finds it awake (the idea of
                                   * Linux's SO_BUSY_POLL). Costs CPU: up to
                                   * a core per loop while traffic is steady;
                                   * best with RH_DELIVER_ON_LOOP. 0 (the
                                   * default): off */
} rh_transport_config;

/* Returns NULL with a message in err (if given) on a bad config or a port
 * that cannot be bound (listening starts here, so callers learn at once). */
RH_API rh_transport *rh_transport_new(const rh_transport_config *cfg, char *err, size_t errlen);
/* Starts the loop and delivery threads. 0 or a negative errno. */
RH_API int rh_transport_start(rh_transport *t);
/* Stops everything, joins the threads and frees t. Safe with traffic in flight. */
RH_API void rh_transport_free(rh_transport *t);

/* The port a listen URL actually bound (useful with port 0), 0 if none. */
RH_API int rh_transport_listen_port(const rh_transport *t, size_t i);

RH_API int rh_transport_add_peer(rh_transport *t, uint64_t id, const char *const *urls, size_t n);
RH_API int rh_transport_remove_peer(rh_transport *t, uint64_t id);
RH_API int rh_transport_remove_all_peers(rh_transport *t);
RH_API int rh_transport_update_peer(rh_transport *t, uint64_t id, const char *const *urls, size_t n);
RH_API int rh_transport_add_remote(rh_transport *t, uint64_t id, const char *const *urls, size_t n);

/* Copies msgs and queues them; messages to 0 are ignored, to unknown IDs
 * logged at debug level and dropped. */
RH_API int rh_transport_send(rh_transport *t, const rh_msg *msgs, size_t n);
/* rh_transport_send without the copy of large entry data: entries whose
 * data is RH_SCATTER_REF_MIN (256) bytes or more are referenced, written to
 * the socket from where they are (a Raft log's entries do not change once
 * appended). The caller keeps that data valid and unchanged until done(arg)
 * runs: once, on any thread (usually the loop's, possibly before this
 * returns), when the transport no longer refers to any of it: written,
 * dropped or failed. done runs on failure too. NULL done: nothing is
 * called. Everything else is copied, as rh_transport_send does. */
RH_API int rh_transport_send_ref(rh_transport *t, const rh_msg *msgs, size_t n,
                          void (*done)(void *arg), void *arg);

/* Sends MsgSnap m (copied) with a body of size bytes read from fd, which
 * the transport owns from now on (it closes it), as `POST /raft/snapshot`.
 * fd may be a regular file, or a pipe or socket the application streams the
 * body into as it produces it (read when readable; 30 s without data fails
 * the send). The outcome arrives as report_snapshot(finished) (and
 * report_unreachable on failure). */
RH_API int rh_transport_send_snapshot(rh_transport *t, const rh_msg *m, int fd, uint64_t size);

RH_API void rh_transport_cut_peer(rh_transport *t, uint64_t id);
RH_API void rh_transport_mend_peer(rh_transport *t, uint64_t id);
RH_API void rh_transport_pause(rh_transport *t);
RH_API void rh_transport_resume(rh_transport *t);

/* Status snapshot, filled on the loop thread. */
typedef struct rh_peer_status {
    uint64_t id;
    bool active;
    int64_t active_since_ns; /* CLOCK_REALTIME ns, 0 when inactive */
    char urls[512];          /* comma-separated */
    unsigned streams;        /* stream connections up: writers to the peer plus
                              * readers from it, 0 to 4 (both kinds both ways) */
} rh_peer_status;

/* Fills up to max entries, returns the number of peers. */
RH_API size_t rh_transport_status(rh_transport *t, rh_peer_status *out, size_t max);
/* CLOCK_REALTIME ns since the peer became active; 0 when not active. */
RH_API int64_t rh_transport_active_since(rh_transport *t, uint64_t id);
RH_API size_t rh_transport_active_peers(rh_transport *t);

/* Prometheus text of the transport's metrics into buf (from any thread:
 * the loop thread renders it); returns the length
 * it needs (may exceed cap: then call again with more). */
RH_API size_t rh_transport_metrics(rh_transport *t, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
