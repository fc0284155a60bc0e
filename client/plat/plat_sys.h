/* plat_sys.h - private to the platform layer (plat_*.c): the system socket
 * headers and the few names that differ between Winsock and BSD sockets, so
 * that plat_sock.c holds the socket code both share once.
 *
 * Winsock's calls fail with SOCKET_ERROR and report through
 * WSAGetLastError; POSIX's fail with -1 and report through errno. Winsock
 * takes int lengths and char pointers for options, POSIX socklen_t and
 * void pointers (which accept the char pointers too).
 */
#ifndef PLAT_SYS_H
#define PLAT_SYS_H

#ifdef _WIN32
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601   /* WSAPoll and inet_ntop need Vista or later */
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

typedef SOCKET sys_sock;
typedef int sys_socklen;
typedef WSAPOLLFD sys_pollfd;
#define SYS_SOCK_FAILED SOCKET_ERROR
#define SYS_SHUT_SEND SD_SEND
#define sys_sock_error() WSAGetLastError()
#define sys_sock_close(s) closesocket(s)
/* A non-blocking connect that goes on in the background. */
#define SYS_CONNECT_PENDING(e) ((e) == WSAEWOULDBLOCK)
#else
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

typedef int sys_sock;
typedef socklen_t sys_socklen;
typedef struct pollfd sys_pollfd;
#define SYS_SOCK_FAILED (-1)
#define SYS_SHUT_SEND SHUT_WR
#define sys_sock_error() errno
#define sys_sock_close(s) close(s)
/* EINTR too: the connect goes on in the background, as EINPROGRESS. */
#define SYS_CONNECT_PENDING(e) ((e) == EINPROGRESS || (e) == EINTR)
#endif

#include "plat.h"

/* The array plat_pollset_set/_wait/_revents fill and read per platform. */
struct plat_pollset {
    sys_pollfd *fds;
    size_t cap;
};

/* Writes "getaddrinfo HOST: ..." for getaddrinfo's failure rc into why:
 * its codes are EAI_ values with their own text on POSIX, ordinary
 * Winsock errors on Windows. In plat_win.c and plat_posix.c. */
void plat_sys_gai_error(char *why, size_t why_cap, const char *host, int rc);

#endif
