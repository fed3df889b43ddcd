/* causeway stress --processes: the ground-truth stress against `causeway
 * node` processes that it starts itself (procs.c). */
#ifndef CW_CLI_PROCS_H
#define CW_CLI_PROCS_H

#include <stdbool.h>
#include <stdint.h>

/* The most final reads (--processes x --keys): every key is read at every
 * node at the end, one request each, results held together. */
#define CLI_PROCS_MAX_READS (1u << 20)
/* --kill without --data: the killed node's own clients pause this long
 * (seconds) before the kill, so its writes reach its peers. */
#define CLI_PROCS_KILL_QUIET_S 0.25

typedef struct cli_procs_options {
    uint32_t nodes, keys, clients;
    uint64_t writes, seed;        /* writes: in all, or at most with duration */
    double duration;              /* 0: until writes are made */
    int key_dist;                 /* 0 uniform, 1 zipfian */
    double zipf_theta;
    double reads, rmw, deletes;   /* fractions, as the in-process stress */
    double drop, delay, dup;      /* passed to every node */
    uint32_t max_delay_us, value_size;
    int stop_node;                /* --stop I:A:B (-1: none): SIGSTOP at A s, SIGCONT at B s */
    double stop_at, cont_at;
    int kill_node;                /* --kill I:A (-1: none): SIGKILL at A s, restarted at once */
    double kill_at;
    double part_start, part_len;  /* --partition START:LEN (len 0: none): the halves' links cut or held */
    bool part_hold;               /* --partition-kind hold: held (then released), not cut (then healed) */
    bool sabotage;                /* tamper with one write's clock as read from its trace (must FAIL) */
    bool keep_traces;             /* keep the run's directory after a pass too (the traces, for causeway check) */
    bool data;                    /* durable nodes (--data in the run's directory); a kill restarts on it */
    double converge_within;       /* seconds the nodes may take to agree once the clients stop */
    const char *json, *history;
    const char *replay;           /* the command line that replays the run */
} cli_procs_options;

/* Parses --stop I:A:B (stop) or --kill I:A (kill) into o; false when the
 * text is malformed or out of range for o->nodes. */
bool cli_procs_parse_stop(cli_procs_options *o, const char *text);
bool cli_procs_parse_kill(cli_procs_options *o, const char *text);

/* Runs the stress against o->nodes node processes: the exit status
 * (CLI_OK only when the ground-truth checker passed). */
int cli_procs_stress(const cli_procs_options *o);

#endif
