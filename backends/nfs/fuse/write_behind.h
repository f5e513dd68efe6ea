// Writes answered before the server has them, as the kernel NFS client answers write(2) from
// its page cache: a FUSE write is copied, queued, and sent by a worker while the kernel hands
// over the next one, so the FUSE round trip and the server's work overlap instead of adding up.
//
// What stays true:
//   - A file's writes reach the server in the order they were made (one worker at a time per
//     file), so overlapping writes land as written.
//   - The first error a queued write meets is kept for its file and returned by the file's next
//     write, flush (close) or fsync, as NFS reports write errors.
//   - Any other operation of the mount first waits for every queued write (DrainAll): a stat,
//     read, truncate, chmod or rename sees the data written before it.
//   - Memory is bounded: a write waits while its file, or the mount, has too much queued.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace berth::nfs {

class WriteBehind {
 public:
  // One queued write: `data` at `offset` of the file the stream was opened for, on behalf of
  // `context` (what the caller's credentials were; opaque here).
  struct Job {
    uint64_t sequence = 0;  // the order of submission, over the whole mount
    uint64_t offset = 0;
    std::string data;
    std::shared_ptr<const void> context;
  };
  // Sends one job and waits for the server: 0 or a negative errno. Runs on a worker thread.
  using Sender = std::function<int(const void* file, const Job& job)>;

  struct Limits {
    size_t workers = 2;
    size_t bytes_per_file = 4 << 20;
    size_t bytes_in_all = 64 << 20;
  };

  class Stream;

  WriteBehind(Sender send, Limits limits);
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;
  // Sends what is queued, then stops the workers.
  ~WriteBehind();

  // A stream for the file `file` (handed back to the sender as is).
  std::shared_ptr<Stream> Open(const void* file);
  // Queues a copy of `size` bytes. Returns 0, or an earlier write's error (cleared, and this
  // write not queued), as write(2) through the kernel NFS client reports one.
  int Submit(const std::shared_ptr<Stream>& stream, uint64_t offset, const char* data, size_t size,
             std::shared_ptr<const void> context);
  // Waits until the writes queued on the stream so far are done (not later ones: a steady
  // writer cannot starve the caller); returns (and clears) the stream's first error.
  int Drain(Stream& stream);
  // Waits until every write queued so far, on any stream, is done. Errors stay with their
  // streams.
  void DrainAll();

 private:
  void Work(const std::stop_token& stop);

  const Sender send_;
  const Limits limits_;
  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::deque<std::shared_ptr<Stream>> ready_;  // streams with jobs and no worker
  size_t queued_bytes_ = 0;
  uint64_t next_sequence_ = 1;
  std::set<uint64_t> unfinished_;  // sequences queued or running
  std::vector<std::jthread> workers_;
};

class WriteBehind::Stream {
 private:
  friend class WriteBehind;
  const void* file_ = nullptr;
  std::deque<Job> jobs_;
  size_t queued_bytes_ = 0;
  uint64_t last_submitted_ = 0;
  uint64_t last_finished_ = 0;
  bool scheduled_ = false;  // in ready_ or held by a worker
  int error_ = 0;
};

}  // namespace berth::nfs
