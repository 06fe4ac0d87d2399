/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer: one member we send to, and the channels that carry it (etcd's peer
 * and remote).
 *
 * Owns: its URLs, its two stream writers and two stream readers, its
 * pipeline and its two probers, and every message queued in them. Not its
 * metrics row (the transport's: it outlives the peer) nor its place in the
 * transport's peers list (the transport links and unlinks; rhi_peer_destroy
 * frees what the peer owns once it is unlinked).
 *
 * The channels report up through their peer (status, events, failed sends,
 * received messages, the application's report_* callbacks), never into
 * transport.c; they read the transport's config and dial through the
 * connection layer (conn.h). Loop thread only (teardown in
 * rh_transport_free runs after the loop has stopped).
 */
#ifndef RH_TRANSPORT_PEER_H
#define RH_TRANSPORT_PEER_H

#include "transport/internal.h"

struct peer {
    rh_transport *t;
    uint64_t id;
    char **urls;              /* owned strings */
    size_t n_urls;
    size_t pick;              /* URL in use (the picker) */
    bool remote;              /* a remote: pipeline only, not a peer (etcd's remote) */
    bool paused;              /* cut or transport paused: drop both ways */
    bool active;              /* peer status */
    int64_t active_since_ns;  /* CLOCK_REALTIME */
    stream_writer w[2];       /* by rh_stream_kind */
    stream_reader r[2];
    pipeline pl;              /* POST /raft sender */
    prober probe[2];          /* etcd's pipeline and stream probers (peers only) */
    struct peer *next;        /* the transport's list */
    peer_stats *st;           /* metrics row, the transport's */
};

/* ---- lifecycle ---- */

/* A peer (or remote) of id with its channels set up, not linked and not
 * started. Takes urls (n owned strings), also on failure; NULL when out of
 * memory. */
peer *rhi_peer_new(rh_transport *t, uint64_t id, char **urls, size_t n, bool remote);
/* Starts dialing its streams and its probers; a remote only sends, by
 * pipeline, and starts nothing. */
void rhi_peer_start(peer *p);
/* Stops its channels and frees it; the caller has unlinked it. */
void rhi_peer_destroy(peer *p);
/* New URLs (taken), first picked again; the probers restart on them. */
void rhi_peer_update_urls(peer *p, char **urls, size_t n);
/* Cut or mended, paused or resumed: a paused peer drops both ways. */
void rhi_peer_set_paused(peer *p, bool paused);

/* ---- status and events, for its channels ---- */

void rhi_peer_activate(peer *p);
void rhi_peer_deactivate(peer *p, const char *source, const char *action, const char *why);
/* A stream attached or went away (coalesced status refresh). */
void rhi_peer_streams_changed(peer *p);
/* The application's on_event, about this peer. */
void rhi_peer_emit(peer *p, int kind, int32_t type, const char *via, const char *text);
/* m (still the caller's) was dropped before it could go out, on via:
 * logged, counted, RH_EV_DROPPED, the peer reported unreachable and a
 * MsgSnap reported failed. */
void rhi_peer_msg_failed(peer *p, const rh_msg *m, const char *via, const char *why);

/* The application's report_unreachable / report_snapshot, when it gave
 * them (etcd's Raft.ReportUnreachable, ReportSnapshot): id is the peer's,
 * which the snapshot sender may know only by its ID. */
void rhi_report_unreachable(rh_transport *t, uint64_t id);
void rhi_report_snapshot(rh_transport *t, uint64_t id, bool finished);

/* ---- messages ---- */

/* Sends m (taken, m->to == p->id) by the channel etcd's picker would use. */
void rhi_peer_send(peer *p, rh_msg *m);
/* Hands n owned messages read from p to the application; drops (and
 * reports) what the delivery queues refuse. */
void rhi_peer_route_received(peer *p, rh_msg **batch, const uint64_t *sizes, const char **via,
                         size_t n);

/* ---- lookup in the transport's list ---- */

peer *rhi_peers_find(rh_transport *t, uint64_t id);   /* peers, not remotes */
peer *rhi_remotes_find(rh_transport *t, uint64_t id);

#endif
