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
