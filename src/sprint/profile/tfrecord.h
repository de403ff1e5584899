// tfrecord.h: TFRecord framing, the container of TensorBoard event files. Each record is
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | payload | uint32 masked CRC-32C
//   of the payload
// (all little-endian), so a reader can check a record before it trusts its length.
#pragma once

#include <string>
#include <string_view>

namespace sprint::profile {

/// Appends one record holding `payload` to `out`.
void append_tfrecord(std::string& out, std::string_view payload);

}  // namespace sprint::profile
