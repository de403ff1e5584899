// tfrecord_reader.cpp: TFRecord splitting and Event decoding for the tests (see tfrecord_reader.h).
#include "support/tfrecord_reader.h"

#include <cstring>
#include <stdexcept>

namespace sprint::testing {
namespace {

uint64_t read_le(std::string_view bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<size_t>(i)]);
  return v;
}

uint32_t masked(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// A protobuf message read field by field.
class Fields {
 public:
  explicit Fields(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return at_ >= bytes_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) throw std::runtime_error("protobuf: truncated varint");
      const auto b = static_cast<unsigned char>(bytes_[at_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("protobuf: varint longer than 10 bytes");
  }
  std::string_view take(size_t n) {
    if (n > bytes_.size() - at_) throw std::runtime_error("protobuf: field runs past the message");
    const std::string_view s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

// Calls on_field(field, wire_type, fields) for each field; the callback must consume the value.
template <class F>
void for_each_field(std::string_view message, F on_field) {
  Fields f(message);
  while (!f.done()) {
    const uint64_t tag = f.varint();
    on_field(static_cast<int>(tag >> 3), static_cast<int>(tag & 7), f);
  }
}

void skip(int wire_type, Fields& f) {
  switch (wire_type) {
    case 0:
      f.varint();
      return;
    case 1:
      f.take(8);
      return;
    case 2:
      f.take(f.varint());
      return;
    case 5:
      f.take(4);
      return;
    default:
      throw std::runtime_error("protobuf: unknown wire type " + std::to_string(wire_type));
  }
}

void expect_wire(int got, int want, const char* what) {
  if (got != want) throw std::runtime_error(std::string(what) + ": wire type " + std::to_string(got));
}

}  // namespace

uint32_t crc32c_bitwise(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::vector<std::string> read_tfrecords(const std::string& file) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < file.size()) {
    const std::string where = "record " + std::to_string(out.size()) + " at byte " + std::to_string(at);
    if (file.size() - at < 12) throw std::runtime_error(where + ": truncated header");
    const std::string_view header(file.data() + at, 8);
    const uint64_t length = read_le(file, at, 8);
    if (read_le(file, at + 8, 4) != masked(crc32c_bitwise(header)))
      throw std::runtime_error(where + ": length CRC mismatch");
    if (file.size() - at - 12 < length + 4) throw std::runtime_error(where + ": truncated payload");
    const std::string payload = file.substr(at + 12, length);
    if (read_le(file, at + 12 + length, 4) != masked(crc32c_bitwise(payload)))
      throw std::runtime_error(where + ": payload CRC mismatch");
    out.push_back(payload);
    at += 12 + length + 4;
  }
  return out;
}

DecodedEvent decode_event(const std::string& payload) {
  DecodedEvent e;
  for_each_field(payload, [&](int field, int wire, Fields& f) {
    if (field == 1) {
      expect_wire(wire, 1, "Event.wall_time");
      const uint64_t bits = read_le(f.take(8), 0, 8);
      std::memcpy(&e.wall_time, &bits, 8);
    } else if (field == 2) {
      expect_wire(wire, 0, "Event.step");
      e.step = static_cast<int64_t>(f.varint());
    } else if (field == 3) {
      expect_wire(wire, 2, "Event.file_version");
      e.file_version = std::string(f.take(f.varint()));
    } else if (field == 5) {
      expect_wire(wire, 2, "Event.summary");
      for_each_field(f.take(f.varint()), [&](int sfield, int swire, Fields& s) {
        if (sfield != 1) return skip(swire, s);
        expect_wire(swire, 2, "Summary.value");
        std::pair<std::string, float> value;
        for_each_field(s.take(s.varint()), [&](int vfield, int vwire, Fields& v) {
          if (vfield == 1) {
            expect_wire(vwire, 2, "Value.tag");
            value.first = std::string(v.take(v.varint()));
          } else if (vfield == 2) {
            expect_wire(vwire, 5, "Value.simple_value");
            const auto bits = static_cast<uint32_t>(read_le(v.take(4), 0, 4));
            std::memcpy(&value.second, &bits, 4);
          } else {
            skip(vwire, v);
          }
        });
        e.values.push_back(value);
      });
    } else {
      skip(wire, f);
    }
  });
  return e;
}

}  // namespace sprint::testing
