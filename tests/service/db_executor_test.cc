// DbExecutor: jobs run on the pool (never on the awaiting I/O thread), Run hands back the job's
// value or error, and a job that outlives the timeout gives kTimeout yet still runs to the end.
#include "service/db_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <thread>

#include "service_test_util.h"
#include "util/thread_priority.h"

namespace keycache {
namespace {

using testing::IoThread;

TEST(DbExecutorTest, RunReturnsTheJobsValueFromAPoolThread) {
  IoThread io;  // outlives the pool, whose jobs post their results to it
  DbExecutor db(2, std::chrono::seconds(30));
  std::thread::id ran_on;
  auto job = [&ran_on]() -> Result<int> {
    ran_on = std::this_thread::get_id();
    return 42;
  };
  Result<int> r = io.Await(db.Run(job));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
  EXPECT_NE(ran_on, io.thread_id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_EQ(db.timeout(), std::chrono::seconds(30));
  io.Stop();
}

TEST(DbExecutorTest, RunPassesTheJobsErrorThrough) {
  IoThread io;
  DbExecutor db(1, std::chrono::seconds(30));
  auto job = []() -> Result<std::string> { return make_error_code(Errc::kNotFound); };
  auto r = io.Await(db.Run(job));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kNotFound);
  auto void_job = []() -> Result<void> { return {}; };
  EXPECT_TRUE(io.Await(db.Run(void_job)));
  io.Stop();
}

TEST(DbExecutorTest, ASlowJobTimesOutButStillCompletes) {
  IoThread io;
  std::latch release(1);
  std::atomic<bool> released{false};
  std::atomic<bool> finished{false};
  DbExecutor db(1, std::chrono::milliseconds(20));
  auto let_go = [&] {
    if (!released.exchange(true)) release.count_down();
  };
  testing::ScopeExit guard(let_go);  // runs before db's destructor joins the pool
  auto slow = [&]() -> Result<int> {
    release.wait();  // held until the caller has already given up
    finished = true;
    return 1;
  };
  auto r = io.Await(db.Run(slow));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kTimeout);
  EXPECT_FALSE(finished.load());

  let_go();
  ASSERT_TRUE(testing::PollUntil([&] { return finished.load(); }));
  // The pool is free again and later calls are answered normally.
  auto quick = []() -> Result<int> { return 7; };
  std::optional<Result<int>> next;
  ASSERT_TRUE(testing::PollUntil([&] {
    next = io.Await(db.Run(quick));  // may still time out if the pool is slow to pick it up
    return next->has_value();
  }));
  EXPECT_EQ(**next, 7);
  db.Stop();
  io.Stop();
}

// The background lane is its own thread, distinct from the caller's and from both other lanes,
// and its nice value is the one asked for while the caller's stays as it was.
TEST(DbExecutorTest, TheBackgroundLaneRunsOnItsOwnThreadAtTheNiceValueAskedFor) {
  IoThread io;
  DbExecutor db(1, std::chrono::seconds(30));
  const int before = ThisThreadNice();
  // An unprivileged thread may only raise its nice value: ask for more than it has.
  const int wanted = std::min(kMaxNice, before + 5);
  ASSERT_TRUE(db.SetBackgroundNice(wanted));

  struct Seen {
    std::thread::id thread;
    int nice = -100;
  };
  auto where = []() -> Result<Seen> { return Seen{std::this_thread::get_id(), ThisThreadNice()}; };
  Result<Seen> background = io.Await(db.RunBackground(where));
  Result<Seen> writes = io.Await(db.Run(where));
  Result<Seen> reads = io.Await(db.Read(where));
  ASSERT_TRUE(background && writes && reads);
  EXPECT_EQ(background->nice, wanted);
  EXPECT_EQ(writes->nice, before);
  EXPECT_EQ(reads->nice, before);
  EXPECT_EQ(ThisThreadNice(), before);
  EXPECT_NE(background->thread, writes->thread);
  EXPECT_NE(background->thread, reads->thread);
  EXPECT_NE(background->thread, io.thread_id());
  EXPECT_NE(background->thread, std::this_thread::get_id());

  // Out of range is refused before any system call, and the thread keeps its value.
  EXPECT_EQ(db.SetBackgroundNice(kMaxNice + 1).error(), Errc::kBadInput);
  EXPECT_EQ(db.SetBackgroundNice(-1).error(), Errc::kBadInput);
  EXPECT_EQ(io.Await(db.RunBackground(where))->nice, wanted);
  db.Stop();
  EXPECT_EQ(db.SetBackgroundNice(wanted).error(), Errc::kUnavailable);
  io.Stop();
}

TEST(DbExecutorTest, StopRunsEveryPostedJob) {
  DbExecutor db(2, std::chrono::seconds(30));
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) db.Post([&ran] { ran.fetch_add(1); });
  db.Stop();
  EXPECT_EQ(ran.load(), 20);
  db.Stop();  // idempotent
  EXPECT_EQ(ran.load(), 20);
}

}  // namespace
}  // namespace keycache
