// PgAsyncReader (and its PgPipeline) against a real PostgreSQL the test starts: lookups on an
// I/O thread's own pipelined connection answer exactly as PgStore::FindById does, many at once on
// one connection each get their own answer, a thread it has no connection for is declined, and
// the connection comes back after the server ends the session or stops answering (a lookup then
// times out within its bound instead of hanging), and an error reply ends only its own lookup.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <random>
#include <thread>

#include "store/pg_async_reader.h"
#include "store/pg_store.h"
#include "store_backend.h"
#include "store_test_util.h"
#include "support/pg_session.h"

namespace keycache {
namespace {

using namespace std::chrono_literals;
using testing::MakeRecord;
using testing::PgSession;
namespace asio = boost::asio;

constexpr TimeMs kT0 = 1'700'000'000'000;
const std::string kReaderSessions =
    "FROM pg_stat_activity WHERE application_name = 'keycached-reader'";

class PgPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(url_.empty());
    auto opened = PgStore::Open(url_, log_);
    ASSERT_TRUE(opened) << opened.error().message();
    store_ = std::move(*opened);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    // As the service does: the executor stops running before the reader goes.
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    blocking_.join();
    reader_.reset();
  }

  void MakeReader(std::chrono::milliseconds timeout = 5s) {
    reader_ = std::make_unique<PgAsyncReader>(
        std::vector<asio::any_io_executor>{io_.get_executor()},
        PgAsyncReaderOptions{.url = url_, .timeout = timeout},
        [this](std::function<void()> job) { asio::post(blocking_, std::move(job)); }, log_);
  }

  std::optional<AsyncKeyReader::Answer> Find(KeyId id) {
    return asio::co_spawn(io_, reader_->FindById(id), asio::use_future).get();
  }

  // Stores key `id`, makes the reader (lookups bounded by `timeout`) and waits until its session
  // answers; returns that session's server pid.
  std::string ConnectedReaderPid(KeyId id, std::chrono::milliseconds timeout) {
    EXPECT_TRUE(store_->Insert(MakeRecord(id, "o", kT0), 10));
    MakeReader(timeout);
    reader_->Open();
    EXPECT_TRUE(WaitConnected(id));
    return PgSession(url_).Text("SELECT pid " + kReaderSessions);
  }

  // Until a lookup is answered through the pipeline (not declined), up to 15 s.
  bool WaitConnected(KeyId probe = 1) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto r = Find(probe);
      if (r && *r) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::string url_ = testing::FreshPostgresDatabase();
  Logger log_{LogLevel::kError};
  std::unique_ptr<PgStore> store_;
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread thread_;
  asio::thread_pool blocking_{1};
  std::unique_ptr<PgAsyncReader> reader_;
};

TEST_F(PgPipelineTest, DeclinesUntilConnectedThenAnswersAsTheStoreDoes) {
  for (KeyId id : {KeyId{11}, KeyId{12}}) ASSERT_TRUE(store_->Insert(MakeRecord(id, "o", kT0), 10));
  ASSERT_TRUE(store_->Revoke(KeyId{12}, kT0 + 5, "leaked", kT0 + 5));
  MakeReader();
  // No connection asked for yet: the first lookup is declined (and asks for one).
  const auto first = Find(KeyId{11});
  EXPECT_FALSE(first.has_value());
  ASSERT_TRUE(WaitConnected());
  for (KeyId id : {KeyId{11}, KeyId{12}, KeyId{13}}) {
    const auto got = Find(id);
    ASSERT_TRUE(got.has_value()) << id;
    ASSERT_TRUE(*got) << got->error().message();
    const auto want = store_->FindById(id);
    ASSERT_TRUE(want);
    ASSERT_EQ(got->value().has_value(), want->has_value()) << id;
    if (*want) {
      EXPECT_EQ((**got)->id, (*want)->id);
      EXPECT_EQ((**got)->owner_id, (*want)->owner_id);
      EXPECT_EQ((**got)->hash, (*want)->hash);
      EXPECT_EQ((**got)->revoked_at, (*want)->revoked_at);
      EXPECT_EQ((**got)->revoked_reason, (*want)->revoked_reason);
      EXPECT_EQ((**got)->scopes, (*want)->scopes);
    }
  }
  EXPECT_GE(reader_->answered(), 3u);
  PgSession admin(url_);
  EXPECT_EQ(admin.Text("SELECT count(*) " + kReaderSessions), "1");
}

TEST_F(PgPipelineTest, ManyLookupsInFlightOnOneConnectionEachGetTheirOwnAnswer) {
  for (KeyId id = 100; id < 150; ++id) ASSERT_TRUE(store_->Insert(MakeRecord(id, "o", kT0), 100));
  MakeReader();
  reader_->Open();
  ASSERT_TRUE(WaitConnected());
  const std::uint64_t before = reader_->answered();
  // 400 lookups started at once on the one thread: ids 100..199, half of them absent.
  std::vector<KeyId> ids;
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) ids.push_back(100 + rng() % 100);
  std::vector<std::future<std::optional<AsyncKeyReader::Answer>>> answers;
  for (KeyId id : ids)
    answers.push_back(asio::co_spawn(io_, reader_->FindById(id), asio::use_future));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto got = answers[i].get();
    ASSERT_TRUE(got.has_value()) << i;
    ASSERT_TRUE(*got) << got->error().message();
    if (ids[i] < 150) {
      ASSERT_TRUE(got->value().has_value()) << ids[i];
      EXPECT_EQ((**got)->id, ids[i]);
    } else {
      EXPECT_FALSE(got->value().has_value()) << ids[i];
    }
  }
  EXPECT_EQ(reader_->answered() - before, ids.size());
  PgSession admin(url_);
  EXPECT_EQ(admin.Text("SELECT count(*) " + kReaderSessions), "1");
}

TEST_F(PgPipelineTest, ALookupFromAThreadWithoutAConnectionIsDeclined) {
  MakeReader();
  reader_->Open();
  ASSERT_TRUE(WaitConnected());
  asio::io_context other{1};
  auto f = asio::co_spawn(other, reader_->FindById(KeyId{1}), asio::use_future);
  other.run();
  EXPECT_FALSE(f.get().has_value());
}

TEST_F(PgPipelineTest, ComesBackAfterTheServerEndsTheSession) {
  const std::string old_pid = ConnectedReaderPid(KeyId{7}, 5s);
  ASSERT_FALSE(HasFailure());
  PgSession admin(url_);
  ASSERT_TRUE(admin.Exec("SELECT pg_terminate_backend(pid) " + kReaderSessions));
  // Each answer meanwhile is declined, an error, or right; then right again on a new session.
  bool answered_again = false;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!answered_again && std::chrono::steady_clock::now() < deadline) {
    const auto got = Find(KeyId{7});
    if (got && *got) {
      ASSERT_TRUE(got->value().has_value());
      EXPECT_EQ((**got)->id, KeyId{7});
      answered_again = admin.Text("SELECT pid " + kReaderSessions) != old_pid;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(answered_again);
  EXPECT_EQ(admin.Text("SELECT count(*) " + kReaderSessions), "1");
}

TEST_F(PgPipelineTest, ALookupToAServerThatStoppedAnsweringTimesOutAndAFreshSessionServes) {
  const std::string pid = ConnectedReaderPid(KeyId{9}, 300ms);
  ASSERT_FALSE(HasFailure());
  PgSession admin(url_);
  ASSERT_GT(std::atoi(pid.c_str()), 0) << pid;
  // The session's server process stops: the lookup's bound, not the server, ends the wait.
  ASSERT_EQ(::kill(std::atoi(pid.c_str()), SIGSTOP), 0);
  const auto timed_out = Find(KeyId{9});
  ::kill(std::atoi(pid.c_str()), SIGCONT);
  ASSERT_TRUE(timed_out.has_value());
  ASSERT_FALSE(*timed_out);
  EXPECT_EQ(timed_out->error(), make_error_code(Errc::kTimeout));
  // The session was given up; a new one answers.
  bool served = false;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    const auto got = Find(KeyId{9});
    served = got && *got && got->value().has_value();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
  EXPECT_EQ(admin.Text("SELECT count(*) " + kReaderSessions + " AND pid <> " + pid), "1");
}

// An error *reply* (here the server's lock_timeout, while another session holds the table
// exclusively): that lookup fails with kTimeout, and the session, still sound, answers the next
// one — no reconnect.
TEST_F(PgPipelineTest, AnErrorReplyEndsOnlyItsLookupAndTheSessionServesOn) {
  const std::string pid = ConnectedReaderPid(KeyId{5}, 300ms);
  ASSERT_FALSE(HasFailure());
  PgSession admin(url_);
  PgSession locker(url_);
  ASSERT_TRUE(locker.Exec("BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE"));
  const auto refused = Find(KeyId{5});
  ASSERT_TRUE(locker.Exec("ROLLBACK"));
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(*refused);
  EXPECT_EQ(refused->error(), make_error_code(Errc::kTimeout));
  const auto again = Find(KeyId{5});
  ASSERT_TRUE(again.has_value());
  ASSERT_TRUE(*again) << again->error().message();
  ASSERT_TRUE(again->value().has_value());
  EXPECT_EQ((**again)->id, KeyId{5});
  EXPECT_EQ(admin.Text("SELECT pid " + kReaderSessions), pid);
}

}  // namespace
}  // namespace keycache
