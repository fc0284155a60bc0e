# The "break it" exercises (docs/labs/breaks/): each is a patch that puts
# one classic mistake of a model into a copy of its server.c. Here each
# patch is applied at build time (cmake/patched-server.cmake) and a test
# shows the client command that the exercise's page runs failing the way
# its key says, so a patch can neither stop applying nor stop being
# caught without a test failing. Beside it, the same command against the
# server as it is must pass.
#
# Tests (labels fast and labs):
#   break_<model>_<name>           the broken server: passes only when the
#                                  client's output matches EXPECT (the exit
#                                  code is not judged: the client fails)
#   break_<model>_<name>_unbroken  the same command, the server as it is:
#                                  passes when the client does (exit 0)
# The broken server is the target <server>_break_<name>, built from
# docs/labs/breaks/<NN_model>-<name>.patch; never a server to use.
include(${CMAKE_SOURCE_DIR}/cmake/patched-server.cmake)

# wsm_break(SERVER target NAME name [SERVER_ARGS "options"] TIMEOUT seconds
#           EXPECT regex ARGS client-argument...)
function(wsm_break)
    cmake_parse_arguments(PARSE_ARGV 0 b "" "SERVER;NAME;SERVER_ARGS;TIMEOUT;EXPECT" "ARGS")
    wsm_require_keywords(wsm_break b SERVER NAME TIMEOUT EXPECT ARGS)
    if(NOT TARGET ${b_SERVER})
        return()   # a model left out of this build (07_asyncselect by default)
    endif()
    get_target_property(src_dir ${b_SERVER} SOURCE_DIR)
    get_filename_component(model_dir ${src_dir} NAME)
    string(REGEX REPLACE "_server$" "" model ${b_SERVER})
    set(broken ${b_SERVER}_break_${b_NAME})
    wsm_patched_server(TARGET ${broken} SERVER ${b_SERVER}
                       PATCH ${CMAKE_SOURCE_DIR}/docs/labs/breaks/${model_dir}-${b_NAME}.patch)
    if(NOT TARGET ${broken})
        return()   # neither git nor patch: said at configure time
    endif()
    set(test break_${model}_${b_NAME})
    wsm_add_client_test(${test} ${broken} "${b_SERVER_ARGS}" "fast;labs" ${b_TIMEOUT} ${b_ARGS})
    set_tests_properties(${test} PROPERTIES PASS_REGULAR_EXPRESSION "${b_EXPECT}")
    wsm_add_client_test(${test}_unbroken ${b_SERVER} "${b_SERVER_ARGS}" "fast;labs" ${b_TIMEOUT}
                        ${b_ARGS})
endfunction()

# Each EXPECT is what the page's key says; measured under Wine, where
# every one failed that way in every run (docs/labs/breaks/README.md).

# 01: every connection's thread handle is waited for and never closed. The
# server's own count of open thread handles (open_threads) then grows by
# one per connection: churn compares it with its baseline after 300
# connect/close cycles (at least 300 more; the stop then exits 4).
wsm_break(SERVER blocking_server NAME thread_handle TIMEOUT 60
          EXPECT "FAIL churn: [^\n]*open_threads=[1-9][0-9][0-9]+ \\(baseline [0-9]\\)"
          ARGS check --only churn --timeout 3)

# 02: no socket ever goes into the write set. A reply that send() took only
# in part waits for the socket to be readable, and under backpressure it
# is not in the read set either: backpressure's replies stop coming.
wsm_break(SERVER select_server NAME write_set TIMEOUT 60
          EXPECT "FAIL backpressure: reading back [^\n]*timed out with [0-9]+ of [0-9]+ replies read"
          ARGS check --only backpressure --timeout 3)

# 03: can_write is only what the current notice says; FD_WRITE is recorded
# once at the start and then only after a send failed with WSAEWOULDBLOCK,
# so the replies stop after the first notice (usually the second echo).
wsm_break(SERVER eventselect_server NAME fd_write TIMEOUT 60
          EXPECT "FAIL echo_sizes: ECHO of [0-9]+ bytes: timed out waiting for a reply"
          ARGS check --only echo_sizes --timeout 3)

# 04: one event per connection, shared by its receive and its send, and
# one slot in the wait for it: the slot names the receive, so the send's
# completion is never handled and the second reply is never sent.
wsm_break(SERVER overlapped_event_server NAME shared_event TIMEOUT 60
          EXPECT "FAIL echo_sizes: ECHO of [0-9]+ bytes: timed out waiting for a reply"
          ARGS check --only echo_sizes --timeout 3)

# 05: the worker's wait is not alertable, so no APC runs in it: neither
# the hand-over of a new connection nor any completion routine; the very
# first echo gets no reply.
wsm_break(SERVER completion_routine_server NAME not_alertable TIMEOUT 60
          EXPECT "FAIL echo_sizes: ECHO of 0 bytes: timed out waiting for a reply"
          ARGS check --only echo_sizes --timeout 3)

# 06: a send planned while the connection's previous send is still in
# flight, which backpressure makes happen at once; the server's assert
# (one send in flight, session.h) stops it: exit code 3, abort().
wsm_break(SERVER iocp_server NAME two_sends TIMEOUT 60
          EXPECT "FAIL backpressure: .*the server exited with code 3[^0-9]"
          ARGS check --only backpressure --timeout 3)

# 07: FD_CLOSE ignored. A peer's reset is told by FD_CLOSE alone (with
# WSAECONNRESET), so every third churn cycle, which resets, leaves a
# connection the server never closes (under Wine some FINs too): churn
# finds them after its cycles, or, once --max-clients (200) are left, a
# cycle gets the ERROR frame "server full".
wsm_break(SERVER asyncselect_server NAME fd_close TIMEOUT 60
          EXPECT "FAIL churn: [^\n]*(connections_current=[1-9][0-9]+ \\(baseline [0-9]\\)|ERROR frame \"server full\")"
          ARGS check --only churn --timeout 3)

# 08: CancelThreadpoolIo forgotten for a call that brings no callback; with
# --opt skip every call that succeeds at once is one. The pool then waits
# for operations that never complete: under Wine the stop hangs in
# WaitForThreadpoolIoCallbacks and the client terminates the server after
# 15 s (the longest of these tests).
wsm_break(SERVER threadpool_server NAME no_cancel SERVER_ARGS "--opt skip" TIMEOUT 60
          EXPECT "FAIL stop: [^\n]*did not exit within [0-9]+ s of its stop"
          ARGS check --only stop --timeout 3)
