// Non-copyable RAII owners for libcurl's C handles (CURL*, CURLM*, curl_slist*) and the
// one-time global initialisation. Internal to src/http, the only module that includes curl.h.
//
// Threading: a handle may be used by one thread at a time (libcurl's rule); the owners add
// no locking. CurlGlobalInit() may be called from any thread, any number of times.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace s3m {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;

// A request header list ("Name: value" lines) for CURLOPT_HTTPHEADER.
class CurlHeaderList {
 public:
  // Returns false when libcurl could not allocate the entry.
  bool Append(const std::string& line) {
    curl_slist* head = curl_slist_append(list_.get(), line.c_str());
    if (head == nullptr) return false;
    if (list_ == nullptr) list_.reset(head);  // the first entry becomes the head
    return true;
  }
  curl_slist* get() const { return list_.get(); }

 private:
  std::unique_ptr<curl_slist, CurlSlistDeleter> list_;
};

// Calls curl_global_init once per process. libcurl requires it before any other call,
// and it is not safe to race with other libcurl calls, hence std::call_once inside.
void CurlGlobalInit();

}  // namespace s3m
