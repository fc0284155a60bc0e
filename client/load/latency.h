/* latency.h - a latency histogram with about 3 % resolution: exact below
 * 64 us, then 32 buckets per power of two. Fixed size, so a run of any
 * length keeps no per-frame record. */
#ifndef LATENCY_H
#define LATENCY_H

#include <stdint.h>

#define LATENCY_BUCKETS (64 + 58 * 32)

typedef struct latency_hist {
    uint64_t counts[LATENCY_BUCKETS];
    uint64_t n;
    uint64_t max_us;
} latency_hist;

void latency_init(latency_hist *h);
void latency_add(latency_hist *h, uint64_t us);
/* The value at or below which fraction p (0 to 1) of the samples lie, as
 * the top of its bucket (never above the maximum); 0 with no samples. */
uint64_t latency_percentile(const latency_hist *h, double p);

#endif
