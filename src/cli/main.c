/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rafthttp: the command-line entry point. Dispatches to a subcommand by
 * name; see cli.h for how subcommands plug in.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/node.h"

typedef struct cli_command {
    const char *name;                 /* argv[1] */
    int (*run)(int argc, char **argv); /* gets argv from the name on */
    const char *help;                 /* man-page style text for --help */
} cli_command;

static const cli_command commands[] = {
    {"bench", cli_bench_main, cli_bench_help},
    {"decode", cli_decode_main, cli_decode_help},
    {"encode", cli_encode_main, cli_encode_help},
    {"node", cli_node_main, cli_node_help},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char main_help[] =
    "NAME\n"
    "    rafthttp - etcd's raft peer transport in C: command-line tools\n"
    "\n"
    "SYNOPSIS\n"
    "    rafthttp decode [--stream message|msgappv2] [--local ID --remote ID] [FILE]\n"
    "    rafthttp encode [--stream message|msgappv2] [FILE]\n"
    "    rafthttp node --id ID --cluster-id ID --listen URL [--peer ID=URL]... [OPTIONS]\n"
    "    rafthttp bench --case msgappv2|message|heartbeat|rtt [--size BYTES] [--seconds S]\n"
    "    rafthttp help [COMMAND]\n"
    "    rafthttp --version\n"
    "\n"
    "DESCRIPTION\n"
    "    decode   print an etcd stream body (what a peer sends on\n"
    "             /raft/stream/...) as JSON Lines, one event per frame\n"
    "    encode   write a stream body from JSON Lines of messages\n"
    "    node     run one transport member: messages and commands in on\n"
    "             stdin, events out on stdout (JSON Lines)\n"
    "    bench    two transports in one process over loopback: throughput,\n"
    "             CPU and round-trip time\n"
    "\n"
    "    Messages are JSON objects with etcd raftpb's fields in lowerCamel,\n"
    "    enums by name, bytes as standard base64, e.g.\n"
    "        {\"type\":\"MsgHeartbeat\",\"to\":2,\"from\":1,\"term\":5,\"commit\":9}\n"
    "    'rafthttp help COMMAND' describes a command.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 bad input or I/O error; 2 bad usage.\n";

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(NULL, "missing command");
    const char *name = argv[1];
    if (cli_is_help(name)) {
        fputs(main_help, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-version") == 0 ||
        strcmp(name, "version") == 0) {
        puts("rafthttp " CLI_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            fputs(main_help, stdout);
            return CLI_EXIT_OK;
        }
        const cli_command *c = find_command(argv[2]);
        if (!c)
            return cli_usage_error(NULL, "unknown command \"%s\"", argv[2]);
        fputs(c->help, stdout);
        return CLI_EXIT_OK;
    }
    const cli_command *c = find_command(name);
    if (!c) {
        if (name[0] == '-')
            return cli_usage_error(NULL, "unknown flag %s", name);
        return cli_usage_error(NULL, "unknown command \"%s\"", name);
    }
    return c->run(argc - 1, argv + 1);
}
