#include "metrics/family.h"

#include <algorithm>
#include <set>

#include "metrics/check.h"
#include "metrics/text_format.h"

namespace keycache {

Family::Family(std::string name, std::string help, std::vector<std::string> label_names,
               std::string_view type)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type) {
  MetricsCheck(IsValidMetricName(name_), "invalid metric name: " + name_);
  const std::set<std::string> unique(label_names_.begin(), label_names_.end());
  MetricsCheck(unique.size() == label_names_.size(), "duplicate label name in " + name_);
  for (const std::string& label : label_names_) {
    MetricsCheck(IsValidLabelName(label), "invalid label name \"" + label + "\" in " + name_);
  }
}

void Family::RenderTo(std::string& out) const {
  std::string samples;
  if (!RenderSamples(samples)) return;
  out += "# HELP ";
  out += name_;
  out.push_back(' ');
  AppendEscapedHelp(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out.push_back(' ');
  out += type_;
  out.push_back('\n');
  out += samples;
}

std::string Family::FormatLabels(const std::vector<std::string>& values) const {
  MetricsCheck(values.size() == label_names_.size(), "wrong number of label values for " + name_);
  std::string labels;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) labels.push_back(',');
    labels += label_names_[i];
    labels += "=\"";
    AppendEscapedLabelValue(labels, values[i]);
    labels.push_back('"');
  }
  return labels;
}

void Family::AppendSeries(std::string& out, std::string_view name, std::string_view labels) {
  out += name;
  if (labels.empty()) return;
  out.push_back('{');
  out += labels;
  out.push_back('}');
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : ChildFamily(std::move(name), std::move(help), std::move(label_names), "counter") {}

Counter& CounterFamily::With(std::vector<std::string> label_values) {
  bool existed = false;
  return GetOrCreate(
      std::move(label_values), [] { return std::make_unique<Counter>(); }, existed);
}

void CounterFamily::RenderChild(std::string& out, const Child& child) const {
  AppendSeries(out, name(), child.labels);
  out += ' ';
  out += std::to_string(child.metric->Value());
  out += '\n';
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : ChildFamily(std::move(name), std::move(help), std::move(label_names), "gauge") {}

Gauge& GaugeFamily::With(std::vector<std::string> label_values) {
  bool existed = false;
  return GetOrCreate(
      std::move(label_values), [] { return std::make_unique<Gauge>(); }, existed);
}

void GaugeFamily::RenderChild(std::string& out, const Child& child) const {
  AppendSeries(out, name(), child.labels);
  out += ' ';
  AppendNumber(out, child.metric->Value());
  out += '\n';
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : ChildFamily(std::move(name), std::move(help), std::move(label_names), "histogram"),
      bounds_(std::move(bounds)) {
  const std::vector<std::string>& labels = this->label_names();
  MetricsCheck(std::find(labels.begin(), labels.end(), "le") == labels.end(),
               "\"le\" is reserved in histogram " + this->name());
  Histogram probe(bounds_);  // checks the bounds now, not at the first With()
}

Histogram& HistogramFamily::With(std::vector<std::string> label_values) {
  bool existed = false;
  return GetOrCreate(
      std::move(label_values), [this] { return std::make_unique<Histogram>(bounds_); }, existed);
}

void HistogramFamily::RenderChild(std::string& out, const Child& child) const {
  const Histogram::Snapshot snap = child.metric->Collect();
  const std::string bucket_name = name() + "_bucket";
  std::string labels = child.labels;
  if (!labels.empty()) labels.push_back(',');
  for (std::size_t b = 0; b < snap.cumulative.size(); ++b) {
    std::string le = labels + "le=\"";
    if (b < bounds_.size()) {
      AppendNumber(le, bounds_[b]);
    } else {
      le += "+Inf";
    }
    le.push_back('"');
    AppendSeries(out, bucket_name, le);
    out += ' ';
    out += std::to_string(snap.cumulative[b]);
    out += '\n';
  }
  AppendSeries(out, name() + "_sum", child.labels);
  out += ' ';
  AppendNumber(out, snap.sum);
  out += '\n';
  AppendSeries(out, name() + "_count", child.labels);
  out += ' ';
  out += std::to_string(snap.count);
  out += '\n';
}

CallbackGaugeFamily::CallbackGaugeFamily(std::string name, std::string help,
                                         std::vector<std::string> label_names)
    : ChildFamily(std::move(name), std::move(help), std::move(label_names), "gauge") {}

void CallbackGaugeFamily::Add(std::vector<std::string> label_values,
                              std::function<double()> callback) {
  MetricsCheck(static_cast<bool>(callback), "empty callback for " + name());
  bool existed = false;
  GetOrCreate(
      std::move(label_values),
      [&] { return std::make_unique<std::function<double()>>(std::move(callback)); }, existed);
  MetricsCheck(!existed, "duplicate label values for callback gauge " + name());
}

void CallbackGaugeFamily::RenderChild(std::string& out, const Child& child) const {
  AppendSeries(out, name(), child.labels);
  out += ' ';
  AppendNumber(out, (*child.metric)());
  out += '\n';
}

}  // namespace keycache
