// RedisEndpointSource: where the Redis primary is right now, for a client whose target can move
// (Sentinel). RedisClient's connections and RedisSubscriber consult it on every (re)connect, and
// close a session whose endpoint generation is no longer current when it notifies a change. Any
// implementation must be thread-safe: it is read from every I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace keycache {

struct PrimaryEndpoint {
  std::string host;
  std::uint16_t port = 0;
  // Increases with every change of address: a session opened under an older generation talks to
  // a node that is no longer the primary.
  std::uint64_t generation = 0;

  std::string ToString() const { return host + ":" + std::to_string(port); }
};

class RedisEndpointSource {
 public:
  virtual ~RedisEndpointSource() = default;

  // The primary to connect to now; nullopt while none is known (the caller backs off and asks
  // again).
  virtual std::optional<PrimaryEndpoint> Current() const = 0;
  virtual std::uint64_t generation() const = 0;

  // A connection to `endpoint` failed, or its node said it is not a primary (`wrong_role`): the
  // source should ask again soon. Cheap; any thread.
  virtual void ReportFailure(const PrimaryEndpoint& endpoint, bool wrong_role) = 0;

  // `on_change` runs after each change of Current() (on the source's own thread; it must only
  // post work elsewhere). Returns an id for RemoveListener, which waits for a call in progress.
  virtual int AddListener(std::function<void()> on_change) = 0;
  virtual void RemoveListener(int id) = 0;
};

}  // namespace keycache
