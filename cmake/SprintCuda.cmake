# SprintCuda.cmake: decides whether the CUDA backend is built (SPRINT_CUDA = AUTO/ON/OFF) and finds the
# NVIDIA libraries it links: cudart (static), cuBLAS/cuBLASLt, cuDNN and NCCL.
#
# CUDA architectures: a user-set CMAKE_CUDA_ARCHITECTURES is respected. Default: 90 (H100/H200, the machines
# sprint is tuned and tested on). Add 80 for A100, 89 for L4/RTX 40xx, 86 for RTX 30xx, e.g.
#   cmake -DCMAKE_CUDA_ARCHITECTURES="80;90" ...
# "native" needs a GPU at configure time and therefore is never the default.
set(SPRINT_HAS_CUDA 0)
set(SPRINT_HAS_NCCL 0)
if(SPRINT_CUDA STREQUAL "OFF")
  return()
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(SPRINT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SPRINT_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER or PATH)")
  endif()
  message(STATUS "sprint: no CUDA compiler found, building without the CUDA backend")
  return()
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
enable_language(CUDA)
# CMake < 3.26 knows no C++20 flag for nvcc ("requires the language dialect CUDA20"); nvcc >= 12 accepts it.
if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

find_path(SPRINT_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(SPRINT_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
if(NOT SPRINT_CUDNN_INCLUDE_DIR OR NOT SPRINT_CUDNN_LIBRARY)
  if(SPRINT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SPRINT_CUDA=ON but cuDNN was not found next to the CUDA toolkit")
  endif()
  message(STATUS "sprint: cuDNN not found, building without the CUDA backend")
  return()
endif()
add_library(sprint_cudnn_external INTERFACE)
target_include_directories(sprint_cudnn_external INTERFACE "${SPRINT_CUDNN_INCLUDE_DIR}")
target_link_libraries(sprint_cudnn_external INTERFACE "${SPRINT_CUDNN_LIBRARY}")

find_path(SPRINT_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(SPRINT_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
if(SPRINT_NCCL_INCLUDE_DIR AND SPRINT_NCCL_LIBRARY)
  set(SPRINT_HAS_NCCL 1)
  add_library(sprint_nccl_external INTERFACE)
  target_include_directories(sprint_nccl_external INTERFACE "${SPRINT_NCCL_INCLUDE_DIR}")
  target_link_libraries(sprint_nccl_external INTERFACE "${SPRINT_NCCL_LIBRARY}")
endif()

set(SPRINT_HAS_CUDA 1)
