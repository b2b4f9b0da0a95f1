// FileSystem file operations: open for reading (an ObjectReader pinned to the ETag seen
// at open) or writing (an ObjectWriter), create, read, write, flush/fsync/release (which
// complete uploads), unlink, and draining uploads at unmount. Threading and lock order:
// see file_system_impl.h.
#include <fcntl.h>

#include "common/log.h"
#include "fs/file_system_impl.h"

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

int64_t Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
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
  if (it == files.end() || it->second->inode->ino != ino) return nullptr;
  return it->second;
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

void FileSystem::Impl::OpenForRead(std::shared_ptr<Inode> inode, Callback<OpenResult> done) {
  auto start = [this, inode, done](const std::string& etag, uint64_t size) {
    {
      std::lock_guard l(inode->mu);
      if (inode->st.where == Locality::kWriting) return done(BeingWritten());
      inode->st.open_handles++;
    }
    auto h = std::make_shared<FileHandle>(inode, FileHandle::Mode::kRead);
    h->reader =
        std::make_unique<ObjectReader>(client, pool, options.reader, inode->key, etag, size);
    done(OpenResult{AddFileHandle(std::move(h)), false, false});
  };
  InodeState st = inode->Snapshot();
  if (st.where == Locality::kWriting) return done(BeingWritten());
  // A fresh ETag from a lookup or listing saves the HEAD: open + read costs one GET.
  if (Inode::Fresh(st, Now()) && !st.etag.empty()) return start(st.etag, st.size);
  client->HeadObject({inode->key}, [this, inode, start, done](Result<ObjectInfo> r) {
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) {
        table.RemoveName(inode->parent, inode->name, inode.get(), /*keep_local=*/true);
      }
      return done(r.status());
    }
    bool changed_while_open = false;
    {
      std::lock_guard l(inode->mu);
      changed_while_open = ChangedWhileOpen(inode->st, r->etag);
      if (!changed_while_open && inode->st.where == Locality::kRemote) {
        Inode::ApplyRemote(inode->st, &*r, Expiry());
      }
    }
    if (changed_while_open) return done(RetryOnNewInode(*inode));
    start(r->etag, r->size);
  });
}

Result<OpenResult> FileSystem::Impl::OpenForWrite(const std::shared_ptr<Inode>& inode, int flags) {
  if (options.read_only) return ReadOnly();
  if ((flags & O_APPEND) != 0) {
    return Status(Code::kNotSupported, "appending to an S3 object is not supported");
  }
  bool open_for_reading = false;
  {
    std::lock_guard l(inode->mu);
    if (inode->st.where == Locality::kWriting) return BeingWritten();
    if ((flags & O_TRUNC) == 0 || !options.allow_overwrite) {
      return Status(Code::kPermission,
                    "overwriting an object needs O_TRUNC and a mount with --allow-overwrite");
    }
    open_for_reading = inode->st.open_handles > 0;
    if (!open_for_reading) {
      inode->st.where = Locality::kWriting;
      inode->st.size = 0;
      inode->st.open_handles++;
    }
  }
  // The new object gets an inode of its own (see ChangedWhileOpen): its pages must not
  // reach the files still reading the old one.
  if (open_for_reading) return RetryOnNewInode(*inode);
  auto h = std::make_shared<FileHandle>(inode, FileHandle::Mode::kWrite);
  h->writer = std::make_unique<ObjectWriter>(client, pool, options.writer, inode->key);
  return OpenResult{AddFileHandle(std::move(h)), false, false};
}

void FileSystem::Open(InodeId ino, int flags, Callback<OpenResult> done) {
  impl_->ReapClosed();
  std::shared_ptr<Inode> inode = impl_->table.Get(ino);
  if (inode == nullptr) return done(Status(Code::kStale, "unknown inode"));
  if (inode->is_dir()) return done(Status(Code::kIsDirectory, "is a directory: " + inode->name));
  int access = flags & O_ACCMODE;
  // O_RDWR without O_TRUNC opens an existing object for reading only (writes: kBadHandle).
  bool write = access == O_WRONLY || (access == O_RDWR && (flags & O_TRUNC) != 0);
  if (!write) return impl_->OpenForRead(std::move(inode), std::move(done));
  done(impl_->OpenForWrite(inode, flags));
}

void FileSystem::Create(InodeId parent, const std::string& name, uint32_t /*mode*/, int /*flags*/,
                        Callback<CreateResult> done) {
  impl_->ReapClosed();
  if (impl_->options.read_only) return done(ReadOnly());
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (s.ok()) s = impl_->CheckNewName(name);
  if (!s.ok()) return done(s);
  Impl* impl = impl_.get();
  impl->Resolve(dir, name, /*count=*/false,
                [impl, dir, name, done](Result<std::shared_ptr<Inode>> r) {
                  if (r.ok()) return done(Status(Code::kExists, "file exists: " + name));
                  if (r.status().code() != Code::kNotFound) return done(r.status());
                  std::shared_ptr<Inode> inode =
                      impl->table.InsertLocal(*dir, name, EntryKind::kFile, Locality::kWriting, 1);
                  if (inode == nullptr) return done(Status(Code::kExists, "file exists: " + name));
                  auto h = std::make_shared<FileHandle>(inode, FileHandle::Mode::kWrite);
                  h->writer = std::make_unique<ObjectWriter>(impl->client, impl->pool,
                                                             impl->options.writer, inode->key);
                  uint64_t id = impl->AddFileHandle(std::move(h));
                  InodeState st = inode->Snapshot();
                  done(CreateResult{Entry{impl->MakeAttr(*inode, st), impl->EntryTtl(st)}, id});
                });
}

void FileSystem::Read(InodeId ino, uint64_t handle, uint64_t offset, uint64_t size,
                      std::function<void(Result<ReadData>)> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  if (h->mode != FileHandle::Mode::kRead) return done(BadHandle("file opened for writing"));
  h->reader->Read(offset, size, [inode = h->inode, done = std::move(done)](Result<ReadData> r) {
    Code c = r.status().code();
    if (c == Code::kStale || c == Code::kPreconditionFailed || c == Code::kNotFound) {
      // The object changed or went away since open: never mix two versions. What is cached
      // about it is stale too, so that opening it again asks S3 rather than waiting out the
      // metadata TTL.
      {
        std::lock_guard l(inode->mu);
        if (inode->st.where == Locality::kRemote) inode->st.expiry = MonoTime::min();
      }
      return done(Status(Code::kStale, "the object changed since it was opened; open it again"));
    }
    done(std::move(r));
  });
}

Result<uint64_t> FileSystem::Write(InodeId ino, uint64_t handle, uint64_t offset, const char* data,
                                   uint64_t size) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return BadHandle("unknown file handle");
  if (h->mode != FileHandle::Mode::kWrite) return BadHandle("file not opened for writing");
  std::lock_guard wl(h->write_mu);
  {
    std::lock_guard l(h->mu);
    if (!h->write_error.ok()) return h->write_error;
    if (h->upload != FileHandle::Upload::kOpen) {
      return BadHandle("the file was already committed by flush or fsync");
    }
  }
  if (offset != h->writer->bytes_written()) {
    return impl_->SpoilWrite(h, Status(Code::kInvalidArgument,
                                       "writes must be sequential from offset 0; the file "
                                       "will not be uploaded"));
  }
  if (offset == 0) {
    // After an empty flush the inode showed the empty object: it is being written again.
    std::lock_guard l(h->inode->mu);
    h->inode->st.where = Locality::kWriting;
  }
  Result<uint64_t> r = h->writer->Write(offset, data, size);
  if (!r.ok()) return impl_->SpoilWrite(h, r.status());
  std::lock_guard l(h->inode->mu);
  h->inode->st.size = h->writer->bytes_written();
  return r;
}

void FileSystem::Impl::FinishUpload(const std::shared_ptr<FileHandle>& h, uint64_t id,
                                    Callback<Empty> done) {
  {
    std::lock_guard l(h->mu);
    if (h->upload == FileHandle::Upload::kDone) {
      Status s = h->upload_status;
      if (s.ok()) return done(Empty{});
      return done(s);
    }
    h->finish_waiters.push_back(std::move(done));
    if (h->upload == FileHandle::Upload::kFinishing) return;
    h->upload = FileHandle::Upload::kFinishing;
  }
  Status spoiled;
  {
    std::lock_guard l(h->mu);
    spoiled = h->write_error;
  }
  if (!spoiled.ok()) {
    {
      std::lock_guard l(handles_mu);
      uploads_in_flight++;  // balanced by OnUploaded
    }
    return OnUploaded(h.get(), id, spoiled);
  }
  { std::lock_guard wl(h->write_mu); }  // a Write already inside the writer leaves it first
  {
    std::lock_guard l(handles_mu);
    uploads_in_flight++;
  }
  // The handle outlives the upload: it stays in `files` until Release, then in `closing`.
  h->writer->Finish([this, raw = h.get(), id](Result<ObjectInfo> r) { OnUploaded(raw, id, r); });
}

Status FileSystem::Impl::SpoilWrite(const std::shared_ptr<FileHandle>& h, Status error) {
  {
    std::lock_guard l(h->mu);
    if (h->write_error.ok()) h->write_error = error;
  }
  h->writer->Abort();  // drops the parts and aborts any multipart upload
  S3M_ERROR("write to {} failed, the file will not be uploaded: {}", h->inode->key,
            error.ToString());
  return error;
}

void FileSystem::Impl::CommitEmpty(const std::shared_ptr<FileHandle>& h, Callback<Empty> done) {
  PutObjectParams p;
  p.key = h->inode->key;
  p.storage_class = options.writer.storage_class;
  p.checksum = options.writer.checksum;
  client->PutObject(std::move(p), [this, h, done = std::move(done)](Result<PutObjectResult> r) {
    if (!r.ok()) return done(r.status());
    ObjectInfo info;
    info.key = h->inode->key;
    info.etag = r->etag;
    info.last_modified = Seconds(clock->Now());
    {
      std::lock_guard l(h->mu);
      h->empty_committed = true;
      h->empty_info = info;
    }
    {
      // The empty file now exists in S3: it can be unlinked, listed and opened like any
      // other until a write (if one comes) makes it a file being written again.
      std::lock_guard l(h->inode->mu);
      if (h->inode->st.where == Locality::kWriting && h->writer->bytes_written() == 0) {
        h->inode->st.where = Locality::kRemote;
        Inode::ApplyRemote(h->inode->st, &info, Expiry());
        h->inode->st.mtime_sec = info.last_modified;
      }
    }
    table.MarkAncestorsRemote(*h->inode, Expiry());
    done(Empty{});
  });
}

bool FileSystem::Impl::FinishCommittedEmpty(const std::shared_ptr<FileHandle>& h, uint64_t id) {
  ObjectInfo info;
  {
    std::lock_guard l(h->mu);
    if (!h->empty_committed || h->upload != FileHandle::Upload::kOpen ||
        h->writer->bytes_written() != 0 || !h->write_error.ok()) {
      return false;
    }
    h->upload = FileHandle::Upload::kFinishing;
    info = h->empty_info;
  }
  {
    std::lock_guard l(handles_mu);
    uploads_in_flight++;  // balanced by OnUploaded
  }
  OnUploaded(h.get(), id, info);
  return true;
}

void FileSystem::Impl::OnUploaded(FileHandle* h, uint64_t id, const Result<ObjectInfo>& r) {
  std::shared_ptr<Inode> inode = h->inode;
  {
    std::lock_guard l(inode->mu);
    inode->st.where = Locality::kRemote;
    if (r.ok()) {
      Inode::ApplyRemote(inode->st, &*r, Expiry());
      if (r->last_modified == 0) inode->st.mtime_sec = Seconds(clock->Now());
    } else {
      inode->st.expiry = MonoTime::min();  // ask S3 what is there (the old object, or none)
    }
  }
  if (r.ok()) {
    table.MarkAncestorsRemote(*inode, Expiry());
  } else {
    S3M_ERROR("upload of {} failed: {}", inode->key, r.status().ToString());
  }
  std::vector<Callback<Empty>> waiters;
  {
    std::lock_guard l(h->mu);  // the last use of `h`: Release may destroy it after this
    h->upload = FileHandle::Upload::kDone;
    h->upload_status = r.status();
    waiters.swap(h->finish_waiters);
  }
  for (auto& w : waiters) r.ok() ? w(Empty{}) : w(r.status());
  std::lock_guard l(handles_mu);
  auto it = closing.find(id);
  if (it != closing.end()) {
    reap.push_back(std::move(it->second));
    closing.erase(it);
  }
  uploads_in_flight--;
  uploads_cv.notify_all();
}

void FileSystem::Flush(InodeId ino, uint64_t handle, Callback<Empty> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  if (h->mode == FileHandle::Mode::kRead) return done(Empty{});
  // Shells open, dup2 and close a descriptor before writing (`echo x > f`), so a flush with
  // nothing written is not the end of the file; yet an empty file must be in S3 when its
  // close returns (touch). So store an empty object and keep the handle writable: data
  // written later replaces it at the next flush.
  {
    std::lock_guard l(h->mu);
    if (!h->write_error.ok()) return done(h->write_error);
  }
  if (h->writer->bytes_written() == 0) return impl_->CommitEmpty(h, std::move(done));
  impl_->FinishUpload(h, handle, std::move(done));
}

void FileSystem::Fsync(InodeId ino, uint64_t handle, Callback<Empty> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  if (h->mode == FileHandle::Mode::kRead) return done(Empty{});
  impl_->FinishUpload(h, handle, std::move(done));
}

void FileSystem::Release(InodeId ino, uint64_t handle, Callback<Empty> done) {
  std::shared_ptr<FileHandle> h = impl_->GetFileHandle(handle, ino);
  if (h == nullptr) return done(BadHandle("unknown file handle"));
  if (h->mode == FileHandle::Mode::kWrite && !impl_->FinishCommittedEmpty(h, handle)) {
    const std::string key = h->inode->key;
    impl_->FinishUpload(h, handle, [key](Result<Empty> r) {
      if (!r.ok())
        S3M_ERROR("file {} closed, but its upload failed: {}", key, r.status().ToString());
    });
  }
  {
    std::lock_guard l(impl_->handles_mu);
    impl_->files.erase(handle);
    if (h->mode == FileHandle::Mode::kWrite) {
      std::lock_guard hl(h->mu);
      if (h->upload != FileHandle::Upload::kDone) impl_->closing[handle] = h;
    }
  }
  impl_->table.CloseHandle(h->inode);
  h.reset();
  impl_->ReapClosed();
  done(Empty{});
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
      impl->table.RemoveName(parent, name, inode.get(), /*keep_local=*/true);
      done(Empty{});
    });
  });
}

void FileSystem::DrainUploads() {
  {
    std::unique_lock l(impl_->handles_mu);
    impl_->uploads_cv.wait(l, [this] { return impl_->uploads_in_flight == 0; });
  }
  impl_->ReapClosed();
}

}  // namespace s3m
