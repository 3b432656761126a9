// ModelDriver's requests: verifications of every kind of presented key, creates, changes and
// cache invalidations, each judged against the oracle and the fault timeline.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <sstream>

#include "core/api_key.h"
#include "core/key_id.h"
#include "integration/integration_util.h"
#include "integration/redis_tier_util.h"
#include "model/model_driver_internal.h"

namespace keycache::testing::model {

using namespace driver_detail;
namespace json = boost::json;

void ModelDriver::DoVerify(Client& c, bool auth, bool probe) {
  auto allowed = [this](const char* kind) { return options_.exclude.count(kind) == 0; };
  const int roll = probe ? 0 : c.Uniform(0, 99);
  Presented kind = Presented::kReal;
  if (roll >= 70 && roll < 78 && allowed("wrong_secret")) kind = Presented::kWrongSecret;
  if (roll >= 78 && roll < 86 && allowed("unknown")) kind = Presented::kUnknown;
  if (roll >= 86 && roll < 92 && allowed("malformed")) kind = Presented::kMalformed;
  if (roll >= 92 && roll < 97 && allowed("garbage")) kind = Presented::kGarbage;
  if (roll >= 97 && auth && allowed("missing")) kind = Presented::kMissing;

  std::vector<std::string> required;
  const int scopes_roll = c.Uniform(0, 99);
  const int n_required = scopes_roll < 50 ? 0 : scopes_roll < 85 ? 1 : 2;
  for (int i = 0; i < n_required; ++i) {
    const std::string& s = kRequired[static_cast<std::size_t>(c.Uniform(0, kRequired.size() - 1))];
    if (std::find(required.begin(), required.end(), s) == required.end()) required.push_back(s);
  }

  std::string presented, subject_id;
  ModelKey* key = nullptr;
  Forged* forged = nullptr;
  {
    std::lock_guard lock(mu_);
    if (kind == Presented::kReal || kind == Presented::kWrongSecret ||
        kind == Presented::kMalformed) {
      key = PickForVerify(c.rng, c.instance, probe);
      if (key == nullptr) kind = Presented::kUnknown;
    }
    switch (kind) {
      case Presented::kReal:
        presented = key->key;
        break;
      case Presented::kWrongSecret:
        presented = key->wrong_secret;
        break;
      case Presented::kMalformed: {
        const int how = c.Uniform(0, 3);
        if (how == 0) {
          presented =
              FlipChar(key->key, static_cast<std::size_t>(c.Uniform(3, key->key.size() - 1)));
        } else if (how == 1) {
          presented = key->key.substr(0, key->key.size() - 1);  // one character short
        } else if (how == 2) {
          presented = "zz" + key->key.substr(kPrefix.size());  // another prefix
        } else {
          presented = key->key + "A";  // one character long
        }
        key = nullptr;  // judged as malformed, not as the key
        break;
      }
      case Presented::kUnknown:
        forged = forged_[static_cast<std::size_t>(c.Uniform(0, forged_.size() - 1))].get();
        presented = forged->key;
        subject_id = forged->id;
        break;
      case Presented::kGarbage: {
        const int n = c.Uniform(0, 80);
        for (int i = 0; i < n; ++i) presented.push_back(static_cast<char>(c.Uniform(0x21, 0x7e)));
        if (presented.empty() && auth) presented = "x";
        break;
      }
      case Presented::kMissing:
        break;
    }
    if (key != nullptr) subject_id = key->id;
    in_flight_[static_cast<std::size_t>(c.instance)][c.thread] = {
        Rel(NowMs()) + " " + (auth ? "auth" : "verify") + " key=" + presented, subject_id, NowMs()};
  }

  ApiClient::Headers headers;
  const bool bearer = c.Uniform(0, 4) == 0;
  const Ms s = NowMs();
  Reply reply;
  if (auth) {
    if (kind != Presented::kMissing) {
      if (bearer) {
        headers.emplace_back("Authorization", "Bearer " + presented);
      } else {
        headers.emplace_back("X-API-Key", presented);
      }
    }
    std::string scope_header;
    for (const auto& r : required) scope_header += (scope_header.empty() ? "" : ",") + r;
    if (!scope_header.empty()) headers.emplace_back("X-Required-Scope", scope_header);
    reply = c.api().Send(http::verb::get, "/v1/auth", {}, std::move(headers),
                         probe ? kProbeTimeout : kVerifyTimeout);
  } else {
    json::object body;
    body["key"] = presented;
    if (!required.empty() || c.Uniform(0, 1) == 0) body["scopes"] = JsonStrings(required);
    reply = c.api().Send(http::verb::post, "/v1/keys/verify", json::serialize(body), {},
                         probe ? kProbeTimeout : kVerifyTimeout);
  }
  const Ms r = NowMs();
  const bool reachable =
      reply.status != 0 || (probe ? cluster_.Alive(c.instance) : Reachable(c.instance));

  Outcome out;
  out.status = reply.status;
  if (auth) {
    if (reply.status == 200) {
      out.code = std::string(kValid);
      out.key_id = reply.Header("X-Key-Id");
      std::vector<std::string> scopes;
      std::stringstream list(reply.Header("X-Key-Scopes"));
      for (std::string item; std::getline(list, item, ',');) {
        if (!item.empty()) scopes.push_back(item);
      }
      out.scopes = std::move(scopes);
    } else {
      out.code = reply.Str("code");
    }
  } else if (reply.status == 200) {
    out.code = reply.Str("code");
    out.key_id = reply.Str("key_id");
    if (const auto* sc = reply.Object().if_contains("scopes")) out.scopes = Strings(sc);
  }

  std::lock_guard lock(mu_);
  in_flight_[static_cast<std::size_t>(c.instance)].erase(c.thread);
  ++ops_by_kind_[auth ? "auth" : "verify"];
  const std::string endpoint = auth ? "auth " : "verify ";
  ++answers_by_code_[endpoint +
                     (Unanswered(reply)
                          ? (reply.status == 0 ? "no-answer" : std::to_string(reply.status))
                          : out.code)];
  const std::string line =
      Rel(s) + ".." + Rel(r) + " [instance " + std::to_string(c.instance) + "] " +
      (auth ? "auth" : "verify") + (required.empty() ? "" : " scopes=" + Sorted(required)) +
      " -> " + (Unanswered(reply) ? Brief(reply) : std::to_string(reply.status) + " " + out.code);
  static constexpr const char* kKindNames[] = {
      "", " (wrong secret)", " (unknown id)", " (malformed)", " (garbage)", ""};
  NoteInstance(c.instance,
               line + " key=" + presented.substr(0, 64) + kKindNames[static_cast<int>(kind)]);
  if (forged != nullptr) {
    forged->Add(line);
  }
  if (key != nullptr) {
    key->AddVerification(line + (kind == Presented::kWrongSecret ? " (wrong secret)" : ""));
  }
  const std::string where = " on instance " + std::to_string(c.instance) + " (sent " + Rel(s) +
                            ", answered " + Rel(r) + ")";
  if (Unanswered(reply)) {
    if (reply.status == 0) {
      unanswered_[static_cast<std::size_t>(c.instance)].push_back(
          {Rel(s) + " " + (auth ? "auth" : "verify") + " key=" + presented, subject_id, s});
    }
    if (reply.status == 500) {
      Violation(endpoint + "answered 500" + where + ": " + Brief(reply), key);
    } else if (!reachable) {
      // It died: the monitor reports that, with this request among the unanswered.
    } else if (probe && reply.status == 0) {
      ++probe_timeouts_;
    } else if (Excused(c.instance, s, r)) {
      std::string fault = timeline_.ActiveAt(s);
      ++unanswered_by_fault_[fault.empty() ? timeline_.ActiveAt(r) : fault];
    } else {
      Violation(endpoint + "answered " + Brief(reply) + where + " with every dependency healthy" +
                    Warnings(c.instance, s, r),
                key);
    }
    if (reply.status == 0 && key != nullptr && kind == Presented::kReal) ++key->valid_unknown;
    return;
  }
  // The HTTP shape of the answer.
  if (auth) {
    const unsigned want = out.code == kValid ? 200 : out.code == kInsufficientScope ? 403 : 401;
    if (reply.status != want || out.code.empty()) {
      Violation("/v1/auth answered " + Brief(reply) + where + ": status and code disagree", key);
      return;
    }
  } else {
    const auto* valid = reply.Object().if_contains("valid");
    if (reply.status != 200 || valid == nullptr || !valid->is_bool() ||
        valid->as_bool() != (out.code == kValid)) {
      Violation("/v1/keys/verify answered " + Brief(reply) + where, key);
      return;
    }
  }
  switch (kind) {
    case Presented::kReal:
      JudgeReal(*key, c.instance, auth, required, s, r, out);
      return;
    case Presented::kWrongSecret:
    case Presented::kUnknown:
      if (out.code != kNotFound || !out.key_id.empty()) {
        Violation(std::string(kind == Presented::kUnknown ? "an unknown key id"
                                                          : "a wrong secret for a real id") +
                      " got " + Brief(reply) + where + "; expected NOT_FOUND without identity",
                  key);
      }
      return;
    case Presented::kMalformed:
    case Presented::kGarbage:
      if (out.code != kMalformed) {
        Violation("a malformed key '" + presented + "' got " + Brief(reply) + where, nullptr);
      }
      return;
    case Presented::kMissing:
      if (out.code != "MISSING_API_KEY") {
        Violation("/v1/auth without a key got " + Brief(reply) + where, nullptr);
      }
      return;
  }
}

void ModelDriver::JudgeReal(ModelKey& k, int instance, bool auth,
                            const std::vector<std::string>& required, Ms s, Ms r,
                            const Outcome& outcome) {
  // /v1/keys/verify names the key whenever the secret matched; /v1/auth only when valid.
  const bool identified =
      auth ? outcome.code == kValid : outcome.code != kNotFound && outcome.code != kMalformed;
  if (identified && outcome.key_id != k.id) {
    Violation("the answer names key '" + outcome.key_id + "' for key " + k.id + " on instance " +
                  std::to_string(instance),
              &k);
  }
  const Judgement j = k.history.Judge({outcome.code, outcome.scopes}, s, r, required,
                                      options_.bound, options_.time_slack);
  if (!j.allowed) {
    Violation(std::string(auth ? "/v1/auth" : "/v1/keys/verify") + " on instance " +
                  std::to_string(instance) + " sent " + Rel(s) + " answered " + Rel(r) + ": " +
                  outcome.code +
                  (outcome.scopes ? " with scopes " + Sorted(*outcome.scopes) : std::string()) +
                  " for key " + k.id +
                  (required.empty() ? "" : " (required " + Sorted(required) + ")") +
                  "; the model allows " + j.expected + " (bound " + std::to_string(options_.bound) +
                  " ms; fault in force: " +
                  (timeline_.ActiveAt(s).empty() ? "none" : timeline_.ActiveAt(s)) + ")",
              &k);
  }
  if (j.staleness) {
    std::string fault = j.stale_fault;
    if (fault.empty()) fault = timeline_.ActiveAt(s);
    if (fault.empty()) fault = "none";
    Ms& worst = max_staleness_[fault];
    worst = std::max(worst, *j.staleness);
    Ms& by_instance = max_staleness_by_instance_[instance];
    by_instance = std::max(by_instance, *j.staleness);
  }
  if (outcome.code == kValid) ++k.valid_seen;
  k.seen_on[static_cast<std::size_t>(instance)] = r;
}

void ModelDriver::DoCreate(Client& c) {
  json::object body;
  std::string owner;
  {
    std::lock_guard lock(mu_);
    owner = owners_[static_cast<std::size_t>(c.Uniform(0, owners_.size() - 1))];
  }
  std::vector<std::string> scopes;
  for (const auto& g : kGranted) {
    if (c.Uniform(0, 3) == 0) scopes.push_back(g);
  }
  body["owner_id"] = owner;
  body["name"] = "model key";
  body["scopes"] = JsonStrings(scopes);
  if (c.Uniform(0, 9) < 3) body["expires_at"] = Rfc3339FromNow(c.Uniform(3000, 8000));
  c.api().http_client().Disconnect();  // no silent resend of a non-idempotent request
  const Ms s = NowMs();
  const Reply reply = c.api().Admin(http::verb::post, "/v1/keys", json::serialize(body));
  const Ms r = NowMs();
  const bool reachable = reply.status != 0 || Reachable(c.instance);

  std::lock_guard lock(mu_);
  ++ops_by_kind_["create"];
  const std::string where = " on instance " + std::to_string(c.instance) + " (sent " + Rel(s) +
                            ", answered " + Rel(r) + ")";
  const json::object* record = RecordOf(reply);
  const std::string key = reply.Str("key"), id = reply.Str("id");
  if (reply.status == 201 && record != nullptr && !key.empty()) {
    auto k = std::make_unique<ModelKey>();
    k->id = id;
    k->key = key;
    k->owner = owner;
    const auto parsed = ParseKeyId(id);
    auto wrong = parsed ? GenerateKeyWithId(kPrefix, *parsed, KeyHasher(kSharedPepper))
                        : Result<GeneratedKey>(Errc::kBadInput);
    k->wrong_secret = wrong ? wrong->key : UnknownWellFormedKey(kPrefix);
    k->last_change = r;
    k->history.Acked(StateFromRecord(*record), s, r, "create", timeline_.ActiveAt(r));
    k->changes.push_back(Rel(s) + ".." + Rel(r) + " [instance " + std::to_string(c.instance) +
                         "] create scopes=" + Sorted(scopes) +
                         (body.contains("expires_at")
                              ? " expires_at=" + std::string(body["expires_at"].as_string())
                              : "") +
                         " -> 201");
    active_.push_back(k.get());
    keys_.push_back(std::move(k));
    return;
  }
  if (Unanswered(reply)) {
    ++ambiguous_by_op_["create"];
    ++unknown_creates_;
    if (reply.status == 500 || (!Excused(c.instance, s, r) && reachable)) {
      Violation("create answered " + Brief(reply) + where + Warnings(c.instance, s, r), nullptr);
    }
    return;
  }
  Violation("create answered " + Brief(reply) + where, nullptr);
}

void ModelDriver::DoChange(Client& c, const std::string& op) {
  ModelKey* k = nullptr;
  KeyState before, would_be;
  std::string id;
  std::string target, body_text, what;
  http::verb method = http::verb::post;
  int grace_s = 0;
  {
    std::lock_guard lock(mu_);
    k = TakeForChange(c.rng, op == "rotate");
    if (k == nullptr) return;
    id = k->id;
    before = would_be = k->history.latest();
  }
  const Ms planned = NowMs();
  json::object body;
  if (op == "patch_scopes") {
    std::vector<std::string> scopes;
    for (const auto& g : kGranted) {
      if (c.Uniform(0, 2) == 0) scopes.push_back(g);
    }
    body["scopes"] = JsonStrings(scopes);
    std::sort(scopes.begin(), scopes.end());
    would_be.scopes = scopes;
    method = http::verb::patch;
    target = "/v1/keys/" + id;
    what = "patch scopes=" + Sorted(scopes);
  } else if (op == "patch_enabled") {
    body["enabled"] = !before.enabled;
    would_be.enabled = !before.enabled;
    method = http::verb::patch;
    target = "/v1/keys/" + id;
    what = std::string("patch enabled=") + (would_be.enabled ? "true" : "false");
  } else if (op == "revoke") {
    body["reason"] = "model";
    would_be.revoked_at = std::min(before.revoked_at, planned);
    target = "/v1/keys/" + id + "/revoke";
    what = "revoke";
  } else if (op == "rotate") {
    grace_s = c.Uniform(0, 1) == 0 ? 0 : c.Uniform(1, 4);
    body["grace_seconds"] = grace_s;
    would_be.revoked_at = planned + grace_s * 1000;
    target = "/v1/keys/" + id + "/rotate";
    what = "rotate grace=" + std::to_string(grace_s) + "s";
  } else {
    method = http::verb::delete_;
    would_be = KeyState{};
    target = "/v1/keys/" + id;
    what = "delete";
  }
  if (method != http::verb::delete_) body_text = json::serialize(body);
  c.api().http_client().Disconnect();  // no silent resend of a non-idempotent request
  Ms s;
  {
    // The change may be seen from the moment it is sent: it is in the history as ambiguous
    // until its answer says more.
    std::lock_guard lock(mu_);
    s = NowMs();
    k->history.Ambiguous(would_be, s, what);
    in_flight_[static_cast<std::size_t>(c.instance)][c.thread] = {Rel(s) + " " + what + " " + id,
                                                                  id, s};
  }
  const Reply reply = c.api().Admin(method, target, body_text);
  const Ms r = NowMs();
  const bool reachable = reply.status != 0 || Reachable(c.instance);

  std::lock_guard lock(mu_);
  in_flight_[static_cast<std::size_t>(c.instance)].erase(c.thread);
  ++ops_by_kind_[op];
  k->busy = false;
  k->Changed();
  for (std::size_t i = 0; i < k->seen_on.size(); ++i) {
    k->cached_when_changed[i] = k->seen_on[i] > k->last_change;
  }
  k->last_change = r;
  k->last_change_instance = c.instance;
  const std::string where = " on instance " + std::to_string(c.instance) + " (sent " + Rel(s) +
                            ", answered " + Rel(r) + ")";
  const std::string line = Rel(s) + ".." + Rel(r) + " [instance " + std::to_string(c.instance) +
                           "] " + what + " -> " + Brief(reply);
  k->changes.push_back(line);
  NoteInstance(c.instance, line + " key " + id);
  const std::string fault = timeline_.ActiveAt(r);

  // A rotation's new key, from a 201 (or from a 503 that still carries it).
  auto add_rotated = [&](bool ambiguous) {
    const json::object* record = RecordOf(reply);
    const std::string key = reply.Str("key"), new_id = reply.Str("id");
    if (key.empty() || new_id.empty()) return;
    auto fresh = std::make_unique<ModelKey>();
    fresh->id = new_id;
    fresh->key = key;
    fresh->owner = k->owner;
    const auto parsed = ParseKeyId(new_id);
    auto wrong = parsed ? GenerateKeyWithId(kPrefix, *parsed, KeyHasher(kSharedPepper))
                        : Result<GeneratedKey>(Errc::kBadInput);
    fresh->wrong_secret = wrong ? wrong->key : UnknownWellFormedKey(kPrefix);
    fresh->last_change = r;
    KeyState state = record ? StateFromRecord(*record) : before;
    state.exists = true;
    state.revoked_at = kNever;
    if (ambiguous) {
      fresh->history.Ambiguous(state, s, "created by an unanswered rotation of " + id);
    } else {
      fresh->history.Acked(state, s, r, "created by rotation of " + id, fault);
    }
    fresh->changes.push_back(Rel(s) + ".." + Rel(r) + " [instance " + std::to_string(c.instance) +
                             "] created by " + what + " of " + id + " -> " +
                             std::to_string(reply.status));
    active_.push_back(fresh.get());
    keys_.push_back(std::move(fresh));
  };

  if (reply.status == 200 || reply.status == 201) {
    KeyState after;
    const json::object* record = op == "rotate" ? RecordOf(reply) : &reply.Object();
    if (op == "delete") {
      after = KeyState{};
    } else if (op == "rotate") {
      // The stored revocation time is the job's clock plus the grace: the new record's
      // created_at plus the grace. rotated_from.revoked_at is the route's clock (later).
      after = before;
      const Ms created = record ? TimeOrNever(*record, "created_at") : kNever;
      after.revoked_at = created == kNever ? s + grace_s * 1000 : created + grace_s * 1000;
      if (const auto* from = Member(reply.json, {"rotated_from", "revoked_at"});
          from && from->is_string() && created != kNever) {
        if (auto shown = ParseRfc3339(from->as_string())) {
          max_rotate_revoked_at_skew_ =
              std::max(max_rotate_revoked_at_skew_, *shown - after.revoked_at);
        }
      }
      add_rotated(false);
    } else {
      after = StateFromRecord(*record);
    }
    // The answer must show the change, and nothing else changed.
    KeyState expect = would_be;
    if (op == "revoke" || op == "rotate") {
      const bool plausible =
          op == "revoke"
              ? (after.revoked_at == before.revoked_at && before.revoked_at <= s) ||
                    (after.revoked_at >= s - 50 && after.revoked_at <= r + 50)
              : after.revoked_at >= s - 50 && after.revoked_at <= r + 50 + grace_s * 1000;
      if (!plausible) {
        Violation(what + " of " + id + where + " answered revoked_at " +
                      std::to_string(after.revoked_at - start_) + " ms after the start",
                  k);
      }
      expect.revoked_at = after.revoked_at;
    }
    if (!(expect == after)) {
      Violation(what + " of " + id + where +
                    ": the answer's record does not show exactly the change (expected -> "
                    "answered): " +
                    Diff(expect, after),
                k);
    }
    k->history.Acknowledge(after, r, fault);
    return;
  }
  if (Unanswered(reply)) {
    ++ambiguous_by_op_[op];
    if (reply.status == 0) {
      unanswered_[static_cast<std::size_t>(c.instance)].push_back(
          {Rel(s) + " " + what + " " + id, id, s});
    }
    if (reply.status == 500 || (!Excused(c.instance, s, r) && reachable)) {
      Violation(
          what + " of " + id + " answered " + Brief(reply) + where + Warnings(c.instance, s, r), k);
    }
    if (op == "rotate") add_rotated(true);
    return;
  }
  // A 4xx for a change the model says is fine: the model and the service disagree. Read it back
  // at the next settle.
  Violation(what + " of " + id + " answered " + Brief(reply) + where +
                " although the model says the key exists" +
                (op == "rotate" ? " and is not revoked" : ""),
            k);
}

void ModelDriver::DoInvalidate(Client& c) {
  json::object body;
  std::string desc;
  {
    std::lock_guard lock(mu_);
    const int how = c.Uniform(0, 3);
    if (how == 0 && !keys_.empty()) {
      const auto& k = keys_[static_cast<std::size_t>(c.Uniform(0, keys_.size() - 1))];
      body["key_id"] = k->id;
      desc = "key_id=" + k->id;
    } else if (how == 1) {
      const auto& o = owners_[static_cast<std::size_t>(c.Uniform(0, owners_.size() - 1))];
      body["owner_id"] = o;
      desc = "owner_id=" + o;
    } else if (how == 2) {
      static constexpr const char* kTypes[] = {"validation", "scope", "user_list", "usage", "all"};
      const char* t = kTypes[c.Uniform(0, std::size(kTypes) - 1)];
      body["type"] = t;
      desc = std::string("type=") + t;
    } else {
      desc = "all";
    }
  }
  const Ms s = NowMs();
  const Reply reply =
      c.api().Admin(http::verb::post, "/admin/cache/invalidate", json::serialize(body));
  const Ms r = NowMs();
  const bool reachable = reply.status != 0 || Reachable(c.instance);
  std::lock_guard lock(mu_);
  ++ops_by_kind_["invalidate"];
  NoteInstance(c.instance, Rel(s) + ".." + Rel(r) + " [instance " + std::to_string(c.instance) +
                               "] invalidate " + desc + " -> " + Brief(reply));
  if (reply.status == 200) return;
  if (reply.status == 500 || !Unanswered(reply) || (!Excused(c.instance, s, r) && reachable)) {
    Violation("invalidate " + desc + " on instance " + std::to_string(c.instance) + " answered " +
                  Brief(reply) + Warnings(c.instance, s, r),
              nullptr);
  }
}

}  // namespace keycache::testing::model
