// The admin CLI (`keycached keys ...`) against a running server, run as a separate process with
// the server's working directory as its own (so it finds var/admin-token), and its exit codes.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegCli : public ServerTest<IntegCli> {
 protected:
  RunResult Keys(std::vector<std::string> args, EnvVars env = {}) {
    args.insert(args.begin(), "keys");
    env.emplace("KEYCACHE_URL", server().url());
    return RunKeycached(args, env, server().workdir());
  }
};

boost::json::value ParseOut(const RunResult& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.out, ec);
  EXPECT_FALSE(ec) << "stdout is not JSON: " << r.out << "\nstderr: " << r.err;
  return v;
}

std::string StrAt(const boost::json::value& v, std::initializer_list<std::string_view> path) {
  const auto* m = Member(v, path);
  return m != nullptr && m->is_string() ? std::string(m->as_string()) : std::string();
}

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// A loopback port nothing listens on: bound, then released.
std::uint16_t UnusedPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(
      ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

TEST_F(IntegCli, CreateListShowVerifyUsageRevoke) {
  const std::string owner = UniqueOwner("cli");
  const RunResult created =
      Keys({"create", "--owner", owner, "--name", "ci", "--scope", "reports:read"});
  ASSERT_EQ(created.exit_code, 0) << Describe(created);
  const boost::json::value c = ParseOut(created);
  const std::string key = StrAt(c, {"key"});
  const std::string id = StrAt(c, {"id"});
  ASSERT_FALSE(key.empty()) << created.out;
  EXPECT_EQ(StrAt(c, {"record", "owner_id"}), owner);

  const RunResult listed = Keys({"list", "--owner", owner});
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find(key), std::string::npos) << "list must not show the key";

  const RunResult shown = Keys({"show", id});
  ASSERT_EQ(shown.exit_code, 0) << Describe(shown);
  EXPECT_EQ(StrAt(ParseOut(shown), {"name"}), "ci");

  EXPECT_EQ(Keys({"verify", key, "--scope", "reports:read"}).exit_code, 0);
  const RunResult denied = Keys({"verify", key, "--scope", "orders:write"});
  EXPECT_EQ(denied.exit_code, 1) << Describe(denied);
  EXPECT_NE(denied.out.find("INSUFFICIENT_SCOPE"), std::string::npos) << denied.out;
  EXPECT_EQ(Keys({"verify", "garbage"}).exit_code, 1);

  RunResult usage;
  EXPECT_TRUE(PollUntil([&] {
    usage = Keys({"usage", id});
    return usage.exit_code == 0 && Member(ParseOut(usage), {"request_count"}) != nullptr &&
           *Member(ParseOut(usage), {"request_count"}) == 1;
  })) << Describe(usage);

  const RunResult revoked = Keys({"revoke", id, "--reason", "leaked"});
  ASSERT_EQ(revoked.exit_code, 0) << Describe(revoked);
  EXPECT_EQ(StrAt(ParseOut(revoked), {"revoked_reason"}), "leaked");
  const RunResult refused = Keys({"verify", key});
  EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
  EXPECT_NE(refused.out.find("REVOKED"), std::string::npos) << refused.out;
}

TEST_F(IntegCli, RotateAndDelete) {
  const RunResult created = Keys({"create", "--owner", UniqueOwner("cli"), "--name", "rot"});
  ASSERT_EQ(created.exit_code, 0) << Describe(created);
  const std::string old_key = StrAt(ParseOut(created), {"key"});
  const std::string old_id = StrAt(ParseOut(created), {"id"});

  const RunResult rotated = Keys({"rotate", old_id, "--grace", "0"});
  ASSERT_EQ(rotated.exit_code, 0) << Describe(rotated);
  const std::string new_key = StrAt(ParseOut(rotated), {"key"});
  const std::string new_id = StrAt(ParseOut(rotated), {"id"});
  ASSERT_FALSE(new_key.empty()) << rotated.out;
  EXPECT_EQ(StrAt(ParseOut(rotated), {"rotated_from", "id"}), old_id);
  EXPECT_EQ(Keys({"verify", old_key}).exit_code, 1);
  EXPECT_EQ(Keys({"verify", new_key}).exit_code, 0);
  EXPECT_EQ(Keys({"rotate", old_id}).exit_code, 1) << "a second rotation is refused (409)";

  const RunResult deleted = Keys({"delete", new_id});
  ASSERT_EQ(deleted.exit_code, 0) << Describe(deleted);
  const RunResult missing = Keys({"show", new_id});
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
  EXPECT_NE(missing.err.find("404"), std::string::npos) << missing.err;
  EXPECT_EQ(Keys({"verify", new_key}).exit_code, 1);
}

TEST_F(IntegCli, ExitCodesForUsageErrorsRefusalsAndAnUnreachableServer) {
  EXPECT_EQ(Keys({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Keys({"create", "--owner"}).exit_code, 2) << "option without a value";
  EXPECT_EQ(Keys({"create", "--owner", "o"}).exit_code, 2) << "no --name";
  EXPECT_EQ(Keys({"show"}).exit_code, 2) << "no id";
  EXPECT_EQ(Keys({"show", "a", "b"}).exit_code, 2) << "two ids";
  EXPECT_EQ(Keys({"list", "--owner", "o", "--bogus", "x"}).exit_code, 2) << "unknown option";
  EXPECT_EQ(Keys({"create", "--owner", "o", "--name", "n", "--expires-in-days", "soon"}).exit_code,
            2);

  const RunResult bad_token =
      Keys({"list", "--owner", "o"}, {{"ADMIN_TOKEN", "not-the-admin-token"}});
  EXPECT_EQ(bad_token.exit_code, 1) << Describe(bad_token);
  const RunResult bad_input = Keys({"create", "--owner", "o", "--name", std::string(101, 'n')});
  EXPECT_EQ(bad_input.exit_code, 1) << Describe(bad_input);

  const std::string nowhere = "http://127.0.0.1:" + std::to_string(UnusedPort());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"list", "--owner", "o"},
        std::vector<std::string>{"verify", UnknownWellFormedKey()},
        std::vector<std::string>{"show", "AAAAAAAAAAA"}}) {
    const RunResult r = RunKeycached(
        [&] {
          std::vector<std::string> a = {"keys"};
          a.insert(a.end(), args.begin(), args.end());
          return a;
        }(),
        {{"KEYCACHE_URL", nowhere}}, server().workdir());
    EXPECT_EQ(r.exit_code, 3) << args[0] << ": " << Describe(r);
  }
}

TEST(IntegCliHelp, HelpExitsZeroAndUnknownCommandsExitTwo) {
  TempDir dir;
  const RunResult help = RunKeycached({"--help"}, {}, dir.path());
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("usage"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("serve"), std::string::npos) << help.out;
  const RunResult keys_help = RunKeycached({"keys", "--help"}, {}, dir.path());
  EXPECT_EQ(keys_help.exit_code, 0) << keys_help.err;
  EXPECT_NE(keys_help.out.find("verify"), std::string::npos) << keys_help.out;
  const RunResult unknown = RunKeycached({"frobnicate"}, {}, dir.path());
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("frobnicate"), std::string::npos) << unknown.err;
  EXPECT_EQ(RunKeycached({}, {}, dir.path()).exit_code, 2) << "no command";
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "help must not create files";
}

}  // namespace
}  // namespace keycache::testing
