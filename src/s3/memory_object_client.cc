#include "s3/memory_object_client.h"

#include "common/stream_copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace s3m {
namespace {

constexpr int kMaxPartNumber = 10000;

Status NoSuchKey() {
  return Status(Code::kNotFound, "The specified key does not exist.")
      .set_http_status(404)
      .set_s3_code("NoSuchKey");
}

Status NoSuchUpload() {
  return Status(Code::kNotFound, "The specified multipart upload does not exist.")
      .set_http_status(404)
      .set_s3_code("NoSuchUpload");
}

Status PreconditionFailed() {
  return Status(Code::kPreconditionFailed,
                "At least one of the pre-conditions you specified did not hold")
      .set_http_status(412)
      .set_s3_code("PreconditionFailed");
}

Status InvalidPartNumber() {
  return Status(Code::kInvalidArgument, "Part number must be an integer between 1 and 10000")
      .set_http_status(400)
      .set_s3_code("InvalidArgument");
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MemoryObjectClient::MemoryObjectClient() : MemoryObjectClient(Options{}) {}

MemoryObjectClient::MemoryObjectClient(Options options) : options_(options) {
  if (options_.async) {
    for (int i = 0; i < std::max(1, options_.completion_threads); i++) {
      completion_threads_.emplace_back([this] { CompletionLoop(); });
    }
  }
}

MemoryObjectClient::~MemoryObjectClient() {
  if (completion_threads_.empty()) return;
  {
    std::lock_guard l(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : completion_threads_) t.join();
}

void MemoryObjectClient::Complete(std::function<void()> fn) {
  if (!options_.async) {
    fn();
    return;
  }
  {
    std::lock_guard l(queue_mu_);
    queue_.push_back(std::move(fn));
  }
  queue_cv_.notify_one();
}

void MemoryObjectClient::CompletionLoop() {
  std::unique_lock l(queue_mu_);
  while (true) {
    queue_cv_.wait(l, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    fn();
    l.lock();
  }
}

std::string MemoryObjectClient::NextEtag() {
  return fmt::format("\"m{:016x}\"", ++generation_);
}

const MemoryObjectClient::Object& MemoryObjectClient::Store(const std::string& key,
                                                            std::string data,
                                                            Attributes attributes) {
  Object o;
  o.data = std::make_shared<const std::string>(std::move(data));
  o.etag = NextEtag();
  o.mtime = NowSeconds();
  o.attributes = std::move(attributes);
  if (o.attributes.storage_class.empty()) o.attributes.storage_class = "STANDARD";
  return objects_[key] = std::move(o);
}

Status MemoryObjectClient::CheckDestination(const std::string& key, const std::string& if_match,
                                            bool if_none_match) const {
  auto it = objects_.find(key);
  if (if_none_match && it != objects_.end()) return PreconditionFailed();
  if (!if_match.empty()) {
    // S3 answers If-Match on a missing key with 404 NoSuchKey, not 412.
    if (it == objects_.end()) return NoSuchKey();
    if (it->second.etag != if_match) return PreconditionFailed();
  }
  return Status::Ok();
}

ObjectInfo MemoryObjectClient::InfoLocked(const std::string& key, const Object& o) const {
  ObjectInfo info;
  info.key = key;
  info.size = o.data->size();
  info.etag = o.etag;
  info.last_modified = o.mtime;
  info.storage_class = o.attributes.storage_class;
  return info;
}

void MemoryObjectClient::Put(const std::string& key, std::string data) {
  std::lock_guard l(mu_);
  Store(key, std::move(data), {});
}

std::optional<std::string> MemoryObjectClient::Contents(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return *it->second.data;
}

std::optional<ObjectInfo> MemoryObjectClient::Info(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return InfoLocked(key, it->second);
}

void MemoryObjectClient::Remove(const std::string& key) {
  std::lock_guard l(mu_);
  objects_.erase(key);
}

size_t MemoryObjectClient::ObjectCount() const {
  std::lock_guard l(mu_);
  return objects_.size();
}

size_t MemoryObjectClient::PendingUploads() const {
  std::lock_guard l(mu_);
  return uploads_.size();
}

uint64_t MemoryObjectClient::TotalRequests() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load();
  return total;
}

void MemoryObjectClient::ResetCounts() {
  for (auto& c : counts_) c = 0;
}

void MemoryObjectClient::HeadBucket(HeadBucketParams, Callback<Empty> done) {
  Bump(S3Op::kHeadBucket);
  Complete([done = std::move(done)] { done(Empty{}); });
}

void MemoryObjectClient::HeadObject(HeadObjectParams p, Callback<ObjectInfo> done) {
  Bump(S3Op::kHeadObject);
  Result<ObjectInfo> r = NoSuchKey().set_s3_code("");  // HEAD errors have no body
  {
    std::lock_guard l(mu_);
    auto it = objects_.find(p.key);
    if (it != objects_.end()) {
      ObjectInfo info = InfoLocked(p.key, it->second);
      info.metadata = it->second.attributes.metadata;  // HEAD only, as S3's listings omit it
      r = std::move(info);
    }
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::GetObject(GetObjectParams p, Callback<GetObjectResult> done) {
  Bump(S3Op::kGetObject);
  std::shared_ptr<const std::string> data;
  std::string etag;
  Status error;
  {
    std::lock_guard l(mu_);
    auto it = objects_.find(p.key);
    if (it == objects_.end()) {
      error = NoSuchKey();
    } else if (!p.if_match.empty() && p.if_match != it->second.etag) {
      error = PreconditionFailed();
    } else if (p.offset >= it->second.data->size() && p.length > 0) {
      error = Status(Code::kInvalidRange, "The requested range is not satisfiable")
                  .set_http_status(416)
                  .set_s3_code("InvalidRange");
    } else {
      data = it->second.data;
      etag = it->second.etag;
    }
  }
  if (!error.ok()) {
    Complete([done = std::move(done), error] { done(error); });
    return;
  }
  if (options_.lend_get_bodies && p.accept_lent) {
    GetObjectResult r{std::min<uint64_t>(p.length, data->size() - p.offset), data->size(), etag};
    r.lent = std::shared_ptr<const char>(data, data->data() + p.offset);  // keeps `data` alive
    done(std::move(r));  // no work to hand to another thread, as for a cache hit
    return;
  }
  // The copy into the caller's buffer is done on the completion thread, like the network.
  Complete([p = std::move(p), done = std::move(done), data, etag] {
    uint64_t n = std::min<uint64_t>(p.length, data->size() - p.offset);
    if (n > 0) StreamingCopy(p.buffer, data->data() + p.offset, n);
    if (p.on_progress) p.on_progress(n);
    done(GetObjectResult{n, data->size(), etag});
  });
}

ListObjectsResult MemoryObjectClient::ListLocked(const ListObjectsParams& p) const {
  ListObjectsResult out;
  std::string after = std::max(p.start_after, p.continuation_token);
  auto it = after.empty() ? objects_.lower_bound(p.prefix) : objects_.upper_bound(after);
  int count = 0;
  std::string last;
  for (; it != objects_.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, p.prefix.size(), p.prefix) != 0) break;
    if (count == p.max_keys) {
      out.truncated = true;
      out.next_continuation_token = last;
      break;
    }
    size_t pos = p.delimiter.empty() ? std::string::npos : key.find(p.delimiter, p.prefix.size());
    if (pos != std::string::npos) {
      std::string common = key.substr(0, pos + p.delimiter.size());
      out.common_prefixes.push_back(common);
      // Skip every key under this common prefix: the token is the prefix's last key.
      auto next = objects_.lower_bound(common + '\xff');
      while (next != objects_.end() && next->first.compare(0, common.size(), common) == 0) ++next;
      last = std::prev(next)->first;
      it = std::prev(next);
    } else {
      out.objects.push_back(InfoLocked(key, it->second));
      last = key;
    }
    ++count;
  }
  return out;
}

void MemoryObjectClient::ListObjects(ListObjectsParams p, Callback<ListObjectsResult> done) {
  Bump(S3Op::kListObjects);
  ListObjectsResult r;
  {
    std::lock_guard l(mu_);
    r = ListLocked(p);
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::PutObject(PutObjectParams p, Callback<PutObjectResult> done) {
  Bump(S3Op::kPutObject);
  Result<PutObjectResult> r = PutObjectResult{};
  {
    std::lock_guard l(mu_);
    Status check = CheckDestination(p.key, p.if_match, p.if_none_match);
    if (!check.ok()) {
      r = check;
    } else {
      r = PutObjectResult{Store(p.key, std::string(p.data ? p.data : "", p.size),
                                {p.storage_class, std::move(p.metadata), std::move(p.content_type)})
                              .etag};
    }
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::CreateMultipartUpload(CreateMultipartUploadParams p,
                                               Callback<CreateMultipartUploadResult> done) {
  Bump(S3Op::kCreateMultipartUpload);
  std::string id;
  {
    std::lock_guard l(mu_);
    id = fmt::format("upload-{}", ++generation_);
    uploads_[id] =
        Upload{p.key, {}, {p.storage_class, std::move(p.metadata), std::move(p.content_type)}};
  }
  Complete([done = std::move(done), id] { done(CreateMultipartUploadResult{id}); });
}

void MemoryObjectClient::UploadPart(UploadPartParams p, Callback<UploadPartResult> done) {
  Bump(S3Op::kUploadPart);
  Result<UploadPartResult> r = NoSuchUpload();
  if (p.part_number < 1 || p.part_number > kMaxPartNumber) {
    r = InvalidPartNumber();
  } else {
    std::lock_guard l(mu_);
    auto it = uploads_.find(p.upload_id);
    if (it != uploads_.end() && it->second.key == p.key) {
      it->second.parts[p.part_number] = std::string(p.data, p.size);
      r = UploadPartResult{CompletedPart{p.part_number, fmt::format("\"p{}\"", p.part_number), ""}};
    }
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::CompleteMultipartUpload(CompleteMultipartUploadParams p,
                                                 Callback<CompleteMultipartUploadResult> done) {
  Bump(S3Op::kCompleteMultipartUpload);
  Result<CompleteMultipartUploadResult> r = NoSuchUpload();
  {
    std::lock_guard l(mu_);
    auto it = uploads_.find(p.upload_id);
    Status check = CheckDestination(p.key, p.if_match, p.if_none_match);
    if (it != uploads_.end() && it->second.key == p.key && !check.ok()) {
      r = check;  // the upload stays, as on S3
    } else if (it != uploads_.end() && it->second.key == p.key) {
      std::string data;
      bool ok = !p.parts.empty();
      for (const auto& part : p.parts) {
        auto pit = it->second.parts.find(part.part_number);
        if (pit == it->second.parts.end()) {
          ok = false;
          break;
        }
        data += pit->second;
      }
      if (ok) {
        r = CompleteMultipartUploadResult{
            Store(p.key, std::move(data), std::move(it->second.attributes)).etag};
        uploads_.erase(it);
      } else {
        r = Status(Code::kInvalidArgument, "One or more of the specified parts could not be found.")
                .set_http_status(400)
                .set_s3_code("InvalidPart");
      }
    }
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::AbortMultipartUpload(AbortMultipartUploadParams p, Callback<Empty> done) {
  Bump(S3Op::kAbortMultipartUpload);
  Result<Empty> r = NoSuchUpload();
  {
    std::lock_guard l(mu_);
    if (uploads_.erase(p.upload_id) > 0) r = Empty{};
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::DeleteObject(DeleteObjectParams p, Callback<Empty> done) {
  Bump(S3Op::kDeleteObject);
  {
    std::lock_guard l(mu_);
    objects_.erase(p.key);  // S3 answers 204 whether or not the key existed
  }
  Complete([done = std::move(done)] { done(Empty{}); });
}

void MemoryObjectClient::CopyObject(CopyObjectParams p, Callback<CopyObjectResult> done) {
  Bump(S3Op::kCopyObject);
  Result<CopyObjectResult> r = NoSuchKey();
  {
    std::lock_guard l(mu_);
    auto it = objects_.find(p.source_key);
    Status check = CheckDestination(p.dest_key, "", p.if_none_match);
    if (it == objects_.end()) {
      // r stays NoSuchKey
    } else if (!p.source_if_match.empty() && p.source_if_match != it->second.etag) {
      r = PreconditionFailed();
    } else if (!check.ok()) {
      r = check;
    } else {
      // S3 does not keep the source's storage class: the copy gets the one asked for.
      Attributes a{p.storage_class, std::move(p.metadata), std::move(p.content_type)};
      if (!p.replace_metadata) {
        a.metadata = it->second.attributes.metadata;
        a.content_type = it->second.attributes.content_type;
      }
      const Object& o = Store(p.dest_key, *it->second.data, std::move(a));
      r = CopyObjectResult{o.etag, o.mtime};
    }
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void MemoryObjectClient::UploadPartCopy(UploadPartCopyParams p, Callback<UploadPartResult> done) {
  Bump(S3Op::kUploadPartCopy);
  Result<UploadPartResult> r = NoSuchUpload();
  if (p.part_number < 1 || p.part_number > kMaxPartNumber) {
    r = InvalidPartNumber();
  } else {
    std::lock_guard l(mu_);
    auto up = uploads_.find(p.upload_id);
    auto src = objects_.find(p.source_key);
    if (up == uploads_.end() || up->second.key != p.key) {
      // r stays NoSuchUpload
    } else if (src == objects_.end()) {
      r = NoSuchKey();
    } else if (!p.source_if_match.empty() && p.source_if_match != src->second.etag) {
      r = PreconditionFailed();
    } else if (!p.whole_object &&
               (p.first_byte > p.last_byte || p.last_byte >= src->second.data->size())) {
      // AWS refuses a range not wholly inside the source with 400 InvalidArgument (not the
      // 416 InvalidRange of a GET).
      r = Status(Code::kInvalidArgument,
                 fmt::format("Range specified is not valid for source object of size: {}",
                             src->second.data->size()))
              .set_http_status(400)
              .set_s3_code("InvalidArgument");
    } else {
      const std::string& data = *src->second.data;
      up->second.parts[p.part_number] =
          p.whole_object ? data : data.substr(p.first_byte, p.last_byte - p.first_byte + 1);
      r = UploadPartResult{CompletedPart{p.part_number, fmt::format("\"c{}\"", p.part_number), ""}};
    }
  }
  Complete([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

}  // namespace s3m
