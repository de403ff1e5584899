// output_file.h: how sprint writes every file it produces (reports, checkpoints, logits, data files), as users
// expect of a command-line tool:
//  - a regular file (or a new name) is replaced atomically and durably: a temporary file with a short name in the
//    same directory, fsync, rename over the old one, fsync of the directory; a failure leaves the old file as it
//    was and no temporary behind;
//  - a symbolic link is followed: its target is what gets replaced, the link stays;
//  - a named pipe, a character device (/dev/null, a terminal) or anything under /dev/ or /proc/ (/dev/stdout,
//    /dev/fd/N) is opened and written as a stream, never replaced;
//  - errors are IoErrors naming the path and the operating system's reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

namespace sprint::data {

/// Checks, before any work starts, that write_output_file(path, ...) can succeed as far as the file system can
/// tell: a non-empty path that is not a directory, a file name the file system accepts, and a writable directory
/// (or a writable existing stream). `what` names the option in messages ("--report"). Throws IoError.
void check_output_path(const std::filesystem::path& path, std::string_view what);

/// Writes `bytes` to `path` as described above. Throws IoError.
void write_output_file(const std::filesystem::path& path, std::span<const uint8_t> bytes);
/// write_output_file of a text's bytes (reports, RESULTS.md, traces).
void write_output_text(const std::filesystem::path& path, std::string_view text);

/// Checks that `dir` is (or can be created as) a writable directory; creates it. Throws IoError naming `what`.
void prepare_output_directory(const std::filesystem::path& dir, std::string_view what);

}  // namespace sprint::data
