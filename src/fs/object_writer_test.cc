// Tests of ObjectWriter over MemoryObjectClient (inline and async completions), with
// fault injection and a gated client to observe parallel uploads.
#include "fs/object_writer.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "fs/test_clients.h"
#include "s3/fault_injecting_client.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kPart = kMinPartSize;  // the smallest legal part keeps tests small

std::string Pattern(uint64_t size) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + i / 4099) & 0xff);
  return s;
}

Result<ObjectInfo> FinishAndWait(ObjectWriter& w) {
  return Wait<ObjectInfo>([&](auto cb) { w.Finish(cb); });
}

// Compares large contents without gtest's diff of the two strings, which is quadratic and
// takes minutes on megabytes: reports the sizes and the first differing offset instead.
::testing::AssertionResult SameBytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) i++;
  return ::testing::AssertionFailure() << "contents differ: got " << got.size() << " bytes, want "
                                       << want.size() << ", first difference at offset " << i;
}

// Writes `data` in `chunk`-sized calls; returns the first error.
Status WriteAll(ObjectWriter& w, const std::string& data, uint64_t chunk) {
  for (uint64_t off = 0; off < data.size(); off += chunk) {
    uint64_t n = std::min<uint64_t>(chunk, data.size() - off);
    auto r = w.Write(off, data.data() + off, n);
    if (!r.ok()) return r.status();
    EXPECT_EQ(*r, n);
  }
  return Status::Ok();
}

class ObjectWriterTest : public ::testing::TestWithParam<bool> {
 protected:
  ObjectWriterTest() : mem_(MemoryObjectClient::Options{.async = GetParam()}) {}
  WriterOptions Options() { return WriterOptions{.write_part_size = kPart}; }

  // The pool outlives the client, whose destructor runs queued completions.
  MemoryBudget budget_{64 * kMiB};
  BufferPool pool_{&budget_};
  MemoryObjectClient mem_;
};

TEST_P(ObjectWriterTest, SmallObjectsUseOnePutObject) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, kPart - 1, kPart}) {
    mem_.ResetCounts();
    std::string data = Pattern(size);
    ObjectWriter w(&mem_, &pool_, Options(), "small");
    ASSERT_TRUE(WriteAll(w, data, 128 * 1024).ok());
    EXPECT_EQ(w.bytes_written(), size);
    auto r = FinishAndWait(w);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->size, size);
    EXPECT_EQ(r->etag, mem_.Info("small")->etag);
    EXPECT_EQ(*mem_.Contents("small"), data) << size;
    EXPECT_EQ(mem_.Count(S3Op::kPutObject), 1u);
    EXPECT_EQ(mem_.Count(S3Op::kCreateMultipartUpload), 0u);
  }
  pool_.Trim();
  EXPECT_EQ(budget_.used(), 0u);
}

TEST_P(ObjectWriterTest, SeveralPartsUploadedAsMultipart) {
  std::string data = Pattern(3 * kPart + 12345);
  RecordingClient rec(&mem_);
  ObjectWriter w(&rec, &pool_, Options(), "big");
  ASSERT_TRUE(WriteAll(w, data, 1000 * 1000).ok());  // chunks not aligned to parts
  auto r = FinishAndWait(w);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size, data.size());
  EXPECT_TRUE(SameBytes(*mem_.Contents("big"), data));
  EXPECT_EQ(mem_.Count(S3Op::kCreateMultipartUpload), 1u);
  EXPECT_EQ(mem_.Count(S3Op::kUploadPart), 4u);
  EXPECT_EQ(mem_.Count(S3Op::kCompleteMultipartUpload), 1u);
  EXPECT_EQ(mem_.Count(S3Op::kPutObject), 0u);
  EXPECT_EQ(mem_.PendingUploads(), 0u);
  for (auto c : rec.part_checksums()) EXPECT_EQ(c, ChecksumAlgorithm::kCrc32c);
}

TEST_P(ObjectWriterTest, NonSequentialWriteRejected) {
  ObjectWriter w(&mem_, &pool_, Options(), "k");
  ASSERT_TRUE(w.Write(0, "abc", 3).ok());
  auto r = w.Write(10, "x", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  r = w.Write(1, "x", 1);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(FinishAndWait(w).ok());
  EXPECT_EQ(*mem_.Contents("k"), "abc");
}

TEST_P(ObjectWriterTest, UploadPartFailureAbortsAndIsReported) {
  FaultInjectingClient faults(&mem_);
  faults.SetFault(S3Op::kUploadPart,
                  {.error = Status(Code::kServerError, "injected"), .skip = 1, .times = 1});
  std::string data = Pattern(4 * kPart);
  ObjectWriter w(&faults, &pool_, Options(), "k");
  Status s = WriteAll(w, data, kMiB);
  if (!GetParam()) {  // inline completions: the error is known, and sticky, at once
    EXPECT_EQ(s.code(), Code::kServerError);
  }
  auto r = FinishAndWait(w);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kServerError);
  EXPECT_EQ(r.status().message(), "injected");
  EXPECT_EQ(mem_.Count(S3Op::kAbortMultipartUpload), 1u);
  EXPECT_EQ(mem_.Count(S3Op::kCompleteMultipartUpload), 0u);
  EXPECT_FALSE(mem_.Contents("k").has_value());
  // Later writes report the error too.
  EXPECT_FALSE(w.Write(data.size(), "x", 1).ok());
}

TEST_P(ObjectWriterTest, CompleteFailureAborts) {
  FaultInjectingClient faults(&mem_);
  faults.SetFault(S3Op::kCompleteMultipartUpload, {.error = Status(Code::kNetwork, "reset")});
  std::string data = Pattern(2 * kPart + 1);
  ObjectWriter w(&faults, &pool_, Options(), "k");
  ASSERT_TRUE(WriteAll(w, data, kMiB).ok());
  auto r = FinishAndWait(w);
  EXPECT_EQ(r.status().code(), Code::kNetwork);
  // Abort is asynchronous and may still be in flight: wait for the upload to go.
  auto waited = Wait<Empty>([&](auto cb) { mem_.HeadBucket({}, cb); });
  EXPECT_TRUE(waited.ok());
  EXPECT_EQ(mem_.Count(S3Op::kAbortMultipartUpload), 1u);
  EXPECT_EQ(mem_.PendingUploads(), 0u);
}

TEST_P(ObjectWriterTest, PutObjectFailureReported) {
  FaultInjectingClient faults(&mem_);
  faults.SetFault(S3Op::kPutObject, {.error = Status(Code::kAccessDenied, "denied")});
  ObjectWriter w(&faults, &pool_, Options(), "k");
  ASSERT_TRUE(w.Write(0, "abc", 3).ok());
  EXPECT_EQ(FinishAndWait(w).status().code(), Code::kAccessDenied);
  EXPECT_EQ(mem_.Count(S3Op::kAbortMultipartUpload), 0u);
}

TEST_P(ObjectWriterTest, IfNoneMatchRefusesExisting) {
  mem_.Put("k", "old");
  WriterOptions o = Options();
  o.if_none_match = true;
  ObjectWriter w(&mem_, &pool_, o, "k");
  ASSERT_TRUE(w.Write(0, "new", 3).ok());
  EXPECT_EQ(FinishAndWait(w).status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(*mem_.Contents("k"), "old");
}

TEST_P(ObjectWriterTest, BudgetOfTwoPartsBoundsAWriterAllowedEight) {
  MemoryBudget budget(2 * kPart);
  BufferPool pool(&budget);
  WriterOptions o = Options();
  o.max_parts_in_flight = 8;
  std::string data = Pattern(8 * kPart + 7);
  ObjectWriter w(&mem_, &pool, o, "k");
  ASSERT_TRUE(WriteAll(w, data, 3 * kMiB).ok());
  auto r = FinishAndWait(w);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(SameBytes(*mem_.Contents("k"), data));
  EXPECT_LE(budget.peak(), 2 * kPart);
}

TEST_P(ObjectWriterTest, DestructorAbortsUnfinishedUpload) {
  {
    ObjectWriter w(&mem_, &pool_, Options(), "k");
    ASSERT_TRUE(WriteAll(w, Pattern(2 * kPart + 1), kMiB).ok());
  }
  auto waited = Wait<Empty>([&](auto cb) { mem_.HeadBucket({}, cb); });  // drains async
  EXPECT_TRUE(waited.ok());
  EXPECT_EQ(mem_.Count(S3Op::kAbortMultipartUpload), 1u);
  EXPECT_EQ(mem_.PendingUploads(), 0u);
  EXPECT_FALSE(mem_.Contents("k").has_value());
}

TEST_P(ObjectWriterTest, PartsUploadInParallelUpToTheLimit) {
  GatedClient gate(&mem_);
  WriterOptions o = Options();
  o.max_parts_in_flight = 3;
  std::string data = Pattern(5 * kPart);
  ObjectWriter w(&gate, &pool_, o, "k");
  gate.Gate(true);
  // Parts 1..3 go out as parts 2..4 start; the buffer for part 4 waits for a free slot.
  std::thread writer([&] { EXPECT_TRUE(w.Write(0, data.data(), data.size()).ok()); });
  gate.WaitHeld(3);
  EXPECT_EQ(gate.held(), 3u);
  gate.ReleaseOne();
  gate.WaitHeld(3);  // part 4 went out once part 1 finished
  EXPECT_EQ(gate.held(), 3u);
  gate.Gate(false);
  writer.join();
  auto r = FinishAndWait(w);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(SameBytes(*mem_.Contents("k"), data));
  EXPECT_LE(gate.peak_uploads(), 3);
}

// Regression: Finish() once marked the upload finishing before it counted the last part
// as in flight, so a part completing in between saw nothing in flight and completed the
// upload without the last part, and close() reported a truncated object as stored. The
// hook completes part 1 exactly there (inline completions, so it is done when the hook
// returns).
TEST(ObjectWriterFinishTest, PartCompletingDuringFinishDoesNotDropTheLastPart) {
  MemoryBudget budget(64 * kMiB);
  BufferPool pool(&budget);
  MemoryObjectClient mem(MemoryObjectClient::Options{.async = false});
  GatedClient gate(&mem);
  WriterOptions o{.write_part_size = kPart};
  int hook_runs = 0;
  o.finish_hook_for_test = [&] {
    hook_runs++;
    gate.ReleaseOne();  // part 1, held since the write filled it
  };
  std::string data = Pattern(kPart + 12345);
  ObjectWriter w(&gate, &pool, o, "k");
  gate.Gate(true);
  ASSERT_TRUE(w.Write(0, data.data(), data.size()).ok());
  ASSERT_EQ(gate.held(), 1u);
  std::promise<Result<ObjectInfo>> finished;
  w.Finish([&](Result<ObjectInfo> r) { finished.set_value(std::move(r)); });
  EXPECT_EQ(hook_runs, 1);
  gate.Gate(false);  // the last part
  auto r = finished.get_future().get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size, data.size());
  EXPECT_TRUE(SameBytes(*mem.Contents("k"), data));
  EXPECT_EQ(mem.Count(S3Op::kUploadPart), 2u);
}

TEST_P(ObjectWriterTest, InvalidPartSizeRejected) {
  WriterOptions o = Options();
  o.write_part_size = 4 * kMiB;
  EXPECT_EQ(ObjectWriter::ValidateOptions(o).code(), Code::kInvalidArgument);
  ObjectWriter w(&mem_, &pool_, o, "k");
  EXPECT_EQ(w.Write(0, "a", 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(FinishAndWait(w).status().code(), Code::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Completions, ObjectWriterTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "async" : "inline"; });

TEST(WritePartSizeTest, GrowsEveryThousandPartsAndCoversFiveTiB) {
  constexpr uint64_t kBase = 8 * kMiB;
  EXPECT_EQ(WritePartSize(kBase, 1), kBase);
  EXPECT_EQ(WritePartSize(kBase, 1000), kBase);
  EXPECT_EQ(WritePartSize(kBase, 1001), 2 * kBase);
  EXPECT_EQ(WritePartSize(kBase, 10000), kBase << 9);
  uint64_t total = 0;
  for (int n = 1; n <= kMaxParts; ++n) total += WritePartSize(kBase, n);
  EXPECT_GE(total, kMaxObjectSize);
  // Never above S3's 5 GiB part maximum.
  EXPECT_EQ(WritePartSize(kMaxPartSize, 9000), kMaxPartSize);
  EXPECT_EQ(WritePartSize(1024 * kMiB, 10000), kMaxPartSize);
  EXPECT_TRUE(ObjectWriter::ValidateOptions({.write_part_size = kBase}).ok());
}

}  // namespace
}  // namespace s3m
