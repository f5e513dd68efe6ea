// Nearest-rank percentiles of latency samples, for the benchmarks and the load test.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace berth::testing {

// The nearest-rank `p` percentile (0 < p <= 1) of `sorted` (ascending); 0 when it is empty.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  auto rank = static_cast<size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace berth::testing
