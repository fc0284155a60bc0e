/* cmd_check.c - the check command: runs the battery in order, prints one
 * line per check and the totals (SPEC section 3). The checks are in
 * check_*.c, the helpers they share in check.c. */
#include <stdio.h>
#include <string.h>

#include "check.h"

struct check_def {
    const char *name;
    check_fn fn;
};

/* In SPEC order; stop is last because it ends the server (stop_busy starts
 * and stops a server of its own). */
static const struct check_def checks[] = {
    { "stats", check_stats },
    { "echo_sizes", check_echo_sizes },
    { "split", check_split },
    { "coalesced", check_coalesced },
    { "protocol_errors", check_protocol_errors },
    { "half_close", check_half_close },
    { "partial_fin", check_partial_fin },
    { "reset_mid_frame", check_reset_mid_frame },
    { "crosstalk", check_crosstalk },
    { "simultaneous", check_simultaneous },
    { "churn", check_churn },
    { "backpressure", check_backpressure },
    { "max_clients", check_max_clients },
    { "stop_busy", check_stop_busy },
    { "stop", check_stop }
};

#define CHECK_COUNT (sizeof checks / sizeof checks[0])

/* 1 when name is in the comma-separated list (or there is no list). */
static int selected(const char *only, const char *name)
{
    size_t len = strlen(name);
    const char *p = only;

    if (only == NULL)
        return 1;
    while ((p = strstr(p, name)) != NULL) {
        if ((p == only || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
            return 1;
        p += len;
    }
    return 0;
}

/* Every name in --only must be a check. */
static int only_is_valid(const char *only)
{
    const char *p = only;

    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, ",");
        size_t i;
        int found = 0;

        for (i = 0; i < CHECK_COUNT; i++)
            found |= strlen(checks[i].name) == len && strncmp(checks[i].name, p, len) == 0;
        if (!found) {
            fprintf(stderr, "client: --only: no check is called \"%.*s\"\n", (int)len, p);
            return 0;
        }
        p += len + (p[len] == ',');
    }
    return 1;
}

int cmd_check(const client_ctx *cx)
{
    unsigned counts[3] = { 0, 0, 0 };
    check_ctx k;
    size_t i;

    if (!only_is_valid(cx->opts->only))
        return 2;
    memset(&k, 0, sizeof k);
    k.addr = &cx->addr;
    k.timeout_ms = cx->opts->timeout_ms;
    k.server = cx->server;
    k.server_cmd = cx->opts->server;
    k.host = cx->opts->host;
    for (i = 0; i < CHECK_COUNT; i++) {
        check_result r;

        if (!selected(cx->opts->only, checks[i].name))
            continue;
        errmsg_clear(&k.why);
        r = checks[i].fn(&k);
        counts[r]++;
        if (r == CHECK_PASS)
            printf("PASS %s\n", checks[i].name);
        else
            printf("%s %s: %s\n", r == CHECK_FAIL ? "FAIL" : "SKIP", checks[i].name, k.why.text);
        fflush(stdout);
    }
    printf("%u passed, %u failed", counts[CHECK_PASS], counts[CHECK_FAIL]);
    if (counts[CHECK_SKIP] > 0)
        printf(", %u skipped", counts[CHECK_SKIP]);
    printf("\n");
    return counts[CHECK_FAIL] == 0 ? 0 : 1;
}
