/* The replica's state, shared by the files that make up one replica:
 * node.c (writes, delivery, reads) and recovery.c (loss recovery and causal
 * stability). Nothing outside the replica layer includes it. */
#ifndef CW_NODE_STATE_H
#define CW_NODE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/dclock.h>
#include <causeway/node.h>

#include "buffer.h"
#include "histogram.h"
#include "log.h"
#include "store.h"

/* What a replica knows of one origin's writes beyond its own clock, and its
 * recovery of the ones it misses (recovery.c). */
typedef struct cw__gap {
    uint64_t seen;            /* the highest seq of this origin known to exist */
    uint64_t strong_seen;     /* ... that the origin itself sent before a message that
                                 came (its later write, buffered, or its report) */
    uint64_t heard_ns;        /* when the origin itself last sent here a write or report (0: never) */
    uint64_t spoke_ns;        /* when node `origin`, as a peer, last sent here anything of
                                 its own: a write, a report, a pull (0: never; talks) */
    uint64_t spoke_gap_ns;    /* the longest time lately between two such words while this
                                 node missed writes (spoke, talks) */
    uint64_t mark_seq;        /* seen, as of mark_ns: seqs up to it were known then */
    uint64_t mark_ns;
    uint64_t pulled_v;        /* V[origin] when the last pull was sent */
    uint64_t pulled_upto;     /* the highest seq the window asked for */
    uint64_t window_v;        /* V[origin] when the window was asked whole (a full pull) */
    uint32_t target;          /* the peer the window's pulls went to */
    uint64_t pull_next_ns;    /* no pull before this (back-off) */
    uint32_t seen_from;       /* a node that holds `seen` (it said so) */
    uint32_t attempts;        /* the rotation's turn (pull_target): windows sent since
                                 V[origin] last moved, and silent peers' turns passed
                                 over (next_target) */
    uint32_t span;            /* seqs past V a window asks for (recovery.c) */
    bool choked;              /* an answer was refused for a full buffer since V moved */
    uint64_t choked_v;        /* V[origin] at the last such refusal: V moved since
                                 when it differs (a window sliding on hides the move
                                 from pulled_v) */
    bool answered;            /* an answer was buffered since the last window timed out
                                 (tick_gap: with V + 1 still missing, a lossy path) */
    bool lost;                /* the host said a message from the origin was lost
                                 while this gap was open: a loss, not a delay */
    uint64_t answer_lost;     /* the highest seq whose answer from the window's peer was lost
                                 (cw__node_answer_lost); 0: none */
    bool window_lossy;        /* the host said an answer to this window was lost */
    uint8_t slow;             /* this origin's timeout is recovery_timeout << slow:
                                 raised by answers that came too late (the write
                                 was there already), lowered by answers used */
    uint8_t backoff;          /* the timeout's doublings since V[origin] last moved
                                 (tick_gap), at most MAX_BACKOFF_SHIFT */
    uint8_t tries;            /* windows to peers that talk since the last doubling */
} cw__gap;

/* Causal stability: the pointwise minimum of what every node has applied.
 * A round collects one applied clock from each peer (a report, or a write,
 * whose clock is what its origin had applied); when every peer has been
 * heard, the minimum of those and this node's clock is a lower bound of the
 * minimum now, and stable moves up to it. */
/* Tombstones that became stable in one round, waiting until no write
 * concurrent with them can still arrive (recovery.c, "Tombstones"). */
typedef struct cw__tomb_group {
    uint64_t *bar;            /* nodes counters: collectable once stable >= bar */
    cw_msg **msgs;
    size_t len;
} cw__tomb_group;

typedef struct cw__stability {
    uint64_t *stable;         /* nodes counters */
    uint64_t *round_min;      /* the running minimum of the open round */
    uint64_t *round_max;      /* ... and maximum (for tombstones) */
    uint64_t *heard;          /* bitmap: peers heard in the open round */
    uint32_t heard_count;
    bool open;
    bool tracks_max;          /* round_max is kept this round (tombstones wait) */
    uint64_t opened_ns, closed_ns;
    cw_msg **tombs;           /* tombstones applied here, not yet stable */
    size_t tombs_len, tombs_cap;
    cw__tomb_group *groups;   /* oldest first */
    size_t groups_len, groups_cap;
} cw__stability;

struct cw_node {
    cw_node_options opt;
    uint32_t n;
    cw_dclock clock;          /* V */
    uint64_t *applied_from;   /* writes applied per origin (invariant 4) */
    cw_hlc hlc;
    cw__store store;
    cw__buffer buf;
    cw__slot *work;           /* released writes being applied (a stack) */
    size_t work_count, work_cap;
    /* While cw__node_receive_many_pausable runs: its host's pause, asked
     * between applications of released writes too (NULL otherwise). */
    bool (*pause)(void *ctx);
    void *pause_ctx;
    bool paused;              /* a drain stopped for the pause, work left (node.c, drain) */
    uint64_t wall_seen;       /* the latest wall-clock reading, for drift checks */
    /* While cw_node_receive_many runs: its messages arrived together, so the
     * clock is read once, by the first one buffered (0: not read yet). */
    bool in_batch;
    uint64_t batch_arrival_ns;
    uint64_t *context;        /* a client's context, dense (write_local's scratch) */
    cw_msg **unsent;          /* local writes to send again, oldest first (invariant 8) */
    size_t unsent_len, unsent_cap;
    uint64_t writes, delivered, duplicates, conflicts, rejected_full, rejected_memory, send_refusals, clock_anomalies,
        siblings_refused;
    uint64_t checks;          /* calls since the last full invariant check */
    unsigned in_callback;     /* on_apply or send is running: no call may change the node */
    cw__histogram buffering;

    /* Loss recovery and stability (recovery.c). */
    bool recovering;          /* send_to given and peers exist: log, pull, report */
    cw__log log;
    cw__gap *gap;             /* per origin */
    uint32_t *gaps;           /* origins with seen > V, each once */
    uint32_t gap_count;
    uint64_t missing_since_ns; /* when gaps last went from none to one (0: none since the
                                  last tick that found them all filled) */
    bool *in_gaps;            /* per origin */
    cw__stability st;
    uint64_t now_ns;          /* the latest tick's time, or a put's (cw__node_note_time) */
    uint64_t next_tick_ns;    /* when the next tick has work (UINT64_MAX: none) */
    uint64_t applied_total;   /* writes applied here, local and remote */
    uint64_t reported_total;  /* applied_total when the last clock went out */
    uint64_t reported_ns;     /* when it went out (a report, or a write's clock) */
    uint64_t wanted_ns;       /* a peer asked for reports (flag) at this tick time */
    bool wanted;              /* ... since this node's last report */
    bool wrote_last;          /* the last clock out was a write of its own's */
    bool report_now;          /* the host asked for a report at the next tick */
    bool ask_reports;         /* ... and for the peers' reports in answer */
    uint64_t retransmitted, recovered, pulls, reports;
};

/* Takes in the HLC timestamp of a write applied here, from a peer (delivered,
 * or in a peer's state installed at a join) or from this node's own saved
 * state (node.c). Later local timestamps are above it, so a write made here
 * after it wins over it and over everything it beat under last-writer-wins,
 * at every replica, whatever the order they arrive in.
 *
 * A timestamp further ahead of the wall clock than max_drift_ms (its
 * origin's clock is wrong, or the write is hostile) is taken in all the same
 * (its origin accepted the write, and leaving it out would diverge the
 * replicas for good) and counted in clock_anomalies; returns false. How far
 * the HLC follows it depends on the policy:
 *  - last-writer-wins needs the property above for convergence (a write
 *    made here after it, arriving where it had beaten a concurrent write,
 *    must beat that one too), so the HLC follows it whole, and this node's
 *    puts fail with CW_EDRIFT until the wall clock catches up;
 *  - under the other policies nothing converges by timestamps (a later
 *    write replaces what its clock covers, whatever the times; a sibling's
 *    timestamp only orders it), so the HLC follows it only up to the bound:
 *    puts go on. One write stamped years ahead would otherwise refuse every
 *    put at every node that applied it, for years. A node that restores its
 *    own writes stamped ahead (its clock was wrong, then set right) then
 *    stamps new ones below them: only their order among siblings shows it. */
bool cw__node_follow(struct cw_node *n, const cw_hlc_timestamp *ts);

#endif
