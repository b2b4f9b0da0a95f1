// FileSystem: construction, the remote lookup of a name (a LIST; under --posix with a HEAD
// in parallel), attributes and kernel references. Which lookup a name needs is the
// metadata policy's (metadata_policy.h, file_system_meta.cc). Directory
// operations are in file_system_dir.cc, file operations in file_system_file.cc; shared
// state, threading and lock order in file_system_impl.h.
#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "fs/file_system_impl.h"
#include "fs/posix_meta.h"

namespace s3m {
namespace {

Status NotFound(const std::string& name) {
  return Status(Code::kNotFound, "no such file or directory: " + name);
}

Status StaleInode(InodeId ino) {
  return Status(Code::kStale, "unknown inode " + std::to_string(ino));
}

// How many keys one lookup LIST asks for. Keys that sort between "name" and "name/" (those
// continuing with one of the characters ! " # $ % & ' ( ) * + , - .) come back too; a few
// dozen cover nearly every directory, and more only costs a second, smaller LIST.
constexpr int kLookupListKeys = 64;

// Reads a lookup LIST of prefix `key` (delimiter '/'): the object `key` and the common
// prefix `key/` are what matter, and a directory wins over a file. Returns nullopt when the
// page ended before it could tell whether `key/` exists.
std::optional<RemoteEntry> DecideFromList(const std::string& key, const ListObjectsResult& list) {
  const std::string dir = key + "/";
  std::optional<ObjectInfo> file;
  std::string last;
  for (const ObjectInfo& o : list.objects) {
    if (o.key == key) file = o;
    last = std::max(last, o.key);
  }
  for (const std::string& cp : list.common_prefixes) {
    if (cp == dir) return RemoteEntry{true, EntryKind::kDir, {}};
    last = std::max(last, cp);
  }
  if (list.truncated && last < dir) return std::nullopt;
  if (file) return RemoteEntry{true, EntryKind::kFile, *file};
  return RemoteEntry{};
}

}  // namespace

FileSystem::Impl::Impl(ObjectClient* c, BufferPool* p, FsOptions o) : FsCore(c, p, std::move(o)) {}

Attr FileSystem::Impl::MakeAttr(const Inode& inode, const InodeState& s) const {
  Attr a;
  a.ino = inode.ino;
  a.is_dir = inode.is_dir();
  a.uid = options.uid;
  a.gid = options.gid;
  if (a.is_dir) {
    a.mode = S_IFDIR | options.dir_mode;
    a.nlink = 2;
    a.mtime_sec = s.where == Locality::kLocalDir ? s.mtime_sec : mount_time_sec;
  } else {
    a.mode = S_IFREG | options.file_mode;
    a.nlink = 1;
    a.size = s.size;
    a.mtime_sec = s.mtime_sec;
    a.mtime_nsec = s.mtime_nsec;
  }
  if (!options.posix || s.meta.empty()) return a;
  PosixAttrs p = ParsePosix(s.meta);
  a.mode = a.is_dir ? DirModeOf(p, options.dir_mode) : FileModeOf(p, options.file_mode);
  a.uid = p.uid.value_or(a.uid);
  a.gid = p.gid.value_or(a.gid);
  if (p.mtime_sec) {
    a.mtime_sec = *p.mtime_sec;
    a.mtime_nsec = p.mtime_nsec;
  }
  return a;
}

void FileSystem::Impl::RecordMeta(const std::shared_ptr<Inode>& inode, const Metadata& meta) {
  std::lock_guard l(inode->mu);
  Inode::ApplyMeta(inode->st, meta, Expiry());
}

std::chrono::nanoseconds FileSystem::Impl::EntryTtl(const InodeState& s) const {
  // A file being written grows with every write: let the kernel ask again.
  return s.where == Locality::kWriting ? std::chrono::nanoseconds::zero() : options.metadata_ttl;
}

// One LIST answers a lookup in the common case: it returns the object `name` with its
// size, ETag and time, and the common prefix `name/` if a directory exists, so a lookup
// costs one request (Mountpoint sends a HEAD and a LIST). Under --posix (listings carry no
// metadata) a HEAD of the file goes with the LIST, in parallel; a directory's marker is
// HEADed once the LIST says it is one.
void FileSystem::Impl::RemoteLookup(const std::string& parent_key, const std::string& name,
                                    Callback<RemoteEntry> done) {
  std::string key = parent_key + name;
  if (!options.posix) return ListLookup(key, std::move(done));
  struct Join {
    std::mutex mu;
    int pending = 2;                          // GUARDED_BY(mu)
    std::optional<Result<RemoteEntry>> list;  // GUARDED_BY(mu)
    std::optional<Result<ObjectInfo>> head;   // GUARDED_BY(mu)
  };
  auto j = std::make_shared<Join>();
  // Runs once, after both answered: no lock needed to read them.
  auto both = [this, key, j, done] {
    Result<RemoteEntry> r = std::move(*j->list);
    if (!r.ok() || !r->found) return done(std::move(r));
    if (r->kind == EntryKind::kDir) return HeadMeta(key, std::move(*r), done);
    ApplyHead(std::move(*j->head), *r, done);
  };
  ListLookup(key, [j, both](Result<RemoteEntry> r) {
    {
      std::lock_guard l(j->mu);
      j->list = std::move(r);
      if (--j->pending > 0) return;
    }
    both();
  });
  client->HeadObject({key}, [j, both](Result<ObjectInfo> r) {
    {
      std::lock_guard l(j->mu);
      j->head = std::move(r);
      if (--j->pending > 0) return;
    }
    both();
  });
}

void FileSystem::Impl::HeadMeta(const std::string& key, RemoteEntry e, Callback<RemoteEntry> done) {
  bool dir = e.kind == EntryKind::kDir;
  client->HeadObject({dir ? key + "/" : key}, [this, e, done](Result<ObjectInfo> r) mutable {
    ApplyHead(std::move(r), e, done);
  });
}

// The HEAD also refreshes a file's size and ETag. A directory without a marker (implied by
// its keys) has no metadata: the mount's defaults.
void FileSystem::Impl::ApplyHead(Result<ObjectInfo> r, RemoteEntry& e,
                                 const Callback<RemoteEntry>& done) {
  bool dir = e.kind == EntryKind::kDir;
  if (!r.ok() && r.status().code() != Code::kNotFound) return done(r.status());
  if (r.ok() && dir) {
    e.info.metadata = std::move(r->metadata);
  } else if (r.ok()) {
    std::string key = std::move(e.info.key);
    e.info = std::move(*r);
    e.info.key = std::move(key);
  }
  e.meta_known = r.ok() || dir;  // a file gone since the LIST: its metadata is unknown
  done(std::move(e));
}

void FileSystem::Impl::ListLookup(const std::string& key, Callback<RemoteEntry> done) {
  ListObjectsParams lp;
  lp.prefix = key;
  lp.delimiter = "/";
  lp.max_keys = kLookupListKeys;
  client->ListObjects(std::move(lp), [this, key, done](Result<ListObjectsResult> r) {
    if (!r.ok()) return done(r.status());
    if (auto entry = DecideFromList(key, *r)) return done(*entry);
    // Many keys sort between "name" and "name/": ask about the directory alone.
    std::optional<ObjectInfo> file;
    for (const ObjectInfo& o : r->objects) {
      if (o.key == key) file = o;
    }
    ListObjectsParams dp;
    dp.prefix = key + "/";
    dp.max_keys = 1;
    client->ListObjects(std::move(dp), [file, done](Result<ListObjectsResult> d) {
      if (!d.ok()) return done(d.status());
      if (!d->objects.empty() || !d->common_prefixes.empty()) {
        return done(RemoteEntry{true, EntryKind::kDir, {}});
      }
      if (file) return done(RemoteEntry{true, EntryKind::kFile, *file});
      done(RemoteEntry{});
    });
  });
}

Status FileSystem::Impl::CheckDir(const std::shared_ptr<Inode>& dir, InodeId ino) const {
  if (dir == nullptr) return StaleInode(ino);
  if (!dir->is_dir()) return Status(Code::kNotDirectory, "not a directory: " + dir->name);
  return Status::Ok();
}

Status FileSystem::Impl::CheckNewName(const std::string& name) const {
  switch (CheckName(name)) {
    case NameCheck::kOk:
      return Status::Ok();
    case NameCheck::kTooLong:
      return Status(Code::kNameTooLong, "name longer than 255 bytes");
    case NameCheck::kInvalid:
      break;
  }
  return Status(Code::kInvalidArgument, "invalid file name: " + name);
}

FileSystem::FileSystem(ObjectClient* client, BufferPool* pool, FsOptions options)
    : impl_(std::make_unique<Impl>(client, pool, std::move(options))) {}

FileSystem::~FileSystem() {
  DrainUploads();
  impl_->ReapClosed();
}

void FileSystem::Lookup(InodeId parent, const std::string& name, Callback<Entry> done) {
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (s.ok()) {
    s = impl_->CheckNewName(name);
    if (s.code() == Code::kInvalidArgument) s = NotFound(name);  // hidden names do not exist
  }
  if (!s.ok()) return done(s);
  impl_->Resolve(std::move(dir), name, /*count=*/true,
                 [impl = impl_.get(), done](Result<std::shared_ptr<Inode>> r) {
                   if (!r.ok()) return done(r.status());
                   InodeState st = (*r)->Snapshot();
                   done(Entry{impl->MakeAttr(**r, st), impl->EntryTtl(st)});
                 });
}

void FileSystem::AddLookup(InodeId ino) {
  impl_->table.AddLookup(ino);
}

void FileSystem::Forget(InodeId ino, uint64_t nlookup) {
  impl_->table.Forget(ino, nlookup);
}

void FileSystem::GetAttr(InodeId ino, Callback<Attr> done) {
  std::shared_ptr<Inode> inode = impl_->table.Get(ino);
  if (inode == nullptr) return done(StaleInode(ino));
  InodeState st = inode->Snapshot();
  // The root has no object (nor metadata) of its own.
  bool meta_ok = !impl_->options.posix || ino == kRootInode || Inode::MetaFresh(st, impl_->Now());
  if (Inode::Fresh(st, impl_->Now()) && meta_ok) return done(impl_->MakeAttr(*inode, st));
  if (!inode->is_dir() && st.where == Locality::kRemote && st.open_handles > 0) {
    // A file open for reading is the version it reads (its name may have moved on to a new
    // one): its own attributes, at no request. The kernel asks for them at the end of every
    // read once they are older than the TTL (to see whether the file grew), which cost each
    // file read for longer than the TTL a LIST. A `stat` of the path still sees the current
    // object: the kernel looks the name up again first (entries expire with attributes).
    return done(impl_->MakeAttr(*inode, st));
  }
  // A file is revalidated by a HEAD of its key, a directory by a LIST (metadata_policy.h).
  auto answer = [impl = impl_.get(), inode, done](Result<RemoteEntry> r) {
    if (!r.ok()) return done(r.status());
    if (!r->found || r->kind != inode->kind) {
      // Gone, or now of the other kind (a new inode will answer the next lookup).
      impl->table.RemoveName(inode->parent, inode->name, inode.get(), /*keep_local=*/true,
                             /*gone=*/!r->found);
      return done(NotFound(inode->name));
    }
    InodeState now;
    bool changed_while_open = false;
    {
      std::lock_guard l(inode->mu);
      changed_while_open = !inode->is_dir() && ChangedWhileOpen(inode->st, r->info.etag);
      if (inode->st.where == Locality::kRemote && !changed_while_open) {
        // The same ETag: the cached attributes stand (a HEAD's time has whole seconds, a
        // listing's milliseconds: stat must not flicker between them).
        bool same = !inode->is_dir() && SameEtag(inode->st.etag, r->info.etag);
        if (same) {
          inode->st.expiry = impl->Expiry();
        } else {
          Inode::ApplyRemote(inode->st, inode->is_dir() ? nullptr : &r->info, impl->Expiry());
        }
        if (r->meta_known) Inode::ApplyMeta(inode->st, r->info.metadata, impl->Expiry());
      }
      now = inode->st;
    }
    // The open files keep this inode and version; the next lookup gives the name a new one.
    if (changed_while_open) {
      impl->table.RemoveName(inode->parent, inode->name, inode.get(), /*keep_local=*/true);
    }
    done(impl->MakeAttr(*inode, now));
  };
  if (inode->is_dir()) return impl_->RemoteLookup(inode->parent_key(), inode->name, answer);
  impl_->HeadRemote(inode->key, answer);
}

void FileSystem::SetAttr(InodeId ino, const Attr& want, unsigned to_set, uint64_t handle,
                         Callback<Attr> done) {
  std::shared_ptr<Inode> inode = impl_->table.Get(ino);
  if (inode == nullptr) return done(StaleInode(ino));
  if (impl_->options.read_only) return done(Status(Code::kReadOnly, "read-only mount"));
  // Without --posix, modes, owners and times are accepted and not kept, so that tar -x,
  // cp -a and rsync -a run: S3 objects have none (docs/SEMANTICS.md).
  bool meta = impl_->options.posix && (to_set & ~kSetSize) != 0;
  Impl* impl = impl_.get();
  auto then = [impl, inode, want, to_set, meta, done](Result<Empty> r) {
    if (!r.ok()) return done(r.status());
    if (!meta) return done(impl->MakeAttr(*inode));
    impl->ChangeMeta(inode, want, to_set, done);
  };
  if ((to_set & kSetSize) == 0) return then(Empty{});
  if (inode->is_dir()) return done(Status(Code::kIsDirectory, "cannot truncate a directory"));
  impl->Truncate(inode, want.size, handle, then);
}

FsStats FileSystem::Stats() const {
  FsStats s;
  s.inodes = impl_->table.size();
  std::lock_guard l(impl_->handles_mu);
  s.open_handles = impl_->files.size() + impl_->dirs.size();
  return s;
}

}  // namespace s3m
