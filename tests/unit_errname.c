/* unit_errname.c - tests for common/errname.c: the names and texts of a
 * few known Winsock and Win32 error numbers, as the log lines of SPEC
 * section 2 print them, and the fallback for an unknown number. */
#include <string.h>

#include "errname.h"
#include "test.h"

static void test_known_codes(void)
{
    CHECK_STR(err_name(10048), "WSAEADDRINUSE");
    CHECK_STR(err_text(10048), "address already in use");
    CHECK_STR(err_name(10054), "WSAECONNRESET");
    CHECK_STR(err_text(10054), "connection reset by peer");
    CHECK_STR(err_name(997), "WSA_IO_PENDING");
    CHECK(strlen(err_text(997)) > 0);
    CHECK_STR(err_name(10035), "WSAEWOULDBLOCK");
    CHECK_STR(err_name(10061), "WSAECONNREFUSED");
    CHECK_STR(err_name(995), "WSA_OPERATION_ABORTED");
}

static void test_unknown_codes(void)
{
    CHECK_STR(err_name(12345), "error");
    CHECK_STR(err_text(12345), "");
    CHECK_STR(err_name(0), "error");
    CHECK_STR(err_name(-1), "error");
    CHECK_STR(err_text(-1), "");
}

int main(void)
{
    test_known_codes();
    test_unknown_codes();
    return test_summary();
}
