// Test-only ObjectClient wrappers for the data path tests: RecordingClient remembers the
// parameters of GETs and uploads and the peak of concurrent operations; GatedClient holds
// chosen operations until the test releases them (and can deliver part of a GET first),
// so tests order events with condition variables instead of sleeps. Thread-safe.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "s3/forwarding_client.h"
#include "s3/memory_object_client.h"

namespace s3m {

// Forwards everything to `inner`, recording what the data path asked for.
class RecordingClient : public ForwardingClient {
 public:
  explicit RecordingClient(ObjectClient* inner) : ForwardingClient(inner) {}

  struct Get {
    uint64_t offset, length;
    std::string if_match;
  };
  std::vector<Get> gets() const {
    std::lock_guard l(mu_);
    return gets_;
  }
  std::vector<ChecksumAlgorithm> part_checksums() const {
    std::lock_guard l(mu_);
    return part_checksums_;
  }
  int peak_uploads() const {
    std::lock_guard l(mu_);
    return peak_uploads_;
  }

  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override {
    {
      std::lock_guard l(mu_);
      gets_.push_back({p.offset, p.length, p.if_match});
    }
    ForwardingClient::GetObject(std::move(p), std::move(done));
  }
  void UploadPart(UploadPartParams p, Callback<UploadPartResult> done) override {
    {
      std::lock_guard l(mu_);
      part_checksums_.push_back(p.checksum);
      peak_uploads_ = std::max(peak_uploads_, ++uploads_);
    }
    ForwardingClient::UploadPart(std::move(p), [this, done = std::move(done)](auto r) {
      {
        std::lock_guard l(mu_);
        --uploads_;
      }
      done(std::move(r));
    });
  }

 private:
  mutable std::mutex mu_;
  std::vector<Get> gets_;                          // GUARDED_BY(mu_)
  std::vector<ChecksumAlgorithm> part_checksums_;  // GUARDED_BY(mu_)
  int uploads_ = 0, peak_uploads_ = 0;             // GUARDED_BY(mu_)
};

// Holds GETs and UploadParts (when gated) until released, in arrival order.
class GatedClient : public RecordingClient {
 public:
  explicit GatedClient(MemoryObjectClient* inner) : RecordingClient(inner), mem_(inner) {}

  void Gate(bool on) {
    std::vector<std::function<void()>> go;
    {
      std::lock_guard l(mu_);
      gated_ = on;
      if (!on) go = TakeAllLocked();
    }
    for (auto& fn : go) fn();
  }
  // Blocks until at least `n` operations are held.
  void WaitHeld(size_t n) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return held_.size() >= n; });
  }
  size_t held() const {
    std::lock_guard l(mu_);
    return held_.size();
  }
  // The length of the oldest held GET.
  uint64_t FrontLength() const {
    std::lock_guard l(mu_);
    return held_.front().get.length;
  }
  // Releases the oldest held operation.
  void ReleaseOne() {
    std::function<void()> fn;
    {
      std::lock_guard l(mu_);
      fn = std::move(held_.front().run);
      held_.pop_front();
    }
    fn();
  }
  // Copies the first `bytes` of the oldest held GET into its buffer and reports progress.
  void DeliverPartial(uint64_t bytes) {
    GetObjectParams p;
    {
      std::lock_guard l(mu_);
      p = held_.front().get;
    }
    std::string data = *mem_->Contents(p.key);
    std::memcpy(p.buffer, data.data() + p.offset, bytes);
    if (p.on_progress) p.on_progress(bytes);
  }

  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override {
    Hold(p, [this, p, done = std::move(done)]() mutable {
      // Async completions may run after this client is gone: the count is shared.
      RecordingClient::GetObject(std::move(p), [c = completed_, done = std::move(done)](auto r) {
        done(std::move(r));
        std::lock_guard l(c->mu);
        c->gets++;
        c->cv.notify_all();
      });
    });
  }
  // GETs whose completion callback has returned.
  size_t gets_completed() const {
    std::lock_guard l(completed_->mu);
    return completed_->gets;
  }
  void WaitGetsCompleted(size_t n) {
    std::unique_lock l(completed_->mu);
    completed_->cv.wait(l, [&] { return completed_->gets >= n; });
  }
  void UploadPart(UploadPartParams p, Callback<UploadPartResult> done) override {
    Hold({}, [this, p = std::move(p), done = std::move(done)]() mutable {
      RecordingClient::UploadPart(std::move(p), std::move(done));
    });
  }

 private:
  struct Held {
    GetObjectParams get;
    std::function<void()> run;
  };
  void Hold(GetObjectParams p, std::function<void()> run) {
    {
      std::lock_guard l(mu_);
      if (gated_) {
        held_.push_back({std::move(p), std::move(run)});
        cv_.notify_all();
        return;
      }
    }
    run();
  }
  std::vector<std::function<void()>> TakeAllLocked() {
    std::vector<std::function<void()>> out;
    for (auto& h : held_) out.push_back(std::move(h.run));
    held_.clear();
    return out;
  }

  MemoryObjectClient* mem_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool gated_ = false;     // GUARDED_BY(mu_)
  std::deque<Held> held_;  // GUARDED_BY(mu_)
  struct Completed {
    std::mutex mu;
    std::condition_variable cv;
    size_t gets = 0;  // GUARDED_BY(mu)
  };
  std::shared_ptr<Completed> completed_ = std::make_shared<Completed>();
};

}  // namespace s3m
