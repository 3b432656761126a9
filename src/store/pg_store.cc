#include "store/pg_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "store/pg_connection.h"
#include "store/pg_row.h"
#include "store/pg_schema.h"
#include "store/pg_statements.h"
#include "store/scope_text.h"

namespace keycache {
namespace {

using boost::system::error_code;

// An explicit transaction that rolls back unless committed. The rollback gets a bound of its
// own: the call's deadline may be what ended the transaction.
class PgTxn {
 public:
  PgTxn(PgConnection& c, PgDeadline deadline) : c_(c), deadline_(deadline) {}
  ~PgTxn() {
    if (open_ && !c_.broken()) {
      (void)c_.Query("ROLLBACK", "rollback", PgClock::now() + c_.timeout());
    }
  }
  PgTxn(const PgTxn&) = delete;
  PgTxn& operator=(const PgTxn&) = delete;

  Result<void> Begin() {
    if (auto r = c_.Query("BEGIN", "begin", deadline_); !r) return r.error();
    open_ = true;
    return {};
  }
  Result<void> Commit() {
    open_ = false;
    if (auto r = c_.Query("COMMIT", "commit", deadline_); !r) return r.error();
    return {};
  }

 private:
  PgConnection& c_;
  const PgDeadline deadline_;
  bool open_ = false;
};

Result<std::optional<KeyRecord>> One(Result<PgResult> res, Logger& log) {
  if (!res) return res.error();
  return ReadFirstRecord(res->get(), log);
}

Result<KeyRecord> Required(Result<std::optional<KeyRecord>> row) {
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  return std::move(**row);
}

Result<std::vector<KeyRecord>> All(Result<PgResult> res, Logger& log) {
  if (!res) return res.error();
  std::vector<KeyRecord> out;
  const int rows = PQntuples(res->get());
  out.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    Result<KeyRecord> record = ReadRecord(res->get(), i, log);
    if (!record) return record.error();
    out.push_back(std::move(*record));
  }
  return out;
}

Result<std::int64_t> Count(Result<PgResult> res) {
  if (!res) return res.error();
  std::int64_t n = 0;
  if (PQntuples(res->get()) != 1 || !PgInt(res->get(), 0, 0, n) || n < 0) {
    return make_error_code(Errc::kDatabase);
  }
  return n;
}

constexpr std::chrono::milliseconds kOpenBound{10'000};

std::int64_t ClampToInt64(std::uint64_t v) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX));
}

}  // namespace

struct PgStore::Slot {
  std::timed_mutex mu;
  std::unique_ptr<PgConnection> pg;  // guarded by mu
};

PgStore::PgStore(std::vector<std::unique_ptr<Slot>> slots, std::chrono::milliseconds timeout,
                 Logger& log)
    : log_(log), timeout_(timeout), slots_(std::move(slots)) {}

PgStore::~PgStore() = default;

bool PgStore::IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& url, Logger& log,
                                               PgStoreOptions options) {
  if (!IsPostgresUrl(url) || options.connections < 1 || options.timeout.count() <= 0) {
    log.Warn("store_bad_url", {{"reason", "expected postgresql://..., a pool and a timeout"}});
    return make_error_code(Errc::kBadInput);
  }
  const PgConnectionOptions conn_options{.timeout = options.timeout};
  // Start-up is not a request: a new session (a backend forked, a password checked) and the
  // migration may take longer than one statement's bound on a loaded host, so opening gets at
  // least kOpenBound a connection. The sessions' own bounds stay options.timeout.
  const auto open_bound = std::max<std::chrono::milliseconds>(options.timeout, kOpenBound);
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < options.connections; ++i) {
    const PgDeadline deadline = PgClock::now() + open_bound;
    auto connected = PgConnection::Connect(url, conn_options, deadline, log);
    if (!connected) return connected.error();
    PgConnection& c = **connected;
    if (i == 0) {
      if (auto r = MigratePgSchema(c, log, deadline); !r) return r.error();
    }
    if (auto r = c.Prepare(pg::Statements(), deadline); !r) return r.error();
    auto slot = std::make_unique<Slot>();
    slot->pg = std::move(*connected);
    slots.push_back(std::move(slot));
  }
  log.Info("store_opened",
           {{"database", "postgresql"}, {"connections", std::to_string(slots.size())}});
  return std::unique_ptr<PgStore>(new PgStore(std::move(slots), options.timeout, log));
}

template <class T, class Body>
Result<T> PgStore::Call(std::string_view op, bool retry_read, Body body) {
  const PgDeadline deadline = PgClock::now() + timeout_;
  // A free connection if there is one, else wait (bounded) for the one the search started at.
  const std::size_t n = slots_.size();
  const std::size_t start = next_slot_.fetch_add(1, std::memory_order_relaxed) % n;
  Slot* slot = nullptr;
  std::unique_lock<std::timed_mutex> lock;
  for (std::size_t i = 0; i < n && slot == nullptr; ++i) {
    Slot& candidate = *slots_[(start + i) % n];
    lock = std::unique_lock(candidate.mu, std::try_to_lock);
    if (lock.owns_lock()) slot = &candidate;
  }
  if (slot == nullptr) {
    slot = slots_[start].get();
    lock = std::unique_lock(slot->mu, deadline);
    if (!lock.owns_lock()) {
      log_.Warn("store_pg_timeout", {{"op", op}, {"waiting_for", "connection"}});
      return make_error_code(Errc::kTimeout);
    }
  }
  PgConnection& c = *slot->pg;
  c.Poll();
  if (c.broken()) {
    if (auto reset = c.Reset(deadline); !reset) return reset.error();
  }
  Result<T> r = body(c, deadline);
  if (!r && retry_read && c.broken() && r.error() != make_error_code(Errc::kTimeout)) {
    log_.Info("store_pg_retry", {{"op", op}});
    if (auto reset = c.Reset(deadline); !reset) return reset.error();
    r = body(c, deadline);
  }
  return r;
}

Result<void> PgStore::Ping() {
  return Call<void>("ping", true, [](PgConnection& c, PgDeadline d) -> Result<void> {
    if (auto r = c.Exec(pg::kPing, PgParams(), "ping", d); !r) return r.error();
    return {};
  });
}

Result<std::optional<KeyRecord>> PgStore::FindById(KeyId id) {
  return Call<std::optional<KeyRecord>>("find", true, [&](PgConnection& c, PgDeadline d) {
    return One(c.Exec(pg::kFind, PgParams().Int(PgId(id)), "find", d), log_);
  });
}

std::vector<Result<std::optional<KeyRecord>>> PgStore::FindByIds(std::span<const KeyId> ids) {
  if (ids.size() == 1) return {FindById(ids[0])};
  std::vector<std::int64_t> keys;
  keys.reserve(ids.size());
  for (KeyId id : ids) keys.push_back(PgId(id));
  const PgParams p = PgParams().Text(PgIntArray(keys));
  Result<std::vector<KeyRecord>> rows =
      Call<std::vector<KeyRecord>>("find_many", true, [&](PgConnection& c, PgDeadline d) {
        return All(c.Exec(pg::kFindMany, p, "find_many", d), log_);
      });
  std::vector<Result<std::optional<KeyRecord>>> out;
  out.reserve(ids.size());
  if (!rows) {
    out.assign(ids.size(), rows.error());
    return out;
  }
  for (KeyId id : ids) {
    const auto row =
        std::find_if(rows->begin(), rows->end(), [id](const KeyRecord& r) { return r.id == id; });
    out.push_back(row == rows->end() ? std::optional<KeyRecord>() : std::optional<KeyRecord>(*row));
  }
  return out;
}

Result<void> PgStore::Insert(const KeyRecord& record, std::size_t max_live_keys) {
  if (!ScopesEncodable(record.scopes)) return make_error_code(Errc::kBadInput);
  return Call<void>("insert", false, [&](PgConnection& c, PgDeadline d) -> Result<void> {
    PgTxn txn(c, d);
    if (auto r = txn.Begin(); !r) return r;
    const PgParams owner = PgParams().Text(record.owner_id);
    if (auto r = c.Exec(pg::kLockOwner, owner, "insert_lock", d); !r) return r.error();
    Result<std::int64_t> live = Count(c.Exec(pg::kCountLive, owner, "insert_count", d));
    if (!live) return live.error();
    if (static_cast<std::uint64_t>(*live) >= max_live_keys) {
      return make_error_code(Errc::kLimitExceeded);
    }
    PgParams row;
    BindRecord(row, record);
    if (auto r = c.Exec(pg::kInsert, row, "insert", d); !r) return r.error();
    return txn.Commit();
  });
}

Result<KeyRecord> PgStore::Update(KeyId id, const KeyPatch& patch, TimeMs now) {
  if (patch.scopes && !ScopesEncodable(*patch.scopes)) return make_error_code(Errc::kBadInput);
  PgParams p;
  p.Int(PgId(id));
  p.Bool(patch.name.has_value());
  patch.name ? p.Text(*patch.name) : p.Null();
  p.Bool(patch.scopes.has_value());
  patch.scopes ? p.Text(EncodeScopes(*patch.scopes)) : p.Null();
  p.Bool(patch.expires_at.has_value());
  patch.expires_at ? p.IntOrNull(*patch.expires_at, kNever) : p.Null();
  p.Bool(patch.enabled.has_value());
  patch.enabled ? p.Bool(*patch.enabled) : p.Null();
  p.Bool(patch.metadata_json.has_value());
  patch.metadata_json ? p.TextOrNull(*patch.metadata_json) : p.Null();
  p.Int(now);
  return Call<KeyRecord>("update", false, [&](PgConnection& c, PgDeadline d) {
    return Required(One(c.Exec(pg::kUpdate, p, "update", d), log_));
  });
}

Result<KeyRecord> PgStore::Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) {
  if (at == kNever) return make_error_code(Errc::kBadInput);
  return Call<KeyRecord>("revoke", false, [&](PgConnection& c, PgDeadline d) {
    const PgParams p = PgParams().Int(PgId(id)).Int(at).TextOrNull(reason).Int(now);
    Result<std::optional<KeyRecord>> row = One(c.Exec(pg::kRevoke, p, "revoke", d), log_);
    // No row updated: either there is no such key, or it was already revoked at or before
    // `at` (then the earlier revocation stands and the record is returned as it is).
    if (row && !*row)
      row = One(c.Exec(pg::kFind, PgParams().Int(PgId(id)), "revoke_find", d), log_);
    return Required(std::move(row));
  });
}

Result<KeyRecord> PgStore::Rotate(KeyId old_id, const KeyRecord& replacement, TimeMs old_revoked_at,
                                  TimeMs now) {
  if (old_revoked_at == kNever || !ScopesEncodable(replacement.scopes)) {
    return make_error_code(Errc::kBadInput);
  }
  return Call<KeyRecord>("rotate", false, [&](PgConnection& c, PgDeadline d) -> Result<KeyRecord> {
    PgTxn txn(c, d);
    if (auto r = txn.Begin(); !r) return r.error();
    Result<KeyRecord> old = Required(
        One(c.Exec(pg::kFindForUpdate, PgParams().Int(PgId(old_id)), "rotate_find", d), log_));
    if (!old) return old.error();
    if (old->revoked_at != kNever) return make_error_code(Errc::kConflict);
    PgParams row;
    BindRecord(row, replacement);
    if (auto r = c.Exec(pg::kInsert, row, "rotate_insert", d); !r) return r.error();
    const PgParams mark =
        PgParams().Int(PgId(old_id)).Int(old_revoked_at).Int(PgId(replacement.id)).Int(now);
    Result<KeyRecord> marked = Required(One(c.Exec(pg::kRotateMark, mark, "rotate_mark", d), log_));
    if (!marked) return marked.error();
    if (auto r = txn.Commit(); !r) return r.error();
    return marked;
  });
}

Result<KeyRecord> PgStore::Delete(KeyId id) {
  return Call<KeyRecord>("delete", false, [&](PgConnection& c, PgDeadline d) {
    return Required(One(c.Exec(pg::kDelete, PgParams().Int(PgId(id)), "delete", d), log_));
  });
}

Result<std::vector<KeyRecord>> PgStore::ListByOwner(std::string_view owner_id) {
  return Call<std::vector<KeyRecord>>("list_by_owner", true, [&](PgConnection& c, PgDeadline d) {
    return All(c.Exec(pg::kListByOwner, PgParams().Text(owner_id), "list_by_owner", d), log_);
  });
}

Result<std::vector<KeyRecord>> PgStore::TopByUsage(std::size_t limit, TimeMs now) {
  return Call<std::vector<KeyRecord>>("top_by_usage", true, [&](PgConnection& c, PgDeadline d) {
    const PgParams p = PgParams().Int(now).Int(ClampToInt64(limit));
    return All(c.Exec(pg::kTopByUsage, p, "top_by_usage", d), log_);
  });
}

Result<void> PgStore::AddUsage(std::span<const UsageDelta> deltas) {
  if (deltas.empty()) return {};
  // One row per id, as applying the deltas one after another would leave it: counts add up
  // (saturating), the newest use wins and, between equal times, the earlier delta. Sorted by
  // id, so concurrent batches tend to lock rows in one order.
  struct Merged {
    std::uint64_t count = 0;
    TimeMs at = 0;
    std::string ip;
  };
  std::map<KeyId, Merged> merged;
  for (const UsageDelta& d : deltas) {
    Merged& m = merged[d.id];
    m.count =
        std::min<std::uint64_t>(m.count + std::min<std::uint64_t>(d.count, INT64_MAX), INT64_MAX);
    if (d.last_used_at > m.at) {
      m.at = d.last_used_at;
      m.ip = d.last_used_ip;
    }
  }
  std::vector<std::int64_t> ids, counts, times;
  std::vector<std::string> ips;
  for (const auto& [id, m] : merged) {
    ids.push_back(PgId(id));
    counts.push_back(static_cast<std::int64_t>(m.count));
    times.push_back(m.at);
    ips.push_back(m.ip);
  }
  const PgParams p = PgParams()
                         .Text(PgIntArray(ids))
                         .Text(PgIntArray(counts))
                         .Text(PgIntArray(times))
                         .Text(PgTextArray(ips));
  // An id that no longer exists joins no row: its delta is dropped, as documented. Batches
  // from several instances can still lock rows in different orders (the plan decides); the
  // victim of a deadlock was rolled back entirely, so it runs once more.
  return Call<void>("add_usage", false, [&](PgConnection& c, PgDeadline d) -> Result<void> {
    Result<PgResult> r = c.Exec(pg::kAddUsage, p, "add_usage", d);
    if (!r && c.last_sqlstate() == "40P01") r = c.Exec(pg::kAddUsage, p, "add_usage_again", d);
    if (!r) return r.error();
    return {};
  });
}

Result<std::uint64_t> PgStore::CountKeys() {
  return Call<std::uint64_t>(
      "count_keys", true, [&](PgConnection& c, PgDeadline d) -> Result<std::uint64_t> {
        Result<std::int64_t> n = Count(c.Exec(pg::kCountAll, PgParams(), "count_keys", d));
        if (!n) return n.error();
        return static_cast<std::uint64_t>(*n);
      });
}

Result<std::vector<KeyId>> PgStore::ListLegacyIds() {
  return Call<std::vector<KeyId>>(
      "list_legacy_ids", true, [&](PgConnection& c, PgDeadline d) -> Result<std::vector<KeyId>> {
        Result<PgResult> r = c.Exec(pg::kLegacyIds, PgParams(), "list_legacy_ids", d);
        if (!r) return r.error();
        std::vector<KeyId> ids;
        const int rows = PQntuples(r->get());
        ids.reserve(static_cast<std::size_t>(rows));
        for (int i = 0; i < rows; ++i) {
          std::int64_t id = 0;
          if (!PgInt(r->get(), i, 0, id)) {
            log_.Warn("store_corrupt_row", {{"op", "list_legacy_ids"}});
            return make_error_code(Errc::kDatabase);
          }
          ids.push_back(IdFromPg(id));
        }
        std::sort(ids.begin(), ids.end());
        return ids;
      });
}

Result<std::vector<KeyRecord>> PgStore::ExportPage(std::optional<KeyId> after, std::size_t limit) {
  // Integers only in the text: nothing to quote.
  const std::string sql = "SELECT " + std::string(pg::kRecordColumns) + " FROM api_keys" +
                          (after ? " WHERE id > " + std::to_string(PgId(*after)) : "") +
                          " ORDER BY id LIMIT " +
                          std::to_string(std::min<std::size_t>(limit, INT64_MAX));
  return Call<std::vector<KeyRecord>>("export", true, [&](PgConnection& c, PgDeadline d) {
    return All(c.Query(sql.c_str(), "export", d), log_);
  });
}

Result<ImportCounts> PgStore::ImportBatch(std::span<const KeyRecord> records, bool skip_existing,
                                          KeyId& conflict) {
  for (const KeyRecord& r : records) {
    if (!ScopesEncodable(r.scopes)) return make_error_code(Errc::kBadInput);
  }
  return Call<ImportCounts>(
      "import", false, [&](PgConnection& c, PgDeadline d) -> Result<ImportCounts> {
        PgTxn txn(c, d);
        if (auto r = txn.Begin(); !r) return r.error();
        ImportCounts counts;
        for (const KeyRecord& r : records) {
          Result<std::optional<KeyRecord>> stored =
              One(c.Exec(pg::kFindForUpdate, PgParams().Int(PgId(r.id)), "import_find", d), log_);
          if (!stored) return stored.error();
          if (*stored) {
            if (!CountStoredId(**stored, r, skip_existing, counts, conflict)) {
              return make_error_code(Errc::kConflict);  // PgTxn rolls back
            }
            continue;
          }
          PgParams row;
          BindRecord(row, r);
          if (auto done = c.Exec(pg::kInsert, row, "import_insert", d); !done) {
            if (done.error() == make_error_code(Errc::kConflict)) conflict = r.id;  // a race
            return done.error();
          }
          ++counts.inserted;
        }
        if (auto r = txn.Commit(); !r) return r.error();
        return counts;
      });
}

}  // namespace keycache
