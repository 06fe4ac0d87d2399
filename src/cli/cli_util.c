/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the subcommands: flag matching, opening inputs, a
 * buffered output and a bounded line reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "json/msg_json.h"
#include "rafthttp/stream_codec.h"

/* ---- arguments ---------------------------------------------------------- */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "rafthttp%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'rafthttp%s%s --help'\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_flag(int argc, char **argv, int *i, const char *cmd, const char *name,
             const char **value)
{
    const char *a = argv[*i];
    if (a[0] != '-')
        return 0;
    a += a[1] == '-' ? 2 : 1; /* Go's flag package takes -x and --x alike */
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "flag --%s needs a value", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_id_flag(const char *cmd, const char *name, const char *value, uint64_t *out)
{
    if (rh_id_parse_hex(value, strlen(value), out))
        return 0;
    return cli_usage_error(cmd, "--%s: bad member ID \"%s\" (want hex as etcd "
                           "prints IDs, e.g. 8e9e05c52164694d)", name, value);
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 ||
           strcmp(arg, "-help") == 0;
}

int cli_stream_kind(const char *s)
{
    if (strcmp(s, "message") == 0)
        return RH_STREAM_MESSAGE;
    if (strcmp(s, "msgappv2") == 0)
        return RH_STREAM_MSGAPPV2;
    return -1;
}

int cli_open_input(const char *cmd, const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return STDIN_FILENO;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        fprintf(stderr, "rafthttp %s: open %s: %s\n", cmd, path, strerror(errno));
    return fd;
}

/* ---- output ------------------------------------------------------------- */

void cli_out_init(cli_out *o, int fd)
{
    o->fd = fd;
    o->err = 0;
    rh_buf_init(&o->buf);
}

void cli_out_free(cli_out *o)
{
    rh_buf_free(&o->buf);
}

int cli_out_flush(cli_out *o)
{
    if (o->buf.failed && !o->err)
        o->err = ENOMEM;
    size_t off = 0;
    while (!o->err && off < o->buf.len) {
        ssize_t n = write(o->fd, o->buf.data + off, o->buf.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            o->err = errno;
            break;
        }
        off += (size_t)n;
    }
    rh_buf_reset(&o->buf);
    return o->err ? -1 : 0;
}

int cli_out_maybe_flush(cli_out *o)
{
    if (o->buf.len < CLI_FLUSH_AT && !o->buf.failed)
        return 0;
    return cli_out_flush(o);
}

/* ---- line input --------------------------------------------------------- */

void cli_lines_init(cli_lines *r, int fd, size_t max_line)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->max_line = max_line;
}

void cli_lines_free(cli_lines *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* Room for one more read at buf[end]; the buffer never exceeds what a
 * longest-allowed line and one read need. */
static int lines_make_room(cli_lines *r)
{
    if (r->start && r->buf) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end >= CLI_READ_CHUNK)
        return 0;
    /* end <= max_line here (a longer line was refused), so want <= most */
    size_t want = r->end + CLI_READ_CHUNK;
    size_t most = r->max_line + 1 + CLI_READ_CHUNK;
    size_t cap = r->cap ? r->cap : CLI_READ_CHUNK;
    while (cap < want)
        cap *= 2;
    if (cap > most)
        cap = most;
    char *b = realloc(r->buf, cap);
    if (!b)
        return RH_ENOMEM;
    r->buf = b;
    r->cap = cap;
    return 0;
}

int cli_lines_next(cli_lines *r, const char **line, size_t *len)
{
    for (;;) {
        size_t have = r->end - r->start;
        char *from = r->buf ? r->buf + r->start : r->buf; /* NULL before the first read */
        char *nl = from && have > r->scanned ? memchr(from + r->scanned, '\n', have - r->scanned)
                                     : NULL;
        if (nl && (size_t)(nl - from) <= r->max_line) {
            *line = from;
            *len = (size_t)(nl - from);
            r->start += *len + 1;
            r->scanned = 0;
            r->lineno++;
            return 1;
        }
        if (nl || have > r->max_line) {
            r->lineno++;
            return RH_ETOOBIG;
        }
        r->scanned = have;
        if (r->eof) {
            if (!have)
                return 0;
            *line = from;
            *len = have;
            r->start = r->end;
            r->scanned = 0;
            r->lineno++;
            return 1;
        }
        int rc = lines_make_room(r);
        if (rc)
            return rc;
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return CLI_EREAD;
        }
        if (n == 0)
            r->eof = true;
        r->end += (size_t)n;
    }
}
