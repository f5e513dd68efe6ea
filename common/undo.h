// Undo for multi-step work: steps registered as the work goes, run in reverse if the scope is
// left by an exception (and only then). A step that fails is logged and the next one still runs;
// the exception in flight, the cause, is never replaced by a cleanup's.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace berth {

class UndoOnFailure {
 public:
  // `what` names the work in the log: "cleanup after a failed mount of db: ...".
  explicit UndoOnFailure(std::string what);
  ~UndoOnFailure();
  UndoOnFailure(const UndoOnFailure&) = delete;
  UndoOnFailure& operator=(const UndoOnFailure&) = delete;

  // Registers the undo of a step that has just succeeded.
  void Add(std::function<void()> step) { steps_.push_back(std::move(step)); }

 private:
  std::string what_;
  std::vector<std::function<void()>> steps_;
  int exceptions_at_start_;
};

}  // namespace berth
