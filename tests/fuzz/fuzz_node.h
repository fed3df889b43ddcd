/* What the harnesses that drive one replica share (fuzz_replica.c,
 * fuzz_recovery.c): the input read front to back, the group its first two
 * bytes make, fixed clocks, and the codes a receive may give. */
#ifndef CAUSEWAY_FUZZ_NODE_H
#define CAUSEWAY_FUZZ_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "map.h"

typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

/* The next n bytes into out; false (nothing taken) when fewer are left. */
static inline bool take(input *in, void *out, size_t n)
{
    if (in->left < n)
        return false;
    memcpy(out, in->p, n);
    in->p += n;
    in->left -= n;
    return true;
}

static inline bool take_byte(input *in, uint8_t *b) { return take(in, b, 1); }

static inline uint64_t fixed_wall(void *ctx)
{
    (void)ctx;
    return 1700000000000u;
}

static inline uint64_t fixed_ns(void *ctx)
{
    (void)ctx;
    return 1000;
}

/* The group from the input's first two bytes (size 2..5, self, policy, the
 * buffer's and the unsent writes' bounds) into o, with small keys and values
 * and the fixed clocks; false when the input is shorter. The store's layout
 * is the same in every process, so that a replay of an input
 * (replay_main.c) runs as the fuzzer's run did. */
static inline bool fuzz_group(input *in, cw_node_options *o)
{
    if (!cw__hash_key_fix_seed(0x243f6a8885a308d3u))
        abort(); /* a key was hashed before: this process's layout is its own */
    uint8_t cfg, extra;
    if (!take_byte(in, &cfg) || !take_byte(in, &extra))
        return false;
    cw_node_options_init(o);
    o->nodes = 2 + cfg % 4;
    o->self = (cw_node_id)((cfg >> 2) % o->nodes);
    o->policy = (cfg >> 4) % 2 ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS;
    o->max_buffered = 1 + extra % 64;
    o->max_unsent = 1 + (extra >> 6) * 3;
    o->max_key_len = 8;
    o->max_value_len = 16;
    o->wall_clock = fixed_wall;
    o->ns_clock = fixed_ns;
    return true;
}

static inline bool receive_rc_ok(int rc)
{
    return rc == CW_OK || rc == CW_EINVAL || rc == CW_ELIMIT || rc == CW_EFULL || rc == CW_ENOMEM;
}

#endif
