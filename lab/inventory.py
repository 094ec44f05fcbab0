"""pyinfra inventory of the kubeprep VM lab (see lab/README.md).

Static: three VMs booted by `lab/lab up`, reached over SSH port forwards on
127.0.0.1. `cluster_address` is each node's address on the isolated lab
network (192.168.77.0/24), the one the cluster should use.

Honours the same environment as lab/lab:
  KUBEPREP_LAB_PORT_BASE  SSH ports are base+1 (cp1), +2 (w1), +3 (w2); default 2200
The root key is copied by `lab/lab up` to lab/.state/id_ed25519, a stable
path whatever KUBEPREP_LAB_CACHE (where the image and its key live) is.

Usage (from the repo root):
  .venv/bin/pyinfra lab/inventory.py deploy.py
  .venv/bin/pyinfra lab/inventory.py exec -- uname -a
Keep the node table in sync with NODE_TABLE in lab/lib/common.sh.
"""

import os
from pathlib import Path

_LAB_DIR = Path(__file__).resolve().parent
_PORT_BASE = int(os.environ.get("KUBEPREP_LAB_PORT_BASE", "2200"))
_SSH_KEY = str(_LAB_DIR / ".state" / "id_ed25519")


# The lab image serves containerd 1.6 (bookworm, what an unpinned install gets) and 2.x (unstable,
# pinned in lab/image/sid-packages.txt): w2 runs 2.x, so both config formats run for real.
_SID_PACKAGES = dict(
    line.split("=", 1)
    for line in (_LAB_DIR / "image" / "sid-packages.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
# Offline: the test imports this image (lab/image/build-oci-image.sh); nothing is pulled.
_SANDBOX_IMAGE = "localhost/pause:3.10"


def _node(name: str, index: int, cluster_address: str, **data: str) -> tuple[str, dict]:
    return (
        name,
        {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": _PORT_BASE + index,
            "ssh_user": "root",
            "ssh_key": _SSH_KEY,
            "ssh_strict_host_key_checking": "no",
            "ssh_known_hosts_file": "/dev/null",
            "cluster_address": cluster_address,
            # The lab reaches no Kubernetes package repository nor image registry: the deploy
            # stops after the container runtime (README, "What is proven where").
            "deploy_until": "runtime",
            "containerd_sandbox_image": _SANDBOX_IMAGE,
            **data,
        },
    )


control_plane = [_node("cp1", 1, "192.168.77.11")]
workers = [
    _node("w1", 2, "192.168.77.21"),
    _node("w2", 3, "192.168.77.22", containerd_version=_SID_PACKAGES["containerd"]),
]
