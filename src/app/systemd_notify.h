// SystemdNotify: keycached's side of systemd's notification protocol (sd_notify from libsystemd,
// for `Type=notify` units): READY=1 once listening, STOPPING=1 when shutdown begins, and WATCHDOG=1
// keep-alives while the watchdog (WatchdogSec=) is on. Without NOTIFY_SOCKET (not started by
// systemd) every call does nothing. Thread-safe: each call sends one datagram and keeps no state.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <optional>
#include <string_view>

#include "util/log.h"

namespace keycache {

class SystemdNotify {
 public:
  explicit SystemdNotify(Logger& log) : log_(log) {}

  void Ready(std::string_view status);
  void Stopping(std::string_view status);
  // Half of WATCHDOG_USEC when systemd's watchdog covers this process (sd_watchdog_enabled),
  // nullopt when it does not.
  std::optional<std::chrono::microseconds> WatchdogInterval() const;
  // Sends WATCHDOG=1 every `interval` from a timer on `io` (an HTTP server thread): a hung event
  // loop stops the keep-alives, and systemd restarts the service. The loop ends when the
  // io_context stops (its frame is destroyed with it); it refers to nothing but the logger.
  void StartWatchdog(boost::asio::any_io_executor io, std::chrono::microseconds interval);

 private:
  void Send(std::string_view state, std::string_view what);

  Logger& log_;
};

}  // namespace keycache
