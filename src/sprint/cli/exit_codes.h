// exit_codes.h: the exit codes of the `sprint` command, one per class of failure (README "Errors" lists them).
#pragma once

#include <exception>

namespace sprint::cli {

enum class ExitCode : int {
  kOk = 0,
  kUsage = 2,      ///< bad options or arguments (unknown option, value out of range, options that exclude each other)
  kInputData = 3,  ///< a file or data set exists but is malformed (corrupt data, a checkpoint that does not fit)
  kIo = 4,         ///< a file cannot be found, read or written
  kDevice = 5,     ///< a device or library failed or lacks something (CUDA, cuDNN, oneDNN, out of memory)
  kDiverged = 6,   ///< training stopped on a non-finite loss
  kInternal = 70,  ///< a bug in sprint
};

/// The exit code for an exception that reached the top of the command.
ExitCode exit_code_for(const std::exception& e);
/// "usage", "input data", ...: the class of a code, for messages and the README.
const char* exit_code_name(ExitCode code);

}  // namespace sprint::cli
