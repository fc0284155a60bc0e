/* latency.c - the latency histogram. */
#include "latency.h"

#include <string.h>

void latency_init(latency_hist *h)
{
    memset(h, 0, sizeof *h);
}

/* Bucket of a value: below 64 its own; above, the power of two (e) and the
 * next five bits after the leading one (sub). */
static unsigned bucket_of(uint64_t us)
{
    unsigned e = 6;

    if (us < 64)
        return (unsigned)us;
    while (e < 63 && (us >> (e + 1)) != 0)
        e++;
    if (e - 6 >= 58)
        return LATENCY_BUCKETS - 1;
    return 64 + (e - 6) * 32 + (unsigned)((us >> (e - 5)) & 31);
}

static uint64_t bucket_top(unsigned i)
{
    unsigned e, sub;

    if (i < 64)
        return i;
    e = (i - 64) / 32 + 6;
    sub = (i - 64) % 32;
    return (((uint64_t)32 + sub) << (e - 5)) + (((uint64_t)1 << (e - 5)) - 1);
}

void latency_add(latency_hist *h, uint64_t us)
{
    h->counts[bucket_of(us)]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

uint64_t latency_percentile(const latency_hist *h, double p)
{
    uint64_t rank, seen = 0;
    unsigned i;

    if (h->n == 0)
        return 0;
    rank = (uint64_t)(p * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    for (i = 0; i < LATENCY_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            return bucket_top(i) < h->max_us ? bucket_top(i) : h->max_us;
    }
    return h->max_us;
}
