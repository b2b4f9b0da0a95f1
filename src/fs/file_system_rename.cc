// FileSystem::Rename: a server-side copy, then a delete of the old key, for a file or for
// every object under a directory. S3 has no rename, so a directory rename is not atomic:
// objects move one at a time, each copied before its old key is deleted, so a crash or an
// error leaves every object under its old name or its new one (for a moment both), never
// neither. The target directory's marker records the move ("s3mount-rename-from"), so that
// running the same rename again resumes it instead of failing on a non-empty target.
// The inode keeps its number (the kernel moves its entry): InodeTable::Rename rekeys it,
// and open readers are moved to the copies (same bytes).
#include <linux/fs.h>

#include <algorithm>
#include <atomic>

#include "common/log.h"
#include "fs/bounded_runner.h"
#include "fs/file_system_impl.h"
#include "fs/upload_plan.h"

namespace s3m {
namespace {

constexpr char kRenameFromMeta[] = "s3mount-rename-from";

// Below one S3 page of keys, a directory rename is a handful of LISTs and some parallel
// copies; above the bound a rename fails with EXDEV, so that mv copies file by file (with
// progress a user can see) instead of one call that runs for minutes.
constexpr int kListPage = 1000;

}  // namespace

struct DirMove {
  std::string from;  // key prefixes, ending in '/'
  std::string to;
  std::vector<ObjectInfo> objects;  // under `from`, its marker (if any) last
  std::mutex mu;
  std::map<std::string, std::string> new_etags;  // GUARDED_BY(mu): old key -> copy's ETag
};

void FileSystem::Rename(InodeId parent, const std::string& name, InodeId new_parent,
                        const std::string& new_name, unsigned flags, Callback<Empty> done) {
  Impl* impl = impl_.get();
  if (impl->options.read_only) return done(Status(Code::kReadOnly, "read-only mount"));
  if ((flags & ~RENAME_NOREPLACE) != 0) {
    return done(Status(Code::kInvalidArgument, "only RENAME_NOREPLACE is supported"));
  }
  if (!impl->options.allow_delete) {
    return done(
        Status(Code::kPermission, "rename deletes the old name: mount with --allow-delete"));
  }
  std::shared_ptr<Inode> dir = impl->table.Get(parent);
  std::shared_ptr<Inode> ndir = impl->table.Get(new_parent);
  Status s = impl->CheckDir(dir, parent);
  if (s.ok()) s = impl->CheckDir(ndir, new_parent);
  if (s.ok()) s = impl->CheckNewName(new_name);
  if (!s.ok()) return done(s);
  bool noreplace = (flags & RENAME_NOREPLACE) != 0;
  impl->Resolve(dir, name, false, [=, this](Result<std::shared_ptr<Inode>> src) {
    if (!src.ok()) return done(src.status());
    impl->Resolve(ndir, new_name, false, [=, this](Result<std::shared_ptr<Inode>> dst) {
      if (!dst.ok() && dst.status().code() != Code::kNotFound) return done(dst.status());
      std::shared_ptr<Inode> target = dst.ok() ? *dst : nullptr;
      Status c = impl->CheckRename(**src, ndir->key, target.get(), noreplace);
      if (!c.ok() || target == *src) return c.ok() ? done(Empty{}) : done(c);
      if ((*src)->is_dir()) return impl->RenameDir(*src, ndir, new_name, target, done);
      impl->RenameFile(*src, ndir, new_name, done);
    });
  });
}

Status FileSystem::Impl::CheckRename(const Inode& src, const std::string& new_parent_key,
                                     const Inode* target, bool noreplace) const {
  if (src.is_dir() && new_parent_key.compare(0, src.key.size(), src.key) == 0) {
    return Status(Code::kInvalidArgument, "cannot move a directory into itself: " + src.name);
  }
  if (target == nullptr || target == &src) return Status::Ok();
  if (noreplace) return Status(Code::kExists, "target exists: " + target->name);
  if (src.is_dir() && !target->is_dir()) {
    return Status(Code::kNotDirectory, "not a directory: " + target->name);
  }
  if (!src.is_dir() && target->is_dir()) {
    return Status(Code::kIsDirectory, "is a directory: " + target->name);
  }
  if (!src.is_dir() && !options.allow_overwrite) {
    return Status(Code::kPermission, "replacing a file needs --allow-overwrite");
  }
  return Status::Ok();
}

// Writers of the file (open, or closed with their upload still running) store what they
// have first, so the copy has every byte written before the rename.
void FileSystem::Impl::SettleWriters(const std::string& key_prefix, bool whole_prefix,
                                     Callback<Empty> then) {
  std::vector<std::shared_ptr<FileHandle>> writers;
  {
    std::lock_guard l(handles_mu);
    for (auto* m : {&files, &closing}) {
      for (auto& [id, h] : *m) {
        const std::string& k = h->inode()->key;
        bool match =
            whole_prefix ? k.compare(0, key_prefix.size(), key_prefix) == 0 : k == key_prefix;
        if (match && h->Size().has_value()) writers.push_back(h);
      }
    }
  }
  if (writers.empty()) return then(Empty{});
  auto left = std::make_shared<std::atomic<size_t>>(writers.size());
  auto first_error = std::make_shared<Status>();
  auto mu = std::make_shared<std::mutex>();
  for (auto& h : writers) {
    h->Fsync([left, first_error, mu, then](Result<Empty> r) {
      if (!r.ok()) {
        std::lock_guard l(*mu);
        if (first_error->ok()) *first_error = r.status();
      }
      if (left->fetch_sub(1) != 1) return;
      if (!first_error->ok()) return then(*first_error);
      then(Empty{});
    });
  }
}

// Copies one object (CopyObject, or UploadPartCopy parts for objects over
// FsOptions::copy_object_max_bytes) and returns the copy's ETag.
void FileSystem::Impl::CopyKey(const ObjectInfo& from, const std::string& to,
                               Callback<std::string> done) {
  if (from.size <= options.copy_object_max_bytes) {
    CopyObjectParams p;
    p.source_key = from.key;
    p.dest_key = to;
    p.source_if_match = from.etag;
    p.storage_class = options.writer.storage_class;
    return client->CopyObject(std::move(p), [done](Result<CopyObjectResult> r) {
      if (!r.ok()) return done(r.status());
      done(r->etag);
    });
  }
  CopyLarge(from, to, std::move(done));
}

void FileSystem::Impl::RenameFile(std::shared_ptr<Inode> src, std::shared_ptr<Inode> ndir,
                                  const std::string& new_name, Callback<Empty> done) {
  SettleWriters(src->key, false, [this, src, ndir, new_name, done](Result<Empty> s) {
    if (!s.ok()) return done(s.status());
    client->HeadObject({src->key}, [this, src, ndir, new_name, done](Result<ObjectInfo> h) {
      if (!h.ok()) return done(h.status());
      ObjectInfo from = *h;
      std::string to = ChildKey(ndir->key, new_name, EntryKind::kFile);
      CopyKey(from, to, [this, src, ndir, new_name, from, done](Result<std::string> etag) {
        if (!etag.ok()) return done(etag.status());
        ObjectInfo moved = from;
        moved.etag = *etag;
        ApplyRename(*src, *ndir, new_name, {{from.key, *etag}}, &moved);
        client->DeleteObject({from.key}, [key = from.key, done](Result<Empty> d) {
          if (!d.ok() && d.status().code() != Code::kNotFound) {
            S3M_ERROR("renamed {} but could not delete it; rename again to finish: {}", key,
                      d.status().ToString());
            return done(d.status());
          }
          done(Empty{});
        });
      });
    });
  });
}

// Points the table and the open handles at the new keys.
void FileSystem::Impl::ApplyRename(const Inode& src, const Inode& ndir, const std::string& new_name,
                                   const std::map<std::string, std::string>& new_etags,
                                   const ObjectInfo* file) {
  auto moved = table.Rename(src.ino, ndir, new_name);
  KnowGone(src.parent, src.name);
  std::map<InodeId, std::shared_ptr<Inode>> by_ino;
  for (auto& [old_inode, new_inode] : moved) {
    std::lock_guard l(new_inode->mu);
    if (new_inode->st.where == Locality::kWriting) new_inode->st.where = Locality::kRemote;
    if (!new_inode->is_dir()) {
      auto e = new_etags.find(old_inode->key);
      if (e != new_etags.end()) new_inode->st.etag = e->second;
      if (file != nullptr) Inode::ApplyRemote(new_inode->st, file, Expiry());
    }
    by_ino[old_inode->ino] = new_inode;
  }
  std::vector<std::shared_ptr<FileHandle>> open;
  {
    std::lock_guard l(handles_mu);
    for (auto* m : {&files, &closing}) {
      for (auto& [id, h] : *m) {
        if (by_ino.count(h->inode()->ino)) open.push_back(h);
      }
    }
  }
  for (auto& h : open) {  // no lock held across a handle's method
    auto e = new_etags.find(h->inode()->key);
    h->Moved(by_ino[h->inode()->ino]->key, e == new_etags.end() ? std::string() : e->second);
  }
}

void FileSystem::Impl::RenameDir(std::shared_ptr<Inode> src, std::shared_ptr<Inode> ndir,
                                 const std::string& new_name, std::shared_ptr<Inode> target,
                                 Callback<Empty> done) {
  auto m = std::make_shared<DirMove>();
  m->from = src->key;
  m->to = ChildKey(ndir->key, new_name, EntryKind::kDir);
  SettleWriters(m->from, true, [=, this](Result<Empty> s) {
    if (!s.ok()) return done(s.status());
    CheckTargetDir(m->from, m->to, target != nullptr, [=, this](Result<Empty> t) {
      if (!t.ok()) return done(t.status());
      ListForMove(m, "", [=, this](Result<Empty> l) {
        if (!l.ok()) return done(l.status());
        StartDirMove(m, [=, this](Result<Empty> r) {
          if (!r.ok()) {
            table.ClearNegative(ndir->ino, new_name);  // part of the move is there now
            return done(r.status());
          }
          ApplyRename(*src, *ndir, new_name, m->new_etags, nullptr);
          done(Empty{});
        });
      });
    });
  });
}

// An existing target directory must be empty, unless it is the target of this very
// rename, interrupted (its marker says so): then the rename resumes.
void FileSystem::Impl::CheckTargetDir(const std::string& from, const std::string& to, bool exists,
                                      Callback<Empty> done) {
  if (!exists) return done(Empty{});
  client->ListObjects({.prefix = to, .max_keys = 2}, [=, this](Result<ListObjectsResult> r) {
    if (!r.ok()) return done(r.status());
    bool empty = true;
    for (const ObjectInfo& o : r->objects) empty = empty && o.key == to;
    if (empty) return done(Empty{});
    client->HeadObject({to}, [=, this](Result<ObjectInfo> h) {
      auto it = h.ok() ? h->metadata.find(kRenameFromMeta) : Metadata::const_iterator();
      if (h.ok() && it != h->metadata.end() && it->second == from) return done(Empty{});
      done(Status(Code::kNotEmpty, "directory not empty: " + to));
    });
  });
}

void FileSystem::Impl::ListForMove(std::shared_ptr<DirMove> m, std::string token,
                                   Callback<Empty> done) {
  ListObjectsParams p;
  p.prefix = m->from;
  p.continuation_token = std::move(token);
  p.max_keys = kListPage;
  client->ListObjects(std::move(p), [=, this](Result<ListObjectsResult> r) {
    if (!r.ok()) return done(r.status());
    for (ObjectInfo& o : r->objects) m->objects.push_back(std::move(o));
    if (m->objects.size() > options.rename_max_objects) {
      return done(Status(Code::kCrossDevice, "directory has more than " +
                                                 std::to_string(options.rename_max_objects) +
                                                 " objects: moved file by file instead"));
    }
    if (r->truncated) return ListForMove(m, r->next_continuation_token, done);
    // The source's marker goes last: until then the old directory still shows.
    std::stable_partition(m->objects.begin(), m->objects.end(),
                          [&](const ObjectInfo& o) { return o.key != m->from; });
    done(Empty{});
  });
}

// Records the move in the target's marker, then moves each object (copy, then delete),
// the source's marker last, whose copy replaces the journal; without one, the journal goes.
void FileSystem::Impl::StartDirMove(std::shared_ptr<DirMove> m, Callback<Empty> done) {
  PutObjectParams journal;
  journal.key = m->to;
  journal.metadata[kRenameFromMeta] = m->from;
  client->PutObject(std::move(journal), [=, this](Result<PutObjectResult> j) {
    if (!j.ok()) return done(j.status());
    bool has_marker = !m->objects.empty() && m->objects.back().key == m->from;
    size_t others = m->objects.size() - (has_marker ? 1 : 0);
    auto move_one = [this, m](size_t i, Callback<Empty> finished) {
      const ObjectInfo& o = m->objects[i];
      std::string to = m->to + o.key.substr(m->from.size());
      CopyKey(o, to, [this, m, key = o.key, finished](Result<std::string> etag) {
        if (!etag.ok()) return finished(etag.status());
        {
          std::lock_guard l(m->mu);
          m->new_etags[key] = *etag;
        }
        client->DeleteObject({key}, [finished](Result<Empty> d) {
          if (!d.ok() && d.status().code() != Code::kNotFound) return finished(d.status());
          finished(Empty{});
        });
      });
    };
    int width = options.writer.max_parts_in_flight;
    RunBounded(others, width, move_one, [=, this](Result<Empty> r) {
      if (!r.ok()) return done(r.status());
      if (has_marker) return move_one(others, done);  // its copy replaces the journal
      client->DeleteObject({m->to}, [done](Result<Empty> d) {
        d.ok() || d.status().code() == Code::kNotFound ? done(Empty{}) : done(d.status());
      });
    });
  });
}

// Objects too large for CopyObject (or large enough to gain from parallel copies) are
// copied as a multipart upload of UploadPartCopy parts, keeping the source's metadata.
void FileSystem::Impl::CopyLarge(const ObjectInfo& from, const std::string& to,
                                 Callback<std::string> done) {
  client->HeadObject({from.key}, [this, from, to, done](Result<ObjectInfo> h) {
    if (!h.ok()) return done(h.status());
    if (!SameEtag(h->etag, from.etag)) {
      return done(Status(Code::kPreconditionFailed, "the object changed: " + from.key));
    }
    CreateMultipartUploadParams c;
    c.key = to;
    c.storage_class = options.writer.storage_class;
    c.metadata = h->metadata;
    client->CreateMultipartUpload(std::move(c), [=, this](Result<CreateMultipartUploadResult> u) {
      if (!u.ok()) return done(u.status());
      auto plan = std::make_shared<std::vector<PlannedPart>>(
          PlanUpload(from.size, from.size, ExtentSet(), options.writer.write_part_size));
      auto parts = std::make_shared<std::vector<CompletedPart>>(plan->size());
      std::string id = u->upload_id;
      auto copy_part = [=, this](size_t i, Callback<Empty> finished) {
        UploadPartCopyParams p;
        p.key = to;
        p.upload_id = id;
        p.part_number = static_cast<int>(i) + 1;
        p.source_key = from.key;
        p.source_if_match = from.etag;
        p.first_byte = (*plan)[i].start;
        p.last_byte = (*plan)[i].end - 1;
        client->UploadPartCopy(std::move(p), [parts, i, finished](Result<UploadPartResult> r) {
          if (!r.ok()) return finished(r.status());
          (*parts)[i] = r->part;  // each index is written by one task only
          finished(Empty{});
        });
      };
      auto abort = [this, to, id, done](Status why) {
        client->AbortMultipartUpload({to, id}, [why, done](Result<Empty>) { done(why); });
      };
      RunBounded(plan->size(), options.writer.max_parts_in_flight, copy_part,
                 [=, this](Result<Empty> r) {
                   if (!r.ok()) return abort(r.status());
                   CompleteMultipartUploadParams p;
                   p.key = to;
                   p.upload_id = id;
                   p.parts = *parts;
                   client->CompleteMultipartUpload(
                       std::move(p), [abort, done](Result<CompleteMultipartUploadResult> r) {
                         if (!r.ok()) return abort(r.status());
                         done(r->etag);
                       });
                 });
    });
  });
}

}  // namespace s3m
