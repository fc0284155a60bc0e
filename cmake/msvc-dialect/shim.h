/* shim.h - forced into every file of the MSVC-dialect check
 * (cmake/check-msvc-dialect.cmake), and only there: it fills the gaps of
 * Wine's Windows SDK headers (Debian's libwine-dev 8), which the check
 * compiles against, where Microsoft's SDK has the declaration. Nothing
 * here is part of a real build; a gap that Microsoft's SDK also has would
 * be a real error and belongs in the code, not here. */
#ifndef WSM_MSVC_DIALECT_SHIM_H
#define WSM_MSVC_DIALECT_SHIM_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <io.h>
#include <psapi.h>

/* Wine's io.h defines the POSIX name `open` as a macro (`_open`), which
 * renames any field called open; Microsoft's io.h declares a function. */
#undef open
#undef sopen

/* psapi.h: Microsoft's has the _EX counters (PrivateUsage) since XP SP2. */
typedef struct _PROCESS_MEMORY_COUNTERS_EX {
    DWORD cb;
    DWORD PageFaultCount;
    SIZE_T PeakWorkingSetSize;
    SIZE_T WorkingSetSize;
    SIZE_T QuotaPeakPagedPoolUsage;
    SIZE_T QuotaPagedPoolUsage;
    SIZE_T QuotaPeakNonPagedPoolUsage;
    SIZE_T QuotaNonPagedPoolUsage;
    SIZE_T PagefileUsage;
    SIZE_T PeakPagefileUsage;
    SIZE_T PrivateUsage;
} PROCESS_MEMORY_COUNTERS_EX;

/* processthreadsapi.h (winbase.h before Windows 8). */
WINBASEAPI BOOL WINAPI GetProcessHandleCount(HANDLE process, PDWORD count);

/* winnt.h: an intrinsic on x64 in Microsoft's SDK. */
__int64 _InterlockedExchange64(__int64 volatile *target, __int64 value);
#define InterlockedExchange64 _InterlockedExchange64

/* winbase.h: SetFileCompletionNotificationModes' flags (Wine has the first
 * only in winternl.h). */
#ifndef FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#endif
#ifndef FILE_SKIP_SET_EVENT_ON_HANDLE
#define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
#endif

/* winbase.h: the callback environment's helpers are inline functions in
 * Microsoft's SDK (InitializeThreadpoolEnvironment's page); Wine's headers
 * do not have them. The same effect on the V1 structure both define. */
#include <string.h>
static __inline void InitializeThreadpoolEnvironment(PTP_CALLBACK_ENVIRON env)
{
    memset(env, 0, sizeof *env);
    env->Version = 1;
}
static __inline void SetThreadpoolCallbackPool(PTP_CALLBACK_ENVIRON env, PTP_POOL pool)
{
    env->Pool = pool;
}
static __inline void DestroyThreadpoolEnvironment(PTP_CALLBACK_ENVIRON env)
{
    (void)env;
}

#endif
