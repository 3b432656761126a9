#include "redis/redis_stream.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

#include "redis/redis_request.h"
#include "util/pem.h"

namespace keycache::redis_detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string Where(const RedisOptions& o) {
  return "cannot connect to Redis at " + o.host + ":" + std::to_string(o.port) + ": ";
}

bool IsTlsError(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

// The handshake error with OpenSSL's certificate verdict when that is the reason.
std::string TlsFailure(RedisStream& stream, const boost::system::error_code& ec) {
  std::string text = "Redis TLS handshake failed: " + ec.message();
  if (stream.tls() != nullptr) {
    const long verdict = SSL_get_verify_result(stream.tls()->native_handle());
    if (verdict != X509_V_OK) {
      text += " (";
      text += X509_verify_cert_error_string(verdict);
      text += ")";
    }
  }
  return text;
}

bool IsAuthRefusal(std::string_view error) {
  return error.starts_with("WRONGPASS") || error.starts_with("NOAUTH") ||
         error.starts_with("ERR invalid password") || error.starts_with("ERR AUTH") ||
         error.starts_with("NOPERM");
}

// Server name checks on the certificate: an IP SAN for IP literals, a DNS name otherwise; SNI
// only for DNS names (RFC 6066 forbids IP literals there).
bool ConfigureVerification(SSL* ssl, const std::string& name) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code ec;
  asio::ip::make_address(name, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) == 1 &&
         SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
}

// Loads `source`, PEM text or a file's path, through the matching loader; sets `ec`.
template <class FromText, class FromFile>
void LoadPem(const std::string& source, boost::system::error_code& ec, FromText from_text,
             FromFile from_file) {
  ec.clear();
  if (IsPemText(source)) {
    from_text(asio::buffer(source));
  } else {
    from_file(source);
  }
}

// For messages: "CA file /etc/x.pem", or "CA given as PEM text" (never the text: a key is secret).
std::string Described(const std::string& source, const std::string& what) {
  return IsPemText(source) ? what + " given as PEM text" : what + " file " + source;
}

}  // namespace

std::shared_ptr<ssl::context> MakeTlsContext(const RedisTlsOptions& tls, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (tls.ca.empty()) {
    ctx->set_default_verify_paths(ec);
  } else if (LoadPem(
                 tls.ca, ec, [&](auto&& b) { ctx->add_certificate_authority(b, ec); },
                 [&](auto&& f) { ctx->load_verify_file(f, ec); });
             ec) {
    error =
        "Redis TLS setup failed: cannot load the " + Described(tls.ca, "CA") + ": " + ec.message();
    return nullptr;
  }
  if (tls.cert.empty() != tls.key.empty()) {
    error = "Redis TLS setup failed: a client certificate needs both a cert and a key";
    return nullptr;
  }
  if (!tls.cert.empty()) {
    if (LoadPem(
            tls.cert, ec, [&](auto&& b) { ctx->use_certificate_chain(b, ec); },
            [&](auto&& f) { ctx->use_certificate_chain_file(f, ec); });
        ec) {
      error = "Redis TLS setup failed: cannot load the " + Described(tls.cert, "certificate") +
              ": " + ec.message();
      return nullptr;
    }
    if (LoadPem(
            tls.key, ec, [&](auto&& b) { ctx->use_private_key(b, ssl::context::pem, ec); },
            [&](auto&& f) { ctx->use_private_key_file(f, ssl::context::pem, ec); });
        ec) {
      error = "Redis TLS setup failed: cannot load the " + Described(tls.key, "private key") +
              ": " + ec.message();
      return nullptr;
    }
  }
  return ctx;
}

RedisStream::RedisStream(asio::any_io_executor executor, ssl::context* tls) {
  if (tls != nullptr) {
    tls_.emplace(executor, *tls);
  } else {
    plain_.emplace(executor);
  }
}

asio::awaitable<IoResult> RedisStream::ReadSome(asio::mutable_buffer buffer) {
  if (tls_) co_return co_await tls_->async_read_some(buffer, kTuple);
  co_return co_await plain_->async_read_some(buffer, kTuple);
}

asio::awaitable<IoResult> RedisStream::Write(asio::const_buffer buffer) {
  if (tls_) co_return co_await asio::async_write(*tls_, buffer, kTuple);
  co_return co_await asio::async_write(*plain_, buffer, kTuple);
}

StreamWatchdog::StreamWatchdog(asio::any_io_executor executor, RedisStream& stream,
                               std::chrono::milliseconds limit)
    : timer_(std::move(executor)) {
  timer_.expires_after(limit);
  timer_.async_wait([&stream, done = done_, fired = fired_](boost::system::error_code ec) {
    if (ec || *done) return;
    *fired = true;
    stream.Close();
  });
}

StreamWatchdog::~StreamWatchdog() {
  *done_ = true;
  timer_.cancel();
}

void RedisStream::Close() {
  boost::system::error_code ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

asio::awaitable<std::optional<OpenFailure>> OpenRedisStream(RedisStream& stream,
                                                            const RedisOptions& options,
                                                            RespParser& parser) {
  auto executor = co_await asio::this_coro::executor;
  StreamWatchdog watchdog(executor, stream, options.connect_timeout);
  const std::string timeout_text =
      "timed out after " + std::to_string(options.connect_timeout.count()) + " ms";

  // 1. TCP.
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, options.port);
  } else {
    tcp::resolver resolver(executor);
    const std::string port = std::to_string(options.port);
    auto [rec, results] = co_await resolver.async_resolve(options.host, port, kTuple);
    if (rec) co_return OpenFailure{Where(options) + rec.message()};
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  {
    auto [cec, endpoint] = co_await asio::async_connect(stream.socket(), endpoints, kTuple);
    if (watchdog.fired()) co_return OpenFailure{Where(options) + timeout_text};
    if (cec) co_return OpenFailure{Where(options) + cec.message()};
  }
  stream.socket().set_option(tcp::no_delay(true), ec);

  // 2. TLS.
  if (auto* tls = stream.tls()) {
    const std::string& name =
        options.tls.server_name.empty() ? options.host : options.tls.server_name;
    if (!ConfigureVerification(tls->native_handle(), name)) {
      co_return OpenFailure{"Redis TLS handshake failed: cannot set the server name " + name};
    }
    auto [hec] = co_await tls->async_handshake(ssl::stream_base::client, kTuple);
    if (watchdog.fired()) co_return OpenFailure{"Redis TLS handshake failed: " + timeout_text};
    if (hec) co_return OpenFailure{TlsFailure(stream, hec)};
  }

  // 3. AUTH, SELECT, CLIENT SETNAME, pipelined. PING when there is nothing else, so that a
  // server that refuses us (NOAUTH, a TLS alert after the handshake) is noticed now.
  RedisRequest hello;
  std::vector<char> kinds;  // 'a' auth, 's' select, 'n' setname, 'p' ping
  if (!options.password.empty()) {
    if (options.username.empty()) {
      hello.Push({"AUTH", options.password});
    } else {
      hello.Push({"AUTH", options.username, options.password});
    }
    kinds.push_back('a');
  }
  const std::string db = std::to_string(options.db);
  if (options.db != 0) {
    hello.Push({"SELECT", db});
    kinds.push_back('s');
  }
  if (!options.client_name.empty()) {
    hello.Push({"CLIENT", "SETNAME", options.client_name});
    kinds.push_back('n');
  }
  const bool check_role = options.require_primary || options.endpoint_source != nullptr;
  if (check_role) {
    hello.Push({"ROLE"});
    kinds.push_back('r');
  }
  if (kinds.empty()) {
    hello.Push({"PING"});
    kinds.push_back('p');
  }
  std::vector<RedisReply> replies;
  // With TLS 1.3 the server judges our certificate after our side of the handshake is done, so
  // a refusal (no or untrusted client certificate) shows up as an alert, a reset or EOF here.
  auto io_failure = [&](const boost::system::error_code& e) {
    if (watchdog.fired()) return OpenFailure{Where(options) + "handshake " + timeout_text};
    if (IsTlsError(e)) return OpenFailure{TlsFailure(stream, e)};
    if (stream.is_tls() && replies.empty()) {
      return OpenFailure{"Redis TLS handshake failed: the server closed the connection (" +
                         e.message() + "); does it require a client certificate?"};
    }
    return OpenFailure{Where(options) + "handshake: " + e.message()};
  };
  {
    auto [wec, n] = co_await stream.Write(asio::buffer(hello.payload()));
    if (wec) co_return io_failure(wec);
  }
  char buffer[4096];
  while (replies.size() < kinds.size()) {
    auto next = parser.Next();
    if (!next) co_return OpenFailure{Where(options) + "protocol error in the handshake"};
    if (*next) {
      replies.push_back(std::move(**next));
      continue;
    }
    auto [rec, n] = co_await stream.ReadSome(asio::buffer(buffer));
    if (rec) co_return io_failure(rec);
    parser.Feed(std::string_view(buffer, n));
  }
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const RedisReply& r = replies[i];
    if (!r.is_error()) continue;
    if (IsAuthRefusal(r.str)) {
      co_return OpenFailure{"Redis authentication failed: " + r.str, true};
    }
    if (kinds[i] == 's') co_return OpenFailure{"Redis SELECT " + db + " failed: " + r.str};
    // A failed CLIENT SETNAME (e.g. the command is renamed away) only costs us the name.
    if (kinds[i] == 'n') continue;
    if (kinds[i] == 'r') co_return OpenFailure{"Redis ROLE failed: " + r.str};
    co_return OpenFailure{"Redis refused the connection: " + r.str};
  }
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i] != 'r') continue;
    const RedisReply& r = replies[i];
    const bool master = r.is_array() && !r.elements.empty() && r.elements[0].is_string() &&
                        r.elements[0].text() == "master";
    if (!master) {
      const std::string role = r.is_array() && !r.elements.empty() && r.elements[0].is_string()
                                   ? std::string(r.elements[0].text())
                                   : std::string("unreadable");
      OpenFailure refused{"Redis at " + options.host + ":" + std::to_string(options.port) +
                          " is not the primary (ROLE: " + role + ")"};
      refused.wrong_role = true;
      co_return refused;
    }
  }
  co_return std::nullopt;
}

std::optional<RedisTarget> ResolveRedisTarget(const RedisOptions& options, OpenFailure& failure) {
  RedisTarget target{options, std::nullopt};
  if (!options.endpoint_source) return target;
  target.endpoint = options.endpoint_source->Current();
  if (!target.endpoint) {
    failure = OpenFailure{"no Redis primary known yet (asking the Sentinels)"};
    return std::nullopt;
  }
  target.options.host = target.endpoint->host;
  target.options.port = target.endpoint->port;
  return target;
}

void ReportOpenFailure(const RedisTarget& target, const OpenFailure& failure) {
  if (target.options.endpoint_source && target.endpoint) {
    target.options.endpoint_source->ReportFailure(*target.endpoint, failure.wrong_role);
  }
}

}  // namespace keycache::redis_detail
