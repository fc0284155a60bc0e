cmake_minimum_required(VERSION 3.20)
# The MSVC-dialect check: compiles every Windows source of the suite with
# clang in cl mode (clang --driver-mode=cl, target x86_64-pc-windows-msvc,
# /std:c11 /W4 /WX, and -Wvla -Wgnu: no VLA, no GNU extension), the
# flags and dialect of the msvc preset, against
# Wine's Windows SDK headers (Debian's libwine-dev) instead of Microsoft's,
# whose gaps cmake/msvc-dialect/shim.h fills. It proves that the code is C
# that MSVC's front end accepts with no warning at /W4; it does not prove
# that it links against Microsoft's libraries, nor what cl.exe's own
# optimiser and analysers would say: only a real MSVC build does that.
# Run: cmake -DSOURCE_DIR=... -DCLANG=... -DWINE_SDK=.../include/wine/wine
#      -DOUT_DIR=... -P this
foreach(var SOURCE_DIR CLANG WINE_SDK OUT_DIR)
    if(NOT ${var})
        message(FATAL_ERROR "usage: cmake -DSOURCE_DIR= -DCLANG= -DWINE_SDK= -DOUT_DIR= -P check-msvc-dialect.cmake")
    endif()
endforeach()
if(NOT EXISTS "${WINE_SDK}/windows/windows.h" OR NOT EXISTS "${WINE_SDK}/msvcrt/stdio.h")
    message(FATAL_ERROR "no Windows SDK headers in ${WINE_SDK}: install libwine-dev "
                        "(scripts/setup-debian.sh does)")
endif()

# Every source the Windows build compiles: common/, each model folder, the
# client without its POSIX platform files.
file(GLOB sources RELATIVE ${SOURCE_DIR}
     ${SOURCE_DIR}/common/*.c ${SOURCE_DIR}/[0-9][0-9]_*/*.c
     ${SOURCE_DIR}/client/*.c ${SOURCE_DIR}/client/*/*.c)
list(FILTER sources EXCLUDE REGEX "posix")
file(GLOB client_dirs LIST_DIRECTORIES TRUE ${SOURCE_DIR}/client/*)
set(includes -I${SOURCE_DIR}/common -I${SOURCE_DIR}/client)
foreach(dir ${client_dirs})
    if(IS_DIRECTORY ${dir})
        list(APPEND includes -I${dir})
    endif()
endforeach()

file(MAKE_DIRECTORY ${OUT_DIR})
set(failed 0)
set(count 0)
foreach(src ${sources})
    math(EXPR count "${count} + 1")
    execute_process(
        COMMAND ${CLANG} --driver-mode=cl --target=x86_64-pc-windows-msvc /nologo
                /std:c11 /W4 /WX /c /X -Wvla -Wgnu
                -imsvc ${WINE_SDK}/msvcrt -imsvc ${WINE_SDK}/windows
                /FI${SOURCE_DIR}/cmake/msvc-dialect/shim.h
                /DWIN32_LEAN_AND_MEAN /D_WIN32_WINNT=0x0601
                /D_CRT_SECURE_NO_WARNINGS /D_WINSOCK_DEPRECATED_NO_WARNINGS
                ${includes} /Fo${OUT_DIR}/msvc-dialect.obj -- ${SOURCE_DIR}/${src}
        RESULT_VARIABLE rc
        OUTPUT_VARIABLE out
        ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        math(EXPR failed "${failed} + 1")
        message("${src}: not accepted in MSVC's dialect at /W4 /WX:\n${out}")
    endif()
endforeach()
if(count EQUAL 0)
    message(FATAL_ERROR "no sources found under ${SOURCE_DIR}: nothing was checked")
endif()
math(EXPR passed "${count} - ${failed}")
message("${passed} of ${count} sources accepted in MSVC's dialect (clang-cl /W4 /WX)")
if(failed GREATER 0)
    message(FATAL_ERROR "${failed} sources failed the MSVC-dialect check")
endif()
