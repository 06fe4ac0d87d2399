/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prober: etcd's health probes of a peer, GET /raft/probing every
 * probe_interval_ms (ConnReadTimeout - 1 s), on a kept-alive connection of
 * its own. etcd runs two per peer, one on each of its round-trippers (the
 * pipeline's and the streams'); a peer here has two as well, so a member
 * probed by C sees the same traffic as one probed by etcd.
 *
 * Status follows the probing library etcd uses: health is the last probe's
 * outcome, the RTT is smoothed with alpha 1/8, a failure moves on to the
 * peer's next URL. A monitor looks at the status 5 s after the start, then
 * every 30 s while healthy and every 5 s while not (in proportion when the
 * probe interval is not 4 s); each look feeds the
 * smoothed RTT to etcd_network_peer_round_trip_time_seconds{To} (so two
 * observations per look, one per prober, as in etcd). Unhealthy peers and a
 * clock drift over 1 s are logged (when they start or their error changes,
 * rather than at every look: a dead peer does not fill the log).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "json/json.h"
#include "transport/peer.h"

/* etcd's statusErrorInterval (5 s) and statusMonitoringInterval (30 s),
 * kept in proportion to the probe interval (4 s) when a test shortens it */
#define FIRST_CHECK_MS(pr) ((pr)->p->t->cfg.probe_interval_ms * 5 / 4)
#define HEALTHY_CHECK_MS(pr) ((pr)->p->t->cfg.probe_interval_ms * 15 / 2)
#define MAX_BODY 4096          /* {"OK":true,"Now":"..."} is ~60 bytes */
#define MAX_DRIFT_NS 1000000000LL

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void arm(struct event *ev, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(ev, &tv);
}

static void drop_conn(prober *pr)
{
    if (pr->bev) {
        bufferevent_free(pr->bev);
        pr->bev = NULL;
    }
    pr->state = PR_IDLE;
}

static void record_failure(prober *pr, const char *why)
{
    peer *p = pr->p;
    pr->total++;
    pr->loss++;
    pr->healthy = false;
    if (strcmp(pr->err, why) != 0) {
        snprintf(pr->err, sizeof(pr->err), "%s", why);
        rh_logp(RH_LOG_DEBUG, p->id, "probe of peer %llx (%s): %s", (unsigned long long)p->id,
                pr->name, why);
    }
    drop_conn(pr);
    if (p->n_urls)
        pr->pinned = (pr->pinned + 1) % p->n_urls;
}

/* Go's time.Time JSON: RFC 3339 with optional fraction, Z or +hh:mm. */
static bool parse_rfc3339(const char *s, size_t n, int64_t *ns)
{
    int f[6];
    static const int at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
    static const char sep[6] = {'-', '-', 'T', ':', ':', 0};
    if (n < 20)
        return false;
    for (int k = 0; k < 6; k++) {
        f[k] = 0;
        for (int i = 0; i < len[k]; i++) {
            char c = s[at[k] + i];
            if (c < '0' || c > '9')
                return false;
            f[k] = f[k] * 10 + (c - '0');
        }
        if (sep[k] && s[at[k] + len[k]] != sep[k] && !(k == 2 && s[at[k] + len[k]] == 't'))
            return false;
    }
    size_t i = 19;
    int64_t frac = 0;
    int digits = 0;
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (digits < 9) {
                frac = frac * 10 + (s[i] - '0');
                digits++;
            }
        if (digits == 0)
            return false;
        while (digits < 9) {
            frac *= 10;
            digits++;
        }
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int hh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        int mm = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
        off = (int64_t)(hh * 3600 + mm * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    /* days since 1970-01-01 in the proleptic Gregorian calendar */
    int64_t y = f[0] - (f[1] <= 2), m = f[1];
    int64_t era = y / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + f[2] - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    int64_t secs = days * 86400 + f[3] * 3600 + f[4] * 60 + f[5];
    *ns = (secs - off) * 1000000000LL + frac;
    return true;
}

/* A complete 200 body: {"OK":true,"Now":"<time>"}. */
static void on_body(prober *pr, const char *body, size_t n)
{
    int64_t rtt = mono_ns() - pr->start_ns;
    rh_json_parser jp;
    rh_json_parser_init(&jp, MAX_BODY, 0);
    const rh_json *root = NULL;
    const rh_json *okv = NULL, *nowv = NULL;
    int64_t when = 0;
    bool good = rh_json_parse(&jp, body, n, &root, NULL) == 0 &&
                (okv = rh_json_get(root, "OK")) != NULL && okv->type == RH_JSON_TRUE &&
                (nowv = rh_json_get(root, "Now")) != NULL && nowv->type == RH_JSON_STRING &&
                parse_rfc3339(nowv->s, nowv->n, &when);
    rh_json_parser_free(&jp);
    if (!good) {
        record_failure(pr, "probing: bad answer (want {\"OK\":true,\"Now\":...})");
        return;
    }
    pr->total++;
    pr->healthy = true;
    pr->err[0] = 0;
    pr->srtt_ns = (int64_t)(0.875 * (double)pr->srtt_ns + 0.125 * (double)rtt);
    pr->clockdiff_ns = rh_realtime_ns() - when - pr->srtt_ns / 2;
    if (pr->keep_alive) {
        pr->state = PR_IDLE;
        bufferevent_set_timeouts(pr->bev, NULL, NULL);
    } else {
        drop_conn(pr);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    prober *pr = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (pr->state == PR_WAIT) {
        rh_err err;
        int rc = rhi_client_response_head(bev, &pr->hp, &pr->resp, &err);
        if (rc < 0) {
            record_failure(pr, err.msg);
            return;
        }
        if (rc == 0)
            return;
        if (pr->resp.status != 200) {
            char why[96];
            snprintf(why, sizeof(why), "got unexpected HTTP status code %d from %s",
                     pr->resp.status, pr->p->urls[pr->url % pr->p->n_urls]);
            record_failure(pr, why);
            return;
        }
        rh_http_body body;
        if (rh_http_response_body(&pr->resp, false, &body, &err) != 0 ||
            body.kind != RH_HTTP_BODY_LENGTH || body.length > MAX_BODY) {
            record_failure(pr, "probing: answer without a short Content-Length body");
            return;
        }
        pr->keep_alive = rh_http_keep_alive(pr->resp.minor_version, pr->resp.headers,
                                            pr->resp.num_headers);
        evbuffer_drain(in, (size_t)rc);
        pr->body_left = body.length;
        pr->state = PR_BODY;
    }
    if (pr->state == PR_BODY) {
        if (evbuffer_get_length(in) < pr->body_left)
            return;
        char body[MAX_BODY];
        size_t n = (size_t)pr->body_left;
        evbuffer_remove(in, body, n);
        on_body(pr, body, n);
        return;
    }
    evbuffer_drain(in, evbuffer_get_length(in)); /* idle: nothing expected */
}

static void send_probe(prober *pr)
{
    peer *p = pr->p;
    char head[2048];
    size_t hl = rhi_client_request_head(p->t, head, sizeof(head), "GET", RH_HTTP_PATH_PROBING,
                                       p->urls[pr->url % p->n_urls], NULL, 0);
    if (hl == 0 || hl > sizeof(head)) {
        record_failure(pr, "cannot build the probe request");
        return;
    }
    rh_bev_send(pr->bev, head, hl, NULL);
    rh_http_parser_init(&pr->hp, pr->hdrs, sizeof(pr->hdrs) / sizeof(pr->hdrs[0]), 0);
    struct timeval rt = {RH_CONN_READ_TIMEOUT_MS / 1000, 0};
    struct timeval wt = {RH_CONN_WRITE_TIMEOUT_MS / 1000, 0};
    bufferevent_set_timeouts(pr->bev, &rt, &wt);
    pr->state = PR_WAIT;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    prober *pr = arg;
    if (what & BEV_EVENT_CONNECTED) {
        rh_socket_tune(bufferevent_getfd(bev));
        send_probe(pr);
        return;
    }
    if (pr->state == PR_IDLE) { /* the server closed the idle connection */
        drop_conn(pr);
        return;
    }
    char why[700], text[600];
    snprintf(why, sizeof(why), "probe %s: %s", pr->p->urls[pr->url % pr->p->n_urls],
             rhi_conn_event_text(pr->p->t, bev, what, pr->p->id, text, sizeof(text)));
    record_failure(pr, why);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    prober *pr = arg;
    peer *p = pr->p;
    if (pr->state != PR_IDLE || p->n_urls == 0)
        return; /* the last probe is still out: skip a beat, as a Go ticker does */
    pr->start_ns = mono_ns();
    pr->pinned %= p->n_urls;
    if (pr->bev && pr->url == pr->pinned) {
        send_probe(pr);
        return;
    }
    drop_conn(pr);
    pr->url = pr->pinned;
    char err[300];
    pr->bev = rhi_conn_dial(p->t, p->urls[pr->url], on_read, NULL, on_event, pr, err, sizeof(err));
    if (!pr->bev) {
        record_failure(pr, err);
        return;
    }
    pr->state = PR_CONNECTING;
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    prober *pr = arg;
    peer *p = pr->p;
    if (!pr->healthy && pr->total > 0) { /* not before the first probe is back */
        const char *why = pr->err[0] ? pr->err : "no answer yet";
        if (strcmp(pr->warned, why) != 0) { /* once per distinct error */
            rh_logp(RH_LOG_WARN, p->id, "peer %llx is unhealthy to the %s prober: %s",
                    (unsigned long long)p->id, pr->name, why);
            snprintf(pr->warned, sizeof(pr->warned), "%s", why);
        }
        arm(pr->check, FIRST_CHECK_MS(pr));
    } else if (!pr->healthy) {
        arm(pr->check, FIRST_CHECK_MS(pr));
    } else {
        if (pr->warned[0]) {
            rh_logp(RH_LOG_INFO, p->id, "peer %llx is healthy again to the %s prober "
                    "(srtt %.3f ms)", (unsigned long long)p->id, pr->name,
                    (double)pr->srtt_ns / 1e6);
            pr->warned[0] = 0;
        }
        arm(pr->check, HEALTHY_CHECK_MS(pr));
    }
    if (pr->clockdiff_ns > MAX_DRIFT_NS || pr->clockdiff_ns < -MAX_DRIFT_NS)
        rh_logp(RH_LOG_WARN, p->id, "clock of peer %llx differs from ours by %.3f s (%s prober)",
                (unsigned long long)p->id, (double)pr->clockdiff_ns / 1e9, pr->name);
    rhi_hist_observe(&p->st->rtt, RH_HIST_RTT, (double)pr->srtt_ns / 1e9);
}

void rhi_prober_start(prober *pr, peer *p, const char *name)
{
    memset(pr, 0, sizeof(*pr));
    pr->p = p;
    pr->name = name;
    pr->state = PR_IDLE;
    pr->tick = event_new(p->t->base, -1, EV_PERSIST, on_tick, pr);
    pr->check = evtimer_new(p->t->base, on_check, pr);
    if (!pr->tick || !pr->check) {
        rh_logp(RH_LOG_ERROR, p->id, "prober for peer %llx: out of memory",
                (unsigned long long)p->id);
        rhi_prober_stop(pr);
        return;
    }
    arm(pr->tick, p->t->cfg.probe_interval_ms);
    arm(pr->check, FIRST_CHECK_MS(pr));
}

void rhi_prober_stop(prober *pr)
{
    drop_conn(pr);
    if (pr->tick) {
        event_free(pr->tick);
        pr->tick = NULL;
    }
    if (pr->check) {
        event_free(pr->check);
        pr->check = NULL;
    }
}
