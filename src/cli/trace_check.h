/* Judging replicas from their traces (docs/traces.md): the one reader and
 * judge behind `causeway check` (check_cmd.c) and `causeway stress
 * --processes` (procs.c). Traces are read into per-node event lists, a
 * restarted node's incarnations are split into history nodes, the writes
 * are tabled, and every node's events are replayed into a ground-truth
 * history (causeway/verify.h), which judges them. */
#ifndef CW_CLI_TRACE_CHECK_H
#define CW_CLI_TRACE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/verify.h>

/* Nodes a trace may name (ids 0..63), restarts in all; history nodes: one
 * a node, and one more for each restart (its new incarnation). */
#define CLI_TRACE_MAX_NODES 64u
#define CLI_TRACE_MAX_RESTARTS 64u
#define CLI_TRACE_HMAX (CLI_TRACE_MAX_NODES + CLI_TRACE_MAX_RESTARTS)
/* Trace files one judge reads, at most. */
#define CLI_TRACE_MAX_FILES 256u
/* The longest trace line read, in bytes (its newline aside): a node writes
 * lines of a few KiB at most (a clock of 64 nodes, a key of 4 KiB escaped,
 * a read's few dots); a longer one is malformed, so that a file that is not
 * a trace (/dev/zero) is refused, not read until memory runs out. */
#define CLI_TRACE_MAX_LINE ((size_t)1 << 20)

enum { CLI_EV_WRITE, CLI_EV_APPLY, CLI_EV_READ, CLI_EV_INSTALL, CLI_EV_BOUNDARY, CLI_EV_SKIP };

typedef struct cli_trace_event {
    uint8_t kind;
    bool del;
    bool told;                  /* WRITE: a context write; read lists what it replaced */
    bool own_read;              /* read is the judge's (freed with the event) */
    uint32_t node;              /* the "node" field */
    uint32_t origin;            /* WRITE, APPLY: the dot */
    uint64_t seq;
    uint32_t file;              /* where: index into the judge's files, and the line from 1 */
    uint64_t line;
    char *key;                  /* key_len bytes (NUL bytes may be among them), then a NUL */
    size_t key_len;
    uint64_t *clock, *context;  /* n counters (hn after cli_trace_split) */
    uint64_t *past;             /* WRITE replayed with a clock other than its true past: that past */
    cw_history_dot *dots;       /* READ: the versions returned */
    size_t ndots;
    const cw_history_dot *read; /* WRITE with told: the versions it replaced */
    size_t nread;
    void *rec;                  /* the caller's: procs.c's client record */
} cli_trace_event;

typedef struct cli_trace_list {
    cli_trace_event *ev;
    size_t n, cap;
    size_t boundary;            /* index of CLI_EV_BOUNDARY, or SIZE_MAX */
} cli_trace_list;

/* The first violation with where it was found (causeway check names it). */
typedef struct cli_trace_fault {
    const char *rule;           /* NULL: none yet */
    uint32_t file;
    uint64_t line;              /* 0: no line (the whole trace) */
    uint32_t node;
    char text[512];
} cli_trace_fault;

typedef struct cli_trace_judge {
    uint32_t n;                    /* nodes */
    uint32_t hn;                   /* history nodes: n + restarts */
    uint32_t restarts;             /* restart j: history node n + j is node inc_node[j]'s new */
    uint32_t inc_node[CLI_TRACE_MAX_RESTARTS]; /* incarnation, which installed its own writes */
    uint64_t inc_bound[CLI_TRACE_MAX_RESTARTS]; /* up to inc_bound[j] (a node's in order) */
    int kx;                        /* the first restart's node (procs.c kills one), or -1 */
    uint64_t bound;                /* and its inc_bound */
    const char *files[CLI_TRACE_MAX_FILES]; /* borrowed names, for locations */
    uint32_t nfiles;
    cli_trace_list ev[CLI_TRACE_HMAX]; /* [history node] */
    cw_msg **msgs[CLI_TRACE_HMAX];     /* [origin][seq]: the write fed to the history */
    cli_trace_event **wev[CLI_TRACE_HMAX]; /* [origin][seq]: its event */
    uint64_t maxseq[CLI_TRACE_HMAX];
    cw_history *h;
    cli_trace_event **reads;       /* the reads recorded with the history, in its order */
    cli_trace_event **by_key;      /* cli_trace_table with derive: the writes, cli_trace_by_key */
    size_t nwrites;
    size_t nreads, reads_cap;
    char violation[512];           /* the judge's own first violation (procs.c prints it) */
    cli_trace_fault first;         /* the first violation, judge's or history's, located */
    bool sabotage, sabotaged;      /* --sabotage-history: one write's clock tampered with */
    bool lww;                      /* check --policy lww: reads judged by an untimed LWW history */
    uint64_t trace_lines, joining_reads;
    uint64_t truncated;            /* lines a kill cut short, dropped */
    uint64_t lost;                 /* writes lost with a killed process (reached no survivor) */
    uint64_t reused;               /* of their dots, written again by the new incarnation */
    uint64_t lost_reads;           /* reads by the killed process that returned a lost write (not judged) */
} cli_trace_judge;

/* A key as a message shows it: its first CLI_TRACE_KEY_SHOWN bytes at most
 * (cut between characters, a NUL among them as '?'), then, if it is longer,
 * "... (a key of N bytes)"; into buf (cap bytes: CLI_TRACE_KEY_SHOWN + 48
 * hold it all), which it returns. */
#define CLI_TRACE_KEY_SHOWN 48
const char *cli_trace_key(const cli_trace_event *e, char *buf, size_t cap);

/* Makes s safe to show and valid UTF-8, in place: control characters
 * (C0, DEL, C1) and every byte that is not part of valid UTF-8 become '?'. */
void cli_printable(char *s);

/* Readies J (zeroed by the caller) for n nodes; n 0: taken from the traces
 * (cli_trace_read with node -1, then cli_trace_nodes). */
void cli_trace_init(cli_trace_judge *J, uint32_t n);

/* Reads trace `path` into J's event lists; its events keep their order.
 * node >= 0: the file is that node's (stress): every line must say so, and
 * a malformed line is a violation, or, when the line ends at `boundary`
 * (the killed incarnation's end, or -1) and `truncated`, a line the kill
 * cut (counted). node -1 (check): lines name their node; a malformed line
 * is CW_EINVAL with the reason, "FILE:LINE: ...", in err, unless a crash
 * cut it short: the restart's install follows it (after empty reads), and
 * it is dropped (counted). CW_EIO (err: the file cannot be read),
 * CW_ENOMEM, CW_ELIMIT (too many files). */
int cli_trace_read(cli_trace_judge *J, const char *path, int node, long boundary, bool truncated, char *err,
                   size_t cap);

/* After cli_trace_read with node -1: sets J->n from the ids the traces name,
 * and marks each restart (an install after its node did anything but read
 * nothing: the empty reads just before it are the new incarnation's,
 * joining). CW_EINVAL with
 * the reason in err (no events), CW_ELIMIT (too many restarts), CW_ENOMEM. */
int cli_trace_nodes(cli_trace_judge *J, char *err, size_t cap);

/* Splits restarted nodes' incarnations (restart j: history node n + j),
 * marks each dead one's writes that reached no survivor as lost, and
 * renames every dot and clock (cli_trace_map_dot, cli_trace_map_clock).
 * CW_ENOMEM, CW_ELIMIT. */
int cli_trace_split(cli_trace_judge *J);

/* History node h's next incarnation, or UINT32_MAX: h ran to the end. */
uint32_t cli_trace_next(const cli_trace_judge *J, uint32_t h);

/* A dot, a clock (malloc'd, hn counters; NULL when out of memory or c is
 * NULL) as the history names them after the split. */
void cli_trace_map_dot(const cli_trace_judge *J, uint32_t *o, uint64_t *s);
uint64_t *cli_trace_map_clock(const cli_trace_judge *J, const uint64_t *c);

/* Counts every history node's writes (a bound for cw_history_create). */
uint64_t cli_trace_max_writes(const cli_trace_judge *J);

/* Creates J->h for J->hn history nodes: keep-siblings, or, with J->lww,
 * last-writer-wins with the winner unknown (cw_history_set_untimed: traces
 * carry no timestamps). CW_ENOMEM. */
int cli_trace_history(cli_trace_judge *J);

/* The rule a read's violation is named by: "read siblings", or "read lww". */
const char *cli_trace_read_rule(const cli_trace_judge *J);

/* Tables the writes (msgs, wev; a dot written twice is a violation), after
 * J->h is created. derive: each context write replaces the writes to its
 * key that its context covers (told, read), as causeway check takes it,
 * and by_key lists the writes. CW_ENOMEM. */
int cli_trace_table(cli_trace_judge *J, bool derive);

/* Replays every history node's events into the history, each node in its
 * own order and every write before its applications elsewhere; then brings
 * a killed incarnation up to every write (it has no final state). */
void cli_trace_replay(cli_trace_judge *J);

/* Writes of history node k that some node applied: how far k wrote. */
uint64_t cli_trace_known(const cli_trace_judge *J, uint32_t k);

/* Whether two events name the same key (bytes, NUL bytes included). */
bool cli_trace_same_key(const cli_trace_event *a, const cli_trace_event *b);
/* qsort's order of event pointers: by key, then node, then where in the
 * traces (file, line): a node's own order. */
int cli_trace_by_key(const void *a, const void *b);

/* Frees every event and table and the history. */
void cli_trace_free(cli_trace_judge *J);

/* The judge's own violation (the first is kept, located at e, or nowhere
 * when e is NULL). */
void cli_trace_violate(cli_trace_judge *J, const cli_trace_event *e, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
