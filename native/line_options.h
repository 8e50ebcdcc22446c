// options.lines as JavaScript gives it (src/backends/native/line-options.ts), and formatLines(), which
// makes a batch's lines without a kernel, so a test can hold them to event-line.ts's.
#pragma once
#include <napi.h>

#include <memory>

#include "line_formatter.h"

namespace socktrace {

// null when options.lines is absent; throws a TypeError naming what is wrong.
std::unique_ptr<LineFormatter> ReadLineFormatter(Napi::Env env, Napi::Value lines);

// The text after "via" for owner (pid, start, cgroupId), from setLinePlacement's arguments at `first`.
void ReadPlacement(const Napi::CallbackInfo& info, size_t first, LineFormatter* formatter);

// The lines and raw records of a batch, as a batch delivers them: { text, raw, rawAt }.
Napi::Object LinesToJs(Napi::Env env, const FormattedLines& lines);

// formatLines(records: ArrayBuffer, lines options, placements: [pid, start, cgroupId, text][]) -> LinesToJs.
Napi::Value FormatLines(const Napi::CallbackInfo& info);

}  // namespace socktrace
