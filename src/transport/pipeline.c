/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline: the sending side of `POST /raft`, one message per request.
 *
 * etcd uses it for MsgSnap and for anything sent while no stream to the peer
 * is attached. As etcd: a queue of 64 messages, up to 4 connections working
 * in parallel (kept alive between requests when the server allows), 204
 * expected. Success activates the peer (and reports a MsgSnap finished);
 * failure deactivates it, reports it unreachable (and a MsgSnap failed). A
 * 403 is etcd's "member removed"; 412 bodies name the mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "transport/peer.h"

#define RH_PIPELINE_IDLE_MS 5000 /* an idle kept-alive connection is closed after */

static void conn_drop(pipe_conn *c)
{
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    c->state = PC_DOWN;
}

static void finish_msg(pipe_conn *c, bool okay, const char *why)
{
    pipeline *pl = c->pl;
    peer *p = pl->p;
    rh_transport *t = p->t;
    rh_msg *m = c->m;
    c->m = NULL;
    if (!m)
        return;
    if (okay) {
        p->st->sent_bytes += c->body_len;
        rhi_peer_activate(p);
        rhi_peer_emit(p, RH_EV_SENT, m->type, "pipeline", NULL);
        if (m->type == RH_MSG_SNAP)
            rhi_report_snapshot(t, m->to, true);
    } else {
        p->st->sent_failures++;
        rhi_peer_deactivate(p, "pipeline", "write", why);
        rhi_report_unreachable(t, m->to);
        if (m->type == RH_MSG_SNAP)
            rhi_report_snapshot(t, m->to, false);
    }
    rhi_tmsg_free(m);
}

static void conn_fail(pipe_conn *c, const char *why)
{
    rh_logp(RH_LOG_WARN, c->pl->p->id, "pipeline to peer %llx: %s",
            (unsigned long long)c->pl->p->id, why);
    conn_drop(c);
    finish_msg(c, false, why);
    rhi_pipeline_pump(c->pl);
}

static void write_request(pipe_conn *c)
{
    pipeline *pl = c->pl;
    peer *p = pl->p;
    rh_transport *t = p->t;
    char len[32];
    c->body_len = rh_msg_size(c->m);
    snprintf(len, sizeof(len), "%zu", c->body_len);
    rh_http_header h[] = {
        rh_http_header_make("Content-Type", "application/protobuf"),
        rh_http_header_make("Content-Length", len),
    };
    char head[2048];
    size_t hl = rhi_client_request_head(t, head, sizeof(head), "POST", RH_HTTP_PATH_RAFT,
                                       p->urls[c->url % p->n_urls], h, 2);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer_iovec v;
    if (hl == 0 || hl > sizeof(head) ||
        evbuffer_reserve_space(out, (ev_ssize_t)(hl + c->body_len), &v, 1) < 1) {
        conn_fail(c, "cannot build the request");
        return;
    }
    memcpy(v.iov_base, head, hl);
    rh_msg_encode(c->m, (uint8_t *)v.iov_base + hl);
    v.iov_len = hl + c->body_len;
    evbuffer_commit_space(out, &v, 1);
    rh_http_parser_init(&c->hp, c->hdrs, sizeof(c->hdrs) / sizeof(c->hdrs[0]), 0);
    c->state = PC_WAIT;
    struct timeval rt = {RH_CONN_READ_TIMEOUT_MS / 1000, 0};
    struct timeval wt = {RH_CONN_WRITE_TIMEOUT_MS / 1000, 0};
    bufferevent_set_timeouts(c->bev, &rt, &wt);
}

/* A complete response (head parsed, body of body_len bytes in body). */
static void handle_response(pipe_conn *c, const char *body, size_t n)
{
    int status = c->status;
    peer *p = c->pl->p;
    if (status == 204) {
        finish_msg(c, true, NULL);
    } else if (status == 403) {
        rh_logp(RH_LOG_ERROR, p->id, "peer %llx says this member was removed from the cluster",
                (unsigned long long)p->id);
        rhi_peer_emit(p, RH_EV_CRITICAL, 0, NULL, "member removed");
        finish_msg(c, false, "member removed");
    } else {
        char why[256];
        while (n && (body[n - 1] == '\n' || body[n - 1] == '\r'))
            n--;
        if (status == 412 && ((n == 20 && !memcmp(body, "incompatible version", 20)) ||
                              (n == 19 && !memcmp(body, "cluster ID mismatch", 19))))
            snprintf(why, sizeof(why), "%.*s", (int)n, body);
        else
            snprintf(why, sizeof(why), "unexpected http status %d: %.*s", status,
                     (int)(n > 100 ? 100 : n), body);
        rh_logp(RH_LOG_WARN, p->id, "pipeline to peer %llx: %s", (unsigned long long)p->id, why);
        finish_msg(c, false, why);
    }
    if (c->keep_alive) {
        /* idle: dropped before a server's idle limit (ours closes at its
         * head deadline, 10 s by default) can race a new request */
        c->state = PC_IDLE;
        struct timeval idle = {RH_PIPELINE_IDLE_MS / 1000, (RH_PIPELINE_IDLE_MS % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, &idle, NULL);
    } else {
        conn_drop(c);
    }
    rhi_pipeline_pump(c->pl);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    pipe_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == PC_WAIT) {
        rh_err err;
        int rc = rhi_client_response_head(bev, &c->hp, &c->resp, &err);
        if (rc < 0) {
            conn_fail(c, err.msg);
            return;
        }
        if (rc == 0)
            return;
        rh_http_body body;
        c->status = c->resp.status;
        c->keep_alive = rh_http_keep_alive(c->resp.minor_version, c->resp.headers,
                                           c->resp.num_headers);
        if (rh_http_response_body(&c->resp, false, &body, &err) != 0 ||
            body.kind == RH_HTTP_BODY_CHUNKED || body.kind == RH_HTTP_BODY_UNTIL_CLOSE ||
            body.length > 4096) {
            /* etcd answers with small fixed bodies; anything else is odd:
             * take the status, do not reuse the connection */
            evbuffer_drain(in, (size_t)rc);
            c->keep_alive = false;
            handle_response(c, "", 0);
            return;
        }
        evbuffer_drain(in, (size_t)rc);
        c->body_left = body.length;
        c->state = PC_BODY;
    }
    if (c->state == PC_BODY) {
        if (evbuffer_get_length(in) < c->body_left)
            return;
        char body[4097];
        size_t n = (size_t)c->body_left;
        evbuffer_remove(in, body, n);
        handle_response(c, body, n);
        return;
    }
    /* PC_IDLE: a keep-alive connection has nothing to read; discard */
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    pipe_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        rh_socket_tune(bufferevent_getfd(bev));
        write_request(c);
        return;
    }
    if (c->state == PC_IDLE) { /* the server closed an idle keep-alive conn */
        conn_drop(c);
        return;
    }
    char why[700], text[600];
    snprintf(why, sizeof(why), "post %s: %s", c->pl->p->urls[c->url % c->pl->p->n_urls],
             rhi_conn_event_text(c->pl->p->t, bev, what, c->pl->p->id, text, sizeof(text)));
    if (c->state == PC_CONNECTING && c->pl->p->n_urls > 1 &&
        c->url % c->pl->p->n_urls == c->pl->p->pick)
        c->pl->p->pick = (c->pl->p->pick + 1) % c->pl->p->n_urls; /* URL failover */
    conn_fail(c, why);
}

static void conn_start(pipe_conn *c)
{
    peer *p = c->pl->p;
    if (c->state == PC_IDLE) {
        write_request(c);
        return;
    }
    c->url = p->pick;
    c->state = PC_CONNECTING;
    char err[300];
    c->bev = rhi_conn_dial(p->t, p->urls[c->url % p->n_urls], on_read, NULL, on_event, c, err,
                     sizeof(err));
    if (!c->bev) {
        c->state = PC_DOWN;
        finish_msg(c, false, err);
    }
}

void rhi_pipeline_pump(pipeline *pl)
{
    if (pl->pumping)
        return; /* finish_msg callbacks may re-enter */
    pl->pumping = true;
    for (int i = 0; i < RH_PIPELINE_CONNS && pl->q.len && pl->p->n_urls; i++) {
        pipe_conn *c = &pl->conns[i];
        if (c->state != PC_DOWN && c->state != PC_IDLE)
            continue;
        c->m = rhi_msgq_pop(&pl->q);
        conn_start(c);
    }
    pl->pumping = false;
}

void rhi_pipeline_init(pipeline *pl, peer *p)
{
    memset(pl, 0, sizeof(*pl));
    pl->p = p;
    rhi_msgq_init(&pl->q, RH_PIPELINE_BUF_SIZE, p->t->cfg.queue_bytes);
    for (int i = 0; i < RH_PIPELINE_CONNS; i++) {
        pl->conns[i].pl = pl;
        pl->conns[i].state = PC_DOWN;
    }
}

void rhi_pipeline_send(pipeline *pl, rh_msg *m, size_t size)
{
    peer *p = pl->p;
    if (!rhi_msgq_push(&pl->q, m, size)) {
        char why[96];
        snprintf(why, sizeof(why), "pipeline queue full (%d messages)", RH_PIPELINE_BUF_SIZE);
        rhi_peer_msg_failed(p, m, "pipeline", why);
        rhi_tmsg_free(m);
        return;
    }
    rhi_pipeline_pump(pl);
}

void rhi_pipeline_free(pipeline *pl)
{
    for (int i = 0; i < RH_PIPELINE_CONNS; i++) {
        conn_drop(&pl->conns[i]);
        if (pl->conns[i].m) {
            rhi_tmsg_free(pl->conns[i].m);
            pl->conns[i].m = NULL;
        }
    }
    rhi_msgq_free(&pl->q);
}
