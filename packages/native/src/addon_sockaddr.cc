// Conversion between the SockAddr objects of types.ts and struct sockaddr_*.
#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include <string>

#include "addon.h"

namespace mptcp_native {

static bool Fail(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

static uint32_t U32(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : 0;
}

bool SockaddrFromJs(Napi::Env env, Napi::Value v, sockaddr_storage* ss, socklen_t* len) {
  if (!v.IsObject()) return Fail(env, "address must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value fam = o.Get("family");
  if (!fam.IsString()) return Fail(env, "address.family must be a string");
  std::string family = fam.As<Napi::String>().Utf8Value();
  memset(ss, 0, sizeof(*ss));

  if (family == "inet" || family == "inet6") {
    Napi::Value a = o.Get("address");
    if (!a.IsString()) return Fail(env, "address.address must be a string");
    std::string addr = a.As<Napi::String>().Utf8Value();
    uint32_t port = U32(o, "port");
    if (port > 65535) return Fail(env, "address.port out of range");
    if (family == "inet") {
      auto* sin = reinterpret_cast<sockaddr_in*>(ss);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(port));
      if (inet_pton(AF_INET, addr.c_str(), &sin->sin_addr) != 1) return Fail(env, "invalid IPv4 address: " + addr);
      *len = sizeof(sockaddr_in);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(static_cast<uint16_t>(port));
      sin6->sin6_flowinfo = htonl(U32(o, "flowinfo"));
      sin6->sin6_scope_id = U32(o, "scopeId");
      if (inet_pton(AF_INET6, addr.c_str(), &sin6->sin6_addr) != 1) return Fail(env, "invalid IPv6 address: " + addr);
      *len = sizeof(sockaddr_in6);
    }
    return true;
  }

  if (family == "unix") {
    auto* sun = reinterpret_cast<sockaddr_un*>(ss);
    sun->sun_family = AF_UNIX;
    Napi::Value p = o.Get("path");
    if (!p.IsString()) return Fail(env, "address.path must be a string");
    std::string path = p.As<Napi::String>().Utf8Value();
    bool abstract = o.Get("abstract").ToBoolean().Value();
    size_t offset = abstract ? 1 : 0;
    // A path name needs its terminating NUL inside sun_path; an abstract name does not.
    size_t room = sizeof(sun->sun_path) - offset - (abstract ? 0 : 1);
    if (path.size() > room) return Fail(env, "ENAMETOOLONG: unix socket path too long");
    memcpy(sun->sun_path + offset, path.data(), path.size());
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset + path.size() + (abstract ? 0 : 1));
    if (!abstract && path.empty()) *len = sizeof(sa_family_t);  // unnamed (autobind)
    return true;
  }

  if (family == "vsock") {
    auto* svm = reinterpret_cast<sockaddr_vm*>(ss);
    svm->svm_family = AF_VSOCK;
    svm->svm_cid = U32(o, "cid");
    svm->svm_port = U32(o, "port");
    *len = sizeof(sockaddr_vm);
    return true;
  }
  return Fail(env, "unknown address family: " + family);
}

Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage* ss, socklen_t len) {
  Napi::Object o = Napi::Object::New(env);
  char buf[INET6_ADDRSTRLEN];
  switch (ss->ss_family) {
    case AF_INET: {
      auto* sin = reinterpret_cast<const sockaddr_in*>(ss);
      inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
      o.Set("family", "inet");
      o.Set("address", buf);
      o.Set("port", ntohs(sin->sin_port));
      return o;
    }
    case AF_INET6: {
      auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ss);
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
      o.Set("family", "inet6");
      o.Set("address", buf);
      o.Set("port", ntohs(sin6->sin6_port));
      o.Set("flowinfo", ntohl(sin6->sin6_flowinfo));
      o.Set("scopeId", sin6->sin6_scope_id);
      return o;
    }
    case AF_UNIX: {
      auto* sun = reinterpret_cast<const sockaddr_un*>(ss);
      size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
      bool abstract = n > 0 && sun->sun_path[0] == '\0';
      std::string path;
      if (abstract) {
        path.assign(sun->sun_path + 1, n - 1);
      } else {
        path.assign(sun->sun_path, strnlen(sun->sun_path, n));
      }
      o.Set("family", "unix");
      o.Set("path", path);
      o.Set("abstract", abstract);
      return o;
    }
    case AF_VSOCK: {
      auto* svm = reinterpret_cast<const sockaddr_vm*>(ss);
      o.Set("family", "vsock");
      o.Set("cid", svm->svm_cid);
      o.Set("port", svm->svm_port);
      return o;
    }
    default:
      o.Set("family", "unknown");
      o.Set("af", ss->ss_family);
      return o;
  }
}

}  // namespace mptcp_native
