// The test harness's rewrite of a shipped Redis / Sentinel config (deploy/redis/): each directive
// the harness must change for a test (ports, paths, addresses, down-after) replaces the file's
// line in place, which stays beside it as a comment "# rewritten by the test harness: ..." (later
// occurrences become "# superseded ..." comments); a directive the file does not have is appended
// under "# added by the test harness". Everything
// else — hardening, ACL users, memory policy — is the file's own. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace keycache::testing {

// What identifies a directive for replacement: its name, plus the words that make it distinct
// where a config may hold several ("rename-command CONFIG", "sentinel monitor mymaster",
// "sentinel rename-command mymaster CONFIG", "sentinel announce-ip"). Lower-cased.
std::string DirectiveKey(const std::string& line);

// `text` with every line of `overrides` applied as described above.
std::string RewriteRedisConfig(const std::string& text, const std::vector<std::string>& overrides);

// The value of the first directive whose key is `key` ("" when absent), e.g.
// DirectiveValue(text, "rename-command config") == "CONFIG_CHANGE_ME_...".
std::string DirectiveValue(const std::string& text, const std::string& key);

// The password (`>...`) of ACL user `user` in an ACL file's text ("" when absent).
std::string AclPassword(const std::string& acl_text, const std::string& user);

// The rules of ACL user `user` in an ACL file's text without its state and credentials (`on`,
// `off`, `>pass`, `<pass`, `#hash`, `!hash`, `nopass`, `resetpass`): its key, channel and command
// rules, to give the same rules to a user with another password (RedisServerOptions::AclUser).
// "" when absent.
std::string AclRules(const std::string& acl_text, const std::string& user);

// The whole content of a file ("" when it cannot be read).
std::string ReadTextFile(const std::string& path);

}  // namespace keycache::testing
