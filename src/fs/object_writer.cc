// ObjectWriter: sequential writes into part buffers, parts uploaded in parallel; see
// object_writer.h for the contract. Thread-safety: Write/Finish/Abort come from one caller
// at a time (the writer thread); completions arrive on client threads. The part being
// filled (cur_) belongs to the writer thread; everything else is GUARDED_BY(mu_), a leaf
// lock never held across a client call, a budget wait or a user callback.
#include "fs/object_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <vector>

namespace s3m {

uint64_t WritePartSize(uint64_t base, int part_number) {
  const int step = (std::max(part_number, 1) - 1) / kPartsPerSizeStep;
  return std::min(base << step, std::max(base, kMaxPartSize));
}

Status ObjectWriter::ValidateOptions(const WriterOptions& o) {
  if (o.write_part_size < kMinPartSize || o.write_part_size > kMaxPartSize) {
    return Status(Code::kInvalidArgument,
                  fmt::format("--write-part-size {} is outside S3's part size limits; use a "
                              "value from 5 MiB to 5 GiB",
                              o.write_part_size));
  }
  if (o.max_parts_in_flight < 1) {
    return Status(Code::kInvalidArgument, "max_parts_in_flight must be at least 1");
  }
  return Status::Ok();
}

namespace {

struct Part {
  int number = 0;
  std::shared_ptr<Buffer> buffer;  // released as soon as the upload completes
  uint64_t size = 0;
};

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct ObjectWriter::Impl : std::enable_shared_from_this<Impl> {
  enum class State { kOpen, kFinishing, kCompleting, kAborted, kDone };

  Impl(ObjectClient* c, BufferPool* p, WriterOptions o, std::string k)
      : client(c),
        pool(p),
        options(std::move(o)),
        key(std::move(k)),
        invalid(ValidateOptions(options)) {}

  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size);
  void Finish(std::function<void(Result<ObjectInfo>)> done);
  void Abort();

  Status CheckWritable(uint64_t offset, uint64_t size);
  Status TakeBuffer();
  Status SubmitCurrent();
  void SendPart(std::shared_ptr<Part> part, const std::string& upload_id);
  void OnCreated(Result<CreateMultipartUploadResult> r);
  void OnPartDone(const std::shared_ptr<Part>& part, Result<UploadPartResult> r);
  void PutWhole();
  void Advance();
  void Complete(std::string upload_id, std::vector<CompletedPart> parts);
  void SendAbort(std::string upload_id);
  void Report(Result<ObjectInfo> r);
  void ReportStored(const std::string& etag);  // the object is complete in S3
  void SetErrorLocked(const Status& s) {
    if (error.ok()) error = s;
  }

  ObjectClient* const client;
  BufferPool* const pool;
  const WriterOptions options;
  const std::string key;
  const Status invalid;

  // The writer thread's part being filled.
  std::shared_ptr<Buffer> cur;
  uint64_t cur_fill = 0;
  uint64_t cur_size = 0;  // this part's size (WritePartSize)
  int next_part = 1;      // the number of the part being filled

  mutable std::mutex mu;
  std::condition_variable cv;                           // parts completing, errors
  State state = State::kOpen;                           // GUARDED_BY(mu)
  uint64_t written = 0;                                 // GUARDED_BY(mu)
  Status error;                                         // GUARDED_BY(mu): the first
  bool create_started = false;                          // GUARDED_BY(mu)
  bool create_done = false;                             // GUARDED_BY(mu)
  std::string upload_id;                                // GUARDED_BY(mu)
  std::vector<std::shared_ptr<Part>> queued;            // GUARDED_BY(mu): await the id
  int outstanding = 0;                                  // GUARDED_BY(mu)
  std::vector<CompletedPart> completed;                 // GUARDED_BY(mu)
  bool abort_sent = false;                              // GUARDED_BY(mu)
  std::function<void(Result<ObjectInfo>)> finish_done;  // GUARDED_BY(mu)
  Metadata metadata;                                    // GUARDED_BY(mu): the object's
};

Status ObjectWriter::Impl::CheckWritable(uint64_t offset, uint64_t size) {
  std::lock_guard l(mu);
  if (!invalid.ok()) return invalid;
  if (state != State::kOpen) {
    return Status(Code::kInvalidArgument, "write after the file was closed or aborted");
  }
  if (!error.ok()) return error;
  if (offset != written) {
    return Status(Code::kInvalidArgument,
                  fmt::format("non-sequential write at {} (expected {}): new objects are "
                              "written from start to end only",
                              offset, written));
  }
  if (written + size > kMaxObjectSize) {
    return Status(Code::kInvalidArgument, "the file would exceed S3's 5 TiB object limit");
  }
  return Status::Ok();
}

Result<uint64_t> ObjectWriter::Impl::Write(uint64_t offset, const char* data, uint64_t size) {
  if (Status s = CheckWritable(offset, size); !s.ok()) return s;
  uint64_t copied = 0;
  while (copied < size) {
    if (cur && cur_fill == cur_size) {  // full, and more data: now it is not the last part
      if (Status s = SubmitCurrent(); !s.ok()) return s;
    }
    if (!cur) {
      if (Status s = TakeBuffer(); !s.ok()) return s;
    }
    const uint64_t n = std::min(size - copied, cur_size - cur_fill);
    std::memcpy(cur->data() + cur_fill, data + copied, n);  // the one copy on this path
    cur_fill += n;
    copied += n;
  }
  std::lock_guard l(mu);
  written += size;
  return size;
}

// Waits for a free upload slot and then for the budget; never under mu.
Status ObjectWriter::Impl::TakeBuffer() {
  if (next_part > kMaxParts) {
    return Status(Code::kInvalidArgument,
                  "the file would exceed S3's 10,000 parts; raise --write-part-size");
  }
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return outstanding < options.max_parts_in_flight || !error.ok(); });
    if (!error.ok()) return error;
  }
  cur_size = WritePartSize(options.write_part_size, next_part);
  auto promise = std::make_shared<std::promise<std::shared_ptr<Buffer>>>();
  auto future = promise->get_future();
  pool->Take(cur_size, [promise](std::shared_ptr<Buffer> b) { promise->set_value(std::move(b)); });
  cur = future.get();
  cur_fill = 0;
  return Status::Ok();
}

Status ObjectWriter::Impl::SubmitCurrent() {
  auto part = std::make_shared<Part>(Part{next_part++, std::move(cur), cur_fill});
  cur_fill = 0;
  bool start_create = false;
  std::string id;
  {
    std::lock_guard l(mu);
    if (!error.ok()) return error;  // `part` (and its buffer) goes when we return
    outstanding++;
    if (upload_id.empty()) {
      queued.push_back(part);
      start_create = !create_started;
      create_started = true;
    } else {
      id = upload_id;
    }
  }
  if (start_create) {
    CreateMultipartUploadParams p{key, options.storage_class, options.checksum};
    {
      std::lock_guard l(mu);
      p.metadata = metadata;  // fixed from here on (SetMetadata refuses)
    }
    client->CreateMultipartUpload(
        std::move(p), [self = shared_from_this()](auto r) { self->OnCreated(std::move(r)); });
  } else if (!id.empty()) {
    SendPart(std::move(part), id);
  }
  return Status::Ok();
}

void ObjectWriter::Impl::SendPart(std::shared_ptr<Part> part, const std::string& id) {
  UploadPartParams p{key, id, part->number, part->buffer->data(), part->size, options.checksum};
  client->UploadPart(std::move(p), [self = shared_from_this(), part](auto r) {
    self->OnPartDone(part, std::move(r));
  });
}

void ObjectWriter::Impl::OnCreated(Result<CreateMultipartUploadResult> r) {
  std::vector<std::shared_ptr<Part>> parts;
  std::string id;
  bool send = false;
  {
    std::lock_guard l(mu);
    create_done = true;
    parts = std::move(queued);
    queued.clear();
    if (r.ok()) upload_id = r->upload_id;
    if (!r.ok()) SetErrorLocked(r.status());
    send = r.ok() && error.ok() && state != State::kAborted;
    if (!send) outstanding -= static_cast<int>(parts.size());
    id = upload_id;
  }
  cv.notify_all();
  if (send) {
    for (auto& p : parts) SendPart(std::move(p), id);
  } else {
    parts.clear();  // releases their buffers, outside the lock
  }
  Advance();
}

void ObjectWriter::Impl::OnPartDone(const std::shared_ptr<Part>& part, Result<UploadPartResult> r) {
  {
    std::lock_guard l(mu);
    outstanding--;
    if (r.ok()) {
      completed.push_back(r->part);
      completed.back().part_number = part->number;
    } else {
      SetErrorLocked(r.status());
    }
  }
  part->buffer.reset();  // back to the pool/budget, waking a writer waiting for memory
  cv.notify_all();
  Advance();
}

// Decides what the upload does next once nothing is in flight: complete, abort, report.
void ObjectWriter::Impl::Advance() {
  std::string abort_id;
  bool complete = false, report_error = false;
  Status err;
  std::vector<CompletedPart> parts;
  {
    std::lock_guard l(mu);
    const bool create_pending = create_started && !create_done;
    if (outstanding > 0 || create_pending) return;
    const bool failed = !error.ok() || state == State::kAborted;
    if (failed && !upload_id.empty() && !abort_sent) {
      abort_sent = true;
      abort_id = upload_id;
    }
    if (state == State::kFinishing) {
      if (!error.ok()) {
        report_error = true;
        err = error;
      } else {
        complete = true;
        parts = completed;
        abort_id.clear();
      }
      state = State::kCompleting;
    }
  }
  if (!abort_id.empty()) SendAbort(abort_id);
  if (report_error) Report(err);
  if (complete) {
    std::sort(parts.begin(), parts.end(),
              [](const auto& a, const auto& b) { return a.part_number < b.part_number; });
    std::string id;
    {
      std::lock_guard l(mu);
      id = upload_id;
    }
    Complete(std::move(id), std::move(parts));
  }
}

void ObjectWriter::Impl::Complete(std::string id, std::vector<CompletedPart> parts) {
  CompleteMultipartUploadParams p{key, id, std::move(parts)};
  client->CompleteMultipartUpload(std::move(p), [self = shared_from_this(), id](auto r) {
    if (!r.ok()) {
      {
        std::lock_guard l(self->mu);
        self->SetErrorLocked(r.status());
        self->abort_sent = true;
      }
      self->SendAbort(id);
      self->Report(r.status());
      return;
    }
    self->ReportStored(r->etag);
  });
}

void ObjectWriter::Impl::SendAbort(std::string id) {
  // Best effort: a failed abort leaves an incomplete upload for a lifecycle rule to clean.
  client->AbortMultipartUpload({key, std::move(id)}, [](Result<Empty>) {});
}

void ObjectWriter::Impl::ReportStored(const std::string& etag) {
  uint64_t size;
  Metadata stored;
  {
    std::lock_guard l(mu);
    size = written;
    stored = metadata;
  }
  Report(ObjectInfo{key, size, etag, NowSeconds(), 0, options.storage_class, std::move(stored)});
}

void ObjectWriter::Impl::Report(Result<ObjectInfo> r) {
  std::function<void(Result<ObjectInfo>)> done;
  {
    std::lock_guard l(mu);
    state = State::kDone;
    done = std::move(finish_done);
  }
  if (done) done(std::move(r));
}

void ObjectWriter::Impl::PutWhole() {
  PutObjectParams p{key,
                    cur ? cur->data() : nullptr,
                    cur_fill,
                    options.storage_class,
                    options.checksum,
                    options.if_none_match};
  {
    std::lock_guard l(mu);
    p.metadata = metadata;
  }
  auto buffer = std::move(cur);
  cur_fill = 0;
  client->PutObject(std::move(p), [self = shared_from_this(), buffer](auto r) mutable {
    buffer.reset();
    if (!r.ok()) {
      {
        std::lock_guard l(self->mu);
        self->SetErrorLocked(r.status());
      }
      self->Report(r.status());
      return;
    }
    self->ReportStored(r->etag);
  });
}

void ObjectWriter::Impl::Finish(std::function<void(Result<ObjectInfo>)> done) {
  const Status closed(Code::kInvalidArgument, "the file was already closed or aborted");
  bool single = false;
  Status refuse;
  {
    std::lock_guard l(mu);
    if (!invalid.ok()) {
      refuse = invalid;
    } else if (state != State::kOpen) {
      refuse = closed;
    } else if (!create_started && error.ok()) {
      single = true;
      state = State::kFinishing;
      finish_done = std::move(done);
    }
  }
  if (!refuse.ok()) {
    done(refuse);
    return;
  }
  if (single) {
    PutWhole();
    return;
  }
  // The last part is counted in `outstanding` before the state says kFinishing: otherwise
  // the completion of the part before it could see nothing in flight and complete the
  // upload without the last part (a truncated object reported as stored).
  if (cur && cur_fill > 0) {
    (void)SubmitCurrent();  // an error is already sticky; Advance reports it
  }
  cur.reset();
  if (options.finish_hook_for_test) options.finish_hook_for_test();
  {
    std::lock_guard l(mu);
    if (state != State::kOpen) {
      refuse = closed;  // aborted meanwhile: the abort owns the upload
    } else {
      state = State::kFinishing;
      finish_done = std::move(done);
    }
  }
  if (!refuse.ok()) {
    done(refuse);
    return;
  }
  Advance();
}

void ObjectWriter::Impl::Abort() {
  {
    std::lock_guard l(mu);
    if (state != State::kOpen) return;  // finishing or done: Finish owns the outcome
    state = State::kAborted;
  }
  cur.reset();
  cur_fill = 0;
  cv.notify_all();
  Advance();
}

ObjectWriter::ObjectWriter(ObjectClient* client, BufferPool* pool, WriterOptions options,
                           std::string key)
    : impl_(std::make_shared<Impl>(client, pool, std::move(options), std::move(key))) {}

ObjectWriter::~ObjectWriter() {
  impl_->Abort();
}

Result<uint64_t> ObjectWriter::Write(uint64_t offset, const char* data, uint64_t size) {
  return impl_->Write(offset, data, size);
}

void ObjectWriter::Finish(std::function<void(Result<ObjectInfo>)> done) {
  impl_->Finish(std::move(done));
}

void ObjectWriter::Abort() {
  impl_->Abort();
}

bool ObjectWriter::TakeBack(std::string* out) {
  Impl& w = *impl_;
  {
    std::lock_guard l(w.mu);
    if (w.state != Impl::State::kOpen || w.next_part != 1 || !w.error.ok()) return false;
  }
  out->assign(w.cur != nullptr ? w.cur->data() : "", w.cur_fill);
  Abort();
  return true;
}

bool ObjectWriter::SetMetadata(Metadata metadata) {
  std::lock_guard l(impl_->mu);
  if (impl_->create_started || impl_->state != Impl::State::kOpen) return false;
  impl_->metadata = std::move(metadata);
  return true;
}

uint64_t ObjectWriter::bytes_written() const {
  std::lock_guard l(impl_->mu);
  return impl_->written;
}

}  // namespace s3m
