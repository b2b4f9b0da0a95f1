// See curl_transfer.h. The libcurl callbacks here run on the transfer's event-loop thread
// with no lock held; none lets an exception escape into libcurl.
#include "http/curl_transfer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "common/stream_copy.h"

namespace s3m {
namespace {

// Error bodies are only read for their S3 error code and message (a few hundred bytes);
// the cap keeps a misbehaving server from growing memory without bound.
constexpr size_t kMaxErrorBody = 1 << 20;
// A 2xx body without a caller buffer is a listing or a small document. ListObjectsV2 returns
// up to 1000 keys of up to 1024 bytes each plus metadata, so a few MiB; 64 MiB is far above
// anything legitimate and still bounded.
constexpr size_t kMaxCollectedBody = 64 << 20;
// libcurl's receive buffer per transfer (CURLOPT_BUFFERSIZE). Its default, 16 KiB, costs
// one recv(), one poll round and one write callback per 16 KiB; with 512 KiB the client's
// CPU per GiB of 8 MiB ranged GETs fell by ~40% in bench/client_bench.sh (0.63 -> 0.36 s/GiB
// on RGW over loopback; the curl tool uses 100 KiB), larger sizes gained nothing more. It
// costs 512 KiB per easy handle, i.e. per connection.
constexpr long kReceiveBufferBytes = 512 << 10;
// libcurl's send buffer for bodies at least this large (CURLOPT_UPLOAD_BUFFERSIZE; default
// 64 KiB): one read callback and one send() per 512 KiB instead of per 64 KiB. Two O_DIRECT
// writers of 512 MiB each through a fresh mount, 12 runs each against RGW: 377 -> 409 MiB/s
// and 0.96 -> 0.87 daemon CPU s/GiB (medians); 2 MiB was no better than 64 KiB.
constexpr long kUploadBufferBytes = 512 << 10;
// Bodies bound for caller buffers at least this large are copied with non-temporal stores
// (see stream_copy.h): 1 MiB is about one core's L2 (512 KiB to 2 MiB on current x86
// servers), so a buffer this size does not stay in the nearest cache anyway.
constexpr uint64_t kStreamingCopyMinBuffer = 1 << 20;

bool Is2xx(int status) {
  return status >= 200 && status < 300;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool HasHeader(const std::vector<Header>& headers, std::string_view lower_name) {
  return std::any_of(headers.begin(), headers.end(), [&](const Header& h) {
    return h.first.size() == lower_name.size() &&
           std::equal(h.first.begin(), h.first.end(), lower_name.begin(),
                      [](char a, char b) { return std::tolower(a) == b; });
  });
}

// "HTTP/1.1 200 OK" -> 200; 0 when the line is not a status line.
int ParseStatusLine(std::string_view line) {
  if (line.substr(0, 5) != "HTTP/") return 0;
  size_t space = line.find(' ');
  if (space == std::string_view::npos || space + 4 > line.size()) return 0;
  int status = 0;
  for (char c : line.substr(space + 1, 3)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

void AddHeaderLine(HttpResponse& response, std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string name(Trim(line.substr(0, colon)));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  response.headers.emplace_back(std::move(name), std::string(Trim(line.substr(colon + 1))));
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t length = size * count;
  try {
    std::string_view line = Trim(std::string_view(data, length));
    if (int status = ParseStatusLine(line); status != 0) {
      // A new response (after 100 Continue, or a redirect): forget the previous headers.
      t->response.status = status;
      t->response.headers.clear();
    } else {
      AddHeaderLine(t->response, line);
    }
    return length;
  } catch (...) {
    t->abort_status = Status(Code::kInternal, "out of memory reading response headers");
    return 0;
  }
}

// Appends to HttpResponse::body; returns false when the transfer must be aborted.
bool CollectBody(Transfer& t, const char* data, size_t length) {
  std::string& body = t.response.body;
  if (!Is2xx(t.response.status)) {
    // Keep reading (so the connection stays reusable) but drop what exceeds the cap.
    body.append(data, std::min(length, kMaxErrorBody - std::min(body.size(), kMaxErrorBody)));
    return true;
  }
  if (body.size() + length > kMaxCollectedBody) {
    t.abort_status = Status(Code::kInternal, fmt::format("response body over {} bytes without a "
                                                         "response_buffer",
                                                         kMaxCollectedBody));
    return false;
  }
  body.append(data, length);
  return true;
}

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t length = size * count;
  try {
    const HttpRequest& r = t->request;
    if (r.response_buffer == nullptr || !Is2xx(t->response.status)) {
      return CollectBody(*t, data, length) ? length : 0;
    }
    HttpResponse& response = t->response;
    if (length > r.response_capacity - response.buffer_bytes) {
      t->abort_status =
          Status(Code::kInternal,
                 fmt::format("response body larger than the {}-byte buffer", r.response_capacity));
      return 0;
    }
    // The only copy of the body: from libcurl's receive buffer to the caller's.
    char* dst = r.response_buffer + response.buffer_bytes;
    if (r.response_capacity >= kStreamingCopyMinBuffer) {
      StreamingCopy(dst, data, length);
    } else {
      std::memcpy(dst, data, length);
    }
    response.buffer_bytes += length;
    if (r.on_progress) r.on_progress(response.buffer_bytes);
    return length;
  } catch (...) {
    t->abort_status = Status(Code::kInternal, "exception while receiving the response body");
    return 0;
  }
}

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  uint64_t left = t->request.body_size - t->body_offset;
  size_t length = static_cast<size_t>(std::min<uint64_t>(left, size * count));
  if (length == 0) return 0;  // also covers body == nullptr for an empty body
  std::memcpy(buffer, t->request.body + t->body_offset, length);
  t->body_offset += length;
  return length;
}

// libcurl rewinds the body when it resends a request, e.g. on a fresh connection after a
// reused keep-alive connection turned out to be closed by the server.
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->request.body_size) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->body_offset = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// Builds the request header list. Also removes headers libcurl would add on its own:
// "Expect: 100-continue" (costs a round trip per PUT) and a form Content-Type on POST.
bool BuildHeaders(Transfer& t, bool is_post) {
  const std::vector<Header>& headers = t.request.headers;
  for (const Header& h : headers) {
    // "Name;" is libcurl's syntax for a header with an empty value.
    std::string line = h.second.empty() ? h.first + ";" : h.first + ": " + h.second;
    if (!t.headers.Append(line)) return false;
  }
  if (!HasHeader(headers, "expect") && !t.headers.Append("Expect:")) return false;
  if (is_post && !HasHeader(headers, "content-type") && !t.headers.Append("Content-Type:")) {
    return false;
  }
  return true;
}

CURLcode SetMethod(Transfer& t) {
  CURL* e = t.easy.get();
  const HttpRequest& r = t.request;
  auto size = static_cast<curl_off_t>(r.body_size);
  if (r.head || r.method == "HEAD") return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (r.method == "GET") return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  if (r.method == "POST") {
    // POSTFIELDS points at the caller's memory (no copy, unlike COPYPOSTFIELDS).
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, size);
    return curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body != nullptr ? r.body : "");
  }
  if (r.method != "PUT") {
    CURLcode rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (rc != CURLE_OK || r.body_size == 0) return rc;
  }
  // PUT, or another method with a body: stream the body from the caller's memory.
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
  if (size >= kUploadBufferBytes)
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, OnRead);
  curl_easy_setopt(e, CURLOPT_READDATA, &t);
  curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, OnSeek);
  return curl_easy_setopt(e, CURLOPT_SEEKDATA, &t);
}

void SetConnectionOptions(CURL* e, const CurlHttpOptions& options, bool https) {
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  // S3 speaks HTTP/1.1; one request per connection keeps max_connections meaningful.
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  // No CURLOPT_TIMEOUT: a large body may legitimately take long; only stalls are errors.
  // libcurl's speed is a moving average over ~5 s, so a stall after a burst is detected
  // up to ~5 s later than low_speed_window.
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_window.count()));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  // Only for https, so a plain-http endpoint works whatever CA settings are given.
  if (https && !options.ca_bundle.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_bundle.c_str());
  }
}

// libcurl's CURLOPT_DEBUGFUNCTION: connection notes and header lines, one log line each.
// Bodies (object data, XML) are left out: they are large and may be anything.
int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  try {
    const char* what = type == CURLINFO_TEXT         ? "*"
                       : type == CURLINFO_HEADER_IN  ? "<"
                       : type == CURLINFO_HEADER_OUT ? ">"
                                                     : nullptr;
    if (what == nullptr) return 0;
    const auto& log = *static_cast<const std::function<void(const std::string&)>*>(user);
    std::string_view text(data, size);
    while (!text.empty()) {
      size_t eol = text.find('\n');
      std::string line(text.substr(0, eol));
      text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) log(fmt::format("curl {} {}", what, RedactHeaderLine(line)));
    }
  } catch (...) {
    // Logging must never fail a transfer.
  }
  return 0;
}

bool IsHttps(const std::string& url) {
  return url.size() >= 8 && std::equal(url.begin(), url.begin() + 8, "https://",
                                       [](char a, char b) { return std::tolower(a) == b; });
}

}  // namespace

Status ConfigureTransfer(Transfer& t, const CurlHttpOptions& options) {
  CURL* e = t.easy.get();
  const HttpRequest& r = t.request;
  if (r.body == nullptr && r.body_size != 0) {
    return Status(Code::kInvalidArgument, "HttpRequest has body_size but no body");
  }
  if (curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()) != CURLE_OK) {
    return Status(Code::kInvalidArgument, "bad URL for host " + UrlHost(r.url));
  }
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  SetConnectionOptions(e, options, IsHttps(r.url));
  if (!options.user_agent.empty())
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
  // "if!": an interface name only, never taken for an address or a host name.
  if (!t.bind_interface.empty()) {
    curl_easy_setopt(e, CURLOPT_INTERFACE, ("if!" + t.bind_interface).c_str());
  }
  if (options.debug_log) {
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, OnDebug);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, &options.debug_log);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  }
  bool is_post = r.method == "POST" && !r.head;
  if (!BuildHeaders(t, is_post)) return Status(Code::kInternal, "out of memory building headers");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers.get());
  if (SetMethod(t) != CURLE_OK) {
    return Status(Code::kInvalidArgument, "libcurl rejected method " + r.method);
  }
  return Status::Ok();
}

std::string RedactHeaderLine(const std::string& line) {
  auto colon = line.find(':');
  if (colon == std::string::npos) return line;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name == "authorization" || name == "x-amz-security-token" ||
      name == "x-aws-ec2-metadata-token" || name == "proxy-authorization") {
    return line.substr(0, colon) + ": [redacted]";
  }
  return line;
}

void FinishTransfer(Transfer& t, CURLcode result) {
  CURL* e = t.easy.get();
  long connects = 0;
  curl_off_t received = 0;
  curl_off_t sent = 0;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &received);
  curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &sent);
  t.connects = static_cast<uint64_t>(std::max(connects, 0L));
  t.bytes_received = static_cast<uint64_t>(std::max<curl_off_t>(received, 0));
  t.bytes_sent = static_cast<uint64_t>(std::max<curl_off_t>(sent, 0));

  if (!t.abort_status.ok()) {
    t.response.transport = t.abort_status;
  } else if (result != CURLE_OK) {
    t.response.transport = CurlErrorStatus(result, t.error, t.request.url);
    // Nothing of the request left this machine when no header byte was sent.
    long sent = 0;
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &sent);
    t.response.maybe_sent = sent > 0;
  } else {
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
  }
}

Status CurlErrorStatus(CURLcode code, const char* detail, const std::string& url) {
  std::string text = (detail != nullptr && detail[0] != '\0') ? detail : curl_easy_strerror(code);
  std::string message = fmt::format("{} (host {})", text, UrlHost(url));
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return Status(Code::kNetwork, message).set_retryable(true);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
      // A configuration problem: retrying will not help, the CA settings must change.
      return Status(Code::kNetwork, message +
                                        "; check the CA bundle option or the server's "
                                        "certificate");
    case CURLE_OPERATION_TIMEDOUT:  // connect timeout or the low-speed (stall) abort
      return Status(Code::kTimeout, message).set_retryable(true);
    default:
      return Status(Code::kInternal, message);
  }
}

std::string UrlHost(const std::string& url) {
  std::string_view rest(url);
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  return std::string(rest);
}

}  // namespace s3m
