/* errname.c - the table behind errname.h. */
#include "errname.h"

#include <stddef.h>

typedef struct err_entry {
    int code;
    const char *name;
    const char *text;
} err_entry;

static const err_entry err_table[] = {
    { 6, "WSA_INVALID_HANDLE", "invalid handle" },
    { 8, "WSA_NOT_ENOUGH_MEMORY", "not enough memory" },
    { 59, "ERROR_UNEXP_NET_ERR", "unexpected network error (a peer gone before its accept)" },
    { 64, "ERROR_NETNAME_DELETED", "the peer reset the connection" },
    { 87, "WSA_INVALID_PARAMETER", "invalid parameter" },
    { 258, "WAIT_TIMEOUT", "timed out" },
    { 676, "ERROR_HANDLES_CLOSED", "the socket was closed with I/O pending" },
    { 995, "WSA_OPERATION_ABORTED", "operation aborted" },
    { 996, "WSA_IO_INCOMPLETE", "overlapped operation not complete" },
    { 997, "WSA_IO_PENDING", "overlapped operation will complete later" },
    { 1225, "ERROR_CONNECTION_REFUSED", "connection refused" },
    { 1236, "ERROR_CONNECTION_ABORTED", "connection aborted locally" },
    { 10004, "WSAEINTR", "interrupted call" },
    { 10009, "WSAEBADF", "bad file handle" },
    { 10013, "WSAEACCES", "permission denied" },
    { 10014, "WSAEFAULT", "bad address" },
    { 10022, "WSAEINVAL", "invalid argument" },
    { 10024, "WSAEMFILE", "too many open sockets" },
    { 10035, "WSAEWOULDBLOCK", "operation would block" },
    { 10036, "WSAEINPROGRESS", "operation in progress" },
    { 10037, "WSAEALREADY", "operation already in progress" },
    { 10038, "WSAENOTSOCK", "not a socket" },
    { 10039, "WSAEDESTADDRREQ", "destination address required" },
    { 10040, "WSAEMSGSIZE", "message too long" },
    { 10041, "WSAEPROTOTYPE", "wrong protocol type" },
    { 10042, "WSAENOPROTOOPT", "bad protocol option" },
    { 10043, "WSAEPROTONOSUPPORT", "protocol not supported" },
    { 10044, "WSAESOCKTNOSUPPORT", "socket type not supported" },
    { 10045, "WSAEOPNOTSUPP", "operation not supported" },
    { 10046, "WSAEPFNOSUPPORT", "protocol family not supported" },
    { 10047, "WSAEAFNOSUPPORT", "address family not supported" },
    { 10048, "WSAEADDRINUSE", "address already in use" },
    { 10049, "WSAEADDRNOTAVAIL", "address not available" },
    { 10050, "WSAENETDOWN", "network is down" },
    { 10051, "WSAENETUNREACH", "network unreachable" },
    { 10052, "WSAENETRESET", "network reset the connection" },
    { 10053, "WSAECONNABORTED", "connection aborted" },
    { 10054, "WSAECONNRESET", "connection reset by peer" },
    { 10055, "WSAENOBUFS", "no buffer space available" },
    { 10056, "WSAEISCONN", "already connected" },
    { 10057, "WSAENOTCONN", "not connected" },
    { 10058, "WSAESHUTDOWN", "socket was shut down" },
    { 10060, "WSAETIMEDOUT", "connection timed out" },
    { 10061, "WSAECONNREFUSED", "connection refused" },
    { 10064, "WSAEHOSTDOWN", "host is down" },
    { 10065, "WSAEHOSTUNREACH", "host unreachable" },
    { 10067, "WSAEPROCLIM", "too many processes" },
    { 10091, "WSASYSNOTREADY", "network subsystem not ready" },
    { 10092, "WSAVERNOTSUPPORTED", "Winsock version not supported" },
    { 10093, "WSANOTINITIALISED", "WSAStartup not called" },
    { 10101, "WSAEDISCON", "graceful shutdown in progress" },
    { 11001, "WSAHOST_NOT_FOUND", "host not found" }
};

static const err_entry *err_find(int code)
{
    size_t i;

    for (i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == code)
            return &err_table[i];
    return NULL;
}

const char *err_name(int code)
{
    const err_entry *e = err_find(code);
    return e != NULL ? e->name : "error";
}

const char *err_text(int code)
{
    const err_entry *e = err_find(code);
    return e != NULL ? e->text : "";
}
