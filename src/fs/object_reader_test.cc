// Tests of ObjectReader over MemoryObjectClient (inline, async and lent GETs), with
// recording, gated and fault-injecting wrappers: byte-exact streams, request economy,
// the window and the budget, seeks, stale objects, concurrent reads.
#include "fs/object_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <future>
#include <thread>

#include "fs/test_clients.h"
#include "s3/fault_injecting_client.h"

namespace s3m {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kPart = 64 * kKiB;   // small parts keep objects small
constexpr uint64_t kFirst = 16 * kKiB;  // first request, scaled down like the part

std::string Pattern(uint64_t size, int seed = 0) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7 + i / 251 + seed) & 0xff);
  return s;
}

std::string Flatten(const ReadData& d) {
  std::string out;
  for (const auto& v : d.iov) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
  EXPECT_EQ(out.size(), d.size);
  return out;
}

Result<ReadData> ReadSync(ObjectReader& r, uint64_t offset, uint64_t size) {
  return Wait<ReadData>([&](auto cb) { r.Read(offset, size, cb); });
}

// Reads [0, size) in sequential reads of `step`; what came back, or "" after a failed read.
std::string ReadInSteps(ObjectReader& r, uint64_t size, uint64_t step) {
  std::string got;
  for (uint64_t off = 0; off < size; off += step) {
    auto res = ReadSync(r, off, step);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    if (!res.ok()) return "";
    got += Flatten(*res);
  }
  return got;
}

ReaderOptions SmallParts() {
  return ReaderOptions{
      .read_part_size = kPart, .max_window_bytes = 8 * kPart, .first_request_bytes = kFirst};
}

// How the in-memory client answers GETs: copies on the calling thread or on its own
// thread, or the stored bytes lent (the reader replies from them, as in s3mount-memfs).
enum class Gets { kInline, kAsync, kLent };

class ObjectReaderTest : public ::testing::TestWithParam<Gets> {
 protected:
  ObjectReaderTest()
      : mem_(MemoryObjectClient::Options{.async = GetParam() == Gets::kAsync,
                                         .lend_get_bodies = GetParam() == Gets::kLent}) {}

  std::unique_ptr<ObjectReader> Open(ObjectClient* client, const std::string& key,
                                     ReaderOptions o = SmallParts(), BufferPool* pool = nullptr) {
    auto info = mem_.Info(key);
    return std::make_unique<ObjectReader>(client, pool ? pool : &pool_, o, key, info->etag,
                                          info->size);
  }

  MemoryBudget budget_{64 << 20};
  BufferPool pool_{&budget_};
  MemoryObjectClient mem_;  // destroyed first: runs queued completions while the pool lives
};

TEST_P(ObjectReaderTest, SequentialReadsAreByteExact) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, kPart - 1, kPart, kPart + 1, 5 * kPart + 3}) {
    for (uint64_t rs : {4 * kKiB, 128 * kKiB, 1024 * kKiB}) {
      std::string data = Pattern(size, static_cast<int>(rs));
      mem_.Put("k", data);
      auto reader = Open(&mem_, "k");
      std::string got;
      for (uint64_t off = 0;; off += rs) {
        auto r = ReadSync(*reader, off, rs);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        if (r->size == 0) break;
        got += Flatten(*r);
      }
      EXPECT_EQ(got, data) << "size " << size << " read " << rs;
    }
  }
}

TEST_P(ObjectReaderTest, SequentialReadCostsAboutOneGetPerPart) {
  constexpr uint64_t kParts = 16;
  std::string data = Pattern(kParts * kPart);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  EXPECT_EQ(ReadInSteps(*reader, data.size(), 16 * kKiB), data);
  auto gets = rec.gets();
  EXPECT_LE(gets.size(), kParts + 1);  // the small first request, then one per part
  ASSERT_FALSE(gets.empty());
  EXPECT_EQ(gets[0].length, kFirst);
  for (const auto& g : gets) {
    EXPECT_LE(g.length, kPart);
    EXPECT_EQ(g.if_match, mem_.Info("k")->etag);
  }
  EXPECT_EQ(ReadSync(*reader, data.size(), 4096)->size, 0u);  // EOF: no request
  EXPECT_EQ(rec.gets().size(), gets.size());
}

// After the small first request, GETs end on part boundaries, so each covers one part of
// an object uploaded with that part size; a realigning GET under a quarter part takes in
// the next part instead of costing a request of its own.
TEST_P(ObjectReaderTest, SequentialGetsEndOnPartBoundaries) {
  std::string data = Pattern(8 * kPart + 100);
  mem_.Put("k", data);
  for (uint64_t first : {kFirst, kPart - 8 * kKiB}) {
    RecordingClient rec(&mem_);
    ReaderOptions o = SmallParts();
    o.first_request_bytes = first;
    auto reader = Open(&rec, "k", o);
    EXPECT_EQ(ReadInSteps(*reader, data.size(), 16 * kKiB), data);
    auto gets = rec.gets();
    ASSERT_GE(gets.size(), 3u);
    EXPECT_EQ(gets[0].offset, 0u);
    EXPECT_EQ(gets[0].length, first);
    // 48 KiB up to the boundary; or 8 KiB, too small alone, plus the next part.
    EXPECT_EQ(gets[1].length, first == kFirst ? kPart - kFirst : kPart + 8 * kKiB);
    for (size_t i = 1; i < gets.size(); ++i) {
      const uint64_t end = gets[i].offset + gets[i].length;
      EXPECT_TRUE(end % kPart == 0 || end == data.size()) << "GET " << i << " ends at " << end;
      EXPECT_EQ(gets[i].offset, gets[i - 1].offset + gets[i - 1].length);
    }
  }
}

TEST_P(ObjectReaderTest, RandomReadFetchesOnlyAnAlignedRange) {
  std::string data = Pattern(4 << 20);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k", ReaderOptions{});  // default 8 MiB parts
  auto r = ReadSync(*reader, 1000000, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(1000000, 4096));
  r = ReadSync(*reader, 3000000, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(3000000, 4096));
  auto gets = rec.gets();
  ASSERT_EQ(gets.size(), 2u);
  for (const auto& g : gets) {
    EXPECT_EQ(g.length, kRandomReadAlignment);
    EXPECT_EQ(g.offset % kRandomReadAlignment, 0u);
  }
  // A neighbouring read in the same aligned block needs no request.
  r = ReadSync(*reader, 3000000 + 4096, 4096);
  EXPECT_EQ(Flatten(*r), data.substr(3000000 + 4096, 4096));
  EXPECT_EQ(rec.gets().size(), 2u);
}

TEST_P(ObjectReaderTest, RandomReadAlignmentIsAnOption) {
  std::string data = Pattern(4 << 20);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  ReaderOptions o;
  o.random_read_alignment = 4096;  // what a mount with --cache asks for
  auto reader = Open(&rec, "k", o);
  auto r = ReadSync(*reader, 1000000 + 100, 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(1000100, 4000));
  auto gets = rec.gets();
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].offset, 1000000u - 1000000u % 4096);
  EXPECT_EQ(gets[0].length, 8192u);  // the 4 KiB pages the read touches, no more
}

// Answers GetNow for the bytes of [lo, hi), as a data cache holding them would.
class HeldClient : public ForwardingClient {
 public:
  HeldClient(ObjectClient* inner, std::string data, uint64_t lo, uint64_t hi)
      : ForwardingClient(inner), data_(std::move(data)), lo_(lo), hi_(hi) {}
  std::optional<uint64_t> GetNow(const GetNowParams& p) override {
    ++asked;
    if (p.offset < lo_ || p.offset + p.length > hi_) return std::nullopt;
    std::memcpy(p.buffer, data_.data() + p.offset, p.length);
    return p.length;
  }
  std::atomic<int> asked{0};

 private:
  const std::string data_;
  const uint64_t lo_, hi_;
};

TEST_P(ObjectReaderTest, ARandomReadTheClientHoldsIsAnsweredAtOnce) {
  std::string data = Pattern(4 << 20);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  HeldClient held(&rec, data, 1 << 20, 2 << 20);
  ReaderOptions o;
  o.random_read_alignment = 4096;
  o.ask_cache_first = true;
  auto reader = Open(&held, "k", o);
  const uint64_t at = (1 << 20) + 5000;
  auto r = ReadSync(*reader, at, 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(at, 4000));
  EXPECT_EQ(held.asked, 1);
  EXPECT_TRUE(rec.gets().empty());

  // Not held: fetched as usual.
  r = ReadSync(*reader, 3 << 20, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(3 << 20, 4096));
  EXPECT_EQ(held.asked, 2);
  ASSERT_EQ(rec.gets().size(), 1u);
  EXPECT_EQ(rec.gets()[0].offset, uint64_t{3} << 20);

  // A held random read, then reads continuing it: they make a stream, which GETs.
  r = ReadSync(*reader, at + 10000, 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(at + 10000, 4000));
  EXPECT_EQ(held.asked, 3);
  EXPECT_EQ(rec.gets().size(), 1u);
  for (uint64_t off = at + 14000; off < at + 14000 + 3 * 4096; off += 4096) {
    r = ReadSync(*reader, off, 4096);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Flatten(*r), data.substr(off, 4096));
  }
  EXPECT_EQ(held.asked, 3);  // a stream's reads are not asked
  EXPECT_GE(rec.gets().size(), 2u);
  EXPECT_EQ(rec.gets()[1].offset, at + 14000);  // where the stream starts
}

TEST_P(ObjectReaderTest, BackwardSeekWithinBufferIssuesNoGet) {
  std::string data = Pattern(8 * kPart);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  for (uint64_t off = 0; off < 3 * kPart; off += 16 * kKiB)
    ASSERT_TRUE(ReadSync(*reader, off, 16 * kKiB).ok());
  size_t before = rec.gets().size();
  auto r = ReadSync(*reader, kPart + 100, 20000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(kPart + 100, 20000));
  EXPECT_EQ(rec.gets().size(), before);
  // A small forward skip stays on the stream too.
  r = ReadSync(*reader, 3 * kPart + 8 * kKiB, 4096);
  EXPECT_EQ(Flatten(*r), data.substr(3 * kPart + 8 * kKiB, 4096));
}

TEST_P(ObjectReaderTest, ReadSpanningTwoChunksGetsTwoIovecs) {
  std::string data = Pattern(4 * kPart);
  mem_.Put("k", data);
  auto reader = Open(&mem_, "k");
  auto r = ReadSync(*reader, 0, 2 * kFirst);  // the first chunk is kFirst long
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iov.size(), 2u);
  EXPECT_EQ(Flatten(*r), data.substr(0, 2 * kFirst));
  r = ReadSync(*reader, 4 * kPart - 10, 100);  // clipped at the end
  EXPECT_EQ(Flatten(*r), data.substr(4 * kPart - 10));
}

TEST_P(ObjectReaderTest, ChangedObjectIsStaleAndNeverMixed) {
  std::string data = Pattern(8 * kPart);
  mem_.Put("k", data);
  auto reader = Open(&mem_, "k");
  ASSERT_TRUE(ReadSync(*reader, 0, 16 * kKiB).ok());
  mem_.Put("k", Pattern(8 * kPart, 99));  // same size, new bytes
  Status error;
  for (uint64_t off = 16 * kKiB; off < data.size(); off += 16 * kKiB) {
    auto r = ReadSync(*reader, off, 16 * kKiB);
    if (!r.ok()) {
      error = r.status();
      break;
    }
    EXPECT_EQ(Flatten(*r), data.substr(off, 16 * kKiB));  // old bytes only
  }
  EXPECT_EQ(error.code(), Code::kStale);
  EXPECT_EQ(ReadSync(*reader, 0, 10).status().code(), Code::kStale);  // sticky
}

TEST_P(ObjectReaderTest, DeletedObjectIsStale) {
  mem_.Put("k", Pattern(kPart));
  auto reader = Open(&mem_, "k");
  mem_.Remove("k");
  EXPECT_EQ(ReadSync(*reader, 0, 10).status().code(), Code::kStale);
}

TEST_P(ObjectReaderTest, NetworkErrorReachesTheReadThenRetries) {
  std::string data = Pattern(4 * kPart);
  mem_.Put("k", data);
  FaultInjectingClient faults(&mem_);
  faults.SetFault(S3Op::kGetObject, {.error = Status(Code::kNetwork, "reset")});
  auto reader = Open(&faults, "k");
  EXPECT_EQ(ReadSync(*reader, 0, 4096).status().code(), Code::kNetwork);
  faults.ClearFaults();
  auto r = ReadSync(*reader, 0, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(0, 4096));
}

TEST_P(ObjectReaderTest, FirstReadAnsweredFromPartialData) {
  std::string data = Pattern(4 << 20);
  mem_.Put("k", data);
  GatedClient gate(&mem_);
  auto reader = Open(&gate, "k", ReaderOptions{.read_part_size = 1 << 20});
  gate.Gate(true);
  std::promise<Result<ReadData>> p;
  reader->Read(0, 128 * kKiB, [&](Result<ReadData> r) { p.set_value(std::move(r)); });
  gate.WaitHeld(1);
  EXPECT_EQ(gate.gets().size(), 0u);  // nothing released yet
  gate.DeliverPartial(128 * kKiB);    // the reply goes out from this progress callback
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(0, 128 * kKiB));
  gate.Gate(false);
}

// A network for the window tests: GETs are held until a read waits; then the oldest one
// is delivered and the fake clock advances by its length over the aggregate throughput,
// `per_get` bytes/s for each GET in flight up to `limit` (the server's or the link's).
struct ModelNetwork {
  double per_get;
  double limit;
};

// Reads sequentially in 16 KiB reads over `net`; returns the most bytes ever requested
// ahead of the reader.
uint64_t StreamOver(ObjectReader& reader, GatedClient& gate, FakeClock& clock,
                    const std::string& data, ModelNetwork net) {
  uint64_t most_ahead = 0;
  gate.Gate(true);
  for (uint64_t off = 0; off < data.size(); off += 16 * kKiB) {
    std::promise<Result<ReadData>> p;
    auto f = p.get_future();
    reader.Read(off, 16 * kKiB, [&](Result<ReadData> r) { p.set_value(std::move(r)); });
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (gate.held() > 0) {
        double rate = std::min(net.per_get * static_cast<double>(gate.held()), net.limit);
        clock.Advance(std::chrono::nanoseconds(
            static_cast<int64_t>(static_cast<double>(gate.FrontLength()) / rate * 1e9)));
        const size_t completed = gate.gets_completed();
        gate.ReleaseOne();
        gate.WaitGetsCompleted(completed + 1);  // async completions: before the next one
      } else {
        f.wait();
      }
    }
    auto r = f.get();
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(Flatten(*r), data.substr(off, 16 * kKiB));
    uint64_t end = 0;  // requested = released (recorded) + held
    for (const auto& g : gate.gets()) end = std::max(end, g.offset + g.length);
    uint64_t held_bytes = gate.held() * kPart;  // held GETs are at most a part each
    most_ahead = std::max(most_ahead, end + held_bytes - (off + 16 * kKiB));
  }
  gate.Gate(false);
  return most_ahead;
}

constexpr double kMiBps = 1 << 20;

TEST_P(ObjectReaderTest, WindowGrowsWhileMoreGetsRaiseThroughput) {
  std::string data = Pattern(64 * kPart);
  mem_.Put("k", data);
  GatedClient gate(&mem_);
  FakeClock clock;
  ReaderOptions o = SmallParts();
  o.clock = &clock;
  auto reader = Open(&gate, "k", o);
  // Each GET brings 1 MiB/s and nothing else limits: every doubling pays.
  uint64_t ahead = StreamOver(*reader, gate, clock, data, {1 * kMiBps, 1e6 * kMiBps});
  EXPECT_GT(ahead, 6 * kPart);                   // it grew to the maximum (8 parts)
  EXPECT_LE(ahead, o.max_window_bytes + kPart);  // and no further
}

TEST_P(ObjectReaderTest, WindowStopsGrowingWhenThroughputDoesNot) {
  std::string data = Pattern(64 * kPart);
  mem_.Put("k", data);
  GatedClient gate(&mem_);
  FakeClock clock;
  ReaderOptions o = SmallParts();
  o.clock = &clock;
  auto reader = Open(&gate, "k", o);
  // Two GETs in flight saturate the server: a doubling past that does not pay and is
  // undone (and tried again after kWindowProbeEpochs); 8 parts are never reached.
  uint64_t ahead = StreamOver(*reader, gate, clock, data, {1 * kMiBps, 2 * kMiBps});
  EXPECT_GT(ahead, 2 * kPart);  // it did try a doubling
  EXPECT_LE(ahead, 5 * kPart);
}

// Each GET takes a fixed time to first byte plus its length at a per-connection rate, and
// the server has no other limit (S3 over a long path): the added GETs of a doubling
// arrive late, yet every doubling pays and the window reaches its maximum.
TEST_P(ObjectReaderTest, WindowGrowsOnAHighLatencyNetwork) {
  std::string data = Pattern(64 * kPart);
  mem_.Put("k", data);
  GatedClient gate(&mem_);
  FakeClock clock;
  ReaderOptions o = SmallParts();
  o.clock = &clock;
  auto reader = Open(&gate, "k", o);
  const auto ttfb = std::chrono::milliseconds(30);
  const auto transfer = std::chrono::milliseconds(10);        // a part at the per-connection rate
  std::deque<std::chrono::steady_clock::time_point> done_at;  // of the held GETs, in order
  uint64_t most_ahead = 0;
  gate.Gate(true);
  for (uint64_t off = 0; off < data.size(); off += 16 * kKiB) {
    std::promise<Result<ReadData>> p;
    auto f = p.get_future();
    reader->Read(off, 16 * kKiB, [&](Result<ReadData> r) { p.set_value(std::move(r)); });
    while (done_at.size() < gate.held()) done_at.push_back(clock.Monotonic() + ttfb + transfer);
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ASSERT_GT(gate.held(), 0u);
      if (done_at.front() > clock.Monotonic()) clock.Advance(done_at.front() - clock.Monotonic());
      done_at.pop_front();
      const size_t completed = gate.gets_completed();
      gate.ReleaseOne();
      gate.WaitGetsCompleted(completed + 1);
    }
    ASSERT_TRUE(f.get().ok());
    most_ahead = std::max<uint64_t>(most_ahead, gate.held() * kPart);
  }
  gate.Gate(false);
  EXPECT_GE(most_ahead, 7 * kPart);  // 8 parts in flight at the maximum window
}

// Inline completions: every GET is complete when issued, so after the first read no read
// waits, and the window stays at its first doubling (the first read waited).
TEST(ObjectReaderWindowTest, WindowStaysSmallWhenTheNetworkOutpacesTheReader) {
  MemoryBudget budget(64 << 20);
  BufferPool pool(&budget);
  MemoryObjectClient mem(MemoryObjectClient::Options{.async = false});
  std::string data = Pattern(64 * kPart);
  mem.Put("k", data);
  RecordingClient rec(&mem);
  FakeClock clock;
  ReaderOptions o = SmallParts();
  o.clock = &clock;
  ObjectReader reader(&rec, &pool, o, "k", mem.Info("k")->etag, data.size());
  uint64_t most_ahead = 0;
  for (uint64_t off = 0; off < data.size(); off += 16 * kKiB) {
    auto r = ReadSync(reader, off, 16 * kKiB);
    ASSERT_TRUE(r.ok());
    uint64_t end = 0;
    for (const auto& g : rec.gets()) end = std::max(end, g.offset + g.length);
    most_ahead = std::max(most_ahead, end - (off + 16 * kKiB));
    clock.Advance(std::chrono::milliseconds(1));  // the reader's own pace
  }
  EXPECT_LE(most_ahead, 3 * kPart);  // 2 parts, plus what the last GET brought past them
}

TEST_P(ObjectReaderTest, WindowBoundedByBudget) {
  std::string data = Pattern(64 * kPart);
  mem_.Put("k", data);
  GatedClient gate(&mem_);
  MemoryBudget budget(3 * kPart);
  BufferPool pool(&budget);
  FakeClock clock;
  ReaderOptions o = SmallParts();
  o.clock = &clock;
  {
    auto reader = Open(&gate, "k", o, &pool);
    StreamOver(*reader, gate, clock, data, {1 * kMiBps, 1e6 * kMiBps});
  }
  EXPECT_LE(budget.peak(), 3 * kPart);
}

TEST_P(ObjectReaderTest, ManyReadersStayWithinBudget) {
  constexpr int kReaders = 8;
  constexpr uint64_t kLimit = 8 * kPart;
  constexpr uint64_t kRead = 16 * kKiB;
  MemoryBudget budget(kLimit);
  BufferPool pool(&budget);
  std::vector<std::string> data;
  for (int i = 0; i < kReaders; ++i) {
    data.push_back(Pattern(16 * kPart, i));
    mem_.Put("k" + std::to_string(i), data.back());
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back([&, i] {
      auto reader = Open(&mem_, "k" + std::to_string(i), SmallParts(), &pool);
      std::string got;
      for (uint64_t off = 0; off < data[i].size(); off += kRead) {
        auto r = ReadSync(*reader, off, kRead);
        ASSERT_TRUE(r.ok());
        got += Flatten(*r);
      }
      EXPECT_EQ(got, data[i]);
    });
  }
  for (auto& t : threads) t.join();
  // Only a reader refused even one buffer goes over, by its read (see memory_budget.h);
  // the previous read's buffer may still be held for a moment by the client's callback.
  EXPECT_LE(budget.peak(), kLimit + 2 * kReaders * kRead);
}

TEST_P(ObjectReaderTest, ConcurrentReadsOnOneReader) {
  constexpr int kThreads = 4;
  constexpr uint64_t kRead = 16 * kKiB;
  std::string data = Pattern(32 * kPart + 5);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = t * kRead; off < data.size(); off += kThreads * kRead) {
        auto r = ReadSync(*reader, off, kRead);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_EQ(Flatten(*r), data.substr(off, kRead));
      }
    });
  }
  for (auto& t : threads) t.join();
}

TEST_P(ObjectReaderTest, SlightlyReorderedReadsStaySequential) {
  constexpr uint64_t kRead = 16 * kKiB;
  std::string data = Pattern(16 * kPart);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  ASSERT_TRUE(ReadSync(*reader, 0, kRead).ok());
  for (uint64_t off = kRead; off + 2 * kRead <= data.size(); off += 2 * kRead) {
    auto second = ReadSync(*reader, off + kRead, kRead);  // the later one first
    auto first = ReadSync(*reader, off, kRead);
    ASSERT_TRUE(second.ok() && first.ok());
    EXPECT_EQ(Flatten(*first) + Flatten(*second), data.substr(off, 2 * kRead));
  }
  EXPECT_LE(rec.gets().size(), 16u + 2u);
}

// The kernel sends a file's first readahead requests together (1 MiB each), and the second
// can reach the reader first: the stream still starts at 0, and no byte is fetched twice.
TEST_P(ObjectReaderTest, AReadaheadThatOvertookTheFirstReadStartsTheStreamAtZero) {
  constexpr uint64_t kMiB = 1 << 20;
  std::string data = Pattern(4 * kMiB);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader =
      Open(&rec, "k",
           ReaderOptions{.read_part_size = 2 * kMiB, .first_request_bytes = kFirstRequestBytes});
  auto second = ReadSync(*reader, kMiB, kMiB);
  auto first = ReadSync(*reader, 0, kMiB);
  ASSERT_TRUE(second.ok() && first.ok());
  EXPECT_EQ(Flatten(*first) + Flatten(*second), data.substr(0, 2 * kMiB));
  EXPECT_EQ(ReadInSteps(*reader, data.size(), kMiB), data);
  auto gets = rec.gets();
  ASSERT_FALSE(gets.empty());
  EXPECT_EQ(gets[0].offset, 0u);
  EXPECT_EQ(gets[0].length, kFirstRequestBytes);
  uint64_t fetched = 0;
  for (const auto& g : gets) fetched += g.length;
  EXPECT_EQ(fetched, data.size());  // each byte once
  EXPECT_EQ(gets.size(), 3u);       // the first request, the rest of part 1, part 2
}

// Only a handle's first read is taken for an overtaking readahead: a read that finds no
// stream later (here after a failed GET dropped it) is fetched where it is.
TEST_P(ObjectReaderTest, OnlyTheFirstReadCanStartTheStreamAtZero) {
  constexpr uint64_t kMiB = 1 << 20;
  std::string data = Pattern(4 * kMiB);
  mem_.Put("k", data);
  FaultInjectingClient faults(&mem_);
  RecordingClient rec(&faults);
  auto reader = Open(&rec, "k", ReaderOptions{.read_part_size = 2 * kMiB});
  faults.SetFault(S3Op::kGetObject, {.error = Status(Code::kNetwork, "reset")});
  EXPECT_EQ(ReadSync(*reader, 0, 4096).status().code(), Code::kNetwork);
  faults.ClearFaults();
  auto r = ReadSync(*reader, kMiB, kMiB);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Flatten(*r), data.substr(kMiB, kMiB));
  ASSERT_FALSE(rec.gets().empty());
  EXPECT_EQ(rec.gets().back().offset, kMiB);  // the failed stream's GETs came before it
}

// Many buffered readers at once make the kernel's readahead requests arrive several MiB
// out of order; a part is kept until all of it was read, however far the stream has gone
// past it (here 1.5 MiB, more than kBackwardSeekBytes), so the late read needs no GET.
TEST_P(ObjectReaderTest, ReadsArrivingMiBsLateCostNoGet) {
  constexpr uint64_t kRead = kPart;
  constexpr uint64_t kLate = 8 * kPart;  // the read that comes last
  std::string data = Pattern(40 * kPart);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  for (uint64_t off = 0; off < kLate + kRead + kBackwardSeekBytes + kBackwardSeekBytes / 2;
       off += kRead) {
    if (off == kLate) continue;
    auto r = ReadSync(*reader, off, kRead);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Flatten(*r), data.substr(off, kRead));
  }
  const size_t before = rec.gets().size();
  auto late = ReadSync(*reader, kLate, kRead);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(Flatten(*late), data.substr(kLate, kRead));
  EXPECT_EQ(rec.gets().size(), before);
}

// A read just past what was requested (a readahead request that overtook the one before
// it) is fetched through, not a restart: the one it overtook then needs no GET of its own.
TEST_P(ObjectReaderTest, ASmallForwardSkipIsFetchedThrough) {
  std::string data = Pattern(16 * kPart);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  ASSERT_TRUE(ReadSync(*reader, 0, kFirst).ok());
  uint64_t requested = 0;  // the end of what the GETs so far cover
  for (const auto& g : rec.gets()) requested = std::max(requested, g.offset + g.length);
  auto ahead = ReadSync(*reader, requested + 16 * kKiB, 16 * kKiB);
  ASSERT_TRUE(ahead.ok());
  EXPECT_EQ(Flatten(*ahead), data.substr(requested + 16 * kKiB, 16 * kKiB));
  const size_t before = rec.gets().size();
  auto overtaken = ReadSync(*reader, requested, 16 * kKiB);
  ASSERT_TRUE(overtaken.ok());
  EXPECT_EQ(Flatten(*overtaken), data.substr(requested, 16 * kKiB));
  EXPECT_EQ(rec.gets().size(), before);
}

// What the reader skipped is not kept forever: once the stream is kReorderBytes past it,
// its buffer is released, and a read of it then costs a GET.
TEST_P(ObjectReaderTest, ASkippedPartIsLetGoOnceTheStreamIsFarPast) {
  constexpr uint64_t kSkipped = 8 * kPart;
  const uint64_t size = kSkipped + kPart + kReorderBytes + 4 * kPart;
  std::string data = Pattern(size);
  mem_.Put("k", data);
  RecordingClient rec(&mem_);
  auto reader = Open(&rec, "k");
  for (uint64_t off = 0; off < size; off += kPart) {
    if (off == kSkipped) continue;
    ASSERT_TRUE(ReadSync(*reader, off, kPart).ok());
  }
  const size_t before = rec.gets().size();
  auto late = ReadSync(*reader, kSkipped, kPart);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(Flatten(*late), data.substr(kSkipped, kPart));
  EXPECT_GT(rec.gets().size(), before);
}

INSTANTIATE_TEST_SUITE_P(Completions, ObjectReaderTest,
                         ::testing::Values(Gets::kInline, Gets::kAsync, Gets::kLent),
                         [](const auto& info) {
                           return info.param == Gets::kInline  ? "inline"
                                  : info.param == Gets::kAsync ? "async"
                                                               : "lent";
                         });

}  // namespace
}  // namespace s3m
