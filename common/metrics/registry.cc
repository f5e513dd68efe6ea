#include "common/metrics/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/metrics/exposition.h"
#include "common/strings.h"

namespace berth::metrics {

namespace {

Error Invalid(const std::string& message) { return Error(ErrorCode::kInvalidArgument, message); }

}  // namespace

const std::vector<double>& StorageLatencyBuckets() {
  static const std::vector<double> bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,  5,     10,   30,  60,   120};
  return bounds;
}

Family::Family(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (!IsValidMetricName(name_)) {
    throw Invalid("metric name '" + name_ + "' is not [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  for (size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& label = label_names_[i];
    if (!IsValidLabelName(label)) {
      throw Invalid("label name '" + label + "' of metric " + name_ +
                    " is not [a-zA-Z_][a-zA-Z0-9_]* or starts with __");
    }
    if (std::find(label_names_.begin() + static_cast<long>(i) + 1, label_names_.end(), label) !=
        label_names_.end()) {
      throw Invalid("metric " + name_ + " names label '" + label + "' twice");
    }
  }
}

void Family::CheckArity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw Invalid("metric " + name_ + " takes " + std::to_string(label_names_.size()) +
                  " label values (" + Join(label_names_, ", ") + "), got " +
                  std::to_string(values.size()));
  }
}

void Family::AppendHeader(std::string& out, const char* type) const {
  metrics::AppendHeader(out, name_, help_, type);
}

LabelPairs Family::Pairs(const LabelValues& values) const {
  LabelPairs pairs;
  pairs.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    pairs.emplace_back(label_names_[i], values[i]);
  }
  return pairs;
}

void Counter::Increment(const LabelValues& values, uint64_t by) {
  CheckArity(values);
  std::lock_guard lock(mu_);
  values_[values] += by;
}

uint64_t Counter::Value(const LabelValues& values) const {
  CheckArity(values);
  std::lock_guard lock(mu_);
  auto it = values_.find(values);
  return it == values_.end() ? 0 : it->second;
}

void Counter::Render(std::string& out) const {
  AppendHeader(out, "counter");
  std::lock_guard lock(mu_);
  for (const auto& [values, value] : values_) {
    AppendSample(out, name(), Pairs(values), static_cast<double>(value));
  }
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : Family(std::move(name), std::move(help), label_names), bounds_(std::move(bounds)) {
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    throw Invalid("histogram " + this->name() + " cannot have a label 'le' (it names buckets)");
  }
  if (bounds_.empty()) {
    throw Invalid("histogram " + this->name() + " needs at least one bucket bound");
  }
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw Invalid("histogram " + this->name() +
                    " bucket bounds must be finite and strictly increasing");
    }
  }
}

void Histogram::Observe(const LabelValues& values, double value) {
  CheckArity(values);
  // A bucket counts observations less than or equal to its bound ("le").
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mu_);
  Series& series = series_[values];
  if (series.buckets.empty()) {
    series.buckets.resize(bounds_.size() + 1);
  }
  ++series.buckets[bucket];
  ++series.count;
  series.sum += value;
}

Histogram::Totals Histogram::Accumulate(const Series& series) {
  Totals totals;
  uint64_t running = 0;
  for (uint64_t n : series.buckets) {
    running += n;
    totals.cumulative.push_back(running);
  }
  totals.count = series.count;
  totals.sum = series.sum;
  return totals;
}

Histogram::Totals Histogram::Get(const LabelValues& values) const {
  CheckArity(values);
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it == series_.end()) {
    return {std::vector<uint64_t>(bounds_.size() + 1, 0), 0, 0};
  }
  return Accumulate(it->second);
}

void Histogram::Render(std::string& out) const {
  AppendHeader(out, "histogram");
  std::lock_guard lock(mu_);
  for (const auto& [values, series] : series_) {
    const Totals totals = Accumulate(series);
    LabelPairs labels = Pairs(values);
    labels.emplace_back("le", "");
    for (size_t i = 0; i < totals.cumulative.size(); ++i) {
      labels.back().second = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
      AppendSample(out, name() + "_bucket", labels, static_cast<double>(totals.cumulative[i]));
    }
    labels.pop_back();
    AppendSample(out, name() + "_sum", labels, totals.sum);
    AppendSample(out, name() + "_count", labels, static_cast<double>(totals.count));
  }
}

CollectedGauge::CollectedGauge(std::string name, std::string help,
                               std::vector<std::string> label_names, GaugeCollector collect)
    : Family(std::move(name), std::move(help), std::move(label_names)),
      collect_(std::move(collect)) {}

void CollectedGauge::Render(std::string& out) const {
  AppendHeader(out, "gauge");
  std::vector<GaugeSample> samples;
  try {
    samples = collect_();
    for (const auto& sample : samples) {
      CheckArity(sample.values);
    }
  } catch (const std::exception& e) {
    // A scrape that drops one gauge is better than one that fails as a whole.
    spdlog::warn("metrics: cannot collect {}: {}", name(), e.what());
    return;
  }
  std::sort(samples.begin(), samples.end(),
            [](const GaugeSample& a, const GaugeSample& b) { return a.values < b.values; });
  for (const auto& sample : samples) {
    AppendSample(out, name(), Pairs(sample.values), sample.value);
  }
}

template <typename T>
T& Registry::Add(std::unique_ptr<T> family) {
  std::lock_guard lock(mu_);
  for (const auto& existing : families_) {
    if (existing->name() == family->name()) {
      throw Invalid("metric " + family->name() + " is registered twice");
    }
  }
  T& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Counter& Registry::AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names) {
  return Add(std::make_unique<Counter>(std::move(name), std::move(help), std::move(label_names)));
}

Histogram& Registry::AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds) {
  return Add(std::make_unique<Histogram>(std::move(name), std::move(help), std::move(label_names),
                                         std::move(bounds)));
}

void Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names,
                        GaugeCollector collect) {
  Add(std::make_unique<CollectedGauge>(std::move(name), std::move(help), std::move(label_names),
                                       std::move(collect)));
}

void Registry::AddInfo(std::string name, std::string help, std::vector<std::string> label_names,
                       LabelValues values) {
  if (values.size() != label_names.size()) {
    throw Invalid("info metric " + name + " has " + std::to_string(label_names.size()) +
                  " labels but " + std::to_string(values.size()) + " values");
  }
  AddGauge(std::move(name), std::move(help), std::move(label_names), [values = std::move(values)] {
    return std::vector<GaugeSample>{{values, 1}};
  });
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& family : families_) {
    family->Render(out);
  }
  return out;
}

}  // namespace berth::metrics
