#!/usr/bin/env bash
# Proves the build enforces the layers: in a scratch copy of the tree, each
# layer's first source file gets an #include of a private header from the
# layer just above it, and that layer's object library must then fail to
# compile for exactly that reason (the header is not on its include path).
# Then the same copy, untouched, must build, so a failure above is not a
# broken tree.  Layers, lowest first: util clock replica transport engine verify server cli.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
src=$PWD
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Every layer, lowest first; each is tried against a private header of the
# nearest layer above it that has one (the first header found in its folder).
layers=(util clock replica transport engine verify server cli)
cases=()
for ((i = 0; i + 1 < ${#layers[@]}; i++)); do
  lower=${layers[i]} headers=()
  for ((j = i + 1; j < ${#layers[@]}; j++)); do headers+=(src/"${layers[j]}"/*.h); done
  srcs=(src/"$lower"/*.c)
  file=${srcs[0]} header=${headers[0]:-}
  [ -n "$header" ] || { echo "check-layers: no private header above $lower" >&2; exit 1; }
  cases+=("$lower $file $(basename "$header")")
done

copy_tree() {
  rm -rf "$scratch/tree"
  mkdir -p "$scratch/tree"
  git ls-files -z | (cd "$src" && xargs -0 cp --parents -t "$scratch/tree")
}

configure() {
  cmake -S "$scratch/tree" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCAUSEWAY_BUILD_TESTS=OFF >/dev/null
}

for c in "${cases[@]}"; do
  read -r layer file header <<<"$c"
  copy_tree
  sed -i "0,/^#include/s//#include \"$header\"\n#include/" "$scratch/tree/$file"
  configure
  if out=$(cmake --build "$scratch/build" --target "causeway_$layer" 2>&1); then
    echo "check-layers: FAIL: $file (layer $layer) included $header from a layer above, and it compiled" >&2
    exit 1
  fi
  grep -q "$header: No such file" <<<"$out" \
    || { echo "check-layers: FAIL: $file failed to build for another reason:" >&2; echo "$out" >&2; exit 1; }
  echo "check-layers: $layer cannot include $header (upward): refused"
done

copy_tree
configure
cmake --build "$scratch/build" >/dev/null
echo "check-layers: the untouched tree builds; every upward include tried was refused"
