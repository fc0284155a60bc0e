# 02_select: tests of what only the select model has; cmake/tests.cmake
# already adds check_select_server and stress_select_server_1000.
#
# wsm_client_test passes the server's file name alone; these tests give
# the server options too, so they call add_test themselves. The client
# starts "PROGRAM ARGS" from the bin folder and stops it by its stop event.
function(select_client_test name labels timeout server_args)
    add_test(NAME ${name}
             COMMAND client ${ARGN}
                     --server "$<TARGET_FILE_NAME:select_server> ${server_args}"
             WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
    set_tests_properties(${name} PROPERTIES LABELS "${labels}" FIXTURES_REQUIRED wine
                         TIMEOUT ${timeout})
endfunction()

# Four select threads for 300 connections: every hand-off through an inbox
# and its wake-up datagram is exercised, and the battery still passes.
select_client_test(select_threads_load "fast" 300 "--threads 4"
                   load --conns 300 --msgs 20 --size 64)
select_client_test(select_threads_check "fast;conformance" 300 "--threads 4" check)

# One thread with a full set: 1000 connections in one select() call.
select_client_test(stress_select_one_set "stress" 600 "--threads 1 --max-clients 1000"
                   load --conns 1000 --msgs 10 --size 64)

# Past one set: 3000 connections spread over the default ten threads
# (least loaded first), with pipelined 4 KiB frames so that partial sends
# and the write set are used. Client and server share one Wine prefix,
# which holds about 9,900 sockets (REFERENCE.md section 4): 3000 is safe
# here; the 10,000-connection run needs the client in a second prefix.
wsm_client_test(stress_select_server_3000 select_server "stress" 900
                load --conns 3000 --msgs 10 --size 4096 --pipeline 4)
