# SprintWarnings.cmake: warning flags, sanitizer preset and host-code tuning shared by every sprint target.
add_library(sprint_build_flags INTERFACE)
target_compile_options(sprint_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${SPRINT_WERROR}>>:-Werror>)
if(SPRINT_NATIVE)
  target_compile_options(sprint_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
if(SPRINT_SANITIZE)
  # ASan + UBSan on host code. With CUDA run tests with ASAN_OPTIONS=protect_shadow_gap=0.
  set(_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_compile_options(sprint_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${_san}>)
  target_link_options(sprint_build_flags INTERFACE ${_san})
endif()
if(SPRINT_TSAN)
  # ThreadSanitizer on host code: the pipeline's stage threads, loader workers, allocator locks.
  if(SPRINT_SANITIZE)
    message(FATAL_ERROR "SPRINT_TSAN and SPRINT_SANITIZE (ASan) cannot be combined")
  endif()
  set(_tsan -fsanitize=thread -fno-omit-frame-pointer)
  target_compile_options(sprint_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${_tsan}>)
  target_link_options(sprint_build_flags INTERFACE ${_tsan})
endif()
