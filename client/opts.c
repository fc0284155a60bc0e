/* opts.c - parses the client's command line. Options may come before or
 * after the command, as `--name value` or `--name=value`. */
#include "opts.h"

#include <stdlib.h>
#include <string.h>

void opts_usage(FILE *f)
{
    fputs("usage: client COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  send [TEXT...]   send each TEXT (or each line of stdin) as an ECHO frame,\n"
          "                   print each reply and check it matches\n"
          "  stats            print the server's STATS reply\n"
          "  load             many connections echoing checked frames; ends with one\n"
          "                   line of key=value figures; exit 1 on any error\n"
          "  check            the conformance battery; ends with \"N passed, N failed\"\n"
          "  idle             what holding --conns idle connections costs the server:\n"
          "                   STATS before and while they are held; one line of\n"
          "                   key=value figures; exit 1 unless all were held and echoed\n"
          "  compare          start each server of --bin in turn and run every scenario\n"
          "                   against it; a Markdown table on stdout, CSV and SVG in --out\n"
          "  stress           one fault or load scenario (--scenario); ends with one line\n"
          "                   scenario= result=PASS|FAIL ...; exit 1 on FAIL\n"
          "  flood            one connection sends ECHO frames without reading any reply,\n"
          "                   a line of the server's STATS each second, then reads and\n"
          "                   checks every reply; exit 1 unless all came back in order\n"
          "\n"
          "common options:\n"
          "  --host ADDR        server address (default 127.0.0.1)\n"
          "  --port N           server port (default 5150)\n"
          "  --timeout SECONDS  deadline of each operation (default 10)\n"
          "  --server \"PROGRAM ARGS\"\n"
          "                     start this server with --port 0 --stop-event NAME added\n"
          "                     (on Linux: --port 0 only; stopped by SIGINT, e.g.\n"
          "                     --server \"/usr/lib/wine/wine64 iocp_server.exe\")\n"
          "                     (check also adds --max-clients 200, idle --max-clients\n"
          "                     CONNS+1 unless ARGS give one), use it, stop it and\n"
          "                     fail unless it exits 0\n"
          "  --server-stop event|kill\n"
          "                     kill: stop the --server by terminating it, for a\n"
          "                     server without stop machinery (a model's minimal.c);\n"
          "                     its exit code and final statistics are not judged\n"
          "  --help             print this and exit 0\n"
          "\n"
          "load options:\n"
          "  --conns N          connections, all open at once (default 10)\n"
          "  --msgs N           frames per connection (default 100)\n"
          "  --duration SECONDS send for this long instead of --msgs\n"
          "  --size BYTES       payload size, 8 to 65536 (default 64)\n"
          "  --sizes B1,B2,...  instead of --size: up to 32 payload sizes, each 8 to\n"
          "                     65536; each connection takes the next one for every\n"
          "                     frame, starting at its own place in the list, so long\n"
          "                     and short payloads interleave across connections\n"
          "  --pipeline DEPTH   frames outstanding per connection, 1 to 4096 (default 1)\n"
          "  --abort-every N    keep every connection open until all are done, then close\n"
          "                     them all at once, every Nth (ids N-1, 2N-1, ...) by a\n"
          "                     reset (SO_LINGER 0); with --server, fail unless the\n"
          "                     server's connections_current comes back down within 5 s\n"
          "                     and its final statistics show connections_current=0\n"
          "  the last line:     conns= connected= frames= bytes= errors= crosstalk= seconds=\n"
          "                     fps= mib_s= p50_ms= p99_ms= max_ms= (frames and bytes are\n"
          "                     checked replies, headers included; errors include crosstalk)\n"
          "\n"
          , f);
    fputs("idle options:\n"
          "  --conns N          connections to hold, 1 to 20000 (required); each echoes a\n"
          "                     64-byte frame of its own once connected, stays idle,\n"
          "                     then echoes one more; at most 128 are being opened at\n"
          "                     once (until their first reply: the server holds them)\n"
          "  --seconds S        how long they stay idle before the second STATS (default 2)\n"
          "  --probe N          while they are held, N ECHO round trips of 64 bytes, one at\n"
          "                     a time, on the STATS connection: what one busy connection\n"
          "                     pays beside the idle ones; adds probe= probe_p50_ms=\n"
          "                     probe_max_ms= probe_fps= to the last line\n"
          "  the last line:     conns= held= echoed= errors= threads= threads_base=\n"
          "                     working_set_bytes= private_bytes= ws_per_conn_bytes=\n"
          "                     private_per_conn_bytes= handles= open_sockets= open_threads=\n"
          "                     open_handles= open_blocks= connect_seconds= (server figures\n"
          "                     while all are held; per_conn: the rise over the baseline\n"
          "                     STATS divided by held; \"-\" where the server gave none;\n"
          "                     connect_seconds: until all were held and echoed once)\n"
          "\n"
          , f);
    /* Several literals: ISO C promises only 4095 characters in one. */
    fputs("compare options:\n"
          "  --bin DIR          where the *_server.exe (or *_server) files are (required)\n"
          "  --launcher \"CMD\"   prefix of each server's command line, e.g.\n"
          "                     /usr/lib/wine/wine64 (default: none)\n"
          "  --servers LIST     models, comma-separated (default: all found in DIR of\n"
          "                     blocking,select,eventselect,overlapped_event,\n"
          "                     completion_routine,iocp,asyncselect,threadpool)\n"
          "  --scenarios LIST   pingpong1,pingpong100,pingpong1000,pipeline,idle,burst\n"
          "                     (default: all)\n"
          "  --quick            2 s per throughput scenario instead of 3, idle up to 5000\n"
          "  --out DIR          where compare.csv and the SVG charts go (default results)\n"
          "  --repeat N         runs per server and scenario, servers interleaved round\n"
          "                     by round; figures are medians (min-max) (default 3,\n"
          "                     1 with --quick; at most 20)\n"
          "\n"
          "check options:\n"
          "  --only NAME[,NAME] run only these checks (stats, echo_sizes, split,\n"
          "                     coalesced, protocol_errors, half_close, partial_fin,\n"
          "                     reset_mid_frame, crosstalk, simultaneous, churn,\n"
          "                     backpressure, max_clients, stop_busy, stop)\n"
          "\n"
          , f);
    fputs("flood options:\n"
          "  --msgs N           frames to send (default 1000)\n"
          "  --size BYTES       payload of each, 8 to 65536 (default 16384)\n"
          "  --seconds S        how long it sends without reading (default 2); one line\n"
          "                     each second: t= sent_bytes= (what send() took) and the\n"
          "                     server's bytes_in= frames_in= frames_out= bytes_out=\n"
          "                     private_bytes=, read on a second connection\n"
          "  the last line:     frames= frame_bytes= sent_before_reading= pushed_back=yes|no\n"
          "                     (yes: send() took nothing in the last second) replies=\n"
          "                     errors=\n"
          "\n"
          , f);
    fputs("stress options (docs/reliability.md):\n"
          "  --scenario NAME    hold: --conns (10000) connections open at once, each\n"
          "                       echoing before and after 2 s idle, then all closed\n"
          "                     churn: --conns (1000) connect/echo/close cycles per round\n"
          "                     resets: --conns (1000) connections per round, reset at\n"
          "                       once with input half parsed and replies unread\n"
          "                     kill: --conns (200) connections per round in 4 child\n"
          "                       processes killed while each has half a frame sent\n"
          "                     garbage: --conns (100) connections per round sending\n"
          "                       valid frames and then bytes that break the protocol\n"
          "                     slow: one connection that never reads beside --conns (50)\n"
          "                       fast clients, each phase --duration (3) seconds\n"
          "                     stop: --conns (1000) busy connections when the --server\n"
          "                       is stopped after --duration (2) seconds\n"
          "  --rounds N         measured rounds after a warm-up round (hold 2, churn 10,\n"
          "                     resets, kill and garbage 5); every figure must then be\n"
          "                     back to the baseline taken after the warm-up\n"
          "  (with --server and --conns, stress adds --max-clients CONNS+2: the CONNS\n"
          "  and the STATS connections, as idle does)\n"
          "\n"
          "exit status: 0 success, 1 failure, 2 usage error\n", f);
}

/* Parses a decimal number with an optional fraction, in [lo, hi]; the
 * result is scaled by `scale` (1000 for seconds given as milliseconds). */
static int parse_number(const char *name, const char *text, double lo, double hi,
                        double scale, unsigned long *out, errmsg *e)
{
    char *end = NULL;
    double v;

    if (text == NULL)
        return errmsg_set(e, "%s needs a value", name);
    v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= lo && v <= hi))
        return errmsg_set(e, "%s: \"%s\" is not a number from %g to %g", name, text, lo, hi);
    if (scale == 1 && v != (double)(unsigned long)v)
        return errmsg_set(e, "%s: \"%s\" is not a whole number", name, text);
    *out = (unsigned long)(v * scale + 0.5);
    return 0;
}

static void opts_defaults(client_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 5150;
    o->timeout_ms = 10000;
    o->conns = 10;
    o->msgs = 100;
    o->size = 64;
    o->pipeline = 1;
    o->idle_ms = 2000;
    o->launcher = "";
    o->out_dir = "results";
}

static client_cmd command_of(const char *word)
{
    if (strcmp(word, "send") == 0)
        return CMD_SEND;
    if (strcmp(word, "stats") == 0)
        return CMD_STATS;
    if (strcmp(word, "load") == 0)
        return CMD_LOAD;
    if (strcmp(word, "check") == 0)
        return CMD_CHECK;
    if (strcmp(word, "idle") == 0)
        return CMD_IDLE;
    if (strcmp(word, "compare") == 0)
        return CMD_COMPARE;
    if (strcmp(word, "stress") == 0)
        return CMD_STRESS;
    if (strcmp(word, "flood") == 0)
        return CMD_FLOOD;
    return CMD_NONE;
}

/* Options that take a value: name, the commands it belongs to (a mask of
 * CMD_BIT()s, 0: every command) and how a usage error names them. */
#define CMD_BIT(c) (1u << (c))

struct opt_def {
    const char *name;
    unsigned cmds;
    const char *cmds_text;
};

static const struct opt_def opt_defs[] = {
    { "--host", 0, "" }, { "--port", 0, "" }, { "--timeout", 0, "" }, { "--server", 0, "" },
    { "--server-stop", 0, "" },
    { "--conns", CMD_BIT(CMD_LOAD) | CMD_BIT(CMD_IDLE) | CMD_BIT(CMD_STRESS),
      "load, idle and stress" },
    { "--msgs", CMD_BIT(CMD_LOAD) | CMD_BIT(CMD_FLOOD), "load and flood" },
    { "--duration", CMD_BIT(CMD_LOAD) | CMD_BIT(CMD_STRESS), "load and stress" },
    { "--size", CMD_BIT(CMD_LOAD) | CMD_BIT(CMD_FLOOD), "load and flood" },
    { "--sizes", CMD_BIT(CMD_LOAD), "load" },
    { "--pipeline", CMD_BIT(CMD_LOAD), "load" }, { "--abort-every", CMD_BIT(CMD_LOAD), "load" },
    { "--seconds", CMD_BIT(CMD_IDLE) | CMD_BIT(CMD_FLOOD), "idle and flood" },
    { "--probe", CMD_BIT(CMD_IDLE), "idle" },
    { "--bin", CMD_BIT(CMD_COMPARE), "compare" }, { "--launcher", CMD_BIT(CMD_COMPARE), "compare" },
    { "--servers", CMD_BIT(CMD_COMPARE), "compare" },
    { "--scenarios", CMD_BIT(CMD_COMPARE), "compare" },
    { "--out", CMD_BIT(CMD_COMPARE), "compare" }, { "--quick", CMD_BIT(CMD_COMPARE), "compare" }, { "--only", CMD_BIT(CMD_CHECK), "check" },
    { "--repeat", CMD_BIT(CMD_COMPARE), "compare" },
    { "--scenario", CMD_BIT(CMD_STRESS), "stress" }, { "--rounds", CMD_BIT(CMD_STRESS), "stress" }
};

#define OPT_COUNT (sizeof opt_defs / sizeof opt_defs[0])

static const struct opt_def *find_opt(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < OPT_COUNT; i++)
        if (strlen(opt_defs[i].name) == len && strncmp(opt_defs[i].name, name, len) == 0)
            return &opt_defs[i];
    return NULL;
}

/* --sizes: comma-separated sizes, each with --size's range (a payload
 * carries the connection id and the sequence number, 8 bytes). */
static int parse_sizes(client_opts *o, const char *name, const char *v, errmsg *e)
{
    char item[24];
    unsigned long n = 0;
    const char *p = v;

    if (v == NULL || *v == '\0')
        return errmsg_set(e, "%s needs a value", name);
    for (o->size_count = 0; o->size_count < OPTS_MAX_SIZES; o->size_count++) {
        size_t len = strcspn(p, ",");

        if (len == 0 || len >= sizeof item)
            return errmsg_set(e, "%s: \"%s\" is not a list like 65536,8,30000", name, v);
        memcpy(item, p, len);
        item[len] = '\0';
        if (parse_number(name, item, 8, 65536, 1, &n, e) != 0)
            return -1;
        o->sizes[o->size_count] = (unsigned)n;
        if (p[len] == '\0') {
            o->size_count++;
            return 0;
        }
        p += len + 1;
    }
    return errmsg_set(e, "%s: more than %d sizes", name, OPTS_MAX_SIZES);
}

/* Stores one option's value. */
static int set_opt(client_opts *o, const char *name, const char *v, errmsg *e)
{
    unsigned long n = 0;
    int rc = 0;

    if (strcmp(name, "--host") == 0)
        o->host = v;
    else if (strcmp(name, "--server") == 0)
        o->server = v;
    else if (strcmp(name, "--server-stop") == 0 && strcmp(v, "event") == 0)
        o->server_kill = 0;
    else if (strcmp(name, "--server-stop") == 0 && strcmp(v, "kill") == 0)
        o->server_kill = 1;
    else if (strcmp(name, "--server-stop") == 0)
        rc = errmsg_set(e, "--server-stop: \"%s\": expected event or kill", v);
    else if (strcmp(name, "--only") == 0)
        o->only = v;
    else if (strcmp(name, "--bin") == 0)
        o->bin_dir = v;
    else if (strcmp(name, "--launcher") == 0)
        o->launcher = v;
    else if (strcmp(name, "--servers") == 0)
        o->servers = v;
    else if (strcmp(name, "--scenarios") == 0)
        o->scenarios = v;
    else if (strcmp(name, "--out") == 0)
        o->out_dir = v;
    else if (strcmp(name, "--scenario") == 0)
        o->scenario = v;
    else if (strcmp(name, "--repeat") == 0 && (rc = parse_number(name, v, 1, OPTS_MAX_REPEAT, 1, &n, e)) == 0)
        o->repeat = (unsigned)n;
    else if (strcmp(name, "--rounds") == 0 && (rc = parse_number(name, v, 1, 1000, 1, &n, e)) == 0)
        o->rounds = (unsigned)n;
    else if (strcmp(name, "--port") == 0 && (rc = parse_number(name, v, 1, 65535, 1, &n, e)) == 0)
        o->port = (unsigned)n;
    else if (strcmp(name, "--timeout") == 0 && (rc = parse_number(name, v, 0.1, 3600, 1000, &n, e)) == 0)
        o->timeout_ms = (unsigned)n;
    else if (strcmp(name, "--conns") == 0 && (rc = parse_number(name, v, 1, 20000, 1, &n, e)) == 0)
        o->conns = (unsigned)n;
    else if (strcmp(name, "--msgs") == 0 && (rc = parse_number(name, v, 1, 1e9, 1, &n, e)) == 0)
        o->msgs = n;
    else if (strcmp(name, "--duration") == 0 && (rc = parse_number(name, v, 0.1, 86400, 1000, &n, e)) == 0)
        o->duration_ms = n;
    else if (strcmp(name, "--size") == 0 && (rc = parse_number(name, v, 8, 65536, 1, &n, e)) == 0)
        o->size = (unsigned)n;
    else if (strcmp(name, "--pipeline") == 0 && (rc = parse_number(name, v, 1, 4096, 1, &n, e)) == 0)
        o->pipeline = (unsigned)n;
    else if (strcmp(name, "--seconds") == 0 && (rc = parse_number(name, v, 0, 3600, 1000, &n, e)) == 0)
        o->idle_ms = n;
    else if (strcmp(name, "--probe") == 0 && (rc = parse_number(name, v, 1, 1e6, 1, &n, e)) == 0)
        o->probe = n;
    else if (strcmp(name, "--abort-every") == 0 && (rc = parse_number(name, v, 1, 20000, 1, &n, e)) == 0)
        o->abort_every = (unsigned)n;
    else if (strcmp(name, "--sizes") == 0)
        rc = parse_sizes(o, name, v, e);
    return rc;
}

/* What the parser noticed along the way, checked once the command is known
 * (options may come before it). */
struct parse_state {
    unsigned char seen[OPT_COUNT];   /* by index in opt_defs */
    int msgs_set;
    int conns_set;
    int size_set, sizes_set;
};

/* Handles argv[*i], an option; advances *i past its value. */
static int take_option(client_opts *o, int argc, char **argv, int *i,
                       struct parse_state *ps, errmsg *e)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const struct opt_def *def = find_opt(arg, len);
    const char *value;

    if (def == NULL)
        return errmsg_set(e, "unknown option %s", arg);
    if (strcmp(def->name, "--quick") == 0 && eq == NULL) {
        ps->seen[def - opt_defs] = 1;   /* the one option without a value */
        o->quick = 1;
        return 0;
    }
    if (eq != NULL)
        value = eq + 1;
    else if (*i + 1 < argc)
        value = argv[++*i];
    else
        return errmsg_set(e, "%s needs a value", def->name);
    ps->seen[def - opt_defs] = 1;
    if (strcmp(def->name, "--msgs") == 0)
        ps->msgs_set = 1;
    ps->conns_set |= strcmp(def->name, "--conns") == 0;
    ps->size_set |= strcmp(def->name, "--size") == 0;
    ps->sizes_set |= strcmp(def->name, "--sizes") == 0;
    return set_opt(o, def->name, value, e);
}

/* A word that is not an option: the command, or a TEXT of send. */
static int take_word(client_opts *o, char **argv, int i, errmsg *e)
{
    if (o->cmd == CMD_NONE) {
        o->cmd = command_of(argv[i]);
        if (o->cmd == CMD_NONE)
            return errmsg_set(e, "unknown command \"%s\"", argv[i]);
        return 0;
    }
    if (o->cmd != CMD_SEND)
        return errmsg_set(e, "unexpected argument \"%s\"", argv[i]);
    /* The TEXTs are gathered in place: they move towards the front of argv
     * over entries already parsed, so nothing unread is overwritten. */
    if (o->text_count == 0)
        o->texts = argv + i;
    o->texts[o->text_count++] = argv[i];
    return 0;
}

/* The stress scenarios (cmd_stress.c); kill-child is the kill scenario's
 * child process, started by the client itself. */
static int stress_scenario_known(const char *name)
{
    static const char *const names[] = {
        "hold", "churn", "resets", "kill", "garbage", "slow", "stop", "kill-child"
    };
    size_t i;

    for (i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static int check_combination(const client_opts *o, const struct parse_state *ps, errmsg *e)
{
    size_t i;

    if (o->cmd == CMD_NONE)
        return errmsg_set(e, "no command given");
    for (i = 0; i < OPT_COUNT; i++)
        if (ps->seen[i] && opt_defs[i].cmds != 0 && !(opt_defs[i].cmds & CMD_BIT(o->cmd)))
            return errmsg_set(e, "%s applies to %s only", opt_defs[i].name,
                              opt_defs[i].cmds_text);
    if (o->cmd == CMD_COMPARE && o->bin_dir == NULL)
        return errmsg_set(e, "compare needs --bin DIR");
    if (o->cmd == CMD_COMPARE && o->server != NULL)
        return errmsg_set(e, "compare starts the servers of --bin itself; --server does not apply");
    if (o->cmd == CMD_IDLE && !ps->conns_set)
        return errmsg_set(e, "idle needs --conns N");
    if (o->cmd == CMD_STRESS && !stress_scenario_known(o->scenario))
        return errmsg_set(e, "stress needs --scenario NAME: hold, churn, resets, kill, garbage, "
                          "slow or stop");
    if (ps->msgs_set && o->duration_ms > 0)
        return errmsg_set(e, "give --msgs or --duration, not both");
    if (ps->size_set && ps->sizes_set)
        return errmsg_set(e, "give --size or --sizes, not both");
    return 0;
}

/* --help wins over anything else on the line, even a bad option. */
static int wants_help(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int opts_parse(int argc, char **argv, client_opts *o, errmsg *e)
{
    struct parse_state ps;
    int only_words = 0;
    int i;

    opts_defaults(o);
    memset(&ps, 0, sizeof ps);
    o->self = argv[0];
    if (wants_help(argc, argv)) {
        o->help = 1;
        return 0;
    }
    for (i = 1; i < argc; i++) {
        int rc;

        if (!only_words && strcmp(argv[i], "--") == 0) {
            only_words = 1;   /* the rest are TEXTs, even if they start with '-' */
            continue;
        }
        if (!only_words && argv[i][0] == '-' && argv[i][1] != '\0')
            rc = take_option(o, argc, argv, &i, &ps, e);
        else
            rc = take_word(o, argv, i, e);
        if (rc != 0)
            return -1;
    }
    o->conns_given = ps.conns_set;
    if (o->cmd == CMD_FLOOD && !ps.msgs_set)
        o->msgs = 1000;   /* flood's own defaults: 16 MB, more than socket buffers hold */
    if (o->cmd == CMD_FLOOD && !ps.size_set)
        o->size = 16384;
    if (!ps.sizes_set) {   /* the load command reads only the list */
        o->sizes[0] = o->size;
        o->size_count = 1;
    }
    return check_combination(o, &ps, e);
}
