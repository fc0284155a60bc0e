/* plat_posix_child.c - plat.h's child server process for POSIX systems.
 *
 * The command line is split on spaces (double quotes group words; no
 * shell) and run with fork/execvp. As on Windows, a reader thread drains
 * the child's standard output into a buffer for the whole run, so the
 * server never blocks on a full pipe; its standard error is ours and its
 * standard input is /dev/null.
 *
 * The stop is SIGINT to the child's PID: a named Win32 event cannot be set
 * from outside Wine, while Wine delivers SIGINT to a Windows server's
 * console handler as CTRL_C_EVENT (REFERENCE section 4), and a POSIX
 * server would simply handle SIGINT.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plat.h"
#include "plat_child_out.h"

#define READER_POLL_MS 100
#define READER_END_WAIT_MS 3000u

struct plat_child {
    pid_t pid;
    int out_read;         /* our end of the stdout pipe */
    pthread_t reader;
    int reader_started;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;  /* a new line, the end of output, the reader's end */
    child_out out;        /* captured stdout */
    int out_eof;          /* the reader ended; out is final */
    int stop_reading;     /* the child exited (or we give up): drain, then end */
    int exited;
    unsigned long exit_code;
};

void plat_child_stop_args(const char *stop_name, char *buf, size_t cap)
{
    (void)stop_name;   /* no named object: the stop is SIGINT */
    if (cap > 0)
        buf[0] = '\0';
}

const char *plat_child_stop_call(void)
{
    return "kill SIGINT";
}

static void posix_error(char *why, size_t cap, const char *call, const char *what, int err)
{
    plat_err_format(why, cap, call, what, err);
}

/* An absolute CLOCK_MONOTONIC time timeout_ms from now, for
 * pthread_cond_timedwait on a condition that uses that clock. */
static struct timespec deadline_after(unsigned timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000u);
    ts.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits on c->cond until *flag is set or timeout_ms passed; c->lock held.
 * 1 when the flag is set. */
static int wait_flag(plat_child *c, const int *flag, unsigned timeout_ms)
{
    struct timespec until = deadline_after(timeout_ms);

    while (!*flag)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
            break;
    return *flag;
}

/* Appends a chunk of output; past the cap the bytes are dropped, but the
 * pipe is still drained. */
static void child_append(plat_child *c, const char *data, size_t n)
{
    pthread_mutex_lock(&c->lock);
    child_out_append(&c->out, data, n);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* One read when the pipe is ready: 1 go on, 0 end of output. */
static int reader_step(plat_child *c, int stop_after_idle)
{
    struct pollfd p;
    char chunk[4096];
    ssize_t n;
    int rc;

    p.fd = c->out_read;
    p.events = POLLIN;
    p.revents = 0;
    /* Once the child is gone its output is all in the pipe: no waiting. */
    rc = poll(&p, 1, stop_after_idle ? 0 : READER_POLL_MS);
    if (rc == 0)
        return !stop_after_idle;
    if (rc < 0)
        return errno == EINTR;
    n = read(c->out_read, chunk, sizeof chunk);
    if (n > 0)
        child_append(c, chunk, (size_t)n);
    return n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN));
}

/* Reads until EOF, or until the pipe is idle once the child has exited:
 * every byte the child wrote is in the pipe by then, and a process it
 * started (under Wine, a wineserver) may hold the write end for long. The
 * flag is read before each poll, so output written before the exit is
 * never missed. */
static void *child_reader(void *arg)
{
    plat_child *c = (plat_child *)arg;
    int go_on = 1;

    while (go_on) {
        int stop_after_idle;

        pthread_mutex_lock(&c->lock);
        stop_after_idle = c->stop_reading;
        pthread_mutex_unlock(&c->lock);
        go_on = reader_step(c, stop_after_idle);
    }
    pthread_mutex_lock(&c->lock);
    c->out_eof = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static plat_child *child_alloc(void)
{
    plat_child *c = (plat_child *)calloc(1, sizeof *c);
    pthread_condattr_t ca;
    int ok;

    if (c == NULL)
        return NULL;
    c->pid = -1;
    c->out_read = -1;
    /* Timed waits on CLOCK_MONOTONIC, so a clock change cannot stretch them. */
    ok = child_out_init(&c->out) == 0 && pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0
             && pthread_cond_init(&c->cond, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        child_out_free(&c->out);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

/* Splits line in place into at most cap - 1 words, NULL-terminated: runs
 * of spaces or tabs separate words, double quotes group (and are removed),
 * the way CreateProcess reads a simple command line. Returns the count. */
static size_t split_words(char *line, char **argv, size_t cap)
{
    char *r = line;
    size_t n = 0;

    while (*r != '\0' && n + 1 < cap) {
        char *w;
        int quoted = 0;

        while (*r == ' ' || *r == '\t')
            r++;
        if (*r == '\0')
            break;
        w = r;   /* the word is rewritten in place, quotes removed */
        argv[n++] = w;
        for (; *r != '\0' && (quoted || (*r != ' ' && *r != '\t')); r++)
            if (*r == '"')
                quoted = !quoted;
            else
                *w++ = *r;
        if (*r != '\0')
            r++;
        *w = '\0';
    }
    argv[n] = NULL;
    return n;
}

static int set_cloexec(int fd)
{
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Between fork and exec, in the child: only async-signal-safe calls. The
 * exec error goes back through status_fd (closed on exec on success). */
static void child_exec(char **argv, int in_fd, int out_fd, int status_fd)
{
    int err;
    ssize_t w;

    /* We ignore SIGPIPE, and a shell may have ignored SIGINT for a
     * background job; both would be inherited through exec. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (dup2(in_fd, STDIN_FILENO) != -1 && dup2(out_fd, STDOUT_FILENO) != -1)
        execvp(argv[0], argv);
    err = errno;
    w = write(status_fd, &err, sizeof err);   /* if it fails, EOF says "ran" and exit 127 says otherwise */
    (void)w;
    _exit(127);
}

/* The result of exec, read from the status pipe: 0 the program runs, else
 * the child's errno (the child has exited and is reaped here). */
static int exec_status(plat_child *c, int status_read)
{
    int err = 0;
    ssize_t n;
    int st;

    do
        n = read(status_read, &err, sizeof err);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof err)
        return 0;   /* EOF: closed by a successful exec */
    waitpid(c->pid, &st, 0);
    c->pid = -1;
    return err != 0 ? err : ENOEXEC;
}

/* The pipes and /dev/null the child needs, all close-on-exec (dup2 clears
 * the flag on the child's 0 and 1). fds: null, out read, out write,
 * status read, status write. */
static int open_fds(int fds[5], char *why, size_t cap)
{
    int i;

    fds[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fds[0] == -1) {
        posix_error(why, cap, "open", "/dev/null", errno);
        return -1;
    }
    if (pipe(fds + 1) == -1 || pipe(fds + 3) == -1) {
        posix_error(why, cap, "pipe", NULL, errno);
        return -1;
    }
    for (i = 1; i < 5; i++)
        if (set_cloexec(fds[i]) == -1) {
            posix_error(why, cap, "fcntl FD_CLOEXEC", NULL, errno);
            return -1;
        }
    return 0;
}

static void close_fds(int fds[5])
{
    int i;

    for (i = 0; i < 5; i++)
        if (fds[i] != -1)
            close(fds[i]);
}

/* Forks and execs argv with stdout on a pipe; on success c->out_read is
 * our end of it. */
static int child_spawn(plat_child *c, char **argv, char *why, size_t cap)
{
    int fds[5] = { -1, -1, -1, -1, -1 };
    int err;

    if (open_fds(fds, why, cap) != 0) {
        close_fds(fds);
        return -1;
    }
    c->pid = fork();
    if (c->pid == 0)
        child_exec(argv, fds[0], fds[2], fds[4]);
    if (c->pid == -1) {
        posix_error(why, cap, "fork", argv[0], errno);
        close_fds(fds);
        return -1;
    }
    /* Our copies of the child's ends must go, or we never see EOF. */
    close(fds[2]);
    close(fds[4]);
    fds[2] = fds[4] = -1;
    err = exec_status(c, fds[3]);
    if (err != 0)
        posix_error(why, cap, "execvp", argv[0], err);
    else {
        c->out_read = fds[1];
        fds[1] = -1;
    }
    close_fds(fds);
    return err != 0 ? -1 : 0;
}

/* Splits cmdline and spawns it. */
static int child_launch(plat_child *c, const char *cmdline, char *why, size_t cap)
{
    size_t len = strlen(cmdline);
    char *line = (char *)malloc(len + 1);
    char **argv = (char **)calloc(len / 2 + 2, sizeof *argv);   /* enough words */
    int rc = -1;

    if (line == NULL || argv == NULL)
        snprintf(why, cap, "out of memory");
    else {
        memcpy(line, cmdline, len + 1);
        if (split_words(line, argv, len / 2 + 2) == 0)
            snprintf(why, cap, "--server: no program given");
        else
            rc = child_spawn(c, argv, why, cap);
    }
    free(argv);
    free(line);
    return rc;
}

plat_child *plat_child_start(const char *cmdline, const char *stop_name,
                             char *why, size_t why_cap)
{
    plat_child *c = child_alloc();

    (void)stop_name;   /* the stop is SIGINT; see plat_child_stop_args */
    if (c == NULL) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    /* An inherited SIG_IGN for SIGCHLD would make the kernel reap the
     * child itself, and waitpid could never report its exit code. */
    signal(SIGCHLD, SIG_DFL);
    if (child_launch(c, cmdline, why, why_cap) != 0) {
        plat_child_free(c);
        return NULL;
    }
    if (pthread_create(&c->reader, NULL, child_reader, c) != 0) {
        snprintf(why, why_cap, "pthread_create: cannot start the stdout reader");
        plat_child_free(c);
        return NULL;
    }
    c->reader_started = 1;
    return c;
}

int plat_child_first_line(plat_child *c, char *line, size_t cap, unsigned timeout_ms)
{
    struct timespec until = deadline_after(timeout_ms);
    int rc;

    pthread_mutex_lock(&c->lock);
    while (!child_out_has_line(&c->out) && !c->out_eof)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
            break;
    rc = child_out_first_line(&c->out, line, cap);
    if (rc == 0 && c->out_eof)
        rc = -1;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int plat_child_signal_stop(plat_child *c, int *err)
{
    if (c->pid <= 0 || c->exited) {
        *err = ESRCH;
        return -1;
    }
    if (kill(c->pid, SIGINT) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

/* Tells the reader the child is gone and waits for it to finish draining. */
static void reader_finish(plat_child *c, unsigned timeout_ms)
{
    pthread_mutex_lock(&c->lock);
    c->stop_reading = 1;
    if (c->reader_started)
        wait_flag(c, &c->out_eof, timeout_ms);
    pthread_mutex_unlock(&c->lock);
}

/* The exit status as one number: the exit code, or 128 + the signal that
 * ended it (as shells report it). */
static unsigned long status_code(int st)
{
    if (WIFEXITED(st))
        return (unsigned long)WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128u + (unsigned long)WTERMSIG(st);
    return 255u;
}

int plat_child_wait(plat_child *c, unsigned timeout_ms, unsigned long *code)
{
    uint64_t deadline = plat_now_ms() + timeout_ms;
    int st = 0;
    pid_t rc;

    if (!c->exited) {
        /* waitpid has no timeout: poll it, bounded by the deadline. */
        while ((rc = waitpid(c->pid, &st, WNOHANG)) == 0 && plat_now_ms() < deadline)
            plat_sleep_ms(10);
        if (rc == 0 || (rc < 0 && errno != ECHILD))
            return 0;
        c->exit_code = rc > 0 ? status_code(st) : 255u;   /* ECHILD: reaped elsewhere */
        c->exited = 1;
        /* Let the reader collect the last lines the child wrote. */
        reader_finish(c, READER_END_WAIT_MS);
    }
    *code = c->exit_code;
    return 1;
}

void plat_child_kill(plat_child *c)
{
    unsigned long code;

    if (c->pid <= 0 || c->exited)
        return;
    kill(c->pid, SIGKILL);
    plat_child_wait(c, 5000, &code);
}

size_t plat_child_output(plat_child *c, char *buf, size_t cap)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = child_out_copy(&c->out, buf, cap);
    pthread_mutex_unlock(&c->lock);
    return n;
}

void plat_child_free(plat_child *c)
{
    int reader_done;

    if (c == NULL)
        return;
    plat_child_kill(c);
    reader_finish(c, READER_END_WAIT_MS);
    pthread_mutex_lock(&c->lock);
    reader_done = !c->reader_started || c->out_eof;
    pthread_mutex_unlock(&c->lock);
    if (!reader_done) {
        /* It still uses the rest; leave it to process exit. */
        pthread_detach(c->reader);
        return;
    }
    if (c->reader_started)
        pthread_join(c->reader, NULL);
    if (c->out_read != -1)
        close(c->out_read);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    child_out_free(&c->out);
    free(c);
}
