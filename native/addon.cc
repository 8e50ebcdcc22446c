// Module entry: exports the Tracer class and the layout of the shared event record.
#include <napi.h>

#include <cstddef>

#include "errors.h"
#include "record_layout.h"
#include "tracer.h"

namespace socktrace {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogger();
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("recordLayout", Napi::Function::New(env, RecordLayout, "recordLayout"));
  return exports;
}

}  // namespace
}  // namespace socktrace

static Napi::Object InitSocktrace(Napi::Env env, Napi::Object exports) { return socktrace::Init(env, exports); }
NODE_API_MODULE(socktrace_addon, InitSocktrace)
