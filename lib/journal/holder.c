/*
 * holder.c - who is working on a run: active (a process holds the run
 * lock), abandoned (a writer died working on it), idle or ended; and
 * the graceful stop of a verified holder (`cairn cancel` of a live run).
 *
 * The holder note in locks/run-N.lock ("pid= start= boot= host=
 * since_ns=", lock.c) lives in a directory that may be hostile: it only
 * names a candidate.  A candidate is believed (and may be signalled) only
 * when the kernel confirms it: same host and boot, a process with that
 * pid and the recorded start time, owned by the lock file's owner, with
 * the lock file open, and named by /proc/locks as the flock holder.
 */
#include "base/jdir.h"
#include "base/sys.h"
#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef cairn__holder_note holder_note;

const char *cairn_activity_name(cairn_activity activity)
{
    switch (activity) {
    case CAIRN_ACTIVITY_IDLE:
        return "idle";
    case CAIRN_ACTIVITY_ACTIVE:
        return "active";
    case CAIRN_ACTIVITY_ABANDONED:
        return "abandoned";
    case CAIRN_ACTIVITY_ENDED:
        return "ended";
    }
    return "unknown";
}

/* "<key><digits>" at *p; advances past it.  0 ok, -1 malformed. */
static int take_u64(const char **p, const char *key, uint64_t max,
                    uint64_t *out)
{
    size_t n = strlen(key);
    const char *s = *p;
    uint64_t v = 0;
    if (strncmp(s, key, n) != 0) {
        return -1;
    }
    s += n;
    if (*s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    *p = s;
    return 0;
}

int cairn__holder_note_parse(const char *text, holder_note *n)
{
    const char *p = text;
    uint64_t pid;
    char hex[2 * CAIRN_BOOT_ID_BYTES + 1];
    memset(n, 0, sizeof(*n));
    if (take_u64(&p, "pid=", INT32_MAX, &pid) != 0 || pid == 0 ||
        take_u64(&p, " start=", UINT64_MAX, &n->start) != 0 ||
        strncmp(p, " boot=", 6) != 0) {
        return -1;
    }
    p += 6;
    /* The text may end before the boot id: read no further than its NUL. */
    if (strnlen(p, sizeof(hex) - 1) != sizeof(hex) - 1) {
        return -1;
    }
    memcpy(hex, p, sizeof(hex) - 1);
    hex[sizeof(hex) - 1] = '\0';
    if (cairn__unhex(hex, n->boot, CAIRN_BOOT_ID_BYTES) != 0) {
        return -1;
    }
    p += sizeof(hex) - 1;
    if (strncmp(p, " host=", 6) != 0) {
        return -1;
    }
    p += 6;
    size_t len = 0;
    while (p[len] > ' ' && p[len] < 0x7f && len < CAIRN_MAX_HOST) {
        n->host[len] = p[len];
        len++;
    }
    n->host[len] = '\0';
    p += len;
    if (take_u64(&p, " since_ns=", UINT64_MAX, &n->since) != 0 ||
        strcmp(p, "\n") != 0) {
        return -1;
    }
    n->pid = (uint32_t)pid;
    return 0;
}

/* Is the holder the note names proven?  1 yes; 0 no (*why says why). */
static int verify(const holder_note *n, const struct stat *lock, char *why,
                  size_t cap)
{
    char here[CAIRN_MAX_HOST + 1], path[64];
    uint8_t boot[CAIRN_BOOT_ID_BYTES];
    uint64_t start = 0;
    long long flock_pid = -1;
    struct stat proc;
    cairn__hostname(here);
    if (strcmp(n->host, here) != 0) {
        cairn__fmt(why, cap,
                   "the lock note names host %s, not this host (%s): a "
                   "process there cannot be checked from here",
                   n->host, here);
        return 0;
    }
    if (cairn__boot_id(boot) != CAIRN_OK ||
        memcmp(boot, n->boot, sizeof(boot)) != 0) {
        cairn__fmt(why, cap, "the lock note is from another boot");
        return 0;
    }
    if (cairn__proc_start_time((pid_t)n->pid, &start) != CAIRN_OK ||
        start != n->start) {
        cairn__fmt(why, cap,
                   "pid %u is not the process that wrote the lock note (gone, "
                   "or another start time)",
                   n->pid);
        return 0;
    }
    cairn__fmt(path, sizeof(path), "/proc/%u", n->pid);
    if (stat(path, &proc) != 0 || proc.st_uid != lock->st_uid) {
        cairn__fmt(why, cap,
                   "pid %u does not belong to the owner of the lock file "
                   "(uid %u)",
                   n->pid, (unsigned)lock->st_uid);
        return 0;
    }
    if (cairn__flock_holder(lock, &flock_pid) != 1 ||
        flock_pid != (long long)n->pid || !cairn__proc_has_open(n->pid, lock)) {
        cairn__fmt(why, cap, "pid %u does not hold the run lock", n->pid);
        return 0;
    }
    return 1;
}

/* The run's number, its note (parsed: *parsed) and whether the run lock
 * is held (*held). */
static cairn_err look(cairn_journal *j, const char *run_id, uint64_t *num,
                      holder_note *n, int *parsed, struct stat *st, int *held)
{
    char detail[CAIRN__DETAIL_MAX], text[512];
    int exists = 0;
    *parsed = 0;
    *held = 0;
    cairn_err err =
        cairn__lookup_outside(j, run_id, num, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cairn__publish_detail(j, detail);
        return err;
    }
    if (cairn__run_lock_note(j->dfd, j->dir, *num, text, sizeof(text), st,
                             &exists) != CAIRN_OK) {
        exists = 0; /* unreadable or unsafe: names nobody */
    }
    *parsed = exists && cairn__holder_note_parse(text, n) == 0;
    int probe = cairn__run_lock_probe(j->dfd, j->data_fd, *num);
    long long pid;
    *held = probe == 1 || (exists && cairn__flock_holder(st, &pid) == 1);
    return CAIRN_OK;
}

static void set_holder(cairn_run_holder *out, const holder_note *n)
{
    out->has_holder = 1;
    out->pid = n->pid;
    out->since_ns = n->since;
    cairn__escape_text(n->host, strlen(n->host), out->host, sizeof(out->host));
}

static int ended(const cairn_summary *s)
{
    switch (s->state) {
    case CAIRN_RUN_COMPLETED:
    case CAIRN_RUN_FAILED:
    case CAIRN_RUN_TIMED_OUT:
    case CAIRN_RUN_CANCELLED:
        return 1;
    case CAIRN_RUN_AWAITING_PREFLIGHT:
    case CAIRN_RUN_RUNNING:
    case CAIRN_RUN_NEEDS_ATTENTION:
        return 0;
    }
    return 0;
}

/* Nobody holds the run: a live claimer, something left behind, or
 * nothing. */
static void not_held(const cairn_summary *s, const holder_note *n, int parsed,
                     cairn_run_holder *out)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        const cairn_op_view *op = &s->ops[i];
        if (op->state == CAIRN_OP_PENDING && !op->in_doubt) {
            out->activity = CAIRN_ACTIVITY_ACTIVE;
            out->has_holder = 1;
            out->pid = op->holder_pid;
            out->since_ns = op->updated_ns;
            cairn__fmt(out->detail, sizeof(out->detail),
                       "operation %u (%s) is claimed by pid %u, which lives; "
                       "no process holds the run lock",
                       op->seq, op->id, op->holder_pid);
            return;
        }
    }
    if (s->n_in_doubt > 0) {
        const cairn_op_view *op = cairn_summary_op(s, s->in_doubt[0]);
        out->activity = CAIRN_ACTIVITY_ABANDONED;
        cairn__fmt(out->detail, sizeof(out->detail),
                   "operation %u (%s) is in doubt: it was claimed (pid %u) "
                   "and its claimer is gone without a receipt",
                   s->in_doubt[0], op != NULL ? op->id : "?",
                   op != NULL ? op->holder_pid : 0);
        if (parsed) {
            set_holder(out, n);
        }
        return;
    }
    if (parsed && s->next_action != CAIRN_NEXT_DONE &&
        !cairn__proc_alive(n->pid, n->start, n->boot, n->host)) {
        out->activity = CAIRN_ACTIVITY_ABANDONED;
        set_holder(out, n);
        cairn__fmt(out->detail, sizeof(out->detail),
                   "its writer (pid %u on %s) died holding the run, "
                   "without releasing it",
                   n->pid, out->host);
        return;
    }
    out->activity = ended(s) ? CAIRN_ACTIVITY_ENDED : CAIRN_ACTIVITY_IDLE;
}

cairn_err cairn_run_activity(cairn_journal *journal,
                             const cairn_summary *summary,
                             cairn_run_holder *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || summary == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    uint64_t num;
    holder_note n;
    int parsed, held;
    struct stat st;
    if (summary->imported) {
        /* Read-only: nothing in this journal works on it. */
        out->activity =
            ended(summary) ? CAIRN_ACTIVITY_ENDED : CAIRN_ACTIVITY_IDLE;
        cairn__fmt(out->detail, sizeof(out->detail),
                   "imported from a bundle: read-only");
        return CAIRN_OK;
    }
    cairn_err err =
        look(journal, summary->run_id, &num, &n, &parsed, &st, &held);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!held) {
        not_held(summary, &n, parsed, out);
        return CAIRN_OK;
    }
    out->activity = CAIRN_ACTIVITY_ACTIVE;
    if (!parsed) {
        cairn__fmt(out->detail, sizeof(out->detail),
                   "the run lock is held, but its note is missing or "
                   "malformed: the holder is unknown");
        return CAIRN_OK;
    }
    set_holder(out, &n);
    out->verified = verify(&n, &st, out->detail, sizeof(out->detail));
    return CAIRN_OK;
}

static int open_pidfd(uint32_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int send_term(int pidfd, uint32_t pid)
{
#ifdef SYS_pidfd_send_signal
    if (pidfd >= 0) {
        return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
    }
#else
    (void)pidfd;
#endif
    return kill((pid_t)pid, SIGTERM);
}

cairn_err cairn_run_interrupt(cairn_journal *journal, const char *run_id,
                              cairn_run_holder *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || run_id == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    uint64_t num;
    holder_note n;
    int parsed, held;
    struct stat st;
    cairn_err err = look(journal, run_id, &num, &n, &parsed, &st, &held);
    if (err != CAIRN_OK) {
        return err;
    }
    /* The pidfd first: the checks below then vouch for the process it
     * names (a pid reused after them is not the one it refers to). */
    int pidfd = parsed ? open_pidfd(n.pid) : -1;
    if (parsed) {
        set_holder(out, &n);
    }
    err = look(journal, run_id, &num, &n, &parsed, &st, &held);
    if (err != CAIRN_OK || !held) {
        out->activity = CAIRN_ACTIVITY_IDLE;
        out->has_holder = 0;
    } else if (!parsed || pidfd < 0 ||
               !verify(&n, &st, out->detail, sizeof(out->detail)) ||
               n.pid != out->pid) {
        out->activity = CAIRN_ACTIVITY_ACTIVE;
        if (out->detail[0] == '\0' && parsed) {
            cairn__fmt(out->detail, sizeof(out->detail),
                       "pid %u is gone, or the note changed", n.pid);
        } else if (out->detail[0] == '\0') {
            cairn__fmt(out->detail, sizeof(out->detail),
                       "the run lock is held, but its note is missing or "
                       "malformed: the holder is unknown");
        }
        err = cairn__jfail(journal, CAIRN_ELOCKED, "%s", out->detail);
    } else if (send_term(pidfd, n.pid) != 0) {
        out->activity = CAIRN_ACTIVITY_ACTIVE;
        err = cairn__jfail(journal, CAIRN_EIO, "signal pid %u: %s", n.pid,
                           strerror(errno));
    } else {
        out->activity = CAIRN_ACTIVITY_ACTIVE;
        out->verified = 1;
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    return err;
}
