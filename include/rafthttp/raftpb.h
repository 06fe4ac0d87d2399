/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raftpb: etcd's raft.proto in C.
 *
 * The schema of etcd 3.4 (go.etcd.io/etcd/raft/raftpb) plus what newer raft
 * added: Message.vote (13), Message.responses (14) and message types 19-23.
 *
 * Encoding is byte-identical to etcd 3.4's gogoproto marshaller: fields in
 * field-number order, non-nullable scalars and sub-messages always written,
 * bytes fields written when present (data != NULL, even when empty),
 * ConfState lists unpacked. vote is written when has_vote is set, responses
 * when there are any.
 *
 * Decoding accepts what gogoproto's generated Unmarshal accepts (fields in
 * any order, repeated occurrences merged, packed or unpacked id lists,
 * unknown fields of any wire type skipped) and rejects with an rh_err what it
 * cannot represent.
 *
 * Ownership. All structs here are plain views:
 *  - rh_bytes points at bytes it does not own. A decoded message's bytes point
 *    into the decoder's input buffer (zero copy); its arrays (entries, id
 *    lists, responses) live in the rh_arena passed to the decoder. The message
 *    is valid while both are unchanged.
 *  - rh_msg_clone() makes a self-contained owned copy in one allocation,
 *    released with rh_msg_free().
 */
#ifndef RAFTHTTP_RAFTPB_H
#define RAFTHTTP_RAFTPB_H

#include "rafthttp/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafthttp/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message types (raftpb.MessageType). Stored as int32 like Go's enum, so an
 * unknown or negative value read off the wire survives a round trip. */
enum rh_msg_type {
    RH_MSG_HUP = 0,
    RH_MSG_BEAT = 1,
    RH_MSG_PROP = 2,
    RH_MSG_APP = 3,
    RH_MSG_APP_RESP = 4,
    RH_MSG_VOTE = 5,
    RH_MSG_VOTE_RESP = 6,
    RH_MSG_SNAP = 7,
    RH_MSG_HEARTBEAT = 8,
    RH_MSG_HEARTBEAT_RESP = 9,
    RH_MSG_UNREACHABLE = 10,
    RH_MSG_SNAP_STATUS = 11,
    RH_MSG_CHECK_QUORUM = 12,
    RH_MSG_TRANSFER_LEADER = 13,
    RH_MSG_TIMEOUT_NOW = 14,
    RH_MSG_READ_INDEX = 15,
    RH_MSG_READ_INDEX_RESP = 16,
    RH_MSG_PRE_VOTE = 17,
    RH_MSG_PRE_VOTE_RESP = 18,
    /* raft 3.6 */
    RH_MSG_STORAGE_APPEND = 19,
    RH_MSG_STORAGE_APPEND_RESP = 20,
    RH_MSG_STORAGE_APPLY = 21,
    RH_MSG_STORAGE_APPLY_RESP = 22,
    RH_MSG_FORGET_LEADER = 23,
};
#define RH_MSG_TYPE_COUNT 24

enum rh_entry_type {
    RH_ENTRY_NORMAL = 0,
    RH_ENTRY_CONF_CHANGE = 1,
    RH_ENTRY_CONF_CHANGE_V2 = 2,
};

enum rh_conf_change_type {
    RH_CC_ADD_NODE = 0,
    RH_CC_REMOVE_NODE = 1,
    RH_CC_UPDATE_NODE = 2,
    RH_CC_ADD_LEARNER_NODE = 3,
};

enum rh_conf_change_transition {
    RH_CCT_AUTO = 0,
    RH_CCT_JOINT_IMPLICIT = 1,
    RH_CCT_JOINT_EXPLICIT = 2,
};

/* A protobuf bytes field. data == NULL: absent (Go's nil). data != NULL with
 * len == 0: present but empty. Never owns its bytes. */
typedef struct rh_bytes {
    const uint8_t *data;
    size_t len;
} rh_bytes;

typedef struct rh_entry {
    uint64_t term;  /* field 2 */
    uint64_t index; /* field 3 */
    int32_t type;   /* field 1, rh_entry_type */
    rh_bytes data;  /* field 4 */
} rh_entry;

/* Id lists point at arrays of n ids; NULL when n == 0. */
typedef struct rh_conf_state {
    const uint64_t *voters;          /* field 1 */
    size_t n_voters;
    const uint64_t *learners;        /* field 2 */
    size_t n_learners;
    const uint64_t *voters_outgoing; /* field 3 */
    size_t n_voters_outgoing;
    const uint64_t *learners_next;   /* field 4 */
    size_t n_learners_next;
    bool auto_leave;                 /* field 5 */
} rh_conf_state;

typedef struct rh_snapshot_metadata {
    rh_conf_state conf_state; /* field 1 */
    uint64_t index;           /* field 2 */
    uint64_t term;            /* field 3 */
} rh_snapshot_metadata;

typedef struct rh_snapshot {
    rh_bytes data;                 /* field 1 */
    rh_snapshot_metadata metadata; /* field 2 */
} rh_snapshot;

typedef struct rh_msg rh_msg;
struct rh_msg {
    int32_t type;            /* field 1, rh_msg_type */
    uint64_t to;             /* field 2 */
    uint64_t from;           /* field 3 */
    uint64_t term;           /* field 4 */
    uint64_t log_term;       /* field 5 */
    uint64_t index;          /* field 6 */
    const rh_entry *entries; /* field 7, n_entries of them */
    size_t n_entries;
    uint64_t commit;         /* field 8 */
    rh_snapshot snapshot;    /* field 9; always encoded (etcd 3.4) */
    bool has_snapshot;       /* decode: field 9 was on the wire (3.6+ omits it) */
    bool reject;             /* field 10 */
    uint64_t reject_hint;    /* field 11 */
    rh_bytes context;        /* field 12 */
    bool has_vote;           /* field 13 present (newer raft) */
    uint64_t vote;           /* field 13 */
    const rh_msg *responses; /* field 14 (newer raft), n_responses of them */
    size_t n_responses;
};

typedef struct rh_hard_state {
    uint64_t term;   /* field 1 */
    uint64_t vote;   /* field 2 */
    uint64_t commit; /* field 3 */
} rh_hard_state;

typedef struct rh_conf_change {
    uint64_t id;      /* field 1 */
    int32_t type;     /* field 2, rh_conf_change_type */
    uint64_t node_id; /* field 3 */
    rh_bytes context; /* field 4 */
} rh_conf_change;

typedef struct rh_conf_change_single {
    int32_t type;     /* field 1 */
    uint64_t node_id; /* field 2 */
} rh_conf_change_single;

typedef struct rh_conf_change_v2 {
    int32_t transition;                   /* field 1 */
    const rh_conf_change_single *changes; /* field 2 */
    size_t n_changes;
    rh_bytes context;                     /* field 3 */
} rh_conf_change_v2;

/* ---- names ---------------------------------------------------------- */

/* "MsgApp", ... or NULL for a value without a name. */
RH_API const char *rh_msg_type_name(int32_t type);
/* Parses a name as printed by rh_msg_type_name; -1 when unknown. */
RH_API int rh_msg_type_from_name(const char *name, size_t len);
RH_API const char *rh_entry_type_name(int32_t type);
RH_API int rh_entry_type_from_name(const char *name, size_t len);

/* etcd's link heartbeat: MsgHeartbeat with from == 0 and to == 0. */
static inline bool rh_msg_is_link_heartbeat(const rh_msg *m)
{
    return m->type == RH_MSG_HEARTBEAT && m->from == 0 && m->to == 0;
}

/* ---- arena ---------------------------------------------------------- */

/* Bump allocator for decoded arrays. Reset between messages keeps its
 * memory, so steady-state decoding allocates nothing. limit caps the bytes
 * it will hand out (0: RH_ARENA_DEFAULT_LIMIT); past it, decoding fails with
 * RH_ECOMPLEX instead of letting a small hostile message (millions of empty
 * entries) expand into gigabytes. */
#define RH_ARENA_DEFAULT_LIMIT (256u * 1024u * 1024u)

typedef struct rh_arena_block rh_arena_block;
typedef struct rh_arena {
    rh_arena_block *head; /* current block, owned */
    size_t used_total;    /* bytes handed out since the last reset */
    size_t limit;         /* cap on used_total */
} rh_arena;

RH_API void rh_arena_init(rh_arena *a, size_t limit);
/* Forgets everything handed out; keeps (coalesced) memory for reuse. */
RH_API void rh_arena_reset(rh_arena *a);
RH_API void rh_arena_free(rh_arena *a);
/* 8-byte aligned, zeroed; NULL when over the limit or out of memory. */
RH_API void *rh_arena_alloc(rh_arena *a, size_t n);

/* ---- Message -------------------------------------------------------- */

/* Maximum nesting of messages inside messages (responses) and of unknown
 * groups. etcd's raft nests responses one level deep. */
#define RH_PB_MAX_DEPTH 16

/* Encoded size of m in bytes. */
RH_API size_t rh_msg_size(const rh_msg *m);
/* Writes exactly rh_msg_size(m) bytes to out; returns that count. */
RH_API size_t rh_msg_encode(const rh_msg *m, uint8_t *out);

/* Decodes buf[0..len) into *out. Bytes fields point into buf, arrays are
 * taken from arena (which the caller resets when it likes). On error returns
 * a negative code and fills *err (if not NULL) with err->offset = the offset
 * in buf where the failing field starts. */
RH_API int rh_msg_decode(const uint8_t *buf, size_t len, rh_msg *out, rh_arena *arena,
                  rh_err *err);

/* Deep copy of src into one allocation (arrays and bytes included); NULL when
 * out of memory. Free with rh_msg_free. */
RH_API rh_msg *rh_msg_clone(const rh_msg *src);
/* The same copy into memory the caller provides: rh_msg_clone_size(src)
 * bytes, 8-byte aligned. The copy points only into that memory; the
 * caller frees it (not rh_msg_free). */
RH_API size_t rh_msg_clone_size(const rh_msg *src);
RH_API rh_msg *rh_msg_clone_to(const rh_msg *src, void *mem);
/* The same, except that entry data of at least ref_min bytes (ref_min > 0)
 * are not copied: the copy's entries point at src's data, which must then
 * outlive it. ref_min == 0 copies everything, as rh_msg_clone_to. */
RH_API size_t rh_msg_clone_size_ref(const rh_msg *src, size_t ref_min);
RH_API rh_msg *rh_msg_clone_to_ref(const rh_msg *src, void *mem, size_t ref_min);
RH_API void rh_msg_free(rh_msg *m);

/* Field-by-field equality, bytes by content and presence, has_snapshot
 * ignored (it records the wire form, not the value). */
RH_API bool rh_msg_equal(const rh_msg *a, const rh_msg *b);

/* ---- Entry and the other raft.proto messages ------------------------- */

RH_API size_t rh_entry_size(const rh_entry *e);
RH_API size_t rh_entry_encode(const rh_entry *e, uint8_t *out);
RH_API int rh_entry_decode(const uint8_t *buf, size_t len, rh_entry *out, rh_err *err);

RH_API size_t rh_snapshot_size(const rh_snapshot *s);
RH_API size_t rh_snapshot_encode(const rh_snapshot *s, uint8_t *out);
RH_API int rh_snapshot_decode(const uint8_t *buf, size_t len, rh_snapshot *out,
                       rh_arena *arena, rh_err *err);

RH_API size_t rh_conf_state_size(const rh_conf_state *c);
RH_API size_t rh_conf_state_encode(const rh_conf_state *c, uint8_t *out);
RH_API int rh_conf_state_decode(const uint8_t *buf, size_t len, rh_conf_state *out,
                         rh_arena *arena, rh_err *err);

RH_API size_t rh_hard_state_size(const rh_hard_state *h);
RH_API size_t rh_hard_state_encode(const rh_hard_state *h, uint8_t *out);
RH_API int rh_hard_state_decode(const uint8_t *buf, size_t len, rh_hard_state *out,
                         rh_err *err);

RH_API size_t rh_conf_change_size(const rh_conf_change *c);
RH_API size_t rh_conf_change_encode(const rh_conf_change *c, uint8_t *out);
RH_API int rh_conf_change_decode(const uint8_t *buf, size_t len, rh_conf_change *out,
                          rh_err *err);

RH_API size_t rh_conf_change_single_size(const rh_conf_change_single *c);
RH_API size_t rh_conf_change_single_encode(const rh_conf_change_single *c, uint8_t *out);
RH_API int rh_conf_change_single_decode(const uint8_t *buf, size_t len,
                                 rh_conf_change_single *out, rh_err *err);

RH_API size_t rh_conf_change_v2_size(const rh_conf_change_v2 *c);
RH_API size_t rh_conf_change_v2_encode(const rh_conf_change_v2 *c, uint8_t *out);
RH_API int rh_conf_change_v2_decode(const uint8_t *buf, size_t len,
                             rh_conf_change_v2 *out, rh_arena *arena, rh_err *err);

#ifdef __cplusplus
}
#endif
#endif
