/* plat_win_child.c - plat.h's child server process for Windows.
 *
 * The child's standard output is a pipe that a reader thread drains into a
 * buffer for the whole run, so the server never blocks on a full pipe and
 * its final statistics are there after it exits. Its standard error is
 * ours (its logs stay visible) and its standard input is NUL. The stop
 * object is a named manual-reset event created before the child starts, so
 * the server's OpenEventW always finds it.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plat.h"
#include "plat_child_out.h"


struct plat_child {
    HANDLE process;
    HANDLE stop_event;
    HANDLE job;          /* kills the server if we die (where jobs work) */
    HANDLE out_read;     /* our end of the stdout pipe */
    HANDLE reader;       /* thread draining out_read */
    HANDLE line_event;   /* set at the first '\n' or at end of output */
    CRITICAL_SECTION lock;
    child_out out;       /* captured stdout */
    int out_eof;
    int exited;
    unsigned long exit_code;
};

void plat_child_stop_args(const char *stop_name, char *buf, size_t cap)
{
    snprintf(buf, cap, "--stop-event %s", stop_name);
}

const char *plat_child_stop_call(void)
{
    return "SetEvent";
}

static void win_error(char *why, size_t cap, const char *call, const char *what)
{
    plat_err_format(why, cap, call, what, (int)GetLastError());
}

/* Appends a chunk of output; past the cap the bytes are dropped, but the
 * pipe is still drained. */
static void child_append(plat_child *c, const char *data, DWORD n)
{
    EnterCriticalSection(&c->lock);
    child_out_append(&c->out, data, n);
    if (child_out_has_line(&c->out))
        SetEvent(c->line_event);
    LeaveCriticalSection(&c->lock);
}

static DWORD WINAPI child_reader(LPVOID arg)
{
    plat_child *c = (plat_child *)arg;
    char chunk[4096];
    DWORD n;

    /* ReadFile fails (ERROR_BROKEN_PIPE) once the child and every copy of
     * the write end are gone: that is the end of its output. */
    while (ReadFile(c->out_read, chunk, sizeof chunk, &n, NULL) && n > 0)
        child_append(c, chunk, n);
    EnterCriticalSection(&c->lock);
    c->out_eof = 1;
    SetEvent(c->line_event);
    LeaveCriticalSection(&c->lock);
    return 0;
}

/* An inheritable handle on the NUL device, for stdin (and a missing stderr). */
static HANDLE open_nul(void)
{
    SECURITY_ATTRIBUTES sa;

    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    return CreateFileA("NUL", GENERIC_READ | GENERIC_WRITE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
}

/* An inheritable copy of our stderr, or NUL when we have none. */
static HANDLE inheritable_stderr(void)
{
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    HANDLE copy = NULL;

    if (err != NULL && err != INVALID_HANDLE_VALUE
        && DuplicateHandle(GetCurrentProcess(), err, GetCurrentProcess(), &copy,
                           0, TRUE, DUPLICATE_SAME_ACCESS))
        return copy;
    return open_nul();
}

static HANDLE create_stop_event(const char *name, char *why, size_t cap)
{
    wchar_t wide[128];
    HANDLE ev;

    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wide, 128) == 0) {
        win_error(why, cap, "MultiByteToWideChar", name);
        return NULL;
    }
    ev = CreateEventW(NULL, TRUE, FALSE, wide);
    if (ev == NULL) {
        win_error(why, cap, "CreateEventW", name);
        return NULL;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS) {   /* someone else's event */
        CloseHandle(ev);
        snprintf(why, cap, "CreateEventW %s: the event already exists", name);
        return NULL;
    }
    return ev;
}

/* A job that kills the child when our last handle to it closes; best effort
 * (Wine does not kill children when the owner is killed). */
static HANDLE create_kill_job(void)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION info;
    HANDLE job = CreateJobObjectA(NULL, NULL);

    if (job == NULL)
        return NULL;
    memset(&info, 0, sizeof info);
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &info,
                                 sizeof info)) {
        CloseHandle(job);
        return NULL;
    }
    return job;
}

static plat_child *child_alloc(void)
{
    plat_child *c = (plat_child *)calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->line_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (child_out_init(&c->out) != 0 || c->line_event == NULL) {
        child_out_free(&c->out);
        if (c->line_event != NULL)
            CloseHandle(c->line_event);
        free(c);
        return NULL;
    }
    InitializeCriticalSection(&c->lock);
    return c;
}

/* CreateProcess, and under Wine once more after ERROR_INTERNAL_ERROR
 * (1359): Wine returns it when the new process ended inside Wine's loader,
 * before any of its own code ran (docs/wine.md, row 25); Windows documents
 * no such case. The retry is said on stderr, and only that error gets it:
 * a server that starts and then fails is never started again. */
static BOOL create_process(char *line, const char *cmdline, STARTUPINFOA *si,
                           PROCESS_INFORMATION *pi)
{
    BOOL ok = CreateProcessA(NULL, line, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL,
                             si, pi);

    if (ok || GetLastError() != ERROR_INTERNAL_ERROR)
        return ok;
    fprintf(stderr, "client: CreateProcess %s: error 1359 (the process ended in Wine's "
            "loader); trying once more\n", cmdline);
    Sleep(500);
    memcpy(line, cmdline, strlen(cmdline) + 1);   /* CreateProcess may have written into it */
    return CreateProcessA(NULL, line, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, si, pi);
}

/* Runs cmdline suspended with the given std handles, adds it to the job,
 * then lets it run. */
static int child_spawn(plat_child *c, const char *cmdline, HANDLE in, HANDLE out,
                       HANDLE err, char *why, size_t cap)
{
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char *line = _strdup(cmdline);   /* CreateProcessA may write into it */
    BOOL ok;

    if (line == NULL) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in;
    si.hStdOutput = out;
    si.hStdError = err;
    ok = create_process(line, cmdline, &si, &pi);
    if (!ok)
        win_error(why, cap, "CreateProcess", cmdline);
    free(line);
    if (!ok)
        return -1;
    if (c->job != NULL && !AssignProcessToJobObject(c->job, pi.hProcess)) {
        CloseHandle(c->job);   /* not fatal: we stop the server ourselves */
        c->job = NULL;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    c->process = pi.hProcess;
    return 0;
}

/* Creates the stdout pipe (our end not inheritable), spawns the child and
 * starts the reader thread. */
static int child_launch(plat_child *c, const char *cmdline, char *why, size_t cap)
{
    SECURITY_ATTRIBUTES sa;
    HANDLE out_write = NULL;
    HANDLE in = open_nul();
    HANDLE err = inheritable_stderr();
    int rc = -1;

    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    if (!CreatePipe(&c->out_read, &out_write, &sa, 0))
        win_error(why, cap, "CreatePipe", NULL);
    else if (!SetHandleInformation(c->out_read, HANDLE_FLAG_INHERIT, 0))
        win_error(why, cap, "SetHandleInformation", NULL);
    else if (child_spawn(c, cmdline, in, out_write, err, why, cap) == 0)
        rc = 0;
    /* Our copy of the write end must go, or the reader never sees EOF. */
    if (out_write != NULL)
        CloseHandle(out_write);
    if (in != INVALID_HANDLE_VALUE)
        CloseHandle(in);
    if (err != INVALID_HANDLE_VALUE && err != NULL)
        CloseHandle(err);
    if (rc == 0) {
        c->reader = CreateThread(NULL, 0, child_reader, c, 0, NULL);
        if (c->reader == NULL) {
            win_error(why, cap, "CreateThread", "stdout reader");
            rc = -1;
        }
    }
    return rc;
}

plat_child *plat_child_start(const char *cmdline, const char *stop_name,
                             char *why, size_t why_cap)
{
    plat_child *c = child_alloc();

    if (c == NULL) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    c->stop_event = create_stop_event(stop_name, why, why_cap);
    if (c->stop_event == NULL) {
        plat_child_free(c);
        return NULL;
    }
    c->job = create_kill_job();
    if (child_launch(c, cmdline, why, why_cap) != 0) {
        plat_child_free(c);
        return NULL;
    }
    return c;
}

int plat_child_first_line(plat_child *c, char *line, size_t cap, unsigned timeout_ms)
{
    int rc;

    /* Set at the first line or at the end of output, whichever is first. */
    if (WaitForSingleObject(c->line_event, timeout_ms) != WAIT_OBJECT_0)
        return 0;
    EnterCriticalSection(&c->lock);
    rc = child_out_first_line(&c->out, line, cap) ? 1 : -1;
    LeaveCriticalSection(&c->lock);
    return rc;
}

int plat_child_signal_stop(plat_child *c, int *err)
{
    if (!SetEvent(c->stop_event)) {
        *err = (int)GetLastError();
        return -1;
    }
    return 0;
}

int plat_child_wait(plat_child *c, unsigned timeout_ms, unsigned long *code)
{
    DWORD exit_code = 0;

    if (!c->exited) {
        if (WaitForSingleObject(c->process, timeout_ms) != WAIT_OBJECT_0)
            return 0;
        GetExitCodeProcess(c->process, &exit_code);
        c->exit_code = exit_code;
        c->exited = 1;
        /* Let the reader collect the last lines the child wrote. */
        WaitForSingleObject(c->reader, 3000);
    }
    *code = c->exit_code;
    return 1;
}

void plat_child_kill(plat_child *c)
{
    unsigned long code;

    if (c->process == NULL || c->exited)
        return;
    TerminateProcess(c->process, 1);
    plat_child_wait(c, 5000, &code);
}

size_t plat_child_output(plat_child *c, char *buf, size_t cap)
{
    size_t n;

    EnterCriticalSection(&c->lock);
    n = child_out_copy(&c->out, buf, cap);
    LeaveCriticalSection(&c->lock);
    return n;
}

void plat_child_free(plat_child *c)
{
    int reader_done = 1;

    if (c == NULL)
        return;
    plat_child_kill(c);
    if (c->reader != NULL) {
        reader_done = WaitForSingleObject(c->reader, 3000) == WAIT_OBJECT_0;
        CloseHandle(c->reader);
    }
    if (c->process != NULL)
        CloseHandle(c->process);
    if (c->stop_event != NULL)
        CloseHandle(c->stop_event);
    if (c->job != NULL)
        CloseHandle(c->job);
    if (!reader_done)
        return;   /* the thread still uses the rest; leave it to process exit */
    if (c->out_read != NULL)
        CloseHandle(c->out_read);
    CloseHandle(c->line_event);
    DeleteCriticalSection(&c->lock);
    child_out_free(&c->out);
    free(c);
}
