// AWS Signature Version 4: canonical request, string to sign, signing key and the two
// ways of attaching the signature (Authorization header, presigned query).
// Reference: AWS "Signature Version 4 signing process" and the S3 API reference
// "Authenticating Requests (AWS Signature Version 4)".
#include "s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace s3m {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kScopeTerminator = "aws4_request";
constexpr std::string_view kSecretPrefix = "AWS4";  // prepended to the secret key
constexpr std::string_view kHexUpperDigits = "0123456789ABCDEF";
constexpr std::string_view kHexLowerDigits = "0123456789abcdef";

// Headers the signer owns (lower case).
constexpr std::string_view kDateHeader = "x-amz-date";
constexpr std::string_view kContentSha256Header = "x-amz-content-sha256";
constexpr std::string_view kSecurityTokenHeader = "x-amz-security-token";
constexpr std::string_view kAuthorizationHeader = "authorization";

// Query parameters of a presigned URL.
constexpr std::string_view kQueryAlgorithm = "X-Amz-Algorithm";
constexpr std::string_view kQueryCredential = "X-Amz-Credential";
constexpr std::string_view kQueryDate = "X-Amz-Date";
constexpr std::string_view kQueryExpires = "X-Amz-Expires";
constexpr std::string_view kQuerySignedHeaders = "X-Amz-SignedHeaders";
constexpr std::string_view kQuerySecurityToken = "X-Amz-Security-Token";
constexpr std::string_view kQuerySignature = "X-Amz-Signature";

// A failing one-shot digest means a broken OpenSSL installation or out of memory: no
// caller can recover, and sending an unsigned request would be worse.
[[noreturn]] void CryptoFailure(const char* what) {
  std::fprintf(stderr, "s3mount: OpenSSL %s failed; check the OpenSSL installation\n", what);
  std::abort();
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// Appends `value` without leading/trailing blanks and with each inner run of spaces
// collapsed to one (the canonical header value).
void AppendCanonicalValue(std::string& out, std::string_view value) {
  size_t begin = 0;
  size_t end = value.size();
  while (begin < end && IsBlank(value[begin])) ++begin;
  while (end > begin && IsBlank(value[end - 1])) --end;
  for (size_t i = begin; i < end; ++i) {
    if (value[i] == ' ' && i > begin && value[i - 1] == ' ') continue;
    out += value[i];
  }
}

// "20150830" and "20150830T123600Z" for a time point (UTC).
struct AmzTime {
  std::string date;
  std::string stamp;
};

AmzTime FormatAmzTime(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[sizeof("yyyymmddThhmmssZ")];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
  return AmzTime{std::string(stamp, 8), std::string(stamp)};
}

// Header names lower-cased, sorted, with values of repeated names joined by ',' in the
// order given.
struct CanonicalHeaders {
  std::string lines;         // "name:value\n" per name
  std::string signed_names;  // "name;name"
};

CanonicalHeaders BuildCanonicalHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, const std::string*>> sorted;
  sorted.reserve(headers.size());
  for (const auto& [name, value] : headers) sorted.emplace_back(ToLower(name), &value);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const std::string& name = sorted[i].first;
    bool repeated = i > 0 && sorted[i - 1].first == name;
    if (repeated) {
      out.lines.back() = ',';  // replaces the '\n' of the previous value
    } else {
      if (!out.signed_names.empty()) out.signed_names += ';';
      out.signed_names += name;
      out.lines += name;
      out.lines += ':';
    }
    AppendCanonicalValue(out.lines, *sorted[i].second);
    out.lines += '\n';
  }
  return out;
}

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(query.size());
  for (const auto& param : query) sorted.push_back(&param);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
  std::string out;
  for (const auto* param : sorted) {
    if (!out.empty()) out += '&';
    out += param->first;
    out += '=';
    out += param->second;
  }
  return out;
}

std::string BuildCanonicalRequest(const SignableRequest& req, const CanonicalHeaders& headers,
                                  std::string_view payload_hash) {
  std::string out;
  out.reserve(req.method.size() + req.path.size() + headers.lines.size() +
              headers.signed_names.size() + payload_hash.size() + 256);
  out += req.method;
  out += '\n';
  out += req.path.empty() ? std::string_view("/") : std::string_view(req.path);
  out += '\n';
  out += CanonicalQuery(req.query);
  out += '\n';
  out += headers.lines;
  out += '\n';
  out += headers.signed_names;
  out += '\n';
  out += payload_hash;
  return out;
}

// "20150830/us-east-1/s3/aws4_request"
std::string CredentialScope(const AmzTime& time, const SigningParams& params) {
  std::string scope = time.date;
  scope += '/';
  scope += params.region;
  scope += '/';
  scope += params.service;
  scope += '/';
  scope += kScopeTerminator;
  return scope;
}

std::string BuildStringToSign(const std::string& canonical_request, const AmzTime& time,
                              const std::string& scope) {
  std::string out(kAlgorithm);
  out += '\n';
  out += time.stamp;
  out += '\n';
  out += scope;
  out += '\n';
  out += Sha256Hex(canonical_request.data(), canonical_request.size());
  return out;
}

std::string_view AsView(const Sha256Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

// Hex HMAC of the string to sign under the key derived from the secret, date, region
// and service.
std::string ComputeSignature(const Credentials& creds, const AmzTime& time,
                             const SigningParams& params, const std::string& string_to_sign) {
  std::string secret(kSecretPrefix);
  secret += creds.secret_access_key;
  Sha256Digest key = HmacSha256(secret, time.date);
  key = HmacSha256(AsView(key), params.region);
  key = HmacSha256(AsView(key), params.service);
  key = HmacSha256(AsView(key), kScopeTerminator);
  Sha256Digest signature = HmacSha256(AsView(key), string_to_sign);
  return HexLower(signature.data(), signature.size());
}

template <typename Pairs, typename Pred>
void EraseIf(Pairs& pairs, Pred pred) {
  pairs.erase(std::remove_if(pairs.begin(), pairs.end(), pred), pairs.end());
}

void RemoveHeader(SignableRequest& req, std::string_view lower_name) {
  EraseIf(req.headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, lower_name); });
}

void SetHeader(SignableRequest& req, std::string_view lower_name, std::string value) {
  RemoveHeader(req, lower_name);
  req.headers.emplace_back(std::string(lower_name), std::move(value));
}

void RemovePresignParams(SignableRequest& req) {
  static constexpr std::string_view kOwned[] = {
      kQueryAlgorithm,     kQueryCredential,    kQueryDate,     kQueryExpires,
      kQuerySignedHeaders, kQuerySecurityToken, kQuerySignature};
  EraseIf(req.query, [](const auto& q) {
    return std::find(std::begin(kOwned), std::end(kOwned), q.first) != std::end(kOwned);
  });
}

}  // namespace

std::string UriEncode(const std::string& in, bool keep_slash) {
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (c == '/' && keep_slash)) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpperDigits[c >> 4];
      out += kHexUpperDigits[c & 0xF];
    }
  }
  return out;
}

std::string HexLower(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += kHexLowerDigits[data[i] >> 4];
    out += kHexLowerDigits[data[i] & 0xF];
  }
  return out;
}

std::string Sha256Hex(const void* data, size_t size) {
  Sha256Digest digest;
  unsigned int len = 0;
  // One-shot digest: no EVP_MD_CTX outlives the call, so there is no handle to own.
  if (EVP_Digest(data, size, digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest.size()) {
    CryptoFailure("SHA-256");
  }
  return HexLower(digest.data(), digest.size());
}

Sha256Digest HmacSha256(std::string_view key, std::string_view data) {
  Sha256Digest mac;
  unsigned int len = 0;
  // One-shot HMAC (not deprecated in OpenSSL 3): no context outlives the call.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &len) == nullptr ||
      len != mac.size()) {
    CryptoFailure("HMAC-SHA-256");
  }
  return mac;
}

std::string CanonicalRequest(const SignableRequest& req, const std::string& payload_hash) {
  return BuildCanonicalRequest(req, BuildCanonicalHeaders(req.headers), payload_hash);
}

std::string StringToSign(const std::string& canonical_request, const SigningParams& params) {
  AmzTime time = FormatAmzTime(params.time);
  return BuildStringToSign(canonical_request, time, CredentialScope(time, params));
}

void SignRequest(SignableRequest& req, const Credentials& creds, const SigningParams& params) {
  AmzTime time = FormatAmzTime(params.time);
  RemoveHeader(req, kAuthorizationHeader);
  SetHeader(req, kDateHeader, time.stamp);
  if (params.add_content_sha256) SetHeader(req, kContentSha256Header, params.payload_hash);
  if (!creds.session_token.empty()) SetHeader(req, kSecurityTokenHeader, creds.session_token);

  CanonicalHeaders headers = BuildCanonicalHeaders(req.headers);
  std::string scope = CredentialScope(time, params);
  std::string string_to_sign =
      BuildStringToSign(BuildCanonicalRequest(req, headers, params.payload_hash), time, scope);
  std::string signature = ComputeSignature(creds, time, params, string_to_sign);

  std::string auth(kAlgorithm);
  auth.reserve(auth.size() + creds.access_key_id.size() + scope.size() +
               headers.signed_names.size() + signature.size() + 64);
  auth += " Credential=";
  auth += creds.access_key_id;
  auth += '/';
  auth += scope;
  auth += ", SignedHeaders=";
  auth += headers.signed_names;
  auth += ", Signature=";
  auth += signature;
  req.headers.emplace_back("Authorization", std::move(auth));
}

void PresignRequest(SignableRequest& req, const Credentials& creds, const SigningParams& params,
                    std::chrono::seconds expires) {
  if (expires.count() < 1 || expires > kMaxPresignExpires) {
    std::fprintf(stderr, "s3mount: presign expiry %lld s out of range\n",
                 static_cast<long long>(expires.count()));
    std::abort();
  }
  AmzTime time = FormatAmzTime(params.time);
  std::string scope = CredentialScope(time, params);
  CanonicalHeaders headers = BuildCanonicalHeaders(req.headers);

  RemovePresignParams(req);
  auto add = [&req](std::string_view name, std::string value) {
    req.query.emplace_back(std::string(name), std::move(value));
  };
  add(kQueryAlgorithm, std::string(kAlgorithm));
  add(kQueryCredential, UriEncode(creds.access_key_id + '/' + scope, false));
  add(kQueryDate, time.stamp);
  add(kQueryExpires, std::to_string(expires.count()));
  add(kQuerySignedHeaders, UriEncode(headers.signed_names, false));
  if (!creds.session_token.empty()) {
    add(kQuerySecurityToken, UriEncode(creds.session_token, false));
  }

  std::string string_to_sign =
      BuildStringToSign(BuildCanonicalRequest(req, headers, params.payload_hash), time, scope);
  add(kQuerySignature, ComputeSignature(creds, time, params, string_to_sign));
}

}  // namespace s3m
