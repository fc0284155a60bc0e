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

set(WSM_NATIVE_CLIENT "" CACHE FILEPATH
    "The natively built client that drives the Wine servers in the stress tests")
# The wine presets set it to the native preset's client (CMakePresets.json,
# WSM_NATIVE_DIR), so the path is written once; a build configured without
# them skips the stress tests until -DWSM_NATIVE_CLIENT=PATH is given.
if(WSM_NATIVE_CLIENT)
    set(wsm_stress_run "test -x \"$1\" || { echo \"SKIP: no native client at $1 (cmake --preset native && cmake --build --preset native)\"; exit 77; }; exec env WINEPREFIX=${WSM_WINEPREFIX} WINEDEBUG=-all \"$@\"")
else()
    set(wsm_stress_run "echo \"SKIP: WSM_NATIVE_CLIENT is not set (the wine presets set it; or -DWSM_NATIVE_CLIENT=PATH)\"; exit 77")
endif()

# Connections held at once: the documented capacity of each model (the
# blocking model's is 1000, the asyncselect model's 3000, the others'
# 10,000). With --conns the client raises the server's --max-clients to
# CONNS+2, so the STATS connections the figures come over are never refused
# while the server still counts them.
function(wsm_stress_capacity server out)
    if(server STREQUAL "blocking_server")
        set(${out} 1000 PARENT_SCOPE)
    elseif(server STREQUAL "asyncselect_server")
        # Three notices per connection under Windows' 10,000 posted
        # messages per queue (07_asyncselect/server.c, Limits).
        set(${out} 3000 PARENT_SCOPE)
    else()
        set(${out} 10000 PARENT_SCOPE)
    endif()
endfunction()

# wsm_stress_test(NAME test SERVER target TIMEOUT seconds
#                 ARGS stress-argument...): `client stress ARGS` with SERVER
# started by the client (--server) and stopped at the end.
function(wsm_stress_test)
    cmake_parse_arguments(PARSE_ARGV 0 t "" "NAME;SERVER;TIMEOUT" "ARGS")
    wsm_require_keywords(wsm_stress_test t NAME SERVER TIMEOUT ARGS)
    # threadpool_server runs on the system's pool by default, whose thread
    # count (and the memory of those threads, about 1 MiB each under Wine)
    # the pool decides; a private pool of 4 makes them the server's, so the
    # figures can be held to their baseline.
    set(server_args "")
    if(t_SERVER STREQUAL "threadpool_server")
        set(server_args " --threads 4")
    endif()
    if(CMAKE_CROSSCOMPILING AND WINE_LOADER)
        add_test(NAME ${t_NAME}
                 COMMAND sh -c "${wsm_stress_run}"
                         sh ${WSM_NATIVE_CLIENT} stress ${t_ARGS}
                         --server "${WINE_LOADER} $<TARGET_FILE:${t_SERVER}>${server_args}")
        set_tests_properties(${t_NAME} PROPERTIES SKIP_RETURN_CODE 77)
    else()
        add_test(NAME ${t_NAME}
                 COMMAND client stress ${t_ARGS}
                         --server "$<TARGET_FILE_NAME:${t_SERVER}>${server_args}"
                 WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
    endif()
    # One at a time: two servers holding 10,000 sockets each would not fit
    # in one wineserver (about 20,000 descriptors), and each scenario's
    # figures and deadlines assume the machine is its own.
    set_tests_properties(${t_NAME} PROPERTIES LABELS "stress" FIXTURES_REQUIRED wine
                         TIMEOUT ${t_TIMEOUT} RUN_SERIAL TRUE)
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
    wsm_stress_test(NAME stress_${model}_hold SERVER ${server} TIMEOUT 900
                    ARGS --scenario hold --conns ${cap} --rounds ${hold_rounds} --timeout 60)
    # 10,000 connect/echo/close cycles after 1000 of warm-up.
    wsm_stress_test(NAME stress_${model}_churn SERVER ${server} TIMEOUT 900
                    ARGS --scenario churn --conns 1000 --rounds 10)
    wsm_stress_test(NAME stress_${model}_resets SERVER ${server} TIMEOUT 600
                    ARGS --scenario resets --conns 1000)
    wsm_stress_test(NAME stress_${model}_kill SERVER ${server} TIMEOUT 600
                    ARGS --scenario kill --conns 200)
    wsm_stress_test(NAME stress_${model}_garbage SERVER ${server} TIMEOUT 600
                    ARGS --scenario garbage --conns 100)
    wsm_stress_test(NAME stress_${model}_slow SERVER ${server} TIMEOUT 600
                    ARGS --scenario slow --conns 50)
    # 1000 busy connections: load's connect phase runs ahead of the server's
    # accepts, and past the kernel's accept backlog (4096) connections wait
    # in TCP's retransmission backoff, so 10,000 would measure that.
    wsm_stress_test(NAME stress_${model}_stop SERVER ${server} TIMEOUT 600
                    ARGS --scenario stop --conns 1000)
endforeach()

# The stress command itself under Wine, in the default run: the Windows
# build of the client starting and killing its own children (kill) and the
# garbage streams, at small counts.
wsm_client_test(NAME stress_smoke_kill SERVER select_server LABELS fast smoke TIMEOUT 300
                ARGS stress --scenario kill --conns 20 --rounds 1)
wsm_client_test(NAME stress_smoke_garbage SERVER iocp_server LABELS fast smoke TIMEOUT 300
                ARGS stress --scenario garbage --conns 20 --rounds 1)
