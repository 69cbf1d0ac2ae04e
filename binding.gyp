{
  "targets": [
    {
      "target_name": "descriptor_calls",
      "sources": ["native/descriptor-calls.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
