#include "cache/worker_pool.h"

#include <pthread.h>

#include <utility>

namespace s3m {

WorkerPool::WorkerPool(int threads, const std::string& name) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Run(); });
    const std::string thread_name = (name + "-" + std::to_string(i)).substr(0, 15);
    pthread_setname_np(threads_.back().native_handle(), thread_name.c_str());
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::Post(std::function<void()> task) {
  // Notified under the lock: the task may end the pool's owner (its `done` wakes a waiter
  // that destroys it) before an unlocked notify would run.
  std::lock_guard l(mu_);
  tasks_.push_back(std::move(task));
  wake_.notify_one();
}

void WorkerPool::Run() {
  std::unique_lock l(mu_);
  while (true) {
    wake_.wait(l, [this] { return stop_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and nothing left
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    l.unlock();
    task();
    l.lock();
  }
}

}  // namespace s3m
