// The oracle of the model-based test: each key's history of acknowledged (and ambiguous)
// changes, and which verification answers that history allows for a request sent at s and
// answered at r. Pure logic, written from docs/api.md independently of src/core (scope matching
// and the order of verdicts are re-implemented here on purpose). Not synchronised: the driver
// guards a KeyHistory with its own mutex.
//
// The rules (wall-clock milliseconds, the server's clock):
//  - Bound: a change acknowledged at t is in force for every request sent after t + bound.
//    So the answer must come from a version at least as new as the newest one acknowledged
//    before s - bound, and no newer than the newest one sent before r.
//  - A change without a clear answer (5xx, timeout) is ambiguous: both the version before and
//    after it are allowed until Resolve() says whether it took effect (and from when).
//  - Time-based transitions (expiry, end of a rotation's grace) allow either side within
//    `time_slack` of the transition.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace keycache::testing::model {

using Ms = std::int64_t;
inline constexpr Ms kNever = std::numeric_limits<Ms>::max();
inline constexpr Ms kLongAgo = std::numeric_limits<Ms>::min() / 2;

// The verification codes of docs/api.md.
inline constexpr std::string_view kValid = "VALID", kRevoked = "REVOKED", kExpired = "EXPIRED",
                                  kDisabled = "DISABLED", kNotFound = "NOT_FOUND",
                                  kMalformed = "MALFORMED",
                                  kInsufficientScope = "INSUFFICIENT_SCOPE";

// A key as its record says, at one version.
struct KeyState {
  bool exists = false;  // false: not created yet, or deleted
  std::vector<std::string> scopes;
  bool enabled = true;
  Ms expires_at = kNever;
  Ms revoked_at = kNever;

  // Equal in everything a verification can observe.
  friend bool operator==(const KeyState&, const KeyState&) = default;
};

// Does a granted scope cover a required one: `*` alone is `*:*`; a granted `*` side covers any
// name; a required `*` side is covered only by a granted `*`.
bool ScopeCovers(std::string_view granted, std::string_view required);

// The verdict for the right secret at time `now` (precedence: revoked, disabled, expired,
// scopes).
std::string_view Decide(const KeyState& state, Ms now, const std::vector<std::string>& required);

// Every verdict `state` can give for a request in flight during [from, to].
std::set<std::string_view> PossibleCodes(const KeyState& state, Ms from, Ms to,
                                         const std::vector<std::string>& required);

struct Version {
  enum class Status { kAcked, kAmbiguous, kVoid };
  KeyState state;
  Ms sent_at = kLongAgo;
  Ms acked_at = kLongAgo;  // for kAcked; the resolution time for a resolved ambiguous change
  Status status = Status::kAcked;
  std::string what;   // "revoke", "patch enabled=false", ...
  std::string fault;  // the fault in force when it was acknowledged ("" none)
};

// What the verification answered: the code, and the scopes it reported when it did.
struct Answer {
  std::string code;
  std::optional<std::vector<std::string>> scopes;
};

struct Judgement {
  bool allowed = false;
  std::string expected;  // the allowed versions and their codes, for messages
  // When the answer showed a version older than some acknowledged change (allowed or not): the
  // largest (s - acked_at) over those changes (how stale the answer was), and that change's
  // fault.
  std::optional<Ms> staleness;
  std::string stale_fault;
};

class KeyHistory {
 public:
  // The key does not exist before its creation was sent.
  KeyHistory();

  // A change with a 2xx answer: `state` from the answer's record.
  void Acked(KeyState state, Ms sent_at, Ms acked_at, std::string what, std::string fault);
  // A change about to be sent (and, when it gets no clear answer, left so): `state` is what it
  // would make. Verifications answered after `sent_at` may see it. At most one such change at a
  // time (the driver freezes the key's changes meanwhile).
  void Ambiguous(KeyState state, Ms sent_at, std::string what);
  // The change added by Ambiguous() got its 2xx: `state` from the answer's record.
  void Acknowledge(KeyState state, Ms acked_at, std::string fault);
  bool unresolved() const;
  // Settles the ambiguous change with the record read back at `now`: void when it equals the
  // state before the change, else acknowledged at `now` with that state.
  void Resolve(const KeyState& read_back, Ms now);

  // The newest version the driver believes in (acknowledged or ambiguous; not void).
  const KeyState& latest() const;
  const std::vector<Version>& versions() const { return versions_; }

  // Judges a verification with the right secret, sent at s and answered at r.
  Judgement Judge(const Answer& answer, Ms s, Ms r, const std::vector<std::string>& required,
                  Ms bound, Ms time_slack) const;

 private:
  std::vector<Version> versions_;
};

}  // namespace keycache::testing::model
