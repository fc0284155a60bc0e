/* unit_net.c - tests for the Windows-only helpers of common/net.c that
 * decide without a network: whether FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
 * is safe for a set of providers (net_all_ifs), and what the providers
 * of this system say (net_tcp_providers_ifs, under Wine: Wine's one TCP
 * provider, which returns IFS handles). */
#include <string.h>

#include "net.h"
#include "test.h"

static WSAPROTOCOL_INFOW provider(DWORD flags1)
{
    WSAPROTOCOL_INFOW p;

    memset(&p, 0, sizeof p);
    p.dwServiceFlags1 = flags1;
    p.iAddressFamily = AF_INET;
    p.iProtocol = IPPROTO_TCP;
    return p;
}

static void test_all_ifs(void)
{
    WSAPROTOCOL_INFOW list[3];

    list[0] = provider(XP1_IFS_HANDLES | XP1_GUARANTEED_DELIVERY);
    list[1] = provider(XP1_IFS_HANDLES);
    CHECK_EQ(net_all_ifs(list, 2), 1);
    /* One layered provider without IFS handles (KB2568167's case) is
     * enough to make skip-on-success unsafe for every socket. */
    list[2] = provider(XP1_GUARANTEED_DELIVERY);
    CHECK_EQ(net_all_ifs(list, 3), 0);
    CHECK_EQ(net_all_ifs(list + 2, 1), 0);
    /* No provider at all: nothing says it is safe. */
    CHECK_EQ(net_all_ifs(list, 0), 0);
}

static void test_this_system(void)
{
    CHECK_EQ(net_startup(), 0);
    CHECK_EQ(net_tcp_providers_ifs(), 1);
    net_cleanup();
}

int main(void)
{
    test_all_ifs();
    test_this_system();
    return test_summary();
}
