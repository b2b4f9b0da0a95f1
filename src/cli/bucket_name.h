// S3 bucket names and access point ARNs, checked before any request so that a typo is told
// "not a valid bucket name" rather than "bucket does not exist". Pure; any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace s3m {

// Ok for a name that follows S3's bucket naming rules (general purpose and directory
// buckets, access point aliases) or an access point ARN (s3, s3-object-lambda,
// s3-outposts); else kInvalidArgument saying which rule the name breaks. `option` names
// where the name came from ("BUCKET", "--cache-xz"), for the message.
Status CheckBucketName(const std::string& name, const std::string& option = "BUCKET");

}  // namespace s3m
