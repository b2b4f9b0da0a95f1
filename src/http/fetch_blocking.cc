// FetchBlocking: one blocking HTTP request on a private curl easy handle, for the rare
// credential and metadata look-ups (IMDS, container endpoint, STS). Any thread may call
// it; calls share no state apart from libcurl's one-time global initialisation.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <string>

#include "http/http_client.h"

namespace s3m {
namespace {

// Credential and metadata answers are a few KiB; anything larger is not one of them.
constexpr size_t kMaxBodyBytes = 1 << 20;

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

// Owns a curl_slist (the request headers).
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list_); }

  bool Append(const std::string& line) {
    curl_slist* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// libcurl callbacks: no exception may escape into C.
size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t n = size * count;
  if (response->body.size() + n > kMaxBodyBytes) return 0;  // aborts with CURLE_WRITE_ERROR
  try {
    response->body.append(data, n);
  } catch (...) {
    return 0;
  }
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t n = size * count;
  try {
    std::string line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100-continue): start over
      response->headers.clear();
      return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) return n;
    std::string name = Trim(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    response->headers.emplace_back(std::move(name), Trim(line.substr(colon + 1)));
  } catch (...) {
    return 0;
  }
  return n;
}

bool SetMethodAndBody(CURL* h, const SimpleHttpRequest& request) {
  if (request.method == "GET") return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
  if (request.method == "HEAD") return curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK;
  // PUT, POST, ...: send the body (possibly empty) from memory with an explicit length.
  return curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                          static_cast<curl_off_t>(request.body.size())) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str()) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str()) == CURLE_OK;
}

bool Configure(CURL* h, const SimpleHttpRequest& request, HeaderList& headers,
               HttpResponse* response, char* errbuf) {
  long timeout_ms = static_cast<long>(request.timeout.count());
  for (const auto& [name, value] : request.headers) {
    if (!headers.Append(name + ": " + value)) return false;
  }
  if (!headers.Append("Expect:")) return false;  // no 100-continue round trip
  return curl_easy_setopt(h, CURLOPT_URL, request.url.c_str()) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_WRITEDATA, response) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_HEADERDATA, response) == CURLE_OK &&
         SetMethodAndBody(h, request);
}

Status TransportError(CURLcode rc, const char* errbuf) {
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  Code code = rc == CURLE_OPERATION_TIMEDOUT ? Code::kTimeout : Code::kNetwork;
  return Status(code, detail);
}

}  // namespace

HttpResponse FetchBlocking(const SimpleHttpRequest& request) {
  GlobalInitOnce();
  HttpResponse response;
  EasyHandle handle(curl_easy_init());
  if (!handle) {
    response.transport = Status(Code::kInternal, "curl_easy_init failed");
    return response;
  }
  char errbuf[CURL_ERROR_SIZE] = {};
  HeaderList headers;
  if (!Configure(handle.get(), request, headers, &response, errbuf)) {
    response.transport = Status(Code::kInternal, "cannot configure the HTTP request");
    return response;
  }
  CURLcode rc = curl_easy_perform(handle.get());
  if (rc != CURLE_OK) {
    response.transport = TransportError(rc, errbuf);
    return response;
  }
  long status = 0;
  curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace s3m
