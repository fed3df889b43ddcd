/* A node's replica state in LMDB (durable.h).
 *
 * Layout: three named databases in one environment.
 *   meta  "format" -> FORMAT; "group" -> [self u32][nodes u32][policy u32];
 *         "name" -> the group's name (--group; absent for none);
 *         "seed" -> 8 random bytes (the long keys' hash);
 *         "clock" -> nodes x u64; "stable" -> nodes x u64 (the log holds
 *         nothing at or below it); all big-endian.
 *   keys  store key -> [count u32] then count x ([len u32][codec bytes]):
 *         the key's versions. LMDB keys are at most 511 bytes, so a store
 *         key shorter than SHORT_KEY is kept as 'k' + key, a longer one as
 *         'h' + its first PREFIX bytes + a 64-bit hash of all of it under
 *         the directory's own random seed ("seed" in meta) + a slot u32:
 *         long keys that share prefix and hash (by chance, or made to)
 *         take slots 0, 1, ... of one chain, told apart by the key their
 *         versions carry. Nothing about a key's content can fail a save.
 *   log   [origin u32][seq u64] -> codec bytes: the retransmission log.
 *   Every value but the format mark ends in a seal: the CRC-32C of its
 *   database key and of its bytes before the seal (4 bytes, big-endian).
 *   LMDB checks no data, so a bit flipped on the medium would otherwise be
 *   taken in as a state; a record whose seal does not match is refused at
 *   start (invariant 6). Format 1 (FORMAT_1) is this layout without seals:
 *   its records get them when the environment is opened (seal_all).
 *
 * Invariants:
 *  1. What the environment holds is a state the replica was in: a save
 *     writes every key an applied write or a forgotten tombstone touched,
 *     the log's new entries and its trim (after an install: every key and
 *     the whole log), the clock and the stable clock, in one transaction.
 *  2. Per origin, the log holds seqs stable + 1 .. clock, with no gap:
 *     writes are applied in seq order, each is logged unless already
 *     stable, and the trim removes exactly those at or below the stable
 *     clock it saves.
 *  3. A failed save changes nothing on disk and forgets nothing noted.
 *  4. One process at a time: LMDB lets many processes share an environment,
 *     but two processes of one node would each save its state and undo the
 *     other's; an exclusive lock on DIR/LOCK_FILE, held while open, refuses
 *     the second.
 *  5. While a process runs on DIR, meta "running" holds its sync mode and
 *     the machine's boot id; a clean close flushes everything to disk and
 *     removes it. Found at start with --sync none and another boot id, it
 *     says the machine went down under a node whose last saves may not have
 *     reached the disk, though peers may hold writes they carried: taking
 *     that state back could reuse one of its sequence numbers, so the start
 *     is refused (a SIGKILL on the same boot loses nothing: the kernel kept
 *     the pages).
 *  6. Nothing read back is used before its seal matched: a damaged record
 *     refuses the start with a reason, and nothing of the state is loaded.
 *     LMDB's own structure carries no seal: a page that is not what its
 *     tree says fails an LMDB assertion, which would abort the process;
 *     lmdb_assert ends it instead with the reason and exit status 2, as a
 *     damaged directory is refused. A cursor's MDB_CORRUPTED is refused so.
 *     LMDB reads its pages through a memory map and trusts the offsets in
 *     them: a page past the file's end (a truncated file) faults with
 *     SIGBUS, and a damaged offset can send a read anywhere (SIGSEGV).
 *     While a state is opened and read back, and while a save runs (a
 *     file cut short under the running node: the guard, below), such a
 *     fault (in the file's map, or in LMDB's code) ends the process so
 *     too. Before anything is
 *     written to an environment, a cursor has visited every record of every
 *     tree in it, reading each page of its keys and values, under the guard
 *     (walk_all): a write on a damaged page would take the damage further.
 *     That visits every page, not every byte; the keys in branch pages
 *     route lookups, and the first and last record of every leaf are
 *     found again by their keys, at the place the walk read them (a
 *     separator damaged so that it routes a saved key elsewhere is
 *     refused: found_record). Damage LMDB reads past may still mislead a
 *     later write (the free pages' list is read, not checked against the
 *     trees). A file may end before the last page LMDB counts (a page freed
 *     in the transaction that took it is never written): that is not
 *     damage, and no tree reaches it.
 *  7. LOCK_FILE holds STATE_MARK once a state was committed in DIR: a
 *     data.mdb then missing or empty is a state lost (truncated, deleted),
 *     refused, never taken for a new one; with no mark (a first start
 *     killed before its first commit) an empty environment is new.
 */
#define _GNU_SOURCE /* realpath */
#include "durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <ucontext.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include <causeway/error.h>

#include "bytes.h"
#include "crc32c.h"
#include "map.h"
#include "msg_internal.h"
#include "node_internal.h"
#include "server.h"
#include "vec.h"

#define FORMAT "causeway-data 2"
#define FORMAT_1 "causeway-data 1" /* the same layout without seals */
#define SEAL 4u
#define LOCK_FILE "causeway.lock"
#define PATH_BUF 4096u
/* The largest counter a saved clock may hold: the HTTP API's JSON carries
 * counters as signed 64-bit integers. */
#define MAX_COUNTER ((uint64_t)INT64_MAX)
#define SHORT_KEY 480u
#define PREFIX 400u
#define CHAIN (1u + PREFIX + 8u) /* a long key's database key before its slot */
#define LONG_KEY (CHAIN + 4u)

typedef struct note {
    cw_msg *msg;
    bool applied;
} note;

struct cw__durable {
    MDB_env *env;
    bool starting;             /* opened and not yet loaded: what lmdb_assert says */
    MDB_dbi meta, keys, log;
    cw_node_id self;
    uint32_t nodes;
    uint64_t *stable;          /* [nodes]: the stable clock last saved */
    note *notes;
    size_t notes_len, notes_cap;
    bool all;                  /* the next save writes every key, and the whole log */
    bool lost_note;            /* a change could not be noted: saving stops */
    int lock_fd;               /* invariant 4 */
    uint8_t seed[8];           /* the long keys' hash seed */
    uint64_t saved_self;       /* this node's own counter in the saved state */
    bool running;              /* meta "running" is ours to remove at close (invariant 5) */
    uintptr_t map_lo, map_hi;  /* where the guard found data.mdb's map at open (invariant 6) */
    uintptr_t code_lo, code_hi; /* and LMDB's code */
    cw__durable_stats stats;
};

/* What a node whose directory cannot be taken back does: its peers give it
 * its state. */
#define REJOIN "move the directory aside and start the node on an empty one without --fresh; it joins"

/* Invariant 6: LMDB found its structure damaged (it aborts when this
 * returns). */
static void lmdb_assert(MDB_env *env, const char *msg)
{
    const char *path = NULL;
    (void)mdb_env_get_path(env, &path);
    const cw__durable *d = mdb_env_get_userctx(env);
    if (!path)
        path = "the data directory";
    if (!d || d->starting)
        fprintf(stderr, "causeway node: %s is damaged (LMDB failed an assertion: %s): " REJOIN "\n", path, msg);
    else
        fprintf(stderr,
                "causeway node: LMDB failed an assertion on %s (%s): the node stops here; every write it answered "
                "is saved. Start it again on the directory; if it is refused as damaged, " REJOIN "\n",
                path, msg);
    _exit(2);
}

/* Invariant 7. */
#define STATE_MARK "causeway state\n"

static bool has_mark(int fd)
{
    char b[sizeof STATE_MARK - 1];
    return pread(fd, b, sizeof b, 0) == (ssize_t)sizeof b && memcmp(b, STATE_MARK, sizeof b) == 0;
}

/* Best effort: without the mark a lost data.mdb is taken for a new state,
 * as before the mark existed. */
static void put_mark(int fd, bool sync)
{
    if (has_mark(fd) || pwrite(fd, STATE_MARK, sizeof STATE_MARK - 1, 0) != (ssize_t)sizeof STATE_MARK - 1)
        return;
    if (sync)
        (void)fdatasync(fd);
}

/* Invariant 7: dir held a state, and its data.mdb is `how`. */
static int refuse_lost(cw__durable *d, const char *dir, const char *how, char *err, size_t errlen)
{
    cw__server_err(err, errlen, "%s held a state, but its data.mdb is %s: " REJOIN, dir, how);
    cw__durable_close(d);
    return CW_EINVAL;
}

/* The least free space a start needs (LMDB writes its lock file through a
 * memory map: with no room a store into it is SIGBUS, not an error). */
#define START_FREE_BYTES ((uint64_t)1 << 20)

static int lmdb_error(int rc, char *err, size_t errlen, const char *what)
{
    cw__server_err(err, errlen, "%s: %s", what, mdb_strerror(rc));
    if (rc == ENOMEM)
        return CW_ENOMEM;
    return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
               ? CW_EINVAL
               : CW_EIO;
}

/* ---- seals (the layout above) ---- */

static uint32_t seal_of(const MDB_val *k, const void *b, size_t len)
{
    return cw__crc32c(cw__crc32c(0, k->mv_data, k->mv_size), b, len);
}

/* v was reserved SEAL bytes longer than its content: writes the seal. */
static void seal(const MDB_val *k, const MDB_val *v)
{
    size_t len = v->mv_size - SEAL;
    cw__store_be((uint8_t *)v->mv_data + len, seal_of(k, v->mv_data, len), SEAL);
}

/* Whether v ends in the seal of k and its content; if so, v is the content. */
static bool unseal(const MDB_val *k, MDB_val *v)
{
    if (v->mv_size < SEAL)
        return false;
    size_t len = v->mv_size - SEAL;
    if (cw__load_be((const uint8_t *)v->mv_data + len, SEAL) != seal_of(k, v->mv_data, len))
        return false;
    v->mv_size = len;
    return true;
}

/* mdb_put of len bytes from b, sealed. LMDB's. */
static int put_sealed(MDB_txn *t, MDB_dbi db, const MDB_val *k, const void *b, size_t len)
{
    MDB_val v = {len + SEAL, NULL};
    int rc = mdb_put(t, db, (MDB_val *)k, &v, MDB_RESERVE);
    if (rc == 0) {
        memcpy(v.mv_data, b, len);
        seal(k, &v);
    }
    return rc;
}

/* mdb_get whose value must be sealed: 0, MDB_NOTFOUND, or MDB_CORRUPTED
 * when the seal does not match. */
static int get_sealed(MDB_txn *t, MDB_dbi db, const MDB_val *k, MDB_val *v)
{
    int rc = mdb_get(t, db, (MDB_val *)k, v);
    return rc == 0 && !unseal(k, v) ? MDB_CORRUPTED : rc;
}

/* The start's refusal for a record whose seal does not match: CW_EINVAL. */
static int refuse_damaged(char *err, size_t errlen, const char *what)
{
    cw__server_err(err, errlen, "%s is damaged (its checksum does not match)", what);
    return CW_EINVAL;
}

/* Whether dir holds anything but an LMDB environment's files, and which of
 * those, if any, is not a regular file (*odd, a name of static storage, or
 * NULL; a symbolic link counts as what it leads to). */
static int dir_state(const char *dir, bool *has_env, bool *foreign, const char **odd)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    *has_env = *foreign = false;
    *odd = NULL;
    static const char *const ours[] = {"data.mdb", "lock.mdb", LOCK_FILE};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t k = 0, count = sizeof ours / sizeof *ours;
        while (k < count && strcmp(e->d_name, ours[k]) != 0)
            k++;
        struct stat st;
        if (k == count)
            *foreign = true;
        else if (fstatat(dirfd(d), ours[k], &st, 0) != 0 || !S_ISREG(st.st_mode))
            *odd = ours[k]; /* a FIFO would block its open; a directory fails it */
        *has_env |= k == 0;
    }
    closedir(d);
    return 0;
}

static void put_group(uint8_t *b, cw_node_id self, uint32_t nodes, cw_conflict_policy policy)
{
    cw__store_be(b, self, 4);
    cw__store_be(b + 4, nodes, 4);
    cw__store_be(b + 8, (uint64_t)policy, 4);
}

static int put_counters(MDB_txn *t, MDB_dbi db, const char *name, const uint64_t *c, uint32_t nodes)
{
    MDB_val k = {strlen(name), (void *)name}, v = {(size_t)nodes * 8 + SEAL, NULL};
    int rc = mdb_put(t, db, &k, &v, MDB_RESERVE);
    for (uint32_t i = 0; rc == 0 && i < nodes; i++)
        cw__store_be((uint8_t *)v.mv_data + (size_t)i * 8, c[i], 8);
    if (rc == 0)
        seal(&k, &v);
    return rc;
}

/* Format 1 to FORMAT, in the open's write transaction t: every record of
 * db (but the format mark) gets its seal, through a cursor that replaces
 * each value where it is. LMDB's. */
static int seal_all(MDB_txn *t, MDB_dbi db)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, db, &c);
    if (rc)
        return rc;
    uint8_t *buf = NULL;
    size_t cap = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 6 && memcmp(k.mv_data, "format", 6) == 0)
            continue;
        if (v.mv_size + SEAL > cap) {
            size_t want = (v.mv_size + SEAL) * 2;
            uint8_t *b = realloc(buf, want);
            if (!b) {
                rc = ENOMEM;
                break;
            }
            buf = b;
            cap = want;
        }
        /* k and v point into a page the put rewrites: both copied first. */
        uint8_t kb[512]; /* LMDB keys are at most 511 bytes */
        if (k.mv_size > sizeof kb) {
            rc = MDB_BAD_VALSIZE;
            break;
        }
        memcpy(kb, k.mv_data, k.mv_size);
        memcpy(buf, v.mv_data, v.mv_size);
        MDB_val kc = {k.mv_size, kb}, nv = {v.mv_size + SEAL, buf};
        seal(&kc, &nv);
        if ((rc = mdb_cursor_put(c, &kc, &nv, MDB_CURRENT)) != 0)
            break;
    }
    free(buf);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The group's name: a new environment (or one made without a name, which
 * takes the one given now) keeps it; one made with a name must be opened
 * with the same. */
static int check_name(cw__durable *d, MDB_txn *t, const char *group, char *err, size_t errlen)
{
    MDB_val k = {4, "name"}, v;
    size_t len = group ? strlen(group) : 0;
    int rc = get_sealed(t, d->meta, &k, &v);
    if (rc == MDB_CORRUPTED)
        return refuse_damaged(err, errlen, "the data directory's group name");
    if (rc == MDB_NOTFOUND) {
        if (len && (rc = put_sealed(t, d->meta, &k, group, len)) != 0)
            return lmdb_error(rc, err, errlen, "recording the group's name");
        return CW_OK;
    }
    if (rc != 0)
        return lmdb_error(rc, err, errlen, "reading the group's name");
    if (v.mv_size == len && memcmp(v.mv_data, group, len) == 0)
        return CW_OK;
    const char *path = NULL;
    if (mdb_env_get_path(d->env, &path) != 0 || !path)
        path = "the data directory";
    char was[CW_SERVER_GROUP_MAX + 1]; /* sealed, not authenticated: shown as a name can be */
    cw__server_group_quote(was, v.mv_data, v.mv_size);
    cw__server_err(err, errlen,
                   "%s holds a state of group '%s', not of %s%s%s (--group): a directory of another group's "
                   "node is not this one's",
                   path, was, len ? "group '" : "a node without --group", len ? group : "", len ? "'" : "");
    return CW_EINVAL;
}

/* A new environment gets its format and group; an old one must match. A
 * format-1 one is sealed (format 2) in the same transaction, so it is
 * upgraded whole or not at all. */
static int check_meta(cw__durable *d, MDB_txn *t, cw_conflict_policy policy, const char *name, bool fresh_env,
                      char *err, size_t errlen)
{
    uint8_t group[12];
    put_group(group, d->self, d->nodes, policy);
    MDB_val k = {6, "format"}, v;
    int rc = mdb_get(t, d->meta, &k, &v);
    if (rc == MDB_NOTFOUND && fresh_env) {
        MDB_val f = {sizeof FORMAT - 1, FORMAT}, gk = {5, "group"};
        uint64_t *zero = calloc(d->nodes, 8);
        if (!zero)
            return CW_ENOMEM;
        MDB_val sk = {4, "seed"};
        if (getrandom(d->seed, sizeof d->seed, 0) != (ssize_t)sizeof d->seed) {
            free(zero);
            cw__server_err(err, errlen, "no random seed: %s", strerror(errno));
            return CW_EIO;
        }
        if ((rc = mdb_put(t, d->meta, &k, &f, 0)) == 0 && (rc = put_sealed(t, d->meta, &gk, group, sizeof group)) == 0 &&
            (rc = put_sealed(t, d->meta, &sk, d->seed, sizeof d->seed)) == 0 &&
            (rc = put_counters(t, d->meta, "clock", zero, d->nodes)) == 0)
            rc = put_counters(t, d->meta, "stable", zero, d->nodes);
        free(zero);
        return rc ? lmdb_error(rc, err, errlen, "writing a new state") : check_name(d, t, name, err, errlen);
    }
    if (rc == 0 && v.mv_size == sizeof FORMAT_1 - 1 && memcmp(v.mv_data, FORMAT_1, v.mv_size) == 0) {
        MDB_val f = {sizeof FORMAT - 1, FORMAT};
        if ((rc = seal_all(t, d->meta)) != 0 || (rc = seal_all(t, d->keys)) != 0 ||
            (rc = seal_all(t, d->log)) != 0 || (rc = mdb_put(t, d->meta, &k, &f, 0)) != 0) {
            if (rc == MDB_MAP_FULL) { /* every page is rewritten, and the old ones are freed only at commit */
                cw__server_err(err, errlen, "adding checksums to a format-1 data directory rewrites all of it in one "
                                            "transaction, which needs free map space about the size of its data: "
                                            "start once with --map-size at least twice data.mdb's size (nothing "
                                            "was changed)");
                return CW_EIO;
            }
            return lmdb_error(rc, err, errlen, "adding checksums to a format-1 data directory");
        }
        rc = mdb_get(t, d->meta, &k, &v);
    }
    if (rc != 0 || v.mv_size != sizeof FORMAT - 1 || memcmp(v.mv_data, FORMAT, v.mv_size) != 0) {
        cw__server_err(err, errlen, "not a Causeway data directory (no '%s' mark)", FORMAT);
        return CW_EINVAL;
    }
    MDB_val gk = {5, "group"};
    if ((rc = get_sealed(t, d->meta, &gk, &v)) == MDB_CORRUPTED)
        return refuse_damaged(err, errlen, "the data directory's node id");
    if (rc != 0 || v.mv_size != sizeof group) {
        cw__server_err(err, errlen, "the data directory has no node id");
        return CW_EINVAL;
    }
    MDB_val sk = {4, "seed"}, sv;
    if ((rc = get_sealed(t, d->meta, &sk, &sv)) == MDB_CORRUPTED)
        return refuse_damaged(err, errlen, "the data directory's seed");
    if (rc != 0 || sv.mv_size != sizeof d->seed) {
        cw__server_err(err, errlen, "the data directory has no seed");
        return CW_EINVAL;
    }
    memcpy(d->seed, sv.mv_data, sizeof d->seed);
    if (memcmp(v.mv_data, group, sizeof group) != 0) {
        const uint8_t *b = v.mv_data;
        static const char *const names[] = {"siblings", "lww"};
        uint64_t was = cw__load_be(b + 8, 4);
        const char *path = NULL;
        if (mdb_env_get_path(d->env, &path) != 0 || !path)
            path = "the data directory";
        cw__server_err(err, errlen,
                       "%s holds node %llu of %llu (policy %s), not node %u of %u (policy %s): give each node its own "
                       "directory, and the options its state was made with",
                       path, (unsigned long long)cw__load_be(b, 4), (unsigned long long)cw__load_be(b + 4, 4),
                       was < 2 ? names[was] : "unknown", d->self, d->nodes, (unsigned)policy < 2 ? names[policy] : "unknown");
        return CW_EINVAL;
    }
    return check_name(d, t, name, err, errlen);
}

/* This boot of the machine (Linux), or "" where unknown. */
static void boot_id(char out[40])
{
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(out, 40, f))
            out[0] = 0;
        fclose(f);
    }
    out[strcspn(out, "\n")] = 0;
}

/* Invariant 5: refuses a --sync none state the machine went down under,
 * then marks this process's run. Write transaction t. */
static int mark_running(cw__durable *d, MDB_txn *t, cw__sync_mode sync, char *err, size_t errlen)
{
    char boot[40], mark[48];
    boot_id(boot);
    MDB_val k = {7, "running"}, v;
    int got = get_sealed(t, d->meta, &k, &v);
    if (got == MDB_CORRUPTED)
        return refuse_damaged(err, errlen, "the data directory's run mark");
    if (got == 0 && v.mv_size >= 1 && ((const char *)v.mv_data)[0] == 'n' &&
        (v.mv_size - 1 != strlen(boot) || memcmp((const char *)v.mv_data + 1, boot, v.mv_size - 1) != 0)) {
        cw__server_err(err, errlen, "the machine went down while this node ran with --sync none: its last saves "
                                    "may be lost, and its peers may hold writes it would number again; empty the "
                                    "directory and start the node without --fresh (it joins)");
        return CW_EINVAL;
    }
    int n = snprintf(mark, sizeof mark, "%c%s", sync == CW__SYNC_NONE ? 'n' : 'f', boot);
    int rc = put_sealed(t, d->meta, &k, mark, (size_t)n);
    if (rc)
        return lmdb_error(rc, err, errlen, "marking the run");
    d->running = true;
    return CW_OK;
}

/* ---- faults while a state is read (invariant 6) ---- */

/* One guard at a time in a process (the signal handlers are the
 * process's). It ends the process only for a fault that is the file's (a
 * read in LMDB's map of data.mdb, or any fault in LMDB's code: on_fault)
 * on the thread that holds the guard; any other (a null pointer in the
 * node's own code, lock.mdb's map on a full disk, any fault of another
 * thread, which runs on while a save holds the guard) puts the handler
 * that was there back and returns, so the access faults again under it (a
 * crash, a sanitizer's report) and is not taken for damage. What the
 * handler says is made before, as only write, sigaction and _exit are
 * called there; the map's bounds are lock-free atomics, which a handler
 * may read. */
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction guard_was_segv, guard_was_bus;
static char guard_note[PATH_BUF + 64];
static size_t guard_note_len;
static _Atomic uintptr_t guard_map_lo, guard_map_hi; /* [lo, hi): the map; 0, 0 until known */
static _Atomic uintptr_t guard_code_lo, guard_code_hi; /* LMDB's code, likewise */
static _Thread_local volatile sig_atomic_t guard_here; /* this thread holds the guard */

/* Where the interrupted thread was, when this machine says (0: unknown). */
static uintptr_t fault_pc(const void *ctx)
{
    const ucontext_t *u = ctx;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)u->uc_mcontext.pc;
#else
    (void)u;
    return 0;
#endif
}

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void on_fault(int sig, siginfo_t *info, void *ctx)
{
    static const char bus[] = " is damaged (reading it faulted: the file is cut short, or unreadable, an I/O "
                              "error): " REJOIN "\n";
    static const char segv[] = " is damaged (reading it faulted: a page's contents point outside it): " REJOIN "\n";
    /* Relaxed: set on this thread before the reads that fault, or not at all. */
    uintptr_t at = (uintptr_t)info->si_addr, pc = fault_pc(ctx),
              lo = atomic_load_explicit(&guard_map_lo, memory_order_relaxed),
              hi = atomic_load_explicit(&guard_map_hi, memory_order_relaxed),
              code_lo = atomic_load_explicit(&guard_code_lo, memory_order_relaxed),
              code_hi = atomic_load_explicit(&guard_code_hi, memory_order_relaxed);
    /* The file's: a read in its map (a page past its end, or one a damaged
     * offset points to), or any fault in LMDB's own code (a pointer it
     * made of a damaged offset lands anywhere: a low address, or one the
     * CPU refuses, SI_KERNEL). A fault elsewhere (a null pointer in the
     * node's own code, another map) is not. */
    bool in_map = at >= lo && at < hi, in_lmdb = pc >= code_lo && pc < code_hi;
    if (!guard_here || (!in_map && !in_lmdb && info->si_code != SI_KERNEL)) {
        (void)sigaction(sig, sig == SIGBUS ? &guard_was_bus : &guard_was_segv, NULL);
        return; /* faults again, under the handler that was there */
    }
    write_all(guard_note, guard_note_len);
    if (sig == SIGBUS)
        write_all(bus, sizeof bus - 1);
    else
        write_all(segv, sizeof segv - 1);
    _exit(2);
}

/* From /proc/self/maps: the map of dir's data.mdb (LMDB does not say where
 * it mapped the file: MDB_envinfo's me_mapaddr is only a fixed map's), its
 * whole length, past the file's end too; and the mapping of LMDB's code
 * (the one that holds mdb_cursor_get). What is not found (no /proc, the
 * file not mapped yet) stays unknown: then only faults at an address the
 * kernel does not give are taken for damage. */
static void guard_map(const char *dir)
{
    char real[PATH_MAX], want[PATH_MAX + 16], line[PATH_MAX + 256];
    bool have_dir = realpath(dir, real) != NULL;
    snprintf(want, sizeof want, "%s/data.mdb", have_dir ? real : "");
    uintptr_t code = (uintptr_t)&mdb_cursor_get;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int at = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &at) < 2 || !at)
            continue;
        line[strcspn(line, "\n")] = '\0';
        if (have_dir && strcmp(line + at, want) == 0) {
            atomic_store_explicit(&guard_map_lo, (uintptr_t)lo, memory_order_relaxed);
            atomic_store_explicit(&guard_map_hi, (uintptr_t)hi, memory_order_relaxed);
        }
        if (code >= lo && code < hi) {
            atomic_store_explicit(&guard_code_lo, (uintptr_t)lo, memory_order_relaxed);
            atomic_store_explicit(&guard_code_hi, (uintptr_t)hi, memory_order_relaxed);
        }
    }
    fclose(f);
}

/* Takes the guard for dir's environment: its note made, the bounds
 * unknown until set. */
static void guard_take(const char *dir)
{
    pthread_mutex_lock(&guard_lock);
    guard_here = 1;
    int n = snprintf(guard_note, sizeof guard_note, "causeway node: %s/data.mdb", dir);
    guard_note_len = n < 0 ? 0 : (size_t)n < sizeof guard_note ? (size_t)n : sizeof guard_note - 1;
    atomic_store_explicit(&guard_map_lo, 0, memory_order_relaxed);
    atomic_store_explicit(&guard_map_hi, 0, memory_order_relaxed);
    atomic_store_explicit(&guard_code_lo, 0, memory_order_relaxed);
    atomic_store_explicit(&guard_code_hi, 0, memory_order_relaxed);
}

static void guard_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGSEGV, &sa, &guard_was_segv);
    (void)sigaction(SIGBUS, &sa, &guard_was_bus);
}

/* The guard for dir's environment, its map looked up now (once LMDB has
 * mapped the file) or later (guard_map). */
static void guard_begin(const char *dir)
{
    guard_take(dir);
    guard_map(dir);
    guard_handlers();
}

/* The guard again for a save of d's environment (or a look at its meta
 * pages): a data.mdb cut short under the running node faults in the
 * save's reads of its pages, which ends the node with the reason (exit
 * 2), as a damaged page that fails an LMDB assertion does. The bounds are those found at open: LMDB's map of
 * the file stays where it is while the environment is open. */
static void guard_save(const cw__durable *d)
{
    const char *dir = NULL;
    if (mdb_env_get_path(d->env, &dir) != 0 || !dir)
        dir = "the data directory";
    guard_take(dir);
    atomic_store_explicit(&guard_map_lo, d->map_lo, memory_order_relaxed);
    atomic_store_explicit(&guard_map_hi, d->map_hi, memory_order_relaxed);
    atomic_store_explicit(&guard_code_lo, d->code_lo, memory_order_relaxed);
    atomic_store_explicit(&guard_code_hi, d->code_hi, memory_order_relaxed);
    guard_handlers();
}

static void guard_end(void)
{
    (void)sigaction(SIGSEGV, &guard_was_segv, NULL);
    (void)sigaction(SIGBUS, &guard_was_bus, NULL);
    guard_here = 0;
    pthread_mutex_unlock(&guard_lock);
}

/* Hands every record of db to fn, in order, until fn gives other than
 * CW_OK (then that). CW_OK; CW_ETRUNC when LMDB finds a page damaged
 * (invariant 6; a tree deeper than LMDB's cursor, CURSOR_FULL, is a loop in
 * a damaged one); CW_ENOMEM; CW_EIO. */
static int each_record(MDB_txn *t, MDB_dbi db, int (*fn)(void *ctx, MDB_val *k, MDB_val *v), void *ctx)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t, db, &c);
    if (mrc != 0)
        return mrc == ENOMEM ? CW_ENOMEM : CW_EIO;
    MDB_val k, v;
    int rc = CW_OK;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0 && rc == CW_OK;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        rc = fn(ctx, &k, &v);
    mdb_cursor_close(c);
    if (rc != CW_OK || mrc == MDB_NOTFOUND)
        return rc;
    if (mrc == MDB_CORRUPTED || mrc == MDB_PAGE_NOTFOUND || mrc == MDB_CURSOR_FULL)
        return CW_ETRUNC;
    return mrc == ENOMEM ? CW_ENOMEM : CW_EIO;
}

/* Reads each page of v: one byte a page is enough to fault a page that is
 * not there (volatile: the reads are made though nothing uses them). */
static void touch(const MDB_val *v)
{
    const volatile uint8_t *p = v->mv_data;
    for (size_t i = 0; i < v->mv_size; i += 4096)
        (void)p[i];
    if (v->mv_size)
        (void)p[v->mv_size - 1];
}

/* each_record's fn for walk_all: a record's key and value read. A fault on
 * the way ends the process (the guard). */
static int touch_record(void *ctx, MDB_val *k, MDB_val *v)
{
    (void)ctx;
    touch(k);
    touch(v);
    return CW_OK;
}

/* The tree a found_record walks, in the transaction it walks in, and the
 * last record it read (the page its key is on, counted from the map's
 * start in LMDB's page size, which may be larger than the system's: a
 * record's key is always on its leaf). */
typedef struct tree_walk {
    MDB_txn *t;
    MDB_dbi db;
    uintptr_t base, psize, leaf;
    MDB_val last_k, last_v;
    bool any;
} tree_walk;

/* Whether the record (k, v) of w's tree is found again by its key, at the
 * place it was read. */
static int found_again(const tree_walk *w, const MDB_val *k, const MDB_val *v)
{
    MDB_val key = *k, found;
    int rc = mdb_get(w->t, w->db, &key, &found);
    if (rc == 0 && found.mv_data == v->mv_data && found.mv_size == v->mv_size)
        return CW_OK;
    return rc == ENOMEM ? CW_ENOMEM : CW_ETRUNC;
}

/* each_record's fn for the trees of records: a record read (touch_record),
 * and the first and last record of each leaf found again by its key
 * (found_again; the last of the last leaf by walk_all). The branch pages'
 * keys route a lookup, and a cursor's walk never reads them: one damaged
 * there (a bit flipped in a separator) sent the keys near it to the wrong
 * leaf, where a delete found nothing and took that for done, and the
 * record it should have deleted came back at the next start. A separator
 * moved between its neighbours so that it routes a saved key wrong routes
 * wrong the first key of the leaf to its right (it is now above it) or the
 * last key of the leaf to its left (now at or below it), so those two a
 * leaf are enough: ~2 lookups a leaf, where one a record cost a start of
 * 1,000,000 keys 18-25% more. (One moved past a neighbour leaves its page
 * out of order, and a lookup's binary search there may route a key in the
 * middle of a leaf wrong and both its ends right: not caught.) */
static int found_record(void *ctx, MDB_val *k, MDB_val *v)
{
    touch_record(NULL, k, v);
    tree_walk *w = ctx;
    uintptr_t leaf = ((uintptr_t)k->mv_data - w->base) / w->psize;
    int rc = CW_OK;
    if (!w->any || leaf != w->leaf) {
        if (w->any)
            rc = found_again(w, &w->last_k, &w->last_v);
        if (rc == CW_OK)
            rc = found_again(w, k, v);
        w->leaf = leaf;
    }
    w->last_k = *k;
    w->last_v = *v;
    w->any = true;
    return rc;
}

/* Every record of w's tree read, and found again (found_record). */
static int walk_tree(MDB_txn *t, tree_walk *w)
{
    w->any = false;
    int rc = each_record(t, w->db, found_record, w);
    return rc == CW_OK && w->any ? found_again(w, &w->last_k, &w->last_v) : rc;
}

/* Invariant 6: every tree of the environment visited (the free pages'
 * list, the main database, and each of the node's databases that exists),
 * before anything is written to it, and the records of the main database
 * and the node's found again by their keys (found_record). Under the
 * guard. */
static int walk_all(cw__durable *d, char *err, size_t errlen)
{
    MDB_txn *t;
    int rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &t);
    if (rc != 0)
        return lmdb_error(rc, err, errlen, "reading the state");
    MDB_stat st;
    MDB_envinfo info;
    if ((rc = mdb_env_stat(d->env, &st)) != 0 || (rc = mdb_env_info(d->env, &info)) != 0) {
        mdb_txn_abort(t);
        return lmdb_error(rc, err, errlen, "reading the state");
    }
    tree_walk w = {.t = t, .base = (uintptr_t)info.me_mapaddr, .psize = st.ms_psize};
    int r = each_record(t, 0, touch_record, NULL); /* 0: LMDB's free pages */
    if (r == CW_OK)
        r = mdb_dbi_open(t, NULL, 0, &w.db) != 0 ? CW_EIO : walk_tree(t, &w);
    static const char *const names[] = {"meta", "keys", "log"};
    for (size_t i = 0; r == CW_OK && i < sizeof names / sizeof names[0]; i++) {
        int o = mdb_dbi_open(t, names[i], 0, &w.db);
        if (o == 0)
            r = walk_tree(t, &w);
        else if (o == MDB_INCOMPATIBLE || o == MDB_CORRUPTED) /* its record in the main tree is not a tree's */
            r = CW_ETRUNC;
        else if (o != MDB_NOTFOUND) /* not there: a new environment's */
            r = CW_EIO;
    }
    mdb_txn_abort(t); /* handles opened here close with it: the write transaction opens its own */
    if (r == CW_ETRUNC)
        cw__server_err(err, errlen, "the data file is damaged (LMDB found a page that is not what it should be): "
                                    REJOIN);
    else if (r == CW_ENOMEM)
        cw__server_err(err, errlen, "reading the saved state: %s", cw_strerror(CW_ENOMEM));
    else if (r != CW_OK)
        cw__server_err(err, errlen, "reading the saved state failed");
    return r == CW_OK || r == CW_ENOMEM ? r : CW_EINVAL;
}

int cw__durable_open(cw__durable **out, const char *dir, cw_node_id self, uint32_t nodes,
                     cw_conflict_policy policy, const char *group, cw__sync_mode sync, size_t map_size, char *err,
                     size_t errlen)
{
    if (!out || !dir || !*dir || self >= nodes) {
        cw__server_err(err, errlen, "no data directory");
        return CW_EINVAL;
    }
    /* Every path made below (DIR/causeway.lock, DIR/data.mdb and LMDB's own)
     * fits PATH_BUF: a longer one cut short named another file. */
    if (strlen(dir) + sizeof "/" LOCK_FILE > PATH_BUF) {
        cw__server_err(err, errlen, "the data directory's path is too long (at most %zu bytes)",
                       PATH_BUF - sizeof "/" LOCK_FILE);
        return CW_EINVAL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        cw__server_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return CW_EIO;
    }
    bool has_env, foreign;
    const char *odd;
    if (dir_state(dir, &has_env, &foreign, &odd) != 0) {
        cw__server_err(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return CW_EIO;
    }
    if (odd) {
        cw__server_err(err, errlen, "%s/%s is not a regular file: not a Causeway state (give an empty or new directory)",
                       dir, odd);
        return CW_EINVAL;
    }
    if (foreign) {
        cw__server_err(err, errlen, "%s holds files that are not a Causeway state (give an empty or new directory)",
                       dir);
        return CW_EINVAL;
    }
    cw__durable *d = calloc(1, sizeof *d);
    if (!d || !(d->stable = calloc(nodes, sizeof *d->stable))) {
        free(d);
        return CW_ENOMEM;
    }
    d->lock_fd = -1;
    d->self = self;
    d->nodes = nodes;
    char path[PATH_BUF];
    snprintf(path, sizeof path, "%s/" LOCK_FILE, dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        cw__server_err(err, errlen, e == EWOULDBLOCK ? "%s is in use by another process (a node runs on it)"
                                                     : "cannot lock %s: %s",
                       dir, strerror(e));
        cw__durable_close(d);
        return e == EWOULDBLOCK ? CW_EINVAL : CW_EIO;
    }
    bool marked = has_mark(d->lock_fd);
    if (marked && !has_env)
        return refuse_lost(d, dir, "gone (deleted or moved)", err, errlen);
    struct statvfs fs;
    if (fstatvfs(d->lock_fd, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < START_FREE_BYTES) {
        cw__server_err(err, errlen, "%s: the disk is full (less than 1 MiB free)", dir);
        cw__durable_close(d);
        return CW_EIO;
    }
    int rc = mdb_env_create(&d->env);
    unsigned flags = sync == CW__SYNC_NONE ? MDB_NOSYNC : 0;
    d->starting = true;
    if (rc == 0)
        rc = mdb_env_set_userctx(d->env, d);
    if (rc == 0)
        rc = mdb_env_set_assert(d->env, lmdb_assert);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(d->env, 3);
    if (rc == 0)
        rc = mdb_env_set_mapsize(d->env, map_size ? map_size : CW_DURABLE_DEFAULT_MAP_SIZE);
    guard_begin(dir); /* invariant 6: until the environment is opened, walked and marked */
    if (rc == 0)
        rc = mdb_env_open(d->env, dir, flags, 0600);
    if (rc != 0) {
        guard_end();
        int r = lmdb_error(rc, err, errlen, dir);
        cw__durable_close(d);
        return r;
    }
    guard_map(dir);
    d->map_lo = atomic_load_explicit(&guard_map_lo, memory_order_relaxed);
    d->map_hi = atomic_load_explicit(&guard_map_hi, memory_order_relaxed);
    d->code_lo = atomic_load_explicit(&guard_code_lo, memory_order_relaxed);
    d->code_hi = atomic_load_explicit(&guard_code_hi, memory_order_relaxed);
    int r = walk_all(d, err, errlen);
    if (r != CW_OK) {
        guard_end();
        cw__durable_close(d);
        return r;
    }
    MDB_txn *t = NULL;
    rc = mdb_txn_begin(d->env, NULL, 0, &t);
    /* An environment with nothing in it is new, even if a start was killed
     * after LMDB made its file and before the first commit. */
    MDB_dbi main_db;
    MDB_stat mst;
    if (rc == 0 && (rc = mdb_dbi_open(t, NULL, 0, &main_db)) == 0 && (rc = mdb_stat(t, main_db, &mst)) == 0 &&
        mst.ms_entries == 0) {
        if (marked) {
            mdb_txn_abort(t);
            guard_end();
            return refuse_lost(d, dir, "empty (truncated)", err, errlen);
        }
        has_env = false;
    }
    if (rc == 0 && (rc = mdb_dbi_open(t, "meta", MDB_CREATE, &d->meta)) == 0 &&
        (rc = mdb_dbi_open(t, "keys", MDB_CREATE, &d->keys)) == 0)
        rc = mdb_dbi_open(t, "log", MDB_CREATE, &d->log);
    r = rc ? lmdb_error(rc, err, errlen, "opening the state") : check_meta(d, t, policy, group, !has_env, err, errlen);
    if (r == CW_OK)
        r = mark_running(d, t, sync, err, errlen);
    if (r == CW_OK && (rc = mdb_txn_commit(t)) != 0)
        r = lmdb_error(rc, err, errlen, "writing a new state");
    else if (r != CW_OK && t)
        mdb_txn_abort(t);
    /* Invariant 5: with --sync none that commit is left to the kernel, and
     * a machine that went down before writing it back would lose the run
     * mark with the saves it guards, so the next start would take back an
     * older state unrefused. It goes to disk before any save of the run. */
    if (r == CW_OK && sync == CW__SYNC_NONE && (rc = mdb_env_sync(d->env, 1)) != 0)
        r = lmdb_error(rc, err, errlen, "marking the run");
    guard_end();
    if (r != CW_OK) {
        cw__durable_close(d);
        return r;
    }
    put_mark(d->lock_fd, sync != CW__SYNC_NONE);
    *out = d;
    return CW_OK;
}

/* Whether the file open at fd has no name left (removed under the node). */
static bool unlinked(int fd)
{
    struct stat st;
    return fstat(fd, &st) != 0 || st.st_nlink == 0;
}

/* Why d's directory is no longer the node's, or NULL: removed under it (its
 * lock file gone with it), or data.mdb removed alone. LMDB would write on
 * into the unlinked file, and a restart find nothing (or refuse the
 * directory: invariant 7), or another node may have taken it since. */
static const char *not_its_own(const cw__durable *d)
{
    int data_fd = -1;
    return unlinked(d->lock_fd) ? "the data directory (its " LOCK_FILE ") was removed under the node: saves would "
                                  "be lost; stop the node and restart it on a directory"
           : mdb_env_get_fd(d->env, &data_fd) != 0 || unlinked(data_fd)
               ? "the data directory's data.mdb was removed under the node: saves would be lost; stop the node, and "
                 "restart it on an empty directory without --fresh (it joins)"
               : NULL;
}

void cw__durable_close(cw__durable *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->notes_len; i++)
        cw_msg_unref(d->notes[i].msg);
    free(d->notes);
    /* A directory that is no longer this node's (cw__durable_save refuses
     * every save then) gets no more writes: another node may have taken it
     * since, and deleting the run mark would delete that node's (invariant
     * 5 undone for it). */
    bool own = d->env && d->lock_fd >= 0 && !not_its_own(d);
    MDB_txn *t;
    if (own && d->running && mdb_env_sync(d->env, 1) == 0 && mdb_txn_begin(d->env, NULL, 0, &t) == 0) {
        MDB_val k = {7, "running"};
        if (mdb_del(t, d->meta, &k, NULL) == 0)
            (void)mdb_txn_commit(t);
        else
            mdb_txn_abort(t);
        (void)mdb_env_sync(d->env, 1); /* a clean stop is on disk, whatever the mode */
    }
    if (d->env)
        mdb_env_close(d->env);
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* and the lock with it */
    free(d->stable);
    free(d);
}

/* ---- loading ---- */

typedef struct loaded {
    cw_msg **v;
    size_t len, cap;
} loaded;

static int take(loaded *l, const uint8_t *b, size_t len, const cw_msg_limits *lim)
{
    cw_msg *m = NULL;
    size_t used = 0;
    int rc = cw_msg_decode(&m, b, len, lim, &used);
    if (rc == CW_ENOMEM)
        return rc;
    if (rc != CW_OK || used != len || cw_msg_kind_of(m) != CW_MSG_WRITE) {
        if (m)
            cw_msg_unref(m);
        return CW_EINVAL;
    }
    cw_msg **room = cw__vec_room(l->v, l->len, &l->cap, sizeof *room);
    if (!room) {
        cw_msg_unref(m);
        return CW_ENOMEM;
    }
    l->v = room;
    l->v[l->len++] = m;
    return CW_OK;
}

static void loaded_free(loaded *l)
{
    for (size_t i = 0; i < l->len; i++)
        cw_msg_unref(l->v[i]);
    free(l->v);
}

/* One key's record: [count][len][bytes]... */
static int take_record(loaded *l, const MDB_val *v, const cw_msg_limits *lim)
{
    const uint8_t *b = v->mv_data;
    size_t at = 4;
    if (v->mv_size < 4)
        return CW_EINVAL;
    uint64_t count = cw__load_be(b, 4);
    if (count == 0) /* a key with no version left is removed, never saved empty */
        return CW_EINVAL;
    for (uint64_t i = 0; i < count; i++) {
        if (v->mv_size - at < 4)
            return CW_EINVAL;
        uint64_t len = cw__load_be(b + at, 4);
        at += 4;
        if (len > v->mv_size - at)
            return CW_EINVAL;
        int rc = take(l, b + at, (size_t)len, lim);
        if (rc != CW_OK)
            return rc;
        at += (size_t)len;
    }
    return at == v->mv_size ? CW_OK : CW_EINVAL;
}

/* CW_EBADMSG if its seal does not match, CW_EINVAL if missing or of
 * another size. */
static int read_counters(MDB_txn *t, MDB_dbi db, const char *name, uint64_t *c, uint32_t nodes)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = get_sealed(t, db, &k, &v);
    if (rc == MDB_CORRUPTED)
        return CW_EBADMSG;
    if (rc != 0 || v.mv_size != (size_t)nodes * 8)
        return CW_EINVAL;
    for (uint32_t i = 0; i < nodes; i++)
        c[i] = cw__load_be((const uint8_t *)v.mv_data + (size_t)i * 8, 8);
    return CW_OK;
}

/* What scan takes records into. */
typedef struct scanning {
    loaded *l;
    const cw_msg_limits *lim;
    bool records; /* key records, else log entries */
} scanning;

static int take_one(void *ctx, MDB_val *k, MDB_val *v)
{
    scanning *sc = ctx;
    if (!unseal(k, v))
        return CW_EBADMSG;
    return sc->records ? take_record(sc->l, v, sc->lim) : take(sc->l, v->mv_data, v->mv_size, sc->lim);
}

/* Takes every record of db (key records, or log entries). As each_record;
 * CW_EBADMSG: a seal did not match; CW_EINVAL: a record does not decode. */
static int scan(MDB_txn *t, MDB_dbi db, loaded *l, const cw_msg_limits *lim, bool records)
{
    scanning sc = {l, lim, records};
    return each_record(t, db, take_one, &sc);
}

int cw__durable_load(cw__durable *d, cw_node *n, const cw_msg_limits *lim, bool *had_state, char *err,
                     size_t errlen)
{
    *had_state = false;
    MDB_txn *t;
    int rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &t);
    if (rc != 0)
        return lmdb_error(rc, err, errlen, "reading the state");
    const char *dir = NULL;
    (void)mdb_env_get_path(d->env, &dir);
    guard_begin(dir ? dir : "the data directory"); /* invariant 6 */
    uint64_t *clock = calloc(d->nodes, sizeof *clock);
    loaded versions = {0}, log = {0};
    int r = clock ? CW_OK : CW_ENOMEM;
    if (r == CW_OK && ((r = read_counters(t, d->meta, "clock", clock, d->nodes)) != CW_OK ||
                       (r = read_counters(t, d->meta, "stable", d->stable, d->nodes)) != CW_OK)) {
        if (r == CW_EBADMSG)
            r = refuse_damaged(err, errlen, "the data directory's clock");
        else
            cw__server_err(err, errlen, "the data directory's clock is damaged");
    }
    bool any = false, huge = false;
    for (uint32_t k = 0; r == CW_OK && k < d->nodes; k++) {
        any |= clock[k] != 0;
        huge |= clock[k] > MAX_COUNTER || d->stable[k] > clock[k];
    }
    MDB_stat ks, ls;
    if (r == CW_OK && !any &&
        (mdb_stat(t, d->keys, &ks) != 0 || mdb_stat(t, d->log, &ls) != 0 || ks.ms_entries || ls.ms_entries)) {
        cw__server_err(err, errlen, "the data directory's clock is zero but it holds writes (damaged)");
        r = CW_EINVAL;
    }
    if (r == CW_OK && huge) { /* JSON carries counters below 2^63; stable is at or below the clock */
        cw__server_err(err, errlen, "the data directory's clock is damaged (a counter of 2^63 or more, or stable "
                                    "above it)");
        r = CW_EINVAL;
    }
    if (r == CW_OK && any) {
        r = scan(t, d->keys, &versions, lim, true);
        if (r == CW_OK)
            r = scan(t, d->log, &log, lim, false);
        if (r == CW_EBADMSG)
            r = refuse_damaged(err, errlen, "a saved record");
        else if (r == CW_EINVAL)
            cw__server_err(err, errlen, "a saved write does not decode (damaged, or saved under larger key and "
                                        "value limits than this node's)");
        else if (r == CW_EIO)
            cw__server_err(err, errlen, "reading the saved state failed");
        if (r == CW_ETRUNC) { /* invariant 6: LMDB's structure */
            cw__server_err(err, errlen, "the data file is damaged (LMDB found a page that is not what it should "
                                        "be): " REJOIN);
            r = CW_EINVAL;
        }
        if (r == CW_OK && (r = cw_node_restore(n, clock, d->nodes, versions.v, versions.len, log.v, log.len)) ==
                              CW_EINVAL)
            cw__server_err(err, errlen, "the saved state is not consistent (clock, versions and log disagree)");
        if (r == CW_OK) /* the saved stable clock, not only what the log starts after (a log-less install) */
            cw__node_cap_stable(n, d->stable);
        *had_state = r == CW_OK;
        if (r == CW_OK)
            d->saved_self = clock[d->self];
    }
    mdb_txn_abort(t);
    guard_end();
    loaded_free(&versions);
    loaded_free(&log);
    free(clock);
    d->starting = false;
    return r;
}

/* ---- saving ---- */

int cw__durable_note(cw__durable *d, const cw_msg *m, bool applied)
{
    note *room = cw__vec_room(d->notes, d->notes_len, &d->notes_cap, sizeof *room);
    if (!room) {
        /* Its log entry would be missing (invariant 2): no save from now
         * on, so the directory keeps its last consistent state. */
        d->lost_note = true;
        return CW_ENOMEM;
    }
    d->notes = room;
    d->notes[d->notes_len++] = (note){cw_msg_ref((cw_msg *)m), applied};
    return CW_OK;
}

void cw__durable_note_all(cw__durable *d) { d->all = true; }

bool cw__durable_dirty(const cw__durable *d) { return d->notes_len || d->all || d->lost_note; }

uint64_t cw__durable_saved_self(const cw__durable *d) { return d->saved_self; }

/* A long key's hash: the seed, then the key (durable.c's layout). */
static uint64_t seeded_hash(const cw__durable *d, const void *key, size_t key_len, bool *ok)
{
    uint8_t *b = malloc(sizeof d->seed + key_len);
    *ok = b != NULL;
    if (!b)
        return 0;
    memcpy(b, d->seed, sizeof d->seed);
    memcpy(b + sizeof d->seed, key, key_len);
    uint64_t h = cw__hash_bytes(b, sizeof d->seed + key_len);
    free(b);
    return h;
}

/* The database key of a short key, or the chain (slot 0) of a long one. */
static size_t db_key(const cw__durable *d, uint8_t *out, const void *key, size_t key_len, bool *ok)
{
    *ok = true;
    if (key_len < SHORT_KEY) {
        out[0] = 'k';
        memcpy(out + 1, key, key_len);
        return key_len + 1;
    }
    out[0] = 'h';
    memcpy(out + 1, key, PREFIX);
    cw__store_be(out + 1 + PREFIX, seeded_hash(d, key, key_len, ok), 8);
    cw__store_be(out + CHAIN, 0, 4);
    return LONG_KEY;
}

typedef struct put_ctx {
    cw__durable *d;
    MDB_txn *t;
    int rc;                    /* LMDB's */
} put_ctx;

/* Whether the record under a long key's database key is that key's. */
static bool record_is(const MDB_val *v, const void *key, size_t key_len)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size < 8 || cw__load_be(b, 4) == 0)
        return true;
    size_t len = (size_t)cw__load_be(b + 4, 4);
    cw_msg *m = NULL;
    cw_msg_limits lim = {65536u, SIZE_MAX, SIZE_MAX};
    if (len > v->mv_size - 8 || cw_msg_decode(&m, b + 8, len, &lim, NULL) != CW_OK)
        return true; /* not readable: overwritten, as it would be anyway */
    size_t klen;
    const void *k = cw_msg_key(m, &klen);
    bool same = klen == key_len && memcmp(k, key, klen) == 0;
    cw_msg_unref(m);
    return same;
}

/* A long key's slot in its chain (the one whose versions name it, or a
 * free one after the last: *found false), in kb[CHAIN..]. LMDB's. */
static int find_slot(put_ctx *c, uint8_t *kb, const void *key, size_t key_len, bool *found)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->t, c->d->keys, &cur);
    if (rc)
        return rc;
    MDB_val k = {LONG_KEY, kb}, v;
    uint64_t next = 0;
    *found = false;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != LONG_KEY || memcmp(k.mv_data, kb, CHAIN) != 0)
            break;
        uint64_t slot = cw__load_be((const uint8_t *)k.mv_data + CHAIN, 4);
        if (record_is(&v, key, key_len)) {
            cw__store_be(kb + CHAIN, slot, 4);
            *found = true;
            break;
        }
        next = slot + 1;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (!*found) {
        if (next > UINT32_MAX)
            return MDB_KEYEXIST; /* 2^32 long keys alike: refused */
        cw__store_be(kb + CHAIN, next, 4);
    }
    return 0;
}

/* cw_key_fn: writes one key's versions (or removes the key). */
static void put_key(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions, size_t count)
{
    put_ctx *c = ctx;
    if (c->rc)
        return;
    uint8_t kb[LONG_KEY > 1 + SHORT_KEY ? LONG_KEY : 1 + SHORT_KEY];
    bool ok, found = true;
    MDB_val k = {db_key(c->d, kb, key, key_len, &ok), kb};
    if (!ok) {
        c->rc = ENOMEM;
        return;
    }
    if (key_len >= SHORT_KEY && (c->rc = find_slot(c, kb, key, key_len, &found)) != 0)
        return;
    if (!count) {
        int rc = found ? mdb_del(c->t, c->d->keys, &k, NULL) : MDB_NOTFOUND;
        c->rc = rc == MDB_NOTFOUND ? 0 : rc;
        return;
    }
    size_t total = 4;
    for (size_t i = 0; i < count; i++)
        total += 4 + cw_msg_encoded_size(versions[i]);
    MDB_val v = {total + SEAL, NULL};
    if ((c->rc = mdb_put(c->t, c->d->keys, &k, &v, MDB_RESERVE)) != 0)
        return;
    uint8_t *b = v.mv_data;
    cw__store_be(b, count, 4);
    size_t at = 4;
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        (void)cw_msg_encode(versions[i], b + at + 4, total - at - 4, &len); /* sized above */
        cw__store_be(b + at, len, 4);
        at += 4 + len;
    }
    seal(&k, &v);
}

static int put_log(cw__durable *d, MDB_txn *t, const cw_msg *m)
{
    uint8_t kb[12];
    cw__store_be(kb, cw_msg_origin(m), 4);
    cw__store_be(kb + 4, cw_msg_seq(m), 8);
    MDB_val k = {sizeof kb, kb}, v = {cw_msg_encoded_size(m) + SEAL, NULL};
    int rc = mdb_put(t, d->log, &k, &v, MDB_RESERVE);
    size_t len;
    if (rc == 0) {
        (void)cw_msg_encode(m, v.mv_data, v.mv_size - SEAL, &len);
        seal(&k, &v);
    }
    return rc;
}

/* cw__node_each_logged's fn: one log entry into the transaction. */
static void put_logged(void *ctx, const cw_msg *m)
{
    put_ctx *p = ctx;
    if (!p->rc)
        p->rc = put_log(p->d, p->t, m);
}

/* Removes origin's log entries at or below seq. */
static int trim_log(cw__durable *d, MDB_txn *t, uint32_t origin, uint64_t seq)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, d->log, &c);
    if (rc)
        return rc;
    uint8_t kb[12];
    cw__store_be(kb, origin, 4);
    cw__store_be(kb + 4, 0, 8);
    MDB_val k = {sizeof kb, kb}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *b = k.mv_data;
        if (k.mv_size != 12 || cw__load_be(b, 4) != origin || cw__load_be(b + 4, 8) > seq)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Whether the file system under the environment has (almost) no room: a
 * write that failed there reports EIO or ENOSPC alike. */
static bool disk_full(const cw__durable *d)
{
    struct statvfs fs;
    int fd = -1;
    return mdb_env_get_fd(d->env, &fd) == 0 && fstatvfs(fd, &fs) == 0 &&
           (uint64_t)fs.f_bavail * fs.f_frsize < ((uint64_t)1 << 20);
}

typedef struct key_ref {
    const void *key;
    size_t len;
} key_ref;

/* cw__map_eq: a noted write (the item) of the key looked up. */
static bool same_key(const void *item, const void *lookup)
{
    const key_ref *k = lookup;
    size_t len;
    const void *key = cw_msg_key(item, &len);
    return len == k->len && memcmp(key, k->key, len) == 0;
}

int cw__durable_save(cw__durable *d, cw_node *n, char *err, size_t errlen)
{
    if (!cw__durable_dirty(d))
        return CW_OK;
    const char *refused = d->lost_note ? "out of memory while noting a change: restart the node (it comes back "
                                         "at its last saved state)"
                                       : not_its_own(d);
    if (refused) {
        cw__server_err(err, errlen, "%s", refused);
        d->stats.failed_saves++;
        return CW_EIO;
    }
    cw_vclock sv;
    cw_vclock_init(&sv);
    uint64_t *stable = calloc(d->nodes, sizeof *stable);
    if (!stable || cw_node_stable(n, &sv) != CW_OK) {
        free(stable);
        cw_vclock_destroy(&sv);
        return CW_ENOMEM;
    }
    for (uint32_t k = 0; k < d->nodes; k++)
        stable[k] = cw_vclock_get(&sv, k);
    cw_vclock_destroy(&sv);
    MDB_txn *t = NULL;
    guard_save(d); /* invariant 6: until the transaction ends */
    int rc = mdb_txn_begin(d->env, NULL, 0, &t);
    put_ctx p = {d, t, rc};
    if (!rc && d->all) { /* every key: those gone are found by a full rewrite */
        rc = mdb_drop(t, d->keys, 0);
        p.rc = rc;
        if (!rc)
            cw_node_each_key(n, put_key, &p);
        rc = p.rc;
        /* And the whole log: an installed state brings a log that no
         * applied write noted (invariant 2). */
        if (!rc && !(rc = mdb_drop(t, d->log, 0)))
            cw__node_each_logged(n, put_logged, &p);
        if (!rc)
            rc = p.rc;
    }
    size_t logged = 0;
    cw__map written; /* keys whose versions this save wrote already (a hot key is written once) */
    cw__map_init(&written);
    for (size_t i = 0; !rc && i < d->notes_len; i++) {
        const cw_msg *m = d->notes[i].msg;
        size_t klen;
        const void *key = cw_msg_key(m, &klen);
        uint64_t h = m->key_hash; /* cw__hash_key of the key, made with the message */
        key_ref kr = {key, klen};
        if (!d->all && !cw__map_find(&written, h, same_key, &kr)) {
            (void)cw_node_key_versions(n, key, klen, put_key, &p);
            rc = p.rc;
            (void)cw__map_insert(&written, h, (void *)m); /* out of memory: written again, no harm */
        }
        if (!rc && d->notes[i].applied && cw_msg_seq(m) > stable[cw_msg_origin(m)]) {
            rc = put_log(d, t, m);
            logged++;
        }
    }
    cw__map_destroy(&written);
    for (uint32_t k = 0; !rc && k < d->nodes; k++)
        if (stable[k] > d->stable[k])
            rc = trim_log(d, t, k, stable[k]);
    if (!rc)
        rc = put_counters(t, d->meta, "clock", cw_node_counters(n), d->nodes);
    if (!rc)
        rc = put_counters(t, d->meta, "stable", stable, d->nodes);
    if (!rc)
        rc = mdb_txn_commit(t); /* with CW__SYNC_FULL, on disk when it returns */
    else if (t)
        mdb_txn_abort(t);
    guard_end();
    if (rc) {
        d->stats.failed_saves++;
        free(stable);
        return lmdb_error(rc, err, errlen, rc == MDB_MAP_FULL ? "saving (the data map is full: a larger --map-size)"
                                           : rc == EFBIG      ? "saving (past this process's file size limit, ulimit -f)"
                                           : disk_full(d)     ? "saving (the disk holding the data directory is full)"
                                                              : "saving");
    }
    memcpy(d->stable, stable, (size_t)d->nodes * sizeof *stable);
    d->saved_self = cw_node_counters(n)[d->self];
    free(stable);
    for (size_t i = 0; i < d->notes_len; i++)
        cw_msg_unref(d->notes[i].msg);
    d->notes_len = 0;
    d->all = false;
    d->stats.saves++;
    d->stats.saved_writes += logged;
    return CW_OK;
}

void cw__durable_get_stats(const cw__durable *d, cw__durable_stats *out)
{
    *out = d->stats;
    MDB_envinfo info;
    MDB_stat st;
    guard_save(d); /* both read the meta pages in the map (invariant 6) */
    if (mdb_env_info(d->env, &info) == 0 && mdb_env_stat(d->env, &st) == 0) {
        out->map_size = info.me_mapsize;
        out->map_used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    }
    guard_end();
}
