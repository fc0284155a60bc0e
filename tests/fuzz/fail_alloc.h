/* fail_alloc.h - forced into session.c in the fuzz build (-include), so
 * that its malloc calls go through fuzz_malloc (fuzz_session.c), which
 * fails the one call the fuzzer picks: the out-of-memory paths of the
 * session are fuzzed too. <stdlib.h> comes first, so that its own
 * declaration of malloc is not renamed. */
#ifndef FAIL_ALLOC_H
#define FAIL_ALLOC_H

#include <stdlib.h>

void *fuzz_malloc(size_t size);

#define malloc(size) fuzz_malloc(size)

#endif
