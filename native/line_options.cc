#include "line_options.h"

#include <cstring>

#include "socktrace_event.h"

namespace socktrace {

namespace {

std::vector<std::string> ReadNameList(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string("Expected options.lines.") + name + " to be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> names(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value n = a.Get(i);
    if (n.IsString()) names[i] = n.As<Napi::String>().Utf8Value();
    else if (!n.IsUndefined() && !n.IsNull()) throw Napi::TypeError::New(env, std::string("Expected options.lines.") + name + " to hold strings");
  }
  return names;
}

uint32_t ReadMask(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("Expected options.lines.") + name + " to be a number");
  return v.As<Napi::Number>().Uint32Value();
}

}  // namespace

std::unique_ptr<LineFormatter> ReadLineFormatter(Napi::Env env, Napi::Value lines) {
  if (lines.IsUndefined() || lines.IsNull()) return nullptr;
  if (!lines.IsObject()) throw Napi::TypeError::New(env, "Expected options.lines to be an object");
  Napi::Object o = lines.As<Napi::Object>();
  LineNames names;
  names.kinds = ReadNameList(env, o, "kinds");
  names.sources = ReadNameList(env, o, "sources");
  names.states = ReadNameList(env, o, "states");
  names.errnos = ReadNameList(env, o, "errnos");
  names.rst_reasons = ReadNameList(env, o, "rstReasons");
  names.errno_kinds = ReadMask(env, o, "errnoKinds");
  names.raw_kinds = ReadMask(env, o, "rawKinds");
  Napi::Value wall = o.Get("wallMs");
  Napi::Value mono = o.Get("monoNs");
  if (!wall.IsNumber() || !mono.IsBigInt())
    throw Napi::TypeError::New(env, "Expected options.lines.wallMs to be a number and monoNs a bigint");
  bool lossless = false;
  uint64_t mono_ns = mono.As<Napi::BigInt>().Uint64Value(&lossless);
  return std::make_unique<LineFormatter>(std::move(names), wall.As<Napi::Number>().DoubleValue(), mono_ns,
                                         ReadMask(env, o, "placementTtlMs"));
}

namespace {

// One owner's placement text, as setLinePlacement and formatLines take it: (pid, start, cgroupId, text).
void TellPlacement(Napi::Env env, Napi::Value pid, Napi::Value start, Napi::Value cgroup, Napi::Value text, LineFormatter* formatter) {
  if (!pid.IsNumber() || !start.IsNumber() || !cgroup.IsNumber() || !text.IsString())
    throw Napi::TypeError::New(env, "Expected (pid, start, cgroupId, text)");
  formatter->SetPlacement(pid.As<Napi::Number>().Uint32Value(), start.As<Napi::Number>().Uint32Value(),
                          static_cast<uint64_t>(cgroup.As<Napi::Number>().Int64Value()), text.As<Napi::String>().Utf8Value());
}

}  // namespace

void ReadPlacement(const Napi::CallbackInfo& info, size_t first, LineFormatter* formatter) {
  if (info.Length() < first + 4) throw Napi::TypeError::New(info.Env(), "Expected (pid, start, cgroupId, text)");
  TellPlacement(info.Env(), info[first], info[first + 1], info[first + 2], info[first + 3], formatter);
}

Napi::Object LinesToJs(Napi::Env env, const FormattedLines& lines) {
  Napi::Object result = Napi::Object::New(env);
  Napi::ArrayBuffer raw = Napi::ArrayBuffer::New(env, lines.raw.size());
  if (!lines.raw.empty()) memcpy(raw.Data(), lines.raw.data(), lines.raw.size());
  Napi::Array at = Napi::Array::New(env, lines.raw_at.size());
  for (uint32_t i = 0; i < lines.raw_at.size(); i++) at.Set(i, Napi::Number::New(env, lines.raw_at[i]));
  result.Set("raw", raw);
  result.Set("rawAt", at);
  return result;
}

Napi::Value FormatLines(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArrayBuffer() || !info[2].IsArray())
    throw Napi::TypeError::New(env, "Expected (records: ArrayBuffer, lines options, placements: array)");
  std::unique_ptr<LineFormatter> formatter = ReadLineFormatter(env, info[1]);
  if (!formatter) throw Napi::TypeError::New(env, "Expected lines options");
  Napi::Array placements = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < placements.Length(); i++) {
    Napi::Value entry = placements.Get(i);
    if (!entry.IsArray()) throw Napi::TypeError::New(env, "Expected each placement to be [pid, start, cgroupId, text]");
    Napi::Array p = entry.As<Napi::Array>();
    TellPlacement(env, p.Get(0u), p.Get(1u), p.Get(2u), p.Get(3u), formatter.get());
  }
  Napi::ArrayBuffer records = info[0].As<Napi::ArrayBuffer>();
  FormattedLines lines;
  formatter->Format(static_cast<const uint8_t*>(records.Data()), static_cast<uint32_t>(records.ByteLength() / sizeof(socktrace_event)),
                    &lines);
  Napi::Object result = LinesToJs(env, lines);
  result.Set("text", Napi::Buffer<char>::Copy(env, lines.text.data(), lines.text.size()));
  return result;
}

}  // namespace socktrace
