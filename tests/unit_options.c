/* unit_options.c - tests for common/options.c, the server command line of
 * SPEC section 2: the defaults, every option, --help/-h/--version
 * (OPTIONS_EXIT_OK), and bad command lines (OPTIONS_USAGE): ports out of
 * range or not numbers, --max-clients 0, --threads 0, a missing value, an
 * unknown option, a stray argument; --opt with a model's switches. The
 * usage text the parser prints goes
 * to stdout (--help) or stderr (errors). */
#include <string.h>

#include "log.h"
#include "options.h"
#include "test.h"

static const server_switch pool_switches[] = {
    { "batch", "several completions per call" },
    { "skip", "finish inline what succeeds at once" },
    { NULL, NULL }
};
static const server_model pool_model = {
    "iocp", "one completion port, a pool of worker threads", 5000, 4, "worker threads",
    pool_switches
};
static const server_model plain_model = {
    "blocking", "one thread per connection", 1000, 0, NULL, NULL
};

/* Parses the NULL-terminated argument list (argv[0] is added). */
static enum options_result parse_with(const server_model *m, const char *const *args,
                                      server_options *o)
{
    char *argv[32];
    int argc = 0;

    argv[argc++] = (char *)"test_server";
    while (args[argc - 1] != NULL && argc < 31) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    memset(o, 0x5A, sizeof *o);   /* the parser must set every field */
    return options_parse(m, argc, argv, o);
}

static enum options_result parse(const char *const *args, server_options *o)
{
    return parse_with(&pool_model, args, o);
}

static void test_defaults(void)
{
    static const char *const none[] = { NULL };
    server_options o;

    CHECK_EQ(parse(none, &o), OPTIONS_RUN);
    CHECK_STR(o.bind_addr, "127.0.0.1");
    CHECK_EQ(o.port, 5150);
    CHECK_EQ(o.max_clients, 5000);
    CHECK_EQ(o.threads, 4);
    CHECK_STR(o.stop_event, "");
    CHECK_EQ(o.max_seconds, 0);
    CHECK_EQ(o.log_level, LOG_NORMAL);
    CHECK_EQ(o.switches, 0u);
    CHECK_EQ(parse_with(&plain_model, none, &o), OPTIONS_RUN);
    CHECK_EQ(o.max_clients, 1000);
    CHECK_EQ(o.threads, 0);
}

static void test_every_option(void)
{
    static const char *const args[] = {
        "--bind", "0.0.0.0", "--port", "0", "--max-clients", "7", "--threads", "16",
        "--stop-event", "wsm_stop_42", "--max-seconds", "30", "--verbose", NULL
    };
    server_options o;

    CHECK_EQ(parse(args, &o), OPTIONS_RUN);
    CHECK_STR(o.bind_addr, "0.0.0.0");
    CHECK_EQ(o.port, 0);
    CHECK_EQ(o.max_clients, 7);
    CHECK_EQ(o.threads, 16);
    CHECK_STR(o.stop_event, "wsm_stop_42");
    CHECK_EQ(o.max_seconds, 30);
    CHECK_EQ(o.log_level, LOG_VERBOSE);
}

static void test_log_levels_and_limits(void)
{
    static const char *const quiet[] = { "--quiet", NULL };
    static const char *const last_wins[] = { "--quiet", "--verbose", "--quiet", NULL };
    static const char *const high[] = { "--port", "65535", "--max-clients", "1",
                                        "--threads", "1", NULL };
    static const char *const unused_threads[] = { "--threads", "3", NULL };
    server_options o;

    CHECK_EQ(parse(quiet, &o), OPTIONS_RUN);
    CHECK_EQ(o.log_level, LOG_QUIET);
    CHECK_EQ(parse(last_wins, &o), OPTIONS_RUN);
    CHECK_EQ(o.log_level, LOG_QUIET);
    CHECK_EQ(parse(high, &o), OPTIONS_RUN);
    CHECK_EQ(o.port, 65535);
    CHECK_EQ(o.max_clients, 1);
    CHECK_EQ(o.threads, 1);
    /* a model without a pool still accepts --threads (SPEC section 2) */
    CHECK_EQ(parse_with(&plain_model, unused_threads, &o), OPTIONS_RUN);
}

static void test_help_version(void)
{
    static const char *const help[] = { "--help", NULL };
    static const char *const h[] = { "-h", NULL };
    static const char *const version[] = { "--version", NULL };
    static const char *const late_help[] = { "--port", "1", "--help", NULL };
    server_options o;

    CHECK_EQ(parse(help, &o), OPTIONS_EXIT_OK);
    CHECK_EQ(parse_with(&plain_model, help, &o), OPTIONS_EXIT_OK);
    CHECK_EQ(parse(h, &o), OPTIONS_EXIT_OK);
    CHECK_EQ(parse(version, &o), OPTIONS_EXIT_OK);
    CHECK_EQ(parse(late_help, &o), OPTIONS_EXIT_OK);
    fflush(stdout);
}

static void expect_usage(const char *a, const char *b, const char *c)
{
    const char *args[4];
    server_options o;

    args[0] = a;
    args[1] = b;
    args[2] = c;
    args[3] = NULL;
    if (CHECK_EQ(parse(args, &o), OPTIONS_USAGE) == 0)
        printf("  (args: %s %s %s)\n", a, b != NULL ? b : "", c != NULL ? c : "");
}

static void test_bad_values(void)
{
    expect_usage("--port", "65536", NULL);
    expect_usage("--port", "-1", NULL);
    expect_usage("--port", "abc", NULL);
    expect_usage("--port", "", NULL);
    expect_usage("--port", "80x", NULL);
    expect_usage("--port", "99999999999999999999", NULL);
    expect_usage("--max-clients", "0", NULL);
    expect_usage("--max-clients", "-5", NULL);
    expect_usage("--threads", "0", NULL);
    expect_usage("--threads", "many", NULL);
    expect_usage("--max-seconds", "-1", NULL);
    expect_usage("--bind", "", NULL);
}

static void test_bad_lines(void)
{
    static const char long_name[] =
        "an_event_name_much_longer_than_the_buffer_of_one_hundred_and_twenty_eight_"
        "characters_that_the_options_structure_holds_for_it_xxxxxxxxxxxxxxxxxx";

    CHECK(sizeof long_name > sizeof(((server_options *)0)->stop_event));
    expect_usage("--port", NULL, NULL);                 /* missing value */
    expect_usage("--quiet", "--bind", NULL);
    expect_usage("--stop-event", NULL, NULL);
    expect_usage("--frobnicate", NULL, NULL);           /* unknown option */
    expect_usage("--port", "5150", "--prot");
    expect_usage("stray", NULL, NULL);                  /* stray argument */
    expect_usage("--port", "5150", "extra");
    expect_usage("--stop-event", long_name, NULL);
}

/* --opt NAME sets the bit of the model's switch of that name; a name the
 * model does not list, or a model with no switches, is a usage error. */
static void test_switches(void)
{
    static const char *const skip[] = { "--opt", "skip", NULL };
    static const char *const both[] = { "--opt", "batch", "--opt", "skip", NULL };
    static const char *const bogus[] = { "--opt", "fast", NULL };
    static const char *const missing[] = { "--opt", NULL };
    server_options o;

    CHECK_EQ(parse(skip, &o), OPTIONS_RUN);
    CHECK_EQ(o.switches, 2u);
    CHECK_EQ(parse(both, &o), OPTIONS_RUN);
    CHECK_EQ(o.switches, 3u);
    CHECK_EQ(parse(bogus, &o), OPTIONS_USAGE);
    CHECK_EQ(parse(missing, &o), OPTIONS_USAGE);
    CHECK_EQ(parse_with(&plain_model, skip, &o), OPTIONS_USAGE);
}

int main(void)
{
    test_defaults();
    test_every_option();
    test_log_levels_and_limits();
    test_help_version();
    test_bad_values();
    test_bad_lines();
    test_switches();
    return test_summary();
}
