#include "app/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include "app/app.h"
#include "app/systemd_notify.h"
#include "config/config.h"
#include "config/secrets.h"

extern char** environ;

namespace keycache {

std::optional<Config> LoadValidatedConfig(std::vector<ConfigError>* warnings) {
  EnvMap dotenv;
  std::error_code exists_ec;
  if (!std::filesystem::exists(".env", exists_ec)) {
    // No .env file: the environment alone configures the service.
  } else if (auto read = ReadDotEnv(".env"); read) {
    dotenv = std::move(*read);
  } else {
    std::fprintf(stderr, "keycached: %s: %s\n", read.error().variable.c_str(),
                 read.error().message.c_str());
    return std::nullopt;
  }
  ConfigLoad load = LoadConfig(MergeEnvironment(dotenv, environ));
  if (!load.config) {
    std::fprintf(stderr, "keycached: invalid configuration:\n");
    for (const auto& e : load.errors) {
      std::fprintf(stderr, "  %s: %s\n", e.variable.c_str(), e.message.c_str());
    }
    return std::nullopt;
  }
  if (warnings != nullptr) {
    *warnings = std::move(load.warnings);
  } else {
    for (const auto& w : load.warnings) {
      std::fprintf(stderr, "keycached: warning: %s %s\n", w.variable.c_str(), w.message.c_str());
    }
  }
  return std::move(load.config);
}

int Serve() {
  std::vector<ConfigError> warnings;
  std::optional<Config> loaded = LoadValidatedConfig(&warnings);
  if (!loaded) return 2;
  Config config = std::move(*loaded);
  Logger log(config.log_level);
  for (const auto& w : warnings) {
    log.Warn("unknown_variable", {{"variable", w.variable}, {"problem", w.message}});
  }
  if (auto secrets = EnsureSecrets(config, log); !secrets) {
    std::fprintf(stderr, "keycached: cannot set up the admin token and pepper: %s\n",
                 secrets.error().message().c_str());
    return 2;
  }

  std::string error;
  std::unique_ptr<App> app = App::Create(AppOptions{.config = std::move(config)}, log, error);
  if (!app) {
    log.Error("startup_failed", {{"reason", error}});
    std::fprintf(stderr, "keycached: %s\n", error.c_str());
    return 1;
  }
  if (const int failed = app->Start(error); failed != 0) {
    log.Error("startup_failed", {{"reason", error}});
    std::fprintf(stderr, "keycached: %s\n", error.c_str());
    return failed;
  }

  SystemdNotify systemd(log);
  // The first SIGINT/SIGTERM starts the drain (App::Drain: not ready, still serving); a second
  // one during the drain ends it at once. Run() then finishes the requests and returns.
  boost::asio::io_context signal_io(1);
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (++signals_seen == 1) {
          log.Info("shutdown_requested", {{"signal", std::to_string(signo)}});
          systemd.Stopping("draining");
          app->Drain();
        } else {
          log.Info("drain_skipped", {{"signal", std::to_string(signo)}});
          app->Stop();
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  std::thread signal_thread([&signal_io] { signal_io.run(); });
  // Listening, and signals are handled: tell systemd (Type=notify).
  systemd.Ready("listening on port " + std::to_string(app->port()));
  if (auto keepalive = systemd.WatchdogInterval()) {
    systemd.StartWatchdog(app->server().executor(0), *keepalive);
  }
  const int code = app->Run();
  signals.cancel();
  signal_io.stop();
  signal_thread.join();
  app.reset();
  return code;
}

}  // namespace keycache
