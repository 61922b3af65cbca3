// Replies round-trip through a decoder in both protocol versions, and the
// version only changes the encoding, never the handler's calls.
#include "protocol/resp_writer.h"

#include <gtest/gtest.h>

#include "tests/support/resp_reply.h"

namespace lockerd::protocol {
namespace {

using testing::ParseReplies;
using testing::Reply;

std::string Write(RespVersion version, void (*write)(RespWriter&)) {
  std::string out;
  RespWriter writer(&out, version);
  write(writer);
  return out;
}

TEST(RespWriter, ScalarsAreTheSameInBothVersions) {
  for (const RespVersion version : {RespVersion::kResp2, RespVersion::kResp3}) {
    EXPECT_EQ(Write(version, [](RespWriter& w) { w.WriteSimpleString("OK"); }), "+OK\r\n");
    EXPECT_EQ(Write(version, [](RespWriter& w) { w.WriteInteger(-42); }), ":-42\r\n");
    EXPECT_EQ(Write(version, [](RespWriter& w) { w.WriteInteger(INT64_MIN); }),
              ":-9223372036854775808\r\n");
    EXPECT_EQ(Write(version, [](RespWriter& w) { w.WriteBulk(std::string("a\0b", 3)); }),
              std::string("$3\r\na\0b\r\n", 9));
  }
}

TEST(RespWriter, NullsDifferByVersion) {
  EXPECT_EQ(Write(RespVersion::kResp2, [](RespWriter& w) { w.WriteNull(); }), "$-1\r\n");
  EXPECT_EQ(Write(RespVersion::kResp3, [](RespWriter& w) { w.WriteNull(); }), "_\r\n");
  EXPECT_EQ(Write(RespVersion::kResp2, [](RespWriter& w) { w.WriteNullArray(); }), "*-1\r\n");
  EXPECT_EQ(Write(RespVersion::kResp3, [](RespWriter& w) { w.WriteNullArray(); }), "_\r\n");
}

TEST(RespWriter, ErrorsStayOneLine) {
  EXPECT_EQ(Write(RespVersion::kResp2, [](RespWriter& w) { w.WriteError("ERR bad\r\nthing"); }),
            "-ERR bad  thing\r\n");
}

void WriteInfoMap(RespWriter& w) {
  w.WriteMapHeader(2);
  w.WriteBulk("owner");
  w.WriteBulk("me");
  w.WriteBulk("token");
  w.WriteInteger(7);
}

TEST(RespWriter, MapIsFlatArrayInResp2) {
  EXPECT_EQ(Write(RespVersion::kResp2, WriteInfoMap),
            "*4\r\n$5\r\nowner\r\n$2\r\nme\r\n$5\r\ntoken\r\n:7\r\n");
  EXPECT_EQ(Write(RespVersion::kResp3, WriteInfoMap),
            "%2\r\n$5\r\nowner\r\n$2\r\nme\r\n$5\r\ntoken\r\n:7\r\n");
}

TEST(RespWriter, RoundTripsInBothVersions) {
  for (const RespVersion version : {RespVersion::kResp2, RespVersion::kResp3}) {
    const std::string bytes = Write(version, [](RespWriter& w) {
      WriteInfoMap(w);
      w.WriteSetHeader(2);
      w.WriteSimpleString("write");
      w.WriteSimpleString("fast");
      w.WriteVerbatim("txt", "# Server\r\nrole:master\r\n");
      w.WriteNull();
    });
    const std::vector<Reply> replies = ParseReplies(bytes);
    ASSERT_EQ(replies.size(), 4u);
    ASSERT_NE(replies[0].Field("owner"), nullptr);
    EXPECT_EQ(replies[0].Field("owner")->text, "me");
    EXPECT_EQ(replies[0].Field("token")->integer, 7);
    EXPECT_EQ(replies[0].type, version == RespVersion::kResp3 ? Reply::Type::kMap
                                                              : Reply::Type::kArray);
    EXPECT_EQ(replies[1].elements.size(), 2u);
    EXPECT_EQ(replies[1].elements[1].text, "fast");
    EXPECT_EQ(replies[2].text, "# Server\r\nrole:master\r\n");
    EXPECT_TRUE(replies[3].IsNull());
  }
}

}  // namespace
}  // namespace lockerd::protocol
