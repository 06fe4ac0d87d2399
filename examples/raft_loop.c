/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Embedding the transport in an application's Raft loop: three members,
 * each with its own loop thread that owns its Raft state (here a toy: a
 * fixed leader, 1, that sends MsgHeartbeat every 50 ms; followers answer).
 * The transport's `process` only clones each message into the member's
 * bounded inbox and wakes its loop; the loop drains the inbox, steps its
 * state and sends. report_unreachable is how the transport tells Raft that
 * a peer could not be reached. Runs 1 s; exits 0 when the leader heard at
 * least 5 answers from each follower.
 *
 *   cc raft_loop.c $(pkg-config --cflags --libs rafthttp) -o raft_loop
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rafthttp/transport.h>

#define N 3
#define INBOX 256 /* bounded, as etcd's recvc: a full inbox drops (Raft retries) */

typedef struct member {
    uint64_t id;
    rh_transport *t;
    pthread_t loop;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    rh_msg *inbox[INBOX]; /* [mu] clones, owned */
    size_t head, len;     /* [mu] */
    atomic_int dropped, unreachable;
    int answers[N + 1];   /* leader: MsgHeartbeatResp by follower ID (loop thread) */
} member;

static member members[N + 1]; /* by ID, 1..N */
static atomic_int stop;

/* Delivery thread: clone and queue; Raft runs on the member's own loop. */
static int process(void *ctx, const rh_msg *m, const char *via)
{
    (void)via;
    member *me = ctx;
    rh_msg *c = rh_msg_clone(m);
    pthread_mutex_lock(&me->mu);
    int full = !c || me->len == INBOX;
    if (!full) {
        me->inbox[(me->head + me->len++) % INBOX] = c;
        pthread_cond_signal(&me->cond);
    }
    pthread_mutex_unlock(&me->mu);
    if (full) {
        rh_msg_free(c);
        atomic_fetch_add(&me->dropped, 1);
        return -1; /* logged by the transport */
    }
    return 0;
}

static void report_unreachable(void *ctx, uint64_t id)
{
    member *me = ctx;
    (void)id; /* a real Raft marks the follower's progress as probing */
    atomic_fetch_add(&me->unreachable, 1);
}

/* The member's Raft step for one received message. */
static void step(member *me, const rh_msg *m)
{
    if (m->type == RH_MSG_HEARTBEAT) {
        rh_msg resp = {.type = RH_MSG_HEARTBEAT_RESP, .to = m->from, .from = me->id,
                       .term = m->term};
        rh_transport_send(me->t, &resp, 1);
    } else if (m->type == RH_MSG_HEARTBEAT_RESP && m->from <= N) {
        me->answers[m->from]++;
    }
}

static void *raft_loop(void *arg)
{
    member *me = arg;
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    while (!atomic_load(&stop)) {
        pthread_mutex_lock(&me->mu);
        while (me->len == 0 && !atomic_load(&stop) &&
               pthread_cond_timedwait(&me->cond, &me->mu, &next) == 0)
            ;
        rh_msg *batch[INBOX];
        size_t n = 0;
        while (me->len) { /* take everything queued: one lock per batch */
            batch[n++] = me->inbox[me->head];
            me->head = (me->head + 1) % INBOX;
            me->len--;
        }
        pthread_mutex_unlock(&me->mu);
        for (size_t i = 0; i < n; i++) {
            step(me, batch[i]);
            rh_msg_free(batch[i]);
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
            if (me->id == 1) { /* the leader's heartbeat tick */
                rh_msg hb[N - 1];
                for (uint64_t to = 2; to <= N; to++)
                    hb[to - 2] = (rh_msg){.type = RH_MSG_HEARTBEAT, .to = to, .from = 1, .term = 1};
                rh_transport_send(me->t, hb, N - 1);
            }
            next.tv_nsec += 50 * 1000000L;
            if (next.tv_nsec >= 1000000000L) {
                next.tv_sec++;
                next.tv_nsec -= 1000000000L;
            }
        }
    }
    return NULL;
}

int main(void)
{
    static const char *listen[] = {"http://127.0.0.1:0"};
    char err[256], urls[N + 1][64];
    for (uint64_t id = 1; id <= N; id++) {
        member *me = &members[id];
        me->id = id;
        pthread_mutex_init(&me->mu, NULL);
        pthread_cond_init(&me->cond, NULL);
        rh_transport_config cfg = {
            .id = id, .cluster_id = 0x3000, .listen = listen, .n_listen = 1,
            .raft = {.ctx = me, .process = process, .report_unreachable = report_unreachable}};
        if (!(me->t = rh_transport_new(&cfg, err, sizeof(err))) || rh_transport_start(me->t)) {
            fprintf(stderr, "member %llu: %s\n", (unsigned long long)id, err);
            return 1;
        }
        snprintf(urls[id], sizeof(urls[id]), "http://127.0.0.1:%d",
                 rh_transport_listen_port(me->t, 0));
    }
    for (uint64_t id = 1; id <= N; id++)
        for (uint64_t p = 1; p <= N; p++)
            if (p != id) {
                const char *u[] = {urls[p]};
                rh_transport_add_peer(members[id].t, p, u, 1);
            }
    for (uint64_t id = 1; id <= N; id++)
        pthread_create(&members[id].loop, NULL, raft_loop, &members[id]);

    struct timespec second = {1, 0};
    nanosleep(&second, NULL);
    atomic_store(&stop, 1);
    for (uint64_t id = 1; id <= N; id++) {
        pthread_mutex_lock(&members[id].mu);
        pthread_cond_signal(&members[id].cond);
        pthread_mutex_unlock(&members[id].mu);
        pthread_join(members[id].loop, NULL);
    }
    for (uint64_t id = 1; id <= N; id++) { /* transports first: no more process calls */
        rh_transport_free(members[id].t);
        while (members[id].len) {
            rh_msg_free(members[id].inbox[members[id].head]);
            members[id].head = (members[id].head + 1) % INBOX;
            members[id].len--;
        }
    }
    int ok = 1;
    for (uint64_t f = 2; f <= N; f++) {
        printf("leader heard %d answers from member %llu\n", members[1].answers[f],
               (unsigned long long)f);
        ok &= members[1].answers[f] >= 5;
    }
    printf("raft_loop: %s (unreachable reports: %d)\n", ok ? "ok" : "FAILED",
           atomic_load(&members[1].unreachable));
    return ok ? 0 : 1;
}
