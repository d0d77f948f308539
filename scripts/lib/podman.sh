# Podman where no Docker engine and no container registry exist: sourced by
# scripts/build-image.sh and scripts/test-fresh (bash). Needs `repo_root` set.
#
# - install_podman [debootstrap]: podman, buildah, runc (& co.) from Debian when missing (root);
# - write_containers_conf: runc, cgroupfs and explicit ulimits, since the default crun fails
#   on hybrid cgroups and the default ulimits cannot be raised in some sandboxes;
# - make_debian_base <image> <packages>: a Debian bookworm image made with debootstrap from
#   apt's own mirror (reused when it already exists), since no registry may be reachable.

log() { printf '==> %s\n' "$*" >&2; }

# install_podman [debootstrap]: with an argument, debootstrap must be there too.
install_podman() {
    local missing=() tool
    local tools=(podman runc "$@")
    for tool in "${tools[@]}"; do
        command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ ${EUID} -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing: ${missing[*]}; install podman buildah fuse-overlayfs slirp4netns uidmap debootstrap runc" >&2
        exit 1
    fi
    log "installing podman and friends from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        podman buildah fuse-overlayfs slirp4netns uidmap debootstrap runc >/dev/null
}

write_containers_conf() {
    local dir="${repo_root}/.tools/podman"
    mkdir -p "${dir}"
    cat >"${dir}/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    export CONTAINERS_CONF="${dir}/containers.conf"
}

debian_mirror() {
    # The first Debian archive URI apt is configured with (deb822 or one-line format).
    local uri
    uri="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n1 || true)"
    if [[ -z "${uri}" ]]; then
        uri="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null \
            | awk '{print $2}' | grep -v security | head -n1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# make_debian_base <image> <packages, comma-separated>
make_debian_base() {
    local image="$1" packages="$2" rootfs mirror
    if podman image exists "${image}"; then
        log "base image ${image} already exists"
        return 0
    fi
    rootfs="$(mktemp -d)"
    mirror="$(debian_mirror)"
    log "debootstrap bookworm with ${packages} from ${mirror} (about a minute)"
    debootstrap --variant=minbase --include="${packages}" bookworm "${rootfs}" "${mirror}" >/dev/null
    rm -rf "${rootfs}/var/cache/apt/archives/"*.deb "${rootfs}/var/lib/apt/lists/"*
    tar -C "${rootfs}" -c . | podman import - "${image}" >/dev/null
    rm -rf "${rootfs}"
}
