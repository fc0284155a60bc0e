# The stress run (issue 8): every fault and load scenario of `client stress`
# against every server, labelled `stress`, which the default run leaves out
# (`bash scripts/test.sh --stress` runs them). docs/reliability.md says what
# each scenario does and what it measured. Included by cmake/tests.cmake.
#
# Under Wine the stress tests drive the servers with the NATIVE client: one
# Wine prefix holds about 9,900 sockets in all (REFERENCE.md section 4), so
# 10,000 connections need a client outside it, and a Wine client would also
# compete with the server for the one wineserver. scripts/test.sh builds it
# (the native preset) before the Wine tests run; a test is skipped, saying
# why, when it is missing. On Windows the suite's own client runs them.

set(WSM_NATIVE_CLIENT ${CMAKE_SOURCE_DIR}/build/native/bin/client CACHE FILEPATH
    "The natively built client that drives the Wine servers in the stress tests")

# Connections held at once: the documented capacity of each model (the
# blocking model's is 1000, the others' 10,000). With --conns the client
# raises the server's --max-clients to CONNS+2, so the STATS connections the
# figures come over are never refused while the server still counts them.
function(wsm_stress_capacity server out)
    if(server STREQUAL "blocking_server")
        set(${out} 1000 PARENT_SCOPE)
    else()
        set(${out} 10000 PARENT_SCOPE)
    endif()
endfunction()

# wsm_stress_test(NAME SERVER TIMEOUT ARGS...): `client stress ARGS` with
# SERVER started by the client (--server) and stopped at the end.
function(wsm_stress_test name server timeout)
    if(CMAKE_CROSSCOMPILING AND WINE_LOADER)
        add_test(NAME ${name}
                 COMMAND sh -c "test -x \"$1\" || { echo \"SKIP: no native client at $1 (cmake --preset native && cmake --build --preset native)\"; exit 77; }; exec env WINEPREFIX=${WSM_WINEPREFIX} WINEDEBUG=-all \"$@\""
                         sh ${WSM_NATIVE_CLIENT} stress ${ARGN}
                         --server "${WINE_LOADER} $<TARGET_FILE:${server}>")
        set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
    else()
        add_test(NAME ${name}
                 COMMAND client stress ${ARGN} --server "$<TARGET_FILE_NAME:${server}>"
                 WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
    endif()
    # One at a time: two servers holding 10,000 sockets each would not fit
    # in one wineserver (about 20,000 descriptors), and each scenario's
    # figures and deadlines assume the machine is its own.
    set_tests_properties(${name} PROPERTIES LABELS "stress" FIXTURES_REQUIRED wine
                         TIMEOUT ${timeout} RUN_SERIAL TRUE)
endfunction()

foreach(server ${WSM_SERVERS})
    string(REGEX REPLACE "_server$" "" model ${server})
    wsm_stress_capacity(${server} cap)
    # Every connection the model supports, open at once: a warm-up round,
    # then two measured; one for select, whose every select() call walks
    # all of a thread's 1000 sockets (a wineserver request of that size),
    # so that opening 10,000 takes it 2-3 minutes (docs/reliability.md).
    set(hold_rounds 2)
    if(server STREQUAL "select_server")
        set(hold_rounds 1)
    endif()
    wsm_stress_test(stress_${model}_hold ${server} 900 --scenario hold --conns ${cap}
                    --rounds ${hold_rounds} --timeout 60)
    # 10,000 connect/echo/close cycles after 1000 of warm-up.
    wsm_stress_test(stress_${model}_churn ${server} 900 --scenario churn --conns 1000
                    --rounds 10)
    wsm_stress_test(stress_${model}_resets ${server} 600 --scenario resets --conns 1000)
    wsm_stress_test(stress_${model}_kill ${server} 600 --scenario kill --conns 200)
    wsm_stress_test(stress_${model}_garbage ${server} 600 --scenario garbage --conns 100)
    wsm_stress_test(stress_${model}_slow ${server} 600 --scenario slow --conns 50)
    # 1000 busy connections: load's connect phase runs ahead of the server's
    # accepts, and past the kernel's accept backlog (4096) connections wait
    # in TCP's retransmission backoff, so 10,000 would measure that.
    wsm_stress_test(stress_${model}_stop ${server} 600 --scenario stop --conns 1000)
endforeach()

# The stress command itself under Wine, in the default run: the Windows
# build of the client starting and killing its own children (kill) and the
# garbage streams, at small counts.
wsm_client_test(stress_smoke_kill select_server "fast" 300
                stress --scenario kill --conns 20 --rounds 1)
wsm_client_test(stress_smoke_garbage iocp_server "fast" 300
                stress --scenario garbage --conns 20 --rounds 1)
