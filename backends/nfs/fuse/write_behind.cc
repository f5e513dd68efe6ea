#include "backends/nfs/fuse/write_behind.h"

#include <algorithm>
#include <utility>

namespace berth::nfs {

WriteBehind::WriteBehind(Sender send, Limits limits) : send_(std::move(send)), limits_(limits) {
  for (size_t i = 0; i < std::max<size_t>(1, limits_.workers); ++i) {
    workers_.emplace_back([this](const std::stop_token& stop) { Work(stop); });
  }
}

WriteBehind::~WriteBehind() {
  DrainAll();
  for (auto& worker : workers_) {
    worker.request_stop();
  }
  changed_.notify_all();
  workers_.clear();  // joins
}

std::shared_ptr<WriteBehind::Stream> WriteBehind::Open(const void* file) {
  auto stream = std::make_shared<Stream>();
  stream->file_ = file;
  return stream;
}

int WriteBehind::Submit(const std::shared_ptr<Stream>& stream, uint64_t offset, const char* data,
                        size_t size, std::shared_ptr<const void> context) {
  Job job{0, offset, std::string(data, size), std::move(context)};  // copied before any wait
  std::unique_lock lock(mutex_);
  // A write larger than a bound still goes, alone: the bound limits what waits, not what is.
  changed_.wait(lock, [&] {
    return stream->error_ != 0 || stream->jobs_.empty() ||
           (stream->queued_bytes_ + size <= limits_.bytes_per_file &&
            queued_bytes_ + size <= limits_.bytes_in_all);
  });
  if (stream->error_ != 0) {
    return std::exchange(stream->error_, 0);
  }
  job.sequence = next_sequence_++;
  unfinished_.insert(job.sequence);
  stream->last_submitted_ = job.sequence;
  stream->jobs_.push_back(std::move(job));
  stream->queued_bytes_ += size;
  queued_bytes_ += size;
  if (!stream->scheduled_) {
    stream->scheduled_ = true;
    ready_.push_back(stream);
  }
  changed_.notify_all();
  return 0;
}

int WriteBehind::Drain(Stream& stream) {
  std::unique_lock lock(mutex_);
  const uint64_t target = stream.last_submitted_;
  changed_.wait(lock, [&] { return stream.last_finished_ >= target; });
  return std::exchange(stream.error_, 0);
}

void WriteBehind::DrainAll() {
  std::unique_lock lock(mutex_);
  const uint64_t target = next_sequence_ - 1;
  changed_.wait(lock, [&] { return unfinished_.empty() || *unfinished_.begin() > target; });
}

void WriteBehind::Work(const std::stop_token& stop) {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, stop, [&] { return !ready_.empty(); });
    if (ready_.empty()) {
      return;  // stop requested, nothing left
    }
    const std::shared_ptr<Stream> stream = std::move(ready_.front());
    ready_.pop_front();
    while (!stream->jobs_.empty()) {
      Job job = std::move(stream->jobs_.front());
      stream->jobs_.pop_front();
      // After an error the rest of the file's queue is dropped: it would land around a hole.
      const bool skip = stream->error_ != 0;
      lock.unlock();
      const int rc = skip ? 0 : send_(stream->file_, job);
      lock.lock();
      if (rc != 0 && stream->error_ == 0) {
        stream->error_ = rc;
      }
      stream->queued_bytes_ -= job.data.size();
      queued_bytes_ -= job.data.size();
      stream->last_finished_ = job.sequence;
      unfinished_.erase(job.sequence);
      changed_.notify_all();
    }
    stream->scheduled_ = false;
  }
}

}  // namespace berth::nfs
