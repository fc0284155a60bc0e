/* stop.c - Ctrl+C, named event and deadline, folded into one event. */
#include "stop.h"

#include <stdio.h>

#include "log.h"
#include "net.h"

/* SetConsoleCtrlHandler passes no context to its handler, so the event it
 * sets has to be reachable from a file-scope variable. */
static HANDLE ctrl_stop_event;

static BOOL WINAPI on_console_ctrl(DWORD type)
{
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT && type != CTRL_CLOSE_EVENT)
        return FALSE;
    if (ctrl_stop_event != NULL)
        SetEvent(ctrl_stop_event);
    return TRUE;
}

/* Sets the stop event when the named event is set or the deadline passes;
 * ends as soon as the stop event is set, whoever set it. */
static DWORD WINAPI watcher_main(void *arg)
{
    stopper *sp = (stopper *)arg;
    HANDLE handles[2];
    DWORD count = 0, rc;

    handles[count++] = sp->event;
    if (sp->named != NULL)
        handles[count++] = sp->named;
    rc = WaitForMultipleObjects(count, handles, FALSE, sp->limit_ms);
    if (rc == WAIT_FAILED)
        log_error("WaitForMultipleObjects (stop watcher): error %lu", GetLastError());
    if (rc == WAIT_TIMEOUT)
        log_info("--max-seconds reached: stopping");
    if (rc == WAIT_OBJECT_0 + 1)
        log_info("stop event set: stopping");
    SetEvent(sp->event);
    return 0;
}

static HANDLE new_event(stopper *sp, const char *name)
{
    HANDLE h = CreateEventA(NULL, TRUE, FALSE, name);

    if (h == NULL)
        log_error("CreateEvent %s: error %lu", name != NULL ? name : "(stop)", GetLastError());
    else
        stats_opened(sp->st, RES_HANDLE);
    return h;
}

int stop_start(stopper *sp, const server_options *opt, stats *st)
{
    sp->st = st;
    sp->named = sp->watcher = NULL;
    sp->limit_ms = opt->max_seconds > 0 ? (DWORD)opt->max_seconds * 1000u : INFINITE;
    sp->event = new_event(sp, NULL);
    if (sp->event == NULL)
        return -1;
    ctrl_stop_event = sp->event;
    if (!SetConsoleCtrlHandler(on_console_ctrl, TRUE))
        log_error("SetConsoleCtrlHandler: error %lu", GetLastError());
    /* CreateEvent opens the event when the client already created it. */
    if (opt->stop_event[0] != '\0' && (sp->named = new_event(sp, opt->stop_event)) == NULL)
        return -1;
    if (sp->named == NULL && sp->limit_ms == INFINITE)
        return 0;
    sp->watcher = CreateThread(NULL, 64 * 1024, watcher_main, sp,
                               STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (sp->watcher == NULL) {
        log_error("CreateThread (stop watcher): error %lu", GetLastError());
        return -1;
    }
    stats_opened(st, RES_THREAD);
    return 0;
}

void stop_request(stopper *sp)
{
    SetEvent(sp->event);
}

int stop_requested(const stopper *sp)
{
    return WaitForSingleObject(sp->event, 0) == WAIT_OBJECT_0;
}

static void close_handle(stopper *sp, HANDLE *h, enum stats_resource res)
{
    if (*h == NULL)
        return;
    if (!CloseHandle(*h))
        log_error("CloseHandle: error %lu", GetLastError());
    stats_closed(sp->st, res);
    *h = NULL;
}

void stop_finish(stopper *sp)
{
    SetEvent(sp->event);   /* lets the watcher end if the model stopped for another reason */
    if (sp->watcher != NULL && WaitForSingleObject(sp->watcher, INFINITE) == WAIT_FAILED)
        log_error("WaitForSingleObject (stop watcher): error %lu", GetLastError());
    close_handle(sp, &sp->watcher, RES_THREAD);
    SetConsoleCtrlHandler(on_console_ctrl, FALSE);
    ctrl_stop_event = NULL;
    close_handle(sp, &sp->named, RES_HANDLE);
    close_handle(sp, &sp->event, RES_HANDLE);
}
