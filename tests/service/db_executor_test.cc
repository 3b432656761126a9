// DbExecutor: jobs run on the pool (never on the awaiting I/O thread), Run hands back the job's
// value or error, and a job that outlives the timeout gives kTimeout yet still runs to the end.
#include "service/db_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>

#include "service_test_util.h"

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
