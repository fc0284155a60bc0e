/* plat.h - the client's platform layer: sockets, readiness polling, time
 * and the child server process.
 *
 * Everything above this header is portable C11; plat_win.c and
 * plat_win_child.c implement it with Winsock and Win32, plat_posix.c and
 * plat_posix_child.c with BSD sockets, poll() and fork/exec (SIGINT in
 * place of the named stop event), so the client also runs natively on
 * Linux against servers running under Wine.
 *
 * Conventions: calls that can fail return PLAT_ERROR (-2) or -1 as stated
 * and store the platform's error number in *err; plat_err_format() turns it
 * into "call what: NAME (number) text".
 */
#ifndef PLAT_H
#define PLAT_H

#include <stddef.h>
#include <stdint.h>

/* A socket; wide enough for a Winsock SOCKET (UINT_PTR) and a POSIX int. */
typedef uintptr_t plat_sock;
#define PLAT_NO_SOCK (~(plat_sock)0)

/* Return values of plat_send/plat_recv besides a byte count. */
#define PLAT_WOULDBLOCK (-1L)
#define PLAT_ERROR (-2L)

/* An IPv4/IPv6 address with its port, and how it prints. */
typedef struct plat_addr {
    unsigned char storage[128];   /* a sockaddr_storage */
    int len;
    char text[80];                /* "127.0.0.1:5150" */
} plat_addr;

int plat_net_start(int *err);
void plat_net_stop(void);

/* Resolves host (a literal or a name) and port. Returns 0, or -1 with a
 * message in why. */
int plat_resolve(const char *host, unsigned port, plat_addr *out,
                 char *why, size_t why_cap);

/* Opens a non-blocking TCP socket for addr's family. 0 or -1. */
int plat_tcp_socket(const plat_addr *addr, plat_sock *out, int *err);

/* Starts a connect: 0 connected, 1 in progress (poll for PLAT_OUT, then
 * call plat_connect_result), -1 failed. */
int plat_connect_start(plat_sock s, const plat_addr *addr, int *err);

/* After the socket became writable or signalled an error: 0 connected,
 * -1 failed with *err the reason (SO_ERROR). */
int plat_connect_result(plat_sock s, int *err);

/* Byte count (recv: 0 means the peer's FIN), PLAT_WOULDBLOCK or PLAT_ERROR. */
long plat_send(plat_sock s, const void *buf, size_t len, int *err);
long plat_recv(plat_sock s, void *buf, size_t len, int *err);

int plat_shutdown_send(plat_sock s, int *err);
int plat_set_nodelay(plat_sock s, int *err);
/* SO_LINGER {1, 0}: the next close sends RST instead of FIN. */
int plat_set_abortive(plat_sock s, int *err);
void plat_close(plat_sock s);

/* 1 when err means the peer reset or aborted the connection. */
int plat_err_is_reset(int err);
/* "WSAECONNREFUSED" or "error" when unknown. */
const char *plat_err_name(int err);
/* "call what: NAME (number) text"; what may be NULL or "". */
void plat_err_format(char *buf, size_t cap, const char *call, const char *what,
                     int err);

/* Readiness of many sockets at once (WSAPoll on Windows, poll on POSIX). */
enum plat_events {
    PLAT_IN = 1,     /* data, FIN or reset to read */
    PLAT_OUT = 2,    /* send would not block; connect finished */
    PLAT_ERR = 4,    /* an error is pending (read it with recv) */
    PLAT_HUP = 8     /* the connection is closed or reset */
};

typedef struct plat_pollset plat_pollset;

plat_pollset *plat_pollset_new(size_t cap);
void plat_pollset_free(plat_pollset *ps);
/* Sets slot i (i < cap) to watch s for events (PLAT_IN | PLAT_OUT). */
void plat_pollset_set(plat_pollset *ps, size_t i, plat_sock s, int events);
/* Waits on slots [0, n); returns the number of ready slots, 0 on timeout,
 * -1 on failure. */
int plat_pollset_wait(plat_pollset *ps, size_t n, int timeout_ms, int *err);
int plat_pollset_revents(const plat_pollset *ps, size_t i);

/* Sockets watched from one wait to the next, each under a tag below cap
 * (its caller's index): epoll on Linux, where a wait costs only the ready
 * sockets; elsewhere the pollset above, refilled by each wait
 * (plat_watch.c). Level-triggered, like poll. */
typedef struct plat_watch plat_watch;

#if defined(__linux__) && !defined(PLAT_WATCH_POLL)
#define PLAT_WATCH_EPOLL 1
#define PLAT_WATCH_CALL "epoll_wait"
#elif defined(_WIN32)
#define PLAT_WATCH_CALL "WSAPoll"
#else
#define PLAT_WATCH_CALL "poll"
#endif
#ifndef PLAT_WATCH_EPOLL
#define PLAT_WATCH_EPOLL 0
#endif

typedef struct plat_ready {
    size_t tag;
    int revents;             /* PLAT_IN | PLAT_OUT | PLAT_ERR | PLAT_HUP */
} plat_ready;

plat_watch *plat_watch_new(size_t cap);
void plat_watch_free(plat_watch *w);
/* Watches s for events under tag; events 0 stops watching it (call it
 * before the socket is closed). -1 on failure, with *err. */
int plat_watch_set(plat_watch *w, size_t tag, plat_sock s, int events, int *err);
/* Up to cap ready sockets into out; returns how many, 0 on timeout, -1 on
 * failure, in which PLAT_WATCH_CALL failed. When more than cap are ready,
 * the others are reported first by the next wait (none starves). */
int plat_watch_wait(plat_watch *w, plat_ready *out, size_t cap, int timeout_ms, int *err);

/* Time: milliseconds and microseconds from an arbitrary start, monotonic. */
uint64_t plat_now_ms(void);
uint64_t plat_now_us(void);
void plat_sleep_ms(unsigned ms);
unsigned long plat_pid(void);
int plat_stderr_is_tty(void);
/* Standard output writes "\n" as is (no "\r\n"), so scripts read the same
 * bytes on every platform. */
void plat_stdout_binary(void);

/* A child server process whose standard output is captured and which is
 * stopped through a stop object: on Windows a named manual-reset event
 * (the server's --stop-event); on POSIX SIGINT to its PID, which Wine hands
 * to a Windows server's console handler as CTRL_C_EVENT. */
typedef struct plat_child plat_child;

/* The arguments that tie the child to its stop object, for its command
 * line: "--stop-event NAME" on Windows, "" on POSIX. */
void plat_child_stop_args(const char *stop_name, char *buf, size_t cap);
/* The call plat_child_signal_stop makes, for messages: "SetEvent" or
 * "kill SIGINT". */
const char *plat_child_stop_call(void);

/* Creates the stop object stop_name (if the platform names it), then runs
 * cmdline, split into words like CreateProcess does. NULL on failure with
 * a message in why. */
plat_child *plat_child_start(const char *cmdline, const char *stop_name,
                             char *why, size_t why_cap);
/* Copies the first stdout line (no line end) into line. 1 got it, 0 timed
 * out, -1 the child closed stdout or exited first. */
int plat_child_first_line(plat_child *c, char *line, size_t cap,
                          unsigned timeout_ms);
/* Signals the stop object (sets the event; sends SIGINT). 0 or -1 with *err. */
int plat_child_signal_stop(plat_child *c, int *err);
/* 1 exited (*code set), 0 still running after timeout_ms. */
int plat_child_wait(plat_child *c, unsigned timeout_ms, unsigned long *code);
void plat_child_kill(plat_child *c);
/* Copies all stdout captured so far, NUL-terminated; returns its length. */
size_t plat_child_output(plat_child *c, char *buf, size_t cap);
void plat_child_free(plat_child *c);

#endif
