{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "dataplane"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions", "-O2", "-O3"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=c++17", "-O2"],
    "cflags": ["-O3", "-fno-strict-aliasing", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    "cflags_cc": ["-std=c++20", "-fexceptions", "-O3"],
    "ldflags": ["-pthread"],
    "conditions": [
      ["'<!(echo $VITESSE_SANITIZE)'!=''", {
        "cflags": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"],
        "cflags_cc!": ["-O3"],
        "cflags_cc": ["-O1"],
        "ldflags": ["-fsanitize=address,undefined"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "vitesse_core",
      "type": "static_library",
      "sources": ["<!@(node tools/sources.cjs core)"]
    },
    {
      "target_name": "vitesse",
      "dependencies": ["vitesse_core"],
      "sources": ["<!@(node tools/sources.cjs product)"],
      "conditions": [
        ["'<!(echo $VITESSE_SANITIZE)'==''", {
          "ldflags": ["-static-libstdc++", "-static-libgcc"]
        }]
      ]
    },
    {
      "target_name": "vitesse_testkit",
      "dependencies": ["vitesse_core"],
      "sources": ["<!@(node tools/sources.cjs testkit)"]
    }
  ]
}
