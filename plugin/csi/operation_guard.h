// One operation per volume at a time within berth-csi: a second call on a volume whose first
// is still running gets ABORTED, as the CSI spec asks, and the CO retries it later.
#pragma once

#include <mutex>
#include <set>
#include <string>

namespace berth::csi {

class OperationsInFlight {
 public:
  // Held for the length of one call.
  class Guard {
   public:
    Guard(OperationsInFlight& owner, std::string key);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    OperationsInFlight& owner_;
    std::string key_;
  };

  // A guard on `key` (a volume id); a StatusError ABORTED naming `key` while another holds it.
  [[nodiscard]] Guard Begin(const std::string& key) { return Guard(*this, key); }

 private:
  std::mutex mutex_;
  std::set<std::string> keys_;
};

}  // namespace berth::csi
