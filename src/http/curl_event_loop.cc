// See curl_event_loop.h.
#include "http/curl_event_loop.h"

#include <algorithm>
#include <cstdlib>

#include "common/log.h"

namespace s3m {
namespace {

// Upper bound on one curl_multi_poll wait. The loop is woken for submissions and libcurl
// shortens the wait for its own timeouts, so this only bounds the cost of a missed wakeup.
constexpr int kMaxPollMs = 1000;

}  // namespace

CurlEventLoop::CurlEventLoop(const CurlHttpOptions& options, int connection_limit,
                             FinishedHook on_finished)
    : options_(options), on_finished_(std::move(on_finished)), multi_(curl_multi_init()) {
  if (multi_ == nullptr) {
    S3M_ERROR("curl_multi_init failed");
    std::abort();
  }
  auto limit = static_cast<long>(connection_limit);
  curl_multi_setopt(multi_.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, limit);
  curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS, limit);
  // Keep as many idle connections cached as may be in use, for keep-alive reuse.
  curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, limit);
  thread_ = std::thread([this] { Run(); });
}

CurlEventLoop::~CurlEventLoop() {
  Stop();
}

void CurlEventLoop::Submit(std::unique_ptr<Transfer> transfer) {
  {
    std::lock_guard lock(mu_);
    incoming_.push_back(std::move(transfer));
  }
  curl_multi_wakeup(multi_.get());
}

void CurlEventLoop::AddTimer(std::chrono::steady_clock::time_point deadline,
                             std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    incoming_timers_.push_back(Timer{deadline, next_sequence_++, std::move(fn)});
  }
  curl_multi_wakeup(multi_.get());
}

void CurlEventLoop::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stop_requested_ = true;
  }
  curl_multi_wakeup(multi_.get());
  if (thread_.joinable()) thread_.join();
}

void CurlEventLoop::Run() {
  while (!DrainSubmissions()) {
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    ReapFinished();
    RunDueTimers();
    curl_multi_poll(multi_.get(), nullptr, 0, PollTimeoutMs(), nullptr);
  }
  CancelAll();
}

bool CurlEventLoop::DrainSubmissions() {
  std::vector<std::unique_ptr<Transfer>> transfers;
  std::vector<Timer> timers;
  {
    std::lock_guard lock(mu_);
    if (stop_requested_) return true;
    transfers.swap(incoming_);
    timers.swap(incoming_timers_);
  }
  for (Timer& timer : timers) timers_.push(std::move(timer));
  for (auto& t : transfers) Start(std::move(t));
  return false;
}

void CurlEventLoop::Start(std::unique_ptr<Transfer> t) {
  if (!options_.interfaces.empty()) {
    t->bind_interface = options_.interfaces[next_interface_++ % options_.interfaces.size()];
  }
  t->easy = AcquireEasy();
  Status status = t->easy != nullptr ? ConfigureTransfer(*t, options_)
                                     : Status(Code::kInternal, "curl_easy_init failed");
  if (status.ok()) {
    CURL* easy = t->easy.get();
    CURLMcode rc = curl_multi_add_handle(multi_.get(), easy);
    if (rc == CURLM_OK) {
      active_.emplace(easy, std::move(t));
      return;
    }
    status =
        Status(Code::kInternal, std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
  }
  t->response.transport = status;
  Complete(std::move(t));
}

void CurlEventLoop::ReapFinished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode result = msg->data.result;  // msg is invalid after remove_handle
    auto it = active_.find(easy);
    if (it == active_.end()) continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    active_.erase(it);
    curl_multi_remove_handle(multi_.get(), easy);
    FinishTransfer(*t, result);
    Complete(std::move(t));
  }
}

void CurlEventLoop::RunDueTimers() {
  auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.top().deadline <= now) {
    // priority_queue::top is const; the function is moved out before pop, which is safe
    // because pop does not look at it.
    std::function<void()> fn = std::move(const_cast<Timer&>(timers_.top()).fn);
    timers_.pop();
    fn();
  }
}

int CurlEventLoop::PollTimeoutMs() const {
  if (timers_.empty()) return kMaxPollMs;
  auto wait = timers_.top().deadline - std::chrono::steady_clock::now();
  // Round up so a timer never runs before its deadline; a wait of 0 only polls.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, kMaxPollMs));
}

void CurlEventLoop::Complete(std::unique_ptr<Transfer> t) {
  ReleaseEasy(std::move(t->easy));
  on_finished_(*t);
  std::function<void(HttpResponse)> done = std::move(t->done);
  HttpResponse response = std::move(t->response);
  t.reset();
  done(std::move(response));
}

void CurlEventLoop::CancelAll() {
  for (auto& [easy, t] : active_) {
    curl_multi_remove_handle(multi_.get(), easy);
    t->response.transport = Status(Code::kCancelled, "HTTP client shut down");
  }
  std::vector<std::unique_ptr<Transfer>> cancelled;
  for (auto& [easy, t] : active_) cancelled.push_back(std::move(t));
  active_.clear();
  std::vector<Timer> pending_timers;  // run outside mu_: they may call back in
  {
    std::lock_guard lock(mu_);
    for (auto& t : incoming_) {
      t->response.transport = Status(Code::kCancelled, "HTTP client shut down");
      cancelled.push_back(std::move(t));
    }
    incoming_.clear();
    pending_timers.swap(incoming_timers_);
  }
  while (!timers_.empty()) {
    pending_timers.push_back(std::move(const_cast<Timer&>(timers_.top())));
    timers_.pop();
  }
  for (auto& t : cancelled) Complete(std::move(t));
  // Pending timers run now rather than never: a retry they start is cancelled at once,
  // so every operation still completes exactly once.
  for (auto& timer : pending_timers) timer.fn();
}

CurlEasy CurlEventLoop::AcquireEasy() {
  if (idle_easy_.empty()) return CurlEasy(curl_easy_init());
  CurlEasy easy = std::move(idle_easy_.back());
  idle_easy_.pop_back();
  return easy;
}

void CurlEventLoop::ReleaseEasy(CurlEasy easy) {
  if (easy == nullptr) return;
  // Clears every option (and so every pointer into the finished Transfer); the multi
  // handle keeps the connection cache, so keep-alive connections survive.
  curl_easy_reset(easy.get());
  idle_easy_.push_back(std::move(easy));
}

}  // namespace s3m
