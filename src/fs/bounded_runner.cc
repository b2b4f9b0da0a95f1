#include "fs/bounded_runner.h"

#include <mutex>
#include <vector>

namespace s3m {
namespace {

struct Run {
  size_t count = 0;
  int max_in_flight = 1;
  BoundedTask task;
  Callback<Empty> done;
  std::mutex mu;
  size_t next = 0;     // GUARDED_BY(mu)
  int in_flight = 0;   // GUARDED_BY(mu)
  Status error;        // GUARDED_BY(mu)
  bool ended = false;  // GUARDED_BY(mu)
};

void Pump(const std::shared_ptr<Run>& run) {
  // Inline completions come back here: loop instead of recursing through every task.
  std::vector<size_t> start;
  bool end = false;
  Status error;
  {
    std::lock_guard l(run->mu);
    while (run->error.ok() && run->in_flight < run->max_in_flight && run->next < run->count) {
      start.push_back(run->next++);
      run->in_flight++;
    }
    if (start.empty() && run->in_flight == 0 && !run->ended) {
      run->ended = end = true;
      error = run->error;
    }
  }
  for (size_t i : start) {
    run->task(i, [run](Result<Empty> r) {
      {
        std::lock_guard l(run->mu);
        run->in_flight--;
        if (!r.ok() && run->error.ok()) run->error = r.status();
      }
      Pump(run);
    });
  }
  if (end) error.ok() ? run->done(Empty{}) : run->done(error);
}

}  // namespace

void RunBounded(size_t count, int max_in_flight, BoundedTask task, Callback<Empty> done) {
  auto run = std::make_shared<Run>();
  run->count = count;
  run->max_in_flight = max_in_flight < 1 ? 1 : max_in_flight;
  run->task = std::move(task);
  run->done = std::move(done);
  Pump(run);
}

}  // namespace s3m
