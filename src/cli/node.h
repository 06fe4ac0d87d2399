/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `rafthttp node`: one transport member driven by JSON Lines.
 *
 *   node_sha1.c  SHA-1 and etcd's member / cluster ID derivation
 *   node_args.c  flags, URLs, Go durations, --initial-cluster
 *   cli_node.c   the running node: events out, commands in, signals
 */
#ifndef RH_CLI_NODE_H
#define RH_CLI_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafthttp/transport.h"

int cli_node_main(int argc, char **argv);
extern const char cli_node_help[];

/* ---- SHA-1 (FIPS 180-4), only for etcd's ID derivation ------------------- */

typedef struct node_sha1 {
    uint32_t h[5];   /* chaining state */
    uint64_t total;  /* bytes hashed so far */
    uint8_t blk[64]; /* partial block */
    size_t n;        /* bytes in blk */
} node_sha1;

void node_sha1_init(node_sha1 *c);
void node_sha1_update(node_sha1 *c, const void *p, size_t n);
void node_sha1_final(node_sha1 *c, uint8_t out[20]);

/* etcd's member ID: first 8 bytes (big-endian) of SHA-1 over the peer URLs,
 * sorted bytewise and concatenated, followed by the cluster token. 0 when
 * out of memory. */
uint64_t node_member_id(const char *const *urls, size_t n, const char *token);
/* etcd's cluster ID: first 8 bytes of SHA-1 over the member IDs sorted
 * ascending, each as 8 big-endian bytes. 0 when out of memory. */
uint64_t node_cluster_id(const uint64_t *ids, size_t n);

/* ---- arguments ------------------------------------------------------------ */

typedef struct node_peer_arg {
    uint64_t id;  /* member ID */
    char **urls;  /* owned strings */
    size_t n_urls;
} node_peer_arg;

typedef struct node_args {
    uint64_t id;                     /* local member ID (never 0 once parsed) */
    uint64_t cluster_id;
    char **listen;                   /* owned; as given (port may be 0) */
    size_t n_listen;
    char **advertise;                /* owned; empty: the transport uses listen */
    size_t n_advertise;
    node_peer_arg *peers;            /* owned, distinct IDs, none is id */
    size_t n_peers;
    const char *snap_dir;            /* NULL: none given */
    const char *server_version;      /* X-Server-Version */
    const char *min_cluster_version; /* X-Min-Cluster-Version */
    int dial_timeout_ms;
    int dial_retry_ms;
    bool metrics;                    /* --metrics (the transport always serves it) */
    bool trace_sent;                 /* report sent events */
    bool echo_resp;                  /* --reply echo-resp */
    int log_level;                   /* rh_log_level */
    bool log_json;                   /* --log-format json */
    bool ids_hex;                    /* --id-format hex */
    int head_timeout_ms;             /* --read-header-timeout */
    int handshake_timeout_ms;        /* --handshake-timeout */
    uint64_t max_handshakes;         /* --max-handshakes */
    uint64_t max_header_bytes;       /* --max-header-bytes */
    uint64_t max_body_bytes;         /* --max-body-bytes */
    char *members_json;              /* owned; GET /members body, from
                                      * --initial-cluster; NULL: unknown */
    rh_tls_config tls;               /* peer TLS flags (strings point into argv) */
} node_args;

/* Parses argv (argv[0] is "node"). Returns 0 with *done false when the node
 * should run; otherwise *done is true and the return value is the exit
 * status (help printed, or one line on stderr for a usage error). */
int node_parse_args(int argc, char **argv, node_args *a, bool *done);
void node_args_free(node_args *a);

/* Checks a peer URL the way etcd's types.NewURLs does for the schemes we
 * serve: http:// or https://HOST:PORT, no path, query or user. -1 with err
 * filled when it is not one. */
int node_check_url(const char *url, char *err, size_t errlen);
/* url with its port replaced by port, into out. False when it does not fit. */
bool node_url_with_port(const char *url, int port, char *out, size_t cap);

/* Go's time.ParseDuration, in nanoseconds. False on a malformed value or an
 * overflow. */
bool node_parse_duration(const char *s, int64_t *ns);

#endif
