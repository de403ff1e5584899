// tfrecord_reader.h: a reader of TensorBoard event files for the tests, written apart from src/sprint/profile
// (bit-by-bit CRC-32C, its own protobuf decoding) so that it checks the writer instead of repeating it.
// Malformed input throws std::runtime_error saying what and where.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sprint::testing {

/// CRC-32C computed one bit at a time from the polynomial (no table).
uint32_t crc32c_bitwise(std::string_view bytes);

/// The payloads of a TFRecord file's records; checks the length and payload CRCs of every record and that the
/// file ends on a record boundary.
std::vector<std::string> read_tfrecords(const std::string& file_bytes);

/// The fields of tensorflow.Event and Summary.Value that sprint writes.
struct DecodedEvent {
  double wall_time = 0.0;
  int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> values;  ///< summary.value: (tag, simple_value)
};

DecodedEvent decode_event(const std::string& payload);

}  // namespace sprint::testing
