// The caching wrapper and the chain of providers (see credential_providers.h).
//
// Lock order: each object has one mutex and never calls out (to a provider, the network
// or the log) while holding it. CachingProvider serialises refreshes with a flag and a
// condition variable instead of holding its mutex across the fetch.
#include <condition_variable>
#include <mutex>

#include "common/log.h"
#include "s3/credential_providers.h"

namespace s3m {
namespace {

bool NeedsRefresh(const Credentials& c, std::chrono::system_clock::time_point now) {
  return c.expiration && now >= *c.expiration - kRefreshAhead;
}

bool Expired(const Credentials& c, std::chrono::system_clock::time_point now) {
  return c.expiration && now >= *c.expiration;
}

class CachingProvider final : public CredentialsProvider {
 public:
  CachingProvider(std::unique_ptr<CredentialsProvider> inner, Clock* clock)
      : inner_(std::move(inner)), clock_(clock) {}

  Result<Credentials> Get() override {
    std::unique_lock lock(mu_);
    while (true) {
      auto now = clock_->Now();
      if (cached_ && !NeedsRefresh(*cached_, now)) return *cached_;
      if (!refreshing_) break;
      if (cached_ && !Expired(*cached_, now)) return *cached_;  // still good meanwhile
      refreshed_.wait(lock);
    }
    refreshing_ = true;
    lock.unlock();
    Result<Credentials> fresh = inner_->Get();  // may block on the network: no lock held
    lock.lock();
    refreshing_ = false;
    refreshed_.notify_all();
    if (fresh.ok()) {
      cached_ = *fresh;
      return fresh;
    }
    if (cached_ && !Expired(*cached_, clock_->Now())) {
      Credentials old = *cached_;
      lock.unlock();
      S3M_WARN("credentials refresh from {} failed, using the old ones until they expire: {}",
               old.source, fresh.status().message());
      return old;
    }
    return fresh.status();
  }

 private:
  const std::unique_ptr<CredentialsProvider> inner_;
  Clock* const clock_;
  std::mutex mu_;
  std::condition_variable refreshed_;
  std::optional<Credentials> cached_;  // GUARDED_BY(mu_)
  bool refreshing_ = false;            // GUARDED_BY(mu_)
};

class ChainProvider final : public CredentialsProvider {
 public:
  explicit ChainProvider(std::vector<std::unique_ptr<CredentialsProvider>> providers)
      : providers_(std::move(providers)) {}

  Result<Credentials> Get() override {
    int last = LastWorking();
    if (last >= 0) {
      Result<Credentials> r = providers_[last]->Get();
      if (r.ok()) return r;
      S3M_WARN("credentials source failed, looking again: {}", r.status().message());
      SetLastWorking(-1);
    }
    return Resolve();
  }

 private:
  Result<Credentials> Resolve() {
    std::string tried;
    for (size_t i = 0; i < providers_.size(); ++i) {
      Result<Credentials> r = providers_[i]->Get();
      if (r.ok()) {
        S3M_INFO("credentials: {}", r->Describe());
        SetLastWorking(static_cast<int>(i));
        return r;
      }
      if (r.status().code() != Code::kNotFound) return r.status();
      tried += (tried.empty() ? "" : "; ") + r.status().message();
    }
    return Status(Code::kAccessDenied,
                  "no AWS credentials found (tried " + tried +
                      "): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile in "
                      "~/.aws/credentials, or an instance role; or use --no-sign-request for a "
                      "public bucket");
  }

  int LastWorking() {
    std::lock_guard lock(mu_);
    return last_working_;
  }
  void SetLastWorking(int i) {
    std::lock_guard lock(mu_);
    last_working_ = i;
  }

  const std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  std::mutex mu_;
  int last_working_ = -1;  // GUARDED_BY(mu_); index into providers_, -1 for none
};

}  // namespace

std::unique_ptr<CredentialsProvider> NewCachingCredentialsProvider(
    std::unique_ptr<CredentialsProvider> inner, Clock* clock) {
  return std::make_unique<CachingProvider>(std::move(inner), clock);
}

std::unique_ptr<CredentialsProvider> NewCredentialsChain(
    std::vector<std::unique_ptr<CredentialsProvider>> providers) {
  return std::make_unique<ChainProvider>(std::move(providers));
}

}  // namespace s3m
