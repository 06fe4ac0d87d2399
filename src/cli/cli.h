/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rafthttp command line: shared pieces of the subcommands.
 *
 * main.c dispatches argv[1] to a subcommand through its table; a subcommand
 * is a function taking the arguments after the program name (argv[0] is the
 * subcommand's own name) and returning the exit status. To add one, write
 * cli_<name>.c with its main and help text and add a row to the table.
 *
 * Exit statuses are the same everywhere: 0 success, 1 bad input or I/O
 * failure (what went wrong is reported as an event or on stderr), 2 bad
 * usage (one line on stderr).
 */
#ifndef RH_CLI_CLI_H
#define RH_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "rafthttp/version.h"

#define CLI_VERSION RH_VERSION_STRING

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Bytes per read(2) of an input. */
#define CLI_READ_CHUNK ((size_t)64 * 1024)
/* Output is written once this much is buffered. */
#define CLI_FLUSH_AT ((size_t)64 * 1024)

/* ---- subcommands -------------------------------------------------------- */

int cli_decode_main(int argc, char **argv);
int cli_encode_main(int argc, char **argv);
extern const char cli_decode_help[];
int cli_bench_main(int argc, char **argv);
extern const char cli_bench_help[];
extern const char cli_encode_help[];

/* ---- arguments ---------------------------------------------------------- */

/* Prints "rafthttp CMD: <message> (see 'rafthttp CMD --help')" on stderr and
 * returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Matches argv[*i] against flag `name` written as -name, --name (value in
 * the next argument) or -name=V / --name=V. Returns 1 and sets *value
 * (advancing *i past a separate value), 0 when argv[*i] is another flag, or
 * -1 after reporting a missing value (the caller exits 2). */
int cli_flag(int argc, char **argv, int *i, const char *cmd, const char *name,
             const char **value);
/* Parses the member ID value of flag --name (hex as etcd prints IDs,
 * optional 0x). 0, or CLI_EXIT_USAGE after reporting a bad value. */
int cli_id_flag(const char *cmd, const char *name, const char *value, uint64_t *out);
/* -h, -help, --help. */
bool cli_is_help(const char *arg);
/* "message" / "msgappv2" -> rh_stream_kind; -1 otherwise. */
int cli_stream_kind(const char *s);

/* Opens path for reading ("-" or NULL: stdin). On failure reports it on
 * stderr and returns -1. */
int cli_open_input(const char *cmd, const char *path);

/* ---- output ------------------------------------------------------------- */

/* A buffered writer to a file descriptor. Callers append to buf and call
 * cli_out_maybe_flush after each record. */
typedef struct cli_out {
    int fd;     /* not owned */
    rh_buf buf; /* pending bytes, owned */
    int err;    /* errno of the first failed write, 0 if none */
} cli_out;

void cli_out_init(cli_out *o, int fd);
void cli_out_free(cli_out *o);
/* Writes everything buffered; -1 (and o->err set) on failure. */
int cli_out_flush(cli_out *o);
/* Flushes when CLI_FLUSH_AT bytes are buffered. */
int cli_out_maybe_flush(cli_out *o);

/* ---- line input --------------------------------------------------------- */

typedef struct cli_lines {
    int fd;          /* not owned */
    char *buf;       /* owned */
    size_t cap;      /* bytes allocated */
    size_t start;    /* unread data is buf[start .. end) */
    size_t end;
    size_t scanned;  /* bytes after start known to hold no newline */
    size_t max_line; /* longest line accepted, without its newline */
    bool eof;        /* read(2) returned 0 */
    uint64_t lineno; /* 1-based number of the line last returned */
} cli_lines;

void cli_lines_init(cli_lines *r, int fd, size_t max_line);
void cli_lines_free(cli_lines *r);
/* A failed read(2); errno says why. Not an rh_errcode. */
#define CLI_EREAD (-100)

/* Next line without its "\n" (a final line may lack one): 1 with the line set
 * (valid until the next call); 0 at end of input, RH_ETOOBIG for a line over
 * max_line (lineno counts it), RH_ENOMEM, or CLI_EREAD. */
int cli_lines_next(cli_lines *r, const char **line, size_t *len);

#endif
