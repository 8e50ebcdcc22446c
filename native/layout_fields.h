// Describing a C struct's layout to JavaScript, for the layout tests: { name: { offset, size } }.
#pragma once
#include <napi.h>

#include <cstddef>

namespace socktrace {

// LAYOUT_FIELD(table, struct_type, field) adds one field of struct_type to the table.
#define LAYOUT_FIELD(table, type, name) (table).Add(#name, offsetof(type, name), sizeof(type::name))

class LayoutFields {
 public:
  explicit LayoutFields(Napi::Env env) : env_(env), fields_(Napi::Object::New(env)) {}
  void Add(const char* name, size_t offset, size_t size) {
    Napi::Object f = Napi::Object::New(env_);
    f.Set("offset", Napi::Number::New(env_, offset));
    f.Set("size", Napi::Number::New(env_, size));
    fields_.Set(name, f);
  }
  Napi::Object Object() const { return fields_; }

 private:
  Napi::Env env_;
  Napi::Object fields_;
};

}  // namespace socktrace
