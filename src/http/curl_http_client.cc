// NewCurlHttpClient: the HttpClient over libcurl multi. It admits at most max_connections
// requests at once (the rest wait in FIFO order) and hands each admitted request to the
// least loaded event loop (see curl_event_loop.h).
//
// Threading: Send/Schedule/Stats from any thread, including from callbacks. Lock order:
// mu_ before an event loop's internal mutex. No lock is held while a user callback runs.
// The client must not be destroyed from one of its own callbacks (it joins the loops).
// On destruction, requests still waiting for a slot complete with kCancelled on the
// destroying thread; those already on a loop complete on that loop's thread.
#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "http/curl_event_loop.h"
#include "http/curl_handles.h"
#include "http/curl_transfer.h"
#include "http/http_client.h"

namespace s3m {
namespace {

Status ShutDownStatus() {
  return Status(Code::kCancelled, "HTTP client shut down");
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(const CurlHttpOptions& options);
  ~CurlHttpClient() override;

  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override;
  void Schedule(std::chrono::nanoseconds delay, std::function<void()> fn) override;
  HttpStats Stats() const override;

 private:
  void DispatchLocked(std::unique_ptr<Transfer> t);
  void OnFinished(const Transfer& t);

  const int max_active_;

  std::mutex mu_;
  // Guarded by mu_.
  std::deque<std::unique_ptr<Transfer>> waiting_;  // admitted in FIFO order
  std::vector<int> loop_active_;                   // requests running per loop
  int active_ = 0;
  size_t next_timer_loop_ = 0;
  bool shutting_down_ = false;

  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> connections_opened_{0};
  std::atomic<uint64_t> bytes_received_{0};
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> max_in_flight_{0};

  // Last, so the loops (whose threads call OnFinished) start after everything above exists.
  std::vector<std::unique_ptr<CurlEventLoop>> loops_;
};

CurlHttpClient::CurlHttpClient(const CurlHttpOptions& options)
    : max_active_(std::max(options.max_connections, 1)) {
  CurlGlobalInit();
  // Each loop needs at least one connection of its own.
  int threads = std::clamp(options.event_threads, 1, max_active_);
  // With least-loaded dispatch no loop runs more than ceil(max / threads) requests.
  int per_loop = (max_active_ + threads - 1) / threads;
  loop_active_.assign(threads, 0);
  for (int i = 0; i < threads; ++i) {
    loops_.push_back(std::make_unique<CurlEventLoop>(options, per_loop,
                                                     [this](const Transfer& t) { OnFinished(t); }));
  }
}

CurlHttpClient::~CurlHttpClient() {
  std::deque<std::unique_ptr<Transfer>> waiting;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    waiting.swap(waiting_);
  }
  for (auto& t : waiting) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    HttpResponse response;
    response.transport = ShutDownStatus();
    t->done(std::move(response));
  }
  for (auto& loop : loops_) loop->Stop();
}

void CurlHttpClient::Send(HttpRequest request, std::function<void(HttpResponse)> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  {
    std::lock_guard lock(mu_);
    if (!shutting_down_) {
      if (active_ < max_active_) {
        DispatchLocked(std::move(t));
      } else {
        waiting_.push_back(std::move(t));
      }
      return;
    }
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  HttpResponse response;
  response.transport = ShutDownStatus();
  t->done(std::move(response));
}

void CurlHttpClient::Schedule(std::chrono::nanoseconds delay, std::function<void()> fn) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay);
  {
    std::lock_guard lock(mu_);
    if (!shutting_down_) {
      loops_[next_timer_loop_]->AddTimer(deadline, std::move(fn));
      next_timer_loop_ = (next_timer_loop_ + 1) % loops_.size();
      return;
    }
  }
  // Shutting down: run it now, so a retry it would start completes with kCancelled
  // instead of never completing.
  fn();
}

HttpStats CurlHttpClient::Stats() const {
  HttpStats stats;
  stats.requests = requests_.load(std::memory_order_relaxed);
  stats.connections_opened = connections_opened_.load(std::memory_order_relaxed);
  stats.bytes_received = bytes_received_.load(std::memory_order_relaxed);
  stats.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
  stats.max_in_flight = max_in_flight_.load(std::memory_order_relaxed);
  return stats;
}

void CurlHttpClient::DispatchLocked(std::unique_ptr<Transfer> t) {
  auto least = std::min_element(loop_active_.begin(), loop_active_.end());
  size_t index = static_cast<size_t>(least - loop_active_.begin());
  ++*least;
  ++active_;
  if (static_cast<uint64_t>(active_) > max_in_flight_.load(std::memory_order_relaxed)) {
    max_in_flight_.store(active_, std::memory_order_relaxed);  // written only under mu_
  }
  t->loop_index = index;
  loops_[index]->Submit(std::move(t));
}

void CurlHttpClient::OnFinished(const Transfer& t) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  connections_opened_.fetch_add(t.connects, std::memory_order_relaxed);
  bytes_received_.fetch_add(t.bytes_received, std::memory_order_relaxed);
  bytes_sent_.fetch_add(t.bytes_sent, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  --loop_active_[t.loop_index];
  --active_;
  if (!shutting_down_ && !waiting_.empty()) {
    std::unique_ptr<Transfer> next = std::move(waiting_.front());
    waiting_.pop_front();
    DispatchLocked(std::move(next));
  }
}

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(const CurlHttpOptions& options) {
  return std::make_unique<CurlHttpClient>(options);
}

}  // namespace s3m
