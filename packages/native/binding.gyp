{
  "targets": [
    {
      "target_name": "mptcp_native",
      "sources": [
        "src/addon.cc",
        "src/addon_sockaddr.cc",
        "src/addon_socket.cc",
        "src/addon_poll.cc",
        "src/addon_netlink.cc",
        "src/addon_mptcp.cc",
        "src/addon_spawn.cc",
        "src/child_caps.cc",
        "src/addon_accept.cc",
        "src/addon_dgram.cc",
        "src/addon_splice.cc",
        "src/addon_fdstore.cc",
        "src/addon_startup.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
