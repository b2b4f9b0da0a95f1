// The file system core's metric hooks over the in-memory client: the prefetch window gauge
// (ReaderOptions::window_gauge) and the uploads in flight (FsOptions::uploads_gauge).
#include <gtest/gtest.h>

#include <fcntl.h>

#include <functional>
#include <future>
#include <mutex>
#include <vector>

#include "fs/file_system.h"
#include "fs/object_reader.h"
#include "metrics/registry.h"
#include "s3/forwarding_client.h"
#include "s3/memory_object_client.h"

namespace s3m {
namespace {

constexpr uint64_t kPart = 64 << 10;

ReaderOptions Options(metrics::Gauge* gauge) {
  ReaderOptions o;
  o.read_part_size = kPart;
  o.max_window_bytes = 8 * kPart;
  o.first_request_bytes = 16 << 10;
  o.window_gauge = gauge;
  return o;
}

void ReadSync(ObjectReader& r, uint64_t offset, uint64_t size) {
  auto res = Wait<ReadData>([&](auto cb) { r.Read(offset, size, cb); });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
}

TEST(FsMetrics, PrefetchWindowIsTheSumOfOpenReadersWindows) {
  MemoryBudget budget(64 << 20);
  BufferPool pool(&budget);
  MemoryObjectClient mem;
  mem.Put("a", std::string(4 << 20, 'a'));
  mem.Put("b", std::string(4 << 20, 'b'));
  metrics::Registry registry;
  metrics::Gauge* gauge = registry.AddGauge("s3mount_prefetch_window_bytes", "w");
  auto open = [&](const std::string& key) {
    auto info = mem.Info(key);
    return std::make_unique<ObjectReader>(&mem, &pool, Options(gauge), key, info->etag, info->size);
  };
  auto a = open("a");
  EXPECT_EQ(gauge->Value(), 0);  // nothing read yet
  for (uint64_t off = 0; off < 8 * kPart; off += 16 << 10) ReadSync(*a, off, 16 << 10);
  const int64_t one = gauge->Value();
  EXPECT_GE(one, static_cast<int64_t>(kPart));  // a sequential stream keeps a window
  EXPECT_LE(one, static_cast<int64_t>(8 * kPart));
  auto b = open("b");
  ReadSync(*b, 0, 16 << 10);
  EXPECT_GT(gauge->Value(), one);  // the second stream adds its own
  b.reset();
  EXPECT_EQ(gauge->Value(), one);
  // A random read ends the stream: no window.
  ReadSync(*a, 3 << 20, 4096);
  EXPECT_EQ(gauge->Value(), 0);
  // A read where the random read's aligned chunk ends continues it: a stream again.
  ReadSync(*a, (3 << 20) + kRandomReadAlignment, 16 << 10);
  EXPECT_GT(gauge->Value(), 0);
  a.reset();
  EXPECT_EQ(gauge->Value(), 0);
}

// Holds PutObject until Open() is called.
class HeldPuts : public ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
  void PutObject(PutObjectParams p, Callback<PutObjectResult> done) override {
    std::lock_guard l(mu_);
    held_.push_back([this, p = std::move(p), done = std::move(done)]() mutable {
      inner()->PutObject(std::move(p), std::move(done));
    });
  }
  size_t held() {
    std::lock_guard l(mu_);
    return held_.size();
  }
  void Open() {
    std::vector<std::function<void()>> go;
    {
      std::lock_guard l(mu_);
      go.swap(held_);
    }
    for (auto& fn : go) fn();
  }

 private:
  std::mutex mu_;
  std::vector<std::function<void()>> held_;  // GUARDED_BY(mu_)
};

TEST(FsMetrics, UploadsInFlightCountClosedFilesUntilTheirUploadEnds) {
  MemoryBudget budget(64 << 20);
  BufferPool pool(&budget);
  MemoryObjectClient mem;
  HeldPuts held(&mem);
  metrics::Registry registry;
  metrics::Gauge* gauge = registry.AddGauge("s3mount_uploads_in_flight", "u");
  FsOptions o;
  o.uploads_gauge = gauge;
  {
    FileSystem fs(&held, &pool, o);
    auto c = Wait<CreateResult>(
        [&](auto cb) { fs.Create(kRootInode, "f", 0644, O_WRONLY | O_CREAT, cb); });
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_TRUE(fs.Write(c->entry.attr.ino, c->handle, 0, "hello", 5).ok());
    EXPECT_EQ(gauge->Value(), 0);
    std::promise<Result<Empty>> released;
    fs.Release(c->entry.attr.ino, c->handle,
               [&](Result<Empty> r) { released.set_value(std::move(r)); });
    ASSERT_EQ(held.held(), 1u);
    EXPECT_EQ(gauge->Value(), 1);
    held.Open();
    EXPECT_TRUE(released.get_future().get().ok());
    fs.DrainUploads();
    EXPECT_EQ(gauge->Value(), 0);
  }
  EXPECT_EQ(*mem.Contents("f"), "hello");
}

}  // namespace
}  // namespace s3m
