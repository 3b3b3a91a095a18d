#include "thread-pool.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "features.h"

namespace qk {
namespace {

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, i] { loop(i + 1); });
  }
  ~Pool() {
    { std::lock_guard<std::mutex> g(m_); stop_ = true; }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return int(workers_.size()) + 1; }

  void run(int64_t tasks, int threads, const std::function<void(int64_t)>& fn) {
    std::lock_guard<std::mutex> region(regionMutex_);
    const int use = std::max(1, std::min<int>(threads, size()));
    if (use == 1 || tasks <= 1) { for (int64_t t = 0; t < tasks; ++t) fn(t); return; }
    {
      std::lock_guard<std::mutex> g(m_);
      fn_ = &fn; tasks_ = tasks; next_ = 0; running_ = 0; open_ = true; participants_ = use - 1; error_ = nullptr;
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    // Close the region: a worker the OS has not scheduled yet skips it instead of being waited for
    // (on a loaded machine a sleeping worker would otherwise hold the caller up after all tasks are done).
    std::unique_lock<std::mutex> g(m_);
    open_ = false;
    // a worker still on its last task usually finishes within microseconds: spin briefly before sleeping
    for (int i = 0; i < kSpin && running_ != 0; ++i) { g.unlock(); spinPause(); g.lock(); }
    done_.wait(g, [&] { return running_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    for (;;) {
      int64_t t = next_.fetch_add(1);
      if (t >= tasks_) break;
      try { (*fn_)(t); } catch (...) {
        std::lock_guard<std::mutex> g(m_);
        if (!error_) error_ = std::current_exception();
        next_ = tasks_;
      }
    }
  }
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      // Spin a little before sleeping: back-to-back regions (a decode loop, one GEMM after another) then
      // start without a futex wake-up, which costs tens of microseconds on a loaded VM. Bounded (about
      // 50 us), so an idle pool does not hold a core.
      for (int i = 0; i < kSpin && published_.load(std::memory_order_acquire) == seen; ++i) spinPause();
      std::unique_lock<std::mutex> g(m_);
      cv_.wait(g, [&] { return stop_ || (generation_ != seen && id <= participants_); });
      if (stop_) return;
      seen = generation_;
      if (!open_) continue;
      ++running_;
      g.unlock();
      work();
      g.lock();
      if (--running_ == 0) done_.notify_all();
    }
  }
  static constexpr int kSpin = 2000;
  static void spinPause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  std::atomic<uint64_t> published_{0};
  std::vector<std::thread> workers_;
  std::mutex m_, regionMutex_;
  std::condition_variable cv_, done_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  int running_ = 0, participants_ = 0;
  bool open_ = false;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

Pool& pool() {
  // Never destroyed: joining threads from a static destructor at process exit can hang Node's teardown.
  static Pool* p = new Pool(cpuFeatures().threads);
  return *p;
}

}  // namespace

void parallelFor(int64_t tasks, int threads, const std::function<void(int64_t)>& fn) {
  pool().run(tasks, threads <= 0 ? pool().size() : threads, fn);
}
int poolSize() { return pool().size(); }

}  // namespace qk
