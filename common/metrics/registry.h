// A small Prometheus metrics registry: counters and histograms that many threads update, gauges
// read from elsewhere when scraped, all rendered in the text format (common/metrics/exposition.h).
// Families are registered once at start-up and live as long as the registry.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace berth::metrics {

// One series' label values, in the order of its family's label names.
using LabelValues = std::vector<std::string>;

// Upper bounds, in seconds, for operations on storage: a cached Get takes milliseconds, an
// attach with mkfs seconds, a stuck Ceph call up to the client timeouts (about two minutes).
const std::vector<double>& StorageLatencyBuckets();

class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~Family() = default;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  virtual void Render(std::string& out) const = 0;

 protected:
  // kInvalidArgument unless `values` has one value per label name.
  void CheckArity(const LabelValues& values) const;
  void AppendHeader(std::string& out, const char* type) const;
  // The family's label names paired with `values`.
  std::vector<std::pair<std::string, std::string>> Pairs(const LabelValues& values) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

class Counter : public Family {
 public:
  using Family::Family;
  void Increment(const LabelValues& values, uint64_t by = 1);
  // Creates the series at 0, so that a rate over it exists before the first event.
  void Touch(const LabelValues& values) { Increment(values, 0); }
  uint64_t Value(const LabelValues& values) const;
  void Render(std::string& out) const override;

 private:
  mutable std::mutex mu_;
  std::map<LabelValues, uint64_t> values_;
};

class Histogram : public Family {
 public:
  // `bounds` strictly increasing and finite; +Inf is implied.
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds);
  void Observe(const LabelValues& values, double value);

  struct Totals {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };
  Totals Get(const LabelValues& values) const;
  void Render(std::string& out) const override;

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // non-cumulative; the last one is above every bound
    uint64_t count = 0;
    double sum = 0;
  };
  static Totals Accumulate(const Series& series);

  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;
};

struct GaugeSample {
  LabelValues values;
  double value = 0;
};
using GaugeCollector = std::function<std::vector<GaugeSample>()>;

// A gauge whose samples come from `collect` at each scrape (host state, queue lengths).
class CollectedGauge : public Family {
 public:
  CollectedGauge(std::string name, std::string help, std::vector<std::string> label_names,
                 GaugeCollector collect);
  // A collector that throws yields no samples for this scrape (logged); the rest still render.
  void Render(std::string& out) const override;

 private:
  GaugeCollector collect_;
};

class Registry {
 public:
  // Names must be valid and unique (kInvalidArgument otherwise). The references stay valid for
  // the registry's lifetime.
  Counter& AddCounter(std::string name, std::string help, std::vector<std::string> label_names);
  Histogram& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                          std::vector<double> bounds);
  void AddGauge(std::string name, std::string help, std::vector<std::string> label_names,
                GaugeCollector collect);
  // A gauge that is always 1, carrying information in its labels (berth_build_info).
  void AddInfo(std::string name, std::string help, std::vector<std::string> label_names,
               LabelValues values);

  // Every family in registration order, series in label order.
  std::string Render() const;

 private:
  template <typename T>
  T& Add(std::unique_ptr<T> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace berth::metrics
