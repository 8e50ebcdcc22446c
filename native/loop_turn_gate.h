// One batch per turn of Node's event loop. Node runs up to 1000 queued thread-safe-function calls in
// one turn, and a call pushed while one runs joins that same turn: a reader that always has a batch
// ready (a storm outpacing JavaScript) kept timers and signal handlers waiting for seconds, so a
// SIGTERM during a storm ended `watch` only once the storm did. The reader hands a batch over only
// after the loop's check phase has run since the last one, so every turn reaches timers and signals.
#pragma once
#include <uv.h>

#include <condition_variable>
#include <mutex>

namespace socktrace {

class LoopTurnGate {
 public:
  // Reader thread: returns once the loop turned since the last call (the first call returns at once),
  // or the gate was opened for good.
  void WaitForTurn();
  // Loop thread, each check phase.
  void Turned();
  // Never wait again (the environment is going away).
  void Open();

 private:
  std::mutex mutex_;
  std::condition_variable turned_cv_;
  bool turned_ = true;
  bool open_ = false;
};

// The loop-side half: a check handle (unreferenced: it keeps no loop alive) that calls gate->Turned().
class LoopTurnWatch {
 public:
  // Starts watching `loop`; returns null if the handle cannot start (the gate is then opened).
  static LoopTurnWatch* Start(uv_loop_t* loop, LoopTurnGate* gate);
  // On the loop thread: stops, closes and frees the handle (and this).
  void Stop();

 private:
  uv_check_t check_;
  LoopTurnGate* gate_ = nullptr;
};

}  // namespace socktrace
