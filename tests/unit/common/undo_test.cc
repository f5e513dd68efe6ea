#include "common/undo.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace berth {
namespace {

TEST(UndoOnFailure, UndoesInReverseWhenAnExceptionLeavesTheScope) {
  std::vector<std::string> done;
  try {
    UndoOnFailure undo("test");
    undo.Add([&] { done.push_back("unmap"); });
    undo.Add([&] { done.push_back("unmount"); });
    throw std::runtime_error("mount failed");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "mount failed");
  }
  EXPECT_EQ(done, (std::vector<std::string>{"unmount", "unmap"}));
}

TEST(UndoOnFailure, UndoesNothingWhenTheWorkSucceeds) {
  std::vector<std::string> done;
  {
    UndoOnFailure undo("test");
    undo.Add([&] { done.push_back("unmap"); });
  }
  EXPECT_TRUE(done.empty());
}

TEST(UndoOnFailure, AFailingStepNeverReplacesTheCauseAndTheRestStillRun) {
  std::vector<std::string> done;
  try {
    UndoOnFailure undo("test");
    undo.Add([&] { done.push_back("unlock"); });
    undo.Add([] { throw std::runtime_error("unmap failed too"); });
    undo.Add([] { throw 42; });  // not even an exception type: still contained
    throw std::runtime_error("the cause");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "the cause");
  }
  EXPECT_EQ(done, (std::vector<std::string>{"unlock"}));
}

TEST(UndoOnFailure, AGuardMadeWhileUnwindingJudgesOnlyItsOwnScope) {
  // Cleanup code that runs while another exception is in flight may use a guard of its own:
  // it undoes only when its own scope fails.
  struct Cleanup {
    std::vector<std::string>* done;
    ~Cleanup() {
      UndoOnFailure inner("inner");
      inner.Add([this] { done->push_back("inner undo"); });
    }
  };
  std::vector<std::string> done;
  try {
    Cleanup cleanup{&done};
    throw std::runtime_error("outer");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(done.empty());
}

}  // namespace
}  // namespace berth
