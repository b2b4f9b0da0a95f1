// Test-only stand-ins for ObjectReader and ObjectWriter, compiled into file_system_test
// only while the real data path (s3m_data) is not in the build. They follow the headers'
// contracts in the simplest way: one GET per read with If-Match; the writer buffers the
// whole object and uploads it at Finish (PutObject, or a multipart upload when larger
// than one part). Not thread-safe beyond what the file system tests need.
#include <algorithm>
#include <mutex>

#include "fs/object_reader.h"
#include "fs/object_writer.h"

namespace s3m {
namespace {

class HeapBuffer final : public Buffer {
 public:
  explicit HeapBuffer(size_t n) : data_(n, '\0') {}
  char* data() override { return data_.data(); }
  size_t capacity() const override { return data_.size(); }

 private:
  std::string data_;
};

}  // namespace

struct ObjectReader::Impl {
  ObjectClient* client;
  std::string key;
  std::string etag;
  uint64_t size;
};

ObjectReader::ObjectReader(ObjectClient* client, BufferPool*, ReaderOptions, std::string key,
                           std::string etag, uint64_t object_size)
    : impl_(std::make_shared<Impl>(Impl{client, std::move(key), std::move(etag), object_size})) {}

ObjectReader::~ObjectReader() = default;

void ObjectReader::Read(uint64_t offset, uint64_t size,
                        std::function<void(Result<ReadData>)> done) {
  if (offset >= impl_->size || size == 0) return done(ReadData{});
  uint64_t n = std::min(size, impl_->size - offset);
  auto buf = std::make_shared<HeapBuffer>(n);
  GetObjectParams p;
  p.key = impl_->key;
  p.offset = offset;
  p.length = n;
  p.if_match = impl_->etag;
  p.buffer = buf->data();
  impl_->client->GetObject(std::move(p), [buf, done](Result<GetObjectResult> r) {
    if (!r.ok()) return done(r.status());
    ReadData d;
    d.iov.push_back(iovec{buf->data(), r->bytes});
    d.keep.push_back(buf);
    d.size = r->bytes;
    done(std::move(d));
  });
}

struct ObjectWriter::Impl : std::enable_shared_from_this<ObjectWriter::Impl> {
  ObjectClient* client;
  WriterOptions options;
  std::string key;
  std::string data;
  bool finished = false;
  std::string upload_id;
  std::vector<CompletedPart> parts;
  std::function<void(Result<ObjectInfo>)> done;

  void Fail(const Status& s) {
    if (!upload_id.empty()) client->AbortMultipartUpload({key, upload_id}, [](Result<Empty>) {});
    done(s);
  }
  void UploadNext(size_t offset) {
    if (offset >= data.size()) return Complete();
    UploadPartParams p;
    p.key = key;
    p.upload_id = upload_id;
    p.part_number = static_cast<int>(parts.size()) + 1;
    p.data = data.data() + offset;
    p.size = std::min<uint64_t>(options.write_part_size, data.size() - offset);
    size_t next = offset + p.size;
    client->UploadPart(std::move(p), [self = shared_from_this(), next](Result<UploadPartResult> r) {
      if (!r.ok()) return self->Fail(r.status());
      self->parts.push_back(r->part);
      self->UploadNext(next);
    });
  }
  void Complete() {
    client->CompleteMultipartUpload(
        {key, upload_id, parts},
        [self = shared_from_this()](Result<CompleteMultipartUploadResult> r) {
          if (!r.ok()) return self->Fail(r.status());
          self->done(ObjectInfo{self->key, self->data.size(), r->etag, 0, 0, ""});
        });
  }
};

ObjectWriter::ObjectWriter(ObjectClient* client, BufferPool*, WriterOptions options,
                           std::string key)
    : impl_(std::make_shared<Impl>()) {
  impl_->client = client;
  impl_->options = std::move(options);
  impl_->key = std::move(key);
}

ObjectWriter::~ObjectWriter() = default;

Result<uint64_t> ObjectWriter::Write(uint64_t offset, const char* data, uint64_t size) {
  if (impl_->finished) return Status(Code::kInvalidArgument, "writer finished");
  if (offset != impl_->data.size()) return Status(Code::kInvalidArgument, "not sequential");
  impl_->data.append(data, size);
  return size;
}

void ObjectWriter::Finish(std::function<void(Result<ObjectInfo>)> done) {
  impl_->finished = true;
  impl_->done = std::move(done);
  auto self = impl_;
  if (self->data.size() <= self->options.write_part_size) {
    PutObjectParams p;
    p.key = self->key;
    p.data = self->data.data();
    p.size = self->data.size();
    self->client->PutObject(std::move(p), [self](Result<PutObjectResult> r) {
      if (!r.ok()) return self->done(r.status());
      self->done(ObjectInfo{self->key, self->data.size(), r->etag, 0, 0, ""});
    });
    return;
  }
  self->client->CreateMultipartUpload({self->key, "", ChecksumAlgorithm::kNone},
                                      [self](Result<CreateMultipartUploadResult> r) {
                                        if (!r.ok()) return self->done(r.status());
                                        self->upload_id = r->upload_id;
                                        self->UploadNext(0);
                                      });
}

void ObjectWriter::Abort() {
  impl_->finished = true;
}

uint64_t ObjectWriter::bytes_written() const {
  return impl_->data.size();
}

}  // namespace s3m
