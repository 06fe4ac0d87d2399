/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raftpb <-> JSON, in the forms of docs/json.md.
 *
 * Writers append to an rh_buf (check rh_buf.failed once at the end):
 *  - rh_json_put_msg: the MSG form `rafthttp decode` prints, byte for byte
 *    what the Go golden generator prints;
 *  - rh_json_put_*_record: the other.jsonl lines of the golden files.
 *
 * Readers turn a parsed JSON value (json/json.h) into the raftpb structs:
 *  - keys in any order, unknown keys ignored, a missing key or null is zero
 *    (Go's encoding/json treats null as "leave alone");
 *  - integers exact up to 2^64-1; enum fields take a name or a number;
 *    member IDs (to, from, vote, node IDs, ConfState lists) also take a hex
 *    string as etcd prints IDs ("8e9e05c52164694d", optional 0x);
 *  - bytes fields are standard base64. "" is absent in the default (loose)
 *    mode, which is what `encode` and `node` read, and present-but-empty
 *    with RH_MSGJSON_STRICT, which reads decode's output back exactly.
 * An error fills rh_err: code RH_EINVAL (RH_ECOMPLEX / RH_EDEPTH for limits),
 * offset = the byte in the parsed text where the offending value starts,
 * msg = "<path>: <what is wrong>", e.g. `entries[2].data: invalid base64 at
 * character 7`.
 *
 * Ownership: everything a reader's result points at (arrays, decoded bytes)
 * is allocated from the caller's arena; the result stays valid until that
 * arena is reset or freed, and does not depend on the JSON tree or text.
 * rh_msg_from_json_text() instead returns one owned allocation.
 */
#ifndef RH_JSON_MSG_JSON_H
#define RH_JSON_MSG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "rafthttp/raftpb.h"

/* Reader flags. */
#define RH_MSGJSON_STRICT 1u /* "" is a present, empty bytes field */

/* ---- member IDs --------------------------------------------------------- */

/* Parses a member ID written as etcd prints it: 1 to 16 hex digits, either
 * case, optional 0x prefix. False when s[0..n) is anything else. */
bool rh_id_parse_hex(const char *s, size_t n, uint64_t *out);

/* ---- writers ------------------------------------------------------------ */

/* MSG form (docs/json.md): keys in fixed order, no spaces. */
void rh_json_put_msg(rh_buf *b, const rh_msg *m);
/* The same with member IDs (to, from, vote, conf state) as etcd's hex
 * strings when hex ("8e9e05c52164694d"; the input side reads both). */
void rh_json_put_msg_ids(rh_buf *b, const rh_msg *m, bool hex);
/* A member ID: a number, or its hex string. */
void rh_json_put_id(rh_buf *b, uint64_t id, bool hex);
/* Entry E and snapshot SNAP as they appear inside MSG (enum names). */
void rh_json_put_entry(rh_buf *b, const rh_entry *e);
void rh_json_put_snapshot(rh_buf *b, const rh_snapshot *s);
void rh_json_put_conf_state(rh_buf *b, const rh_conf_state *c);

/* other.jsonl records: {"kind":...} with enums as numbers. */
void rh_json_put_entry_record(rh_buf *b, const rh_entry *e);
void rh_json_put_snapshot_record(rh_buf *b, const rh_snapshot *s);
void rh_json_put_conf_state_record(rh_buf *b, const rh_conf_state *c);
void rh_json_put_hard_state_record(rh_buf *b, const rh_hard_state *h);
void rh_json_put_conf_change_record(rh_buf *b, const rh_conf_change *c);
void rh_json_put_conf_change_single_record(rh_buf *b, const rh_conf_change_single *c);
void rh_json_put_conf_change_v2_record(rh_buf *b, const rh_conf_change_v2 *c);

/* ---- readers ------------------------------------------------------------ */

/* A MSG object (or a message line of `node`'s input). has_snapshot is set
 * when a "snapshot" object was given, has_vote when "vote" was. Responses
 * nest at most RH_PB_MAX_DEPTH - 1 levels, as the protobuf decoder allows. */
int rh_json_to_msg(const rh_json *v, unsigned flags, rh_arena *arena, rh_msg *out,
                   rh_err *err);
int rh_json_to_entry(const rh_json *v, unsigned flags, rh_arena *arena,
                     rh_entry *out, rh_err *err);
int rh_json_to_snapshot(const rh_json *v, unsigned flags, rh_arena *arena,
                        rh_snapshot *out, rh_err *err);
int rh_json_to_conf_state(const rh_json *v, unsigned flags, rh_arena *arena,
                          rh_conf_state *out, rh_err *err);
int rh_json_to_hard_state(const rh_json *v, unsigned flags, rh_hard_state *out,
                          rh_err *err);
int rh_json_to_conf_change(const rh_json *v, unsigned flags, rh_arena *arena,
                           rh_conf_change *out, rh_err *err);
int rh_json_to_conf_change_single(const rh_json *v, unsigned flags,
                                  rh_conf_change_single *out, rh_err *err);
int rh_json_to_conf_change_v2(const rh_json *v, unsigned flags, rh_arena *arena,
                              rh_conf_change_v2 *out, rh_err *err);

/* Parses text[0..len) (default limits) into a message the caller owns and
 * releases with rh_msg_free(). NULL with *err filled on any error. */
rh_msg *rh_msg_from_json_text(const char *text, size_t len, unsigned flags,
                              rh_err *err);

#endif
