# sepc_add_model: compile a model.json with sepc at build time into a linkable target.
#
#   sepc_add_model(<target> MODEL <model.json> [TARGET_ARCH <sepc target>] [THREADS <n>]
#                  [RANDOM_WEIGHTS <seed>])
#
# <target> is an INTERFACE library: linking it adds the model's static library (NAME.a),
# its header directory (#include "NAME.h") and the libraries the kernel needs (libm, and
# the OpenMP runtime for parallel x86 builds). TARGET_ARCH is a `sepc compile --target`
# (default: host; required when cross-compiling, e.g. arm-neon or arm-sve). The compile
# reruns when the model.json or its weights change. Also defines sepc::npy, the .npy
# reader/writer of sepc's C runtime pieces (runtime/c).
include_guard(GLOBAL)

set(SEPC_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." CACHE PATH "the sepc source tree")
find_program(SEPC_EXECUTABLE NAMES sepc DOC "the sepc compiler (pip install -e <sepc>)")

if(NOT TARGET sepc_npy)
  add_library(sepc_npy STATIC "${SEPC_ROOT}/runtime/c/sepc_npy.c")
  target_include_directories(sepc_npy PUBLIC "${SEPC_ROOT}/runtime/c")
  add_library(sepc::npy ALIAS sepc_npy)
endif()

function(sepc_add_model target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "MODEL;TARGET_ARCH;THREADS;RANDOM_WEIGHTS" "")
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "sepc_add_model(${target}): MODEL <model.json> is required")
  endif()
  if(NOT SEPC_EXECUTABLE)
    message(FATAL_ERROR "sepc_add_model(${target}): the sepc compiler was not found; "
                        "install it (pip install -e <sepc>) or set SEPC_EXECUTABLE")
  endif()
  get_filename_component(model "${ARG_MODEL}" ABSOLUTE)
  get_filename_component(model_dir "${model}" DIRECTORY)
  file(READ "${model}" json)
  string(JSON name ERROR_VARIABLE bad GET "${json}" name)
  if(bad)
    message(FATAL_ERROR "sepc_add_model(${target}): ${model}: no model name (${bad})")
  endif()
  set(depends "${model}")
  string(JSON weights ERROR_VARIABLE no_weights GET "${json}" weights)
  if(NOT no_weights AND NOT DEFINED ARG_RANDOM_WEIGHTS)
    list(APPEND depends "${model_dir}/${weights}")
  endif()

  set(arch "${ARG_TARGET_ARCH}")
  if(NOT arch)
    if(CMAKE_CROSSCOMPILING)
      message(FATAL_ERROR "sepc_add_model(${target}): TARGET_ARCH is required when "
                          "cross-compiling (arm-neon or arm-sve)")
    endif()
    set(arch host)
  endif()

  set(out "${CMAKE_CURRENT_BINARY_DIR}/sepc/${target}")
  file(MAKE_DIRECTORY "${out}")
  set(command "${SEPC_EXECUTABLE}" compile "${model}" --target "${arch}" --emit-lib static
              -o "${out}")
  if(ARG_THREADS)
    list(APPEND command --threads "${ARG_THREADS}")
  endif()
  if(DEFINED ARG_RANDOM_WEIGHTS)
    list(APPEND command --random-weights "${ARG_RANDOM_WEIGHTS}")
  endif()
  add_custom_command(
    OUTPUT "${out}/${name}.a" "${out}/${name}.h" "${out}/${name}.so" "${out}/${name}.json"
    COMMAND ${command}
    DEPENDS ${depends}
    COMMENT "sepc: compiling ${name} for ${arch}"
    VERBATIM)
  add_custom_target(${target}_compile DEPENDS "${out}/${name}.a" "${out}/${name}.h")

  add_library(${target} INTERFACE)
  target_include_directories(${target} INTERFACE "${out}")
  target_link_libraries(${target} INTERFACE "${out}/${name}.a" m)
  # x86 builds run their tiles as OpenMP loops on LLVM's runtime (libomp, Debian libomp-dev).
  if(arch MATCHES "^x86" OR (arch STREQUAL "host" AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64"))
    find_library(SEPC_OPENMP_RUNTIME NAMES omp libomp.so.5 omp5
                 HINTS /usr/lib/x86_64-linux-gnu /usr/lib/llvm-19/lib /usr/lib/llvm-18/lib)
    if(NOT SEPC_OPENMP_RUNTIME)
      message(FATAL_ERROR "sepc_add_model(${target}): x86 builds need LLVM's OpenMP runtime "
                          "(Debian package libomp-dev)")
    endif()
    target_link_libraries(${target} INTERFACE "${SEPC_OPENMP_RUNTIME}")
  endif()
  add_dependencies(${target} ${target}_compile)
endfunction()
