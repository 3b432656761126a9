#include "app/archive_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "app/archive_format.h"
#include "app/serve.h"
#include "config/secrets.h"
#include "store/key_archive.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "util/time_format.h"

namespace keycache {
namespace {

constexpr std::size_t kPage = 500;

struct Options {
  std::string file;
  bool skip_existing = false;
};

// `--NAME FILE` (or `--NAME=FILE`), plus `--skip-existing` when `allow_skip`.
std::optional<Options> ParseOptions(const std::vector<std::string>& args, const char* name,
                                    bool allow_skip, const char* command) {
  Options o;
  const std::string flag = std::string("--") + name;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == flag && i + 1 < args.size()) {
      o.file = args[++i];
    } else if (a.rfind(flag + "=", 0) == 0) {
      o.file = a.substr(flag.size() + 1);
    } else if (allow_skip && a == "--skip-existing") {
      o.skip_existing = true;
    } else {
      std::fprintf(
          stderr, "keycached %s: unexpected argument '%s'\nusage: keycached %s %s FILE%s\n",
          command, a.c_str(), command, flag.c_str(), allow_skip ? " [--skip-existing]" : "");
      return std::nullopt;
    }
  }
  if (o.file.empty()) {
    std::fprintf(stderr, "keycached %s: %s FILE is required\n", command, flag.c_str());
    return std::nullopt;
  }
  return o;
}

struct OpenedStore {
  std::unique_ptr<KeyStore> store;
  KeyArchive* archive = nullptr;
};

// The store DATABASE_URL names, opened for one tool run (one connection).
std::optional<OpenedStore> OpenStore(const Config& c, Logger& log, const char* command) {
  OpenedStore o;
  if (c.is_sqlite()) {
    auto s = SqliteStore::Open(c.sqlite_path(), log, {.readers = 1});
    if (!s) {
      std::fprintf(stderr, "keycached %s: cannot open the database %s: %s\n", command,
                   c.sqlite_path().c_str(), s.error().message().c_str());
      return std::nullopt;
    }
    o.archive = s->get();
    o.store = std::move(*s);
  } else {
    auto s =
        PgStore::Open(c.database_url, log,
                      {.connections = 1, .timeout = std::chrono::milliseconds(c.db_timeout_ms)});
    if (!s) {
      // Not the URL: it can hold a password.
      std::fprintf(stderr, "keycached %s: cannot open the PostgreSQL database: %s\n", command,
                   s.error().message().c_str());
      return std::nullopt;
    }
    o.archive = s->get();
    o.store = std::move(*s);
  }
  return o;
}

// The configuration and secrets as `serve` has them, with logs on stderr at warn and above.
std::optional<Config> LoadForTool(const char* command, std::unique_ptr<Logger>& log) {
  std::optional<Config> c = LoadValidatedConfig();
  if (!c) return std::nullopt;
  log = std::make_unique<Logger>(c->log_level < LogLevel::kWarn ? LogLevel::kWarn : c->log_level);
  if (auto secrets = EnsureSecrets(*c, *log); !secrets) {
    std::fprintf(stderr, "keycached %s: cannot set up the pepper: %s\n", command,
                 secrets.error().message().c_str());
    return std::nullopt;
  }
  return c;
}

int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "keycached %s: %s\n", command, message.c_str());
  return 1;
}

}  // namespace

int RunExportCommand(const std::vector<std::string>& args) {
  auto opts = ParseOptions(args, "out", false, "export");
  if (!opts) return 2;
  std::unique_ptr<Logger> log;
  std::optional<Config> config = LoadForTool("export", log);
  if (!config) return 2;
  auto opened = OpenStore(*config, *log, "export");
  if (!opened) return 1;

  // Records first, to a file beside the output; the header (which counts them) goes in front
  // when they are all out, and the output appears only complete (rename).
  const std::filesystem::path out = opts->file;
  const std::filesystem::path body = out.string() + ".records.tmp";
  const std::filesystem::path partial = out.string() + ".tmp";
  std::uint64_t count = 0;
  {
    std::ofstream records(body, std::ios::binary | std::ios::trunc);
    if (!records) return Fail("export", "cannot write " + body.string());
    std::optional<KeyId> after;
    for (;;) {
      auto page = opened->archive->ExportPage(after, kPage);
      if (!page) {
        records.close();
        std::filesystem::remove(body);
        return Fail("export", "reading the store failed: " + page.error().message());
      }
      if (page->empty()) break;
      for (const KeyRecord& r : *page) records << EncodeArchiveRecord(r) << '\n';
      count += page->size();
      after = page->back().id;
    }
    if (!records.flush()) return Fail("export", "cannot write " + body.string());
  }
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    std::ifstream records(body, std::ios::binary);
    const ArchiveHeader header{.version = kArchiveVersion,
                               .count = count,
                               .pepper_fingerprint = PepperFingerprint(config->pepper),
                               .exported_at = FormatRfc3339(SystemClock().NowMs())};
    file << EncodeArchiveHeader(header) << '\n';
    if (count > 0) file << records.rdbuf();
    if (!file.flush()) {
      std::filesystem::remove(body);
      return Fail("export", "cannot write " + partial.string());
    }
  }
  std::filesystem::remove(body);
  std::error_code ec;
  std::filesystem::permissions(
      partial, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(partial, out, ec);
  if (ec) return Fail("export", "cannot rename to " + out.string() + ": " + ec.message());
  std::printf(
      "exported %llu key records to %s (protect it like a database backup: it holds "
      "the keys' hashes)\n",
      static_cast<unsigned long long>(count), out.string().c_str());
  return 0;
}

namespace {

// Reads the export file line by line: the header, then records, each checked.
class ArchiveReader {
 public:
  explicit ArchiveReader(const std::string& path) : in_(path, std::ios::binary), path_(path) {}

  bool Open(std::string& error) {
    if (!in_) {
      error = "cannot read " + path_;
      return false;
    }
    std::string line;
    if (!std::getline(in_, line)) {
      error = path_ + " is empty: not a keycache export file";
      return false;
    }
    line_ = 1;
    std::string why;
    auto h = DecodeArchiveHeader(line, why);
    if (!h) {
      error = path_ + ", line 1: " + why;
      return false;
    }
    header_ = *h;
    return true;
  }

  // The next record; nullopt at the end (`error` empty) or on a bad line (`error` set).
  std::optional<KeyRecord> Next(std::string& error) {
    std::string line;
    if (!std::getline(in_, line)) return std::nullopt;
    ++line_;
    if (in_.eof()) {
      // The writer ends every line with a newline: a last line without one was cut short.
      error = path_ + ", line " + std::to_string(line_) +
              ": the file ends in the middle of a record (truncated)";
      return std::nullopt;
    }
    std::string why;
    auto r = DecodeArchiveRecord(line, why);
    if (!r) {
      error = path_ + ", line " + std::to_string(line_) + ": " + why;
      return std::nullopt;
    }
    return std::move(*r);
  }

  const ArchiveHeader& header() const { return header_; }
  std::uint64_t line() const { return line_; }

 private:
  std::ifstream in_;
  const std::string path_;
  ArchiveHeader header_;
  std::uint64_t line_ = 0;
};

// Reads every record (calling `each` on it) and checks the count. False with `error` set when
// anything is wrong.
template <class Each>
bool ReadAll(const std::string& path, std::string& error, Each each) {
  ArchiveReader reader(path);
  if (!reader.Open(error)) return false;
  std::uint64_t n = 0;
  while (auto r = reader.Next(error)) {
    if (++n > reader.header().count) {
      error = path + ", line " + std::to_string(reader.line()) + ": more records than the " +
              std::to_string(reader.header().count) + " the header announces";
      return false;
    }
    if (!each(*r, error)) return false;
  }
  if (!error.empty()) return false;
  if (n != reader.header().count) {
    error = path + ": the header announces " + std::to_string(reader.header().count) +
            " records but the file holds " + std::to_string(n) + " (truncated?)";
    return false;
  }
  return true;
}

}  // namespace

int RunImportCommand(const std::vector<std::string>& args) {
  auto opts = ParseOptions(args, "in", true, "import");
  if (!opts) return 2;
  std::unique_ptr<Logger> log;
  std::optional<Config> config = LoadForTool("import", log);
  if (!config) return 2;

  // First pass: the whole file must be sound, and made under this pepper, before anything is
  // written.
  std::string error;
  {
    ArchiveReader reader(opts->file);
    if (!reader.Open(error)) return Fail("import", error + "; nothing imported");
    if (reader.header().pepper_fingerprint != PepperFingerprint(config->pepper)) {
      return Fail("import",
                  opts->file + " was exported under another pepper (fingerprint " +
                      reader.header().pepper_fingerprint + ", this configuration's is " +
                      PepperFingerprint(config->pepper) +
                      "): its keys would not verify here. Set KEYCACHE_PEPPER (or "
                      "KEYCACHE_PEPPER_FILE) to the pepper of the instance that exported it; "
                      "nothing imported");
    }
  }
  std::uint64_t total = 0;
  if (!ReadAll(opts->file, error, [&](const KeyRecord&, std::string&) {
        ++total;
        return true;
      })) {
    return Fail("import", error + "; nothing imported");
  }

  auto opened = OpenStore(*config, *log, "import");
  if (!opened) return 1;
  ImportCounts counts;
  std::vector<KeyRecord> batch;
  batch.reserve(kPage);
  auto flush = [&](std::string& why) {
    if (batch.empty()) return true;
    KeyId conflict = 0;
    auto done = opened->archive->ImportBatch(batch, opts->skip_existing, conflict);
    if (!done && done.error() == make_error_code(Errc::kConflict)) {
      why = "key id " + KeyIdToString(conflict) +
            " is already stored for another key (another owner, hash or creation time); run "
            "again with --skip-existing to keep the stored key and import the rest";
      return false;
    }
    if (!done) {
      why = "the store failed: " + done.error().message();
      return false;
    }
    counts.inserted += done->inserted;
    counts.present += done->present;
    counts.skipped += done->skipped;
    batch.clear();
    return true;
  };
  const bool ok = ReadAll(opts->file, error, [&](const KeyRecord& r, std::string& why) {
    batch.push_back(r);
    return batch.size() < kPage || flush(why);
  });
  if (!ok || !flush(error)) {
    const std::uint64_t written = counts.inserted;
    return Fail("import", error + " (" + std::to_string(written) +
                              " records were imported by earlier batches; the batch with the "
                              "failure was rolled back; importing the file again is safe)");
  }
  std::printf(
      "imported %s: %llu records, %llu inserted, %llu already present, %llu skipped (another key "
      "holds the id)\n",
      opts->file.c_str(), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(counts.inserted),
      static_cast<unsigned long long>(counts.present),
      static_cast<unsigned long long>(counts.skipped));
  return 0;
}

}  // namespace keycache
