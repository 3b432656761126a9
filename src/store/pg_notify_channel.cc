#include "store/pg_notify_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "store/pg_connection.h"

namespace keycache {
namespace {

constexpr std::size_t kMaxPayloadBytes = 7999;
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

const PgStatementDef kNotifyStatements[] = {{"kc_notify", "SELECT pg_notify($1, $2)"}};

}  // namespace

PgNotifyChannel::PgNotifyChannel(std::string url, PgNotifyOptions options,
                                 PgNotifyHandlers handlers, Logger& log)
    : url_(std::move(url)),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      log_(log) {
  if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
}

PgNotifyChannel::~PgNotifyChannel() {
  Stop();
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void PgNotifyChannel::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PgNotifyChannel::Stop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  {
    std::lock_guard lock(mu_);  // the thread checks stopping_ under it before it sleeps
  }
  cv_.notify_all();
  Wake();
  if (thread_.joinable()) thread_.join();
  FailQueued();
}

void PgNotifyChannel::Wake() {
  if (wake_[1] < 0) return;
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_[1], &byte, 1);  // full pipe: already woken
}

void PgNotifyChannel::Notify(std::string payload, Sent done) {
  if (payload.size() > kMaxPayloadBytes || !listening()) {
    if (done) done(false);
    return;
  }
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Outgoing{std::move(payload), std::move(done)});
  }
  Wake();
}

void PgNotifyChannel::FailQueued() {
  std::deque<Outgoing> failed;
  {
    std::lock_guard lock(mu_);
    failed.swap(queue_);
  }
  for (Outgoing& o : failed) {
    if (o.done) o.done(false);
  }
}

void PgNotifyChannel::SleepFor(std::chrono::milliseconds pause) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, pause, [this] { return stopping_.load(std::memory_order_acquire); });
}

void PgNotifyChannel::Run() {
  std::chrono::milliseconds backoff = kFirstBackoff;
  while (!stopping_.load(std::memory_order_acquire)) {
    if (!Connect()) {
      if (handlers_.on_tick) handlers_.on_tick();
      SleepFor(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    backoff = kFirstBackoff;
    Serve();
    Lost();
  }
  conn_.reset();
}

bool PgNotifyChannel::Connect() {
  const PgDeadline deadline = PgClock::now() + options_.timeout;
  if (!conn_) {
    auto c =
        PgConnection::Connect(url_,
                              PgConnectionOptions{.timeout = options_.timeout,
                                                  .application_name = options_.application_name},
                              deadline, log_);
    if (!c) return false;
    conn_ = std::move(*c);
    if (auto prepared = conn_->Prepare(kNotifyStatements, deadline); !prepared) {
      conn_.reset();
      return false;
    }
  } else if (auto reset = conn_->Reset(deadline); !reset) {
    return false;
  }
  // The channel name is an identifier we chose (PgNotifyOptions), quoted all the same.
  const std::string listen = "LISTEN \"" + options_.channel + "\"";
  if (auto r = conn_->Query(listen.c_str(), "listen", deadline); !r) return false;
  backend_pid_.store(conn_->backend_pid(), std::memory_order_release);
  listening_.store(true, std::memory_order_release);
  log_.Info("pg_notify_listening",
            {{"channel", options_.channel}, {"backend_pid", std::to_string(backend_pid())}});
  if (handlers_.on_listening) handlers_.on_listening();
  return true;
}

void PgNotifyChannel::Serve() {
  std::vector<PgNotification> received;
  while (!stopping_.load(std::memory_order_acquire)) {
    SendQueued();
    if (conn_->broken()) return;
    // Drain the wake-up pipe before waiting: a Notify after this point writes it again.
    char drain[64];
    while (wake_[0] >= 0 && ::read(wake_[0], drain, sizeof drain) > 0) {
    }
    std::size_t queued = 0;
    {
      std::lock_guard lock(mu_);
      queued = queue_.size();
    }
    const PgDeadline until =
        PgClock::now() + (queued > 0 ? std::chrono::milliseconds(0) : options_.tick);
    const bool alive = conn_->Receive(received, until, wake_[0]);
    for (const PgNotification& n : received) {
      if (n.channel == options_.channel && handlers_.on_message) handlers_.on_message(n.payload);
    }
    received.clear();
    if (!alive) return;
    if (handlers_.on_tick) handlers_.on_tick();
  }
}

void PgNotifyChannel::SendQueued() {
  std::deque<Outgoing> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  for (Outgoing& o : batch) {
    bool sent = false;
    if (!conn_->broken()) {
      PgParams params;
      params.Text(options_.channel).Text(o.payload);
      sent =
          conn_->Exec("kc_notify", params, "notify", PgClock::now() + options_.timeout).has_value();
    }
    if (o.done) o.done(sent);
  }
}

void PgNotifyChannel::Lost() {
  const bool was = listening_.exchange(false, std::memory_order_acq_rel);
  backend_pid_.store(0, std::memory_order_release);
  FailQueued();
  if (!was) return;
  losses_.fetch_add(1, std::memory_order_relaxed);
  // Stopping is no loss to report: nothing is served any more.
  if (stopping_.load(std::memory_order_acquire)) return;
  log_.Warn("pg_notify_lost", {{"channel", options_.channel}, {"effect", "reconnecting"}});
  if (handlers_.on_lost) handlers_.on_lost();
}

}  // namespace keycache
