// See curl_handles.h.
#include "http/curl_handles.h"

#include <cstdlib>
#include <mutex>

#include "common/log.h"

namespace s3m {

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No curl_global_cleanup: other threads may still hold handles at exit.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      S3M_ERROR("curl_global_init failed; the HTTP transport cannot work");
      std::abort();
    }
  });
}

}  // namespace s3m
