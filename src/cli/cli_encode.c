/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `rafthttp encode`: JSON Lines of messages in, a stream body out.
 *
 * Each line is parsed into a JSON tree, read as a message in loose mode
 * (docs/json.md) into an arena, and framed by the stream encoder straight
 * into the output buffer; tree and arena are reused line after line. For
 * msgappv2 the encoder keeps etcd's (term, index) state, so consecutive
 * MsgApps come out as AppEntries frames exactly when etcd's would.
 *
 * Failure modes: a line that is not JSON, or not a message, stops the run:
 * the frames of the lines before it are written, an error event naming the
 * line goes to stderr, and the exit status is 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "json/msg_json.h"
#include "rafthttp/stream_codec.h"

/* A line may carry the largest frame a decoder accepts, base64-encoded
 * (4/3 of it), so `decode | encode` works for every stream decode reads. */
#define ENCODE_MAX_LINE ((size_t)RH_STREAM_DEFAULT_MAX_FRAME / 3 * 4 + ((size_t)1 << 20))
/* Arrays and decoded bytes of one message: the frame limit plus room for
 * the entry structs, which are larger than their encoding. */
#define ENCODE_ARENA_LIMIT ((size_t)RH_STREAM_DEFAULT_MAX_FRAME + ((size_t)256 << 20))

const char cli_encode_help[] =
    "NAME\n"
    "    rafthttp encode - write an etcd stream body from JSON Lines\n"
    "\n"
    "SYNOPSIS\n"
    "    rafthttp encode [--stream message|msgappv2] [FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads one message object per line from FILE, or standard input when\n"
    "    FILE is absent or -, and writes the stream body etcd would send for\n"
    "    them on standard output. Messages are written as `rafthttp decode`\n"
    "    prints them (the \"msg\" object), loosely: keys in any order, missing\n"
    "    keys zero, to/from/vote also as hex strings, types as names or numbers,\n"
    "    \"\" or null bytes fields absent. Empty lines are skipped. A\n"
    "    MsgHeartbeat with to = from = 0 is a link heartbeat. Lines of decode's\n"
    "    output are accepted too (recv and linkHeartbeat events), so\n"
    "    `rafthttp decode | rafthttp encode` rebuilds a stream (bytes fields\n"
    "    that were present but empty come back absent).\n"
    "    A bad line stops the run with\n"
    "        {\"event\":\"error\",\"line\":N,\"error\":\"...\"}\n"
    "    on standard error, after the frames of the lines before it.\n"
    "\n"
    "OPTIONS\n"
    "    --stream message|msgappv2  the framing (default message)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 bad line or I/O error; 2 bad usage.\n";

typedef struct encode_args {
    int kind;         /* rh_stream_kind */
    const char *path; /* NULL or "-": stdin */
} encode_args;

static int parse_args(int argc, char **argv, encode_args *a, bool *done)
{
    const char *cmd = "encode";
    bool flags_done = false;
    a->kind = RH_STREAM_MESSAGE;
    a->path = NULL;
    *done = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val;
        int r;
        if (flags_done || arg[0] != '-' || arg[1] == 0) {
            if (a->path)
                return cli_usage_error(cmd, "more than one input file: %s and %s",
                                       a->path, arg);
            a->path = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            flags_done = true;
        } else if (cli_is_help(arg)) {
            fputs(cli_encode_help, stdout);
            return CLI_EXIT_OK;
        } else if ((r = cli_flag(argc, argv, &i, cmd, "stream", &val))) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            if ((a->kind = cli_stream_kind(val)) < 0)
                return cli_usage_error(cmd, "--stream: unknown stream \"%s\" "
                                       "(want message or msgappv2)", val);
        } else {
            return cli_usage_error(cmd, "unknown flag %s", arg);
        }
    }
    *done = false;
    return 0;
}

/* The error event, on stderr, right away. */
static void report_line_error(uint64_t line, const char *msg)
{
    rh_buf b;
    rh_buf_init(&b);
    rh_buf_puts(&b, "{\"event\":\"error\",\"line\":");
    rh_json_put_u64(&b, line);
    rh_buf_puts(&b, ",\"error\":");
    rh_json_put_string(&b, msg, strlen(msg));
    rh_buf_puts(&b, "}\n");
    if (!b.failed)
        fwrite(b.data, 1, b.len, stderr);
    else
        fprintf(stderr, "{\"event\":\"error\",\"line\":%llu,\"error\":\"out of memory\"}\n",
                (unsigned long long)line);
    rh_buf_free(&b);
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

typedef struct encoder_run {
    rh_stream_encoder enc;
    rh_json_parser parser;
    rh_arena arena;
    cli_lines in;
    cli_out *out;
} encoder_run;

static int line_error(rh_err *err, const rh_json *at, const char *msg)
{
    err->code = RH_EINVAL;
    err->offset = at->pos;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return RH_EINVAL;
}

/* The message object of a line: the line itself, or for a line of decode's
 * output the "msg" of a recv event (NULL: a link heartbeat event). */
static int message_of_line(const rh_json *root, const rh_json **msg, rh_err *err)
{
    const rh_json *event = rh_json_get(root, "event");
    *msg = root;
    if (!event)
        return 0;
    if (rh_json_str_eq(event, "linkHeartbeat")) {
        *msg = NULL;
        return 0;
    }
    if (!rh_json_str_eq(event, "recv"))
        return line_error(err, event, "an event other than recv or linkHeartbeat "
                                      "carries no message");
    *msg = rh_json_get(root, "msg");
    if (!*msg || (*msg)->type != RH_JSON_OBJECT)
        return line_error(err, root, "recv event without a \"msg\" object");
    return 0;
}

/* Encodes one non-blank line; 0, or an error with err filled. */
static int encode_line(encoder_run *r, const char *line, size_t len, rh_err *err)
{
    const rh_json *root, *mj;
    rh_msg m;
    int rc = rh_json_parse(&r->parser, line, len, &root, err);
    if (rc || (rc = message_of_line(root, &mj, err)))
        return rc;
    rh_arena_reset(&r->arena);
    if (!mj) {
        memset(&m, 0, sizeof(m)); /* to = from = 0: the link heartbeat */
        m.type = RH_MSG_HEARTBEAT;
    } else if ((rc = rh_json_to_msg(mj, 0, &r->arena, &m, err))) {
        char what[sizeof(err->msg)];
        memcpy(what, err->msg, sizeof(what));
        snprintf(err->msg, sizeof(err->msg), "%.120s (at byte %llu)", what,
                 (unsigned long long)err->offset);
        return rc;
    }
    size_t n = rh_stream_frame_size(&r->enc, &m);
    rh_buf *b = &r->out->buf;
    if (n > CLI_FLUSH_AT && cli_out_flush(r->out)) {
        snprintf(err->msg, sizeof(err->msg), "write stdout: %s", strerror(r->out->err));
        return err->code = RH_EINVAL;
    }
    if (!rh_buf_reserve(b, n)) {
        b->failed = false; /* what the buffer holds is intact: keep it */
        snprintf(err->msg, sizeof(err->msg), "out of memory for a %zu-byte frame", n);
        return err->code = RH_ENOMEM;
    }
    b->len += rh_stream_encode(&r->enc, &m, (uint8_t *)b->data + b->len);
    return 0;
}

static int encode_stream(encoder_run *r)
{
    for (;;) {
        const char *line;
        size_t len;
        rh_err err;
        int rc = cli_lines_next(&r->in, &line, &len);
        if (rc == 0)
            return CLI_EXIT_OK;
        if (rc == CLI_EREAD) {
            fprintf(stderr, "rafthttp encode: read: %s\n", strerror(errno));
            return CLI_EXIT_FAIL;
        }
        if (rc < 0) {
            char msg[96];
            if (rc == RH_ETOOBIG)
                snprintf(msg, sizeof(msg), "line longer than %zu bytes", r->in.max_line);
            else
                snprintf(msg, sizeof(msg), "%s", rh_strerror(rc));
            report_line_error(r->in.lineno, msg);
            return CLI_EXIT_FAIL;
        }
        if (is_blank(line, len))
            continue;
        if (encode_line(r, line, len, &err)) {
            /* frames of the good lines first, then what stopped us */
            cli_out_flush(r->out);
            report_line_error(r->in.lineno, err.msg);
            return CLI_EXIT_FAIL;
        }
        if (cli_out_maybe_flush(r->out))
            return CLI_EXIT_FAIL; /* reported by the caller */
    }
}

int cli_encode_main(int argc, char **argv)
{
    encode_args a;
    bool done;
    int status = parse_args(argc, argv, &a, &done);
    if (done)
        return status;
    int fd = cli_open_input("encode", a.path);
    if (fd < 0)
        return CLI_EXIT_FAIL;
    cli_out out;
    encoder_run r;
    cli_out_init(&out, STDOUT_FILENO);
    rh_stream_encoder_init(&r.enc, a.kind);
    rh_json_parser_init(&r.parser, ENCODE_MAX_LINE, 0);
    rh_arena_init(&r.arena, ENCODE_ARENA_LIMIT);
    cli_lines_init(&r.in, fd, ENCODE_MAX_LINE);
    r.out = &out;
    status = encode_stream(&r);
    if (cli_out_flush(&out)) {
        fprintf(stderr, "rafthttp encode: write stdout: %s\n", strerror(out.err));
        status = CLI_EXIT_FAIL;
    }
    cli_lines_free(&r.in);
    rh_arena_free(&r.arena);
    rh_json_parser_free(&r.parser);
    cli_out_free(&out);
    if (fd != STDIN_FILENO)
        close(fd);
    return status;
}
