/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metrics: per member ID rows (peer_stats) and their Prometheus text under
 * etcd's rafthttp metric names, labels and histogram buckets, so dashboards
 * made for etcd read a C member unchanged.
 *
 * Everything here runs on the loop thread, which owns the rows; other
 * threads ask for the text through rh_transport_metrics (a command).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/internal.h"
#include "transport/tls.h"

/* Bucket bounds as etcd declares them (prometheus.ExponentialBuckets), with
 * the `le` text Go's exposition prints for each. */
static const struct {
    size_t n;
    double bound[16];
    const char *le[16];
} buckets[] = {
    [RH_HIST_RTT] = {16, /* 0.0001 s doubling: 100 us .. 3.3 s */
                     {0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256,
                      0.0512, 0.1024, 0.2048, 0.4096, 0.8192, 1.6384, 3.2768},
                     {"0.0001", "0.0002", "0.0004", "0.0008", "0.0016", "0.0032", "0.0064",
                      "0.0128", "0.0256", "0.0512", "0.1024", "0.2048", "0.4096", "0.8192",
                      "1.6384", "3.2768"}},
    [RH_HIST_SNAPSHOT] = {10, /* 0.1 s doubling: 100 ms .. 51 s */
                          {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2},
                          {"0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "6.4", "12.8", "25.6",
                           "51.2"}},
};

void rhi_hist_observe(rh_hist *h, int kind, double v)
{
    size_t i = 0;
    while (i < buckets[kind].n && v > buckets[kind].bound[i])
        i++;
    if (i < buckets[kind].n)
        h->counts[i]++;
    h->n++;
    h->sum += v;
}

peer_stats *rhi_transport_stats_find(rh_transport *t, uint64_t id)
{
    for (peer_stats *st = t->stats; st; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

peer_stats *rhi_transport_stats(rh_transport *t, uint64_t id)
{
    peer_stats *st = rhi_transport_stats_find(t, id);
    if (st)
        return st;
    st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->id = id;
    /* kept in ID order: stable, readable output */
    peer_stats **pp = &t->stats;
    while (*pp && (*pp)->id < id)
        pp = &(*pp)->next;
    st->next = *pp;
    *pp = st;
    return st;
}

/* ---- Prometheus text ---------------------------------------------------------- */

typedef struct out {
    char *buf;
    size_t cap, n; /* n counts every byte, also past cap (the size needed) */
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->buf && o->n < o->cap ? o->cap - o->n : 0;
    int w = vsnprintf(room ? o->buf + o->n : NULL, room, fmt, ap);
    va_end(ap);
    if (w > 0)
        o->n += (size_t)w;
}

enum { M_COUNTER, M_GAUGE, M_HIST };
static const char *const type_name[] = {"counter", "gauge", "histogram"};

/* One family per row of this table: name, label, help, kind and where the
 * value lives in a peer_stats. */
typedef struct family {
    const char *name, *label, *help;
    int kind;
    size_t off;   /* offsetof the value (uint64_t, int64_t or rh_hist) */
    int hist;     /* RH_HIST_* for histograms */
    bool signed_; /* int64_t gauge */
} family;

#define U64(f) offsetof(peer_stats, f)
static const family families[] = {
    {"etcd_network_peer_sent_bytes_total", "To", "The total number of bytes sent to peers.",
     M_COUNTER, U64(sent_bytes), 0, false},
    {"etcd_network_peer_received_bytes_total", "From",
     "The total number of bytes received from peers.", M_COUNTER, U64(recv_bytes), 0, false},
    {"etcd_network_peer_sent_failures_total", "To",
     "The total number of send failures from peers.", M_COUNTER, U64(sent_failures), 0, false},
    {"etcd_network_peer_received_failures_total", "From",
     "The total number of receive failures from peers.", M_COUNTER, U64(recv_failures), 0,
     false},
    {"etcd_network_snapshot_send_success", "To", "Total number of successful snapshot sends",
     M_COUNTER, U64(snap_send_ok), 0, false},
    {"etcd_network_snapshot_send_inflights_total", "To",
     "Total number of inflight snapshot sends", M_GAUGE, U64(snap_send_inflight), 0, true},
    {"etcd_network_snapshot_send_failures", "To", "Total number of snapshot send failures",
     M_COUNTER, U64(snap_send_fail), 0, false},
    {"etcd_network_snapshot_send_total_duration_seconds", "To",
     "Total latency distributions of v3 snapshot sends", M_HIST, U64(snap_send_sec),
     RH_HIST_SNAPSHOT, false},
    {"etcd_network_snapshot_receive_success", "From",
     "Total number of successful snapshot receives", M_COUNTER, U64(snap_recv_ok), 0, false},
    {"etcd_network_snapshot_receive_inflights_total", "From",
     "Total number of inflight snapshot receives", M_GAUGE, U64(snap_recv_inflight), 0, true},
    {"etcd_network_snapshot_receive_failures", "From",
     "Total number of snapshot receive failures", M_COUNTER, U64(snap_recv_fail), 0, false},
    {"etcd_network_snapshot_receive_total_duration_seconds", "From",
     "Total latency distributions of v3 snapshot receives", M_HIST, U64(snap_recv_sec),
     RH_HIST_SNAPSHOT, false},
    {"etcd_network_peer_round_trip_time_seconds", "To", "Round-Trip-Time histogram between peers",
     M_HIST, U64(rtt), RH_HIST_RTT, false},
};
#undef U64

static void put_hist(out *o, const family *f, const char *id, const rh_hist *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < buckets[f->hist].n; i++) {
        cum += h->counts[i];
        put(o, "%s_bucket{%s=\"%s\",le=\"%s\"} %llu\n", f->name, f->label, id,
            buckets[f->hist].le[i], (unsigned long long)cum);
    }
    put(o, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", f->name, f->label, id,
        (unsigned long long)h->n);
    put(o, "%s_sum{%s=\"%s\"} %.9g\n", f->name, f->label, id, h->sum);
    put(o, "%s_count{%s=\"%s\"} %llu\n", f->name, f->label, id, (unsigned long long)h->n);
}

size_t rhi_transport_metrics_text(rh_transport *t, char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    /* etcd labels these two by the local and the remote member */
    put(&o, "# HELP etcd_network_active_peers The current number of active peer connections.\n"
            "# TYPE etcd_network_active_peers gauge\n");
    for (peer_stats *st = t->stats; st; st = st->next) {
        char id[17];
        rh_id_str(st->id, id);
        put(&o, "etcd_network_active_peers{Local=\"%s\",Remote=\"%s\"} %d\n", t->id_str, id,
            st->active ? 1 : 0);
    }
    put(&o, "# HELP etcd_network_disconnected_peers_total The total number of disconnected "
            "peers.\n# TYPE etcd_network_disconnected_peers_total counter\n");
    for (peer_stats *st = t->stats; st; st = st->next) {
        char id[17];
        rh_id_str(st->id, id);
        put(&o, "etcd_network_disconnected_peers_total{Local=\"%s\",Remote=\"%s\"} %llu\n",
            t->id_str, id, (unsigned long long)st->disconnected);
    }
    for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
        const family *f = &families[k];
        put(&o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_name[f->kind]);
        for (peer_stats *st = t->stats; st; st = st->next) {
            char id[17];
            rh_id_str(st->id, id);
            const char *at = (const char *)st + f->off;
            if (f->kind == M_HIST) {
                put_hist(&o, f, id, (const rh_hist *)(const void *)at);
            } else if (f->signed_) {
                int64_t v;
                memcpy(&v, at, sizeof(v));
                put(&o, "%s{%s=\"%s\"} %lld\n", f->name, f->label, id, (long long)v);
            } else {
                uint64_t v;
                memcpy(&v, at, sizeof(v));
                put(&o, "%s{%s=\"%s\"} %llu\n", f->name, f->label, id, (unsigned long long)v);
            }
        }
        /* etcd's label for a snapshot upload whose message never decoded */
        if (!strcmp(f->name, "etcd_network_snapshot_receive_failures") &&
            t->snap_recv_fail_unknown)
            put(&o, "%s{From=\"UNKNOWN_SNAPSHOT_SENDER\"} %llu\n", f->name,
                (unsigned long long)t->snap_recv_fail_unknown);
    }
    if (t->tls || t->plain_got_tls) { /* ours: etcd has no counter of refused handshakes */
        put(&o, "# HELP rafthttp_tls_handshake_failures_total Peer TLS handshakes refused, "
                "by reason.\n# TYPE rafthttp_tls_handshake_failures_total counter\n");
        for (int r = 0; r < TLS_R_COUNT; r++)
            put(&o, "rafthttp_tls_handshake_failures_total{reason=\"%s\"} %llu\n",
                rhi_tls_reason_name(r),
                (unsigned long long)((t->tls ? rhi_tls_failures(t->tls, r) : 0) +
                                     (r == TLS_R_TLS_TO_PLAIN ? t->plain_got_tls : 0)));
    }
    if (t->tls) {
        put(&o, "# HELP rafthttp_tls_handshakes_in_flight Accepted peer TLS handshakes not "
                "complete.\n# TYPE rafthttp_tls_handshakes_in_flight gauge\n"
                "rafthttp_tls_handshakes_in_flight %zu\n", t->n_handshaking);
        put(&o, "# HELP rafthttp_tls_handshake_limit_reached_total Times accepting paused "
                "at the limit of TLS handshakes in flight.\n"
                "# TYPE rafthttp_tls_handshake_limit_reached_total counter\n"
                "rafthttp_tls_handshake_limit_reached_total %llu\n",
                (unsigned long long)t->handshakes_full);
    }
    if (buf && cap)
        buf[o.n < cap ? o.n : cap - 1] = 0;
    return o.n;
}
