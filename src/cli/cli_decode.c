/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `rafthttp decode`: a stream body in, one JSON line per frame out.
 *
 * The input is read in CLI_READ_CHUNK pieces and fed to the incremental
 * stream decoder as it comes, so memory stays at one chunk plus the largest
 * frame no matter how long the stream is. A frame that completes inside a
 * chunk is printed straight from it (the decoder does not copy it).
 *
 * Failure modes: a frame the decoder rejects, or an input that ends inside a
 * frame, prints an error event carrying the stream offset of that frame's
 * first byte, after the events of every complete frame before it, and exits
 * 1. A read or write failure is reported on stderr and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "json/msg_json.h"
#include "rafthttp/stream_codec.h"

const char cli_decode_help[] =
    "NAME\n"
    "    rafthttp decode - print an etcd stream body as JSON Lines\n"
    "\n"
    "SYNOPSIS\n"
    "    rafthttp decode [--stream message|msgappv2] [--local ID --remote ID] [FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads the body of an etcd peer stream (/raft/stream/message or\n"
    "    /raft/stream/msgapp) from FILE, or standard input when FILE is absent\n"
    "    or -, and prints one line per frame:\n"
    "        {\"event\":\"recv\",\"via\":\"streamMsg\",\"msg\":{...}}\n"
    "        {\"event\":\"linkHeartbeat\"}\n"
    "    (\"via\":\"streamMsgAppV2\" for msgappv2). At a malformed frame, or an\n"
    "    input ending inside one, it prints\n"
    "        {\"event\":\"error\",\"offset\":N,\"error\":\"...\"}\n"
    "    with N the byte offset of that frame's first byte, and exits 1.\n"
    "\n"
    "OPTIONS\n"
    "    --stream message|msgappv2  the framing (default message)\n"
    "    --local ID, --remote ID    msgappv2: the receiving and the sending member,\n"
    "                               hex as etcd prints IDs (default 0); they are\n"
    "                               the To and From of MsgApps that AppEntries\n"
    "                               frames imply\n"
    "\n"
    "EXIT STATUS\n"
    "    0 clean end of input; 1 bad frame or I/O error; 2 bad usage.\n";

typedef struct decode_args {
    int kind;         /* rh_stream_kind */
    uint64_t local;   /* msgappv2: To of inferred MsgApps */
    uint64_t remote;  /* msgappv2: From of inferred MsgApps */
    const char *path; /* NULL or "-": stdin */
} decode_args;

/* 0 when parsed; an exit status (help printed, or a usage error) otherwise,
 * with *done set. */
static int parse_args(int argc, char **argv, decode_args *a, bool *done)
{
    const char *cmd = "decode";
    bool flags_done = false;
    memset(a, 0, sizeof(*a));
    a->kind = RH_STREAM_MESSAGE;
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
            fputs(cli_decode_help, stdout);
            return CLI_EXIT_OK;
        } else if ((r = cli_flag(argc, argv, &i, cmd, "stream", &val))) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            if ((a->kind = cli_stream_kind(val)) < 0)
                return cli_usage_error(cmd, "--stream: unknown stream \"%s\" "
                                       "(want message or msgappv2)", val);
        } else if ((r = cli_flag(argc, argv, &i, cmd, "local", &val))) {
            if (r < 0 || cli_id_flag(cmd, "local", val, &a->local))
                return CLI_EXIT_USAGE;
        } else if ((r = cli_flag(argc, argv, &i, cmd, "remote", &val))) {
            if (r < 0 || cli_id_flag(cmd, "remote", val, &a->remote))
                return CLI_EXIT_USAGE;
        } else {
            return cli_usage_error(cmd, "unknown flag %s", arg);
        }
    }
    *done = false;
    return 0;
}

/* Appends the event line for one decoded frame. */
static void put_frame_event(rh_buf *b, const char *via, const rh_msg *m)
{
    if (rh_msg_is_link_heartbeat(m)) {
        rh_buf_puts(b, "{\"event\":\"linkHeartbeat\"}\n");
        return;
    }
    rh_buf_puts(b, "{\"event\":\"recv\",\"via\":\"");
    rh_buf_puts(b, via);
    rh_buf_puts(b, "\",\"msg\":");
    rh_json_put_msg(b, m);
    rh_buf_puts(b, "}\n");
}

static void put_error_event(rh_buf *b, uint64_t offset, const char *msg)
{
    rh_buf_puts(b, "{\"event\":\"error\",\"offset\":");
    rh_json_put_u64(b, offset);
    rh_buf_puts(b, ",\"error\":");
    rh_json_put_string(b, msg, strlen(msg));
    rh_buf_puts(b, "}\n");
}

/* Feeds the whole input through the decoder, printing as frames complete.
 * Returns the exit status. */
static int decode_stream(int fd, const char *name, const decode_args *a, cli_out *out)
{
    rh_stream_decoder_opts o = {.kind = a->kind, .local = a->local, .remote = a->remote};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    uint8_t *chunk = malloc(CLI_READ_CHUNK);
    const char *via = a->kind == RH_STREAM_MESSAGE ? "streamMsg" : "streamMsgAppV2";
    int status = CLI_EXIT_OK;
    if (!d || !chunk) {
        fprintf(stderr, "rafthttp decode: out of memory\n");
        status = CLI_EXIT_FAIL;
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, CLI_READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "rafthttp decode: read %s: %s\n", name, strerror(errno));
            status = CLI_EXIT_FAIL;
            goto done;
        }
        if (n == 0)
            break;
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used;
            rh_msg m;
            rh_err err;
            int rc = rh_stream_decoder_feed(d, chunk + off, (size_t)n - off, &used, &m,
                                            &err);
            off += used;
            if (rc < 0) {
                put_error_event(&out->buf, err.offset, err.msg);
                status = CLI_EXIT_FAIL;
                goto done;
            }
            if (rc == 1)
                put_frame_event(&out->buf, via, &m); /* m points into chunk */
            if (cli_out_maybe_flush(out))
                goto done;
        }
    }
    if (!rh_stream_decoder_at_boundary(d)) {
        uint64_t start = rh_stream_decoder_frame_offset(d);
        char msg[128];
        snprintf(msg, sizeof(msg),
                 "truncated frame: stream ends inside a frame (%llu of its bytes "
                 "present)",
                 (unsigned long long)(rh_stream_decoder_offset(d) - start));
        put_error_event(&out->buf, start, msg);
        status = CLI_EXIT_FAIL;
    }
done:
    free(chunk);
    rh_stream_decoder_free(d);
    return status;
}

int cli_decode_main(int argc, char **argv)
{
    decode_args a;
    bool done;
    int status = parse_args(argc, argv, &a, &done);
    if (done)
        return status;
    int fd = cli_open_input("decode", a.path);
    if (fd < 0)
        return CLI_EXIT_FAIL;
    cli_out out;
    cli_out_init(&out, STDOUT_FILENO);
    status = decode_stream(fd, a.path ? a.path : "stdin", &a, &out);
    if (cli_out_flush(&out)) {
        fprintf(stderr, "rafthttp decode: write stdout: %s\n", strerror(out.err));
        status = CLI_EXIT_FAIL;
    }
    cli_out_free(&out);
    if (fd != STDIN_FILENO)
        close(fd);
    return status;
}
