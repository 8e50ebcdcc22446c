// Module entry: exports the Tracer class, the socket inventory, the layouts of the records, and what
// doctor asks (kernel facts, the hook table).
#include <napi.h>

#include <cstddef>

#include "errors.h"
#include "hook_list.h"
#include "inventory.h"
#include "kernel_facts.h"
#include "line_options.h"
#include "record_layout.h"
#include "tracer.h"

namespace socktrace {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogger();
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("recordLayout", Napi::Function::New(env, RecordLayout, "recordLayout"));
  exports.Set("inventory", Napi::Function::New(env, Inventory, "inventory"));
  exports.Set("inventoryLayout", Napi::Function::New(env, InventoryLayout, "inventoryLayout"));
  exports.Set("seedLayout", Napi::Function::New(env, SeedLayout, "seedLayout"));
  exports.Set("kernelFacts", Napi::Function::New(env, KernelFacts, "kernelFacts"));
  exports.Set("hookTable", Napi::Function::New(env, HookTable, "hookTable"));
  exports.Set("formatLines", Napi::Function::New(env, FormatLines, "formatLines"));
  return exports;
}

}  // namespace
}  // namespace socktrace

static Napi::Object InitSocktrace(Napi::Env env, Napi::Object exports) { return socktrace::Init(env, exports); }
NODE_API_MODULE(socktrace_addon, InitSocktrace)
