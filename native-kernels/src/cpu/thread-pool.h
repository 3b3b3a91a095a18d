// A fixed pool of std::threads sized to the cores; parallelFor splits [0, tasks) across it and the
// calling thread. Calls from different JS async workers are serialized (one parallel region at a time).
#pragma once
#include <cstdint>
#include <functional>

namespace qk {

// Runs fn(task) for task in [0, tasks) on up to `threads` threads (0 = all). Blocks until done.
void parallelFor(int64_t tasks, int threads, const std::function<void(int64_t)>& fn);
int poolSize();

}  // namespace qk
