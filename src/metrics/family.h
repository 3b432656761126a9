// Metric families: a name, help text and label names, with one child metric per set of label
// values. Children are created at wiring time and never removed, so the reference With()
// returns stays valid for the family's life and the hot path touches only the child. With(),
// Add() and rendering are thread-safe (a mutex per family, never taken on the hot path).
// Label values must come from small fixed sets (cache type, operation), never from requests.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/counter.h"
#include "metrics/gauge.h"
#include "metrics/histogram.h"

namespace keycache {

class Family {
 public:
  virtual ~Family() = default;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // HELP and TYPE lines, then every child's samples; nothing if there are no children.
  void RenderTo(std::string& out) const;

 protected:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::string_view type);

  // `a="x",b="y"` (no braces), escaped; aborts unless there is one value per label name.
  std::string FormatLabels(const std::vector<std::string>& values) const;

  // Appends the samples of every child; returns false when there are none.
  virtual bool RenderSamples(std::string& out) const = 0;

  // `name{labels}` or `name` when there are no labels.
  static void AppendSeries(std::string& out, std::string_view name, std::string_view labels);

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::string_view type_;
};

// The child bookkeeping shared by all families: children keyed by label values, rendered in
// label-value order.
template <class Metric>
class ChildFamily : public Family {
 protected:
  using Family::Family;

  struct Child {
    std::string labels;  // pre-formatted, see FormatLabels
    std::unique_ptr<Metric> metric;
  };

  // The child for `values`, created by `make()` if absent; `existed` says which.
  template <class Make>
  Metric& GetOrCreate(std::vector<std::string> values, Make make, bool& existed) {
    std::string labels = FormatLabels(values);
    std::lock_guard lock(mu_);
    auto [it, inserted] = children_.try_emplace(std::move(values));
    existed = !inserted;
    if (inserted) it->second = Child{std::move(labels), make()};
    return *it->second.metric;
  }

  virtual void RenderChild(std::string& out, const Child& child) const = 0;

  bool RenderSamples(std::string& out) const final {
    std::lock_guard lock(mu_);
    for (const auto& [values, child] : children_) RenderChild(out, child);
    return !children_.empty();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Child> children_;
};

class CounterFamily final : public ChildFamily<Counter> {
 public:
  // Names must end in "_total". Checked by Registry.
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  Counter& With(std::vector<std::string> label_values);

 private:
  void RenderChild(std::string& out, const Child& child) const override;
};

class GaugeFamily final : public ChildFamily<Gauge> {
 public:
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);
  Gauge& With(std::vector<std::string> label_values);

 private:
  void RenderChild(std::string& out, const Child& child) const override;
};

class HistogramFamily final : public ChildFamily<Histogram> {
 public:
  // Every child shares `bounds`; "le" may not be a label name.
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  Histogram& With(std::vector<std::string> label_values);

 private:
  void RenderChild(std::string& out, const Child& child) const override;
  const std::vector<double> bounds_;
};

// Gauges whose value is computed when the registry is rendered (e.g. a cache's entry count).
// Each callback runs on the rendering thread, so it must be thread-safe, and whatever it
// refers to must outlive every Render() call.
class CallbackGaugeFamily final : public ChildFamily<std::function<double()>> {
 public:
  CallbackGaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);
  // Aborts if `label_values` already has a callback.
  void Add(std::vector<std::string> label_values, std::function<double()> callback);

 private:
  void RenderChild(std::string& out, const Child& child) const override;
};

}  // namespace keycache
