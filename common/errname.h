/* errname.h - Winsock and Win32 error numbers as names and short texts,
 * so every failing call can be logged as
 * `bind 127.0.0.1:5150: WSAEADDRINUSE (10048) address already in use`.
 * Portable C: a table of numbers, no Win32 calls. */
#ifndef ERRNAME_H
#define ERRNAME_H

const char *err_name(int code);   /* "WSAEADDRINUSE", or "error" when unknown */
const char *err_text(int code);   /* "address already in use", or "" */

#endif
