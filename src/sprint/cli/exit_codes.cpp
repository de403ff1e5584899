// exit_codes.cpp: exception classes to exit codes.
#include "sprint/cli/exit_codes.h"

#include "sprint/core/error.h"

namespace sprint::cli {

ExitCode exit_code_for(const std::exception& e) {
  if (dynamic_cast<const InvalidArgument*>(&e)) return ExitCode::kUsage;
  if (dynamic_cast<const FormatError*>(&e)) return ExitCode::kInputData;
  if (dynamic_cast<const IoError*>(&e)) return ExitCode::kIo;
  if (dynamic_cast<const Unsupported*>(&e) || dynamic_cast<const OutOfMemory*>(&e) ||
      dynamic_cast<const BackendError*>(&e))
    return ExitCode::kDevice;
  if (dynamic_cast<const TrainingDiverged*>(&e)) return ExitCode::kDiverged;
  return ExitCode::kInternal;
}

const char* exit_code_name(ExitCode code) {
  switch (code) {
    case ExitCode::kOk: return "success";
    case ExitCode::kUsage: return "usage";
    case ExitCode::kInputData: return "input data";
    case ExitCode::kIo: return "I/O";
    case ExitCode::kDevice: return "device";
    case ExitCode::kDiverged: return "diverged";
    case ExitCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace sprint::cli
