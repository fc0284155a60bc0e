# CTest: the Wine fixtures, the unit tests and the conformance battery.
# Every test has a label that says what it is:
#   unit         a unit test (tests/)
#   conformance  the conformance battery, client check (whole or --only)
#   load         many connections echoing through client load
#   stress       a client stress scenario at full counts: left out of the
#                default run, `scripts/test.sh --stress` runs them
#   smoke        a command end to end at small counts (compare, stress)
#   docs         docs/ kept true to the code
#   labs         the break-it exercises (cmake/breaks.cmake): each patch of
#                docs/labs/breaks/ built and caught, the real server not
#   analysis     cppcheck and clang-tidy (cmake/static-analysis.cmake)
#   fuzz         the libFuzzer targets (native-asan build, tests/fuzz)
#   fixture      the Wine prefix's wineserver, started and stopped (empty on
#                Windows)
# and `fast` when it is quick enough for `scripts/test.sh -L fast`, `native`
# when it runs in the native build.
if(CMAKE_CROSSCOMPILING AND WINE_LOADER)
    add_test(NAME wine_start
             COMMAND ${CMAKE_SOURCE_DIR}/cmake/wine-fixture.sh start ${WSM_WINEPREFIX})
    set_tests_properties(wine_start PROPERTIES FIXTURES_SETUP wine
                         LABELS "fixture;fast;stress" TIMEOUT 180)
    add_test(NAME wine_stop
             COMMAND ${CMAKE_SOURCE_DIR}/cmake/wine-fixture.sh stop ${WSM_WINEPREFIX})
    set_tests_properties(wine_stop PROPERTIES FIXTURES_CLEANUP wine
                         LABELS "fixture;fast;stress")
else()
    # Native Windows: no fixture is needed; define it empty so tests can
    # require it everywhere.
    add_test(NAME wine_start COMMAND ${CMAKE_COMMAND} -E true)
    set_tests_properties(wine_start PROPERTIES FIXTURES_SETUP wine
                         LABELS "fixture;fast;stress")
endif()

add_subdirectory(tests)

# wsm_require_keywords(FUNCTION PREFIX KEYWORD...): stops the configuration
# when a call of FUNCTION (parsed by cmake_parse_arguments into PREFIX_*)
# left out one of the KEYWORDs or has words that follow no keyword, so a
# slip in a call fails here and not as a test that runs the wrong thing.
function(wsm_require_keywords fn prefix)
    if(DEFINED ${prefix}_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR
                "${fn}(${${prefix}_NAME}): unexpected arguments: ${${prefix}_UNPARSED_ARGUMENTS}")
    endif()
    foreach(kw ${ARGN})
        if(NOT DEFINED ${prefix}_${kw})
            message(FATAL_ERROR "${fn}(${${prefix}_NAME}): ${kw} is missing or empty")
        endif()
    endforeach()
endfunction()

# Runs `client ARGS...` against SERVER started with SERVER_ARGS ("" for its
# defaults); the client starts it (--server, from the bin folder) and stops
# it through its stop event. The two functions below call it.
function(wsm_add_client_test name server server_args labels timeout)
    string(STRIP "$<TARGET_FILE_NAME:${server}> ${server_args}" command)
    add_test(NAME ${name}
             COMMAND client ${ARGN} --server "${command}"
             WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
    set_tests_properties(${name} PROPERTIES LABELS "${labels}" FIXTURES_REQUIRED wine
                         TIMEOUT ${timeout})
endfunction()

# wsm_server_test(NAME test SERVER target SERVER_ARGS "options"
#                 LABELS label... TIMEOUT seconds ARGS client-argument...):
# `client ARGS` against SERVER started with the options SERVER_ARGS, e.g.
#   wsm_server_test(NAME select_threads_check SERVER select_server
#                   SERVER_ARGS "--threads 4" LABELS fast conformance
#                   TIMEOUT 300 ARGS check)
function(wsm_server_test)
    cmake_parse_arguments(PARSE_ARGV 0 t "" "NAME;SERVER;SERVER_ARGS;TIMEOUT" "LABELS;ARGS")
    wsm_require_keywords(wsm_server_test t NAME SERVER SERVER_ARGS LABELS TIMEOUT ARGS)
    wsm_add_client_test(${t_NAME} ${t_SERVER} "${t_SERVER_ARGS}" "${t_LABELS}" ${t_TIMEOUT}
                        ${t_ARGS})
endfunction()

# wsm_client_test(NAME test SERVER target LABELS label... TIMEOUT seconds
#                 ARGS client-argument...): the same, the server with its
# default options.
function(wsm_client_test)
    cmake_parse_arguments(PARSE_ARGV 0 t "" "NAME;SERVER;TIMEOUT" "LABELS;ARGS")
    wsm_require_keywords(wsm_client_test t NAME SERVER LABELS TIMEOUT ARGS)
    wsm_add_client_test(${t_NAME} ${t_SERVER} "" "${t_LABELS}" ${t_TIMEOUT} ${t_ARGS})
endfunction()

foreach(server ${WSM_SERVERS})
    wsm_client_test(NAME check_${server} SERVER ${server} LABELS fast conformance
                    TIMEOUT 300 ARGS check)
    # A load run (client load, 1000 connections at once, in the default
    # run), so labelled load; the name is older than the stress label, and
    # the guides' pitfall boxes cite it.
    wsm_client_test(NAME stress_${server}_1000 SERVER ${server} LABELS load TIMEOUT 600
                    ARGS load --conns 1000 --msgs 20 --size 64)
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
# The diagrams of the guides: every docs/diagrams/*.dot renders with
# Graphviz, and the .svg beside it was rendered from it (scripts/diagrams.sh
# renders them). Skipped where dot is missing, except on Linux.
add_test(NAME doc_diagrams
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR}
                 -DOUT_DIR=${CMAKE_BINARY_DIR}/diagrams -P
                 ${CMAKE_SOURCE_DIR}/cmake/check-diagrams.cmake)
set_tests_properties(doc_diagrams PROPERTIES LABELS "fast;docs" SKIP_RETURN_CODE 77
                     SKIP_REGULAR_EXPRESSION "doc_diagrams: skipped")
# Every server.c follows the skeleton of docs/steps.md: its step markers
# ascend, with the same first lines in every file, and each step's region
# has the names of the Vocabulary table.
add_test(NAME doc_steps
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -P
                 ${CMAKE_SOURCE_DIR}/cmake/check-steps.cmake)
set_tests_properties(doc_steps PROPERTIES LABELS "fast;docs")
# The pitfall boxes of the guides name the tests that guard each fix; this
# fails when a box is malformed or names a test this build does not have.
add_test(NAME doc_pitfalls
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DBUILD_DIR=${CMAKE_BINARY_DIR}
                 -DCTEST=${CMAKE_CTEST_COMMAND} -DCONFIG=$<CONFIG> -P
                 ${CMAKE_SOURCE_DIR}/cmake/check-doc-pitfalls.cmake)
set_tests_properties(doc_pitfalls PROPERTIES LABELS "fast;docs")
# docs/README.md, docs/protocol.md and the lab handouts: their links lead
# somewhere, and every command block of a handout runs as written under
# Wine, against this build: the bash form, and the Windows cmd form in
# Wine's cmd.exe (cmake/check-labs.sh says how).
if(CMAKE_CROSSCOMPILING AND WINE_LOADER)
    add_test(NAME doc_labs
             COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/check-labs.sh ${CMAKE_SOURCE_DIR}
                     ${CMAKE_BINARY_DIR})
    set_tests_properties(doc_labs PROPERTIES LABELS "docs" FIXTURES_REQUIRED wine
                         ENVIRONMENT "WINE_LOADER=${WINE_LOADER}" TIMEOUT 900)
endif()

# The comparison mode end to end on one small server run: it starts the
# server, runs two short scenarios twice (--repeat 2: medians and ranges),
# stops it, writes the table, CSV and SVG.
add_test(NAME compare_smoke
         COMMAND client compare --bin . --servers blocking --scenarios pingpong1,burst
                 --quick --repeat 2 --out ${CMAKE_BINARY_DIR}/compare-smoke
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(compare_smoke PROPERTIES LABELS "fast;smoke" FIXTURES_REQUIRED wine
                     TIMEOUT 300)

# The two client features the labs use to keep a server busy within one
# command (docs/labs/02_select.md, 06_iocp.md). flood: 1000 frames of
# 16 KiB (16 MB, more than the socket buffers hold) sent without reading;
# the server must push back (send() takes nothing for a second), then
# answer every frame in order. idle --probe: round trips on the STATS
# connection while idle connections are held, reported on the last line.
# An error line of the client (its own, or the server's exit) fails either.
wsm_client_test(NAME client_flood SERVER iocp_server LABELS fast smoke TIMEOUT 300
                ARGS flood --seconds 3)
set_tests_properties(client_flood PROPERTIES
                     PASS_REGULAR_EXPRESSION "pushed_back=yes replies=1000 errors=0"
                     FAIL_REGULAR_EXPRESSION "client: ")
wsm_server_test(NAME client_idle_probe SERVER select_server SERVER_ARGS "--threads 1"
                LABELS fast smoke TIMEOUT 300 ARGS idle --conns 50 --seconds 0 --probe 20)
set_tests_properties(client_idle_probe PROPERTIES
                     PASS_REGULAR_EXPRESSION "held=50 echoed=50 errors=0 .* probe=20 probe_p50_ms=[0-9]"
                     FAIL_REGULAR_EXPRESSION "client: ")
