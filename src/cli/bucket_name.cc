// Bucket naming rules as S3 documents them ("Bucket naming rules", general purpose buckets;
// directory bucket names such as base--usw2-az1--x-s3 and access point aliases follow them
// too) and the ARN forms of access points (see bucket_name.h).
#include "cli/bucket_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace s3m {
namespace {

constexpr size_t kMinBucketName = 3;
constexpr size_t kMaxBucketName = 63;
constexpr size_t kAccountIdDigits = 12;
// Prefixes S3 reserves: IDNA labels and its own internal names.
constexpr const char* kReservedPrefixes[] = {"xn--", "sthree-"};

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsLowerOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || IsDigit(c);
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

bool LooksLikeIpAddress(std::string_view name) {
  int groups = 0;
  while (true) {
    size_t dot = name.find('.');
    if (!AllOf(name.substr(0, dot), IsDigit)) return false;
    ++groups;
    if (dot == std::string_view::npos) return groups == 4;
    name.remove_prefix(dot + 1);
  }
}

// Why `name` breaks the rules, or "" when it follows them.
std::string BucketNameProblem(const std::string& name) {
  if (name.size() < kMinBucketName || name.size() > kMaxBucketName) {
    return fmt::format("it must be {} to {} characters long", kMinBucketName, kMaxBucketName);
  }
  for (char c : name) {
    if (!IsLowerOrDigit(c) && c != '.' && c != '-') {
      return fmt::format("it may contain only lowercase letters, digits, '.' and '-', not '{}'", c);
    }
  }
  if (!IsLowerOrDigit(name.front()) || !IsLowerOrDigit(name.back())) {
    return "it must begin and end with a letter or digit";
  }
  if (name.find("..") != std::string::npos) return "it must not have two periods in a row";
  if (LooksLikeIpAddress(name)) return "it must not be formatted as an IP address";
  for (const char* prefix : kReservedPrefixes) {
    if (name.rfind(prefix, 0) == 0) return fmt::format("the prefix '{}' is reserved", prefix);
  }
  return "";
}

std::vector<std::string_view> Split(std::string_view s, std::string_view separators) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = s.find_first_of(separators);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

bool IsNameChar(char c) {
  return IsLowerOrDigit(c) || c == '-' || c == '.';
}

bool IsRegionChar(char c) {
  return IsLowerOrDigit(c) || c == '-';
}

// Why `arn` is not an access point ARN, or "" when it is one:
// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, the resource "accesspoint/NAME" (s3,
// s3-object-lambda; a multi-region access point has no region) or
// "outpost/ID/accesspoint/NAME" (s3-outposts); ':' may stand for '/' in the resource.
std::string ArnProblem(const std::string& arn) {
  std::vector<std::string_view> f = Split(arn, ":");
  if (f.size() < 6) return "it has fewer than 6 ':'-separated fields";
  std::string_view partition = f[1], service = f[2], region = f[3], account = f[4];
  if (partition != "aws" && partition.rfind("aws-", 0) != 0) {
    return fmt::format("the partition '{}' is not aws, aws-cn, aws-us-gov, ...", partition);
  }
  if (service != "s3" && service != "s3-object-lambda" && service != "s3-outposts") {
    return fmt::format("the service '{}' is not s3, s3-object-lambda or s3-outposts", service);
  }
  if (!(region.empty() && service == "s3") && !AllOf(region, IsRegionChar)) {
    return fmt::format("the region '{}' is not a region such as us-east-1", region);
  }
  if (account.size() != kAccountIdDigits || !AllOf(account, IsDigit)) {
    return fmt::format("the account '{}' is not {} digits", account, kAccountIdDigits);
  }
  std::string_view resource = std::string_view(arn).substr(
      static_cast<size_t>(account.data() + account.size() + 1 - arn.data()));
  std::vector<std::string_view> r = Split(resource, ":/");
  bool outposts = service == "s3-outposts";
  size_t expected = outposts ? 4 : 2;
  if (r.size() != expected || (outposts && (r[0] != "outpost" || !AllOf(r[1], IsRegionChar))) ||
      r[expected - 2] != "accesspoint") {
    return outposts ? "the resource is not outpost/OUTPOST-ID/accesspoint/NAME"
                    : "the resource is not accesspoint/NAME";
  }
  if (r.back().size() < kMinBucketName || r.back().size() > kMaxBucketName ||
      !AllOf(r.back(), IsNameChar)) {
    return fmt::format(
        "the access point name '{}' is not 3 to 63 lowercase letters, digits, "
        "'-' and '.'",
        r.back());
  }
  return "";
}

}  // namespace

Status CheckBucketName(const std::string& name, const std::string& option) {
  if (name.rfind("arn:", 0) == 0) {
    std::string problem = ArnProblem(name);
    if (problem.empty()) return Status::Ok();
    return Status(Code::kInvalidArgument,
                  fmt::format("'{}' is not a valid access point ARN: {} (expected "
                              "arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME)",
                              name, problem));
  }
  std::string problem = BucketNameProblem(name);
  if (problem.empty()) return Status::Ok();
  return Status(Code::kInvalidArgument,
                fmt::format("'{}' is not a valid bucket name: {} (check {} for a typo)", name,
                            problem, option));
}

}  // namespace s3m
