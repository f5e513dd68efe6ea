#include "common/step_trace.h"

#include <spdlog/spdlog.h>

namespace berth {

namespace {
thread_local StepTrace* current_trace = nullptr;

std::string Milliseconds(StepTrace::Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return fmt::format("{:.1f} ms", static_cast<double>(us) / 1000.0);
}
}  // namespace

StepTrace::StepTrace(std::string what)
    : what_(std::move(what)), start_(Clock::now()), last_(start_), outer_(current_trace) {
  current_trace = this;
}

StepTrace::~StepTrace() {
  current_trace = outer_;
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("{} steps: {}", what_, Summary());
  }
}

void StepTrace::Mark(std::string_view step) {
  const auto now = Clock::now();
  const auto elapsed = now - last_;
  last_ = now;
  for (auto& [name, total] : steps_) {
    if (name == step) {
      total += elapsed;
      return;
    }
  }
  steps_.emplace_back(std::string(step), elapsed);
}

std::string StepTrace::Summary() const {
  std::string out;
  for (const auto& [name, elapsed] : steps_) {
    out += name + " " + Milliseconds(elapsed) + ", ";
  }
  const auto now = Clock::now();
  if (now - last_ >= std::chrono::microseconds(100)) {
    out += "other " + Milliseconds(now - last_) + ", ";
  }
  return out + "total " + Milliseconds(now - start_);
}

void TraceStep(std::string_view step) {
  if (current_trace != nullptr) {
    current_trace->Mark(step);
  }
}

}  // namespace berth
