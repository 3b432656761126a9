// Internal: the byte stream under a Redis connection (plain TCP or TLS behind one interface),
// the TLS context built from RedisTlsOptions, and the connection handshake (connect, TLS,
// AUTH/SELECT/CLIENT SETNAME, ROLE in Sentinel mode) bounded by connect_timeout. A RedisStream is
// used on one executor's thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "redis/redis_options.h"
#include "redis/resp_parser.h"

namespace keycache::redis_detail {

using IoResult = std::tuple<boost::system::error_code, std::size_t>;

// A TLS context for `tls`, or nullptr plus `error` when a file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> MakeTlsContext(const RedisTlsOptions& tls,
                                                          std::string& error);

class RedisStream {
 public:
  // `tls` null: plain TCP. The context must outlive the stream.
  RedisStream(boost::asio::any_io_executor executor, boost::asio::ssl::context* tls);

  boost::asio::awaitable<IoResult> ReadSome(boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<IoResult> Write(boost::asio::const_buffer buffer);
  // Closes the socket; operations in progress complete with an error. Idempotent.
  void Close();

  bool is_tls() const { return tls_.has_value(); }
  boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket>* tls() { return tls_ ? &*tls_ : nullptr; }

 private:
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
};

// Closes `stream` when `limit` runs out, unless destroyed first (then a late expiry touches
// nothing). Lives on the stream's executor, in the frame that uses the stream.
class StreamWatchdog {
 public:
  StreamWatchdog(boost::asio::any_io_executor executor, RedisStream& stream,
                 std::chrono::milliseconds limit);
  ~StreamWatchdog();
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;
  bool fired() const { return *fired_; }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> done_ = std::make_shared<bool>(false);
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};

struct OpenFailure {
  std::string message;       // for humans, see RedisClient::last_error()
  bool auth_failed = false;  // the server refused our credentials (or demanded some)
  bool wrong_role = false;   // require_primary, and ROLE said the node is not a master
};

// Where one connection attempt goes: `options` aimed at the endpoint source's current primary
// (Sentinel mode), or `options` as they are. An engaged `endpoint` says which primary it was.
struct RedisTarget {
  RedisOptions options;
  std::optional<PrimaryEndpoint> endpoint;
};
// nullopt (and `failure` set) while the endpoint source knows no primary.
std::optional<RedisTarget> ResolveRedisTarget(const RedisOptions& options, OpenFailure& failure);
// Tells the endpoint source (if any) that `target` failed to open.
void ReportOpenFailure(const RedisTarget& target, const OpenFailure& failure);

// Connects `stream`, runs the TLS handshake when it is a TLS stream, then AUTH [user] password,
// SELECT db (db != 0) and CLIENT SETNAME, and ROLE when options.require_primary or an endpoint
// source is set (a node that is not a master is refused: wrong_role), all within
// options.connect_timeout. `parser` must be
// fresh; it holds no bytes afterwards. nullopt on success.
boost::asio::awaitable<std::optional<OpenFailure>> OpenRedisStream(RedisStream& stream,
                                                                   const RedisOptions& options,
                                                                   RespParser& parser);

}  // namespace keycache::redis_detail
