/* causeway stress --processes N: the ground-truth stress against N `causeway
 * node` processes that this command starts, drives through their client
 * endpoints (causeway/client.h), disturbs (--stop, --kill, the nodes' own
 * --drop/--delay/--dup) and then judges from their traces with the
 * ground-truth history (causeway/verify.h).
 *
 * Invariants:
 *  1. Every endpoint is an ipc:// socket in a fresh temporary directory
 *     (mkdtemp), with each node's trace; nothing collides with another run.
 *     The directory is removed after a passing run and kept (and named) after
 *     a failing one, or with --keep-traces.
 *  2. The run is judged from the traces by trace_check.c (the history
 *     built from them, replayed in each node's order; its invariants). The
 *     clients' records add only what a trace cannot say: which versions a
 *     read-modify-write read (cw_history_wrote), and they are matched to
 *     trace writes by dot, key, kind, clock and context (acknowledged) or by
 *     node, key, kind and context (timed out).
 *  3. A killed node's trace is cut at the kill (its size after waitpid: the
 *     dead process's incarnation ends there; a partial last line is ended and
 *     dropped). The new process is history node N (trace_check.c, invariant
 *     3). A violation besides the trace's: a write of the dead process lost
 *     with it (it reached no surviving node) whose dot the new process wrote
 *     again after it had been acknowledged to a client, or a lost write
 *     acknowledged more than LOST_GRACE_S before the kill.
 *  4. The node's trace reaches its file at least every 100 ms (server.h;
 *     causeway node writes each line whole as it is made), so the
 *     killed node's own clients pause CLI_PROCS_KILL_QUIET_S before the kill: every
 *     write the dead process made is then in its trace.
 */
#define _GNU_SOURCE /* pipe2 */
#include "procs.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <causeway/causeway.h>
#include <causeway/client.h>

#include "cli.h"
#include "opts.h"
#include "progress.h"
#include "report.h"
#include "thread_room.h"
#include "trace_check.h"
#include "vec.h"
#include "workload.h"

#define MAX_PROCS 64u
_Static_assert(MAX_PROCS <= CLI_TRACE_MAX_NODES, "every process's trace fits the judge");
#define JOIN_DEADLINE_S 10.0
#define EXIT_DEADLINE_S 10.0
#define CLIENT_TIMEOUT_MS 1000u
/* What a client handle takes from the process (client.h): said when one
 * cannot be opened. */
#define HANDLE_NEEDS "a handle starts two ZeroMQ threads, which count toward ulimit -u, and holds about 8 open files"
#define RETRY_DEADLINE_S 30.0
/* A timed-out call is excused when it overlapped a stop or kill window
 * extended by this much (the node works off its backlog after SIGCONT). */
#define FAULT_GRACE_S 1.0
/* A call that timed out at a node neither stopped nor killed is a slow
 * answer, not a failure, up to this many in a row for one client: a loaded
 * machine (sanitizers, more client threads than cores) keeps a node past
 * one call's CLIENT_TIMEOUT_MS now and then. One more fails the run: the
 * node, or this client's connection to it, is stuck. Counted per client
 * (per handle), so a handle that gets no answer fails whatever the node
 * does for others. */
#define SLOW_IN_A_ROW 3u
#define LOST_GRACE_S 1.0

/* ---- node processes ---- */

typedef struct proc {
    pid_t pid;
    char listen[160], client[160], trace[160], out[160], data[160], seed[24], id[16];
    char peer[MAX_PROCS][180];
    long boundary;          /* the dead incarnation's trace size (invariant 3), or -1 */
    bool truncated;         /* its last line was cut by the kill */
    double killed_at;       /* cli_seconds, 0: never */
    int status;             /* its exit status (exit_code), -1 when it had to be killed or
                               could not be waited for, or EXIT_NOT_STARTED */
} proc;

/* proc.status of a node whose process never started. */
#define EXIT_NOT_STARTED (-2)

/* A waited-for process's exit status as a shell shows it. */
static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

/* A stop or kill window of a node: calls overlapping it may time out. */
typedef struct window {
    int node;
    _Atomic double from, to; /* from 0: not begun; to INFINITY: not over */
} window;

typedef struct wrec {      /* a client's write attempt */
    uint32_t node;
    uint64_t seq;          /* its dot's seq when acknowledged, else 0 */
    bool acked, del, ctx;
    char key[24];
    uint64_t *clock;       /* acked: the clock answered */
    uint64_t *context;     /* ctx: the context sent */
    cw_history_dot *dots;  /* ctx: what its read returned */
    size_t ndots;
    double sent, done;
    bool matched;
} wrec;

typedef struct prun prun;

typedef struct pclient {
    prun *r;
    uint32_t id, node;
    uint64_t writes;
    cw_client *c;
    wrec *recs;
    size_t nrec, cap;
    uint64_t reads, retries, timeouts;
    uint64_t slow;                  /* of timeouts: at a node neither stopped nor killed */
    uint64_t slow_reads;            /* reads that timed out there */
    uint32_t unanswered;            /* such timeouts in a row (SLOW_IN_A_ROW) */
    double done_s;                  /* when it ended (now_s): the run reads it after joining */
} pclient;

struct prun {
    const cli_procs_options *o;
    uint32_t n;
    char dir[64];
    char exe[4096];
    proc p[MAX_PROCS];
    cw_client *st[MAX_PROCS];      /* the driver's handles (status, final reads) */
    window win[2];                  /* stop, kill */
    cli_keys keys;
    double start, end;
    double clients_s;               /* when the last client ended, seconds after start (drive) */
    bool part_made, stop_made;      /* whether --partition and --stop were made before the clients ended */
    _Atomic bool quiet[MAX_PROCS];  /* invariant 4: the node's clients wait */
    _Atomic uint32_t busy[MAX_PROCS];
    _Atomic uint32_t running;
    _Atomic int failed;
    char failure[256];
    /* The run's failure (the first, kept) is this machine's limits (open
     * files, threads), not anything the nodes did: no verdict (exit 3).
     * The main thread's. */
    bool machine;
    pthread_mutex_t lock;
    /* The clients' start: every client thread is made before any writes,
     * then the run's clock starts (start, end) and `go` lets them all
     * begin, under lock (which publishes start and end to them). Making 32
     * threads took 1.3-1.7 s under TSan on a loaded host, past a 1 s run's
     * --stop at 0.5 s, when the clock started before the first was made. */
    pthread_cond_t started;
    bool go;
    /* A restart's fork, asked of the main thread by the killer thread
     * (spawn_on_main): node + 1, 0 when done. seq_cst, so the store of 0
     * publishes respawn_rc and the node's pid to the killer that reads 0. */
    _Atomic uint32_t respawn;
    int respawn_rc;
    int keeper_fd;                  /* the pipe to the keeper, or -1 */
    pid_t keeper;
};

static double now_s(void) { return cli_seconds(); }

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static bool fail_run(prun *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail_run(prun *r, int rc, const char *fmt, ...)
{
    int none = 0;
    pthread_mutex_lock(&r->lock);
    bool first = atomic_compare_exchange_strong(&r->failed, &none, rc ? rc : CW_EIO);
    if (first) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->failure, sizeof r->failure, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&r->lock);
    return first;
}

/* A node's own answer, as the run's failure: a node that answered
 * CW_ENOMEM is the system under test failing (exit 1), not this process
 * short of memory (CW_ENOMEM: no verdict, exit 3). */
static int node_answer(int rc) { return rc == CW_ENOMEM ? CW_EIO : rc; }

static pthread_t main_thread;

/* ---- the keeper ----
 * A process forked before any thread starts that outlives this command to
 * tidy after it. The command tells it each node's pid as the node starts
 * and ends (a record on a pipe, written by the main and killer threads:
 * each record is one write of at most PIPE_BUF bytes, so records do not
 * interleave). When the pipe ends without the KEEPER_DONE record (this
 * command died: any signal, SIGKILL included), the keeper stops the nodes
 * still running (SIGTERM, and SIGCONT for one stopped by --stop), waits up
 * to EXIT_DEADLINE_S for them, SIGKILLs any left and removes the run's
 * directory. A run that ends tidies in its own way (keeper_done). */
typedef struct keeper_rec {
    uint32_t node;                  /* KEEPER_DONE: the run ended */
    int32_t pid;                    /* 0: the node's process ended */
} keeper_rec;
#define KEEPER_DONE UINT32_MAX
_Static_assert(sizeof(keeper_rec) <= PIPE_BUF, "a record is one atomic write");

static void tell_keeper(prun *r, uint32_t node, pid_t pid)
{
    keeper_rec k = {node, (int32_t)pid};
    if (r->keeper_fd >= 0) /* a keeper gone (EPIPE; SIGPIPE is ignored) tidies nothing */
        while (write(r->keeper_fd, &k, sizeof k) < 0 && errno == EINTR) {
        }
}

/* pid's start time (/proc/PID/stat field 22, clock ticks after boot) if it
 * runs (exists and is not a zombie its new parent has yet to reap), else 0.
 * The keeper signals a pid only while it has the start time its node had:
 * never a process that took the pid of a node reaped meanwhile. */
static unsigned long long started_at(pid_t pid)
{
    char path[32], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0)
        return 0;
    line[n] = 0;
    const char *f = strrchr(line, ')'); /* the name may hold spaces and ')' */
    if (!f || f[1] != ' ' || f[2] == 'Z')
        return 0;
    f += 2; /* field 3, the state */
    for (int k = 3; k < 22 && f; k++)
        if ((f = strchr(f, ' ')))
            f++;
    return f ? strtoull(f, NULL, 10) : 0;
}

/* Whether the process that had start time `start` (0: none) runs as pid. */
static bool still_runs(pid_t pid, unsigned long long start) { return start && started_at(pid) == start; }

static void remove_dir(prun *r);

_Noreturn static void keeper_main(prun *r, int fd)
{
    signal(SIGINT, SIG_IGN); /* a terminal's ^C reaches the whole group: the keeper tidies after it */
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { /* a pipe reading the command's output ends with the command */
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2)
            close(null);
    }
    pid_t pid[MAX_PROCS] = {0};
    unsigned long long start[MAX_PROCS] = {0};
    keeper_rec k;
    ssize_t got;
    while ((got = read(fd, &k, sizeof k)) == (ssize_t)sizeof k || (got < 0 && errno == EINTR)) {
        if (got < 0)
            continue;
        if (k.node == KEEPER_DONE)
            _exit(0);
        if (k.node < MAX_PROCS) {
            pid[k.node] = (pid_t)k.pid;
            start[k.node] = k.pid > 0 ? started_at((pid_t)k.pid) : 0; /* 0: gone already */
        }
    }
    for (uint32_t i = 0; i < MAX_PROCS; i++)
        if (still_runs(pid[i], start[i])) {
            kill(pid[i], SIGTERM);
            kill(pid[i], SIGCONT); /* one stopped by --stop takes its SIGTERM once continued */
        }
    double deadline = now_s() + EXIT_DEADLINE_S;
    for (uint32_t i = 0; i < MAX_PROCS; i++) {
        while (still_runs(pid[i], start[i]) && now_s() < deadline)
            sleep_s(0.01);
        if (still_runs(pid[i], start[i]))
            kill(pid[i], SIGKILL);
    }
    remove_dir(r);
    _exit(0);
}

/* Forks the keeper (before any thread of this command starts). */
static int start_keeper(prun *r)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) { /* the nodes, exec'd, hold no end: the pipe ends with this command */
        fail_run(r, CW_EIO, "starting the keeper process: pipe: %s", strerror(errno));
        return CW_EIO;
    }
    for (int e = 0; e < 2; e++) /* a closed 0, 1 or 2 given to the pipe: the keeper's dup2s would take it */
        if (fds[e] <= 2) {
            int hi = fcntl(fds[e], F_DUPFD_CLOEXEC, 3);
            if (hi < 0) {
                fail_run(r, CW_EIO, "starting the keeper process: %s", strerror(errno));
                close(fds[0]);
                close(fds[1]);
                return CW_EIO;
            }
            close(fds[e]);
            fds[e] = hi;
        }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fail_run(r, CW_EIO, "starting the keeper process: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return CW_EIO;
    }
    if (pid == 0) {
        close(fds[1]);
        keeper_main(r, fds[0]);
    }
    close(fds[0]);
    r->keeper_fd = fds[1];
    r->keeper = pid;
    return CW_OK;
}

/* The run ended (nothing for the keeper to do): it exits, and is reaped. */
static void keeper_done(prun *r)
{
    if (r->keeper_fd < 0)
        return;
    tell_keeper(r, KEEPER_DONE, 0);
    close(r->keeper_fd);
    r->keeper_fd = -1;
    waitpid(r->keeper, NULL, 0);
}

/* fork + exec of this executable as `node`; the child resets its signal
 * mask and dispositions (the parent's threads may block some) and uses only
 * async-signal-safe calls. Every node is forked by the main thread and asks
 * for SIGTERM should this command die first, SIGKILL and abort included
 * (PR_SET_PDEATHSIG fires when the forking thread ends, so a node the
 * killer thread forked would outlive the command: spawn_on_main). */
static int spawn(prun *r, uint32_t i)
{
    const cli_procs_options *o = r->o;
    proc *p = &r->p[i];
    char drop[32], delay[32], dup[32], mdu[32], nodes[16];
    snprintf(nodes, sizeof nodes, "%u", r->n);
    snprintf(drop, sizeof drop, "%.17g", o->drop);
    snprintf(delay, sizeof delay, "%.17g", o->delay);
    snprintf(dup, sizeof dup, "%.17g", o->dup);
    snprintf(mdu, sizeof mdu, "%u", o->max_delay_us);
    const char *argv[40 + 2 * MAX_PROCS];
    size_t a = 0;
    argv[a++] = r->exe;
    argv[a++] = "node";
    argv[a++] = "--id", argv[a++] = p->id;
    argv[a++] = "--nodes", argv[a++] = nodes;
    argv[a++] = "--listen", argv[a++] = p->listen;
    argv[a++] = "--client", argv[a++] = p->client;
    argv[a++] = "--http", argv[a++] = "127.0.0.1:0"; /* for /admin/link (--partition): the port it prints */
    argv[a++] = "--trace", argv[a++] = p->trace;
    argv[a++] = "--seed", argv[a++] = p->seed;
    argv[a++] = "--drop", argv[a++] = drop;
    if (o->delay > 0)
        argv[a++] = "--delay", argv[a++] = delay, argv[a++] = "--max-delay-us", argv[a++] = mdu;
    argv[a++] = "--dup", argv[a++] = dup;
    if (o->data)
        argv[a++] = "--data", argv[a++] = p->data;
    /* A name of the run's own: its links carry it, as a user's group's do. */
    argv[a++] = "--group", argv[a++] = "stress";
    for (uint32_t j = 0; j < r->n; j++)
        if (j != i)
            argv[a++] = "--peer", argv[a++] = p->peer[j];
    argv[a] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    assert(pthread_equal(pthread_self(), main_thread));
    /* The child writes execv's errno here when it cannot run the program;
     * a successful execv closes it. Either way this process is told before
     * the node could be taken for one that started and exited 127 on its
     * own. */
    int exec_err[2];
    if (pipe2(exec_err, O_CLOEXEC) != 0) {
        if (fail_run(r, CW_EIO, "starting node %u: pipe: %s", i, strerror(errno)))
            r->machine = true;
        return CW_EIO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(exec_err[0]);
        close(exec_err[1]);
        if (fail_run(r, CW_EIO, "starting node %u: fork: %s", i, strerror(e)))
            r->machine = true;
        return CW_EIO;
    }
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127); /* the command died before prctl */
        sigset_t none;
        sigemptyset(&none);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < 65; s++)
            if (s != SIGKILL && s != SIGSTOP)
                (void)sigaction(s, &dfl, NULL);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        int fd = open(p->out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) { /* what the node says, its errors too, where a failure points */
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd); /* above 2: main() keeps 0, 1 and 2 open */
        }
        /* This process's own program, whatever became of its path: one
         * removed, or replaced by a rebuild while the run went on, would
         * have run a node of another build, or none. */
        execv("/proc/self/exe", (char *const *)argv);
        int e = errno;
        ssize_t told = write(exec_err[1], &e, sizeof e); /* not told: taken for a start that exited 127 */
        (void)told;
        _exit(127);
    }
    close(exec_err[1]);
    int e = 0;
    ssize_t got;
    while ((got = read(exec_err[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(exec_err[0]);
    if (got == (ssize_t)sizeof e) { /* no node ran: this machine's, no verdict on the nodes */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (fail_run(r, CW_EIO, "starting node %u: cannot run this program (%s) again: %s", i, r->exe,
                     strerror(e)))
            r->machine = true;
        return CW_EIO;
    }
    p->pid = pid;
    tell_keeper(r, i, pid);
    return CW_OK;
}

/* spawn(r, i) on the main thread, which serve_respawn runs while the
 * killer thread waits here. */
static int spawn_on_main(prun *r, uint32_t i)
{
    if (pthread_equal(pthread_self(), main_thread))
        return spawn(r, i);
    atomic_store(&r->respawn, i + 1);
    while (atomic_load(&r->respawn) != 0)
        sleep_s(0.001);
    return r->respawn_rc;
}

/* The main thread's side of spawn_on_main. */
static void serve_respawn(prun *r)
{
    uint32_t want = atomic_load(&r->respawn);
    if (want) {
        r->respawn_rc = spawn(r, want - 1);
        atomic_store(&r->respawn, 0);
    }
}

/* Whether node i's process has exited (reaped now: its status kept). */
static bool reaped(prun *r, uint32_t i)
{
    int status;
    if (!r->p[i].pid || waitpid(r->p[i].pid, &status, WNOHANG) != r->p[i].pid)
        return false;
    tell_keeper(r, i, 0);
    r->p[i].pid = 0;
    r->p[i].status = exit_code(status);
    return true;
}

/* Waits until node i answers its status with joining false: CW_OK,
 * CW_ETIMEDOUT, or CW_EIO when node i exited, or with `gone` (the group's
 * start, on the main thread, which reaps every node) any node: a node
 * joins once its peers answer, so one that exited keeps the others
 * waiting. *gone is then the node that exited. */
static int wait_joined(prun *r, uint32_t i, double deadline, uint32_t *gone)
{
    cw_client_status st;
    cw_client_status_init(&st);
    int rc;
    for (;;) {
        rc = cw_client_get_status(r->st[i], &st);
        if (rc == CW_OK && !st.joining)
            break;
        uint32_t j = i;
        bool exited = reaped(r, i);
        for (uint32_t k = 0; gone && !exited && k < r->n; k++)
            if (k != i && reaped(r, k)) {
                j = k;
                exited = true;
            }
        if (exited) {
            if (gone)
                *gone = j;
            rc = CW_EIO;
            break;
        }
        if (now_s() > deadline) {
            rc = CW_ETIMEDOUT;
            break;
        }
        sleep_s(0.02);
    }
    cw_client_status_destroy(&st);
    return rc;
}

/* ---- clients ---- */

static bool excused(prun *r, uint32_t node, double t0, double t1)
{
    for (int k = 0; k < 2; k++) {
        window *w = &r->win[k];
        double from = atomic_load(&w->from), to = atomic_load(&w->to);
        if (w->node == (int)node && from > 0 && t1 >= from && t0 <= to + FAULT_GRACE_S)
            return true;
    }
    return false;
}

/* Whether client c takes a call that ended with rc in its stride: any
 * answer, a timeout the run excuses (a stopped or killed node), or a slow
 * one (SLOW_IN_A_ROW). *slow: it was a slow one. */
static bool answering(pclient *c, int rc, bool excuse, bool *slow)
{
    *slow = false;
    if (rc != CW_ETIMEDOUT) {
        c->unanswered = 0;
        return true;
    }
    if (excuse)
        return true;
    *slow = ++c->unanswered <= SLOW_IN_A_ROW;
    return *slow;
}

/* What a failed call's timeout means, said after its error. */
_Static_assert(SLOW_IN_A_ROW == 3u, "hung() names SLOW_IN_A_ROW");
static const char *hung(int rc)
{
    return rc == CW_ETIMEDOUT ? " (the node answered none of this client's last 4 calls)" : "";
}

static double draw(uint64_t *rng)
{
    *rng = *rng * 6364136223846793005u + 1442695040888963407u;
    return (double)(*rng >> 11) * 0x1p-53;
}

static uint64_t *counters_of(const cw_vclock *v, uint32_t n)
{
    uint64_t *c = calloc(n, sizeof *c);
    for (uint32_t k = 0; c && k < n; k++)
        c[k] = cw_vclock_get(v, k);
    return c;
}

static wrec *new_rec(pclient *c)
{
    wrec *g = cw__vec_room(c->recs, c->nrec, &c->cap, sizeof *g);
    if (!g)
        return NULL;
    c->recs = g;
    wrec *w = &c->recs[c->nrec++];
    memset(w, 0, sizeof *w);
    return w;
}

/* A read-modify-write's read into its record: the context it sent and the
 * versions (dots) the read returned. False when out of memory: a record
 * without them would tell the history its write read nothing. */
static bool record_read(wrec *w, const cw_read *got, uint32_t n)
{
    w->context = counters_of(&got->context, n);
    w->dots = got->count ? calloc(got->count, sizeof *w->dots) : NULL;
    if (!w->context || (got->count && !w->dots))
        return false;
    for (size_t v = 0; v < got->count; v++)
        w->dots[v] = (cw_history_dot){got->versions[v].origin, got->versions[v].seq};
    w->ndots = got->count;
    return true;
}

static bool retryable(int rc) { return rc == CW_EJOINING || rc == CW_ESTALLED || rc == CW_EFULL; }

/* One write (or a read, with --reads) of client c: 1 a write (made,
 * or timed out), 0 a read, -1 the run failed. */
static int client_op(pclient *c, uint64_t *rng, uint64_t i)
{
    prun *r = c->r;
    const cli_procs_options *o = r->o;
    uint32_t n = r->n;
    char key[24], tag[48];
    *rng = *rng * 6364136223846793005u + 1442695040888963407u;
    snprintf(key, sizeof key, "k%llu", (unsigned long long)cli_keys_next(&r->keys, *rng));
    if (o->reads > 0 && draw(rng) < o->reads) {
        cw_read got;
        cw_read_init(&got);
        double t0 = now_s();
        int rc = cw_client_get(c->c, key, strlen(key), &got);
        double t1 = now_s();
        cw_read_destroy(&got);
        c->reads++;
        bool slow;
        bool taken = answering(c, rc, excused(r, c->node, t0, t1), &slow);
        c->slow_reads += slow;
        /* CW_EFULL: a large answer while the node's answers to its clients
         * hold their bound (backpressure; nothing read, nothing to check). */
        if (rc == CW_OK || rc == CW_ENOTFOUND || rc == CW_EFULL || (rc == CW_ETIMEDOUT && taken))
            return 0;
        fail_run(r, node_answer(rc), "client %u: a read at node %u: %s%s", c->id, c->node, cw_strerror(rc),
                 hung(rc));
        return -1;
    }
    bool rmw = o->rmw > 0 && draw(rng) < o->rmw, del = o->deletes > 0 && draw(rng) < o->deletes;
    int len = snprintf(tag, sizeof tag, "w%llu@c%u", (unsigned long long)i, c->id);
    double first = now_s();
    for (;;) {
        cw_read got;
        cw_read_init(&got);
        cw_vclock clock;
        cw_vclock_init(&clock);
        double t0 = now_s();
        int rc = rmw ? cw_client_get(c->c, key, strlen(key), &got) : CW_OK;
        if (rc == CW_ENOTFOUND)
            rc = CW_OK;
        bool sent = rc == CW_OK; /* the write itself went out */
        if (rc == CW_OK)
            rc = del ? cw_client_delete(c->c, key, strlen(key), rmw ? &got.context : NULL, &clock)
                     : cw_client_put(c->c, key, strlen(key), tag, (size_t)len, rmw ? &got.context : NULL, &clock);
        double t1 = now_s();
        bool excuse = excused(r, c->node, t0, t1), slow;
        bool taken = answering(c, rc, excuse, &slow);
        if (retryable(rc) || (rc == CW_EAHEAD && excuse) || (rc == CW_ETIMEDOUT && taken) || rc == CW_EUNSAVED) {
            /* A put that timed out, or that a node made but could not save,
             * may have taken effect: kept as a "maybe" for the trace to
             * settle (invariant 2). A read-modify-write whose read timed
             * out sent no write: nothing is kept, or its empty read would
             * claim (as a context write that read nothing) another timed-out
             * write of the key at the node, and tell the history that it
             * superseded nothing. */
            bool maybe = rc == CW_ETIMEDOUT || rc == CW_EUNSAVED;
            wrec *w = maybe && sent ? new_rec(c) : NULL;
            bool kept = !(maybe && sent) || w; /* a write that may have been made has its record */
            if (w) {
                *w = (wrec){.node = c->node, .del = del, .ctx = rmw, .sent = t0, .done = t1};
                memcpy(w->key, key, sizeof key);
                kept = !rmw || record_read(w, &got, n);
            }
            cw_vclock_destroy(&clock);
            cw_read_destroy(&got);
            if (!kept) {
                fail_run(r, CW_ENOMEM, "out of memory");
                return -1;
            }
            if (maybe) {
                c->timeouts++;
                c->slow += slow;
                return 1;
            }
            c->retries++;
            if (t1 - first > RETRY_DEADLINE_S) {
                fail_run(r, rc, "client %u: node %u refused writes for %g s: %s", c->id, c->node,
                         RETRY_DEADLINE_S, cw_strerror(rc));
                return -1;
            }
            sleep_s(0.005);
            continue;
        }
        if (rc != CW_OK) {
            fail_run(r, node_answer(rc), "client %u: a %s at node %u: %s%s", c->id, del ? "delete" : "put",
                     c->node, cw_strerror(rc), hung(rc));
            cw_vclock_destroy(&clock);
            cw_read_destroy(&got);
            return -1;
        }
        wrec *w = new_rec(c);
        if (!w) {
            fail_run(r, CW_ENOMEM, "out of memory");
            cw_vclock_destroy(&clock);
            cw_read_destroy(&got);
            return -1;
        }
        *w = (wrec){.node = c->node, .seq = cw_vclock_get(&clock, c->node), .acked = true, .del = del,
                    .ctx = rmw, .sent = t0, .done = t1};
        memcpy(w->key, key, sizeof key);
        w->clock = counters_of(&clock, n);
        bool kept = w->clock && (!rmw || record_read(w, &got, n));
        cw_vclock_destroy(&clock);
        cw_read_destroy(&got);
        if (!kept) {
            fail_run(r, CW_ENOMEM, "out of memory");
            return -1;
        }
        return 1;
    }
}

static void *client_main(void *arg)
{
    pclient *c = arg;
    prun *r = c->r;
    pthread_mutex_lock(&r->lock);
    while (!r->go)
        pthread_cond_wait(&r->started, &r->lock);
    pthread_mutex_unlock(&r->lock);
    uint64_t rng = r->o->seed ^ (0x9e3779b97f4a7c15u * (c->id + 1));
    for (uint64_t i = 0; i < c->writes && !atomic_load(&r->failed);) {
        if (r->end > 0 && now_s() >= r->end)
            break;
        while (atomic_load(&r->quiet[c->node]))
            sleep_s(0.005);
        /* Dekker with kill_restart: busy raised, then quiet read again;
         * it raises quiet, then reads busy (both seq_cst). */
        atomic_fetch_add(&r->busy[c->node], 1);
        if (atomic_load(&r->quiet[c->node])) {
            atomic_fetch_sub(&r->busy[c->node], 1);
            continue;
        }
        int made = client_op(c, &rng, i);
        atomic_fetch_sub(&r->busy[c->node], 1);
        if (made < 0)
            break;
        i += (uint64_t)made;
    }
    c->done_s = now_s();
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

/* ---- faults ---- */

/* Kills node i (invariant 3, 4), cuts its trace at the kill and restarts it. */
static int kill_restart(prun *r, uint32_t i)
{
    proc *p = &r->p[i];
    if (!r->o->data) { /* durable nodes are killed under load: a save flushes the trace */
        atomic_store(&r->quiet[i], true);
        while (atomic_load(&r->busy[i]) > 0)
            sleep_s(0.002);
        sleep_s(CLI_PROCS_KILL_QUIET_S);
    }
    atomic_store(&r->win[1].from, now_s());
    p->killed_at = now_s();
    kill(p->pid, SIGKILL);
    int status;
    p->status = waitpid(p->pid, &status, 0) == p->pid ? exit_code(status) : -1; /* until its restart runs */
    tell_keeper(r, i, 0);
    p->pid = 0;
    FILE *f = fopen(p->trace, "a+");
    if (!f)
        return CW_EIO;
    fseek(f, 0, SEEK_END);
    p->boundary = ftell(f);
    if (p->boundary > 0) {
        fseek(f, -1, SEEK_END);
        if (fgetc(f) != '\n') {
            fseek(f, 0, SEEK_END);
            fputc('\n', f);
            p->truncated = true;
            p->boundary++;
        }
    }
    fclose(f);
    int rc = spawn_on_main(r, i);
    if (rc == CW_OK)
        rc = wait_joined(r, i, now_s() + JOIN_DEADLINE_S, NULL);
    atomic_store(&r->win[1].to, now_s());
    atomic_store(&r->quiet[i], false);
    return rc;
}

typedef struct killer {
    prun *r;
    uint32_t node;
    int rc;
    _Atomic bool done; /* seq_cst: rc is written before it */
} killer;

/* The kill on its own thread, so that the driver keeps time for --stop
 * meanwhile (a restarted node joins only once every peer answers, a stopped
 * one too). */
static void *killer_main(void *arg)
{
    killer *k = arg;
    k->rc = kill_restart(k->r, k->node);
    atomic_store(&k->done, true);
    return NULL;
}

/* ---- judging (invariants 2 and 3; trace_check.c) ---- */

typedef struct judge {
    cli_trace_judge t;
    prun *r;
    uint64_t lost_acked, maybe_made, maybe_not;
    double lost_acked_oldest;      /* seconds before the kill */
} judge;

/* Every node's trace, the killed one's cut at its kill (invariant 3). */
static int read_traces(judge *J)
{
    prun *r = J->r;
    cli_trace_init(&J->t, r->n);
    for (uint32_t x = 0; x < r->n; x++) {
        char err[256];
        int rc = cli_trace_read(&J->t, r->p[x].trace, (int)x, r->p[x].boundary, r->p[x].truncated, err,
                                sizeof err);
        if (rc == CW_EIO) {
            cli_trace_violate(&J->t, NULL, "no trace", "node %u left no trace that could be read (%s)", x, err);
        } else if (rc != CW_OK) {
            fail_run(r, rc, "node %u's trace: %s", x, err);
            return rc;
        }
    }
    return CW_OK;
}

/* Whether trace event e names key k (a C string: the run's keys hold no
 * NUL; a trace's may, and then it is another key). */
static bool names_key(const cli_trace_event *e, const char *k)
{
    return e->key_len == strlen(k) && memcmp(e->key, k, e->key_len) == 0;
}

static bool same_clock(const uint64_t *a, const uint64_t *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if ((a ? a[k] : 0) != (b ? b[k] : 0))
            return false;
    return true;
}

/* Whether trace write e is of record w's kind and context: a context write
 * is traced with its context (an empty one too: every counter 0), a plain
 * write without one (server.c, trace_apply). wctx: w's context mapped to
 * the history's nodes (NULL for a plain write). A context write that read
 * nothing is not a plain write: taking one for the other pairs a timed-out
 * plain write with a read-modify-write's empty read (a false lost update)
 * or leaves a made write without its client. */
static bool same_context(const cli_trace_event *e, const wrec *w, const uint64_t *wctx, uint32_t hn)
{
    return w->ctx ? e->context && same_clock(e->context, wctx, hn) : !e->context;
}

/* A matched client record tells the history what its write read. */
static void take_record(cli_trace_event *e, wrec *w)
{
    e->rec = w;
    e->told = w->ctx;
    e->read = w->dots;
    e->nread = w->ndots;
}

/* Matches the clients' records to the trace writes (cli_trace_table made
 * the table): acknowledged ones by dot, timed-out ones by node, key, kind
 * and context (invariant 2). */
static int match_clients(judge *J, pclient *cl, uint32_t nclients)
{
    cli_trace_judge *T = &J->t;
    uint32_t hn = T->hn;
    prun *r = J->r;
    for (uint32_t c = 0; c < nclients; c++)
        for (size_t i = 0; i < cl[c].nrec; i++) {
            wrec *w = &cl[c].recs[i];
            if (!w->acked)
                continue;
            uint32_t o = w->node;
            uint64_t s = w->seq;
            cli_trace_map_dot(T, &o, &s);
            uint64_t *wc = cli_trace_map_clock(T, w->clock);
            uint64_t *wctx = w->ctx ? cli_trace_map_clock(T, w->context) : NULL;
            if (!wc || (w->ctx && !wctx)) {
                free(wc);
                free(wctx);
                return CW_ENOMEM;
            }
            cli_trace_event *e = s <= T->maxseq[o] ? T->wev[o][s] : NULL;
            proc *p = &r->p[w->node];
            if (e && names_key(e, w->key) && e->del == w->del && same_clock(e->clock, wc, hn) &&
                same_context(e, w, wctx, hn) && !e->rec) {
                take_record(e, w);
            } else if (T->kx == (int)w->node && w->sent < p->killed_at && w->seq > T->bound) {
                J->lost_acked++; /* lost with the process (invariant 3) */
                double age = p->killed_at - w->done;
                if (age > J->lost_acked_oldest)
                    J->lost_acked_oldest = age;
                if (e) /* the restarted process wrote this dot again */
                    cli_trace_violate(T, e, "sequence number reused",
                                      "node %u's restarted process wrote (%u, %llu) again: its killed process had "
                                      "written it and acknowledged it to a client %.0f ms before the kill",
                                      w->node, w->node, (unsigned long long)w->seq, age * 1e3);
            } else {
                cli_trace_violate(T, e, "client", "node %u acknowledged write (%u, %llu) to key %s that its trace %s",
                                  w->node, w->node, (unsigned long long)w->seq, w->key,
                                  e ? "records differently" : "does not hold");
            }
            free(wc);
            free(wctx);
        }
    /* The timed-out ones, by node, key, kind and context. */
    for (uint32_t c = 0; c < nclients; c++)
        for (size_t i = 0; i < cl[c].nrec; i++) {
            wrec *w = &cl[c].recs[i];
            if (w->acked)
                continue;
            uint64_t *wctx = w->ctx ? cli_trace_map_clock(T, w->context) : NULL;
            if (w->ctx && !wctx)
                return CW_ENOMEM;
            bool found = false;
            for (int pass = 0; pass < 2 && !found; pass++) {
                uint32_t x = pass == 0 ? w->node : T->n;
                if (pass == 1 && T->kx != (int)w->node)
                    break;
                cli_trace_list *l = &T->ev[x];
                for (size_t k = 0; k < l->n && !found; k++) {
                    cli_trace_event *e = &l->ev[k];
                    if (e->kind == CLI_EV_WRITE && !e->rec && names_key(e, w->key) && e->del == w->del &&
                        same_context(e, w, wctx, hn)) {
                        take_record(e, w);
                        found = true;
                    }
                }
            }
            free(wctx);
            J->maybe_made += found;
            J->maybe_not += !found;
        }
    for (uint32_t x = 0; x < hn; x++)
        for (size_t i = 0; i < T->ev[x].n; i++) {
            cli_trace_event *e = &T->ev[x].ev[i];
            if (e->kind == CLI_EV_WRITE && !e->rec)
                cli_trace_violate(T, e, "client", "history node %u's trace holds write (%u, %llu) to %s that no "
                                  "client made", x, x, (unsigned long long)e->seq, e->key);
        }
    return CW_OK;
}

/* ---- the end of the run ---- */

typedef struct final {
    cw_client_status st[MAX_PROCS];
} final;

/* Waits until every node has the same clock and nothing buffered. */
static int converge(prun *r, final *f, double *took)
{
    double t0 = now_s();
    for (;;) {
        bool same = true;
        int rc = CW_OK;
        for (uint32_t i = 0; i < r->n && rc == CW_OK; i++)
            rc = cw_client_get_status(r->st[i], &f->st[i]);
        for (uint32_t i = 0; i < r->n && rc == CW_OK && same; i++)
            same = !f->st[i].joining && f->st[i].buffered == 0 &&
                   cw_vclock_compare(&f->st[i].clock, &f->st[0].clock) == CW_EQUAL;
        if (rc == CW_OK && same) {
            *took = now_s() - t0;
            return CW_OK;
        }
        if (now_s() - t0 > r->o->converge_within)
            return rc == CW_OK ? CW_ETIMEDOUT : rc;
        sleep_s(0.02);
    }
}

/* Reads every key at every node (before the nodes stop): out[x * keys + k].
 * A read that timed out is asked again, FINAL_READ_TRIES times in all: a
 * read changes nothing, the nodes have converged, and a loaded machine may
 * keep a node past one call's CLIENT_TIMEOUT_MS (1 of 393 runs of a soak
 * under ASan failed so). `where` names the read that failed. */
#define FINAL_READ_TRIES 3
static int final_reads(prun *r, cw_read *out, char *where, size_t where_len)
{
    for (uint32_t x = 0; x < r->n; x++)
        for (uint32_t k = 0; k < r->o->keys; k++) {
            char key[24];
            snprintf(key, sizeof key, "k%u", k);
            int rc = CW_ETIMEDOUT;
            for (int t = 0; rc == CW_ETIMEDOUT && t < FINAL_READ_TRIES; t++)
                rc = cw_client_get(r->st[x], key, strlen(key), &out[(size_t)x * r->o->keys + k]);
            if (rc != CW_OK && rc != CW_ENOTFOUND) {
                snprintf(where, where_len, "the final read of key %s at node %u%s", key, x,
                         rc == CW_ENOMEM ? " (the node: out of memory)" : "");
                return node_answer(rc);
            }
        }
    return CW_OK;
}

/* Every history node's final state: its process's clock and keys, renamed
 * (map_dot, map_clock); the restarted process's for the killed node too. */
static int final_states(judge *J, const final *f, const cw_read *reads)
{
    prun *r = J->r;
    const cli_trace_judge *T = &J->t;
    uint32_t n = r->n, keys = r->o->keys;
    for (uint32_t x = 0; x < T->hn; x++) {
        uint32_t p = x < n ? x : (uint32_t)T->kx;
        uint64_t *c = counters_of(&f->st[p].clock, n), *clock = c ? cli_trace_map_clock(T, c) : NULL;
        free(c);
        if (!clock)
            return CW_ENOMEM;
        int rc = cw_history_final_clock(T->h, (cw_node_id)x, clock);
        free(clock);
        for (uint32_t k = 0; k < keys && rc == CW_OK; k++) {
            const cw_read *got = &reads[(size_t)p * keys + k];
            char key[24];
            snprintf(key, sizeof key, "k%u", k);
            /* As many versions as the node holds: rmw clients at one node
             * leave up to one sibling each (--clients to 256). */
            cw_msg **m = got->count ? calloc(got->count, sizeof *m) : NULL;
            size_t cnt = 0;
            if (got->count && !m)
                rc = CW_ENOMEM;
            for (size_t v = 0; rc == CW_OK && v < got->count; v++) {
                uint64_t *vc = counters_of(&got->versions[v].clock, n), *hc = vc ? cli_trace_map_clock(T, vc) : NULL;
                uint32_t o = got->versions[v].origin;
                uint64_t s = got->versions[v].seq;
                cli_trace_map_dot(T, &o, &s);
                cw_hlc_timestamp ts;
                memset(&ts, 0, sizeof ts);
                /* No value: the traces hold none, so the history's writes have
                 * none to compare a held version's with. */
                rc = hc ? cw_msg_create_write(&m[cnt], (cw_node_id)o, &ts, hc, T->hn, NULL, false, key, strlen(key),
                                              NULL, 0)
                        : CW_ENOMEM;
                cnt += rc == CW_OK;
                free(vc);
                free(hc);
            }
            if (rc == CW_OK && cnt)
                rc = cw_history_final_key(T->h, (cw_node_id)x, (const cw_msg *const *)m, cnt);
            for (size_t v = 0; v < cnt; v++)
                cw_msg_unref(m[v]);
            free(m);
        }
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

/* SIGTERM to every node still running, and their exit statuses (-1: had
 * to be killed; a node that exited before keeps its own). */
static void stop_all(prun *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (r->p[i].pid > 0)
            kill(r->p[i].pid, SIGTERM);
    double deadline = now_s() + EXIT_DEADLINE_S;
    for (uint32_t i = 0; i < r->n; i++) {
        if (r->p[i].pid <= 0)
            continue;
        int status;
        pid_t got = 0;
        while ((got = waitpid(r->p[i].pid, &status, WNOHANG)) == 0 && now_s() < deadline)
            sleep_s(0.01);
        if (got == 0) {
            kill(r->p[i].pid, SIGKILL);
            waitpid(r->p[i].pid, &status, 0);
        }
        r->p[i].status = got == r->p[i].pid ? exit_code(status) : -1;
        tell_keeper(r, i, 0);
        r->p[i].pid = 0;
    }
}

/* The nodes' ipc:// endpoints (sockets no one listens on once they stop):
 * gone from a directory that is kept, too. */
static void remove_endpoints(prun *r)
{
    for (uint32_t i = 0; i < r->n; i++) {
        unlink(r->p[i].listen + 6);
        unlink(r->p[i].client + 6);
    }
}

static void remove_dir(prun *r)
{
    remove_endpoints(r);
    for (uint32_t i = 0; i < r->n; i++) {
        unlink(r->p[i].trace);
        unlink(r->p[i].out);
        char f[200];
        for (const char *const *name = (const char *const[]){"data.mdb", "lock.mdb", "causeway.lock", NULL}; *name;
             name++) {
            snprintf(f, sizeof f, "%s/%s", r->p[i].data, *name);
            unlink(f);
        }
        rmdir(r->p[i].data);
    }
    rmdir(r->dir);
}

/* ---- options ---- */

bool cli_procs_parse_stop(cli_procs_options *o, const char *text)
{
    char *end;
    if (*text < '0' || *text > '9') /* strtoul would take a blank or a sign */
        return false;
    unsigned long i = strtoul(text, &end, 10);
    if (end == text || *end != ':' || i >= o->nodes)
        return false;
    const char *p = end + 1;
    o->stop_at = cli_strtod(p, &end);
    if (end == p || *end != ':')
        return false;
    p = end + 1;
    o->cont_at = cli_strtod(p, &end);
    if (end == p || *end || !(o->stop_at >= 0 && o->cont_at > o->stop_at && o->cont_at <= 3600))
        return false;
    o->stop_node = (int)i;
    return true;
}

bool cli_procs_parse_kill(cli_procs_options *o, const char *text)
{
    char *end;
    if (*text < '0' || *text > '9') /* strtoul would take a blank or a sign */
        return false;
    unsigned long i = strtoul(text, &end, 10);
    if (end == text || *end != ':' || i >= o->nodes)
        return false;
    const char *p = end + 1;
    o->kill_at = cli_strtod(p, &end);
    if (end == p || *end || !(o->kill_at >= 0 && o->kill_at <= 3600))
        return false;
    o->kill_node = (int)i;
    return true;
}

/* ---- the run ---- */

/* What this process opens, measured (/proc/self/fd at the peak of runs of
 * 3 to 64 nodes with 1 to 256 clients): 6 descriptors of its own and 7 a
 * client connection (its ZeroMQ context's polling and wake-up
 * descriptors, its socket's, the connection), one connection to each node
 * to poll it and one for each client thread. With room to spare: */
#define STRESS_OWN_FILES 16u
#define FILES_PER_CLIENT 8u

/* ZeroMQ aborts the process when it cannot make a descriptor it needs, so
 * the run starts only where the hard limit leaves room for its clients,
 * and then takes all the room there is (the nodes check their own need). */
static int ensure_open_files(prun *r, uint32_t clients)
{
    uint64_t need = STRESS_OWN_FILES + (uint64_t)FILES_PER_CLIENT * ((uint64_t)r->n + clients), hard = 0;
    int got = cli_open_files(need, &hard);
    if (got == -1)
        fail_run(r, CW_EIO, "open files limit: %s", strerror(errno));
    else if (got == -2)
        fail_run(r, CW_EIO, "raising the open files limit to %llu: %s", (unsigned long long)hard, strerror(errno));
    else if (got == 1)
        r->machine = fail_run(r, CW_ELIMIT,
                              "a run of %u nodes and %u clients may need %llu open files (%u of its own and %u a "
                              "client connection, with one connection to each node and one for each client); this "
                              "process may open at most %llu (ulimit -Hn)",
                              r->n, clients, (unsigned long long)need, STRESS_OWN_FILES, FILES_PER_CLIENT,
                              (unsigned long long)hard);
    return got == 0 ? CW_OK : got > 0 ? CW_ELIMIT : CW_EIO;
}

static int start_nodes(prun *r)
{
    ssize_t len = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
    if (len <= 0 || (size_t)len >= sizeof r->exe - 1) {
        fail_run(r, CW_EIO, "finding this program (/proc/self/exe) to start the nodes: %s",
                 len < 0 ? strerror(errno) : "path too long");
        return CW_EIO;
    }
    r->exe[len] = 0;
    snprintf(r->dir, sizeof r->dir, "/tmp/causeway-stress-XXXXXX");
    if (!mkdtemp(r->dir)) {
        fail_run(r, CW_EIO, "making a directory for the processes' files (/tmp/causeway-stress-*): %s",
                 strerror(errno));
        r->dir[0] = 0; /* none kept */
        return CW_EIO;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        proc *p = &r->p[i];
        p->boundary = -1;
        snprintf(p->listen, sizeof p->listen, "ipc://%s/r-%u", r->dir, i);
        snprintf(p->client, sizeof p->client, "ipc://%s/c-%u", r->dir, i);
        snprintf(p->trace, sizeof p->trace, "%s/trace-%u.jsonl", r->dir, i);
        snprintf(p->out, sizeof p->out, "%s/out-%u.txt", r->dir, i);
        snprintf(p->data, sizeof p->data, "%s/data-%u", r->dir, i);
        snprintf(p->seed, sizeof p->seed, "%llu", (unsigned long long)(r->o->seed + i));
        snprintf(p->id, sizeof p->id, "%u", i);
        for (uint32_t j = 0; j < r->n; j++)
            snprintf(p->peer[j], sizeof p->peer[j], "%u=ipc://%s/r-%u", j, r->dir, j);
    }
    if (start_keeper(r) != CW_OK) {
        remove_dir(r);
        r->dir[0] = 0; /* none kept */
        return CW_EIO;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        int rc = spawn(r, i);
        if (rc == CW_OK && (rc = cw_client_open(&r->st[i], r->p[i].client, 500)) != CW_OK)
            fail_run(r, rc, "opening a status handle to node %u: %s (%s)", i, cw_strerror(rc), HANDLE_NEEDS);
        if (rc != CW_OK)
            return rc;
    }
    double deadline = now_s() + JOIN_DEADLINE_S;
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t who = i;
        int rc = wait_joined(r, i, deadline, &who);
        if (rc == CW_EIO)
            fail_run(r, rc, "node %u exited with status %d before it accepted writes (see %s)", who,
                     r->p[who].status, r->p[who].out);
        else if (rc != CW_OK)
            fail_run(r, rc, "node %u did not start accepting writes within %g s (see %s)", i, JOIN_DEADLINE_S,
                     r->p[i].out);
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

/* The HTTP port node i printed last (its line "..., http 127.0.0.1:PORT"
 * in its output file: a restarted node prints a new one), or 0. */
static unsigned http_port(const prun *r, uint32_t i)
{
    FILE *f = fopen(r->p[i].out, "r");
    if (!f)
        return 0;
    char line[512];
    unsigned port = 0;
    while (fgets(line, sizeof line, f)) {
        const char *h = strstr(line, "http 127.0.0.1:");
        if (h)
            port = (unsigned)strtoul(h + 15, NULL, 10);
    }
    fclose(f);
    return port;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* POST /admin/link at node `to`: what comes from `from` is cut, healed,
 * held or released there. CW_OK or CW_EIO. */
static int admin_link(const prun *r, uint32_t from, uint32_t to, const char *action)
{
    unsigned port = http_port(r, to);
    CURL *h = port ? curl_easy_init() : NULL;
    if (!h)
        return CW_EIO;
    char url[64], body[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/admin/link", port);
    snprintf(body, sizeof body, "{\"from\": %u, \"to\": %u, \"action\": \"%s\"}", from, to, action);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
    long code = 0;
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    return cc == CURLE_OK && code == 200 ? CW_OK : CW_EIO;
}

/* --partition at node `to`: its links from the other half (nodes below
 * n/2 and the rest) cut or held (on), or healed or released. */
static int partition_at(const prun *r, uint32_t to, bool on)
{
    const char *action = r->o->part_hold ? (on ? "hold" : "release") : (on ? "cut" : "heal");
    int rc = CW_OK;
    for (uint32_t from = 0; from < r->n; from++)
        if ((from < r->n / 2) != (to < r->n / 2)) {
            int x = admin_link(r, from, to, action);
            if (rc == CW_OK)
                rc = x;
        }
    return rc;
}

/* Brings each node's links to the partition's state now (want): parted[j]
 * says what node j was last told. A node stopped by --stop, or being
 * restarted by --kill, is told once it runs again: it cannot answer
 * /admin/link meanwhile (a restarted process starts with every link
 * whole, so its entry is reset by the caller). */
static int partition_sync(prun *r, bool *parted, bool want, int paused, int restarting)
{
    int rc = CW_OK;
    for (uint32_t j = 0; j < r->n; j++) {
        if (parted[j] == want || (int)j == paused || (int)j == restarting)
            continue;
        parted[j] = want;
        if (partition_at(r, j, want) != CW_OK && rc == CW_OK) {
            fail_run(r, CW_EIO, "the partition could not be %s at node %u through its /admin/link",
                     want ? "made" : "healed", j);
            rc = CW_EIO;
        }
    }
    return rc;
}

/* Drives the clients and the faults until the clients are done. */
static int drive(prun *r, pclient *cl, uint32_t nc, pthread_t *th)
{
    const cli_procs_options *o = r->o;
    atomic_store(&r->running, nc);
    uint32_t started = 0;
    int not_started = 0;
    for (; started < nc; started++)
        if ((not_started = pthread_create(&th[started], NULL, client_main, &cl[started])) != 0)
            break;
    atomic_fetch_sub(&r->running, nc - started);
    int rc = started == nc ? CW_OK : CW_EIO;
    if (rc != CW_OK && /* before the clients begin: they see the run failed and make no write */
        fail_run(r, rc, "cannot start client thread %u of %u: %s (%s)", started + 1, nc, strerror(not_started),
                 CW__THREADS_WHY))
        r->machine = true; /* unless a node's failure came first: that one is the run's */
    pthread_mutex_lock(&r->lock);
    r->start = now_s();
    r->end = o->duration > 0 ? r->start + o->duration : 0;
    r->go = true;
    pthread_cond_broadcast(&r->started);
    pthread_mutex_unlock(&r->lock);
    bool stopped = false, conted = false, killed = false, joined_thread = false;
    killer k = {r, (uint32_t)o->kill_node, CW_OK, false};
    pthread_t kth;
    bool parted = false, healed = false, restart_seen = false;
    bool *part_at = calloc(r->n, sizeof *part_at); /* what each node was last told (partition_sync) */
    if (!part_at && rc == CW_OK)
        rc = CW_ENOMEM;
    bool clients_done = false;
    while (atomic_load(&r->running) > 0 || (o->stop_node >= 0 && stopped && !conted) ||
           (o->kill_node >= 0 && !killed && now_s() - r->start < o->kill_at) || (parted && !healed)) {
        double t = now_s() - r->start;
        /* A partition or stop not begun when the clients end is not made
         * (the report says so), also while a kill is waited for: it would
         * cut or stop no write. */
        clients_done |= atomic_load(&r->running) == 0;
        if (o->part_len > 0 && !parted && !clients_done && t >= o->part_start)
            parted = true;
        if (parted && !healed && t >= o->part_start + o->part_len)
            healed = true;
        if (killed && !restart_seen && atomic_load(&k.done)) {
            restart_seen = true;
            if (part_at)
                part_at[k.node] = false; /* a new process: every link whole */
        }
        if (part_at && o->part_len > 0 &&
            partition_sync(r, part_at, parted && !healed, stopped && !conted ? o->stop_node : -1,
                           killed && !restart_seen ? o->kill_node : -1) != CW_OK && rc == CW_OK)
            rc = CW_EIO;
        if (o->stop_node >= 0 && !stopped && !clients_done && t >= o->stop_at) {
            atomic_store(&r->win[0].from, now_s());
            kill(r->p[o->stop_node].pid, SIGSTOP);
            stopped = true;
        }
        if (stopped && !conted && t >= o->cont_at) {
            kill(r->p[o->stop_node].pid, SIGCONT);
            atomic_store(&r->win[0].to, now_s());
            conted = true;
        }
        if (o->kill_node >= 0 && !killed && t >= o->kill_at - CLI_PROCS_KILL_QUIET_S) {
            killed = true;
            if (pthread_create(&kth, NULL, killer_main, &k) == 0)
                joined_thread = true;
            else
                k.rc = kill_restart(r, k.node);
        }
        serve_respawn(r);
        sleep_s(0.005);
    }
    r->part_made = parted;
    r->stop_made = stopped;
    while (joined_thread && !atomic_load(&k.done)) {
        serve_respawn(r);
        sleep_s(0.001);
    }
    if (joined_thread)
        pthread_join(kth, NULL);
    if (k.rc != CW_OK) {
        fail_run(r, k.rc, "node %d did not come back after its restart: %s", o->kill_node, cw_strerror(k.rc));
        rc = k.rc;
    }
    if (stopped && !conted) {
        kill(r->p[o->stop_node].pid, SIGCONT);
        atomic_store(&r->win[0].to, now_s());
    }
    if (killed && !restart_seen && k.rc == CW_OK && part_at)
        part_at[k.node] = false; /* restarted after the loop ended */
    /* The partition healed at every node, the one continued or restarted
     * last included. */
    if (part_at && o->part_len > 0 && partition_sync(r, part_at, false, -1, -1) != CW_OK && rc == CW_OK)
        rc = CW_EIO;
    free(part_at);
    double last = 0;
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        last = cl[i].done_s > last ? cl[i].done_s : last;
    }
    if (started) /* the clients' own end, not the loop's 5 ms look */
        r->clients_s = last - r->start;
    if (rc == CW_OK && atomic_load(&r->failed))
        rc = atomic_load(&r->failed);
    return rc;
}

/* The run's options as --json records them, whether or not it reached its
 * check; NULL when out of memory. */
static json_t *options_json(const prun *r)
{
    const cli_procs_options *o = r->o;
    json_t *opt = json_pack(
        "{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:f,s:s,s:f,s:f,s:f,s:s,s:b,s:f}", "processes",
        (json_int_t)r->n, "writes", (json_int_t)o->writes, "keys", (json_int_t)o->keys, "clients",
        (json_int_t)o->clients, "reads", o->reads, "rmw", o->rmw, "deletes", o->deletes, "drop", o->drop, "delay",
        o->delay, "dup", o->dup, "max_delay_us", (json_int_t)o->max_delay_us, "seed", (json_int_t)o->seed,
        "duration", o->duration, "key_dist", o->key_dist ? "zipfian" : "uniform", "zipf_theta", o->zipf_theta,
        "partition_start", o->part_start, "partition_seconds", o->part_len,
        "partition_kind", o->part_hold ? "hold" : "cut", "data", o->data, "converge_within", o->converge_within);
    json_t *stop = o->stop_node < 0 ? json_null()
                                    : json_pack("{s:i,s:f,s:f}", "node", o->stop_node, "from", o->stop_at, "to",
                                                o->cont_at);
    json_t *killed = o->kill_node < 0 ? json_null()
                                      : json_pack("{s:i,s:f}", "node", o->kill_node, "at", o->kill_at);
    bool built = opt && stop && killed && json_object_set(opt, "stop", stop) == 0 &&
                 json_object_set(opt, "kill", killed) == 0;
    json_decref(stop);
    json_decref(killed);
    if (!built) {
        json_decref(opt);
        return NULL;
    }
    return opt;
}

/* The clients' time, for their rate (never 0): a kill waited for after
 * they ended is no time of theirs. */
static double writes_seconds(const prun *r) { return r->clients_s > 1e-6 ? r->clients_s : 1e-6; }

/* The clients' counts the report prints, summed over them. */
typedef struct calls {
    uint64_t reads, retries, timeouts, slow, slow_reads;
} calls;

static int write_json(const prun *r, const cw_history_report *rep, const judge *J, const final *f, const calls *k,
                      double secs, double check, double conv, bool ok, const char *violation)
{
    const cli_procs_options *o = r->o;
    json_t *nodes = json_array();
    for (uint32_t i = 0; nodes && i < r->n; i++)
        json_array_append_new(nodes, json_pack("{s:I,s:I,s:I,s:I,s:I,s:i,s:b}", "node", (json_int_t)i, "writes",
                                               (json_int_t)f->st[i].writes, "delivered",
                                               (json_int_t)f->st[i].delivered, "retransmitted",
                                               (json_int_t)f->st[i].retransmitted, "recovered",
                                               (json_int_t)f->st[i].recovered, "exit", r->p[i].status,
                                               "restarted", (int)i == o->kill_node));
    json_t *root = json_pack(
        "{s:o,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:o,s:s,s:s*,s:b,s:o,s:o,s:s?}", "options", options_json(r),
        "writes_checked", (json_int_t)rep->writes, "reads_checked",
        (json_int_t)rep->reads, "seconds", secs, "writes_seconds", r->clients_s, "writes_per_s",
        rep->writes / writes_seconds(r), "concurrent_pairs",
        (json_int_t)rep->concurrent_pairs, "ordered_pairs", (json_int_t)rep->ordered_pairs, "lost_with_process",
        (json_int_t)J->t.lost, "lost_acknowledged", (json_int_t)J->lost_acked, "trace_lines",
        (json_int_t)J->t.trace_lines, "nodes", nodes, "verdict", ok ? "pass" : "fail", "violation", violation,
        "checked", true, "partition_made", o->part_len > 0 ? json_boolean(r->part_made) : json_null(),
        "stop_made", o->stop_node >= 0 ? json_boolean(r->stop_made) : json_null(), "replay", o->replay);
    /* What the report's writes, reads and check lines say. */
    json_t *more = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:s?}", "keys_written", (json_int_t)rep->keys,
        "writes_retried", (json_int_t)k->retries, "writes_timed_out_at_stopped", (json_int_t)(k->timeouts - k->slow),
        "writes_timed_out_at_slow", (json_int_t)k->slow, "timed_out_writes_made", (json_int_t)J->maybe_made,
        "client_reads", (json_int_t)k->reads, "client_reads_timed_out_at_slow", (json_int_t)k->slow_reads,
        "final_reads", (json_int_t)((uint64_t)r->n * o->keys), "joining_reads", (json_int_t)J->t.joining_reads,
        "reused_dots", (json_int_t)J->t.reused, "lost_reads_unjudged", (json_int_t)J->t.lost_reads,
        "check_seconds", check, "converged_seconds", conv, "traces_kept",
        !ok || o->keep_traces ? r->dir : NULL);
    if (!root || !more || json_object_update(root, more) != 0 || !cli_clients_json(rep, root)) {
        json_decref(more);
        json_decref(root);
        return CW_ENOMEM;
    }
    json_decref(more);
    int rc = json_dump_file(root, o->json, JSON_INDENT(2)) == 0 ? CW_OK : CW_EINVAL;
    json_decref(root);
    return rc;
}

/* The --json of a run that stopped before its check: the options, and each
 * node's exit status, with what it last told of itself when the run stopped
 * waiting for the nodes to converge (polled); NULL when out of memory. */
static json_t *stopped_json(const prun *r, const final *f, bool polled, double secs, cli_stop why,
                            const char *failure)
{
    json_t *nodes = json_array();
    for (uint32_t i = 0; nodes && i < r->n; i++) {
        const cw_client_status *st = &f->st[i];
        char *clock = polled ? cli_clock_text(&st->clock) : NULL;
        int status = r->p[i].status;
        json_t *code = status == EXIT_NOT_STARTED ? json_null() : json_integer(status);
        json_t *node = polled ? json_pack("{s:I,s:s?,s:I,s:b,s:I,s:I,s:I,s:o}", "node", (json_int_t)i, "clock",
                                          clock, "buffered", (json_int_t)st->buffered, "joining", st->joining,
                                          "writes", (json_int_t)st->writes, "retransmitted",
                                          (json_int_t)st->retransmitted, "recovered", (json_int_t)st->recovered,
                                          "exit", code)
                              : json_pack("{s:I,s:o}", "node", (json_int_t)i, "exit", code);
        free(clock);
        if (!node || json_array_append_new(nodes, node) != 0) {
            json_decref(nodes);
            nodes = NULL;
        }
    }
    json_t *extra = nodes ? json_pack("{s:o,s:s?}", "nodes", nodes, "replay", r->o->replay) : NULL;
    return extra ? cli_stopped_json(options_json(r), secs, why, failure, extra) : NULL;
}

/* Whether a run that stopped with rc gives no verdict on the nodes (exit
 * 3): this process's memory, or this machine's limits. */
static bool no_verdict(const prun *r, int rc) { return rc == CW_ENOMEM || r->machine; }

/* The end of a run that stopped before its verdict: what stopped it (at
 * `where`, rc and the run's failure text), the replay line, and --json
 * (polled: the nodes' statuses in f are from the last look at them). */
static void stopped(prun *r, int rc, const char *where, const final *f, bool polled, double secs)
{
    const cli_procs_options *o = r->o;
    char failure[sizeof r->failure + 256], kept[sizeof r->dir + 64];
    /* A failure recorded with the run says what went wrong in its own
     * words; the error code's text only when there is none. */
    snprintf(failure, sizeof failure, "%s failed: %s", where, r->failure[0] ? r->failure : cw_strerror(rc));
    snprintf(kept, sizeof kept, "processes' files kept in %s", r->dir);
    cli_stop why = no_verdict(r, rc) ? CLI_STOP_NO_MEMORY : CLI_STOP_FAILED; /* no verdict: exit 3 */
    cli_report_stopped(why, failure, r->dir[0] ? kept : NULL, o->seed, o->replay,
                       "the same workload and faults; process timings vary", o->json,
                       o->json ? stopped_json(r, f, polled, secs, why, failure) : NULL);
}

/* Frees the run's clients and their threads' handles, the status handles,
 * traces and final statuses, and lets the keeper go. */
static void free_all(prun *r, pclient *cl, pthread_t *th, uint32_t nc, judge *J, final *f)
{
    free(th);
    for (uint32_t c = 0; cl && c < nc; c++) {
        for (size_t i = 0; i < cl[c].nrec; i++) {
            free(cl[c].recs[i].clock);
            free(cl[c].recs[i].context);
            free(cl[c].recs[i].dots);
        }
        free(cl[c].recs);
        cw_client_close(cl[c].c);
    }
    free(cl);
    for (uint32_t x = 0; x < r->n; x++)
        cw_client_close(r->st[x]);
    cli_trace_free(&J->t);
    for (uint32_t i = 0; i < MAX_PROCS; i++)
        cw_client_status_destroy(&f->st[i]);
    pthread_cond_destroy(&r->started);
    pthread_mutex_destroy(&r->lock);
    keeper_done(r);
}

int cli_procs_stress(const cli_procs_options *o)
{
    static prun run; /* large (endpoint names); one run per process */
    static judge J;
    static final fin;
    prun *r = &run;
    memset(r, 0, sizeof *r);
    memset(&J, 0, sizeof J);
    for (uint32_t i = 0; i < MAX_PROCS; i++)
        r->p[i].status = EXIT_NOT_STARTED;
    r->o = o;
    r->n = o->nodes;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->started, NULL);
    r->win[0].node = o->stop_node;
    r->win[1].node = o->kill_node;
    atomic_store(&r->win[0].to, INFINITY);
    atomic_store(&r->win[1].to, INFINITY);
    for (uint32_t i = 0; i < MAX_PROCS; i++)
        cw_client_status_init(&fin.st[i]);
    if (o->key_dist == 1)
        cli_keys_zipfian(&r->keys, o->keys, o->zipf_theta);
    else
        cli_keys_uniform(&r->keys, o->keys);
    char amount[64];
    if (o->duration > 0)
        snprintf(amount, sizeof amount, "writes for %g s (at most %llu)", o->duration, (unsigned long long)o->writes);
    else
        snprintf(amount, sizeof amount, "%llu writes", (unsigned long long)o->writes);
    printf("causeway stress: %u node processes, %s over %u key%s by %u client%s, seed %llu\n", r->n, amount,
           o->keys, o->keys == 1 ? "" : "s", o->clients, o->clients == 1 ? "" : "s", (unsigned long long)o->seed);
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    main_thread = pthread_self();
    r->keeper_fd = -1;
    J.r = r;
    uint32_t nc = o->clients;
    pclient *cl = calloc(nc, sizeof *cl);
    pthread_t *th = calloc(nc, sizeof *th);
    int rc = cl && th ? ensure_open_files(r, nc) : CW_ENOMEM;
    if (rc == CW_OK)
        rc = start_nodes(r);
    for (uint32_t c = 0; rc == CW_OK && c < nc; c++) {
        cl[c] = (pclient){.r = r, .id = c, .node = c % r->n, .writes = o->writes / nc + (c < o->writes % nc)};
        if ((rc = cw_client_open(&cl[c].c, r->p[c % r->n].client, CLIENT_TIMEOUT_MS)) != CW_OK &&
            fail_run(r, rc, "opening client %u's handle to node %u: %s (%s)", c, c % r->n, cw_strerror(rc),
                     HANDLE_NEEDS))
            r->machine = true; /* this process's threads or files: an open connects nothing yet */
    }
    double secs = 0, conv = 0;
    if (rc == CW_OK) {
        printf("  processes            %s (ipc endpoints, traces trace-I.jsonl)\n", r->dir);
        fflush(stdout);
        rc = drive(r, cl, nc, th);
        secs = now_s() - r->start;
    }
    const char *where = "the run";
    char conv_where[128];
    if (rc == CW_OK && (rc = converge(r, &fin, &conv)) != CW_OK) {
        snprintf(conv_where, sizeof conv_where,
                 "convergence within %g s (--converge-within: the same clock at every node, nothing buffered)",
                 o->converge_within);
        where = conv_where;
        for (uint32_t i = 0; i < r->n; i++) {
            char *clock = cli_clock_text(&fin.st[i].clock);
            fprintf(stderr, "causeway stress: node %u: clock %s, %llu buffered, %s\n", i,
                    clock ? clock : "(out of memory)", (unsigned long long)fin.st[i].buffered,
                    fin.st[i].joining ? "joining" : "serving");
            free(clock);
        }
    }
    size_t nreads = (size_t)r->n * o->keys;
    cw_read *finals = calloc(nreads ? nreads : 1, sizeof *finals);
    for (size_t i = 0; finals && i < nreads; i++)
        cw_read_init(&finals[i]);
    if (rc == CW_OK && !finals)
        rc = CW_ENOMEM;
    char read_where[160];
    if (rc == CW_OK && (rc = final_reads(r, finals, read_where, sizeof read_where)) != CW_OK)
        where = read_where;
    stop_all(r);
    remove_endpoints(r); /* whatever the run's directory keeps, not them */
    bool ok = rc == CW_OK;
    if (!ok) {
        for (size_t i = 0; finals && i < nreads; i++)
            cw_read_destroy(&finals[i]);
        free(finals);
        stopped(r, rc, where, &fin, where == conv_where, secs);
        free_all(r, cl, th, nc, &J, &fin);
        return no_verdict(r, rc) ? CLI_ERROR : CLI_FAIL;
    }
    double c0 = now_s();
    uint64_t max_writes = 1;
    for (uint32_t c = 0; c < nc; c++)
        max_writes += cl[c].nrec;
    J.t.sabotage = o->sabotage;
    rc = read_traces(&J);
    if (rc == CW_OK)
        rc = cli_trace_split(&J.t);
    if (rc == CW_OK)
        rc = cw_history_create(&J.t.h, J.t.hn, max_writes, CW_KEEP_SIBLINGS);
    if (rc == CW_OK)
        rc = cli_trace_table(&J.t, false);
    if (rc == CW_OK)
        rc = match_clients(&J, cl, nc);
    if (rc == CW_OK)
        cli_trace_replay(&J.t);
    if (rc == CW_OK)
        rc = final_states(&J, &fin, finals);
    for (size_t i = 0; i < nreads; i++)
        cw_read_destroy(&finals[i]);
    free(finals);
    if (rc != CW_OK) { /* no verdict: the traces could not be judged (a line too long, out of memory) */
        stopped(r, rc, "the check", &fin, true, secs);
        free_all(r, cl, th, nc, &J, &fin);
        return no_verdict(r, rc) ? CLI_ERROR : CLI_FAIL;
    }
    cw_history_report rep;
    memset(&rep, 0, sizeof rep);
    ok = cw_history_verdict(J.t.h, &rep);
    if (!J.t.violation[0] && cw_history_out_of_memory(J.t.h)) { /* not judged: no verdict, as above */
        snprintf(r->failure, sizeof r->failure, "%s", cw_history_violation(J.t.h));
        stopped(r, CW_ENOMEM, "the check", &fin, true, secs);
        free_all(r, cl, th, nc, &J, &fin);
        return CLI_ERROR;
    }
    double check = now_s() - c0;
    const char *violation = J.t.violation[0] ? J.t.violation : cw_history_violation(J.t.h);
    if (J.t.violation[0])
        ok = false;
    if (J.lost_acked && (o->data || J.lost_acked_oldest > LOST_GRACE_S)) {
        ok = false;
        if (!J.t.violation[0] && o->data)
            snprintf(J.t.violation, sizeof J.t.violation,
                     "node %d's durable process lost %llu acknowledged writes (the oldest acknowledged %.3f s before "
                     "its kill)",
                     J.t.kx, (unsigned long long)J.lost_acked, J.lost_acked_oldest);
        else if (!J.t.violation[0])
            snprintf(J.t.violation, sizeof J.t.violation,
                     "node %d's process lost a write acknowledged %.3f s before its kill (more than %g s)",
                     J.t.kx, J.lost_acked_oldest, LOST_GRACE_S);
        violation = J.t.violation;
    }
    for (uint32_t i = 0; i < r->n; i++)
        if (r->p[i].status != 0) {
            ok = false;
            int sig = r->p[i].status - 128; /* exit_code: 128 + the signal that ended it */
            if (!J.t.violation[0])
                snprintf(J.t.violation, sizeof J.t.violation,
                         "node %u's process ended with status %d, where the run's SIGTERM ends it with 0%s%s%s", i,
                         r->p[i].status, sig > 0 && sig < 65 ? " (or a signal ended it: " : "",
                         sig > 0 && sig < 65 ? strsignal(sig) : "", sig > 0 && sig < 65 ? ")" : "");
            violation = J.t.violation;
        }
    calls k = {0};
    for (uint32_t c = 0; c < nc; c++)
        k.reads += cl[c].reads, k.retries += cl[c].retries, k.timeouts += cl[c].timeouts, k.slow += cl[c].slow,
            k.slow_reads += cl[c].slow_reads;
    double wsecs = writes_seconds(r);
    printf("  writes               %llu in %.3f s: %.0f writes/s (%llu retried after joining/stalled/full, "
           "%llu timed out at a stopped or killed node and %llu at a slow one: %llu of those made)\n",
           (unsigned long long)rep.writes, wsecs, rep.writes / wsecs, (unsigned long long)k.retries,
           (unsigned long long)(k.timeouts - k.slow), (unsigned long long)k.slow, (unsigned long long)J.maybe_made);
    printf("  keys written         %llu of %u\n", (unsigned long long)rep.keys, o->keys);
    printf("  reads                %llu checked from the traces (%llu client reads, %llu of them timed out at a "
           "slow node; %llu final reads; %llu at a joining node, empty)\n",
           (unsigned long long)rep.reads, (unsigned long long)k.reads, (unsigned long long)k.slow_reads,
           (unsigned long long)r->n * o->keys, (unsigned long long)J.t.joining_reads);
    printf("  faults               drop %g, delay %g (at most %u us), dup %g at every node", o->drop, o->delay,
           o->max_delay_us, o->dup);
    if (o->stop_node >= 0 && r->stop_made)
        printf("; node %d stopped %g-%g s", o->stop_node, o->stop_at, o->cont_at);
    else if (o->stop_node >= 0) /* the driver checks its times between sleeps: a loaded host may pass them */
        printf(r->clients_s < o->stop_at ? "; node %d not stopped: the writes ended (at %.3f s) before %g s"
                                         : "; node %d not stopped: the writes ended (at %.3f s) before the run's "
                                           "driver reached %g s",
               o->stop_node, r->clients_s, o->stop_at);
    if (o->kill_node >= 0)
        printf("; node %d killed at %g s and restarted", o->kill_node, o->kill_at);
    if (o->part_len > 0 && r->part_made)
        printf("; links between nodes 0-%u and %u-%u %s from %g s for %g s", r->n / 2 - 1, r->n / 2, r->n - 1,
               o->part_hold ? "held" : "cut", o->part_start, o->part_len);
    else if (o->part_len > 0)
        printf("; partition none: the writes ended (at %.3f s) before it was made (its window from %g s%s)",
               r->clients_s, o->part_start, r->clients_s < o->part_start ? "" : ", which the run's driver passed late");
    printf("\n");
    if (o->kill_node >= 0) {
        printf("  lost with process    %llu writes of node %d's killed process reached no surviving node "
               "(%llu acknowledged, the oldest %.0f ms before the kill; %llu of their dots written again by the "
               "restarted process; %llu reads of them left unjudged)\n",
               (unsigned long long)J.t.lost, o->kill_node, (unsigned long long)J.lost_acked,
               J.lost_acked_oldest * 1e3, (unsigned long long)J.t.reused, (unsigned long long)J.t.lost_reads);
        printf("  restart              history node %u is node %d's restarted process (it installed node %d's "
               "writes up to %llu; its own dots (%d, s) are (%u, s - %llu) there)%s\n",
               r->n, o->kill_node, o->kill_node, (unsigned long long)J.t.bound, o->kill_node, r->n,
               (unsigned long long)J.t.bound, J.t.truncated ? "; the killed process's last trace line was cut" : "");
    }
    for (uint32_t i = 0; i < r->n; i++)
        printf("  node %-3u             %s%llu writes, %llu delivered, %llu retransmitted, %llu recovered; exit %d\n",
               i, (int)i == o->kill_node ? "its restarted process alone: " : "",
               (unsigned long long)fin.st[i].writes, (unsigned long long)fin.st[i].delivered,
               (unsigned long long)fin.st[i].retransmitted, (unsigned long long)fin.st[i].recovered,
               r->p[i].status);
    cli_print_pairs(&rep);
    if (o->rmw > 0 || o->deletes > 0)
        cli_print_clients(&rep, nc, false);
    char took[32], cv[32], ran[32];
    printf("  check                %s over %llu trace lines (converged %s after the clients; the run: %s)\n",
           cli_duration(check * 1e9, took, sizeof took), (unsigned long long)J.t.trace_lines,
           cli_duration(conv * 1e9, cv, sizeof cv), cli_duration(secs * 1e9, ran, sizeof ran));
    if (!ok)
        cli_write_history(o->history, o->seed, J.t.h);
    if (!ok || o->keep_traces)
        printf("  processes' traces kept in %s\n", r->dir);
    cli_print_verdict(ok, violation, o->replay, "the same workload and faults; process timings vary");
    bool written = true;
    if (o->json && write_json(r, &rep, &J, &fin, &k, secs, check, conv, ok, violation) != CW_OK) {
        fprintf(stderr, "causeway stress: cannot write %s%s%s\n", o->json,
                ok && !o->keep_traces ? "; the processes' traces are kept in " : "",
                ok && !o->keep_traces ? r->dir : ""); /* else named above */
        written = false;
    }
    if (ok && written && !o->keep_traces)
        remove_dir(r);
    free_all(r, cl, th, nc, &J, &fin);
    return !ok ? CLI_FAIL : written ? CLI_OK : CLI_ERROR; /* a pass not written is no verdict given */
}
