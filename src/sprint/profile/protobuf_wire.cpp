// protobuf_wire.cpp: varint and fixed-width field encoding (see protobuf_wire.h).
#include "sprint/profile/protobuf_wire.h"

#include <bit>

#include "sprint/core/error.h"

namespace sprint::profile {
namespace {

template <class U>
void append_little_endian(std::string& out, U bits) {
  for (size_t i = 0; i < sizeof(U); ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFFu));
}

}  // namespace

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80u) {
    out.push_back(static_cast<char>((value & 0x7Fu) | 0x80u));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void ProtoWriter::add_tag(int field, int wire_type) {
  // Field numbers run from 1 to 2^29 - 1 (protobuf's limit).
  SPRINT_ASSERT(field >= 1 && field < (1 << 29), "protobuf field number {} out of range", field);
  append_varint(bytes_, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void ProtoWriter::add_varint(int field, uint64_t value) {
  add_tag(field, 0);
  append_varint(bytes_, value);
}

void ProtoWriter::add_double(int field, double value) {
  add_tag(field, 1);
  append_little_endian(bytes_, std::bit_cast<uint64_t>(value));
}

void ProtoWriter::add_float(int field, float value) {
  add_tag(field, 5);
  append_little_endian(bytes_, std::bit_cast<uint32_t>(value));
}

void ProtoWriter::add_bytes(int field, std::string_view bytes) {
  add_tag(field, 2);
  append_varint(bytes_, bytes.size());
  bytes_.append(bytes);
}

}  // namespace sprint::profile
