/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two transports in one process, members 1 and 2 of cluster 0x1000 on
 * 127.0.0.1 (ports chosen by the kernel): member 1 sends a MsgApp with one
 * entry and a MsgHeartbeat to member 2, which answers the heartbeat.
 * Exits 0 once member 2 has the MsgApp and member 1 the answer, 1 after
 * 10 s without them.
 *
 *   cc two_transports.c $(pkg-config --cflags --libs rafthttp) -o two_transports
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rafthttp/transport.h>
#include <rafthttp/version.h>

typedef struct member {
    uint64_t id;
    rh_transport *t;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int got_app, got_resp;
} member;

/* Called on the transport's delivery thread: keep it short. */
static int process(void *ctx, const rh_msg *m, const char *via)
{
    member *me = ctx;
    printf("member %llx got %s from %llx (term %llu) via %s\n", (unsigned long long)me->id,
           rh_msg_type_name(m->type), (unsigned long long)m->from,
           (unsigned long long)m->term, via);
    if (m->type == RH_MSG_HEARTBEAT) { /* answer, as a follower's raft would */
        rh_msg resp = {.type = RH_MSG_HEARTBEAT_RESP, .to = m->from, .from = me->id,
                       .term = m->term, .context = m->context};
        rh_transport_send(me->t, &resp, 1);
    }
    pthread_mutex_lock(&me->mu);
    if (m->type == RH_MSG_APP && m->n_entries == 1 && m->entries[0].data.len == 5 &&
        !memcmp(m->entries[0].data.data, "hello", 5))
        me->got_app = 1;
    if (m->type == RH_MSG_HEARTBEAT_RESP)
        me->got_resp = 1;
    pthread_cond_broadcast(&me->cond);
    pthread_mutex_unlock(&me->mu);
    return 0;
}

static int start(member *me, uint64_t id)
{
    static const char *listen[] = {"http://127.0.0.1:0"};
    char err[256];
    me->id = id;
    pthread_mutex_init(&me->mu, NULL);
    pthread_cond_init(&me->cond, NULL);
    rh_transport_config cfg = {.id = id, .cluster_id = 0x1000, .listen = listen, .n_listen = 1,
                               .raft = {.ctx = me, .process = process}};
    me->t = rh_transport_new(&cfg, err, sizeof(err));
    if (!me->t) {
        fprintf(stderr, "member %llx: %s\n", (unsigned long long)id, err);
        return -1;
    }
    return rh_transport_start(me->t);
}

static void add_peer(member *me, const member *other)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", rh_transport_listen_port(other->t, 0));
    const char *urls[] = {url};
    rh_transport_add_peer(me->t, other->id, urls, 1);
}

int main(void)
{
    static member a, b;
    if (rh_version_number() != RH_VERSION_NUMBER) { /* headers and library must agree */
        fprintf(stderr, "built with rafthttp %s, running with %s\n", RH_VERSION_STRING,
                rh_version());
        return 1;
    }
    printf("rafthttp %s\n", rh_version());
    if (start(&a, 1) || start(&b, 2))
        return 1;
    add_peer(&a, &b);
    add_peer(&b, &a);

    rh_entry e = {.term = 1, .index = 1, .data = {(const uint8_t *)"hello", 5}};
    rh_msg out[2] = {
        {.type = RH_MSG_APP, .to = 2, .from = 1, .term = 1, .entries = &e, .n_entries = 1},
        {.type = RH_MSG_HEARTBEAT, .to = 2, .from = 1, .term = 1},
    };
    rh_transport_send(a.t, out, 2); /* copied: out may go now */

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    /* the two messages may take different streams (MsgApp its own): no
     * order between them, so wait for each */
    int ok = 1;
    pthread_mutex_lock(&a.mu);
    while (!a.got_resp && ok)
        ok = pthread_cond_timedwait(&a.cond, &a.mu, &until) == 0;
    pthread_mutex_unlock(&a.mu);
    pthread_mutex_lock(&b.mu);
    int waited = 1;
    while (!b.got_app && waited)
        waited = pthread_cond_timedwait(&b.cond, &b.mu, &until) == 0;
    int app = b.got_app;
    pthread_mutex_unlock(&b.mu);

    rh_transport_free(a.t);
    rh_transport_free(b.t);
    if (!ok || !app) {
        fprintf(stderr, "two_transports: %s\n", app ? "no MsgHeartbeatResp within 10 s"
                                                    : "the MsgApp did not arrive");
        return 1;
    }
    printf("two_transports: ok\n");
    return 0;
}
