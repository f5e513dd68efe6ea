// Fault injection for the crash tests: in a build configured with BERTH_FAULT_INJECTION,
// FaultPoint kills its process with SIGKILL when $BERTH_FAULT names `step`, so tests can prove
// every operation survives a crash between any two of its steps. In other builds it does
// nothing.
#pragma once

#include <string_view>

namespace berth {

void FaultPoint(std::string_view step);

}  // namespace berth
