/* main.c - the suite's client (SPEC section 3): parses the command line,
 * starts the --server if asked, runs the command, then stops the server
 * and fails unless it exited 0. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "opts.h"
#include "plat.h"
#include "spawn.h"

static int run_command(const client_ctx *cx)
{
    switch (cx->opts->cmd) {
    case CMD_SEND: return cmd_send(cx);
    case CMD_STATS: return cmd_stats(cx);
    case CMD_LOAD: return cmd_load(cx);
    case CMD_CHECK: return cmd_check(cx);
    case CMD_IDLE: return cmd_idle(cx);
    case CMD_COMPARE: return cmd_compare(cx);
    case CMD_STRESS: return cmd_stress(cx);
    case CMD_FLOOD: return cmd_flood(cx);
    default: return 2;
    }
}

/* For check, and for load --abort-every (whose point is that every close
 * is counted), the server's final statistics must show every connection
 * closed; the stop check judges them when it runs, this covers --only. */
static int judge_final_stats(spawn_run *srv)
{
    stats_text st;
    const char *cur;
    errmsg e;

    if (spawn_final_stats(srv, &st, &e) != 0) {
        fprintf(stderr, "client: server's final statistics: %s\n", e.text);
        return 1;
    }
    cur = stats_text_get(&st, "connections_current");
    if (cur == NULL || strcmp(cur, "0") != 0) {
        fprintf(stderr, "client: server's final statistics show connections_current=%s, expected 0\n",
                cur != NULL ? cur : "(missing)");
        return 1;
    }
    return 0;
}

/* Stops the server, shows its final output on stderr and folds the
 * outcome into the exit status. */
static int finish_server(const client_opts *o, spawn_run *srv, int status)
{
    errmsg e;

    if (spawn_stop(srv, &e) != 0) {
        fprintf(stderr, "client: --server: %s\n", e.text);
        status = 1;
    } else if ((o->cmd == CMD_CHECK || (o->cmd == CMD_LOAD && o->abort_every > 0))
               && !srv->kill_at_stop && !srv->final_judged && judge_final_stats(srv) != 0)
        status = 1;
    spawn_print_output(srv, stderr);
    spawn_free(srv);
    return status;
}

/* What the command adds to the --server command line. check's max_clients
 * check needs a limit it can reach quickly. idle must not be refused by a
 * server's default limit (blocking's is 1000): its STATS connection is held
 * with the CONNS, so CONNS + 1, unless the user chose a limit (the server
 * takes the last --max-clients, which would be ours). stress with --conns
 * likewise, CONNS + 2: its own STATS may come while the server still
 * counts the CONNS and the STATS connection of idle (the hold scenario). */
static const char *server_extra_args(const client_opts *o, char *buf, size_t cap)
{
    if (o->cmd == CMD_CHECK)
        return "--max-clients 200";
    if ((o->cmd == CMD_IDLE || (o->cmd == CMD_STRESS && o->conns_given))
        && strstr(o->server, "--max-clients") == NULL) {
        snprintf(buf, cap, "--max-clients %u", o->conns + (o->cmd == CMD_STRESS ? 2 : 1));
        return buf;
    }
    return "";
}

static int run_with_server(client_ctx *cx)
{
    const client_opts *o = cx->opts;
    spawn_run srv;
    char extra[64];
    char why[256];
    errmsg e;
    int status;

    if (spawn_start(&srv, o->server, server_extra_args(o, extra, sizeof extra), &e) != 0) {
        fprintf(stderr, "client: --server: %s\n", e.text);
        return 1;
    }
    if (plat_resolve(o->host, srv.port, &cx->addr, why, sizeof why) != 0) {
        fprintf(stderr, "client: %s\n", why);
        spawn_free(&srv);
        return 1;
    }
    srv.kill_at_stop = o->server_kill;
    cx->server = &srv;
    status = finish_server(o, &srv, run_command(cx));
    cx->server = NULL;   /* srv ends here; cx belongs to the caller */
    return status;
}

static int run(const client_opts *o)
{
    client_ctx cx;
    char why[256];

    memset(&cx, 0, sizeof cx);
    cx.opts = o;
    if (o->server != NULL)
        return run_with_server(&cx);
    if (plat_resolve(o->host, o->port, &cx.addr, why, sizeof why) != 0) {
        fprintf(stderr, "client: %s\n", why);
        return 1;
    }
    return run_command(&cx);
}

int main(int argc, char **argv)
{
    client_opts o;
    errmsg e;
    int err = 0;
    int status;

    plat_stdout_binary();
    if (opts_parse(argc, argv, &o, &e) != 0) {
        fprintf(stderr, "client: %s\n\n", e.text);
        opts_usage(stderr);
        return 2;
    }
    if (o.help) {
        opts_usage(stdout);
        return 0;
    }
    if (plat_net_start(&err) != 0) {
        char msg[256];

        plat_err_format(msg, sizeof msg, "WSAStartup", NULL, err);
        fprintf(stderr, "client: %s\n", msg);
        return 1;
    }
    status = run(&o);
    plat_net_stop();
    return status;
}
