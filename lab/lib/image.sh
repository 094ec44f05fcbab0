# shellcheck shell=bash
# The cached base image: lab/image/ + lab/repo-packages.txt are the recipe.

recipe_hash() {
    (cd "$LAB_DIR" && find image repo-packages.txt -type f -print0 | LC_ALL=C sort -z \
        | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

image_dir() { echo "$CACHE_ROOT/$(recipe_hash)"; }

cmd_build() {
    local dir t0
    dir=$(image_dir)
    if [ -f "$dir/base.raw" ]; then
        log "image cached: $dir"
        return 0
    fi
    command -v mmdebstrap >/dev/null || die "mmdebstrap missing: run lab/setup-host"
    mkdir -p "$CACHE_ROOT"
    log "building image $dir (mmdebstrap bookworm; a few minutes)"
    t0=$(now)
    "$LAB_DIR/image/build.sh" "$dir"
    prune_images "$dir"
    log "image built in $(since "$t0") s: $dir ($(du -sh --apparent-size "$dir/base.raw" | cut -f1) apparent, $(du -sh "$dir/base.raw" | cut -f1) used)"
}

# Drop images of older recipes (~1.2 GB each), except one the VMs may still use.
prune_images() {
    local keep=$1 inuse old
    inuse=$(cat "$STATE_DIR/image" 2>/dev/null || true)
    for old in "$CACHE_ROOT"/????????????????; do
        if [ ! -d "$old" ] || [ "$old" = "$keep" ] || [ "$old" = "$inuse" ]; then
            continue
        fi
        log "removing old image $old"
        rm -rf "$old"
    done
}
