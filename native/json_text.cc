#include "json_text.h"

#include <ctime>

namespace socktrace {

namespace {

const char kHex[] = "0123456789abcdef";

// A JSON literal's text for the escaped text's own backslash: escaping makes `\`, JSON doubles it.
void AppendEscapeStart(std::string* out) { out->append("\\\\"); }

void AppendHex2(std::string* out, uint8_t c) {
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

// kernel-text.ts isInvisibleControl: printable code points that reorder or break a terminal's text.
bool IsInvisibleControl(uint32_t cp) {
  return cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

// kernel-text.ts readUtf8: the length of a valid UTF-8 sequence at i (its code point in *cp), or 0.
size_t ReadUtf8(const uint8_t* b, size_t i, size_t end, uint32_t* cp) {
  uint8_t c = b[i];
  size_t need;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) need = 1, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) need = 2, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) need = 3, min = 0x10000;
  else return 0;
  if (i + need >= end) return 0;
  uint32_t v = c & (0x3f >> need);
  for (size_t k = 1; k <= need; k++) {
    uint8_t cc = b[i + k];
    if ((cc & 0xc0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return need + 1;
}

}  // namespace

void AppendQuotedKernelText(std::string* out, const uint8_t* b, size_t n) {
  size_t end = 0;
  while (end < n && b[end] != 0) end++;
  out->push_back('"');
  size_t i = 0;
  while (i < end) {
    uint8_t c = b[i];
    if (c >= 0x20 && c < 0x7f && c != 0x5c) {
      if (c == '"') out->push_back('\\');
      out->push_back(static_cast<char>(c));
      i++;
    } else if (c == 0x5c) {
      AppendEscapeStart(out);
      AppendEscapeStart(out);
      i++;
    } else if (c < 0x80) {
      AppendEscapeStart(out);
      out->push_back('x');
      AppendHex2(out, c);
      i++;
    } else {
      uint32_t cp = 0;
      size_t length = ReadUtf8(b, i, end, &cp);
      if (length == 0) {
        AppendEscapeStart(out);
        out->push_back('x');
        AppendHex2(out, c);
        i++;
      } else {
        if ((cp >= 0x80 && cp <= 0x9f) || IsInvisibleControl(cp)) {
          AppendEscapeStart(out);
          out->append("u{");
          char digits[8];
          int k = 0;
          for (uint32_t v = cp; v != 0 || k == 0; v >>= 4) digits[k++] = kHex[v & 15];
          while (k > 0) out->push_back(digits[--k]);
          out->push_back('}');
        } else {
          out->append(reinterpret_cast<const char*>(b + i), length);
        }
        i += length;
      }
    }
  }
  out->push_back('"');
}

void AppendQuoted(std::string* out, const std::string& text) {
  out->push_back('"');
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out->append("\\u00");
      AppendHex2(out, c);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

void AppendUint(std::string* out, uint64_t n) {
  char digits[20];
  int k = 0;
  do digits[k++] = static_cast<char>('0' + n % 10);
  while ((n /= 10) != 0);
  while (k > 0) out->push_back(digits[--k]);
}

void AppendInt(std::string* out, int64_t n) {
  if (n < 0) {
    out->push_back('-');
    AppendUint(out, static_cast<uint64_t>(-(n + 1)) + 1);
  } else {
    AppendUint(out, static_cast<uint64_t>(n));
  }
}

void AppendHex(std::string* out, uint64_t n) {
  char digits[16];
  int k = 0;
  do digits[k++] = kHex[n & 15];
  while ((n >>= 4) != 0);
  while (k > 0) out->push_back(digits[--k]);
}

void AppendIPv4(std::string* out, const uint8_t* b) {
  for (int i = 0; i < 4; i++) {
    if (i > 0) out->push_back('.');
    AppendUint(out, b[i]);
  }
}

void AppendIPv6(std::string* out, const uint8_t* b) {
  bool mapped = b[10] == 0xff && b[11] == 0xff;
  for (int i = 0; i < 10 && mapped; i++) mapped = b[i] == 0;
  if (mapped) return AppendIPv4(out, b + 12);
  uint32_t groups[8];
  for (int i = 0; i < 8; i++) groups[i] = (static_cast<uint32_t>(b[2 * i]) << 8) | b[2 * i + 1];
  int best_start = -1, best_length = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) j++;
    if (j - i > best_length && j - i >= 2) best_start = i, best_length = j - i;
    i = j;
  }
  auto hex = [&](int from, int to) {
    for (int i = from; i < to; i++) {
      if (i > from) out->push_back(':');
      AppendHex(out, groups[i]);
    }
  };
  if (best_start < 0) return hex(0, 8);
  hex(0, best_start);
  out->append("::");
  hex(best_start + best_length, 8);
}

void AppendIsoTime(std::string* out, int64_t epoch_ms) {
  int64_t seconds = epoch_ms / 1000, ms = epoch_ms % 1000;
  if (ms < 0) ms += 1000, seconds--;
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char text[32];
  int n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  out->append(text, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace socktrace
