/* A node's replica state on disk (--data DIR): one LMDB environment holding
 * the replica's clock, its store (every key's versions, tombstones
 * included) and its retransmission log, saved as node.h "Persisting a
 * replica" says.
 *
 * The server notes each write the replica applies and each tombstone it
 * forgets (cw__durable_note, from the replica's callbacks) and saves what
 * changed in one transaction (cw__durable_save) before anything the replica
 * sent since leaves the process. A saved state is always one the replica
 * was in: clock, store and log commit together.
 *
 * Sync modes: CW__SYNC_FULL commits with fdatasync (LMDB's default), so a
 * saved state survives a machine crash; CW__SYNC_NONE leaves the flush to
 * the kernel (MDB_NOSYNC): a killed process loses nothing saved (the pages
 * are in the kernel's cache), a machine crash can lose the last saves, and
 * on a file system that reorders writes it can damage the environment.
 *
 * Not thread-safe: the server calls it under its lock.
 */
#ifndef CW_DURABLE_H
#define CW_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/node.h>

typedef struct cw__durable cw__durable;

typedef enum cw__sync_mode { CW__SYNC_FULL = 0, CW__SYNC_NONE = 1 } cw__sync_mode;

/* The environment's size limit when none is given: 4 GiB (address space,
 * not disk: the file grows with what it holds). */
#define CW_DURABLE_DEFAULT_MAP_SIZE ((size_t)4 << 30)

/* Opens (creating the directory and environment if missing) the state of
 * node self of nodes under policy, in the group named `group` (NULL: none).
 * A DIR that holds another node's state, another group size or policy,
 * another group's name (or a name, opened without one), or files that are
 * not this format, is refused with a reason; one that holds a state made
 * without a name takes the one given. CW_OK; CW_EINVAL (foreign or corrupt DIR: err
 * says why), CW_EIO (the directory or environment cannot be opened),
 * CW_ENOMEM. Close with cw__durable_close. */
int cw__durable_open(cw__durable **out, const char *dir, cw_node_id self, uint32_t nodes,
                     cw_conflict_policy policy, const char *group, cw__sync_mode sync, size_t map_size, char *err,
                     size_t errlen);
void cw__durable_close(cw__durable *d);

/* Gives the saved state to n, a node just created (cw_node_restore).
 * *had_state: whether the DIR held a state (false for a new DIR: n is
 * untouched). CW_OK; CW_EINVAL (a saved write that does not decode under
 * lim, or a state cw_node_restore refuses: err says which), CW_EIO,
 * CW_ENOMEM. */
int cw__durable_load(cw__durable *d, cw_node *n, const cw_msg_limits *lim, bool *had_state, char *err,
                     size_t errlen);

/* Notes a write the replica applied (applied true) or a tombstone it
 * forgot, for the next save. Takes a reference. CW_OK, CW_ENOMEM (then no
 * save succeeds any more: the directory keeps its last consistent state,
 * and the node must be restarted to save again). */
int cw__durable_note(cw__durable *d, const cw_msg *m, bool applied);
/* The next save writes the whole store and the whole retransmission log
 * (after an install, or a note that could not be kept). */
void cw__durable_note_all(cw__durable *d);
/* Whether anything waits to be saved (or a lost note keeps saves failing). */
bool cw__durable_dirty(const cw__durable *d);
/* This node's own counter in the saved state: its writes above it are not
 * saved yet. */
uint64_t cw__durable_saved_self(const cw__durable *d);

/* Saves every change noted since the last save, the log's trim to the
 * stable clock, and the clock, in one transaction. CW_OK (also when
 * nothing waited); CW_EIO (the disk or the map is full, or LMDB failed:
 * err says which; the changes stay noted, and the next save tries again),
 * CW_ENOMEM. */
int cw__durable_save(cw__durable *d, cw_node *n, char *err, size_t errlen);

typedef struct cw__durable_stats {
    uint64_t saves;            /* transactions committed */
    uint64_t saved_writes;     /* applied writes saved */
    uint64_t failed_saves;
    uint64_t map_used;         /* bytes of the map in use */
    uint64_t map_size;
} cw__durable_stats;
void cw__durable_get_stats(const cw__durable *d, cw__durable_stats *out);

#endif
