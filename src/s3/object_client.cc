#include "s3/object_client.h"

namespace s3m {

const char* S3OpName(S3Op op) {
  switch (op) {
    case S3Op::kHeadBucket:
      return "HeadBucket";
    case S3Op::kHeadObject:
      return "HeadObject";
    case S3Op::kGetObject:
      return "GetObject";
    case S3Op::kListObjects:
      return "ListObjectsV2";
    case S3Op::kPutObject:
      return "PutObject";
    case S3Op::kCreateMultipartUpload:
      return "CreateMultipartUpload";
    case S3Op::kUploadPart:
      return "UploadPart";
    case S3Op::kCompleteMultipartUpload:
      return "CompleteMultipartUpload";
    case S3Op::kAbortMultipartUpload:
      return "AbortMultipartUpload";
    case S3Op::kDeleteObject:
      return "DeleteObject";
    case S3Op::kCopyObject:
      return "CopyObject";
    case S3Op::kUploadPartCopy:
      return "UploadPartCopy";
    case S3Op::kCount:
      break;
  }
  return "Unknown";
}

}  // namespace s3m
