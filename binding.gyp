{
  "targets": [
    {
      "target_name": "xattr_fd",
      "sources": ["native/xattr-fd.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
