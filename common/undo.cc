#include "common/undo.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace berth {

UndoOnFailure::UndoOnFailure(std::string what)
    : what_(std::move(what)), exceptions_at_start_(std::uncaught_exceptions()) {}

UndoOnFailure::~UndoOnFailure() {
  if (std::uncaught_exceptions() <= exceptions_at_start_) {
    return;  // left normally, by a return or the end of the scope: the work stands
  }
  for (auto step = steps_.rbegin(); step != steps_.rend(); ++step) {
    try {
      (*step)();
    } catch (const std::exception& e) {
      spdlog::error("cleanup after a failed {} failed too: {}", what_, e.what());
    } catch (...) {
      spdlog::error("cleanup after a failed {} failed too", what_);
    }
  }
}

}  // namespace berth
