// protobuf_wire.h: the few pieces of the protocol-buffer wire format that TensorBoard event files need,
// written by hand so that sprint does not depend on a protobuf library: varints, 64- and 32-bit little-endian
// fields and length-delimited fields (strings and embedded messages). Field numbers come from the caller's
// schema.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sprint::profile {

/// Appends `value` as a base-128 varint (least significant group first, high bit = more follows).
void append_varint(std::string& out, uint64_t value);

/// One encoded message, built field by field in the order the calls are made.
class ProtoWriter {
 public:
  /// Wire type 0: int32/int64/uint64/bool. A negative int64 takes ten bytes (two's complement), as protobuf
  /// does.
  void add_varint(int field, uint64_t value);
  void add_int64(int field, int64_t value) { add_varint(field, static_cast<uint64_t>(value)); }
  /// Wire type 1: the IEEE-754 bits of a double, little-endian.
  void add_double(int field, double value);
  /// Wire type 5: the IEEE-754 bits of a float, little-endian.
  void add_float(int field, float value);
  /// Wire type 2: a length and the bytes of a string, bytes field or embedded message.
  void add_bytes(int field, std::string_view bytes);
  void add_message(int field, const ProtoWriter& message) { add_bytes(field, message.bytes()); }

  const std::string& bytes() const { return bytes_; }

 private:
  void add_tag(int field, int wire_type);

  std::string bytes_;
};

}  // namespace sprint::profile
