/* net.h - the Winsock chores every server repeats: start-up, the listening
 * socket, closing and refusing connections, and naming errors. */
#ifndef NET_H
#define NET_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>

#include "session.h"
#include "stats.h"

/* WSABUFs in one send: the session's queue blocks grow to 64 KiB, so 16
 * of them cover more than the 256 KiB backpressure bound. */
#define NET_SEND_BUFS 16

/* A graceful close: after shutdown(SD_SEND) the server reads and drops
 * what the peer still sends until its FIN, because closing a socket with
 * unread input sends a reset, and a reset can destroy replies (an ERROR
 * frame) the peer has not read yet. Bounded in time and in bytes. */
#define NET_LINGER_MS 2000
#define NET_LINGER_BYTES (1u << 20)

typedef struct net_drain {
    ULONGLONG deadline;   /* GetTickCount64() when the drain gives up */
    size_t dropped;       /* bytes read and dropped so far */
} net_drain;

/* Logs `what: NAME (number) text`, the form SPEC section 2 asks for. */
void net_log_error(const char *what, int err);

/* The same for an I/O call on one connection: the errors a peer's reset
 * or close and the server's own cancel cause are routine, so they are
 * logged only with --verbose; any other error always. */
void net_log_io_error(const char *what, int err);

/* 1 for those routine errors: a peer's reset or close, our own cancel. */
int net_routine_error(int err);

int net_startup(void);
void net_cleanup(void);

/* Parses dotted IPv4 text; 0 on success. */
int net_parse_addr(const char *text, unsigned short port, struct sockaddr_in *out);

/* Creates, binds and listens (SOMAXCONN); writes "ADDR:PORT" with the real
 * port into address. Returns INVALID_SOCKET after logging the failing call. */
SOCKET net_listen(stats *st, const char *bind_addr, unsigned short port,
                  char *address, size_t address_size);

/* Counts a socket that accept() returned, so a leak shows at exit. */
void net_accepted(stats *st);

/* closesocket() and the count; logs a failure. */
void net_close(stats *st, SOCKET s);

/* Abortive close (linger 0): for a connection that failed. */
void net_abort(stats *st, SOCKET s);

/* SPEC rule 6: one ERROR frame "server full", then a graceful close. */
void net_refuse(stats *st, SOCKET s);

int net_set_nonblocking(SOCKET s);

/* Loads a Winsock extension function (AcceptEx, GetAcceptExSockaddrs...)
 * of the provider of socket s into *fn (fn_size bytes) with WSAIoctl
 * SIO_GET_EXTENSION_FUNCTION_POINTER, as Microsoft recommends, instead of
 * linking mswsock's export. 0, or -1 after logging `what`. */
int net_extension(SOCKET s, GUID id, void *fn, size_t fn_size, const char *what);

/* Logs at debug level the peer of a connection AcceptEx took: its
 * address block (no data, addr_size bytes per address) read with
 * GetAcceptExSockaddrs, loaded by net_extension (06, 08). */
void net_log_accept_peer(LPFN_GETACCEPTEXSOCKADDRS accept_addrs, void *addrs, DWORD addr_size);

/* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is safe on a socket only when
 * every installed provider of it returns IFS handles: Microsoft's page of
 * SetFileCompletionNotificationModes says to check XP1_IFS_HANDLES in the
 * dwServiceFlags1 of each WSAPROTOCOL_INFO that WSAEnumProtocols returns.
 * net_all_ifs() decides for a list; net_tcp_providers_ifs() asks
 * WSAEnumProtocols for the TCP providers (0 when it cannot tell). */
int net_all_ifs(const WSAPROTOCOL_INFOW *info, int count);
int net_tcp_providers_ifs(void);

/* A wake-up channel for a thread that waits in select(), which cannot
 * wait for an event: Winsock has no socketpair(), so it is one UDP socket
 * bound to a loopback port. Anyone may send it a datagram, and then it is
 * readable, which ends its owner's select(). */
typedef struct net_wake {
    SOCKET sock;
    struct sockaddr_in addr;
} net_wake;

int net_wake_open(stats *st, net_wake *wk);      /* 0, or -1 logged */
void net_wake_send(const net_wake *wk);          /* never blocks */
void net_wake_drain(const net_wake *wk);         /* reads what was sent (bounded) */
void net_wake_close(stats *st, net_wake *wk);

/* The session's ready replies as WSABUFs for one WSASend (at most
 * NET_SEND_BUFS); 0 when nothing is ready. The bytes stay the session's:
 * they must not move until session_sent() (session.h). */
DWORD net_output(const session *sess, WSABUF bufs[NET_SEND_BUFS]);

/* Sends what the session has ready with WSASend on a socket without an
 * overlapped send: a blocking socket sends it all, a non-blocking one what
 * fits. NET_SENT: all sent; NET_FULL: the socket's buffer is full (its
 * WSAEWOULDBLOCK), the rest stays queued; NET_FAILED: an error, logged. */
enum net_send_result { NET_SENT, NET_FULL, NET_FAILED };
enum net_send_result net_send_ready(SOCKET s, session *sess);

/* The start of a graceful close: shutdown(SD_SEND), then the drain's
 * clock starts. -1 when shutdown failed (logged): close abortively. */
int net_drain_start(SOCKET s, net_drain *d);

/* Counts `bytes` read while draining (0 is the peer's FIN); 1 when the
 * drain is over: the FIN came, or the byte or time bound was reached. */
int net_drain_done(net_drain *d, size_t bytes);

/* 1 once the drain's time is up (for a model that checks without a read). */
int net_drain_expired(const net_drain *d, ULONGLONG now);

#endif
