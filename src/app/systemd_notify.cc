#include "app/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <cstring>
#include <string>

namespace keycache {
namespace {

boost::asio::awaitable<void> WatchdogLoop(std::chrono::microseconds interval) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  for (;;) {
    // The return value only says whether NOTIFY_SOCKET is set; a lost keep-alive is what the
    // watchdog is there to notice.
    ::sd_notify(0, "WATCHDOG=1");
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace

void SystemdNotify::Send(std::string_view state, std::string_view what) {
  const std::string message(state);
  const int sent = ::sd_notify(0, message.c_str());
  if (sent < 0) {
    log_.Warn("systemd_notify_failed", {{"state", what}, {"error", std::strerror(-sent)}});
  } else if (sent > 0) {
    log_.Debug("systemd_notified", {{"state", what}});
  }
}

void SystemdNotify::Ready(std::string_view status) {
  Send("READY=1\nSTATUS=" + std::string(status), "READY=1");
}

void SystemdNotify::Stopping(std::string_view status) {
  Send("STOPPING=1\nSTATUS=" + std::string(status), "STOPPING=1");
}

std::optional<std::chrono::microseconds> SystemdNotify::WatchdogInterval() const {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

void SystemdNotify::StartWatchdog(boost::asio::any_io_executor io,
                                  std::chrono::microseconds interval) {
  log_.Info("systemd_watchdog", {{"keepalive_ms", std::to_string(interval.count() / 1000)}});
  boost::asio::co_spawn(io, WatchdogLoop(interval), boost::asio::detached);
}

}  // namespace keycache
