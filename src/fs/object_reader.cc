// ObjectReader: the per-handle prefetcher; see object_reader.h for the contract.
//
// One "stream" per handle: a deque of contiguous chunks (one ranged GET each) from the
// oldest retained byte to stream_end, the end of what was requested. A sequential stream
// keeps `window` bytes requested ahead of the furthest byte read (`consumed`); a random
// stream is the one aligned chunk of the last random read. The window is judged once per
// epoch (JudgeWindow, see object_reader.h). Reads that are not yet
// answerable wait in `pending` and are answered by the GET progress/completion callbacks.
// Thread-safety: everything below is GUARDED_BY(Impl::mu) except Chunk::arrived/waiters
// (atomics, so progress callbacks skip the lock when no read waits on their chunk).
// Lock order: Impl::mu, then BufferPool's and MemoryBudget's locks (buffers are taken,
// and dropped chunks' buffers released, under Impl::mu). A budget waiter's callback may
// thus run under Impl::mu; the only ones are BufferPool::Take's, which must not block.
#include "fs/object_reader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <list>
#include <mutex>
#include <optional>

#include "common/log.h"
#include "metrics/registry.h"

namespace s3m {
namespace {

struct Chunk {
  Chunk(uint64_t o, uint64_t l, std::shared_ptr<Buffer> b)
      : offset(o), length(l), buffer(std::move(b)) {}
  uint64_t end() const { return offset + length; }

  const uint64_t offset;
  const uint64_t length;
  const std::shared_ptr<Buffer> buffer;
  std::atomic<uint64_t> arrived{0};  // bytes in buffer (or lent) so far
  std::shared_ptr<const char> lent;  // GUARDED_BY(Impl::mu): the client's bytes, if it lent them
  std::atomic<int> waiters{0};       // pending reads that need this chunk
  // Set for stream GETs (AddChunk): when planned, and the stream's GETs in flight then.
  std::chrono::steady_clock::time_point issued;
  int in_flight_at_issue = 0;
  uint64_t read = 0;      // GUARDED_BY(Impl::mu): bytes of the reads planned on it
  bool finished = false;  // GUARDED_BY(Impl::mu)
  Status status;          // GUARDED_BY(Impl::mu)
};
using ChunkPtr = std::shared_ptr<Chunk>;

struct PendingRead {
  uint64_t offset, end;
  std::vector<ChunkPtr> chunks;
  std::function<void(Result<ReadData>)> done;
};

// The object a reader reads: replaced whole by a rename, so a read in progress keeps its own.
struct Source {
  std::string key;
  std::string etag;
};

using Reply = std::pair<std::function<void(Result<ReadData>)>, Result<ReadData>>;

// An epoch lasts at least this many parts: a throughput measured over one or two parts
// (a few ms on a fast link) is mostly the luck of when one GET finished.
constexpr uint64_t kEpochParts = 4;

uint64_t AlignDown(uint64_t x, uint64_t a) {
  return x / a * a;
}
uint64_t AlignUp(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

Status MapGetError(const Status& s) {
  if (s.code() == Code::kPreconditionFailed || s.code() == Code::kNotFound) {
    return Status(Code::kStale,
                  "the object changed or was deleted since the file was opened; reopen it "
                  "to read the new version (" +
                      s.ToString() + ")");
  }
  return s;
}

}  // namespace

struct ObjectReader::Impl : std::enable_shared_from_this<Impl> {
  Impl(ObjectClient* c, BufferPool* p, ReaderOptions o, std::string k, std::string e, uint64_t size)
      : client(c),
        pool(p),
        options(o),
        source(std::make_shared<const Source>(Source{std::move(k), std::move(e)})),
        object_size(size) {
    options.read_part_size = std::max<uint64_t>(options.read_part_size, 1);
    options.random_read_alignment = std::max<uint64_t>(options.random_read_alignment, 1);
    options.max_window_bytes = std::max(options.max_window_bytes, options.read_part_size);
    options.first_request_bytes = std::max<uint64_t>(options.first_request_bytes, 1);
  }

  void Read(uint64_t offset, uint64_t end, std::function<void(Result<ReadData>)> done);
  bool ReadNow(uint64_t offset, uint64_t end, std::function<void(Result<ReadData>)>& done);
  std::vector<ChunkPtr> Plan(uint64_t offset, uint64_t end, std::vector<ChunkPtr>* issue);
  bool OnStream(uint64_t offset) const;
  // Off the stream: a read that arrived late, just behind the retained data.
  bool ArrivedLate(uint64_t offset) const {
    return have_stream && sequential && offset < base() && offset + window >= base();
  }
  // Off the stream: a handle's first read, readahead-sized and within the first part.
  bool OvertookFirst(uint64_t offset, uint64_t end) const {
    return last_end == 0 && offset < options.read_part_size && end - offset >= kReadaheadBytes;
  }
  // A read that starts a random stream (Plan's Reset(offset, false)).
  bool StartsRandom(uint64_t offset, uint64_t end) const {
    return !OnStream(offset) && !ArrivedLate(offset) && !OvertookFirst(offset, end) &&
           offset != last_end;
  }
  std::shared_ptr<const Source> Current() {
    std::lock_guard l(source_mu);
    return source;
  }
  void Reset(uint64_t offset, bool sequential);
  void StartStream();  // sequential from `consumed`: the first window and epoch
  void StartEpoch();
  void JudgeWindow();
  uint64_t NextSequentialLength();
  ChunkPtr AddChunk(uint64_t length, bool required, uint64_t need_end);
  void Prefetch(std::vector<ChunkPtr>* issue);
  bool DropConsumed();
  void TrimBehind();
  void Issue(const std::vector<ChunkPtr>& chunks);
  void OnProgress(const ChunkPtr& c);
  void OnDone(const ChunkPtr& c, Result<GetObjectResult> r);
  void CollectReplies(std::vector<Reply>* out);
  // Brings options.window_gauge to this reader's `w` (requires mu).
  void ReportWindow(uint64_t w) {
    if (options.window_gauge == nullptr) return;
    options.window_gauge->Add(static_cast<int64_t>(w) - static_cast<int64_t>(reported_window));
    reported_window = w;
  }
  // Ready data, an error, or nullopt while bytes are still missing.
  std::optional<Result<ReadData>> TryAnswer(const PendingRead& r) const;
  uint64_t base() const { return chunks.empty() ? stream_end : chunks.front()->offset; }

  ObjectClient* const client;
  BufferPool* const pool;
  ReaderOptions options;
  // The object read: fixed but for a rename, which moves the reader to the copy (same
  // bytes). source_mu is a leaf lock.
  std::mutex source_mu;
  std::shared_ptr<const Source> source;  // GUARDED_BY(source_mu)
  const uint64_t object_size;

  std::mutex mu;
  std::deque<ChunkPtr> chunks;  // the stream, contiguous and ascending
  bool have_stream = false;
  bool sequential = false;
  bool first_request = false;  // the next sequential chunk is the first one
  uint64_t stream_end = 0;     // end of the requested range
  uint64_t consumed = 0;       // furthest byte read from the stream
  uint64_t window = 0;         // bytes to keep requested ahead of `consumed`
  // The current epoch (see object_reader.h): where it began, whether a read had to wait
  // for data in it; the throughput before the last doubling (parts/s, 0 if unknown); where
  // a doubling is in its trial; epochs left before the next doubling.
  uint64_t epoch_start = 0;
  bool waited = false;
  // Whole-part GETs that ended in the epoch: the sum of the stream's GETs in flight when
  // each was issued, and of their durations (see JudgeWindow).
  double get_parallel = 0, get_seconds = 0;
  int in_flight = 0;  // the stream's GETs (AddChunk's) not yet ended
  double last_rate = 0;
  enum class Trial { kNone, kWarming, kJudging } trial = Trial::kNone;
  int settled = 0;
  uint64_t last_end = 0;  // end of the previous read (pattern detection)
  Status stale;           // sticky once the object changed
  std::list<PendingRead> pending;
  uint64_t reported_window = 0;  // what window_gauge holds for this reader
};

bool ObjectReader::Impl::OnStream(uint64_t offset) const {
  if (!have_stream || offset < base()) return false;
  if (offset < stream_end) return true;
  // A small forward skip stays on a sequential stream; a random stream continues only
  // when the next read starts exactly where it ends.
  return sequential ? offset < stream_end + options.read_part_size : offset == stream_end;
}

void ObjectReader::Impl::Reset(uint64_t offset, bool seq) {
  chunks.clear();  // pending reads and replies keep their own references
  have_stream = true;
  sequential = seq;
  first_request = seq;
  stream_end = seq ? offset : AlignDown(offset, options.random_read_alignment);
  consumed = offset;
  window = 0;
  if (seq) StartStream();
}

void ObjectReader::Impl::StartStream() {
  window = options.read_part_size;
  last_rate = 0;
  trial = Trial::kNone;
  settled = 0;
  StartEpoch();
}

void ObjectReader::Impl::StartEpoch() {
  epoch_start = consumed;
  waited = false;
  get_parallel = get_seconds = 0;
}

// Ends an epoch. The stream's throughput is estimated from its GETs, not from its reads:
// by Little's law, GETs in flight / a GET's duration (parts per second). Reads measure it
// poorly: GETs issued together finish together, so an epoch of a few parts spans one
// burst of arrivals or two, by the luck of where its ends fall (a 2x error). A GET's
// duration against the GETs in flight shows what a doubling did: it stays the same while
// the network's latency is the limit (more GETs pay), and grows with the GETs in flight
// once the server or the link is saturated (they do not).
// A doubling is on trial for two epochs: the first lets the added GETs fill the pipeline,
// the second is compared with the epoch before the doubling; a doubling that did not
// raise throughput by kWindowGain is undone. An epoch in which no read waited ends a
// trial too: the larger window is enough. Otherwise the window doubles whenever a read
// waited, except for kWindowProbeEpochs epochs after an undo.
void ObjectReader::Impl::JudgeWindow() {
  const double rate = get_seconds > 0 ? get_parallel / get_seconds : 0;
  const uint64_t before = window;
  if (!waited) {
    trial = Trial::kNone;
  } else if (trial == Trial::kWarming) {
    trial = Trial::kJudging;
  } else if (trial == Trial::kJudging && rate > 0 && rate < last_rate * kWindowGain) {
    window = std::max(options.read_part_size, window / 2);  // more GETs did not pay
    settled = kWindowProbeEpochs;
    trial = Trial::kNone;
  } else if ((settled == 0 || --settled == 0) && window < options.max_window_bytes) {
    window = std::min(window * 2, options.max_window_bytes);
    // With no whole-part GET ended in this epoch there is no rate to judge the doubling by.
    trial = rate > 0 ? Trial::kWarming : Trial::kNone;
    last_rate = rate;
  } else {
    trial = Trial::kNone;
  }
  if (window != before) {
    S3M_TRACE_OP("read window: {} -> {} KiB at {:.0f} MiB/s", before >> 10, window >> 10,
                 rate * static_cast<double>(options.read_part_size) / (1 << 20));
  }
  StartEpoch();
}

// Appends a chunk at stream_end. A required chunk (a read needs it) falls back to a
// forced buffer of just [stream_end, need_end) when the budget refuses; an optional
// (prefetch) chunk is simply not made.
ChunkPtr ObjectReader::Impl::AddChunk(uint64_t length, bool required, uint64_t need_end) {
  length = std::min(length, object_size - stream_end);
  auto buffer = pool->TryTake(length);
  if (!buffer && DropConsumed()) buffer = pool->TryTake(length);
  if (!buffer) {
    if (!required) return nullptr;
    length = std::min(length, need_end - stream_end);
    buffer = pool->TakeForced(length);
  }
  auto c = std::make_shared<Chunk>(stream_end, length, std::move(buffer));
  c->issued = options.clock->Monotonic();
  c->in_flight_at_issue = ++in_flight;
  chunks.push_back(c);
  stream_end += length;
  return c;
}

// Under memory pressure the data kept for backward seeks goes first: drops the chunks
// wholly read (their buffers return to the budget unless a reply still holds them). One
// with reads still to come stays: dropping it would cost a GET per late read.
bool ObjectReader::Impl::DropConsumed() {
  bool dropped = false;
  while (!chunks.empty() && chunks.front()->end() <= consumed && chunks.front()->finished &&
         chunks.front()->read >= chunks.front()->length) {
    chunks.pop_front();
    dropped = true;
  }
  return dropped;
}

// The length of the next GET of a sequential stream: the small first request, then chunks
// that end on multiples of the part size, so each GET covers one part of an object
// uploaded with that part size (AWS's advice for ranged GETs; our own uploads and the
// AWS CLI's use 8 MiB parts). The chunk that realigns the stream after the first request
// takes in the next part when it would be under a quarter part: a tiny GET costs a
// whole request.
uint64_t ObjectReader::Impl::NextSequentialLength() {
  if (first_request) {
    first_request = false;
    return options.first_request_bytes;
  }
  const uint64_t part = options.read_part_size;
  uint64_t length = AlignDown(stream_end, part) + part - stream_end;
  if (length < part / 4) length += part;
  return length;
}

void ObjectReader::Impl::Prefetch(std::vector<ChunkPtr>* issue) {
  const uint64_t target = std::min(object_size, consumed + window);
  while (stream_end < target) {
    auto c = AddChunk(NextSequentialLength(), /*required=*/false, 0);
    if (!c) {
      // Refused: the window shrinks to what this stream already holds.
      window = std::max(options.read_part_size, stream_end - consumed);
      return;
    }
    issue->push_back(std::move(c));
  }
}

// Decides where [offset, end) comes from (requires mu): returns the chunks covering it
// and appends those to request to `issue`.
std::vector<ChunkPtr> ObjectReader::Impl::Plan(uint64_t offset, uint64_t end,
                                               std::vector<ChunkPtr>* issue) {
  if (!OnStream(offset)) {
    if (ArrivedLate(offset)) {
      // A read that arrived late, just behind the retained data: fetch it alone and
      // leave the stream alone.
      auto buffer = pool->TryTake(end - offset);
      if (!buffer) buffer = pool->TakeForced(end - offset);
      auto c = std::make_shared<Chunk>(offset, end - offset, std::move(buffer));
      issue->push_back(c);
      return {c};
    }
    if (OvertookFirst(offset, end)) {
      // A handle's first read, readahead-sized and within the first part, is most often a
      // readahead request that overtook the read at 0 (the kernel sends a file's first
      // ones together): the stream starts at 0, so the reads before it need no GETs of
      // their own. A random reader with large reads pays at most the first part for it.
      Reset(0, /*sequential=*/true);
    } else {
      Reset(offset, /*sequential=*/offset == last_end);
    }
  } else if (!sequential && offset == stream_end) {
    sequential = first_request = true;  // a random read continued: now a stream
    StartStream();
  }
  // A small forward skip (under a part) is fetched through: it is most often a readahead
  // request that overtook the one before it, and the GET covers that part anyway.
  last_end = end;
  while (stream_end < end) {
    uint64_t length =
        sequential ? NextSequentialLength() : AlignUp(end, options.random_read_alignment) - stream_end;
    issue->push_back(AddChunk(length, /*required=*/true, end));
  }
  std::vector<ChunkPtr> need;
  for (const auto& c : chunks) {
    if (c->end() > offset && c->offset < end) need.push_back(c);
  }
  if (sequential) {
    consumed = std::max(consumed, end);
    const ChunkPtr& last = need.back();
    if (last->arrived.load() < end - last->offset) waited = true;  // ahead of the network
    if (consumed - epoch_start >= std::max(window, kEpochParts * options.read_part_size)) {
      JudgeWindow();
    }
    Prefetch(issue);
  }
  for (const auto& c : need) c->read += std::min(end, c->end()) - std::max(offset, c->offset);
  TrimBehind();
  return need;
}

// Drops the chunks the reader is done with (requires mu). The kernel's readahead requests
// reach the workers out of order, by several MiB when many files are read at once (16
// buffered readers at the default readahead: reads up to 7 MiB behind the furthest one),
// so a chunk is kept until all of it was read, and kBackwardSeekBytes longer for backward
// seeks; one the reader skipped parts of goes once the stream is kReorderBytes (or the
// window, if larger) past it.
void ObjectReader::Impl::TrimBehind() {
  while (!chunks.empty()) {
    const Chunk& c = *chunks.front();
    uint64_t keep = c.read >= c.length ? kBackwardSeekBytes : std::max(window, kReorderBytes);
    if (c.end() + keep > consumed) break;
    chunks.pop_front();
  }
}

std::optional<Result<ReadData>> ObjectReader::Impl::TryAnswer(const PendingRead& r) const {
  ReadData data;
  for (const auto& c : r.chunks) {
    if (c->finished && !c->status.ok()) return Result<ReadData>(c->status);
    const uint64_t lo = std::max(r.offset, c->offset);
    const uint64_t hi = std::min(r.end, c->end());
    if (c->arrived.load() < hi - c->offset) return std::nullopt;
    const char* base = c->lent ? c->lent.get() : c->buffer->data();
    data.iov.push_back(iovec{const_cast<char*>(base) + (lo - c->offset), hi - lo});
    if (c->lent) {
      data.keep.push_back(c->lent);
    } else {
      data.keep.push_back(c->buffer);
    }
    data.size += hi - lo;
  }
  return Result<ReadData>(std::move(data));
}

void ObjectReader::Impl::Read(uint64_t offset, uint64_t end,
                              std::function<void(Result<ReadData>)> done) {
  if (options.ask_cache_first && ReadNow(offset, end, done)) return;
  std::vector<ChunkPtr> issue;
  std::optional<Result<ReadData>> answer;
  {
    std::lock_guard l(mu);
    if (!stale.ok()) {
      answer = Result<ReadData>(stale);
    } else {
      PendingRead r{offset, end, Plan(offset, end, &issue), nullptr};
      answer = TryAnswer(r);
      if (!answer) {
        for (const auto& c : r.chunks) c->waiters++;
        r.done = std::move(done);
        pending.push_back(std::move(r));
      }
    }
    ReportWindow(window);
  }
  Issue(issue);  // completions may answer the pending read before this returns
  if (answer) done(std::move(*answer));
}

// A read that would start a random stream, answered at once if the client has its bytes
// at hand (a --cache hit): no chunk, no GET. No chunk is kept either: a read continuing it
// (at its end, or at the end of its last page) starts a stream, as after a fetched random
// read; any other read is planned afresh (a re-read of the same page asks the cache again).
bool ObjectReader::Impl::ReadNow(uint64_t offset, uint64_t end,
                                 std::function<void(Result<ReadData>)>& done) {
  {
    std::lock_guard l(mu);
    if (!stale.ok() || !StartsRandom(offset, end)) return false;
    Reset(offset, /*sequential=*/false);
    stream_end = AlignUp(end, options.random_read_alignment);
    last_end = end;
    ReportWindow(window);
  }
  auto buffer = pool->TryTake(end - offset);
  if (buffer == nullptr) return false;
  auto src = Current();
  auto got = client->GetNow(GetNowParams{src->key, src->etag, offset, end - offset, buffer->data()});
  if (!got) return false;  // Read goes on as if this was not tried
  if (*got < end - offset) {
    done(Status(Code::kIo, "short read: the object is shorter than when opened"));
    return true;
  }
  ReadData data;
  data.iov.push_back(iovec{buffer->data(), *got});
  data.keep.push_back(std::move(buffer));
  data.size = *got;
  done(std::move(data));
  return true;
}

void ObjectReader::Impl::Issue(const std::vector<ChunkPtr>& to_issue) {
  if (to_issue.empty()) return;
  auto src = Current();
  for (const auto& c : to_issue) {
    GetObjectParams p;
    p.key = src->key;
    p.offset = c->offset;
    p.length = c->length;
    p.if_match = src->etag;
    p.buffer = c->buffer->data();
    p.buffer_owner = c->buffer;
    p.accept_lent = true;
    p.on_progress = [self = shared_from_this(), c](uint64_t bytes) {
      c->arrived.store(std::min(bytes, c->length));
      if (c->waiters.load() > 0) self->OnProgress(c);
    };
    client->GetObject(std::move(p),
                      [self = shared_from_this(), c](auto r) { self->OnDone(c, std::move(r)); });
  }
}

void ObjectReader::Impl::CollectReplies(std::vector<Reply>* out) {
  for (auto it = pending.begin(); it != pending.end();) {
    auto answer = TryAnswer(*it);
    if (!answer) {
      ++it;
      continue;
    }
    for (const auto& c : it->chunks) c->waiters--;
    out->emplace_back(std::move(it->done), std::move(*answer));
    it = pending.erase(it);
  }
}

void ObjectReader::Impl::OnProgress(const ChunkPtr&) {
  std::vector<Reply> replies;
  {
    std::lock_guard l(mu);
    CollectReplies(&replies);
  }
  for (auto& [done, r] : replies) done(std::move(r));
}

void ObjectReader::Impl::OnDone(const ChunkPtr& c, Result<GetObjectResult> r) {
  std::vector<Reply> replies;
  {
    std::lock_guard l(mu);
    c->finished = true;
    if (r.ok() && r->bytes < c->length) {
      c->status = Status(Code::kIo, "short read: the object is shorter than when opened");
    } else if (!r.ok()) {
      c->status = MapGetError(r.status());
      if (c->status.code() == Code::kStale) stale = c->status;
    }
    if (r.ok()) {
      // Before `arrived` says the bytes are there. A chunk with lent bytes keeps its unused
      // buffer, so the budget counts the stream as it does with the network.
      c->lent = std::move(r->lent);
      c->arrived.store(std::min(r->bytes, c->length));
    }
    if (c->in_flight_at_issue > 0) {
      --in_flight;
      if (c->status.ok() && c->length >= options.read_part_size) {
        get_parallel += c->in_flight_at_issue;
        get_seconds +=
            std::chrono::duration<double>(options.clock->Monotonic() - c->issued).count();
      }
    }
    if (!c->status.ok()) {
      chunks.clear();  // drop the stream: a later read starts afresh (and retries)
      have_stream = false;
    }
    CollectReplies(&replies);
  }
  for (auto& [done, res] : replies) done(std::move(res));
}

ObjectReader::ObjectReader(ObjectClient* client, BufferPool* pool, ReaderOptions options,
                           std::string key, std::string etag, uint64_t object_size)
    : impl_(std::make_shared<Impl>(client, pool, options, std::move(key), std::move(etag),
                                   object_size)) {}

ObjectReader::~ObjectReader() {
  if (impl_ == nullptr) return;
  std::lock_guard l(impl_->mu);
  impl_->ReportWindow(0);  // a closed file prefetches no more
}

void ObjectReader::Read(uint64_t offset, uint64_t size,
                        std::function<void(Result<ReadData>)> done) {
  if (size == 0 || offset >= impl_->object_size) {
    done(ReadData{});  // at or past the end: no request
    return;
  }
  const uint64_t end = offset + std::min(size, impl_->object_size - offset);
  impl_->Read(offset, end, std::move(done));
}

void ObjectReader::Retarget(std::string key, std::string etag) {
  auto moved = std::make_shared<const Source>(Source{std::move(key), std::move(etag)});
  std::lock_guard l(impl_->source_mu);
  impl_->source = std::move(moved);
}

}  // namespace s3m
