/*
 * exec.c - run one command and wait for it: its stdout and stderr go to
 * private files (O_TMPFILE in the caller's directory, or memfd) that are
 * read back through our descriptors as they grow, so that the command
 * never blocks on us and never gets SIGPIPE when we die; hash and keep a
 * bounded tail of each stream, enforce the timeout and the caller's
 * interrupts on the whole process group, and make sure no member of the
 * group survives (unless the command may leave daemons).  Spawning is
 * exec_spawn.c, the streams' capture exec_stream.c.
 */
#include "runner/exec.h"

#include "base/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXEC_TAIL_DEFAULT 4096u
#define EXEC_TAIL_LIMIT (1u << 20)
#define EXEC_GRACE_DEFAULT 5000000000ull
#define EXEC_TICK_NS 100000000ull    /* interrupts read at least this often */
#define EXEC_FAST_TICK_NS 5000000ull /* no pidfd, or waiting for the group */
#define EXEC_REAP_LIMIT_NS 1000000000ull /* group wait after the leader */
typedef enum exec_reason {
    EXEC_RUNNING,   /* not terminating */
    EXEC_TIMEOUT,   /* spec->timeout_ns elapsed */
    EXEC_INTERRUPT, /* the caller's interrupts */
} exec_reason;

typedef struct exec_state {
    const cairn_exec_spec *spec;
    pid_t pid;
    int pidfd;
    cairn_exec_stream s[2];
    uint64_t start, end, grace;
    uint64_t deadline;   /* UINT64_MAX: none */
    int deadline_is_int; /* the deadline came from an interrupt */
    int int_seen;        /* interrupts >= 1 observed */
    exec_reason reason;
    uint64_t kill_at; /* SIGKILL due (0: no SIGTERM sent yet) */
    int kill_sent;
    int reaped; /* leader reaped; status valid */
    int status;
    uint64_t give_up_at; /* stop waiting for the rest of the group */
    int group_gone;
    uint64_t next_progress; /* next on_progress call */
} exec_state;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void signal_group(exec_state *st, int sig)
{
    if (kill(-st->pid, sig) != 0 && errno == ESRCH) {
        st->group_gone = 1;
    }
}

static void terminate(exec_state *st, exec_reason why, uint64_t now)
{
    st->reason = why;
    st->kill_at = sat_add(now, st->grace);
    signal_group(st, SIGTERM);
}

/* Interrupts, deadline, SIGKILL escalation: what is due at @p now. */
static void enforce_limits(exec_state *st, uint64_t now)
{
    const cairn_exec_spec *spec = st->spec;
    if (!st->reaped && st->reason == EXEC_RUNNING && spec->interrupts != NULL) {
        sig_atomic_t v = *spec->interrupts;
        if (v >= 1 && !st->int_seen) {
            st->int_seen = 1;
            uint64_t d = sat_add(now, spec->shutdown_ns);
            if (d < st->deadline) {
                st->deadline = d;
                st->deadline_is_int = 1;
            }
        }
        if (v >= 2) {
            terminate(st, EXEC_INTERRUPT, now);
        }
    }
    if (!st->reaped && st->reason == EXEC_RUNNING && now >= st->deadline) {
        terminate(st, st->deadline_is_int ? EXEC_INTERRUPT : EXEC_TIMEOUT, now);
    }
    if (st->kill_at != 0 && !st->kill_sent && now >= st->kill_at) {
        st->kill_sent = 1;
        signal_group(st, SIGKILL);
    }
}

/* The leader is gone: the rest of its group follows, at once when we were
 * not already terminating it, else when its grace period ends. */
static void leader_reaped(exec_state *st, int status, uint64_t now)
{
    st->reaped = 1;
    st->status = status;
    st->end = now;
    if (st->pidfd >= 0) {
        close(st->pidfd);
        st->pidfd = -1;
    }
    if (st->kill_at == 0 && st->spec->daemon) {
        /* It may leave processes behind on purpose: no sweep, no wait. */
        st->group_gone = 1;
        st->give_up_at = now;
        return;
    }
    if (st->kill_at == 0) {
        st->kill_at = now;
    }
    uint64_t limit =
        st->grace < EXEC_REAP_LIMIT_NS ? st->grace : EXEC_REAP_LIMIT_NS;
    st->give_up_at = sat_add(st->kill_at > now ? st->kill_at : now, limit);
}

/* Reaps the leader if it exited, then the group members that are our
 * children (we may be a subreaper), then probes the group. */
static int reap(exec_state *st, uint64_t now)
{
    int status = 0;
    if (!st->reaped) {
        pid_t r = waitpid(st->pid, &status, WNOHANG);
        if (r == st->pid) {
            leader_reaped(st, status, now);
        } else if (r < 0 && errno != EINTR) {
            return -1;
        }
    }
    if (!st->reaped || st->group_gone) {
        return 0;
    }
    while (waitpid(-st->pid, NULL, WNOHANG) > 0) {
    }
    signal_group(st, st->kill_sent ? SIGKILL : 0);
    return 0;
}

static int poll_timeout_ms(const exec_state *st, uint64_t now)
{
    uint64_t tick = st->pidfd >= 0 ? EXEC_TICK_NS : EXEC_FAST_TICK_NS;
    uint64_t wake = sat_add(now, tick);
    if (!st->reaped && st->reason == EXEC_RUNNING && st->deadline < wake) {
        wake = st->deadline;
    }
    if (st->kill_at != 0 && !st->kill_sent && st->kill_at < wake) {
        wake = st->kill_at;
    }
    if (st->reaped && st->give_up_at < wake) {
        wake = st->give_up_at;
    }
    if (st->spec->on_progress != NULL && st->spec->progress_ns != 0 &&
        !st->reaped && st->next_progress < wake) {
        wake = st->next_progress > now ? st->next_progress : now;
    }
    uint64_t ns = wake > now ? wake - now : 0;
    return (int)((ns + 999999) / 1000000);
}

/* Wait on the pidfd while the leader runs (or just the tick), then read
 * what the output files gained.  -1 with errno on failure; *what names
 * it. */
static int wait_once(exec_state *st, uint64_t now, const char **what)
{
    struct pollfd p[1];
    nfds_t n = 0;
    if (st->pidfd >= 0) {
        p[0].fd = st->pidfd;
        p[0].events = POLLIN;
        n = 1;
    }
    int r = poll(n ? p : NULL, n, poll_timeout_ms(st, now));
    if (r < 0 && errno != EINTR) {
        *what = "poll";
        return -1;
    }
    now = now_ns();
    for (int i = 0; i < 2; i++) {
        if (cairn__exec_stream_read(&st->s[i], now) != 0) {
            *what = i == 0 ? "read stdout" : "read stderr";
            return -1;
        }
    }
    return 0;
}

/* Last reads once nobody of the group can write any more: what the files
 * hold now, without reading forever from a writer that escaped the
 * group (or a daemon). */
static int drain_rest(exec_state *st)
{
    uint64_t now = now_ns();
    for (int i = 0; i < 2; i++) {
        cairn_exec_stream *s = &st->s[i];
        off_t end = lseek(s->fd, 0, SEEK_END);
        if (end < 0 ||
            cairn__exec_stream_read_upto(s, INT32_MAX, (uint64_t)end, now)) {
            return -1;
        }
    }
    return 0;
}

/* On an I/O error: kill the group, reap the leader, report. */
static cairn_err emergency_stop(exec_state *st, const char *what, char *detail,
                                size_t detail_len)
{
    cairn__fmt(detail, detail_len, "%s: %s", what, strerror(errno));
    (void)kill(-st->pid, SIGKILL);
    if (!st->reaped) {
        while (waitpid(st->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    while (waitpid(-st->pid, NULL, WNOHANG) > 0) {
    }
    return CAIRN_EIO;
}

/* The caller's progress callback, at most every progress_ns. */
static void report_progress(exec_state *st, uint64_t now)
{
    const cairn_exec_spec *spec = st->spec;
    if (spec->on_progress == NULL || spec->progress_ns == 0 || st->reaped ||
        now < st->next_progress) {
        return;
    }
    st->next_progress = sat_add(now, spec->progress_ns);
    cairn_exec_progress pr;
    pr.pid = st->pid;
    pr.elapsed_ns = now - st->start;
    pr.out_bytes = st->s[0].bytes;
    pr.err_bytes = st->s[1].bytes;
    uint64_t last = st->s[0].last_growth > st->s[1].last_growth
                        ? st->s[0].last_growth
                        : st->s[1].last_growth;
    pr.has_output = last != 0;
    pr.since_output_ns = last != 0 ? now - last : 0;
    spec->on_progress(spec->progress_ctx, &pr);
}

static cairn_err wait_loop(exec_state *st, char *detail, size_t detail_len)
{
    const char *what = "waitpid";
    for (;;) {
        uint64_t now = now_ns();
        if (reap(st, now) != 0) {
            return emergency_stop(st, "waitpid", detail, detail_len);
        }
        enforce_limits(st, now);
        report_progress(st, now);
        if (st->reaped && (st->group_gone || now >= st->give_up_at)) {
            if (drain_rest(st) != 0) {
                return emergency_stop(st, "read", detail, detail_len);
            }
            return CAIRN_OK;
        }
        if (wait_once(st, now, &what) != 0) {
            return emergency_stop(st, what, detail, detail_len);
        }
    }
}

static cairn_err check_spec(const cairn_exec_spec *spec, char *detail,
                            size_t detail_len)
{
    if (spec == NULL || spec->argv == NULL || spec->envp == NULL) {
        cairn__fmt(detail, detail_len, "spec, argv or envp is NULL");
        return CAIRN_EINVAL;
    }
    if (spec->argv[0] == NULL || spec->argv[0][0] == '\0') {
        cairn__fmt(detail, detail_len, "argv[0] is empty");
        return CAIRN_EINVAL;
    }
    if (spec->output_dir_fd < -1 ||
        (spec->output_dir_fd > 0 &&
         (spec->output_dir_fd < 3 ||
          fcntl(spec->output_dir_fd, F_GETFD) < 0))) {
        cairn__fmt(detail, detail_len, "output_dir_fd %d: not open",
                   spec->output_dir_fd);
        return CAIRN_EINVAL;
    }
    if (spec->tail_max > EXEC_TAIL_LIMIT) {
        cairn__fmt(detail, detail_len, "tail_max %zu larger than %u",
                   spec->tail_max, EXEC_TAIL_LIMIT);
        return CAIRN_EINVAL;
    }
    if (spec->keep_fd != -1 &&
        (spec->keep_fd < 3 || fcntl(spec->keep_fd, F_GETFD) < 0)) {
        cairn__fmt(detail, detail_len,
                   "keep_fd %d: not an open descriptor"
                   " >= 3",
                   spec->keep_fd);
        return CAIRN_EINVAL;
    }
    return CAIRN_OK;
}

/* A descriptor >= 3 (so that the child's dup2 onto 0..2 cannot clobber
 * it), close-on-exec.  Closes @p fd when it has to move it. */
static int fd_above_stdio(int fd)
{
    if (fd < 0 || fd >= 3) {
        return fd;
    }
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return moved;
}

/* An unnamed output file: O_TMPFILE in the caller's private directory,
 * else (no directory, or a file system without O_TMPFILE) a memfd. */
static int output_file(const cairn_exec_spec *spec, const char *name)
{
    if (spec->output_dir_fd > 0) {
        int fd = openat(spec->output_dir_fd, ".",
                        O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
                        errno != EINVAL && errno != ENOENT)) {
            return fd_above_stdio(fd);
        }
    }
    return fd_above_stdio(memfd_create(name, MFD_CLOEXEC));
}

/* Output files and rings, all before the spawn so that nothing can fail
 * once the child runs.  The child's stdout and stderr are the same open
 * files (w[] = the streams' descriptors). */
static cairn_err prepare(exec_state *st, int w[2], char *detail,
                         size_t detail_len)
{
    static const char *const names[2] = {"cairn-stdout", "cairn-stderr"};
    size_t cap = st->spec->tail_max ? st->spec->tail_max : EXEC_TAIL_DEFAULT;
    for (int i = 0; i < 2; i++) {
        cairn_exec_stream *s = &st->s[i];
        if (cairn__exec_stream_init(s, cap) != 0) {
            cairn__fmt(detail, detail_len, "out of memory");
            return CAIRN_ENOMEM;
        }
        int given = i == 0 ? st->spec->out_fd : st->spec->err_fd;
        s->fd = given > 0 ? fcntl(given, F_DUPFD_CLOEXEC, 3)
                          : output_file(st->spec, names[i]);
        if (s->fd < 0) {
            cairn__fmt(detail, detail_len, "output file: %s", strerror(errno));
            return CAIRN_EIO;
        }
        w[i] = s->fd;
    }
    return CAIRN_OK;
}

static void fill_result(exec_state *st, cairn_exec_result *res)
{
    res->pid = st->pid;
    res->exited = WIFEXITED(st->status) ? 1 : 0;
    res->exit_code = res->exited ? WEXITSTATUS(st->status) : 0;
    res->signaled = WIFSIGNALED(st->status) ? 1 : 0;
    res->term_signal = res->signaled ? WTERMSIG(st->status) : 0;
    res->timed_out = st->reason == EXEC_TIMEOUT;
    res->interrupted = st->reason == EXEC_INTERRUPT;
    res->duration_ns = st->end - st->start;
    cairn__exec_stream_finish(&st->s[0], &res->out);
    cairn__exec_stream_finish(&st->s[1], &res->err);
}

cairn_err cairn__exec_run(const cairn_exec_spec *spec, cairn_exec_result *res,
                          char *detail, size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (res == NULL) {
        cairn__fmt(detail, detail_len, "res is NULL");
        return CAIRN_EINVAL;
    }
    memset(res, 0, sizeof *res);
    cairn_err e = check_spec(spec, detail, detail_len);
    if (e != CAIRN_OK) {
        return e;
    }
    exec_state st;
    memset(&st, 0, sizeof st);
    st.spec = spec;
    st.pidfd = -1;
    st.s[0].fd = st.s[1].fd = -1;
    st.grace = spec->grace_ns ? spec->grace_ns : EXEC_GRACE_DEFAULT;
    int w[2] = {-1, -1};
    e = prepare(&st, w, detail, detail_len);
    if (e == CAIRN_OK) {
        st.start = now_ns();
        st.deadline =
            spec->timeout_ns ? sat_add(st.start, spec->timeout_ns) : UINT64_MAX;
        st.next_progress = sat_add(st.start, spec->progress_ns);
        e = cairn__exec_spawn(spec, w[0], w[1], &st.pid, detail, detail_len);
    }
    if (e == CAIRN_OK) {
        st.pidfd = pidfd_open(st.pid, 0);
        e = wait_loop(&st, detail, detail_len);
    }
    if (e == CAIRN_OK) {
        fill_result(&st, res);
    }
    if (st.pidfd >= 0) {
        close(st.pidfd);
    }
    cairn__exec_stream_close(&st.s[0]);
    cairn__exec_stream_close(&st.s[1]);
    return e;
}

void cairn__exec_result_free(cairn_exec_result *res)
{
    if (res == NULL) {
        return;
    }
    free(res->out.tail);
    free(res->err.tail);
    res->out.tail = NULL;
    res->err.tail = NULL;
    res->out.tail_len = 0;
    res->err.tail_len = 0;
}
