/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer: one member's channels, its status and the routing of its messages.
 *
 * A peer has two stream writers (attached when the member dials us), two
 * stream readers (we dial it), a pipeline and two probers; a remote (a
 * member learned from the wire or added as a remote) sends by its pipeline
 * only and starts nothing else.
 * The transport owns the list the peers are on and calls in here for each
 * one; the channels report status, events and drops here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/peer.h"

/* ---- lifecycle ------------------------------------------------------------ */

static int url_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* etcd's types.NewURLs sorts a member's URLs; its picker starts at the
 * first, so both sides dial the same URL first whatever order was given. */
static void sort_urls(char **v, size_t n)
{
    if (v && n > 1)
        qsort(v, n, sizeof(*v), url_cmp);
}

/* etcd probes each peer through both of its round-trippers */
static void start_probers(peer *p)
{
    if (p->t->cfg.probe_interval_ms < 0)
        return;
    rhi_prober_start(&p->probe[0], p, "ROUND_TRIPPER_SNAPSHOT");
    rhi_prober_start(&p->probe[1], p, "ROUND_TRIPPER_RAFT_MESSAGE");
}

peer *rhi_peer_new(rh_transport *t, uint64_t id, char **urls, size_t n, bool remote)
{
    peer *p = calloc(1, sizeof(*p));
    peer_stats *st = rhi_transport_stats(t, id);
    if (!p || !st) {
        free(p);
        rh_strv_free(urls, n);
        return NULL;
    }
    p->st = st;
    p->t = t;
    p->id = id;
    sort_urls(urls, n);
    p->urls = urls;
    p->n_urls = n;
    p->paused = false; /* etcd: Pause() affects the peers it finds, not later ones */
    for (int k = 0; k < 2; k++) {
        rhi_writer_init(&p->w[k], p, k);
        rhi_reader_init(&p->r[k], p, k);
    }
    rhi_pipeline_init(&p->pl, p);
    p->remote = remote;
    return p;
}

void rhi_peer_start(peer *p)
{
    if (p->remote)
        return;
    for (int k = 0; k < 2; k++)
        rhi_reader_start(&p->r[k]);
    start_probers(p);
}

void rhi_peer_destroy(peer *p)
{
    for (int k = 0; k < 2; k++) {
        rhi_reader_stop(&p->r[k]);
        rhi_writer_free(&p->w[k]);
        rhi_prober_stop(&p->probe[k]);
    }
    p->st->active = false;
    rhi_pipeline_free(&p->pl);
    rh_strv_free(p->urls, p->n_urls);
    free(p);
}

void rhi_peer_update_urls(peer *p, char **urls, size_t n)
{
    rh_strv_free(p->urls, p->n_urls);
    sort_urls(urls, n);
    p->urls = urls;
    p->n_urls = n;
    p->pick = 0;
    for (int k = 0; k < 2; k++) /* etcd re-adds the peer to its probers */
        rhi_prober_stop(&p->probe[k]);
    start_probers(p);
    rhi_transport_status_changed(p->t);
}

void rhi_peer_set_paused(peer *p, bool paused)
{
    p->paused = paused;
}

/* ---- status and events ------------------------------------------------------ */

void rhi_peer_emit(peer *p, int kind, int32_t type, const char *via, const char *text)
{
    rhi_transport_emit(p->t, kind, p->id, type, via, text);
}

void rhi_peer_activate(peer *p)
{
    if (p->active)
        return;
    p->active = true;
    p->st->active = true;
    p->active_since_ns = rh_realtime_ns();
    rh_logp(RH_LOG_INFO, p->id, "peer %llx became active", (unsigned long long)p->id);
    rhi_transport_status_changed(p->t);
    rhi_peer_emit(p, RH_EV_PEER_ACTIVE, 0, NULL, NULL);
}

void rhi_peer_deactivate(peer *p, const char *source, const char *action, const char *why)
{
    char reason[512];
    snprintf(reason, sizeof(reason), "failed to %s %llx on %s (%s)", action,
             (unsigned long long)p->id, source, why ? why : "");
    if (!p->active) {
        rh_logp(RH_LOG_DEBUG, p->id, "peer %llx: %s", (unsigned long long)p->id, reason);
        return;
    }
    p->active = false;
    p->st->active = false;
    p->active_since_ns = 0;
    p->st->disconnected++;
    rh_logp(RH_LOG_WARN, p->id, "peer %llx became inactive: %s", (unsigned long long)p->id,
            reason);
    rhi_transport_status_changed(p->t);
    rhi_peer_emit(p, RH_EV_PEER_INACTIVE, 0, NULL, reason);
}

void rhi_peer_streams_changed(peer *p)
{
    rhi_transport_streams_changed(p->t);
}

/* A full send queue, stream or pipeline: the message never left, so raft
 * hears of it as etcd's peer reports a failed send. */
void rhi_peer_msg_failed(peer *p, const rh_msg *m, const char *via, const char *why)
{
    rh_transport *t = p->t;
    rh_logp(RH_LOG_WARN, p->id, "dropped %s to %llx: %s",
            rh_msg_type_name(m->type) ? rh_msg_type_name(m->type) : "message",
            (unsigned long long)p->id, why);
    rhi_peer_emit(p, RH_EV_DROPPED, m->type, via, why);
    p->st->sent_failures++;
    rhi_report_unreachable(t, m->to);
    if (m->type == RH_MSG_SNAP)
        rhi_report_snapshot(t, m->to, false);
}

void rhi_report_unreachable(rh_transport *t, uint64_t id)
{
    if (t->cfg.raft.report_unreachable)
        t->cfg.raft.report_unreachable(t->cfg.raft.ctx, id);
}

void rhi_report_snapshot(rh_transport *t, uint64_t id, bool finished)
{
    if (t->cfg.raft.report_snapshot)
        t->cfg.raft.report_snapshot(t->cfg.raft.ctx, id, finished);
}

/* ---- messages ----------------------------------------------------------------- */

/* etcd's peer.pick: MsgSnap goes by pipeline; MsgApp by the msgappv2 writer
 * when attached; anything by the message writer when attached; else the
 * pipeline. A remote has the pipeline only, and is never paused for it. */
void rhi_peer_send(peer *p, rh_msg *m)
{
    if (p->remote) {
        rhi_pipeline_send(&p->pl, m, rh_msg_size(m));
        return;
    }
    if (p->paused) { /* etcd drops silently; we report it */
        rhi_peer_emit(p, RH_EV_DROPPED, m->type, NULL, "peer paused (cutPeer/pause)");
        rhi_tmsg_free(m);
        return;
    }
    stream_writer *w = NULL;
    if (m->type != RH_MSG_SNAP) {
        if (m->type == RH_MSG_APP && writer_attached(&p->w[RH_STREAM_MSGAPPV2]))
            w = &p->w[RH_STREAM_MSGAPPV2];
        else if (writer_attached(&p->w[RH_STREAM_MESSAGE]))
            w = &p->w[RH_STREAM_MESSAGE];
    }
    if (w) {
        rhi_writer_send(w, m, rh_msg_size(m));
        return;
    }
    rhi_pipeline_send(&p->pl, m, rh_msg_size(m));
}

void rhi_peer_route_received(peer *p, rh_msg **batch, const uint64_t *sizes, const char **via,
                         size_t n)
{
    if (!n)
        return;
    bool accepted[64];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < 64 ? n - done : 64;
        rhi_delivery_push(p->t, p->id, batch + done, sizes ? sizes + done : NULL, via + done, k,
                      accepted);
        for (size_t i = 0; i < k; i++) {
            if (accepted[i])
                continue;
            rh_msg *m = batch[done + i];
            const char *q = m->type == RH_MSG_PROP ? "proposal" : "receive";
            char why[128];
            snprintf(why, sizeof(why), "%s queue full (limits %d messages, %.1f MiB)", q,
                     m->type == RH_MSG_PROP ? RH_MAX_PENDING_PROPOSALS : RH_RECV_BUF_SIZE,
                     (double)p->t->cfg.queue_bytes / (1 << 20));
            if (p->active)
                rh_logp(RH_LOG_WARN, p->id, "dropped %s from %llx: %s",
                        rh_msg_type_name(m->type) ? rh_msg_type_name(m->type) : "message",
                        (unsigned long long)p->id, why);
            p->st->recv_failures++;
            rhi_peer_emit(p, RH_EV_DROPPED, m->type, via[done + i], why);
            rhi_tmsg_free(m);
        }
        done += k;
    }
}

/* ---- lookup ------------------------------------------------------------------- */

peer *rhi_peers_find(rh_transport *t, uint64_t id)
{
    for (peer *p = t->peers; p; p = p->next)
        if (p->id == id && !p->remote)
            return p;
    return NULL;
}

peer *rhi_remotes_find(rh_transport *t, uint64_t id)
{
    for (peer *p = t->peers; p; p = p->next)
        if (p->id == id && p->remote)
            return p;
    return NULL;
}
