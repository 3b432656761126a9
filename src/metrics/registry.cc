#include "metrics/registry.h"

#include <cstdio>
#include <cstdlib>

#include "metrics/check.h"

namespace keycache {

void MetricsMisuse(std::string_view what) {
  std::fprintf(stderr, "metrics misuse: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

void Registry::Claim(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    MetricsCheck(!series_names_.contains(n), "metric name registered twice: " + n);
  }
  series_names_.insert(names.begin(), names.end());
}

template <class F>
F& Registry::Adopt(std::unique_ptr<F> family) {
  F& ref = *family;
  std::vector<std::string> names = {family->name()};
  if constexpr (std::is_same_v<F, HistogramFamily>) {
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      names.push_back(family->name() + suffix);
  }
  std::lock_guard lock(mu_);
  Claim(names);
  families_.push_back(std::move(family));
  return ref;
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  MetricsCheck(name.ends_with("_total"), "counter names end in _total: " + name);
  auto& family = Adopt(
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names)));
  if (family.label_names().empty()) family.With({});
  return family;
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names) {
  MetricsCheck(!name.ends_with("_total"), "only counters end in _total: " + name);
  auto& family = Adopt(
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names)));
  if (family.label_names().empty()) family.With({});
  return family;
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  MetricsCheck(!name.ends_with("_total"), "only counters end in _total: " + name);
  auto& family = Adopt(std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
  if (family.label_names().empty()) family.With({});
  return family;
}

CallbackGaugeFamily& Registry::AddCallbackGauge(std::string name, std::string help,
                                                std::vector<std::string> label_names) {
  MetricsCheck(!name.ends_with("_total"), "only counters end in _total: " + name);
  return Adopt(std::make_unique<CallbackGaugeFamily>(std::move(name), std::move(help),
                                                     std::move(label_names)));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& family : families_) family->RenderTo(out);
  return out;
}

}  // namespace keycache
