cmake_minimum_required(VERSION 3.20)
# Keeps the diagrams of the guides true to their sources: every
# docs/diagrams/NAME.dot must render with Graphviz (`dot -Tsvg`, into
# OUT_DIR), and the NAME.svg beside it, which the guides embed, must have
# been rendered from that very source: scripts/diagrams.sh writes the
# SHA-256 of the .dot into the SVG, and this compares it with the .dot as
# it is now (CR LF read as LF). An .svg without its .dot fails too.
#
# Without `dot` the check is skipped (exit code 77 on CMake 3.29 and newer;
# the test's SKIP_REGULAR_EXPRESSION matches the message on older ones),
# except on a Linux host, where it fails: scripts/setup-debian.sh installs
# Graphviz there.
#
# Run: cmake -DSOURCE_DIR=<source tree> -DOUT_DIR=<dir for the renders> -P this
if(NOT SOURCE_DIR OR NOT OUT_DIR)
    message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<source tree> -DOUT_DIR=<dir> "
                        "-P check-diagrams.cmake")
endif()

set(skip_code 77)
find_program(DOT_EXECUTABLE dot)
if(NOT DOT_EXECUTABLE)
    if(CMAKE_HOST_SYSTEM_NAME STREQUAL "Linux")
        message(FATAL_ERROR "Graphviz's dot is not installed: apt-get install graphviz "
                            "(bash scripts/setup-debian.sh installs it)")
    endif()
    message("doc_diagrams: skipped: Graphviz's dot was not found on PATH")
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.29)
        cmake_language(EXIT ${skip_code})
    endif()
    return()
endif()

set(dir ${SOURCE_DIR}/docs/diagrams)
file(GLOB sources ${dir}/*.dot)
file(GLOB pictures ${dir}/*.svg)
list(SORT sources)
file(REMOVE_RECURSE ${OUT_DIR})
file(MAKE_DIRECTORY ${OUT_DIR})

set(checked 0)
set(failed 0)
foreach(src ${sources})
    get_filename_component(name ${src} NAME_WE)
    set(what "docs/diagrams/${name}.dot")
    math(EXPR checked "${checked} + 1")
    set(why "")
    execute_process(COMMAND ${DOT_EXECUTABLE} -Tsvg ${src} -o ${OUT_DIR}/${name}.svg
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    string(STRIP "${err}" err)
    if(NOT rc EQUAL 0 OR err MATCHES "(^|\n)Error")
        set(why "dot -Tsvg failed (exit ${rc}): ${err}")
    elseif(NOT EXISTS ${OUT_DIR}/${name}.svg)
        set(why "dot -Tsvg wrote no SVG")
    else()
        if(NOT err STREQUAL "")
            message("${what}: dot says: ${err}")
        endif()
        file(READ ${src} text)
        string(REPLACE "\r\n" "\n" text "${text}")
        string(SHA256 hash "${text}")
        if(NOT EXISTS ${dir}/${name}.svg)
            set(why "no ${name}.svg beside it: run bash scripts/diagrams.sh")
        else()
            file(READ ${dir}/${name}.svg svg)
            string(REGEX MATCH "<!-- source: ${name}\\.dot sha256 ([0-9a-f]+) " stamp "${svg}")
            if(NOT stamp)
                set(why "${name}.svg was not rendered by scripts/diagrams.sh (no source hash in it): run it")
            elseif(NOT CMAKE_MATCH_1 STREQUAL hash)
                set(why "${name}.svg was rendered from another version of the .dot: run bash scripts/diagrams.sh")
            endif()
        endif()
    endif()
    if(NOT why STREQUAL "")
        message(SEND_ERROR "${what}: ${why}")
        math(EXPR failed "${failed} + 1")
    endif()
endforeach()

foreach(picture ${pictures})
    get_filename_component(name ${picture} NAME_WE)
    if(NOT EXISTS ${dir}/${name}.dot)
        message(SEND_ERROR "docs/diagrams/${name}.svg: no ${name}.dot beside it "
                           "(every diagram is rendered from its Graphviz source)")
        math(EXPR failed "${failed} + 1")
    endif()
endforeach()

message("${checked} diagrams rendered with ${DOT_EXECUTABLE}, ${failed} failed")
if(checked EQUAL 0)
    message(FATAL_ERROR "no .dot file in docs/diagrams/: nothing was checked")
endif()
