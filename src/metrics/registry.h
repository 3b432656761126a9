// Registry: owns the metric families of one process and renders them as Prometheus text
// (exposition format 0.0.4, content type kPrometheusContentType). Families are added at wiring
// time; the references returned stay valid for the registry's life. All members are
// thread-safe; Render() may run while hot paths update metrics.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "metrics/family.h"
#include "metrics/text_format.h"

namespace keycache {

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Misuse aborts: invalid or duplicate names (including a histogram's _bucket/_sum/_count),
  // a counter not named *_total, a gauge or histogram named *_total, invalid label names.
  // A family without labels gets its single child at once, so it renders 0 before first use.
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds);
  CallbackGaugeFamily& AddCallbackGauge(std::string name, std::string help,
                                        std::vector<std::string> label_names = {});

  // Every family with at least one child, in the order the families were added.
  std::string Render() const;

 private:
  // Claims every series name in `names`; aborts if any is taken.
  void Claim(const std::vector<std::string>& names);

  template <class F>
  F& Adopt(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::set<std::string> series_names_;             // guarded by mu_
  std::vector<std::unique_ptr<Family>> families_;  // guarded by mu_
};

}  // namespace keycache
