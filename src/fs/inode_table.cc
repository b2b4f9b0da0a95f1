#include "fs/inode_table.h"

#include <algorithm>

namespace s3m {
namespace {

// The negative cache is cleared whole when it reaches this many names: a bound on memory
// for workloads probing many missing names, at the cost of a few repeated lookups.
constexpr size_t kMaxNegativeEntries = 100000;
// Sweep unreferenced listing inodes when the table has grown by half since the last sweep
// (amortized O(1) per insertion), but not below this size.
constexpr size_t kMinSweepSize = 4096;
// The default bound on unreferenced inodes (kept for the TTL to answer lookups and
// listings): s3fs's default stat cache holds as many (max_stat_cache_size).
constexpr size_t kMaxUnreferencedInodes = 100000;

}  // namespace

InodeTable::InodeTable(std::string root_key, Clock* clock)
    : clock_(clock), sweep_at_(kMinSweepSize), max_unreferenced_(kMaxUnreferencedInodes) {
  auto root =
      std::make_shared<Inode>(kRootInode, kRootInode, "", EntryKind::kDir, std::move(root_key));
  root->st.expiry = MonoTime::max();
  root->st.lookups = 1;  // the kernel's implicit reference; never forgotten
  by_ino_[kRootInode] = std::move(root);
}

std::shared_ptr<Inode> InodeTable::Get(InodeId ino) const {
  std::lock_guard l(mu_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? nullptr : it->second;
}

std::shared_ptr<Inode> InodeTable::Find(InodeId parent, const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = by_name_.find(NameKey(parent, name));
  if (it == by_name_.end()) return nullptr;
  return by_ino_.at(it->second);
}

bool InodeTable::Unused(const Inode& inode) const {
  return inode.ino != kRootInode && inode.st.lookups == 0 && inode.st.open_handles == 0 &&
         inode.st.where == Locality::kRemote;
}

void InodeTable::DropLocked(const Inode& inode) {
  auto it = by_name_.find(NameKey(inode.parent, inode.name));
  if (it != by_name_.end() && it->second == inode.ino) {
    by_name_.erase(it);
    ForgetRangeLocked(inode.parent);
  }
  if (inode.is_dir()) ranges_.erase(inode.ino);
  by_ino_.erase(inode.ino);  // may destroy `inode`: callers must hold their own reference
}

std::shared_ptr<Inode> InodeTable::Upsert(const Inode& parent, const std::string& name,
                                          EntryKind kind, const ObjectInfo* info, MonoTime expiry,
                                          bool add_lookup) {
  std::lock_guard l(mu_);
  NameKey nk(parent.ino, name);
  negative_.erase(nk);
  auto it = by_name_.find(nk);
  if (it != by_name_.end()) {
    std::shared_ptr<Inode> old = by_ino_.at(it->second);
    std::lock_guard il(old->mu);
    if (old->kind == EntryKind::kFile && kind == EntryKind::kFile && info != nullptr &&
        ChangedWhileOpen(old->st, info->etag)) {
      // The files open on the old version keep its inode (and page cache) to themselves.
      by_name_.erase(it);
    } else if (old->kind == kind || old->st.where != Locality::kRemote) {
      if (old->kind == kind && old->st.where == Locality::kLocalDir) {
        old->st.where = Locality::kRemote;
      }
      if (old->st.where == Locality::kRemote) Inode::ApplyRemote(old->st, info, expiry);
      if (add_lookup) old->st.lookups++;
      return old;
    } else {
      by_name_.erase(it);  // the kind changed: the old inode loses its name
      if (Unused(*old)) by_ino_.erase(old->ino);
    }
  }
  return InsertRemoteLocked(parent, name, kind, info, expiry, add_lookup);
}

std::shared_ptr<Inode> InodeTable::InsertRemoteLocked(const Inode& parent, const std::string& name,
                                                      EntryKind kind, const ObjectInfo* info,
                                                      MonoTime expiry, bool add_lookup) {
  auto inode = std::make_shared<Inode>(next_ino_++, parent.ino, name, kind,
                                       ChildKey(parent.key, name, kind));
  Inode::ApplyRemote(inode->st, info, expiry);
  inode->st.lookups = add_lookup ? 1 : 0;
  by_ino_[inode->ino] = inode;
  by_name_[NameKey(parent.ino, name)] = inode->ino;
  MaybeSweepLocked();
  return inode;
}

std::shared_ptr<Inode> InodeTable::InsertLocal(const Inode& parent, const std::string& name,
                                               EntryKind kind, Locality where,
                                               uint32_t open_handles) {
  std::lock_guard l(mu_);
  NameKey nk(parent.ino, name);
  if (by_name_.count(nk)) return nullptr;
  negative_.erase(nk);
  auto inode = std::make_shared<Inode>(next_ino_++, parent.ino, name, kind,
                                       ChildKey(parent.key, name, kind));
  inode->st.where = where;
  inode->st.lookups = 1;
  inode->st.open_handles = open_handles;
  inode->st.mtime_sec =
      std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
  by_ino_[inode->ino] = inode;
  by_name_[nk] = inode->ino;
  return inode;
}

void InodeTable::RemoveName(InodeId parent, const std::string& name, const Inode* expected,
                            bool keep_local, bool gone) {
  std::lock_guard l(mu_);
  auto it = by_name_.find(NameKey(parent, name));
  if (it == by_name_.end()) return;
  if (expected != nullptr && it->second != expected->ino) return;
  std::shared_ptr<Inode> inode = by_ino_.at(it->second);
  std::lock_guard il(inode->mu);
  if (keep_local && inode->st.where != Locality::kRemote) return;
  by_name_.erase(it);
  if (!gone) ForgetRangeLocked(parent);
  inode->st.where = Locality::kRemote;  // nameless now: only attributes and handles remain
  inode->st.expiry = MonoTime::min();
  if (Unused(*inode)) by_ino_.erase(inode->ino);
}

std::vector<std::pair<std::shared_ptr<Inode>, std::shared_ptr<Inode>>> InodeTable::Rename(
    InodeId ino, const Inode& new_parent, const std::string& new_name) {
  std::vector<std::pair<std::shared_ptr<Inode>, std::shared_ptr<Inode>>> moved;
  std::lock_guard l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return moved;
  std::shared_ptr<Inode> old = it->second;
  auto copy = [](const Inode& from, InodeId parent, const std::string& name, std::string key) {
    auto to = std::make_shared<Inode>(from.ino, parent, name, from.kind, std::move(key));
    std::lock_guard il(from.mu);
    to->st = from.st;
    return to;
  };
  NameKey target(new_parent.ino, new_name);
  auto t = by_name_.find(target);
  if (t != by_name_.end() && t->second != ino) {
    std::shared_ptr<Inode> replaced = by_ino_.at(t->second);
    by_name_.erase(t);
    std::lock_guard il(replaced->mu);
    replaced->st.where = Locality::kRemote;  // nameless: only its handles remain
    replaced->st.expiry = MonoTime::min();
    if (Unused(*replaced)) by_ino_.erase(replaced->ino);
  }
  auto n = by_name_.find(NameKey(old->parent, old->name));
  if (n != by_name_.end() && n->second == ino) by_name_.erase(n);
  negative_.erase(target);
  const std::string old_key = old->key;
  const std::string new_key = ChildKey(new_parent.key, new_name, old->kind);
  auto renamed = copy(*old, new_parent.ino, new_name, new_key);
  by_ino_[ino] = renamed;
  by_name_[target] = ino;
  moved.emplace_back(old, renamed);
  if (!old->is_dir()) return moved;
  for (auto& [id, inode] : by_ino_) {
    if (id == ino || inode->key.compare(0, old_key.size(), old_key) != 0) continue;
    auto below =
        copy(*inode, inode->parent, inode->name, new_key + inode->key.substr(old_key.size()));
    moved.emplace_back(inode, below);
    inode = below;
  }
  return moved;
}

void InodeTable::MarkAncestorsRemote(const Inode& inode, MonoTime expiry) {
  std::lock_guard l(mu_);
  InodeId ino = inode.parent;
  while (ino != kRootInode) {
    auto it = by_ino_.find(ino);
    if (it == by_ino_.end()) return;
    std::lock_guard il(it->second->mu);
    if (it->second->st.where != Locality::kLocalDir) return;
    it->second->st.where = Locality::kRemote;
    it->second->st.expiry = expiry;
    ino = it->second->parent;
  }
}

bool InodeTable::AddLookup(InodeId ino) {
  std::lock_guard l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return false;
  std::lock_guard il(it->second->mu);
  it->second->st.lookups++;
  return true;
}

void InodeTable::Forget(InodeId ino, uint64_t n) {
  std::lock_guard l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end() || ino == kRootInode) return;
  std::shared_ptr<Inode> inode = it->second;
  std::lock_guard il(inode->mu);
  inode->st.lookups -= std::min(n, inode->st.lookups);
  // A fresh inode keeps answering for its name (and its directory's known range) until it
  // expires; the sweep takes it then.
  if (Unused(*inode) && !Inode::Fresh(inode->st, clock_->Monotonic())) DropLocked(*inode);
}

void InodeTable::CloseHandle(const std::shared_ptr<Inode>& inode) {
  std::lock_guard l(mu_);
  auto it = by_ino_.find(inode->ino);
  {
    std::lock_guard il(inode->mu);
    if (inode->st.open_handles > 0) inode->st.open_handles--;
  }
  if (it == by_ino_.end()) return;
  // A renamed inode's copy took over its state, handles included (see Rename).
  std::shared_ptr<Inode> current = it->second;
  std::lock_guard il(current->mu);
  if (current != inode && current->st.open_handles > 0) current->st.open_handles--;
  if (Unused(*current) && !Inode::Fresh(current->st, clock_->Monotonic())) DropLocked(*current);
}

std::vector<std::shared_ptr<Inode>> InodeTable::LocalChildren(InodeId parent) const {
  std::lock_guard l(mu_);
  std::vector<std::shared_ptr<Inode>> out;
  for (auto it = by_name_.lower_bound(NameKey(parent, "")); it != by_name_.end(); ++it) {
    if (it->first.first != parent) break;
    const std::shared_ptr<Inode>& inode = by_ino_.at(it->second);
    std::lock_guard il(inode->mu);
    if (inode->st.where != Locality::kRemote) out.push_back(inode);
  }
  return out;
}

std::vector<std::shared_ptr<Inode>> InodeTable::Children(InodeId parent) const {
  return ChildrenInRange(parent, "", std::nullopt);
}

std::vector<std::shared_ptr<Inode>> InodeTable::ChildrenInRange(
    InodeId parent, const std::string& after, const std::optional<std::string>& upto) const {
  std::lock_guard l(mu_);
  std::vector<std::shared_ptr<Inode>> out;
  for (auto it = by_name_.upper_bound(NameKey(parent, after)); it != by_name_.end(); ++it) {
    if (it->first.first != parent || (upto && it->first.second > *upto)) break;
    out.push_back(by_ino_.at(it->second));
  }
  return out;
}

void InodeTable::SetKnownRange(InodeId dir, const std::string& after,
                               std::optional<std::string> upto, bool whole, MonoTime until) {
  std::lock_guard l(mu_);
  if (!by_ino_.count(dir)) return;
  KnownRange& r = ranges_[dir];
  r.after = after;
  r.upto = std::move(upto);
  r.whole = whole;
  r.until = until;
  r.listed = r.listed || whole;
}

bool InodeTable::KnownAbsent(InodeId dir, const std::string& name, MonoTime now) const {
  std::lock_guard l(mu_);
  auto it = ranges_.find(dir);
  if (it == ranges_.end() || now >= it->second.until) return false;
  const KnownRange& r = it->second;
  bool in = r.whole || (name > r.after && (!r.upto || name <= *r.upto));
  return in && !by_name_.count(NameKey(dir, name));
}

bool InodeTable::ListingFresh(InodeId dir, MonoTime now) const {
  std::lock_guard l(mu_);
  auto it = ranges_.find(dir);
  return it != ranges_.end() && it->second.whole && now < it->second.until;
}

bool InodeTable::Listed(InodeId dir) const {
  std::lock_guard l(mu_);
  auto it = ranges_.find(dir);
  return it != ranges_.end() && it->second.listed;
}

void InodeTable::ForgetRangeLocked(InodeId parent) {
  auto it = ranges_.find(parent);
  if (it == ranges_.end()) return;
  it->second.until = MonoTime::min();
  it->second.whole = false;
}

void InodeTable::AddNegative(InodeId parent, const std::string& name, MonoTime expiry) {
  std::lock_guard l(mu_);
  if (negative_.size() >= kMaxNegativeEntries) negative_.clear();
  negative_[NameKey(parent, name)] = expiry;
}

bool InodeTable::IsNegative(InodeId parent, const std::string& name, MonoTime now) {
  std::lock_guard l(mu_);
  auto it = negative_.find(NameKey(parent, name));
  if (it == negative_.end()) return false;
  if (now < it->second) return true;
  negative_.erase(it);
  return false;
}

void InodeTable::ClearNegative(InodeId parent, const std::string& name) {
  std::lock_guard l(mu_);
  negative_.erase(NameKey(parent, name));
}

// Drops unreferenced inodes: the expired ones, then, past the bound, fresh ones too (their
// directories' known ranges go with them).
void InodeTable::MaybeSweepLocked() {
  if (by_ino_.size() < sweep_at_) return;
  MonoTime now = clock_->Monotonic();
  size_t unreferenced = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (auto it = by_ino_.begin(); it != by_ino_.end();) {
      std::shared_ptr<Inode> inode = it->second;  // the table's reference plus this one
      std::lock_guard il(inode->mu);
      bool unused = inode.use_count() == 2 && Unused(*inode);
      bool drop = unused && (pass == 1 || now >= inode->st.expiry);
      if (pass == 1 && unreferenced <= max_unreferenced_) break;
      if (drop) {
        auto n = by_name_.find(NameKey(inode->parent, inode->name));
        if (n != by_name_.end() && n->second == inode->ino) {
          by_name_.erase(n);
          ForgetRangeLocked(inode->parent);
        }
        if (inode->is_dir()) ranges_.erase(inode->ino);
        it = by_ino_.erase(it);
        if (pass == 1) unreferenced--;
      } else {
        if (pass == 0 && unused) unreferenced++;
        ++it;
      }
    }
  }
  sweep_at_ = std::max(kMinSweepSize, by_ino_.size() + by_ino_.size() / 2);
}

void InodeTable::set_max_unreferenced(size_t n) {
  std::lock_guard l(mu_);
  max_unreferenced_ = n;
}

size_t InodeTable::size() const {
  std::lock_guard l(mu_);
  return by_ino_.size();
}

}  // namespace s3m
