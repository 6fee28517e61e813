{
  "targets": [
    {
      "target_name": "pal_native",
      "sources": [
        "src/addon.c",
        "src/secure_buffer.c",
        "src/fuse_bridge.c",
        "src/fast_path.c",
        "src/fuse_io.c",
        "src/mountinfo.c",
        "src/sys.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2",
                 "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)"]
    }
  ]
}
