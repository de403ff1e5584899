// error.h: sprint's exception types and the SPRINT_CHECK family of macros.
// Library code never exits: it throws one of these with a precise message. The CLI catches sprint::Error at the
// top, prints one line and returns a non-zero exit code.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace sprint {

/// Base of every exception sprint throws on purpose. what() is the message for users; where() says which check
/// in sprint's source raised it ("check `x > 0` failed at conv.cpp:42"), empty when thrown directly: the CLI shows
/// it only with --log-level debug.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  const std::string& where() const { return where_; }
  void set_where(std::string where) { where_ = std::move(where); }

 private:
  std::string where_;
};

/// A caller passed something invalid: a bad shape, dtype, device, option value or argument combination.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file or buffer exists but its content is malformed (bad magic number, truncated, wrong sizes).
class FormatError : public Error {
 public:
  using Error::Error;
};

/// The requested operation is not available in this build or on this device/dtype.
class Unsupported : public Error {
 public:
  using Error::Error;
};

/// An allocation failed; the message carries the requested size and the allocator's statistics.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

/// A vendor library (CUDA, cuDNN, cuBLAS, NCCL, oneDNN, MPI) reported an error.
class BackendError : public Error {
 public:
  using Error::Error;
};

/// Training produced a non-finite loss (the run diverged).
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

/// An internal invariant was violated: a bug in sprint, not in the caller's input.
class InternalError : public Error {
 public:
  using Error::Error;
};

namespace detail {
[[noreturn]] void throw_check_failure(const char* file, int line, const char* expr, const std::string& message);
[[noreturn]] void throw_internal_failure(const char* file, int line, const char* expr, const std::string& message);
}  // namespace detail

}  // namespace sprint

/// Validates a caller-supplied condition; throws sprint::InvalidArgument with the formatted message,
/// the failing expression and file:line. Usage: SPRINT_CHECK(x.ndim() == 2, "x must be 2-D, got {}", x.ndim());
#define SPRINT_CHECK(cond, ...)                                                                     \
  do {                                                                                              \
    if (!(cond)) [[unlikely]]                                                                       \
      ::sprint::detail::throw_check_failure(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
  } while (0)

/// Asserts an internal invariant (always on); throws sprint::InternalError.
#define SPRINT_ASSERT(cond, ...)                                                                       \
  do {                                                                                                 \
    if (!(cond)) [[unlikely]]                                                                          \
      ::sprint::detail::throw_internal_failure(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
  } while (0)

/// Throws an exception of the given sprint type with a formatted message (no file:line: for user-facing errors).
#define SPRINT_THROW(ExceptionType, ...) throw ExceptionType(::fmt::format(__VA_ARGS__))
