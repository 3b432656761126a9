// Helpers for the store tests: a self-removing temp directory, record builders, a field-by-field
// record comparison, a logger whose output can be read back, and raw SQL on the store's file.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "core/key_record.h"
#include "store/sqlite_store.h"
#include "util/log.h"

namespace keycache::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kc_store_XXXXXX").string();
    const char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A logger writing to an anonymous temp file, so tests can inspect what was logged.
class CapturingLogger {
 public:
  explicit CapturingLogger(LogLevel level = LogLevel::kDebug)
      : file_(std::tmpfile()), logger_(level, file_) {}
  ~CapturingLogger() { std::fclose(file_); }
  CapturingLogger(const CapturingLogger&) = delete;
  CapturingLogger& operator=(const CapturingLogger&) = delete;

  Logger& logger() { return logger_; }
  std::string Text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    std::fseek(file_, 0, SEEK_END);
    return out;
  }

 private:
  std::FILE* file_;
  Logger logger_;
};

inline KeyHash HashFor(KeyId id) {
  KeyHash h{};
  for (std::size_t i = 0; i < h.size(); ++i) {
    h[i] = static_cast<std::uint8_t>((id >> ((i % 8) * 8)) ^ (i * 37));
  }
  h[3] = 0;  // an embedded NUL must survive (it is a BLOB, not text)
  return h;
}

inline KeyRecord MakeRecord(KeyId id, const std::string& owner, TimeMs created_at) {
  KeyRecord r;
  r.id = id;
  r.owner_id = owner;
  r.name = "key " + std::to_string(id);
  r.scopes = {"users:read"};
  r.hash = HashFor(id);
  r.created_at = created_at;
  r.updated_at = created_at;
  return r;
}

inline void ExpectSameRecord(const KeyRecord& a, const KeyRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.owner_id, b.owner_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.scopes, b.scopes);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.enabled, b.enabled);
  EXPECT_EQ(a.revoked_at, b.revoked_at);
  EXPECT_EQ(a.revoked_reason, b.revoked_reason);
  EXPECT_EQ(a.replaced_by, b.replaced_by);
  EXPECT_EQ(a.last_used_at, b.last_used_at);
  EXPECT_EQ(a.last_used_ip, b.last_used_ip);
  EXPECT_EQ(a.usage_count, b.usage_count);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
}

// A second, raw connection to a store's file, for checking what is really on disk.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err != nullptr ? err : "");
    sqlite3_free(err);
  }

  // The first column of the first row as text ("NULL" for NULL), or "<no row>".
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::string out = "<no row>";
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      out = t == nullptr ? "NULL" : reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace keycache::testing
