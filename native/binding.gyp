{
  "targets": [
    {
      "target_name": "tbg_sharehash",
      "sources": ["sharehash.c"],
      "cflags": ["-O2", "-std=gnu11"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2"] }
    }
  ]
}
