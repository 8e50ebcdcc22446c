#include "loop_turn_gate.h"

namespace socktrace {

void LoopTurnGate::WaitForTurn() {
  std::unique_lock<std::mutex> lock(mutex_);
  turned_cv_.wait(lock, [this] { return turned_ || open_; });
  turned_ = false;
}

void LoopTurnGate::Turned() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (turned_) return;
    turned_ = true;
  }
  turned_cv_.notify_one();
}

void LoopTurnGate::Open() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
  }
  turned_cv_.notify_all();
}

LoopTurnWatch* LoopTurnWatch::Start(uv_loop_t* loop, LoopTurnGate* gate) {
  auto* watch = new LoopTurnWatch();
  watch->gate_ = gate;
  watch->check_.data = watch;
  if (loop == nullptr || uv_check_init(loop, &watch->check_) != 0) {
    delete watch;
    gate->Open();
    return nullptr;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&watch->check_));
  uv_check_start(&watch->check_, [](uv_check_t* check) { static_cast<LoopTurnWatch*>(check->data)->gate_->Turned(); });
  return watch;
}

void LoopTurnWatch::Stop() {
  uv_check_stop(&check_);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_),
           [](uv_handle_t* handle) { delete static_cast<LoopTurnWatch*>(handle->data); });
}

}  // namespace socktrace
