/* server.c - the frame around each model; see server.h. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <io.h>
#include <psapi.h>
#include <tlhelp32.h>

static long count_threads(DWORD pid)
{
    THREADENTRY32 te;
    long n = 0;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);

    if (snap == INVALID_HANDLE_VALUE)
        return -1;
    te.dwSize = sizeof te;
    if (Thread32First(snap, &te)) {
        do {
            if (te.th32OwnerProcessID == pid)
                n++;
        } while (Thread32Next(snap, &te));
    }
    CloseHandle(snap);
    return n;
}

/* FILETIME counts 100 ns units. */
static uint64_t filetime_ms(const FILETIME *ft)
{
    return ((((uint64_t)ft->dwHighDateTime) << 32) | ft->dwLowDateTime) / 10000u;
}

/* The process figures of STATS (threads, handles, memory, CPU). */
static void server_process_figures(stats_process *proc)
{
    PROCESS_MEMORY_COUNTERS_EX mem;
    FILETIME created, exited, kernel, user;
    DWORD handles = 0;

    memset(proc, 0, sizeof *proc);
    proc->pid = GetCurrentProcessId();
    proc->threads = count_threads(proc->pid);
    if (GetProcessHandleCount(GetCurrentProcess(), &handles))
        proc->handles = (long)handles;
    memset(&mem, 0, sizeof mem);
    if (GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&mem, sizeof mem)) {
        proc->working_set_bytes = mem.WorkingSetSize;
        /* Both fields are the commit charge on Windows; Wine 8 leaves
         * PrivateUsage at 0 but fills PagefileUsage. */
        proc->private_bytes = mem.PrivateUsage != 0 ? mem.PrivateUsage : mem.PagefileUsage;
        proc->nonpaged_pool_bytes = mem.QuotaNonPagedPoolUsage;
    }
    if (GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) {
        proc->cpu_user_ms = filetime_ms(&user);
        proc->cpu_kernel_ms = filetime_ms(&kernel);
    }
}

/* The session_stats_fn of every server. */
static size_t server_stats_text(void *ctx, char *buf, size_t cap)
{
    server *srv = (server *)ctx;
    stats_process proc;

    server_process_figures(&proc);
    return stats_format(&srv->st, &proc, GetTickCount64(), buf, cap);
}

static void server_init(server *srv, const server_model *model)
{
    memset(srv, 0, sizeof *srv);
    srv->model = model;
    srv->listener = INVALID_SOCKET;
    stats_init(&srv->st, model->name, GetTickCount64());
    srv->env.stats = &srv->st;
    srv->env.stats_text = server_stats_text;
    srv->env.stats_ctx = srv;
    srv->env.backpressure_limit = SESSION_BACKPRESSURE_DEFAULT;
}

int server_start(server *srv, const server_model *model, int argc, char **argv)
{
    enum options_result parsed;

    server_init(srv, model);
    parsed = options_parse(model, argc, argv, &srv->opt);
    if (parsed != OPTIONS_RUN)
        return parsed == OPTIONS_EXIT_OK ? SERVER_EXIT_OK : SERVER_EXIT_USAGE;
    log_set_level((enum log_level)srv->opt.log_level);
    /* Binary mode: the final statistics end their lines in "\n" alone,
     * like a STATS reply, instead of the C runtime's "\r\n". */
    if (_setmode(_fileno(stdout), _O_BINARY) == -1)
        log_error("_setmode stdout: failed");
    srv->st.max_clients = srv->opt.max_clients;
    if (net_startup() != 0)
        return SERVER_EXIT_FAILURE;
    if (stop_start(&srv->stop, &srv->opt, &srv->st) != 0) {
        stop_finish(&srv->stop);
        net_cleanup();
        return SERVER_EXIT_FAILURE;
    }
    /* [step 2] create the listening socket: socket, bind, listen */
    srv->listener = net_listen(&srv->st, srv->opt.bind_addr, srv->opt.port,
                               srv->address, sizeof srv->address);
    if (srv->listener == INVALID_SOCKET) {
        stop_finish(&srv->stop);
        net_cleanup();
        return SERVER_EXIT_FAILURE;
    }
    /* SPEC: the first stdout line, flushed at once, so --port 0 is usable */
    printf("listening on %s\n", srv->address);
    fflush(stdout);
    log_info("%s server listening on %s (max %d clients)", model->name, srv->address,
             srv->opt.max_clients);
    return SERVER_RUN;
}

void server_close_listener(server *srv)
{
    if (srv->listener == INVALID_SOCKET)
        return;
    net_close(&srv->st, srv->listener);
    srv->listener = INVALID_SOCKET;
}

static void print_final_stats(server *srv)
{
    char text[2048];
    size_t len = server_stats_text(srv, text, sizeof text);

    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

int server_finish(server *srv, int run_result)
{
    int failed = run_result != 0 || counter_get(&srv->failures) != 0;
    int64_t left;

    server_close_listener(srv);
    stop_finish(&srv->stop);
    print_final_stats(srv);
    left = stats_open_total(&srv->st) + counter_get(&srv->st.connections_current);
    net_cleanup();
    if (left != 0) {
        log_error("exit: %lld objects still open (sockets %lld, threads %lld, handles %lld, "
                  "blocks %lld, connections %lld)", (long long)left,
                  (long long)counter_get(&srv->st.open[RES_SOCKET]),
                  (long long)counter_get(&srv->st.open[RES_THREAD]),
                  (long long)counter_get(&srv->st.open[RES_HANDLE]),
                  (long long)counter_get(&srv->st.open[RES_BLOCK]),
                  (long long)counter_get(&srv->st.connections_current));
        return failed ? SERVER_EXIT_FAILURE : SERVER_EXIT_LEAK;
    }
    if (failed)
        return SERVER_EXIT_FAILURE;
    log_info("%s server stopped cleanly", srv->model->name);
    return SERVER_EXIT_OK;
}

void server_fail(server *srv)
{
    counter_add(&srv->failures, 1);
    stop_request(&srv->stop);
}

int server_wait_stop(server *srv)
{
    if (WaitForSingleObject(srv->stop.event, INFINITE) != WAIT_FAILED)
        return 0;
    log_error("WaitForSingleObject (stop): error %lu", GetLastError());
    server_fail(srv);
    return -1;
}

enum server_accept server_accept_failed(server *srv, int err)
{
    if (stop_requested(&srv->stop))
        return ACCEPT_END;   /* the listening socket was closed to stop us */
    if (err == WSAEWOULDBLOCK)
        return ACCEPT_NEXT;  /* the peer gave up between readiness and accept */
    if (net_routine_error(err)) {   /* the peer reset or gave up (WSAECONNRESET) */
        net_log_io_error("accept", err);
        return ACCEPT_NEXT;
    }
    net_log_error("accept", err);
    if (err == WSAEMFILE || err == WSAENOBUFS)
        return ACCEPT_PAUSE;
    server_fail(srv);
    return ACCEPT_END;
}

HANDLE server_thread(server *srv, LPTHREAD_START_ROUTINE fn, void *arg)
{
    /* STACK_SIZE_PARAM_IS_A_RESERVATION: SERVER_STACK is the reserve, not
     * the commit. */
    HANDLE h = CreateThread(NULL, SERVER_STACK, fn, arg, STACK_SIZE_PARAM_IS_A_RESERVATION,
                            NULL);

    if (h == NULL)
        log_error("CreateThread: error %lu", GetLastError());
    else
        stats_opened(&srv->st, RES_THREAD);
    return h;
}

int server_cpu_count(void)
{
    SYSTEM_INFO si;

    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}

void server_join(server *srv, HANDLE thread)
{
    if (WaitForSingleObject(thread, INFINITE) == WAIT_FAILED)
        log_error("WaitForSingleObject (join): error %lu", GetLastError());
    if (!CloseHandle(thread))
        log_error("CloseHandle (thread): error %lu", GetLastError());
    stats_closed(&srv->st, RES_THREAD);
}

void *server_alloc(server *srv, size_t size)
{
    void *block = calloc(1, size);

    if (block == NULL)
        log_error("calloc: out of memory (%lu bytes)", (unsigned long)size);
    else
        stats_opened(&srv->st, RES_BLOCK);
    return block;
}

void server_free(server *srv, void *block)
{
    if (block == NULL)
        return;
    free(block);
    stats_closed(&srv->st, RES_BLOCK);
}

void server_conn_opened(server *srv, session *sess)
{
    if (sess != NULL)
        session_init(sess, &srv->env);
    stats_connection_opened(&srv->st);
}

void server_conn_closed(server *srv, session *sess)
{
    if (sess != NULL)
        session_free(sess);
    stats_connection_closed(&srv->st);
}
