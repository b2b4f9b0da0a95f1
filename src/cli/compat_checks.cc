// Checks of the Mountpoint-compatible options (see compat_checks.h).
#include "cli/compat_checks.h"

#include <fmt/format.h>
#include <net/if.h>

#include <algorithm>
#include <cctype>

namespace s3m {
namespace {

Status Bad(const std::string& msg) {
  return Status(Code::kInvalidArgument, msg);
}

// Values that become header values: a control character would split the request.
bool Printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto u = static_cast<unsigned char>(ch);
    return u >= 0x20 && u != 0x7f;
  });
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isdigit(static_cast<unsigned char>(ch)) != 0;
  });
}

// S3 refuses a key id with AES256, and Mountpoint takes only key ARNs (an alias or bare id
// would be resolved in the caller's account, not necessarily the bucket's).
Status CheckSse(const Config& c) {
  if (!c.sse.empty() && c.sse != "aws:kms" && c.sse != "aws:kms:dsse" && c.sse != "AES256") {
    return Bad(fmt::format("--sse '{}' must be aws:kms, aws:kms:dsse or AES256", c.sse));
  }
  if (c.sse_kms_key_id.empty()) return Status::Ok();
  if (c.sse.empty()) return Bad("--sse-kms-key-id needs --sse aws:kms or --sse aws:kms:dsse");
  if (c.sse == "AES256") {
    return Bad("--sse-kms-key-id cannot be used with --sse AES256: use --sse aws:kms");
  }
  const std::string& k = c.sse_kms_key_id;
  if (k.rfind("arn:", 0) != 0 || k.find(":key/") == std::string::npos || !Printable(k) ||
      k.find(' ') != std::string::npos) {
    return Bad(fmt::format(
        "--sse-kms-key-id '{}' must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); key "
        "ids, aliases and alias ARNs are not accepted",
        k));
  }
  return Status::Ok();
}

bool IsArn(const std::string& bucket) {
  return bucket.rfind("arn:", 0) == 0;
}

Status CheckEndpointVariants(const Config& c) {
  for (auto [on, name] : {std::pair{c.transfer_acceleration, "--transfer-acceleration"},
                          std::pair{c.dual_stack, "--dual-stack"}}) {
    if (on && !c.endpoint_url.empty()) {
      return Bad(fmt::format(
          "{} chooses an AWS endpoint, so it cannot be used with --endpoint-url: drop one", name));
    }
  }
  if (IsArn(c.bucket) && !c.endpoint_url.empty()) {
    return Bad(
        "an access point ARN names its own AWS endpoint: drop --endpoint-url or mount "
        "the access point's alias");
  }
  if (!c.transfer_acceleration) return Status::Ok();
  if (c.force_path_style) {
    return Bad("--transfer-acceleration needs virtual-hosted addressing: drop --force-path-style");
  }
  if (IsArn(c.bucket)) return Bad("--transfer-acceleration does not work with access points");
  if (c.bucket.find('.') != std::string::npos) {
    return Bad(fmt::format("--transfer-acceleration needs a bucket name without dots, not '{}'",
                           c.bucket));
  }
  return Status::Ok();
}

Status CheckBind(const Config& c) {
  for (const std::string& name : c.bind) {
    // IFNAMSIZ counts the terminating NUL; '/' and whitespace never appear in a name.
    if (name.empty() || name.size() >= IFNAMSIZ ||
        name.find_first_of("/ \t:") != std::string::npos || !Printable(name)) {
      return Bad(fmt::format("--bind '{}' is not a network interface name such as eth0", name));
    }
  }
  return Status::Ok();
}

Status CheckLogging(const Config& c) {
  if (!c.no_log) return Status::Ok();
  for (auto [on, name] :
       {std::pair{!c.log_directory.empty(), "--log-directory"}, std::pair{c.debug, "--debug"},
        std::pair{c.debug_crt, "--debug-crt"}, std::pair{c.log_metrics, "--log-metrics"}}) {
    if (on) return Bad(fmt::format("--no-log and {} contradict each other: drop one", name));
  }
  return Status::Ok();
}

Status CheckOtlpEndpoint(const std::string& url) {
  if (url.empty()) return Status::Ok();
  auto sep = url.find("://");
  std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  std::string rest = sep == std::string::npos ? "" : url.substr(sep + 3);
  std::string host = rest.substr(0, rest.find_first_of("/?#"));
  if ((scheme != "http" && scheme != "https") || host.empty() ||
      host.find_first_of("@ \t") != std::string::npos || !Printable(url) ||
      rest.find_first_of("?#") != std::string::npos) {
    return Bad(
        fmt::format("--otlp-endpoint '{}' is not a URL such as http://HOST:4318 (metrics go to "
                    "ENDPOINT/v1/metrics)",
                    url));
  }
  return Status::Ok();
}

}  // namespace

int FuseFdFromPath(const std::string& path) {
  const std::string prefix = "/dev/fd/";
  if (path.rfind(prefix, 0) != 0) return -1;
  std::string n = path.substr(prefix.size());
  if (!AllDigits(n) || n.size() > 9) return -1;
  return std::stoi(n);
}

Status CheckCompatOptions(const Config& c) {
  if (Status s = CheckSse(c); !s.ok()) return s;
  // S3 account ids are 12 digits; anything else could only ever be refused by S3.
  if (!c.expected_bucket_owner.empty() &&
      (c.expected_bucket_owner.size() != 12 || !AllDigits(c.expected_bucket_owner))) {
    return Bad(fmt::format("--expected-bucket-owner '{}' must be a 12-digit AWS account ID",
                           c.expected_bucket_owner));
  }
  if (!Printable(c.user_agent_prefix)) {
    return Bad("--user-agent-prefix must not contain control characters");
  }
  if (!c.bucket_type.empty() && c.bucket_type != "general-purpose" &&
      c.bucket_type != "directory") {
    return Bad(
        fmt::format("--bucket-type '{}' must be general-purpose or directory", c.bucket_type));
  }
  for (const Status& s : {CheckEndpointVariants(c), CheckBind(c), CheckLogging(c),
                          CheckOtlpEndpoint(c.otlp_endpoint)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace s3m
