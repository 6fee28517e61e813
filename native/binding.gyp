{
  "targets": [
    {
      "target_name": "pal_native",
      "sources": [
        "src/addon.c",
        "src/audit_line.c",
        "src/secure_buffer.c",
        "src/fuse_bridge.c",
        "src/eof_gate.c",
        "src/fast_path.c",
        "src/fast_events.c",
        "src/fuse_io.c",
        "src/handover.c",
        "src/handover_proto.c",
        "src/mountinfo.c",
        "src/passthrough.c",
        "src/pidfd.c",
        "src/sys.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2",
                 "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)"]
    },
    {
      "target_name": "pald-holder",
      "type": "executable",
      "sources": ["src/pald_holder.c", "src/handover_proto.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
