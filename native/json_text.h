// Text as socktrace's JSON lines write it, made natively for `watch` (line_formatter.cc): each function
// mirrors one in src/ (named beside it) byte for byte; test/unit/native-lines.test.ts holds them together.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace socktrace {

// A kernel string (up to its first NUL within n bytes) escaped as src/events/kernel-text.ts's
// decodeKernelText does, then as a JSON string literal (JSON.stringify of the escaped text).
void AppendQuotedKernelText(std::string* out, const uint8_t* bytes, size_t n);

// A JavaScript string (valid UTF-8 from V8) as a JSON string literal; only for names JS hands over.
void AppendQuoted(std::string* out, const std::string& text);

// src/events/ip-address.ts: formatIPv4, and formatIPv6 (IPv4-mapped addresses as IPv4).
void AppendIPv4(std::string* out, const uint8_t* bytes);
void AppendIPv6(std::string* out, const uint8_t* bytes);

// new Date(ms).toISOString() for whole milliseconds since the epoch (years 0 to 9999).
void AppendIsoTime(std::string* out, int64_t epoch_ms);

void AppendUint(std::string* out, uint64_t n);
void AppendInt(std::string* out, int64_t n);
void AppendHex(std::string* out, uint64_t n);

}  // namespace socktrace
