// Shared declarations of the @mptcp/native addon. Every exported function is syscall-shaped:
// it takes numbers, strings, Buffers and plain address objects, and returns either a result or a
// negative errno number. Policy (fallback, option order, messages) lives in TypeScript.
#pragma once

#include <napi.h>
#include <sys/socket.h>

namespace mptcp_native {

// A negative errno as a JS number: the TypeScript side maps it to an errno name and a typed error.
inline Napi::Value Errno(Napi::Env env, int err) { return Napi::Number::New(env, -err); }

// Argument helpers: they throw a TypeError (a programming error, not a syscall failure).
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int* out);

// JS address object <-> struct sockaddr. Returns false (and throws a TypeError) on a malformed object.
bool SockaddrFromJs(Napi::Env env, Napi::Value v, sockaddr_storage* ss, socklen_t* len);
Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage* ss, socklen_t len);

void InitSocket(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitMptcp(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);

}  // namespace mptcp_native
