// StagedHandle's commit: the staged version becomes the object. A plan of one uploaded part
// is one PutObject; otherwise a multipart upload whose parts are copied from the base
// (UploadPartCopy) or assembled (GET of the base's bytes + the local ones) and uploaded,
// max_parts_in_flight at a time. Every request that reads the base carries its ETag, and
// the final one carries If-Match. Not every store honours those on writes and copies
// (moto ignores If-Match on CompleteMultipartUpload and on copy sources), so a HEAD checks
// the base's ETag just before the final request too: where conditions are honoured the
// replacement is atomic, elsewhere the window is that of one round trip.
#include <algorithm>

#include "common/log.h"
#include "fs/fs_core.h"
#include "fs/staged_handle.h"
#include "fs/upload_plan.h"

namespace s3m {
namespace {

Status Changed(const std::string& key) {
  return Status(Code::kPreconditionFailed,
                "the object changed in S3 since it was opened, so it was not replaced: " + key);
}

// A base that changed surfaces as a failed precondition or a missing object.
Status Explain(const Status& s, const std::string& key) {
  if (s.code() == Code::kPreconditionFailed || s.code() == Code::kNotFound) return Changed(key);
  return s;
}

}  // namespace

struct StagedHandle::Upload {
  std::shared_ptr<const Version> v;
  std::vector<PlannedPart> plan;
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kNone;
  std::string upload_id;
  Metadata meta;  // the new version's user metadata
  bool meta_known = false;
  std::mutex mu;
  std::vector<CompletedPart> parts;  // GUARDED_BY(mu)
  size_t next = 0;                   // GUARDED_BY(mu)
  int in_flight = 0;                 // GUARDED_BY(mu)
  Status error;                      // GUARDED_BY(mu)
  bool ended = false;                // GUARDED_BY(mu)
};

void StagedHandle::Assemble(std::shared_ptr<const Version> v, uint64_t start, uint64_t end,
                            char* out, Callback<Empty> done) {
  uint64_t base_hi = v->base_etag.empty() ? start : std::max(start, std::min(end, v->base_end));
  auto local = [this, v, start, end, out, done](Result<GetObjectResult> r) {
    if (!r.ok()) return done(Explain(r.status(), inode()->key));
    // Writes wait while a commit runs, so the staging file holds this version.
    Status s = ReadLocal(*v, start, end, out);
    if (!s.ok()) return done(s);
    done(Empty{});
  };
  if (base_hi == start) return local(GetObjectResult{});
  GetObjectParams p;
  p.key = inode()->key;
  p.offset = start;
  p.length = base_hi - start;
  p.if_match = v->base_etag;
  p.buffer = out;
  uint64_t want = p.length;
  fs_.client->GetObject(std::move(p), [local, want, key = inode()->key](Result<GetObjectResult> r) {
    if (r.ok() && r->bytes != want) return local(Changed(key));  // the base is shorter now
    local(std::move(r));
  });
}

void StagedHandle::Commit(Callback<Empty> done) {
  std::shared_ptr<const Version> v;
  {
    std::lock_guard l(mu_);
    if (!committing_ && !dirty_) return done(Empty{});
    commit_waiters_.push_back(std::move(done));
    if (committing_) return;  // writes wait, so the running commit stores this state too
    committing_ = true;
    v = std::make_shared<const Version>(v_);
  }
  fs_.BeginUpload();  // balanced by OnCommitted
  auto u = std::make_shared<Upload>();
  u->v = v;
  {
    InodeState st = inode()->Snapshot();
    u->meta_known = st.meta_known || v->base_etag.empty();
    if (u->meta_known) u->meta = fs_.MetaToStore(st);
  }
  u->plan = PlanUpload(v->size, v->base_etag.empty() ? 0 : v->base_end, v->written,
                       fs_.options.writer.write_part_size);
  if (u->plan.size() <= 1 && (u->plan.empty() || !u->plan[0].copy)) return PutWhole(u);
  StartMultipart(u);
}

void StagedHandle::CheckBase(const std::shared_ptr<Upload>& u, Callback<Empty> then) {
  if (u->v->base_etag.empty()) return then(Empty{});
  fs_.client->HeadObject({inode()->key}, [this, u, then](Result<ObjectInfo> r) {
    if (!r.ok() && r.status().code() != Code::kNotFound) return then(r.status());
    if (!r.ok() || !SameEtag(r->etag, u->v->base_etag)) return then(Changed(inode()->key));
    if (!u->meta_known) {
      u->meta = std::move(r->metadata);
      u->meta_known = true;
    }
    then(Empty{});
  });
}

void StagedHandle::PutWhole(std::shared_ptr<Upload> u) {
  uint64_t size = u->v->size;
  fs_.pool->Take(std::max<uint64_t>(size, 1), [this, u, size](std::shared_ptr<Buffer> buf) {
    Assemble(u->v, 0, size, buf->data(), [this, u, buf, size](Result<Empty> a) {
      if (!a.ok()) return OnCommitted(a.status());
      CheckBase(u, [this, u, buf, size](Result<Empty> c) {
        if (!c.ok()) return OnCommitted(c.status());
        Put(u, buf, size);
      });
    });
  });
}

// The condition's form: as S3 sends ETags (quoted), bare (Ceph RGW 16 refuses the quoted
// form on PutObject with 412 while it accepts the bare one), or none (the HEAD just before
// is then the only check). A 412 whose HEAD finds the base unchanged moves to the next form,
// and the mount remembers the form that worked.
namespace {
std::string IfMatchForm(const std::string& etag, int form) {
  if (form == FsCore::kIfMatchQuoted) return etag;
  if (form == FsCore::kIfMatchBare && etag.size() >= 2 && etag.front() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return form == FsCore::kIfMatchBare ? etag : std::string();
}
}  // namespace

void StagedHandle::Put(const std::shared_ptr<Upload>& u, std::shared_ptr<Buffer> buf,
                       uint64_t size) {
  int form = fs_.if_match_form.load(std::memory_order_relaxed);
  PutObjectParams p;
  p.key = inode()->key;
  p.data = buf->data();
  p.size = size;
  p.storage_class = fs_.options.writer.storage_class;
  p.checksum = fs_.options.writer.checksum;
  p.if_match = IfMatchForm(u->v->base_etag, form);
  p.metadata = u->meta;
  fs_.client->PutObject(std::move(p), [this, u, buf, size, form](Result<PutObjectResult> r) {
    if (!r.ok() && r.status().code() == Code::kPreconditionFailed && !u->v->base_etag.empty() &&
        form < FsCore::kIfMatchNone) {
      return CheckBase(u, [this, u, buf, size, form](Result<Empty> c) {
        if (!c.ok()) return OnCommitted(c.status());  // it did change
        S3M_WARN("the store refused If-Match on PutObject of an unchanged {}: trying form {}",
                 inode()->key, form + 1);
        int expected = form;
        fs_.if_match_form.compare_exchange_strong(expected, form + 1);
        Put(u, buf, size);
      });
    }
    if (!r.ok()) return OnCommitted(Explain(r.status(), inode()->key));
    ObjectInfo info;
    info.key = inode()->key;
    info.size = size;
    info.etag = r->etag;
    info.metadata = u->meta;
    OnCommitted(info);
  });
}

void StagedHandle::StartMultipart(std::shared_ptr<Upload> u) {
  if (!u->meta_known) {
    return CheckBase(u, [this, u](Result<Empty> c) {
      if (!c.ok()) return OnCommitted(c.status());
      StartMultipart(u);
    });
  }
  // Copied parts carry no checksum of ours, and a store may refuse to complete an upload
  // with a checksum algorithm where some parts lack one: checksums only when all are ours.
  bool copies = std::any_of(u->plan.begin(), u->plan.end(), [](auto& p) { return p.copy; });
  u->checksum = copies ? ChecksumAlgorithm::kNone : fs_.options.writer.checksum;
  u->parts.resize(u->plan.size());
  CreateMultipartUploadParams p;
  p.key = inode()->key;
  p.storage_class = fs_.options.writer.storage_class;
  p.checksum = u->checksum;
  p.metadata = u->meta;
  fs_.client->CreateMultipartUpload(std::move(p), [this, u](Result<CreateMultipartUploadResult> r) {
    if (!r.ok()) return OnCommitted(r.status());
    u->upload_id = r->upload_id;
    PumpParts(u);
  });
}

void StagedHandle::PumpParts(std::shared_ptr<Upload> u) {
  std::vector<size_t> start;
  bool finish = false;
  {
    std::lock_guard l(u->mu);
    while (u->error.ok() && u->in_flight < fs_.options.writer.max_parts_in_flight &&
           u->next < u->plan.size()) {
      start.push_back(u->next++);
      u->in_flight++;
    }
    if (u->in_flight == 0 && start.empty() && !u->ended &&
        (!u->error.ok() || u->next == u->plan.size())) {
      u->ended = true;
      finish = true;
    }
  }
  for (size_t i : start) StartPart(u, i);
  if (finish) FinishMultipart(u);
}

void StagedHandle::StartPart(std::shared_ptr<Upload> u, size_t i) {
  const PlannedPart part = u->plan[i];
  int number = static_cast<int>(i) + 1;
  auto part_done = [this, u, i](Result<UploadPartResult> r) {
    {
      std::lock_guard l(u->mu);
      u->in_flight--;
      if (r.ok()) {
        u->parts[i] = r->part;
      } else if (u->error.ok()) {
        u->error = Explain(r.status(), inode()->key);
      }
    }
    PumpParts(u);
  };
  if (part.copy) {
    UploadPartCopyParams p;
    p.key = p.source_key = inode()->key;
    p.upload_id = u->upload_id;
    p.part_number = number;
    p.source_if_match = u->v->base_etag;
    p.first_byte = part.start;
    p.last_byte = part.end - 1;
    return fs_.client->UploadPartCopy(std::move(p), part_done);
  }
  uint64_t len = part.end - part.start;
  fs_.pool->Take(len, [this, u, part, len, number, part_done](std::shared_ptr<Buffer> buf) {
    Assemble(u->v, part.start, part.end, buf->data(),
             [this, u, buf, len, number, part_done](Result<Empty> a) {
               if (!a.ok()) return part_done(a.status());
               UploadPartParams p;
               p.key = inode()->key;
               p.upload_id = u->upload_id;
               p.part_number = number;
               p.data = buf->data();
               p.size = len;
               p.checksum = u->checksum;
               fs_.client->UploadPart(std::move(p), [buf, part_done](Result<UploadPartResult> r) {
                 part_done(std::move(r));
               });
             });
  });
}

void StagedHandle::FinishMultipart(std::shared_ptr<Upload> u) {
  Status error;
  {
    std::lock_guard l(u->mu);
    error = u->error;
  }
  auto abort = [this, u](Status why) {
    fs_.client->AbortMultipartUpload({inode()->key, u->upload_id},
                                     [this, why](Result<Empty>) { OnCommitted(why); });
  };
  if (!error.ok()) return abort(error);
  CheckBase(u, [this, u, abort](Result<Empty> c) {
    if (!c.ok()) return abort(c.status());
    Complete(u, abort);
  });
}

void StagedHandle::Complete(const std::shared_ptr<Upload>& u, std::function<void(Status)> abort) {
  CompleteMultipartUploadParams p;
  p.key = inode()->key;
  p.upload_id = u->upload_id;
  p.parts = u->parts;
  p.if_match = u->v->base_etag;
  fs_.client->CompleteMultipartUpload(std::move(p),
                                      [this, u, abort](Result<CompleteMultipartUploadResult> r) {
                                        if (!r.ok())
                                          return abort(Explain(r.status(), inode()->key));
                                        ObjectInfo info;
                                        info.key = inode()->key;
                                        info.size = u->v->size;
                                        info.etag = r->etag;
                                        info.metadata = u->meta;
                                        OnCommitted(info);
                                      });
}

}  // namespace s3m
