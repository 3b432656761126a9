// Measures what a validation entry really costs on the heap. This file replaces the global
// operator new/delete of the test binary with counting versions (a process-wide replacement is
// the only way to see every allocation the cache and its values make); the counters are the only
// mutable globals, and they are test instrumentation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <string>

#include "cache/l1_cache.h"

namespace {

struct HeapCounters {
  std::atomic<std::int64_t> requested{0};  // bytes asked for by live blocks
  std::atomic<std::int64_t> glibc{0};      // what glibc's allocator would spend on them
  std::atomic<std::int64_t> blocks{0};
};
HeapCounters g_heap;

// Each block carries a 16-byte header just before the user pointer: the requested size and the
// distance back to the start of the underlying allocation.
constexpr std::size_t kHeader = 16;

std::int64_t GlibcChunk(std::size_t n) {  // 8-byte size field, 16-byte granules, 32-byte minimum
  return static_cast<std::int64_t>(std::max<std::size_t>(32, (n + 8 + 15) & ~std::size_t{15}));
}

void* CountedAlloc(std::size_t n, std::size_t align) {
  const std::size_t offset = std::max(kHeader, align);
  const std::size_t total = offset + n;
  void* raw = align > kHeader ? std::aligned_alloc(align, (total + align - 1) / align * align)
                              : std::malloc(total);
  if (raw == nullptr) return nullptr;
  char* user = static_cast<char*>(raw) + offset;
  std::memcpy(user - kHeader, &n, sizeof n);
  std::memcpy(user - kHeader + sizeof n, &offset, sizeof offset);
  g_heap.requested.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  g_heap.glibc.fetch_add(GlibcChunk(n), std::memory_order_relaxed);
  g_heap.blocks.fetch_add(1, std::memory_order_relaxed);
  return user;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  char* user = static_cast<char*>(p);
  std::size_t n;
  std::size_t offset;
  std::memcpy(&n, user - kHeader, sizeof n);
  std::memcpy(&offset, user - kHeader + sizeof n, sizeof offset);
  g_heap.requested.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  g_heap.glibc.fetch_sub(GlibcChunk(n), std::memory_order_relaxed);
  g_heap.blocks.fetch_sub(1, std::memory_order_relaxed);
  std::free(user - offset);
}

void* NewOrThrow(std::size_t n, std::size_t align) {
  void* p = CountedAlloc(n, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

constexpr std::size_t kPlain = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

}  // namespace

void* operator new(std::size_t n) { return NewOrThrow(n, kPlain); }
void* operator new[](std::size_t n) { return NewOrThrow(n, kPlain); }
void* operator new(std::size_t n, std::align_val_t a) {
  return NewOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return NewOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return CountedAlloc(n, kPlain);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return CountedAlloc(n, kPlain);
}
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }

namespace keycache {
namespace {

struct Snapshot {
  std::int64_t requested = g_heap.requested.load();
  std::int64_t glibc = g_heap.glibc.load();
  std::int64_t blocks = g_heap.blocks.load();
};

std::string OwnerId(KeyId n) {  // a UUID-shaped owner id: 36 characters, so on the heap
  std::string hex = std::to_string(n);
  hex.insert(0, 32 - hex.size(), '0');
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

// A typical entry: a 36-character owner id (its std::string sized exactly, as when copied from a
// record) and two scopes, one short enough to live inside its std::string and one long enough to
// need its own heap block, which the target excludes.
TEST(L1MemoryTest, ValidationEntryCostsAtMost300BytesBeyondItsScopeStrings) {
  ManualClock clock;
  L1Options options;
  options.max_bytes = std::size_t{256} << 20;  // no eviction during the measurement
  constexpr KeyId kEntries = 20'000;
  std::int64_t scope_string_bytes = 0;
  std::int64_t scope_string_glibc = 0;
  std::size_t charged_bytes = 0;
  std::size_t cached = 0;
  const Snapshot before;
  Snapshot base;
  Snapshot filled;
  {
    L1Cache l1(options, clock);
    base = Snapshot();
    for (KeyId n = 1; n <= kEntries; ++n) {
      const std::string owner = OwnerId(n);
      auto facts = std::make_shared<KeyFacts>();
      facts->id = n * 0x9E3779B97F4A7C15ULL;
      facts->owner_id = owner;
      facts->scopes.reserve(2);
      facts->scopes.emplace_back("users:read");
      facts->scopes.emplace_back("analytics-dashboards:read");
      for (const std::string& s : facts->scopes) {
        if (s.capacity() > std::string().capacity()) {
          scope_string_bytes += static_cast<std::int64_t>(s.capacity() + 1);
          scope_string_glibc += GlibcChunk(s.capacity() + 1);
        }
      }
      const KeyId id = facts->id;
      l1.CompleteFactsFill(id, std::move(facts), l1.BeginFactsFill(id));
    }
    filled = Snapshot();
    cached = l1.Sizes().validation;
    charged_bytes = l1.Sizes().bytes;
  }
  const Snapshot gone;
  EXPECT_EQ(gone.requested, before.requested);  // everything went with the cache
  ASSERT_EQ(cached, kEntries);

  const double n = kEntries;
  const double with_scopes = static_cast<double>(filled.requested - base.requested) / n;
  const double per_entry = with_scopes - static_cast<double>(scope_string_bytes) / n;
  const double per_entry_glibc =
      static_cast<double>(filled.glibc - base.glibc - scope_string_glibc) / n;
  const double charged = static_cast<double>(charged_bytes) / n;
  std::cout << "validation entry, beyond its scope strings: " << per_entry
            << " bytes requested from operator new (" << per_entry_glibc
            << " bytes counting glibc chunk headers and rounding; "
            << static_cast<double>(filled.blocks - base.blocks) / n
            << " heap blocks incl. scope strings). Cache node + index share: "
            << SieveCache<KeyId, std::shared_ptr<const KeyFacts>>::kEntryOverhead
            << " bytes charged; sizeof(KeyFacts) = " << sizeof(KeyFacts)
            << ". Charged incl. scope strings: " << charged << ", measured " << with_scopes
            << ".\n";

  EXPECT_LE(per_entry, 300.0);
  // The charges the cache bounds itself by are an honest account of the heap.
  EXPECT_NEAR(charged, with_scopes, with_scopes * 0.05);
}

}  // namespace
}  // namespace keycache
