# A server built from a copy of its server.c with one patch applied: the
# form of article 003's bugs (04_overlapped_event) and of the "break it"
# exercises (docs/labs/breaks/, cmake/breaks.cmake). The tree itself never
# holds the broken code; the patch is applied at build time, so a patch
# that no longer applies is found at once.
#
#   wsm_patched_server(TARGET name SERVER server_target PATCH file)
#
# builds the executable TARGET from SERVER's server.c with PATCH applied,
# with SERVER's libraries, definitions and options (select_server's
# FD_SETSIZE, asyncselect_server's user32). PATCH is a diff made from the
# repository root (`--- a/NN_model/server.c`, `+++ b/NN_model/server.c`),
# the form a student applies with `git apply` to a copy of the repository;
# it may touch that server.c only. It is applied with git (or GNU patch
# when git is missing) to a copy in the build tree.
#
# When the patch no longer applies (server.c changed under it) or changes
# nothing, the build goes on and TARGET becomes a stub that prints, as its
# first line, that the patch must be remade, and exits 2: the tests of
# TARGET then fail and say why, while the rest of the suite still builds.
#
# The same file is the script that does the copying and patching (cmake -P
# with -DSOURCE -DPATCH -DMODEL_DIR -DOUT -DGIT -DPATCH_PROGRAM).

if(CMAKE_SCRIPT_MODE_FILE)
    # --- script mode: copy SOURCE to OUT, apply PATCH to it ---
    get_filename_component(out_dir "${OUT}" DIRECTORY)
    get_filename_component(patch_name "${PATCH}" NAME)
    file(MAKE_DIRECTORY "${out_dir}")
    set(why "")
    # The patch names MODEL_DIR/server.c and nothing else.
    file(STRINGS "${PATCH}" names REGEX "^(---|\\+\\+\\+) ")
    if(NOT names)
        set(why "it holds no diff")
    endif()
    foreach(line IN LISTS names)
        if(NOT line MATCHES "^(--- a|\\+\\+\\+ b)/${MODEL_DIR}/server\\.c(\t.*)?$")
            set(why "it must patch ${MODEL_DIR}/server.c alone, from the repository root (a/${MODEL_DIR}/server.c, b/${MODEL_DIR}/server.c), not \"${line}\"")
        endif()
    endforeach()
    if(why STREQUAL "")
        configure_file("${SOURCE}" "${OUT}" COPYONLY)
        if(GIT)
            # Outside any repository, whatever directory the build tree is in.
            get_filename_component(parent "${out_dir}" DIRECTORY)
            set(ENV{GIT_CEILING_DIRECTORIES} "${parent}")
            set(apply "${GIT}" apply -p2 "${PATCH}")
        else()
            set(apply "${PATCH_PROGRAM}" -p2 --batch --forward -s -i "${PATCH}")
        endif()
        execute_process(COMMAND ${apply} WORKING_DIRECTORY "${out_dir}"
                        RESULT_VARIABLE rc OUTPUT_VARIABLE output ERROR_VARIABLE output)
        file(READ "${SOURCE}" before)
        file(READ "${OUT}" after)
        if(NOT rc EQUAL 0)
            string(STRIP "${output}" output)
            set(why "it no longer applies to ${MODEL_DIR}/server.c (${output})")
        elseif(before STREQUAL after)
            set(why "it changed nothing in ${MODEL_DIR}/server.c")
        endif()
    endif()
    if(NOT why STREQUAL "")
        message(WARNING "${patch_name}: ${why}; ${OUT} is a stub that says so")
        string(REPLACE "\\" "\\\\" why "${why}")
        string(REPLACE "\"" "\\\"" why "${why}")
        string(REPLACE "?" "\\?" why "${why}")   # no trigraph
        string(REGEX REPLACE "[\r\n]+" " " why "${why}")
        file(WRITE "${OUT}"
             "/* ${patch_name} could not be applied: a stub (cmake/patched-server.cmake). */\n"
             "#include <stdio.h>\n\n"
             "int main(void)\n{\n"
             "    printf(\"%s\\n\", \"BROKEN PATCH ${patch_name}: ${why}: remake it\");\n"
             "    return 2;\n}\n")
    endif()
    return()
endif()

# Included by each CMakeLists that uses it (no include guard: WSM_CAN_PATCH
# is set in the including directory's scope; the searches are cached).
find_package(Git QUIET)
find_program(WSM_PATCH_EXECUTABLE patch)
if(GIT_FOUND OR WSM_PATCH_EXECUTABLE)
    set(WSM_CAN_PATCH ON)
else()
    set(WSM_CAN_PATCH OFF)
    get_property(warned GLOBAL PROPERTY WSM_PATCH_WARNED)
    if(NOT warned)
        message(WARNING "neither git nor patch found: the patched servers (article 003's "
                        "bugs, the break-it exercises) are left out")
        set_property(GLOBAL PROPERTY WSM_PATCH_WARNED ON)
    endif()
endif()

function(wsm_patched_server)
    cmake_parse_arguments(PARSE_ARGV 0 p "" "TARGET;SERVER;PATCH" "")
    foreach(kw TARGET SERVER PATCH)
        if(NOT p_${kw})
            message(FATAL_ERROR "wsm_patched_server(${p_TARGET}): ${kw} is missing")
        endif()
    endforeach()
    if(p_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "wsm_patched_server(${p_TARGET}): unexpected ${p_UNPARSED_ARGUMENTS}")
    endif()
    if(NOT TARGET ${p_SERVER})
        message(FATAL_ERROR "wsm_patched_server(${p_TARGET}): no target ${p_SERVER}")
    endif()
    if(NOT EXISTS ${p_PATCH})
        message(FATAL_ERROR "wsm_patched_server(${p_TARGET}): no file ${p_PATCH}")
    endif()
    if(NOT GIT_EXECUTABLE AND NOT WSM_PATCH_EXECUTABLE)
        return()   # WSM_CAN_PATCH is OFF: said above
    endif()
    get_target_property(src_dir ${p_SERVER} SOURCE_DIR)
    get_filename_component(model_dir ${src_dir} NAME)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/patched/${p_TARGET}/server.c)
    add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -DSOURCE=${src_dir}/server.c -DPATCH=${p_PATCH}
                -DMODEL_DIR=${model_dir} -DOUT=${out} -DGIT=${GIT_EXECUTABLE}
                -DPATCH_PROGRAM=${WSM_PATCH_EXECUTABLE}
                -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
        DEPENDS ${src_dir}/server.c ${p_PATCH} ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
        COMMENT "${p_TARGET}: ${model_dir}/server.c with ${p_PATCH}"
        VERBATIM)
    add_executable(${p_TARGET} ${out})
    # Built as SERVER is: its libraries, definitions, options, includes.
    foreach(prop LINK_LIBRARIES COMPILE_DEFINITIONS COMPILE_OPTIONS INCLUDE_DIRECTORIES)
        get_target_property(value ${p_SERVER} ${prop})
        if(value)
            set_property(TARGET ${p_TARGET} PROPERTY ${prop} "${value}")
        endif()
    endforeach()
endfunction()
