// CurlEventLoop: one thread driving one libcurl multi handle. It runs the transfers and
// timers the client hands it, and owns a pool of easy handles so their connections and
// settings are reused. Internal to src/http.
//
// Threading: Submit() and AddTimer() may be called from any thread (they queue and wake the
// loop). Everything else happens on the loop thread. Stop() must not be called from the
// loop thread. User callbacks run on the loop thread with no lock held.
// Lock order: the client's mutex may be held when calling Submit/AddTimer; mu_ is a leaf.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/curl_handles.h"
#include "http/curl_transfer.h"

namespace s3m {

class CurlEventLoop {
 public:
  // Called on the loop thread when a transfer finishes (before its `done`), so the client
  // can release its slot and account statistics. Must not block.
  using FinishedHook = std::function<void(const Transfer&)>;

  // `connection_limit` bounds this loop's connections (CURLMOPT_MAX_TOTAL_CONNECTIONS).
  CurlEventLoop(const CurlHttpOptions& options, int connection_limit, FinishedHook on_finished);
  ~CurlEventLoop();  // calls Stop()
  CurlEventLoop(const CurlEventLoop&) = delete;
  CurlEventLoop& operator=(const CurlEventLoop&) = delete;

  void Submit(std::unique_ptr<Transfer> transfer);
  void AddTimer(std::chrono::steady_clock::time_point deadline, std::function<void()> fn);
  // Ends the loop: every transfer started or queued completes with kCancelled, timers are
  // dropped without running. Joins the thread. Idempotent.
  void Stop();

 private:
  struct Timer {
    std::chrono::steady_clock::time_point deadline;
    uint64_t sequence;  // keeps equal deadlines in submission order
    std::function<void()> fn;
    bool operator>(const Timer& o) const {
      return deadline != o.deadline ? deadline > o.deadline : sequence > o.sequence;
    }
  };

  void Run();
  bool DrainSubmissions();  // returns true when Stop() was requested
  void Start(std::unique_ptr<Transfer> t);
  void ReapFinished();
  void RunDueTimers();
  int PollTimeoutMs() const;
  void Complete(std::unique_ptr<Transfer> t);
  void CancelAll();
  CurlEasy AcquireEasy();
  void ReleaseEasy(CurlEasy easy);

  const CurlHttpOptions options_;
  const FinishedHook on_finished_;
  CurlMulti multi_;

  std::mutex mu_;
  // Guarded by mu_.
  std::vector<std::unique_ptr<Transfer>> incoming_;
  std::vector<Timer> incoming_timers_;
  bool stop_requested_ = false;
  uint64_t next_sequence_ = 0;

  // Loop thread only.
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<CurlEasy> idle_easy_;
  size_t next_interface_ = 0;  // the --bind interface of the next transfer

  std::mutex stop_mu_;  // serialises Stop() callers
  std::thread thread_;
};

}  // namespace s3m
