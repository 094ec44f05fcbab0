"""A small CRI client for the lab tests: the kubelet's own calls over containerd's CRI socket.

The stubs are generated from ``api.proto`` (k8s.io/cri-api v0.36.4, runtime.v1, as Debian's
golang-k8s-cri-api-dev 0.36.4-1 ships it) with grpcio-tools on first use, into a temporary
directory: nothing generated is committed. Needs ``grpcio-tools`` (it brings grpcio and protobuf).

    with CriClient("/tmp/cp1-containerd.sock") as cri:   # e.g. forwarded with ssh -L
        cri.version().runtime_version
        cri.config()["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"]
        pod = cri.run_pod("probe", "default")
        box = cri.start_container(pod, "probe", "localhost/busybox:1.35", ["sleep", "60"])
        cri.exec_sync(box, ["/busybox", "true"])
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

import grpc
from grpc_tools import protoc

PROTO = Path(__file__).with_name("api.proto")
TIMEOUT = 30


def stubs() -> tuple[ModuleType, ModuleType]:
    """``api_pb2`` and ``api_pb2_grpc``, generated from api.proto once per process."""
    if "api_pb2_grpc" not in sys.modules:
        out = tempfile.mkdtemp(prefix="kubeprep-cri-")
        include = str(Path(protoc.__file__).parent / "_proto")
        status = protoc.main([
            "protoc", f"-I{PROTO.parent}", f"-I{include}", f"--python_out={out}",
            f"--grpc_python_out={out}", str(PROTO),
        ])
        if status != 0:
            raise RuntimeError(f"grpc_tools.protoc failed on {PROTO} ({status})")
        sys.path.insert(0, out)
    return importlib.import_module("api_pb2"), importlib.import_module("api_pb2_grpc")


class CriClient:
    def __init__(self, socket: str) -> None:
        self.api, grpc_api = stubs()
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        self.runtime = grpc_api.RuntimeServiceStub(self.channel)
        self.images = grpc_api.ImageServiceStub(self.channel)
        self.pods: dict[str, object] = {}  # sandbox id -> the config it was run with

    def __enter__(self) -> CriClient:
        return self

    def __exit__(self, *_) -> None:
        self.channel.close()

    def version(self):
        return self.runtime.Version(self.api.VersionRequest(), timeout=TIMEOUT)

    def config(self) -> dict:
        """The CRI plugin's config as the running daemon holds it (``crictl info``'s "config").

        Right after ``systemctl restart containerd`` the old connection is gone ("Socket
        closed", UNAVAILABLE) and the socket answers before the CRI plugin has started
        (containerd 2.x: "server is not initialized yet"); wait for it, as the kubelet does, up
        to TIMEOUT seconds.
        """
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                status = self.runtime.Status(self.api.StatusRequest(verbose=True), timeout=TIMEOUT)
                return json.loads(status.info["config"])
            except grpc.RpcError as error:
                starting = error.code() == grpc.StatusCode.UNAVAILABLE \
                    or "not initialized yet" in (error.details() or "")
                if not starting or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def image_present(self, image: str) -> bool:
        spec = self.api.ImageSpec(image=image)
        reply = self.images.ImageStatus(self.api.ImageStatusRequest(image=spec), timeout=TIMEOUT)
        return reply.HasField("image")

    def pod_config(self, name: str, namespace: str):
        metadata = self.api.PodSandboxMetadata(name=name, namespace=namespace, uid=str(uuid.uuid4()))
        return self.api.PodSandboxConfig(
            metadata=metadata, hostname=name, log_directory=f"/var/log/pods/{namespace}_{name}",
            linux=self.api.LinuxPodSandboxConfig(cgroup_parent="kubepods.slice"),
        )

    def run_pod(self, name: str, namespace: str = "default") -> str:
        config = self.pod_config(name, namespace)
        request = self.api.RunPodSandboxRequest(config=config)
        pod_id = self.runtime.RunPodSandbox(request, timeout=TIMEOUT).pod_sandbox_id
        self.pods[pod_id] = config
        return pod_id

    def pod_address(self, pod_id: str) -> str:
        request = self.api.PodSandboxStatusRequest(pod_sandbox_id=pod_id)
        return self.runtime.PodSandboxStatus(request, timeout=TIMEOUT).status.network.ip

    def start_container(self, pod_id: str, name: str, image: str,
                        command: list[str] | None = None) -> str:
        config = self.api.ContainerConfig(
            metadata=self.api.ContainerMetadata(name=name),
            image=self.api.ImageSpec(image=image),
            command=command or [], log_path=f"{name}.log",
        )
        request = self.api.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=config, sandbox_config=self.pods[pod_id],
        )
        container_id = self.runtime.CreateContainer(request, timeout=TIMEOUT).container_id
        self.runtime.StartContainer(
            self.api.StartContainerRequest(container_id=container_id), timeout=TIMEOUT,
        )
        return container_id

    def exec_sync(self, container_id: str, command: list[str]) -> tuple[int, bytes, bytes]:
        request = self.api.ExecSyncRequest(container_id=container_id, cmd=command, timeout=10)
        reply = self.runtime.ExecSync(request, timeout=TIMEOUT)
        return reply.exit_code, reply.stdout, reply.stderr

    def remove_pod(self, pod_id: str) -> None:
        self.runtime.StopPodSandbox(
            self.api.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=TIMEOUT,
        )
        self.runtime.RemovePodSandbox(
            self.api.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=TIMEOUT,
        )
        self.pods.pop(pod_id, None)
