/* idle_probe.c - idle --probe N: while the idle connections are held, N
 * ECHO round trips of 64 bytes, one after the other, on the STATS
 * connection; what one busy connection pays beside the idle ones. */
#include <stdio.h>
#include <string.h>

#include "idle.h"
#include "latency.h"
#include "xchg.h"

int idle_probe(conn *sc, const client_opts *o, idle_result *res, errmsg *e)
{
    latency_hist hist;   /* about 15 KiB */
    unsigned char payload[IDLE_PAYLOAD];
    uint64_t start = plat_now_us();
    unsigned long i;

    latency_init(&hist);
    memset(payload, 'p', sizeof payload);
    for (i = 0; i < o->probe; i++) {
        uint64_t t0 = plat_now_us();

        xchg_put_be32(payload, (uint32_t)i);
        if (xchg_echo(sc, payload, sizeof payload, plat_now_ms() + o->timeout_ms, e) != 0) {
            errmsg_prefix(e, "probe round trip %lu", i + 1);
            return -1;
        }
        latency_add(&hist, plat_now_us() - t0);
    }
    res->probe_done = o->probe;
    res->probe_seconds = (double)(plat_now_us() - start) / 1e6;
    res->probe_p50_ms = (double)latency_percentile(&hist, 0.5) / 1000.0;
    res->probe_max_ms = (double)hist.max_us / 1000.0;
    return 0;
}
