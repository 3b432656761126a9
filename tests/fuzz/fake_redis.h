// FakeRedis: a scripted Redis server on 127.0.0.1 for fuzzing keycache's Redis client. Each
// accepted connection is served by its own thread with blocking sockets. A connection names
// itself in its handshake (CLIENT SETNAME): "fuzz-client" connections answer each command with
// the script's next Action (the first handshake of a script too, when asked), then with a
// plausible default; a "fuzz-sub" connection answers SUBSCRIBE with the script's pushes followed
// by a sentinel message. Thread-safe; SetScript starts a new epoch, and connections accepted
// before it get defaults only, so a late command of a finished input never eats the script of
// the next one.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "l2/sealed_entry.h"

namespace keycache::fuzz {

struct Action {
  enum class Kind : std::uint8_t {
    kBytes,        // write `bytes` as they are (a well-formed reply, or not)
    kSealedFacts,  // [counter, facts sealed under `sealed_under` for the command's 2nd key]
    kSealedBlob,   // [counter, `body` sealed under `sealed_under` for the command's 2nd key]
    kClose,        // close the connection instead of answering
    kSilence,      // never answer on this connection again
  };
  Kind kind = Kind::kBytes;
  std::string bytes;
  std::uint64_t counter = 0;
  std::uint64_t sealed_under = 0;
  bool missing = false;     // kSealedFacts: a "no such key" entry
  bool wrong_name = false;  // sealed for another key name (a misplaced or replayed entry)
  std::string body;         // kSealedBlob: the body; kSealedFacts: the owner
};

struct Script {
  bool fuzz_handshake = false;  // the first client handshake takes the first action
  std::deque<Action> replies;   // for the client's commands, in order
  std::vector<Action> pushes;   // for the first subscriber connection, after SUBSCRIBE
};

inline constexpr std::string_view kChannel = "fuzz:invalidations";
inline constexpr std::string_view kSentinel = "fuzz: end of pushes";

class FakeRedis {
 public:
  explicit FakeRedis(const EntrySealer& sealer);  // listens on an ephemeral port
  std::uint16_t port() const { return port_; }
  void SetScript(Script script);
  // Entries sent since SetScript that L2 may serve: sealed for the key named in the MGET, under
  // the generation sent with them.
  int servable_entries() const { return servable_.load(); }

 private:
  enum class Role { kUnknown, kClient, kSubscriber };
  void AcceptLoop();
  void Serve(int fd, std::uint64_t epoch);
  // The next action for a command of a client connection of `epoch`, if the script has one.
  std::optional<Action> Take(std::uint64_t epoch, bool handshake);
  std::optional<std::vector<Action>> TakePushes(std::uint64_t epoch);
  std::string Render(const Action& action, const std::vector<std::string>& command);

  const EntrySealer& sealer_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> servable_{0};

  std::mutex mu_;
  std::uint64_t epoch_ = 0;       // guarded by mu_
  Script script_;                 // guarded by mu_
  bool handshake_taken_ = false;  // guarded by mu_
  bool pushes_taken_ = false;     // guarded by mu_
};

// Plausible answers of a real Redis to the commands keycache sends.
std::string DefaultReply(const std::vector<std::string>& command);

}  // namespace keycache::fuzz
