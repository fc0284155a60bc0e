# CTest: the Wine fixtures, the unit tests and the conformance battery.
# Labels: fast and load (default run), stress (large counts, still bounded;
# left out of the default run, `scripts/test.sh --stress` runs them).
if(CMAKE_CROSSCOMPILING AND WINE_LOADER)
    add_test(NAME wine_start
             COMMAND ${CMAKE_SOURCE_DIR}/cmake/wine-fixture.sh start ${WSM_WINEPREFIX})
    set_tests_properties(wine_start PROPERTIES FIXTURES_SETUP wine LABELS "fast;stress"
                         TIMEOUT 180)
    add_test(NAME wine_stop
             COMMAND ${CMAKE_SOURCE_DIR}/cmake/wine-fixture.sh stop ${WSM_WINEPREFIX})
    set_tests_properties(wine_stop PROPERTIES FIXTURES_CLEANUP wine LABELS "fast;stress")
else()
    # Native Windows: no fixture is needed; define it empty so tests can
    # require it everywhere.
    add_test(NAME wine_start COMMAND ${CMAKE_COMMAND} -E true)
    set_tests_properties(wine_start PROPERTIES FIXTURES_SETUP wine LABELS "fast;stress")
endif()

add_subdirectory(tests)

# wsm_server_test(NAME SERVER SERVER_ARGS LABELS TIMEOUT ARGS...): run
# `client ARGS` against SERVER started with SERVER_ARGS; the client starts
# it (--server, from the bin folder) and stops it through its stop event.
function(wsm_server_test name server server_args labels timeout)
    string(STRIP "$<TARGET_FILE_NAME:${server}> ${server_args}" command)
    add_test(NAME ${name}
             COMMAND client ${ARGN} --server "${command}"
             WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
    set_tests_properties(${name} PROPERTIES LABELS "${labels}" FIXTURES_REQUIRED wine
                         TIMEOUT ${timeout})
endfunction()

# wsm_client_test(NAME SERVER LABELS TIMEOUT ARGS...): the same, the server
# with its default options.
function(wsm_client_test name server labels timeout)
    wsm_server_test(${name} ${server} "" "${labels}" ${timeout} ${ARGN})
endfunction()

foreach(server ${WSM_SERVERS})
    wsm_client_test(check_${server} ${server} "fast;conformance" 300 check)
    wsm_client_test(stress_${server}_1000 ${server} "load" 600
                    load --conns 1000 --msgs 20 --size 64)
endforeach()
# Each model folder may add tests of its own in <dir>/tests.cmake.
foreach(dir ${WSM_MODEL_DIRS})
    if(EXISTS ${CMAKE_SOURCE_DIR}/${dir}/tests.cmake)
        include(${CMAKE_SOURCE_DIR}/${dir}/tests.cmake)
    endif()
endforeach()
include(${CMAKE_SOURCE_DIR}/cmake/stress.cmake)   # label stress: scripts/test.sh --stress

# The reading guides quote the code; this fails when they drift apart.
add_test(NAME doc_quotes
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -P
                 ${CMAKE_SOURCE_DIR}/cmake/check-doc-quotes.cmake)
set_tests_properties(doc_quotes PROPERTIES LABELS "fast;docs")
# The pitfall boxes of the guides name the tests that guard each fix; this
# fails when a box is malformed or names a test this build does not have.
add_test(NAME doc_pitfalls
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DBUILD_DIR=${CMAKE_BINARY_DIR}
                 -DCTEST=${CMAKE_CTEST_COMMAND} -DCONFIG=$<CONFIG> -P
                 ${CMAKE_SOURCE_DIR}/cmake/check-doc-pitfalls.cmake)
set_tests_properties(doc_pitfalls PROPERTIES LABELS "fast;docs")
# docs/README.md, docs/protocol.md and the lab handouts: their links lead
# somewhere, and every command block of a handout runs as written under
# Wine, against this build (cmake/check-labs.sh says how).
if(CMAKE_CROSSCOMPILING AND WINE_LOADER)
    add_test(NAME doc_labs
             COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/check-labs.sh ${CMAKE_SOURCE_DIR}
                     ${CMAKE_BINARY_DIR})
    set_tests_properties(doc_labs PROPERTIES LABELS "docs" FIXTURES_REQUIRED wine
                         TIMEOUT 600)
endif()

# The comparison mode end to end on one small server run: it starts the
# server, runs two short scenarios, stops it, writes the table, CSV and SVG.
add_test(NAME compare_smoke
         COMMAND client compare --bin . --servers blocking --scenarios pingpong1,burst
                 --quick --out ${CMAKE_BINARY_DIR}/compare-smoke
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(compare_smoke PROPERTIES LABELS "fast" FIXTURES_REQUIRED wine
                     TIMEOUT 300)
