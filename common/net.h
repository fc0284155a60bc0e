/* net.h - the Winsock chores every server repeats: start-up, the listening
 * socket, closing and refusing connections, and naming errors. */
#ifndef NET_H
#define NET_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>

#include "stats.h"

/* Logs `what: NAME (number) text`, the form SPEC section 2 asks for. */
void net_log_error(const char *what, int err);

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

#endif
