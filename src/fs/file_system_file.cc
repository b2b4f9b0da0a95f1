// FileSystem file operations: open (a ReadHandle pinned to the ETag seen at open, or a
// StreamWriteHandle), create, the table of open files that read, write, flush, fsync and
// release are dispatched through, unlink, and draining uploads at unmount. Threading and
// lock order: see file_system_impl.h.
#include <fcntl.h>
#include <sys/stat.h>

#include "common/log.h"
#include "fs/adaptive_handle.h"
#include "fs/file_system_impl.h"
#include "fs/read_handle.h"
#include "fs/staged_handle.h"
#include "fs/write_handle.h"

namespace s3m {
namespace {

Status BadHandle(const char* why) {
  return Status(Code::kBadHandle, why);
}
Status ReadOnly() {
  return Status(Code::kReadOnly, "read-only mount (--read-only)");
}
Status BeingWritten() {
  return Status(Code::kPermission, "the file is being written; open it again after close");
}

}  // namespace

uint64_t FileSystem::Impl::AddFileHandle(std::shared_ptr<FileHandle> h) {
  std::lock_guard l(handles_mu);
  uint64_t id = next_handle++;
  files[id] = std::move(h);
  return id;
}

std::shared_ptr<FileHandle> FileSystem::Impl::GetFileHandle(uint64_t handle, InodeId ino) {
  std::lock_guard l(handles_mu);
  auto it = files.find(handle);
  if (it == files.end() || it->second->inode()->ino != ino) return nullptr;
  return it->second;
}

std::shared_ptr<FileHandle> FileSystem::Impl::TakeFileHandle(uint64_t handle, InodeId ino) {
  std::lock_guard l(handles_mu);
  auto it = files.find(handle);
  if (it == files.end() || it->second->inode()->ino != ino) return nullptr;
  std::shared_ptr<FileHandle> h = std::move(it->second);
  files.erase(it);
  return h;
}

void FileSystem::Impl::ReapClosed() {
  std::vector<std::shared_ptr<FileHandle>> dead;
  {
    std::lock_guard l(handles_mu);
    dead.swap(reap);
  }
}

// The inode lets go of its name and the open fails with ESTALE, on which the kernel walks
// the path again with revalidation (once): that lookup gives the name a new inode, which
// the open then uses, while the files already open keep the old one.
Status FileSystem::Impl::RetryOnNewInode(const Inode& inode) {
  table.RemoveName(inode.parent, inode.name, &inode, /*keep_local=*/true);
  return Status(Code::kStale, "the object changed while open: open it again (" + inode.key + ")");
}

void FileSystem::Impl::CurrentVersion(std::shared_ptr<Inode> inode, Callback<ObjectInfo> done) {
  InodeState st = inode->Snapshot();
  if (st.where == Locality::kWriting) return done(BeingWritten());
  // A fresh ETag from a lookup or listing saves the HEAD: open + read costs one GET.
  // (--posix: the metadata too, which a new version of the file keeps.)
  bool meta_ok = !options.posix || Inode::MetaFresh(st, Now());
  if (Inode::Fresh(st, Now()) && !st.etag.empty() && meta_ok) {
    ObjectInfo info;
    info.key = inode->key;
    info.etag = st.etag;
    info.size = st.size;
    return done(info);
  }
  client->HeadObject({inode->key}, [this, inode, done](Result<ObjectInfo> r) {
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) {
        table.RemoveName(inode->parent, inode->name, inode.get(), /*keep_local=*/true, /*gone=*/true);
      }
      return done(r.status());
    }
    bool changed_while_open = false;
    {
      std::lock_guard l(inode->mu);
      changed_while_open = ChangedWhileOpen(inode->st, r->etag);
      if (!changed_while_open && inode->st.where == Locality::kRemote) {
        Inode::ApplyRemote(inode->st, &*r, Expiry());
        Inode::ApplyMeta(inode->st, r->metadata, Expiry());
      }
    }
    if (changed_while_open) return done(RetryOnNewInode(*inode));
    done(std::move(r));
  });
}

void FileSystem::Impl::OpenForRead(std::shared_ptr<Inode> inode, Callback<OpenResult> done) {
  CurrentVersion(inode, [this, inode, done](Result<ObjectInfo> r) {
    if (!r.ok()) return done(r.status());
    bool keep_pages = false;
    {
      std::lock_guard l(inode->mu);
      if (inode->st.where == Locality::kWriting) return done(BeingWritten());
      inode->st.open_handles++;
      // One inode, one version at a time (ChangedWhileOpen), so pages of this ETag are
      // this version's bytes.
      keep_pages = !inode->st.pages_etag.empty() && SameEtag(inode->st.pages_etag, r->etag);
      inode->st.pages_etag = r->etag;
    }
    auto reader =
        std::make_unique<ObjectReader>(client, pool, options.reader, inode->key, r->etag, r->size);
    done(OpenResult{AddFileHandle(std::make_shared<ReadHandle>(inode, std::move(reader))), false,
                    keep_pages, r->size});
  });
}

// Takes the inode for a writer: false (and `why` set) when another writer has it, or when
// handles read it (the new version then gets an inode of its own, see ChangedWhileOpen:
// its pages must not reach the files still reading the old one).
bool FileSystem::Impl::ClaimForWriting(const std::shared_ptr<Inode>& inode, bool truncate,
                                       Status* why) {
  bool open_for_reading = false;
  {
    std::lock_guard l(inode->mu);
    if (inode->st.where == Locality::kWriting) {
      *why = BeingWritten();
      return false;
    }
    open_for_reading = inode->st.open_handles > 0;
    if (!open_for_reading) {
      inode->st.where = Locality::kWriting;
      inode->st.pages_etag.clear();
      if (truncate) inode->st.size = 0;
      inode->st.open_handles++;
    }
  }
  if (open_for_reading) *why = RetryOnNewInode(*inode);
  return !open_for_reading;
}

void FileSystem::Impl::OpenForWrite(std::shared_ptr<Inode> inode, int flags,
                                    Callback<OpenResult> done) {
  if (options.read_only) return done(ReadOnly());
  if (!options.allow_overwrite && !options.incremental_upload) {
    return done(Status(Code::kPermission,
                       "changing an object needs --allow-overwrite or --incremental-upload"));
  }
  Status why;
  bool truncate = (flags & O_TRUNC) != 0;
  // Sequential writes of a whole new version stream; anything else is staged.
  if (truncate && (flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND) == 0) {
    if (!ClaimForWriting(inode, true, &why)) return done(why);
    return done(
        OpenResult{AddFileHandle(std::make_shared<StreamWriteHandle>(inode, *this)), false, false});
  }
  CurrentVersion(inode, [this, inode, truncate, done](Result<ObjectInfo> r) {
    if (!r.ok()) return done(r.status());
    Status why;
    if (!ClaimForWriting(inode, truncate, &why)) return done(why);
    auto h = StagedHandle::Open(inode, *this, &*r);
    if (h.ok() && truncate) {
      Status t = (*h)->Truncate(0);
      if (!t.ok()) h = t;
    }
    if (!h.ok()) {
      {
        std::lock_guard l(inode->mu);
        inode->st.where = Locality::kRemote;
        inode->st.expiry = MonoTime::min();
      }
      table.CloseHandle(inode);
      return done(h.status());
    }
    done(OpenResult{AddFileHandle(std::move(*h)), false, false});
  });
}

void FileSystem::Open(InodeId ino, int flags, Callback<OpenResult> done) {
  impl_->ReapClosed();
  std::shared_ptr<Inode> inode = impl_->table.Get(ino);
  if (inode == nullptr) return done(Status(Code::kStale, "unknown inode"));
  if (inode->is_dir()) return done(Status(Code::kIsDirectory, "is a directory: " + inode->name));
  int access = flags & O_ACCMODE;
  // Without --allow-overwrite, O_RDWR without O_TRUNC opens an existing object for reading
  // only (writes: kBadHandle), as in Mountpoint.
  bool may_change = impl_->options.allow_overwrite || impl_->options.incremental_upload;
  bool write = access == O_WRONLY || (access == O_RDWR && (may_change || (flags & O_TRUNC) != 0));
  if (!write) return impl_->OpenForRead(std::move(inode), std::move(done));
  impl_->OpenForWrite(std::move(inode), flags, std::move(done));
}

void FileSystem::Create(InodeId parent, const std::string& name, uint32_t mode, int flags,
                        Callback<CreateResult> done, std::optional<Owner> owner) {
  impl_->ReapClosed();
  if (impl_->options.read_only) return done(ReadOnly());
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (s.ok()) s = impl_->CheckNewName(name);
  if (!s.ok()) return done(s);
  Impl* impl = impl_.get();
  impl->Resolve(dir, name, /*count=*/false,
                [impl, dir, name, mode, flags, owner, done](Result<std::shared_ptr<Inode>> r) {
                  if (r.ok()) return done(Status(Code::kExists, "file exists: " + name));
                  if (r.status().code() != Code::kNotFound) return done(r.status());
                  std::shared_ptr<Inode> inode =
                      impl->table.InsertLocal(*dir, name, EntryKind::kFile, Locality::kWriting, 1);
                  if (inode == nullptr) return done(Status(Code::kExists, "file exists: " + name));
                  if (impl->options.posix) impl->InitMeta(inode, S_IFREG | (mode & 07777), owner);
                  // New files stream, and turn staged when they must (adaptive_handle.h).
                  bool readable = (flags & O_ACCMODE) == O_RDWR;
                  uint64_t id =
                      impl->AddFileHandle(std::make_shared<AdaptiveHandle>(inode, *impl, readable));
                  InodeState st = inode->Snapshot();
                  done(CreateResult{Entry{impl->MakeAttr(*inode, st), impl->EntryTtl(st)}, id});
                });
}

void FileSystem::Read(InodeId ino, uint64_t handle, uint64_t offset, uint64_t size,
                      std::function<void(Result<ReadData>)> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  h->Read(offset, size, std::move(done));
}

Result<uint64_t> FileSystem::Write(InodeId ino, uint64_t handle, uint64_t offset, const char* data,
                                   uint64_t size) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return BadHandle("unknown file handle");
  return h->Write(offset, data, size);
}

void FileSystem::Flush(InodeId ino, uint64_t handle, Callback<Empty> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  h->Flush(std::move(done));
}

void FileSystem::Fsync(InodeId ino, uint64_t handle, Callback<Empty> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  h->Fsync(std::move(done));
}

void FileSystem::Release(InodeId ino, uint64_t handle, Callback<Empty> done) {
  impl_->ReleaseHandle(ino, handle, std::move(done));
}

void FileSystem::Impl::ReleaseHandle(InodeId ino, uint64_t handle, Callback<Empty> done) {
  std::shared_ptr<FileHandle> h = TakeFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  {
    std::lock_guard l(handles_mu);
    closing[handle] = h;
  }
  h->Close([this, handle](Result<Empty>) {
    // Destroyed later on a caller's thread: this may run inside the handle's own upload.
    std::lock_guard l(handles_mu);
    auto it = closing.find(handle);
    reap.push_back(std::move(it->second));
    closing.erase(it);
  });
  table.CloseHandle(h->inode());
  h.reset();
  ReapClosed();
  done(Empty{});
}

std::shared_ptr<FileHandle> FileSystem::Impl::WriterOf(const Inode& inode) {
  std::lock_guard l(handles_mu);
  for (auto& [id, h] : files) {
    if (h->inode().get() == &inode && h->Size().has_value()) return h;
  }
  return nullptr;
}

void FileSystem::Impl::Truncate(std::shared_ptr<Inode> inode, uint64_t size, uint64_t handle,
                                Callback<Empty> done) {
  std::shared_ptr<FileHandle> h =
      handle != 0 ? GetFileHandle(handle, inode->ino) : WriterOf(*inode);
  if (handle != 0 && h == nullptr) return done(BadHandle("unknown file handle"));
  if (h != nullptr) {
    Status s = h->Truncate(size);
    return s.ok() ? done(Empty{}) : done(s);
  }
  // A file no one has open: open it, truncate, and commit the new version at once.
  InodeId ino = inode->ino;
  OpenForWrite(inode, O_RDWR, [this, ino, size, done](Result<OpenResult> o) {
    if (!o.ok()) return done(o.status());
    std::shared_ptr<FileHandle> h = GetFileHandle(o->handle, ino);
    Status t = h->Truncate(size);
    if (!t.ok()) {
      TakeFileHandle(o->handle, ino)->Discard();
      table.CloseHandle(h->inode());
      return done(t);
    }
    h->Flush([this, ino, id = o->handle, done](Result<Empty> f) {
      ReleaseHandle(ino, id, [](Result<Empty>) {});
      done(std::move(f));
    });
  });
}

void FileSystem::Discard(InodeId ino, uint64_t handle) {
  std::shared_ptr<FileHandle> h = impl_->TakeFileHandle(handle, ino);
  if (h == nullptr) return;
  h->Discard();
  impl_->table.CloseHandle(h->inode());
}

void FileSystem::Unlink(InodeId parent, const std::string& name, Callback<Empty> done) {
  if (impl_->options.read_only) return done(ReadOnly());
  if (!impl_->options.allow_delete) {
    return done(Status(Code::kPermission, "deleting needs a mount with --allow-delete"));
  }
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (!s.ok()) return done(s);
  if (!IsValidName(name)) return done(Status(Code::kNotFound, "no such file: " + name));
  Impl* impl = impl_.get();
  impl->Resolve(dir, name, false, [impl, parent, name, done](Result<std::shared_ptr<Inode>> r) {
    if (!r.ok()) return done(r.status());
    std::shared_ptr<Inode> inode = *r;
    if (inode->is_dir()) return done(Status(Code::kIsDirectory, "is a directory: " + name));
    if (inode->Snapshot().where == Locality::kWriting) {
      return done(Status(Code::kBusy, "the file is being written; close it first"));
    }
    impl->client->DeleteObject({inode->key}, [impl, parent, name, inode, done](Result<Empty> d) {
      if (!d.ok() && d.status().code() != Code::kNotFound) return done(d.status());
      impl->table.RemoveName(parent, name, inode.get(), /*keep_local=*/true, /*gone=*/true);
      impl->KnowGone(parent, name);
      done(Empty{});
    });
  });
}

void FileSystem::DrainUploads() {
  impl_->WaitForUploads();
  impl_->ReapClosed();
}

}  // namespace s3m
