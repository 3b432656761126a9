#include "core/scope.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keycache {
namespace {

TEST(Scope, Validity) {
  for (std::string_view s : {"*", "users:read", "reports:*", "*:read", "*:*", "a:b",
                             "Users_v2.beta-1:read.all", "x-y:A_b"}) {
    EXPECT_TRUE(IsValidScope(s)) << s;
  }
  const std::string part63(63, 'a');
  EXPECT_TRUE(IsValidScope(part63 + ":" + part63));  // 127 chars
  for (std::string_view s :
       {"", ":", "users", "users:", ":read", "users:read:x", "**", "**:read", "users:r*", "u*:read",
        "users :read", "users:re ad", "users/x:read", "üsers:read", "*:", ":*", "users:read\n"}) {
    EXPECT_FALSE(IsValidScope(s)) << s;
  }
  EXPECT_FALSE(IsValidScope(std::string(64, 'a') + ":read"));
  EXPECT_FALSE(IsValidScope("read:" + std::string(64, 'a')));
}

struct Case {
  std::string_view granted;
  std::string_view required;
  bool covers;
};

TEST(Scope, CoverageMatrix) {
  const Case cases[] = {
      {"users:read", "users:read", true},
      {"users:read", "users:write", false},
      {"users:read", "Users:read", false},
      {"users:read", "users:*", false},
      {"users:read", "*:read", false},
      {"users:read", "*", false},
      {"users:*", "users:read", true},
      {"users:*", "users:write", true},
      {"users:*", "users:*", true},
      {"users:*", "reports:read", false},
      {"users:*", "*:read", false},
      {"users:*", "*", false},
      {"reports:*", "reports:read", true},
      {"*:read", "users:read", true},
      {"*:read", "users:write", false},
      {"*:read", "*:read", true},
      {"*:read", "users:*", false},
      {"*:read", "*", false},
      {"*:*", "users:read", true},
      {"*:*", "users:*", true},
      {"*:*", "*:read", true},
      {"*:*", "*", true},
      {"*", "users:read", true},
      {"*", "users:*", true},
      {"*", "*:write", true},
      {"*", "*:*", true},
      {"*", "*", true},
      {"user:read", "users:read", false},
      {"users:rea", "users:read", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ScopeCovers(c.granted, c.required), c.covers)
        << c.granted << " covers " << c.required;
  }
}

TEST(Scope, ScopesAllowNeedsOneCoveringGrant) {
  const std::vector<std::string> granted = {"users:read", "reports:*"};
  EXPECT_TRUE(ScopesAllow(granted, "users:read"));
  EXPECT_TRUE(ScopesAllow(granted, "reports:export"));
  EXPECT_FALSE(ScopesAllow(granted, "users:write"));
  EXPECT_FALSE(ScopesAllow(granted, "*"));
  EXPECT_FALSE(ScopesAllow({}, "users:read"));
}

}  // namespace
}  // namespace keycache
