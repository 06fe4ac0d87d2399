/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raftpb <-> JSON (docs/json.md).
 *
 * Writing is a straight walk that emits keys in the documented order; the Go
 * golden generator prints the same bytes, so any change here is a change to
 * the golden format.
 *
 * Reading walks an object's members once, in input order, dispatching on the
 * key; a later duplicate overwrites an earlier one and null leaves the field
 * alone, as Go's encoding/json does. The walker keeps the path of containers
 * it is in (entries[3].snapshot...) so an error can say where it is.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/msg_json.h"

/* ---- member IDs --------------------------------------------------------- */

bool rh_id_parse_hex(const char *s, size_t n, uint64_t *out)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (n == 0 || n > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* ---- writers ------------------------------------------------------------ */

#define PUT_LIT(b, lit) rh_buf_append((b), (lit), sizeof(lit) - 1)

void rh_json_put_id(rh_buf *b, uint64_t id, bool hex)
{
    if (!hex) {
        rh_json_put_u64(b, id);
        return;
    }
    char s[20];
    int n = snprintf(s, sizeof(s), "\"%llx\"", (unsigned long long)id);
    rh_buf_append(b, s, (size_t)n);
}

static void put_id_list(rh_buf *b, const uint64_t *ids, size_t n, bool hex)
{
    rh_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            rh_buf_putc(b, ',');
        rh_json_put_id(b, ids[i], hex);
    }
    rh_buf_putc(b, ']');
}

/* A name when the value has one, else the bare signed number. */
static void put_enum(rh_buf *b, const char *name, int32_t v)
{
    if (name) {
        rh_buf_putc(b, '"');
        rh_buf_puts(b, name);
        rh_buf_putc(b, '"');
    } else {
        rh_json_put_i64(b, v);
    }
}

/* `,"key":S` for a present bytes field; nothing for an absent one. */
static void put_bytes_field(rh_buf *b, const char *comma_key, const rh_bytes *v)
{
    if (!v->data)
        return;
    rh_buf_puts(b, comma_key);
    rh_json_put_base64(b, v->data, v->len);
}

/* The members of a ConfState, without braces. */
static void put_conf_state_members(rh_buf *b, const rh_conf_state *c, bool hex)
{
    PUT_LIT(b, "\"voters\":");
    put_id_list(b, c->voters, c->n_voters, hex);
    PUT_LIT(b, ",\"learners\":");
    put_id_list(b, c->learners, c->n_learners, hex);
    PUT_LIT(b, ",\"votersOutgoing\":");
    put_id_list(b, c->voters_outgoing, c->n_voters_outgoing, hex);
    PUT_LIT(b, ",\"learnersNext\":");
    put_id_list(b, c->learners_next, c->n_learners_next, hex);
    PUT_LIT(b, ",\"autoLeave\":");
    rh_json_put_bool(b, c->auto_leave);
}

void rh_json_put_conf_state(rh_buf *b, const rh_conf_state *c)
{
    rh_buf_putc(b, '{');
    put_conf_state_members(b, c, false);
    rh_buf_putc(b, '}');
}

/* `"data":S,"metadata":{...}` (data only when present), without braces. */
static void put_snapshot_members(rh_buf *b, const rh_snapshot *s, bool hex)
{
    if (s->data.data) {
        PUT_LIT(b, "\"data\":");
        rh_json_put_base64(b, s->data.data, s->data.len);
        rh_buf_putc(b, ',');
    }
    PUT_LIT(b, "\"metadata\":{\"index\":");
    rh_json_put_u64(b, s->metadata.index);
    PUT_LIT(b, ",\"term\":");
    rh_json_put_u64(b, s->metadata.term);
    PUT_LIT(b, ",\"confState\":{");
    put_conf_state_members(b, &s->metadata.conf_state, hex);
    PUT_LIT(b, "}}");
}

void rh_json_put_snapshot(rh_buf *b, const rh_snapshot *s)
{
    rh_buf_putc(b, '{');
    put_snapshot_members(b, s, false);
    rh_buf_putc(b, '}');
}

void rh_json_put_entry(rh_buf *b, const rh_entry *e)
{
    PUT_LIT(b, "{\"term\":");
    rh_json_put_u64(b, e->term);
    PUT_LIT(b, ",\"index\":");
    rh_json_put_u64(b, e->index);
    PUT_LIT(b, ",\"type\":");
    put_enum(b, rh_entry_type_name(e->type), e->type);
    put_bytes_field(b, ",\"data\":", &e->data);
    rh_buf_putc(b, '}');
}

void rh_json_put_msg(rh_buf *b, const rh_msg *m)
{
    rh_json_put_msg_ids(b, m, false);
}

void rh_json_put_msg_ids(rh_buf *b, const rh_msg *m, bool hex)
{
    PUT_LIT(b, "{\"type\":");
    put_enum(b, rh_msg_type_name(m->type), m->type);
    PUT_LIT(b, ",\"to\":");
    rh_json_put_id(b, m->to, hex);
    PUT_LIT(b, ",\"from\":");
    rh_json_put_id(b, m->from, hex);
    PUT_LIT(b, ",\"term\":");
    rh_json_put_u64(b, m->term);
    PUT_LIT(b, ",\"logTerm\":");
    rh_json_put_u64(b, m->log_term);
    PUT_LIT(b, ",\"index\":");
    rh_json_put_u64(b, m->index);
    PUT_LIT(b, ",\"commit\":");
    rh_json_put_u64(b, m->commit);
    PUT_LIT(b, ",\"entries\":[");
    for (size_t i = 0; i < m->n_entries; i++) {
        if (i)
            rh_buf_putc(b, ',');
        rh_json_put_entry(b, &m->entries[i]);
    }
    PUT_LIT(b, "],\"reject\":");
    rh_json_put_bool(b, m->reject);
    PUT_LIT(b, ",\"rejectHint\":");
    rh_json_put_u64(b, m->reject_hint);
    put_bytes_field(b, ",\"context\":", &m->context);
    if (m->has_snapshot) {
        PUT_LIT(b, ",\"snapshot\":{");
        put_snapshot_members(b, &m->snapshot, hex);
        rh_buf_putc(b, '}');
    }
    if (m->has_vote) {
        PUT_LIT(b, ",\"vote\":");
        rh_json_put_id(b, m->vote, hex);
    }
    if (m->n_responses) {
        PUT_LIT(b, ",\"responses\":[");
        for (size_t i = 0; i < m->n_responses; i++) {
            if (i)
                rh_buf_putc(b, ',');
            rh_json_put_msg_ids(b, &m->responses[i], hex);
        }
        rh_buf_putc(b, ']');
    }
    rh_buf_putc(b, '}');
}

void rh_json_put_entry_record(rh_buf *b, const rh_entry *e)
{
    PUT_LIT(b, "{\"kind\":\"Entry\",\"term\":");
    rh_json_put_u64(b, e->term);
    PUT_LIT(b, ",\"index\":");
    rh_json_put_u64(b, e->index);
    PUT_LIT(b, ",\"type\":");
    rh_json_put_i64(b, e->type);
    put_bytes_field(b, ",\"data\":", &e->data);
    rh_buf_putc(b, '}');
}

void rh_json_put_snapshot_record(rh_buf *b, const rh_snapshot *s)
{
    PUT_LIT(b, "{\"kind\":\"Snapshot\",");
    put_snapshot_members(b, s, false);
    rh_buf_putc(b, '}');
}

void rh_json_put_conf_state_record(rh_buf *b, const rh_conf_state *c)
{
    PUT_LIT(b, "{\"kind\":\"ConfState\",");
    put_conf_state_members(b, c, false);
    rh_buf_putc(b, '}');
}

void rh_json_put_hard_state_record(rh_buf *b, const rh_hard_state *h)
{
    PUT_LIT(b, "{\"kind\":\"HardState\",\"term\":");
    rh_json_put_u64(b, h->term);
    PUT_LIT(b, ",\"vote\":");
    rh_json_put_u64(b, h->vote);
    PUT_LIT(b, ",\"commit\":");
    rh_json_put_u64(b, h->commit);
    rh_buf_putc(b, '}');
}

void rh_json_put_conf_change_record(rh_buf *b, const rh_conf_change *c)
{
    PUT_LIT(b, "{\"kind\":\"ConfChange\",\"id\":");
    rh_json_put_u64(b, c->id);
    PUT_LIT(b, ",\"type\":");
    rh_json_put_i64(b, c->type);
    PUT_LIT(b, ",\"nodeId\":");
    rh_json_put_u64(b, c->node_id);
    put_bytes_field(b, ",\"context\":", &c->context);
    rh_buf_putc(b, '}');
}

static void put_change_single_members(rh_buf *b, const rh_conf_change_single *c)
{
    PUT_LIT(b, "\"type\":");
    rh_json_put_i64(b, c->type);
    PUT_LIT(b, ",\"nodeId\":");
    rh_json_put_u64(b, c->node_id);
}

void rh_json_put_conf_change_single_record(rh_buf *b, const rh_conf_change_single *c)
{
    PUT_LIT(b, "{\"kind\":\"ConfChangeSingle\",");
    put_change_single_members(b, c);
    rh_buf_putc(b, '}');
}

void rh_json_put_conf_change_v2_record(rh_buf *b, const rh_conf_change_v2 *c)
{
    PUT_LIT(b, "{\"kind\":\"ConfChangeV2\",\"transition\":");
    rh_json_put_i64(b, c->transition);
    PUT_LIT(b, ",\"changes\":[");
    for (size_t i = 0; i < c->n_changes; i++) {
        if (i)
            rh_buf_putc(b, ',');
        rh_buf_putc(b, '{');
        put_change_single_members(b, &c->changes[i]);
        rh_buf_putc(b, '}');
    }
    rh_buf_putc(b, ']');
    put_bytes_field(b, ",\"context\":", &c->context);
    rh_buf_putc(b, '}');
}

/* ---- readers: context and errors ---------------------------------------- */

typedef struct jctx {
    unsigned flags;   /* RH_MSGJSON_* */
    rh_arena *arena;  /* where results go; NULL for array-free types */
    rh_err *err;      /* caller's, may be NULL */
    char path[128];   /* containers we are in, e.g. "entries[2]" */
    size_t path_len;
    int msg_depth;    /* nesting of messages (responses) */
    const char *what; /* the top-level type, named in errors about it */
} jctx;

static void ctx_init(jctx *c, const char *what, unsigned flags, rh_arena *arena,
                     rh_err *err)
{
    c->what = what;
    c->flags = flags;
    c->arena = arena;
    c->err = err;
    c->path[0] = 0;
    c->path_len = 0;
    c->msg_depth = 0;
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->msg[0] = 0;
    }
}

/* Appends a path segment (".key", or "[i]"); returns the length to restore
 * with path_pop. A segment that does not fit is dropped: the path is
 * context for a message, not data. */
static size_t path_append(jctx *c, const char *seg, size_t n)
{
    size_t saved = c->path_len;
    if (n < sizeof(c->path) - c->path_len) {
        memcpy(c->path + c->path_len, seg, n + 1);
        c->path_len += n;
    }
    return saved;
}

static size_t path_push_key(jctx *c, const char *key)
{
    char seg[48];
    int n = snprintf(seg, sizeof(seg), "%s%s", c->path_len ? "." : "", key);
    return path_append(c, seg, n > 0 && (size_t)n < sizeof(seg) ? (size_t)n : sizeof(c->path));
}

static size_t path_push_index(jctx *c, size_t i)
{
    char seg[32];
    int n = snprintf(seg, sizeof(seg), "[%zu]", i);
    return path_append(c, seg, n > 0 ? (size_t)n : sizeof(c->path));
}

static void path_pop(jctx *c, size_t saved)
{
    c->path_len = saved;
    c->path[saved] = 0;
}

static int jfail(jctx *c, const rh_json *v, const char *key, int code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reports a problem with value v, found under key (NULL: v is the
 * container at the current path itself). */
static int jfail(jctx *c, const rh_json *v, const char *key, int code,
                 const char *fmt, ...)
{
    rh_err *e = c->err;
    if (!e)
        return code;
    e->code = code;
    e->offset = v->pos;
    int n;
    if (key)
        n = snprintf(e->msg, sizeof(e->msg), "%s%s%s: ", c->path,
                     c->path_len ? "." : "", key);
    else
        n = snprintf(e->msg, sizeof(e->msg), "%s: ", c->path_len ? c->path : c->what);
    if (n < 0 || (size_t)n >= sizeof(e->msg))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* "got string" / "got -3" for a type mismatch. */
static int wrong_type(jctx *c, const rh_json *v, const char *key, const char *want)
{
    if (v->type == RH_JSON_INT && v->neg)
        return jfail(c, v, key, RH_EINVAL, "expected %s, got -%llu", want,
                     (unsigned long long)v->u);
    return jfail(c, v, key, RH_EINVAL, "expected %s, got %s", want,
                 rh_json_type_name(v->type));
}

static int arena_get(jctx *c, const rh_json *v, const char *key, size_t count,
                     size_t elem, void **out)
{
    *out = NULL;
    if (count == 0)
        return 0;
    if (!c->arena)
        return jfail(c, v, key, RH_EINVAL, "no arena to hold the result");
    if (count > SIZE_MAX / elem ||
        !(*out = rh_arena_alloc(c->arena, count * elem)))
        return jfail(c, v, key, RH_ECOMPLEX,
                     "needs more memory than the decoding limit allows");
    return 0;
}

#define KEY_IS(m, lit) \
    ((m)->key_len == sizeof(lit) - 1 && memcmp((m)->key, (lit), sizeof(lit) - 1) == 0)

static int want_object(jctx *c, const rh_json *v, const char *key)
{
    return v->type == RH_JSON_OBJECT ? 0 : wrong_type(c, v, key, "an object");
}

/* ---- readers: scalar fields ---------------------------------------------
 * Each leaves *out alone for null (Go's "no-op") and fails on a mistyped
 * value. */

static int get_u64(jctx *c, const rh_json *v, const char *key, uint64_t *out)
{
    if (v->type == RH_JSON_NULL)
        return 0;
    if (!rh_json_as_u64(v, out))
        return wrong_type(c, v, key, "an unsigned integer");
    return 0;
}

/* A member ID: a number, or a hex string as etcd prints IDs. */
static int get_id(jctx *c, const rh_json *v, const char *key, uint64_t *out)
{
    if (v->type == RH_JSON_STRING) {
        if (rh_id_parse_hex(v->s, v->n, out))
            return 0;
        int show = v->n > 24 ? 24 : (int)v->n;
        return jfail(c, v, key, RH_EINVAL,
                     "invalid member ID \"%.*s%s\": want a number or up to 16 hex digits",
                     show, v->s, v->n > 24 ? "..." : "");
    }
    if (v->type == RH_JSON_NULL)
        return 0;
    if (!rh_json_as_u64(v, out))
        return wrong_type(c, v, key, "a member ID (number or hex string)");
    return 0;
}

static int get_bool(jctx *c, const rh_json *v, const char *key, bool *out)
{
    if (v->type == RH_JSON_NULL)
        return 0;
    if (v->type != RH_JSON_TRUE && v->type != RH_JSON_FALSE)
        return wrong_type(c, v, key, "true or false");
    *out = v->type == RH_JSON_TRUE;
    return 0;
}

typedef int (*enum_from_name_fn)(const char *name, size_t len);

/* An int32 enum: its name (via from_name) or a number in int32 range. */
static int get_enum(jctx *c, const rh_json *v, const char *key,
                    enum_from_name_fn from_name, const char *what, int32_t *out)
{
    int64_t i;
    if (v->type == RH_JSON_NULL)
        return 0;
    if (v->type == RH_JSON_STRING) {
        int e = from_name(v->s, v->n);
        if (e >= 0) {
            *out = e;
            return 0;
        }
        int show = v->n > 32 ? 32 : (int)v->n;
        return jfail(c, v, key, RH_EINVAL, "unknown %s \"%.*s%s\"", what, show, v->s,
                     v->n > 32 ? "..." : "");
    }
    if (v->type != RH_JSON_INT)
        return wrong_type(c, v, key, "a type name or number");
    if (!rh_json_as_i64(v, &i) || i < INT32_MIN || i > INT32_MAX)
        return jfail(c, v, key, RH_EINVAL, "%s%llu is out of the int32 range",
                     v->neg ? "-" : "", (unsigned long long)v->u);
    *out = (int32_t)i;
    return 0;
}

/* Present-but-empty bytes need a non-NULL pointer; they point here. */
static const uint8_t empty_bytes[1];

/* Base64 bytes. "" is absent unless RH_MSGJSON_STRICT. */
static int get_bytes(jctx *c, const rh_json *v, const char *key, rh_bytes *out)
{
    if (v->type == RH_JSON_NULL)
        return 0;
    if (v->type != RH_JSON_STRING)
        return wrong_type(c, v, key, "a base64 string");
    if (v->n == 0) {
        out->data = (c->flags & RH_MSGJSON_STRICT) ? empty_bytes : NULL;
        out->len = 0;
        return 0;
    }
    void *mem;
    int rc = arena_get(c, v, key, rh_base64_decoded_max(v->n), 1, &mem);
    if (rc)
        return rc;
    size_t n, bad;
    if (rh_base64_decode(v->s, v->n, mem, &n, &bad))
        return jfail(c, v, key, RH_EINVAL, "invalid base64 at character %zu", bad);
    out->data = mem;
    out->len = n;
    return 0;
}

/* An array of member IDs. */
static int get_ids(jctx *c, const rh_json *v, const char *key, const uint64_t **ids,
                   size_t *n)
{
    if (v->type == RH_JSON_NULL)
        return 0;
    if (v->type != RH_JSON_ARRAY)
        return wrong_type(c, v, key, "an array of IDs");
    void *mem;
    int rc = arena_get(c, v, key, v->n, sizeof(uint64_t), &mem);
    if (rc)
        return rc;
    uint64_t *out = mem;
    size_t saved = path_push_key(c, key);
    for (size_t i = 0; !rc && i < v->n; i++) {
        size_t saved_i = path_push_index(c, i);
        rc = get_id(c, &v->items[i], NULL, &out[i]);
        path_pop(c, saved_i);
    }
    path_pop(c, saved);
    if (rc)
        return rc;
    *ids = out;
    *n = v->n;
    return 0;
}

/* ---- readers: enums by name --------------------------------------------- */

static int name_in(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return -1;
}

static int cc_type_from_name(const char *s, size_t len)
{
    static const char *const names[] = {"ConfChangeAddNode", "ConfChangeRemoveNode",
                                        "ConfChangeUpdateNode",
                                        "ConfChangeAddLearnerNode"};
    return name_in(names, 4, s, len);
}

static int cc_transition_from_name(const char *s, size_t len)
{
    static const char *const names[] = {"ConfChangeTransitionAuto",
                                        "ConfChangeTransitionJointImplicit",
                                        "ConfChangeTransitionJointExplicit"};
    return name_in(names, 3, s, len);
}

/* ---- readers: structures ------------------------------------------------ */

static int read_entry(jctx *c, const rh_json *v, rh_entry *e)
{
    int rc = want_object(c, v, NULL);
    memset(e, 0, sizeof(*e));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "term"))
            rc = get_u64(c, x, "term", &e->term);
        else if (KEY_IS(m, "index"))
            rc = get_u64(c, x, "index", &e->index);
        else if (KEY_IS(m, "type"))
            rc = get_enum(c, x, "type", rh_entry_type_from_name, "entry type", &e->type);
        else if (KEY_IS(m, "data"))
            rc = get_bytes(c, x, "data", &e->data);
    }
    return rc;
}

static int read_conf_state(jctx *c, const rh_json *v, rh_conf_state *cs)
{
    int rc = want_object(c, v, NULL);
    memset(cs, 0, sizeof(*cs));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "voters"))
            rc = get_ids(c, x, "voters", &cs->voters, &cs->n_voters);
        else if (KEY_IS(m, "learners"))
            rc = get_ids(c, x, "learners", &cs->learners, &cs->n_learners);
        else if (KEY_IS(m, "votersOutgoing"))
            rc = get_ids(c, x, "votersOutgoing", &cs->voters_outgoing,
                         &cs->n_voters_outgoing);
        else if (KEY_IS(m, "learnersNext"))
            rc = get_ids(c, x, "learnersNext", &cs->learners_next,
                         &cs->n_learners_next);
        else if (KEY_IS(m, "autoLeave"))
            rc = get_bool(c, x, "autoLeave", &cs->auto_leave);
    }
    return rc;
}

static int read_metadata(jctx *c, const rh_json *v, rh_snapshot_metadata *md)
{
    int rc = want_object(c, v, NULL);
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "index")) {
            rc = get_u64(c, x, "index", &md->index);
        } else if (KEY_IS(m, "term")) {
            rc = get_u64(c, x, "term", &md->term);
        } else if (KEY_IS(m, "confState") && x->type != RH_JSON_NULL) {
            size_t saved = path_push_key(c, "confState");
            rc = read_conf_state(c, x, &md->conf_state);
            path_pop(c, saved);
        }
    }
    return rc;
}

static int read_snapshot(jctx *c, const rh_json *v, rh_snapshot *s)
{
    int rc = want_object(c, v, NULL);
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "data")) {
            rc = get_bytes(c, x, "data", &s->data);
        } else if (KEY_IS(m, "metadata") && x->type != RH_JSON_NULL) {
            size_t saved = path_push_key(c, "metadata");
            memset(&s->metadata, 0, sizeof(s->metadata));
            rc = read_metadata(c, x, &s->metadata);
            path_pop(c, saved);
        }
    }
    return rc;
}

static int read_msg(jctx *c, const rh_json *v, rh_msg *out);

/* An array of objects read by fn into a fresh arena array. */
static int read_array(jctx *c, const rh_json *v, const char *key, size_t elem,
                      int (*fn)(jctx *, const rh_json *, void *), void **items,
                      size_t *n)
{
    if (v->type == RH_JSON_NULL)
        return 0;
    if (v->type != RH_JSON_ARRAY)
        return wrong_type(c, v, key, "an array");
    void *mem;
    int rc = arena_get(c, v, key, v->n, elem, &mem);
    if (rc)
        return rc;
    size_t saved = path_push_key(c, key);
    for (size_t i = 0; i < v->n; i++) {
        size_t saved_i = path_push_index(c, i);
        rc = fn(c, &v->items[i], (char *)mem + i * elem);
        path_pop(c, saved_i);
        if (rc)
            break;
    }
    path_pop(c, saved);
    if (rc)
        return rc;
    *items = mem;
    *n = v->n;
    return 0;
}

static int read_entry_cb(jctx *c, const rh_json *v, void *out)
{
    return read_entry(c, v, out);
}

static int read_msg_cb(jctx *c, const rh_json *v, void *out)
{
    return read_msg(c, v, out);
}

static int read_msg(jctx *c, const rh_json *v, rh_msg *out)
{
    int rc = want_object(c, v, NULL);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        void *arr;
        size_t n;
        if (KEY_IS(m, "type")) {
            rc = get_enum(c, x, "type", rh_msg_type_from_name, "message type", &out->type);
        } else if (KEY_IS(m, "to")) {
            rc = get_id(c, x, "to", &out->to);
        } else if (KEY_IS(m, "from")) {
            rc = get_id(c, x, "from", &out->from);
        } else if (KEY_IS(m, "term")) {
            rc = get_u64(c, x, "term", &out->term);
        } else if (KEY_IS(m, "logTerm")) {
            rc = get_u64(c, x, "logTerm", &out->log_term);
        } else if (KEY_IS(m, "index")) {
            rc = get_u64(c, x, "index", &out->index);
        } else if (KEY_IS(m, "commit")) {
            rc = get_u64(c, x, "commit", &out->commit);
        } else if (KEY_IS(m, "reject")) {
            rc = get_bool(c, x, "reject", &out->reject);
        } else if (KEY_IS(m, "rejectHint")) {
            rc = get_u64(c, x, "rejectHint", &out->reject_hint);
        } else if (KEY_IS(m, "context")) {
            rc = get_bytes(c, x, "context", &out->context);
        } else if (KEY_IS(m, "vote")) {
            rc = get_id(c, x, "vote", &out->vote);
            if (x->type != RH_JSON_NULL)
                out->has_vote = true;
        } else if (KEY_IS(m, "snapshot")) {
            if (x->type != RH_JSON_NULL) {
                size_t saved = path_push_key(c, "snapshot");
                rc = read_snapshot(c, x, &out->snapshot);
                path_pop(c, saved);
                out->has_snapshot = true;
            }
        } else if (KEY_IS(m, "entries")) {
            arr = NULL;
            n = 0;
            rc = read_array(c, x, "entries", sizeof(rh_entry), read_entry_cb, &arr, &n);
            if (!rc) {
                out->entries = arr;
                out->n_entries = n;
            }
        } else if (KEY_IS(m, "responses")) {
            /* the protobuf decoder allows RH_PB_MAX_DEPTH levels of messages */
            if (x->type == RH_JSON_ARRAY && x->n && c->msg_depth + 1 >= RH_PB_MAX_DEPTH) {
                rc = jfail(c, x, "responses", RH_EDEPTH,
                           "messages nested deeper than %d levels", RH_PB_MAX_DEPTH);
                break;
            }
            arr = NULL;
            n = 0;
            c->msg_depth++;
            rc = read_array(c, x, "responses", sizeof(rh_msg), read_msg_cb, &arr, &n);
            c->msg_depth--;
            if (!rc) {
                out->responses = arr;
                out->n_responses = n;
            }
        }
    }
    return rc;
}

/* ---- public readers ----------------------------------------------------- */

int rh_json_to_msg(const rh_json *v, unsigned flags, rh_arena *arena, rh_msg *out,
                   rh_err *err)
{
    jctx c;
    ctx_init(&c, "message", flags, arena, err);
    return read_msg(&c, v, out);
}

int rh_json_to_entry(const rh_json *v, unsigned flags, rh_arena *arena,
                     rh_entry *out, rh_err *err)
{
    jctx c;
    ctx_init(&c, "entry", flags, arena, err);
    return read_entry(&c, v, out);
}

int rh_json_to_snapshot(const rh_json *v, unsigned flags, rh_arena *arena,
                        rh_snapshot *out, rh_err *err)
{
    jctx c;
    ctx_init(&c, "snapshot", flags, arena, err);
    return read_snapshot(&c, v, out);
}

int rh_json_to_conf_state(const rh_json *v, unsigned flags, rh_arena *arena,
                          rh_conf_state *out, rh_err *err)
{
    jctx c;
    ctx_init(&c, "conf state", flags, arena, err);
    return read_conf_state(&c, v, out);
}

int rh_json_to_hard_state(const rh_json *v, unsigned flags, rh_hard_state *out,
                          rh_err *err)
{
    jctx c;
    ctx_init(&c, "hard state", flags, NULL, err);
    int rc = want_object(&c, v, NULL);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "term"))
            rc = get_u64(&c, x, "term", &out->term);
        else if (KEY_IS(m, "vote"))
            rc = get_id(&c, x, "vote", &out->vote);
        else if (KEY_IS(m, "commit"))
            rc = get_u64(&c, x, "commit", &out->commit);
    }
    return rc;
}

int rh_json_to_conf_change(const rh_json *v, unsigned flags, rh_arena *arena,
                           rh_conf_change *out, rh_err *err)
{
    jctx c;
    ctx_init(&c, "conf change", flags, arena, err);
    int rc = want_object(&c, v, NULL);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "id"))
            rc = get_u64(&c, x, "id", &out->id);
        else if (KEY_IS(m, "type"))
            rc = get_enum(&c, x, "type", cc_type_from_name, "conf change type",
                          &out->type);
        else if (KEY_IS(m, "nodeId"))
            rc = get_id(&c, x, "nodeId", &out->node_id);
        else if (KEY_IS(m, "context"))
            rc = get_bytes(&c, x, "context", &out->context);
    }
    return rc;
}

static int read_change_single(jctx *c, const rh_json *v, void *outp)
{
    rh_conf_change_single *out = outp;
    int rc = want_object(c, v, NULL);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "type"))
            rc = get_enum(c, x, "type", cc_type_from_name, "conf change type",
                          &out->type);
        else if (KEY_IS(m, "nodeId"))
            rc = get_id(c, x, "nodeId", &out->node_id);
    }
    return rc;
}

int rh_json_to_conf_change_single(const rh_json *v, unsigned flags,
                                  rh_conf_change_single *out, rh_err *err)
{
    jctx c;
    ctx_init(&c, "conf change", flags, NULL, err);
    return read_change_single(&c, v, out);
}

int rh_json_to_conf_change_v2(const rh_json *v, unsigned flags, rh_arena *arena,
                              rh_conf_change_v2 *out, rh_err *err)
{
    jctx c;
    ctx_init(&c, "conf change", flags, arena, err);
    int rc = want_object(&c, v, NULL);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; !rc && i < v->n; i++) {
        const rh_json_member *m = &v->members[i];
        const rh_json *x = &m->value;
        if (KEY_IS(m, "transition")) {
            rc = get_enum(&c, x, "transition", cc_transition_from_name,
                          "conf change transition", &out->transition);
        } else if (KEY_IS(m, "changes")) {
            void *arr = NULL;
            size_t n = 0;
            rc = read_array(&c, x, "changes", sizeof(rh_conf_change_single),
                            read_change_single, &arr, &n);
            if (!rc) {
                out->changes = arr;
                out->n_changes = n;
            }
        } else if (KEY_IS(m, "context")) {
            rc = get_bytes(&c, x, "context", &out->context);
        }
    }
    return rc;
}

rh_msg *rh_msg_from_json_text(const char *text, size_t len, unsigned flags,
                              rh_err *err)
{
    rh_json_parser p;
    rh_arena arena;
    const rh_json *root;
    rh_msg view, *owned = NULL;
    rh_json_parser_init(&p, 0, 0);
    rh_arena_init(&arena, 0);
    if (rh_json_parse(&p, text, len, &root, err) == 0 &&
        rh_json_to_msg(root, flags, &arena, &view, err) == 0) {
        owned = rh_msg_clone(&view);
        if (!owned && err) {
            err->code = RH_ENOMEM;
            err->offset = 0;
            snprintf(err->msg, sizeof(err->msg), "out of memory copying the message");
        }
    }
    rh_arena_free(&arena);
    rh_json_parser_free(&p);
    return owned;
}
