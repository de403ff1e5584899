// protobuf_wire_test.cpp: varints and every wire type against bytes worked out from the protobuf encoding
// guide (the guide's own examples: 150 -> 08 96 01, "testing" -> 12 07 74 65 73 74 69 6e 67).
#include <gtest/gtest.h>

#include <string>

#include "sprint/core/error.h"
#include "sprint/profile/protobuf_wire.h"

namespace sprint::profile {
namespace {

std::string varint(uint64_t v) {
  std::string s;
  append_varint(s, v);
  return s;
}

TEST(ProtobufWire, Varints) {
  EXPECT_EQ(varint(0), std::string("\x00", 1));
  EXPECT_EQ(varint(1), "\x01");
  EXPECT_EQ(varint(127), "\x7f");
  EXPECT_EQ(varint(128), "\x80\x01");
  EXPECT_EQ(varint(150), "\x96\x01");
  EXPECT_EQ(varint(300), "\xac\x02");
  EXPECT_EQ(varint(UINT64_MAX), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
}

TEST(ProtobufWire, FieldsOfEachWireType) {
  ProtoWriter m;
  m.add_varint(1, 150);
  EXPECT_EQ(m.bytes(), "\x08\x96\x01");

  ProtoWriter s;
  s.add_bytes(2, "testing");
  EXPECT_EQ(s.bytes(), "\x12\x07testing");

  ProtoWriter d;
  d.add_double(1, 1.0);  // 0x3FF0000000000000, little-endian
  EXPECT_EQ(d.bytes(), std::string("\x09\x00\x00\x00\x00\x00\x00\xf0\x3f", 9));

  ProtoWriter f;
  f.add_float(2, 1.5f);  // 0x3FC00000
  EXPECT_EQ(f.bytes(), std::string("\x15\x00\x00\xc0\x3f", 5));

  ProtoWriter big;
  big.add_varint(16, 1);  // field 16 needs a two-byte tag: (16 << 3) | 0 = 128
  EXPECT_EQ(big.bytes(), "\x80\x01\x01");
}

TEST(ProtobufWire, NegativeInt64TakesTenBytes) {
  ProtoWriter m;
  m.add_int64(2, -1);
  EXPECT_EQ(m.bytes(), "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
}

TEST(ProtobufWire, EmbeddedMessagesAreLengthDelimited) {
  ProtoWriter inner;
  inner.add_varint(1, 150);
  ProtoWriter outer;
  outer.add_message(3, inner);  // the guide's Test3 { Test1 c = 3; }: 1a 03 08 96 01
  EXPECT_EQ(outer.bytes(), "\x1a\x03\x08\x96\x01");

  const std::string long_text(200, 'x');  // a length of 200 is a two-byte varint
  ProtoWriter l;
  l.add_bytes(1, long_text);
  EXPECT_EQ(l.bytes().substr(0, 3), "\x0a\xc8\x01");
  EXPECT_EQ(l.bytes().size(), 3u + 200u);
}

TEST(ProtobufWire, FieldNumberZeroIsABug) {
  ProtoWriter m;
  EXPECT_THROW(m.add_varint(0, 1), InternalError);
}

}  // namespace
}  // namespace sprint::profile
