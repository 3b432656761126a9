#include "http/plain_response.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace keycache {
namespace {

TEST(PlainResponseTest, HeaderLinesAreAppendedInWireForm) {
  std::string head;
  AppendHeader(head, "Content-Type", "application/json");
  AppendHeader(head, "X-Key-Scopes", "reports:read,users:write");
  AppendHeader(head, "X-Empty", "");
  EXPECT_EQ(head,
            "Content-Type: application/json\r\nX-Key-Scopes: reports:read,users:write\r\n"
            "X-Empty: \r\n");
}

TEST(PlainResponseTest, ToResponseKeepsStatusFieldsInOrderAndBody) {
  PlainResponse plain{403, {}, R"({"code":"INSUFFICIENT_SCOPE"})"};
  AppendHeader(plain.head, "X-Cache-Status", "HIT");
  AppendHeader(plain.head, "Content-Type", "application/json");
  AppendHeader(plain.head, "X-Note", "a: b");  // only the first ": " separates
  AppendHeader(plain.head, "X-Empty", "");
  Response res = ToResponse(plain);
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_EQ(res.body(), plain.body);
  std::vector<std::string> fields;
  for (const auto& f : res)
    fields.push_back(std::string(f.name_string()) + "=" + std::string(f.value()));
  EXPECT_EQ(fields, (std::vector<std::string>{"X-Cache-Status=HIT", "Content-Type=application/json",
                                              "X-Note=a: b", "X-Empty="}));
  const Response empty = ToResponse(PlainResponse{204, {}, {}});
  EXPECT_EQ(empty.result_int(), 204u);
  EXPECT_EQ(empty.begin(), empty.end());
}

TEST(PlainResponseTest, ToResponseRefusesAHeadThatIsNotHeaderLines) {
  for (const char* head : {"X-A: 1", "X-A 1\r\n", ": 1\r\n", "X-A: 1\r\nX-B\r\n", "\r\n"}) {
    EXPECT_THROW(ToResponse(PlainResponse{200, head, {}}), std::invalid_argument) << head;
  }
}

}  // namespace
}  // namespace keycache
