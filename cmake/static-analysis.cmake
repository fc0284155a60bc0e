# static_analysis: cppcheck and clang-tidy over every C file of this
# (Windows) build, as compile_commands.json says it is built
# (scripts/analyze.py; checks in .clang-tidy, cmake/cppcheck-suppressions.txt).
# Any finding fails the test. Only where the build runs on a Unix host
# (cross-compiled, tested under Wine): scripts/setup-debian.sh installs the
# tools there. It uses both cores, so CTest runs it alone.
if(NOT CMAKE_HOST_UNIX OR NOT CMAKE_CROSSCOMPILING)
    return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
    message(WARNING "python3 not found: the static_analysis test is left out")
    return()
endif()
add_test(NAME static_analysis
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/analyze.py
                 ${CMAKE_BINARY_DIR} --jobs 2)
set_tests_properties(static_analysis PROPERTIES
    LABELS "fast;analysis"
    PROCESSORS 2
    TIMEOUT 900)

# msvc_dialect: every Windows source compiled by clang in cl mode at /W4
# /WX against Wine's Windows SDK headers (cmake/check-msvc-dialect.cmake
# says what that proves and what only a real MSVC build would).
# scripts/setup-debian.sh installs clang and libwine-dev.
find_program(WSM_CLANG NAMES clang clang-14)
find_path(WSM_WINE_SDK windows/windows.h PATHS /usr/include/wine/wine NO_DEFAULT_PATH)
if(NOT WSM_CLANG)
    set(WSM_CLANG clang)   # the test then fails and says why
endif()
if(NOT WSM_WINE_SDK)
    set(WSM_WINE_SDK /usr/include/wine/wine)
endif()
add_test(NAME msvc_dialect
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DCLANG=${WSM_CLANG}
                 -DWINE_SDK=${WSM_WINE_SDK} -DOUT_DIR=${CMAKE_BINARY_DIR}/msvc-dialect
                 -P ${CMAKE_SOURCE_DIR}/cmake/check-msvc-dialect.cmake)
set_tests_properties(msvc_dialect PROPERTIES LABELS "fast;analysis" TIMEOUT 600)
