// WorkerPool: a few threads that run queued tasks in order of arrival. The cache reads and
// writes its blocks here, never on the S3 client's event-loop thread (which serves every
// transfer of the mount).
//
// Thread-safety: Post may be called from any thread, including a task.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace s3m {

class WorkerPool {
 public:
  // `name` (up to 13 characters) names its threads name-0, name-1, ... (`top -H`).
  WorkerPool(int threads, const std::string& name);
  ~WorkerPool();  // runs the tasks already queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Post(std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stop_ = false;                        // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace s3m
