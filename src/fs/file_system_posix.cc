// FileSystem under --posix: modes, owners and times kept in object metadata (s3fs-fuse's
// format, posix_meta.h), symlinks, and the HEADs that learn metadata for listings.
// Where each attribute is stored and what each operation costs: docs/SEMANTICS.md.
// Threading and lock order: see file_system_impl.h.
#include <sys/stat.h>

#include <algorithm>

#include "fs/bounded_runner.h"
#include "fs/file_system_impl.h"
#include "fs/posix_meta.h"

namespace s3m {
namespace {

// HEADs in flight for one listing page: enough to hide the round trips of a 1,000-key page
// (s3fs sends them unbounded), few enough not to swamp the connection pool.
constexpr int kListHeadsInFlight = 32;
constexpr uint32_t kPermBits = 07777;

// Applies a setattr's changes to `m`; a file keeps its type bits (regular or symlink).
void ApplyChanges(Metadata& m, const Attr& want, unsigned to_set, bool dir, int64_t now) {
  if (to_set & FileSystem::kSetMode) {
    uint32_t perm = want.mode & kPermBits;
    uint32_t type = dir ? 0 : (IsSymlink(ParsePosix(m)) ? S_IFLNK : S_IFREG);
    SetModeMeta(m, type | perm);
  }
  if (to_set & FileSystem::kSetUid) SetUidMeta(m, want.uid);
  if (to_set & FileSystem::kSetGid) SetGidMeta(m, want.gid);
  if (to_set & FileSystem::kSetMtimeNow) {
    SetMtimeMeta(m, now);
  } else if (to_set & FileSystem::kSetMtime) {
    SetMtimeMeta(m, want.mtime_sec);
  }
}

bool ChangesMtime(unsigned to_set) {
  return (to_set & (FileSystem::kSetMtime | FileSystem::kSetMtimeNow)) != 0;
}

}  // namespace

Metadata FileSystem::Impl::NewMeta(uint32_t mode, const std::optional<Owner>& owner) const {
  Metadata m;
  SetModeMeta(m, mode);
  SetMtimeMeta(m, WallSeconds());
  if (owner) {
    SetUidMeta(m, owner->uid);
    SetGidMeta(m, owner->gid);
  }
  return m;
}

void FileSystem::Impl::InitMeta(const std::shared_ptr<Inode>& inode, uint32_t mode,
                                const std::optional<Owner>& owner) {
  std::lock_guard l(inode->mu);
  inode->st.meta = NewMeta(mode, owner);
  inode->st.meta_known = true;
}

void FileSystem::Impl::ChangeMeta(std::shared_ptr<Inode> inode, const Attr& want, unsigned to_set,
                                  Callback<Attr> done) {
  // The root has no object of its own (its marker would be the mount prefix): not kept.
  if (inode->ino == kRootInode) return done(MakeAttr(*inode));
  bool writing = false;
  {
    std::lock_guard l(inode->mu);
    if (inode->st.where == Locality::kWriting) {
      writing = true;
      ApplyChanges(inode->st.meta, want, to_set, inode->is_dir(), WallSeconds());
      inode->st.meta_known = true;
      if (ChangesMtime(to_set)) inode->st.mtime_explicit = true;
    }
  }
  if (writing) {
    // The handle writing the file (open, or closed and still uploading) stores it.
    std::vector<std::shared_ptr<FileHandle>> writers;
    {
      std::lock_guard l(handles_mu);
      for (auto* m : {&files, &closing}) {
        for (auto& [id, h] : *m) {
          if (h->inode() == inode && h->Size().has_value()) writers.push_back(h);
        }
      }
    }
    for (auto& w : writers) {
      if (w->MetadataChanged()) return done(MakeAttr(*inode));
    }
  }
  StoreMeta(std::move(inode), want, to_set, std::move(done));
}

// A file's metadata is replaced by a CopyObject onto itself (if its ETag is still the one
// known); a directory's marker is written anew (it holds no data), created if missing.
void FileSystem::Impl::StoreMeta(std::shared_ptr<Inode> inode, const Attr& want, unsigned to_set,
                                 Callback<Attr> done) {
  auto with = [this, inode, want, to_set, done](Metadata m, std::string etag) {
    ApplyChanges(m, want, to_set, inode->is_dir(), WallSeconds());
    auto stored = [this, inode, m, done](const std::string& new_etag) {
      {
        std::lock_guard l(inode->mu);
        if (!new_etag.empty()) inode->st.etag = new_etag;
        if (inode->st.where == Locality::kLocalDir) inode->st.where = Locality::kRemote;
        Inode::ApplyMeta(inode->st, m, Expiry());
      }
      done(MakeAttr(*inode));
    };
    if (inode->is_dir()) {
      PutObjectParams p;
      p.key = inode->key;
      p.storage_class = options.writer.storage_class;
      p.metadata = m;
      p.content_type = kDirContentType;
      return client->PutObject(std::move(p), [stored, done](Result<PutObjectResult> r) {
        if (!r.ok()) return done(r.status());
        stored("");
      });
    }
    CopyObjectParams p;
    p.source_key = p.dest_key = inode->key;
    p.source_if_match = etag;
    p.replace_metadata = true;
    p.metadata = m;
    p.storage_class = options.writer.storage_class;
    client->CopyObject(std::move(p), [stored, done](Result<CopyObjectResult> r) {
      if (!r.ok()) return done(r.status());
      stored(r->etag);
    });
  };
  InodeState st = inode->Snapshot();
  if (Inode::MetaFresh(st, Now()) && (inode->is_dir() || !st.etag.empty())) {
    return with(st.meta, st.etag);
  }
  client->HeadObject({inode->key}, [this, inode, with, done](Result<ObjectInfo> r) {
    if (!r.ok() && (r.status().code() != Code::kNotFound || !inode->is_dir())) {
      return done(r.status());
    }
    if (!r.ok()) return with(Metadata{}, "");  // a directory without a marker
    if (!inode->is_dir()) {
      std::lock_guard l(inode->mu);
      Inode::ApplyRemote(inode->st, &*r, Expiry());
    }
    with(r->metadata, r->etag);
  });
}

void FileSystem::Impl::HeadListed(const Inode& dir, std::vector<ListedEntry> listed,
                                  Callback<std::vector<ListedEntry>> done) {
  auto entries = std::make_shared<std::vector<ListedEntry>>(std::move(listed));
  auto todo = std::make_shared<std::vector<size_t>>();
  MonoTime now = Now();
  for (size_t i = 0; i < entries->size(); i++) {
    const ListedEntry& e = (*entries)[i];
    std::shared_ptr<Inode> known = table.Find(dir.ino, e.name);
    if (known != nullptr && known->kind == e.kind) {
      InodeState st = known->Snapshot();
      bool same = e.kind == EntryKind::kDir || SameEtag(st.etag, e.info.etag);
      if (same && Inode::MetaFresh(st, now)) continue;  // cached for the metadata TTL
    }
    todo->push_back(i);
  }
  if (todo->empty()) return done(std::move(*entries));
  std::string dir_key = dir.key;
  auto head = [this, entries, todo, dir_key](size_t k, Callback<Empty> finished) {
    ListedEntry& e = (*entries)[(*todo)[k]];
    RemoteEntry re{true, e.kind, e.info, false};
    // Each task writes its own entry; RunBounded's end orders them before `done`.
    HeadMeta(dir_key + e.name, std::move(re), [&e, finished](Result<RemoteEntry> r) {
      if (r.ok()) {
        e.info = std::move(r->info);
        e.meta_known = r->meta_known;
      }
      finished(Empty{});  // an entry whose HEAD failed shows the defaults
    });
  };
  RunBounded(todo->size(), kListHeadsInFlight, head,
             [entries, done](Result<Empty>) { done(std::move(*entries)); });
}

void FileSystem::Symlink(InodeId parent, const std::string& name, const std::string& target,
                         Callback<Entry> done, std::optional<Owner> owner) {
  if (!impl_->options.posix) {
    return done(Status(Code::kPermission, "symbolic links need a mount with --posix"));
  }
  if (impl_->options.read_only) return done(Status(Code::kReadOnly, "read-only mount"));
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (s.ok()) s = impl_->CheckNewName(name);
  if (s.ok() && (target.empty() || target.size() > kMaxLinkTarget)) {
    s = Status(Code::kNameTooLong, "symbolic link target empty or too long");
  }
  if (!s.ok()) return done(s);
  Impl* impl = impl_.get();
  impl->Resolve(
      dir, name, false, [impl, dir, name, target, owner, done](Result<std::shared_ptr<Inode>> r) {
        if (r.ok()) return done(Status(Code::kExists, "file exists: " + name));
        if (r.status().code() != Code::kNotFound) return done(r.status());
        auto body = std::make_shared<const std::string>(target);
        Metadata meta = impl->NewMeta(kSymlinkMode, owner);
        PutObjectParams p;
        p.key = ChildKey(dir->key, name, EntryKind::kFile);
        p.data = body->data();
        p.size = body->size();
        p.storage_class = impl->options.writer.storage_class;
        p.checksum = impl->options.writer.checksum;
        p.metadata = meta;
        std::string key = p.key;
        impl->client->PutObject(
            std::move(p), [impl, dir, name, body, meta, key, done](Result<PutObjectResult> put) {
              if (!put.ok()) return done(put.status());
              ObjectInfo info{key, body->size(), put->etag, impl->WallSeconds(), 0, {}, {}};
              std::shared_ptr<Inode> inode =
                  impl->table.Upsert(*dir, name, EntryKind::kFile, &info, impl->Expiry(), true);
              {
                std::lock_guard l(inode->mu);
                Inode::ApplyMeta(inode->st, meta, impl->Expiry());
                inode->st.link_target = *body;
              }
              impl->table.MarkAncestorsRemote(*inode, impl->Expiry());
              InodeState st = inode->Snapshot();
              done(Entry{impl->MakeAttr(*inode, st), impl->EntryTtl(st)});
            });
      });
}

void FileSystem::Readlink(InodeId ino, Callback<std::string> done) {
  std::shared_ptr<Inode> inode = impl_->table.Get(ino);
  if (inode == nullptr) return done(Status(Code::kStale, "unknown inode"));
  InodeState st = inode->Snapshot();
  if (!impl_->options.posix || inode->is_dir() || !IsSymlink(ParsePosix(st.meta))) {
    return done(Status(Code::kInvalidArgument, "not a symbolic link: " + inode->name));
  }
  if (!st.link_target.empty()) return done(st.link_target);
  uint64_t size = std::min<uint64_t>(st.size, kMaxLinkTarget);
  if (size == 0) return done(Status(Code::kInvalidArgument, "empty symbolic link"));
  auto buf = std::make_shared<std::string>(size, '\0');
  GetObjectParams p;
  p.key = inode->key;
  p.length = size;
  p.if_match = st.etag;
  p.buffer = buf->data();
  impl_->client->GetObject(std::move(p),
                           [inode, buf, etag = st.etag, done](Result<GetObjectResult> r) {
                             if (!r.ok()) return done(r.status());
                             buf->resize(r->bytes);
                             {
                               std::lock_guard l(inode->mu);
                               if (SameEtag(inode->st.etag, etag)) inode->st.link_target = *buf;
                             }
                             done(*buf);
                           });
}

}  // namespace s3m
