#include "common/clock.h"

namespace s3m {

RealClock* RealClock::Get() {
  static RealClock clock;
  return &clock;
}

}  // namespace s3m
